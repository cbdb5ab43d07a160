//! A real gRPC backend for the examples and tests: the `acme.bank.v1` and
//! `acme.ledger.v1` services of `protos/`, compiled at start with protox and
//! served by tonic with server reflection (v1, v1alpha, both or none).
//! Unary methods are answered from an in-memory bank through
//! `realm::net::codec::DynamicCodec` — no generated code.
//!
//! Used by `main.rs` (the `grpc-bank` example binary) and by the tests,
//! which include this file.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MethodDescriptor, Value};
use realm::net::codec::DynamicCodec;
use tonic::server::{Grpc, UnaryService};
use tonic::service::Routes;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

/// Which reflection protocol versions the server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reflection {
    V1,
    V1Alpha,
    Both,
    None,
}

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub reflection: Reflection,
    /// PEM certificate and key: serve TLS.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// Refuse requests without this header (name, value).
    pub require_header: Option<(String, String)>,
    /// Leave this file out of what reflection serves.
    pub hide_file: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            reflection: Reflection::Both,
            tls: None,
            require_header: None,
            hide_file: None,
        }
    }
}

/// The directory of the .proto files.
pub fn proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/grpc-bank/protos")
}

/// The .proto files, relative to [`proto_dir`].
pub const PROTO_FILES: &[&str] = &["acme/bank/v1/accounts.proto", "acme/ledger/v1/ledger.proto"];

/// The compiled descriptors, imports and source info (comments) included.
pub fn descriptors() -> prost_types::FileDescriptorSet {
    let mut compiler = protox::Compiler::new([proto_dir()]).expect("proto dir");
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(PROTO_FILES)
        .expect("compile the grpc-bank protos");
    compiler.file_descriptor_set()
}

/// The bank's state.
#[derive(Default)]
struct Bank {
    balances: Mutex<BTreeMap<String, (String, i64)>>,
    receipts: Mutex<u64>,
}

#[derive(Clone)]
struct App {
    pool: DescriptorPool,
    bank: Arc<Bank>,
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let set = descriptors();
    let pool = DescriptorPool::from_file_descriptor_set(set.clone())?;
    let bank = Bank::default();
    {
        let mut balances = bank.balances.lock().expect("lock");
        balances.insert("a1".into(), ("Ada".into(), 10_000));
        balances.insert("a2".into(), ("Grace".into(), 250));
    }
    let app = App {
        pool,
        bank: Arc::new(bank),
    };

    let mut served = set.clone();
    if let Some(hidden) = &options.hide_file {
        served.file.retain(|f| f.name() != hidden);
    }
    let builder = || {
        tonic_reflection::server::Builder::configure().register_file_descriptor_set(served.clone())
    };
    let mut routes = Routes::builder();
    if matches!(options.reflection, Reflection::V1 | Reflection::Both) {
        routes.add_service(builder().build_v1()?);
    }
    if matches!(options.reflection, Reflection::V1Alpha | Reflection::Both) {
        routes.add_service(builder().build_v1alpha()?);
    }
    let calls = axum::Router::new()
        .route("/{service}/{method}", axum::routing::post(call))
        .with_state(app);
    let mut router = routes.routes().into_axum_router().merge(calls);
    if let Some((name, value)) = options.require_header.clone() {
        router = router.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let ok = req
                    .headers()
                    .get(&name)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v == value);
                async move {
                    if ok {
                        next.run(req).await
                    } else {
                        Status::unauthenticated("missing or wrong credentials")
                            .into_http::<axum::body::Body>()
                            .into_response()
                    }
                }
            },
        ));
    }

    let mut server = Server::builder();
    if let Some((cert, key)) = &options.tls {
        server =
            server.tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))?;
    }
    server
        .add_routes(Routes::from(router))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await?;
    Ok(())
}

/// A unary call to any method of the bank.
async fn call(
    State(app): State<App>,
    Path((service, method)): Path<(String, String)>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let Some(descriptor) = app
        .pool
        .get_service_by_name(&service)
        .and_then(|s| s.methods().find(|m| m.name() == method))
    else {
        return Status::unimplemented(format!("no method {service}/{method}"))
            .into_http::<axum::body::Body>()
            .into_response();
    };
    if descriptor.is_client_streaming() || descriptor.is_server_streaming() {
        return Status::unimplemented("streaming methods are not served by this example")
            .into_http::<axum::body::Body>()
            .into_response();
    }
    let mut grpc = Grpc::new(DynamicCodec::new(descriptor.input()));
    let handler = Handler {
        bank: app.bank.clone(),
        method: descriptor,
    };
    grpc.unary(handler, request)
        .await
        .map(axum::body::Body::new)
        .into_response()
}

struct Handler {
    bank: Arc<Bank>,
    method: MethodDescriptor,
}

impl UnaryService<DynamicMessage> for Handler {
    type Response = DynamicMessage;
    type Future = Pin<Box<dyn Future<Output = Result<Response<DynamicMessage>, Status>> + Send>>;

    fn call(&mut self, request: Request<DynamicMessage>) -> Self::Future {
        let result = answer(&self.bank, &self.method, request.into_inner());
        Box::pin(async move { result.map(Response::new) })
    }
}

fn string(message: &DynamicMessage, field: &str) -> String {
    match message.get_field_by_name(field).as_deref() {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn int(message: &DynamicMessage, field: &str) -> i64 {
    match message.get_field_by_name(field).as_deref() {
        Some(Value::I64(n)) => *n,
        _ => 0,
    }
}

fn account(pool: &DescriptorPool, id: &str, owner: &str, balance: i64) -> DynamicMessage {
    let mut account = DynamicMessage::new(
        pool.get_message_by_name("acme.bank.v1.Account")
            .expect("Account"),
    );
    account.set_field_by_name("id", Value::String(id.into()));
    account.set_field_by_name("owner", Value::String(owner.into()));
    account.set_field_by_name("balance_cents", Value::I64(balance));
    account.set_field_by_name("type", Value::EnumNumber(1));
    let mut labels = std::collections::HashMap::new();
    labels.insert(MapKey::String("tier".into()), Value::String("gold".into()));
    account.set_field_by_name("labels", Value::Map(labels));
    account
}

fn answer(
    bank: &Bank,
    method: &MethodDescriptor,
    request: DynamicMessage,
) -> Result<DynamicMessage, Status> {
    let pool = method.parent_pool();
    let mut response = DynamicMessage::new(method.output());
    match (method.parent_service().full_name(), method.name()) {
        ("acme.bank.v1.AccountService", "GetAccount") => {
            let id = string(&request, "id");
            let balances = bank.balances.lock().map_err(|_| Status::internal("lock"))?;
            let Some((owner, balance)) = balances.get(&id) else {
                return Err(Status::not_found(format!("no account {id}")));
            };
            response = account(pool, &id, owner, *balance);
        }
        ("acme.bank.v1.AccountService", "Withdraw") => {
            let id = string(&request, "account_id");
            let amount = int(&request, "amount_cents");
            if amount <= 0 {
                return Err(Status::invalid_argument("amount_cents must be positive"));
            }
            let mut balances = bank.balances.lock().map_err(|_| Status::internal("lock"))?;
            let Some((_, balance)) = balances.get_mut(&id) else {
                return Err(Status::not_found(format!("no account {id}")));
            };
            if *balance < amount {
                return Err(Status::failed_precondition(format!(
                    "insufficient funds: balance {balance}, asked {amount}"
                )));
            }
            *balance -= amount;
            response.set_field_by_name("balance_cents", Value::I64(*balance));
            if *balance < 1000 {
                response.set_field_by_name(
                    "warnings",
                    Value::List(vec![Value::String("low balance".into())]),
                );
            }
        }
        ("acme.bank.v1.AccountService", "ListAccounts") => {
            let balances = bank.balances.lock().map_err(|_| Status::internal("lock"))?;
            let accounts = balances
                .iter()
                .map(|(id, (owner, balance))| Value::Message(account(pool, id, owner, *balance)))
                .collect();
            response.set_field_by_name("accounts", Value::List(accounts));
        }
        ("acme.ledger.v1.Ledger", "Record") => {
            let mut n = bank.receipts.lock().map_err(|_| Status::internal("lock"))?;
            *n += 1;
            response.set_field_by_name("id", Value::String(format!("r-{n}")));
        }
        (service, name) => return Err(Status::unimplemented(format!("{service}/{name}"))),
    }
    Ok(response)
}
