//! The ingress HTTP server: axum routes over our own accept loop (HTTP/1.1
//! and h2c, or TLS with ALPN), per-connection limits (header size, header
//! timeout), body limits, one access-log line per call, graceful shutdown.
//!
//! Routes: `POST /realms/{realm}/{module}/{verb}` (calls),
//! `GET /.well-known/realm` (the public schema), `GET /healthz` (the
//! process serves), `GET /readyz` (503 while draining), `GET /metrics`
//! (Prometheus), `GET /status` (upstreams as JSON, what `realm status`
//! shows).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tower::Service;

use super::trace::{TRACEPARENT, TraceContext};
use super::{CALLER_MODULE, CALLER_REALM, Call, Ingress, REQUEST_ID, Refusal, Reply};
use crate::net::tls::ServerTls;

/// How long in-flight calls may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);

/// What the accept loop knows about a connection, for each of its requests.
#[derive(Clone, Debug, Default)]
struct Peer {
    addr: Option<SocketAddr>,
    /// Realms whose CA verified the client certificate.
    realms: Arc<[String]>,
}

/// The routes of an ingress.
pub fn router(ingress: Arc<Ingress>) -> Router {
    Router::new()
        .route("/realms/{realm}/{module}/{verb}", post(call))
        .route("/.well-known/realm", get(well_known))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .fallback(not_found)
        .with_state(ingress)
}

/// Serves `ingress` on `listener` (with TLS when `tls` is given) until
/// `shutdown` resolves, then lets in-flight calls finish (up to 30 s).
pub async fn serve(
    ingress: Arc<Ingress>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<ServerTls>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = ingress.config().limits.clone();
    let app = router(ingress.clone());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_size.max(8192));
    // h2: fewer streams per connection than hyper's 200 (each may buffer a
    // body), and pings so that dead connections are closed.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10))
        .max_header_list_size(u32::try_from(limits.max_header_size).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of descriptors and the like: wait, do not spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let tls = tls.clone();
                let handshake_timeout = limits.header_timeout;
                tokio::spawn(async move {
                    match tls {
                        None => {
                            let peer = Peer { addr: Some(addr), realms: Arc::from([]) };
                            let conn = builder
                                .serve_connection(TokioIo::new(stream), service(app, peer))
                                .into_owned();
                            let _ = watcher.watch(conn).await;
                        }
                        Some(tls) => {
                            let accept = tls.acceptor().accept(stream);
                            let stream = match tokio::time::timeout(handshake_timeout, accept).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%addr, "TLS handshake failed: {e}");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%addr, "TLS handshake timed out");
                                    return;
                                }
                            };
                            let realms = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .map(|chain| tls.peer_realms(chain))
                                .unwrap_or_default();
                            let peer = Peer { addr: Some(addr), realms: Arc::from(realms) };
                            let conn = builder
                                .serve_connection(TokioIo::new(stream), service(app, peer))
                                .into_owned();
                            let _ = watcher.watch(conn).await;
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    ingress.start_draining();
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

/// The router for one connection: each request learns its peer.
fn service(
    app: Router,
    peer: Peer,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(peer.clone());
        let mut app = app.clone();
        async move { app.call(request.map(Body::new)).await }
    })
}

/// Path segments as they may appear in a log line: control characters
/// (a `%0a` in the URL) escaped, so a request cannot forge log lines.
fn loggable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
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
    request: http::Request<Body>,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let request_id = match header(headers, REQUEST_ID) {
        id if !id.is_empty() && id.len() <= 128 => id.to_string(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let trace = headers
        .get(TRACEPARENT)
        .and_then(|v| TraceContext::parse(v.as_bytes()))
        .unwrap_or_else(|| {
            TraceContext::start(uuid::Uuid::new_v4().as_u128(), super::random_u64())
        });
    let body = match read_body(&ingress, headers, body).await {
        Ok(body) => body,
        Err(refusal) => {
            ingress.record_refusal(refusal.code);
            tracing::info!(
                request_id = %request_id,
                trace_id = %trace.trace_id_hex(),
                call = %loggable(&format!("{module}.{verb}@{realm}")),
                status = refusal.status.as_u16(),
                refused = refusal.code,
                "call"
            );
            return respond(refusal.reply(ingress.realm(), &request_id), &request_id);
        }
    };
    let peer = parts.extensions.get::<Peer>().cloned().unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let call = Call {
        realm: &realm,
        module: &module,
        verb: &verb,
        path,
        headers,
        body,
        peer: peer.addr,
        peer_realms: &peer.realms,
        request_id: &request_id,
        trace,
    };
    let outcome = ingress.handle(&call).await;
    let elapsed = started.elapsed();
    ingress.record(&call, &outcome, elapsed);
    tracing::info!(
        request_id = %request_id,
        trace_id = %trace.trace_id_hex(),
        caller_realm = outcome.caller.as_deref().unwrap_or_else(|| header(headers, CALLER_REALM)),
        caller_module = header(headers, CALLER_MODULE),
        call = %loggable(&format!("{module}.{verb}@{realm}")),
        status = outcome.reply.status.as_u16(),
        refused = outcome.refusal,
        micros = elapsed.as_micros() as u64,
        "call"
    );
    respond(outcome.reply, &request_id)
}

/// Reads a request body within the size limit and the request timeout.
async fn read_body(ingress: &Ingress, headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
    let limits = &ingress.config().limits;
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the body is larger than {} bytes (`[ingress] max-body-size`)",
                limits.max_body_size
            ),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_size) {
        return Err(too_large());
    }
    let limit = usize::try_from(limits.max_body_size).unwrap_or(usize::MAX);
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout(limits.request_timeout, collect).await {
        Err(_) => Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the body did not arrive within {} (`[ingress] request-timeout`)",
                crate::net::humantime(limits.request_timeout)
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "broken_body",
            format!("the body could not be read: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

async fn well_known(State(ingress): State<Arc<Ingress>>, headers: HeaderMap) -> Response {
    let json = header(&headers, http::header::ACCEPT.as_str()).contains("application/json");
    respond(ingress.well_known(json), "")
}

async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

async fn readyz(State(ingress): State<Arc<Ingress>>) -> Response {
    if ingress.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

/// `/metrics` and `/status` show upstream URLs and errors: they are for
/// this realm's own network (loopback and private addresses), not for
/// other realms.
fn operators_only(peer: Option<&Peer>) -> Option<Response> {
    let allowed = peer
        .and_then(|p| p.addr)
        .is_some_and(|a| super::is_private(a.ip()));
    (!allowed).then(|| {
        (
            StatusCode::FORBIDDEN,
            "/metrics and /status are served to loopback and private addresses only\n",
        )
            .into_response()
    })
}

async fn metrics(
    State(ingress): State<Arc<Ingress>>,
    peer: Option<axum::Extension<Peer>>,
) -> Response {
    if let Some(refused) = operators_only(peer.as_ref().map(|p| &p.0)) {
        return refused;
    }
    let mut response = (StatusCode::OK, ingress.metrics_text()).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(super::metrics::CONTENT_TYPE),
    );
    response
}

async fn status(
    State(ingress): State<Arc<Ingress>>,
    peer: Option<axum::Extension<Peer>>,
) -> Response {
    if let Some(refused) = operators_only(peer.as_ref().map(|p| &p.0)) {
        return refused;
    }
    respond(ingress.status_json(), "")
}

async fn not_found(State(ingress): State<Arc<Ingress>>, uri: http::Uri) -> Response {
    let refusal = Refusal::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing at {}: calls are POST /realms/{{realm}}/{{module}}/{{verb}}; the public schema is GET /.well-known/realm",
            loggable(uri.path())
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
    if let Some(secs) = reply.retry_after {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_and_status_are_for_the_realms_own_network() {
        let peer = |addr: &str| Peer {
            addr: Some(addr.parse().expect("addr")),
            realms: Arc::from([]),
        };
        assert!(operators_only(Some(&peer("127.0.0.1:9"))).is_none());
        assert!(operators_only(Some(&peer("10.1.2.3:9"))).is_none());
        assert!(operators_only(Some(&peer("[::1]:9"))).is_none());
        assert!(operators_only(Some(&peer("203.0.113.7:9"))).is_some());
        assert!(operators_only(None).is_some());
    }

    #[test]
    fn control_characters_are_escaped_for_logs() {
        assert_eq!(loggable("a.b@c"), "a.b@c");
        assert_eq!(loggable("a\nINFO x"), "a\\nINFO x");
    }
}
