//! The ingress HTTP server: axum routes over a hyper accept loop (HTTP/1.1
//! and h2c), one access-log line per call, graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use super::{CALLER_MODULE, CALLER_REALM, Ingress, REQUEST_ID, Refusal, Reply};

/// How long in-flight calls may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);

/// The routes of an ingress.
pub fn router(ingress: Arc<Ingress>) -> Router {
    Router::new()
        .route("/realms/{realm}/{module}/{verb}", post(call))
        .route("/.well-known/realm", get(well_known))
        .fallback(not_found)
        .with_state(ingress)
}

/// Serves `ingress` on `listener` until `shutdown` resolves, then lets
/// in-flight calls finish (up to 30 s).
pub async fn serve(
    ingress: Arc<Ingress>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = router(ingress);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of descriptors and the like: wait, do not spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let builder = auto::Builder::new(TokioExecutor::new());
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "calls still in flight after {}s; stopping anyway",
            DRAIN.as_secs()
        );
    }
    Ok(())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn call(
    State(ingress): State<Arc<Ingress>>,
    Path((realm, module, verb)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let request_id = match header(&headers, REQUEST_ID) {
        id if !id.is_empty() && id.len() <= 128 => id.to_string(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let reply = ingress
        .handle(&realm, &module, &verb, &headers, body, &request_id)
        .await;
    tracing::info!(
        request_id = %request_id,
        caller_realm = header(&headers, CALLER_REALM),
        caller_module = header(&headers, CALLER_MODULE),
        call = %format_args!("{module}.{verb}@{realm}"),
        status = reply.status.as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "call"
    );
    respond(reply, &request_id)
}

async fn well_known(State(ingress): State<Arc<Ingress>>, headers: HeaderMap) -> Response {
    let json = header(&headers, http::header::ACCEPT.as_str()).contains("application/json");
    respond(ingress.well_known(json), "")
}

async fn not_found(State(ingress): State<Arc<Ingress>>, uri: http::Uri) -> Response {
    let refusal = Refusal::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing at {}: calls are POST /realms/{{realm}}/{{module}}/{{verb}}; the public schema is GET /.well-known/realm",
            uri.path()
        ),
    );
    respond(refusal.reply(ingress.realm(), ""), "")
}

fn respond(reply: Reply, request_id: &str) -> Response {
    let mut response = (reply.status, reply.body).into_response();
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, reply.content_type);
    if let Ok(id) = HeaderValue::from_str(request_id)
        && !request_id.is_empty()
    {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    response
}
