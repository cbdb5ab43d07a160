//! A realm with one module (`ledger`: `echo`, `slow`, `flaky`) and an HTTP
//! runner in this process that answers every verb with its request body,
//! recording what it saw; helpers to call an ingress and read its refusals.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::GitRealm;
use super::backends::Background;
use super::serve::{Answer, Serve, http};

pub const LEDGER: &str = r#"module ledger {
  export realm data Msg {
    text String
  }

  export realm verb echo(ledger.Msg) ledger.Msg

  export realm verb slow(ledger.Msg) ledger.Msg

  export realm verb flaky(ledger.Msg) ledger.Msg
    +retry 5 200ms

  export realm verb big(ledger.Msg) ledger.Msg
}
"#;

pub const MSG: &str = r#"{"text":"hi"}"#;

/// A realm with the `ledger` module, committed and exported.
pub fn ledger_realm(name: &str) -> GitRealm {
    let realm = GitRealm::empty("main");
    realm.write(
        "ftl-project.toml",
        &format!("name = \"{name}\"\nmodule-dirs = [\"modules\"]\n"),
    );
    realm.write("modules/ledger.ftl", LEDGER);
    realm.export();
    realm.commit(&format!("{name} realm"));
    realm
}

/// What the echo runner saw of one call.
#[derive(Clone, Debug)]
pub struct Seen {
    pub verb: String,
    pub headers: HashMap<String, String>,
}

/// An HTTP runner answering every verb with the request body; `slow`
/// first waits while `hold` is set (at most a minute, so that a test that
/// fails before releasing it still ends), then sleeps `delay_ms`. `big`
/// answers a `Msg` of `reply_bytes` bytes instead (a large reply).
#[derive(Default)]
pub struct Echo {
    pub calls: Mutex<Vec<Seen>>,
    pub delay_ms: AtomicU64,
    pub hold: AtomicBool,
    pub reply_bytes: AtomicU64,
}

/// A `Msg` of `n` bytes (at least 11): `{"text":"xxx...x"}`.
pub fn big_msg(n: usize) -> String {
    format!(r#"{{"text":"{}"}}"#, "x".repeat(n.saturating_sub(11)))
}

impl Echo {
    pub fn count(&self) -> usize {
        self.calls.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Lets the `slow` calls held by `hold` answer.
    pub fn release(&self) {
        self.hold.store(false, Ordering::Relaxed);
    }

    pub fn last(&self) -> Seen {
        self.calls
            .lock()
            .ok()
            .and_then(|c| c.last().cloned())
            .expect("the runner was called")
    }
}

pub fn echo_runner(echo: Arc<Echo>, addr: Option<SocketAddr>) -> Background {
    use axum::extract::{Path as AxPath, State};
    async fn handle(
        State(echo): State<Arc<Echo>>,
        AxPath((_module, verb)): AxPath<(String, String)>,
        headers: http::HeaderMap,
        body: bytes::Bytes,
    ) -> impl axum::response::IntoResponse {
        let seen = Seen {
            verb: verb.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
        };
        if let Ok(mut calls) = echo.calls.lock() {
            calls.push(seen);
        }
        if verb == "slow" {
            let held = std::time::Instant::now();
            while echo.hold.load(Ordering::Relaxed) && held.elapsed() < Duration::from_secs(60) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let ms = echo.delay_ms.load(Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let body = match echo.reply_bytes.load(Ordering::Relaxed) {
            n if verb == "big" && n > 0 => bytes::Bytes::from(big_msg(n as usize)),
            _ => body,
        };
        ([(http::header::CONTENT_TYPE, "application/json")], body)
    }
    Background::start(addr, move |listener, stop| async move {
        // Takes any body the ingress passes on (axum's own limit, 2 MB,
        // made a 16 MB call fail with a broken pipe instead of echoing it).
        let app = axum::Router::new()
            .route("/{module}/{verb}", axum::routing::post(handle))
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
            .with_state(echo);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
            .expect("echo runner serves");
    })
}

pub fn json(answer: &Answer) -> serde_json::Value {
    serde_json::from_str(&answer.2).unwrap_or(serde_json::Value::String(answer.2.clone()))
}

pub fn code(answer: &Answer) -> String {
    json(answer)["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

pub fn message(answer: &Answer) -> String {
    json(answer)["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

pub fn call(serve: &Serve, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
    http("POST", serve.addr, path, body, headers).expect("HTTP call")
}
