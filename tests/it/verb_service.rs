//! FTL's verb service both ways, against real servers on 127.0.0.1:
//! `realm serve` answers `xyz.block.ftl.v1.VerbService` to a tonic gRPC
//! client and a Connect client (HTTP/1.1 JSON), and forwards into a tonic
//! `VerbService` server standing in for an FTL cluster (`--ftl-endpoint`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::common::TestProject;
use crate::common::backends::Background;
use crate::common::echo::{self, Echo, echo_runner};
use crate::common::serve::{Serve, http};
use base64::Engine as _;
use realm::schema::pb::schema::Ref;
use realm::schema::pb::verb::{
    CallRequest, CallResponse, PingRequest, PingResponse, call_response,
};
use tonic::server::{Grpc, UnaryService};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;

const LEDGER: &str = r#"module ledger {
  export realm data Msg {
    text String
  }

  export realm verb echo(ledger.Msg) ledger.Msg

  export realm verb fail(ledger.Msg) ledger.Msg

  export realm verb slow(ledger.Msg) ledger.Msg

  verb hidden(ledger.Msg) ledger.Msg
}
"#;

fn ledger_project(name: &str) -> TestProject {
    let project = TestProject::new(name);
    project.write("modules/ledger.ftl", LEDGER);
    project
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Calls `VerbService/<method>` over gRPC (h2c) with `metadata`.
async fn grpc_call<Req, Resp>(
    url: &str,
    method: &str,
    message: Req,
    metadata: &[(&'static str, &str)],
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let mut request = Request::new(message);
    for (name, value) in metadata {
        request
            .metadata_mut()
            .insert(*name, value.parse().expect("metadata value"));
    }
    let path = format!("/xyz.block.ftl.v1.VerbService/{method}")
        .parse()
        .expect("path");
    grpc.unary(request, path, ProstCodec::<Req, Resp>::default())
        .await
        .map(Response::into_inner)
}

fn call_request(module: &str, verb: &str, body: &str) -> CallRequest {
    CallRequest {
        metadata: None,
        verb: Some(Ref {
            module: module.into(),
            name: verb.into(),
            ..Default::default()
        }),
        body: body.as_bytes().to_vec(),
    }
}

fn body_of(response: &CallResponse) -> String {
    match &response.response {
        Some(call_response::Response::Body(body)) => String::from_utf8_lossy(body).into_owned(),
        other => panic!("not a body: {other:?}"),
    }
}

#[test]
fn grpc_clients_call_exported_verbs_and_are_refused_the_rest() {
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let project = ledger_project("shop");
    let serve = Serve::start(
        project.path(),
        project.cache_dir(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    let url = serve.url();
    let rt = runtime();

    let reply: CallResponse = rt
        .block_on(grpc_call(
            &url,
            "Call",
            call_request("ledger", "echo", echo::MSG),
            &[
                ("ftl-request-id", "req-ftl-0001"),
                ("ftl-verb", "orders.place"),
                ("ftl-transaction-id", "tx-7"),
            ],
        ))
        .expect("an exported verb is called");
    assert_eq!(body_of(&reply), echo::MSG);
    // The runner hears FTL's headers and the request id FTL gave.
    let seen = echo.last();
    assert_eq!(seen.verb, "echo");
    assert_eq!(seen.headers["x-request-id"], "req-ftl-0001");
    assert_eq!(seen.headers["ftl-request-id"], "req-ftl-0001");
    assert_eq!(seen.headers["ftl-transaction-id"], "tx-7");
    assert_eq!(seen.headers["x-realm-caller-module"], "orders");
    serve.wait_log("the FTL request id", |l| {
        l.contains("request_id=req-ftl-0001") && l.contains("status=200")
    });

    let refused = |verb: &str, body: &str| {
        rt.block_on(grpc_call::<_, CallResponse>(
            &url,
            "Call",
            call_request("ledger", verb, body),
            &[],
        ))
        .expect_err("refused")
    };
    let hidden = refused("hidden", echo::MSG);
    assert_eq!(hidden.code(), Code::PermissionDenied, "{hidden:?}");
    let unknown = refused("nope", echo::MSG);
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let bad = refused("echo", r#"{"text":1}"#);
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert!(bad.message().contains("$.text"), "{bad:?}");
    // A signed call belongs on /realms/... (the signature covers the verb
    // there, not here).
    let signed = rt
        .block_on(grpc_call::<_, CallResponse>(
            &url,
            "Call",
            call_request("ledger", "echo", echo::MSG),
            &[("x-realm-signature", "v1 forged")],
        ))
        .expect_err("signed");
    assert_eq!(signed.code(), Code::Unauthenticated, "{signed:?}");
    // An unusable Ftl-Request-Id is dropped, not replaced with an id FTL
    // did not make.
    let reply: CallResponse = rt
        .block_on(grpc_call(
            &url,
            "Call",
            call_request("ledger", "echo", echo::MSG),
            &[
                ("ftl-request-id", "req 1 status=200"),
                ("ftl-transaction-id", "tx-8"),
            ],
        ))
        .expect("called");
    assert_eq!(body_of(&reply), echo::MSG);
    let seen = echo.last();
    assert!(!seen.headers.contains_key("ftl-request-id"), "{seen:?}");
    assert_ne!(seen.headers["x-request-id"], "req 1 status=200");
    assert_eq!(seen.headers["ftl-transaction-id"], "tx-8");
    let no_verb = rt
        .block_on(grpc_call::<_, CallResponse>(
            &url,
            "Call",
            CallRequest::default(),
            &[],
        ))
        .expect_err("no verb");
    assert_eq!(no_verb.code(), Code::InvalidArgument);
    // Nothing refused reached the runner.
    assert_eq!(echo.count(), 2);

    let ping: PingResponse = rt
        .block_on(grpc_call(&url, "Ping", PingRequest {}, &[]))
        .expect("ping");
    assert_eq!(ping.not_ready, None);
    let unknown_method = rt
        .block_on(grpc_call::<_, PingResponse>(
            &url,
            "Nope",
            PingRequest {},
            &[],
        ))
        .expect_err("no such method");
    assert_eq!(unknown_method.code(), Code::Unimplemented);
}

#[test]
fn connect_clients_call_with_json_over_http1() {
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let project = ledger_project("shop");
    let serve = Serve::start(
        project.path(),
        project.cache_dir(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let request = serde_json::json!({
        "verb": {"module": "ledger", "name": "echo"},
        "body": b64.encode(echo::MSG),
    })
    .to_string();
    let headers = [
        ("content-type", "application/json"),
        ("connect-protocol-version", "1"),
        ("ftl-request-id", "req-connect-1"),
    ];
    let answer = http(
        "POST",
        serve.addr,
        "/xyz.block.ftl.v1.VerbService/Call",
        &request,
        &headers,
    )
    .expect("Connect call");
    assert_eq!(answer.0, 200, "{answer:?}");
    let reply: serde_json::Value = serde_json::from_str(&answer.2).expect("JSON");
    let body = b64
        .decode(reply["body"].as_str().expect("a body"))
        .expect("base64");
    assert_eq!(String::from_utf8_lossy(&body), echo::MSG);
    assert_eq!(echo.last().headers["x-request-id"], "req-connect-1");

    // A refusal is Connect's JSON error with the matching HTTP status.
    let request = serde_json::json!({"verb": {"module": "ledger", "name": "hidden"}}).to_string();
    let answer = http(
        "POST",
        serve.addr,
        "/xyz.block.ftl.v1.VerbService/Call",
        &request,
        &headers,
    )
    .expect("Connect call");
    assert_eq!(answer.0, 403, "{answer:?}");
    let error: serde_json::Value = serde_json::from_str(&answer.2).expect("JSON");
    assert_eq!(error["code"], "permission_denied", "{error}");
    // Unknown fields are refused, as protojson refuses them.
    let answer = http(
        "POST",
        serve.addr,
        "/xyz.block.ftl.v1.VerbService/Call",
        r#"{"verb":{"module":"ledger","name":"echo"},"extra":1}"#,
        &headers,
    )
    .expect("Connect call");
    assert_eq!(answer.0, 400, "{answer:?}");
    // Another content type is not the verb service's.
    let answer = http(
        "POST",
        serve.addr,
        "/xyz.block.ftl.v1.VerbService/Call",
        "{}",
        &[("content-type", "text/plain")],
    )
    .expect("call");
    assert_eq!(answer.0, 415, "{answer:?}");
    // The verb service's own refusals are counted by their codes, as every
    // refusal of the ingress is.
    let answer = http(
        "POST",
        serve.addr,
        "/xyz.block.ftl.v1.VerbService/Stream",
        "{}",
        &headers,
    )
    .expect("call");
    assert_eq!(answer.0, 501, "{answer:?}");
    let metrics = http("GET", serve.addr, "/metrics", "", &[]).expect("metrics");
    for counted in [
        r#"realm_refusals_total{reason="verb_service_method"} 1"#,
        r#"realm_refusals_total{reason="verb_service_message"} 1"#,
        r#"realm_refusals_total{reason="not_exported"} 1"#,
    ] {
        assert!(metrics.2.contains(counted), "{counted}:\n{}", metrics.2);
    }
}

/// The caller's deadline (`connect-timeout-ms`, gRPC's `grpc-timeout`)
/// bounds the call: a runner that holds it past the deadline gets the
/// caller `deadline_exceeded`, not a wait for the upstream timeout, and the
/// call is still counted as a call of its verb; a malformed deadline is
/// refused.
#[test]
fn the_callers_deadline_bounds_the_call() {
    let echo = Arc::new(Echo::default());
    echo.hold.store(true, std::sync::atomic::Ordering::Relaxed);
    let runner = echo_runner(echo.clone(), None);
    let project = ledger_project("shop");
    let serve = Serve::start(
        project.path(),
        project.cache_dir(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let request = serde_json::json!({
        "verb": {"module": "ledger", "name": "slow"},
        "body": b64.encode(echo::MSG),
    })
    .to_string();
    let call = |timeout: &str| {
        http(
            "POST",
            serve.addr,
            "/xyz.block.ftl.v1.VerbService/Call",
            &request,
            &[
                ("content-type", "application/json"),
                ("connect-protocol-version", "1"),
                ("connect-timeout-ms", timeout),
            ],
        )
        .expect("Connect call")
    };
    // The runner holds `slow` until released: only the deadline can end it.
    let answer = call("200");
    let error: serde_json::Value = serde_json::from_str(&answer.2).expect("JSON");
    assert_eq!(error["code"], "deadline_exceeded", "{answer:?}");
    assert_eq!(answer.0, 504, "{answer:?}");
    assert_eq!(echo.count(), 1, "the call reached the runner");
    // Still a call of `ledger.slow`: counted per verb (and access-logged)
    // like every other outcome of a routed call (found by review: the
    // deadline once dropped the call before it was counted and logged).
    let metrics = http("GET", serve.addr, "/metrics", "", &[]).expect("metrics");
    assert!(
        metrics
            .2
            .lines()
            .any(|l| l.starts_with("realm_calls_total{") && l.contains("verb=\"slow\"")),
        "the call past its deadline is not counted as a call of ledger.slow:\n{}",
        metrics.2
    );

    let answer = call("soon");
    let error: serde_json::Value = serde_json::from_str(&answer.2).expect("JSON");
    assert_eq!(error["code"], "invalid_argument", "{answer:?}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("connect-timeout-ms")),
        "{error}"
    );
    assert_eq!(echo.count(), 1, "a malformed deadline reaches no runner");
    echo.release();
}

/// What the stand-in FTL cluster saw.
#[derive(Default)]
struct Cluster {
    calls: Mutex<Vec<(String, HashMap<String, String>)>>,
}

/// A tonic `VerbService` standing in for an FTL cluster: `ledger.echo`
/// answers its body, `ledger.fail` fails as a verb, anything else is
/// NOT_FOUND.
fn fake_ftl(cluster: Arc<Cluster>) -> Background {
    #[derive(Clone)]
    struct Call(Arc<Cluster>);
    impl UnaryService<CallRequest> for Call {
        type Response = CallResponse;
        type Future = Pin<Box<dyn Future<Output = Result<Response<CallResponse>, Status>> + Send>>;
        fn call(&mut self, request: Request<CallRequest>) -> Self::Future {
            let cluster = self.0.clone();
            Box::pin(async move {
                let metadata = request
                    .metadata()
                    .clone()
                    .into_headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let request = request.into_inner();
                let verb = request.verb.unwrap_or_default();
                let name = format!("{}.{}", verb.module, verb.name);
                if let Ok(mut calls) = cluster.calls.lock() {
                    calls.push((name.clone(), metadata));
                }
                let response = match name.as_str() {
                    "ledger.echo" => call_response::Response::Body(request.body),
                    "ledger.fail" => call_response::Response::Error(call_response::Error {
                        message: "the ledger is closed".into(),
                        stack: None,
                    }),
                    _ => return Err(Status::not_found(format!("no verb {name}"))),
                };
                Ok(Response::new(CallResponse {
                    response: Some(response),
                }))
            })
        }
    }
    Background::start(None, move |listener, stop| async move {
        let call = axum::routing::post(move |request: axum::extract::Request| {
            let service = Call(cluster.clone());
            async move {
                let mut grpc = Grpc::new(ProstCodec::<CallResponse, CallRequest>::default());
                axum::response::IntoResponse::into_response(
                    grpc.unary(service, request)
                        .await
                        .map(axum::body::Body::new),
                )
            }
        });
        let router = axum::Router::new().route("/xyz.block.ftl.v1.VerbService/Call", call);
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stop.await;
                },
            )
            .await
            .expect("the stand-in FTL cluster serves");
    })
}

#[test]
fn serve_forwards_into_an_ftl_cluster_and_ftl_calls_cross_two_realms() {
    let cluster = Arc::new(Cluster::default());
    let ftl = fake_ftl(cluster.clone());
    // bank: an FTL cluster behind its realm ingress.
    let bank = crate::common::GitRealm::empty("main");
    bank.write(
        "ftl-project.toml",
        "name = \"bank\"\nmodule-dirs = [\"modules\"]\n",
    );
    bank.write("modules/ledger.ftl", LEDGER);
    bank.export();
    bank.commit("bank realm");
    let bank_project = ledger_project("bank");
    let bank_serve = Serve::start(
        bank_project.path(),
        bank_project.cache_dir(),
        &["--ftl-endpoint", &ftl.url()],
    );
    bank_serve.wait_log("the FTL route", |l| {
        l.contains("module ledger ->") && l.contains("FTL's VerbService")
    });

    // Straight to bank's ingress over HTTP: the cluster answers.
    let answer = echo::call(&bank_serve, "/realms/bank/ledger/echo", echo::MSG, &[]);
    assert_eq!(answer.0, 200, "{answer:?}");
    assert_eq!(answer.2, echo::MSG);
    // The verb's own failure: 500 with the message, and no backoff.
    let answer = echo::call(&bank_serve, "/realms/bank/ledger/fail", echo::MSG, &[]);
    assert_eq!(answer.0, 500, "{answer:?}");
    assert_eq!(echo::code(&answer), "verb_failed");
    assert_eq!(echo::message(&answer), "the ledger is closed");
    let answer = echo::call(&bank_serve, "/realms/bank/ledger/echo", echo::MSG, &[]);
    assert_eq!(
        answer.0, 200,
        "a verb failure leaves the cluster healthy: {answer:?}"
    );

    // An FTL client calls bank's ingress as FTL's verb service, which
    // calls bank's cluster with it: FTL → realm → FTL.
    let rt = runtime();
    let reply: CallResponse = rt
        .block_on(grpc_call(
            &bank_serve.url(),
            "Call",
            call_request("ledger", "echo", echo::MSG),
            &[("ftl-request-id", "req-two-hops")],
        ))
        .expect("FTL → realm → FTL");
    assert_eq!(body_of(&reply), echo::MSG);
    let failed: CallResponse = rt
        .block_on(grpc_call(
            &bank_serve.url(),
            "Call",
            call_request("ledger", "fail", echo::MSG),
            &[],
        ))
        .expect("a verb failure is a response");
    assert_eq!(
        failed.response,
        Some(call_response::Response::Error(call_response::Error {
            message: "the ledger is closed".into(),
            stack: None
        }))
    );
    let calls = cluster.calls.lock().expect("calls").clone();
    let (name, metadata) = calls
        .iter()
        .find(|(_, m)| m.get("ftl-request-id").map(String::as_str) == Some("req-two-hops"))
        .expect("the cluster saw the FTL request id");
    assert_eq!(name, "ledger.echo");
    assert_eq!(metadata["x-request-id"], "req-two-hops");

    // shop pins bank and reaches bank's cluster through bank's ingress.
    let shop = TestProject::new("shop");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let shop_serve = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &["--realm-endpoint", &format!("bank={}", bank_serve.url())],
    );
    let answer = echo::call(&shop_serve, "/realms/bank/ledger/echo", echo::MSG, &[]);
    assert_eq!(answer.0, 200, "{answer:?}");
    assert_eq!(answer.2, echo::MSG);
    let answer = echo::call(&shop_serve, "/realms/bank/ledger/fail", echo::MSG, &[]);
    assert_eq!(answer.0, 500, "{answer:?}");
    assert_eq!(echo::message(&answer), "the ledger is closed");
}
