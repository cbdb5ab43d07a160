//! HTTP JSON runners for the example realms, as a module runner would be:
//! `POST /{module}/{verb}` with the verb's request as JSON, answering its
//! response as JSON.
//!
//! - the bank's `balance` module: accounts in memory;
//! - the shop's `checkout` module: `pay` sums the cart and calls
//!   `balance.withdraw@bank` through the shop's own ingress.
//!
//! Used by `main.rs` (the `runners` example binary) and by the tests, which
//! include this file. Each runner counts the calls it serves and keeps the
//! caller headers of the last one, so tests can tell whether a call reached
//! it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};

/// What a runner has seen.
#[derive(Default)]
pub struct Seen {
    pub calls: Mutex<u64>,
    /// `x-realm-caller`, `x-realm-caller-module`, `x-request-id` of the last
    /// call.
    pub last_headers: Mutex<Option<(String, String, String)>>,
}

impl Seen {
    pub fn calls(&self) -> u64 {
        self.calls.lock().map(|c| *c).unwrap_or(0)
    }

    pub fn last(&self) -> Option<(String, String, String)> {
        self.last_headers.lock().ok().and_then(|l| l.clone())
    }

    fn record(&self, headers: &HeaderMap) {
        let h = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        if let Ok(mut calls) = self.calls.lock() {
            *calls += 1;
        }
        if let Ok(mut last) = self.last_headers.lock() {
            *last = Some((
                h("x-realm-caller"),
                h("x-realm-caller-module"),
                h("x-request-id"),
            ));
        }
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

// ---- bank -------------------------------------------------------------------

/// An account: owner, balance, currency.
type Account = (String, i64, String);

#[derive(Clone)]
struct Bank {
    accounts: Arc<Mutex<BTreeMap<String, Account>>>,
    seen: Arc<Seen>,
}

/// The bank's runner until `shutdown`. Accounts: a1 (Ada, 10000 EUR), a2
/// (Grace, 250 USD).
pub async fn serve_bank(
    listener: tokio::net::TcpListener,
    seen: Arc<Seen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut accounts = BTreeMap::new();
    accounts.insert(
        "a1".to_string(),
        ("Ada".to_string(), 10_000, "EUR".to_string()),
    );
    accounts.insert(
        "a2".to_string(),
        ("Grace".to_string(), 250, "USD".to_string()),
    );
    let bank = Bank {
        accounts: Arc::new(Mutex::new(accounts)),
        seen,
    };
    let app = Router::new()
        .route("/{module}/{verb}", post(bank_call))
        .with_state(bank);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn bank_call(
    State(bank): State<Bank>,
    Path((module, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bank.seen.record(&headers);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Ok(mut accounts) = bank.accounts.lock() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lock");
    };
    match (module.as_str(), verb.as_str()) {
        ("balance", "withdraw") => {
            let id = request["account"].as_str().unwrap_or_default();
            let amount = request["amount"].as_i64().unwrap_or_default();
            let Some((_, balance, _)) = accounts.get_mut(id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "no_account",
                    format!("no account {id}"),
                );
            };
            if amount > *balance {
                return error(
                    StatusCode::CONFLICT,
                    "insufficient_funds",
                    format!("account {id} holds {balance}, {amount} was asked"),
                );
            }
            *balance -= amount;
            Json(json!({"balance": *balance})).into_response()
        }
        ("balance", "account") => {
            let id = request["id"].as_str().unwrap_or_default();
            match accounts.get(id) {
                Some((owner, balance, currency)) => Json(json!({
                    "id": id, "owner": owner, "balance": balance, "currency": currency
                }))
                .into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    "no_account",
                    format!("no account {id}"),
                ),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "no_verb",
            format!("no verb {module}.{verb}"),
        ),
    }
}

// ---- shop -------------------------------------------------------------------

#[derive(Clone)]
struct Shop {
    /// The shop's own ingress, which routes `@bank` calls.
    ingress: String,
    http: realm::net::http::HttpClient,
    orders: Arc<Mutex<u64>>,
    seen: Arc<Seen>,
}

/// The shop's ingress URL: `given`, or the contents of FILE when `given`
/// is `@FILE`, read at each call, for an ingress that starts after the
/// runner on a port it picks.
fn ingress_url(given: &str) -> Result<String, String> {
    match given.strip_prefix('@') {
        None => Ok(given.to_string()),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
            Ok(_) => Err(format!("{path} does not name the shop's ingress yet")),
            Err(e) => Err(format!(
                "cannot read the shop's ingress URL from {path}: {e}"
            )),
        },
    }
}

/// The shop's runner until `shutdown`; `ingress` is the shop's ingress URL,
/// or `@FILE`: the file that holds it.
pub async fn serve_shop(
    listener: tokio::net::TcpListener,
    ingress: String,
    seen: Arc<Seen>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shop = Shop {
        ingress,
        http: realm::net::http::HttpClient::new(),
        orders: Arc::new(Mutex::new(0)),
        seen,
    };
    let app = Router::new()
        .route("/{module}/{verb}", post(shop_call))
        .with_state(shop);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn shop_call(
    State(shop): State<Shop>,
    Path((module, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shop.seen.record(&headers);
    if (module.as_str(), verb.as_str()) != ("checkout", "pay") {
        return error(
            StatusCode::NOT_FOUND,
            "no_verb",
            format!("no verb {module}.{verb}"),
        );
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let total: i64 = request["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["quantity"].as_i64().unwrap_or(0) * i["price"].as_i64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    // balance.withdraw@bank, through the shop's ingress.
    let withdraw = json!({"account": request["account"], "amount": total, "note": "shop order"});
    let mut call_headers = axum::http::HeaderMap::new();
    call_headers.insert(
        "x-realm-caller-module",
        axum::http::HeaderValue::from_static("checkout"),
    );
    // The request id and the trace go on with the call it makes.
    for name in ["x-request-id", "traceparent"] {
        if let Some(value) = headers.get(name) {
            call_headers.insert(name, value.clone());
        }
    }
    let ingress = match ingress_url(&shop.ingress) {
        Ok(url) => url,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, "no_ingress", e),
    };
    let url = format!("{ingress}/realms/bank/balance/withdraw");
    let Ok(uri) = url.parse() else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "bad ingress URL",
        );
    };
    match shop
        .http
        .post_json(&uri, call_headers, Bytes::from(withdraw.to_string()))
        .await
    {
        Ok(reply) if reply.status.is_success() => {
            let order = shop.orders.lock().map(|mut n| {
                *n += 1;
                *n
            });
            Json(json!({"order": format!("o-{}", order.unwrap_or(0)), "total": total}))
                .into_response()
        }
        Ok(reply) => (reply.status, reply.body).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, "bank_unreachable", e.to_string()),
    }
}
