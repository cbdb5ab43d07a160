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
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use tower::Service;

use super::budget::Share;
use super::conn::{self, ConnSettings};
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
        .method_not_allowed_fallback(method_not_allowed)
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
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let settings = Arc::new(ConnSettings {
        header_timeout: limits.header_timeout,
        idle_timeout: limits.idle_timeout,
        write_timeout: limits.request_timeout,
        max_header_size: limits.max_header_size,
        realm: Arc::from(ingress.realm()),
    });
    let (drain, draining) = tokio::sync::watch::channel(false);
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
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    ingress.record_refusal("too_many_connections");
                    tokio::spawn(refuse_connection(stream, tls.is_some(), ingress.clone()));
                    continue;
                };
                let app = app.clone();
                let settings = settings.clone();
                let draining = draining.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tls {
                        None => {
                            let peer = Peer { addr: Some(addr), realms: Arc::from([]) };
                            conn::serve_plain(stream, service(app, peer), &settings, draining).await;
                        }
                        Some(tls) => {
                            let accept = tls.acceptor().accept(stream);
                            let stream = match tokio::time::timeout(settings.header_timeout, accept).await {
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
                            let session = stream.get_ref().1;
                            let realms = session
                                .peer_certificates()
                                .map(|chain| tls.peer_realms(chain))
                                .unwrap_or_default();
                            let h2 = session.alpn_protocol() == Some(b"h2");
                            let peer = Peer { addr: Some(addr), realms: Arc::from(realms) };
                            conn::serve(stream, h2, service(app, peer), &settings, draining).await;
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    ingress.start_draining();
    let _ = drain.send(true);
    // Every connection holds a slot until it ends: all slots back means
    // every call has finished.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, connections.acquire_many(all))
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

/// Answers a connection beyond `max-connections` with a 503 (plain HTTP)
/// or closes it (TLS: no handshake is spent on it), without reading a
/// request: the answer says to come back later.
async fn refuse_connection(mut stream: tokio::net::TcpStream, tls: bool, ingress: Arc<Ingress>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if tls {
        return;
    }
    let max = ingress.config().limits.max_connections;
    let reply = Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_connections",
        format!("the ingress has {max} connections open already (`[ingress] max-connections`); try again shortly"),
    )
    .retry_after(Duration::from_secs(1))
    .reply(ingress.realm(), "");
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        reply.body.len()
    );
    let refuse = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&reply.body).await?;
        stream.shutdown().await?;
        // Read what the client sent, so that closing does not reset the
        // connection before it has read the answer; bounded in bytes and
        // time.
        let mut sink = [0u8; 4096];
        let mut left = 64 << 10;
        while left > 0 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => left -= n.min(left),
            }
        }
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), refuse).await;
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
    segments: Result<Path<(String, String, String)>, PathRejection>,
    request: http::Request<Body>,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let request_id = match header(headers, REQUEST_ID) {
        id if !id.is_empty() && id.len() <= 128 => id.to_string(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let limit = ingress.config().limits.max_header_size;
    let size = head_size(&parts);
    if size > limit {
        let refusal = Refusal::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request line and headers are {size} bytes, more than {limit} (`[ingress] max-header-size`)"
            ),
        );
        return refuse_early(&ingress, &parts, &request_id, refusal);
    }
    let (realm, module, verb) = match segments {
        Ok(Path(segments)) => segments,
        Err(rejection) => {
            let refusal = Refusal::new(
                StatusCode::BAD_REQUEST,
                "malformed_path",
                format!(
                    "the path is not /realms/{{realm}}/{{module}}/{{verb}} in UTF-8: {}",
                    rejection.body_text()
                ),
            );
            return refuse_early(&ingress, &parts, &request_id, refusal);
        }
    };
    let trace = headers
        .get(TRACEPARENT)
        .and_then(|v| TraceContext::parse(v.as_bytes()))
        .unwrap_or_else(|| {
            TraceContext::start(uuid::Uuid::new_v4().as_u128(), super::random_u64())
        });
    let (body, mut share) = match read_body(&ingress, headers, body).await {
        Ok(read) => read,
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
    // The reply is held until it is written: its bytes count too.
    ingress
        .budget
        .add(&mut share, outcome.reply.body.len() as u64);
    respond(outcome.reply, &request_id).map(|body| {
        Body::new(HoldingShare {
            body,
            _share: share,
        })
    })
}

/// A reply's body holding its call's share of the budget until hyper has
/// written it (or dropped it: the client went away).
struct HoldingShare {
    body: Body,
    _share: Share,
}

impl hyper::body::Body for HoldingShare {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A refusal before the call is known (its path or head is unusable):
/// counted, logged with the raw path, answered.
fn refuse_early(
    ingress: &Ingress,
    parts: &http::request::Parts,
    request_id: &str,
    refusal: Refusal,
) -> Response {
    ingress.record_refusal(refusal.code);
    tracing::info!(
        request_id = %request_id,
        call = %loggable(parts.uri.path()),
        status = refusal.status.as_u16(),
        refused = refusal.code,
        "call"
    );
    respond(refusal.reply(ingress.realm(), request_id), request_id)
}

/// The size of a request's head as HTTP/1.1 sends it: request line and
/// header lines with their line ends.
fn head_size(parts: &http::request::Parts) -> usize {
    let line = parts.method.as_str().len() + parts.uri.to_string().len() + "  HTTP/1.1\r\n".len();
    let headers: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + headers + 2
}

/// Reads a request body within the size limit, the request timeout and
/// the ingress's budget of buffered bytes; the share of the budget is held
/// until the returned [`Share`] is dropped (when the call is over).
async fn read_body(
    ingress: &Ingress,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Share), Refusal> {
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
    let busy = || {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ingress_busy",
            format!(
                "the ingress holds {} bytes of request bodies already, its limit (`[ingress] max-buffered`); try again shortly",
                ingress.budget.total()
            ),
        )
        .retry_after(Duration::from_secs(1))
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_size) {
        return Err(too_large());
    }
    // A body takes its share of the budget as its bytes arrive: a declared
    // length alone holds nothing.
    let mut share = Share::default();
    let read = async {
        let mut body = body;
        let mut first: Option<Bytes> = None;
        let mut joined: Vec<u8> = Vec::new();
        let mut len = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "broken_body",
                    format!("the body could not be read: {e}"),
                )
            })?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            len += data.len() as u64;
            if len > limits.max_body_size {
                return Err(too_large());
            }
            ingress.budget.grow(&mut share, len).map_err(|_| busy())?;
            // One chunk (the usual case) is kept as it came; more are
            // joined into one buffer, which grows with what arrived (never
            // with what was only declared).
            match first.take() {
                None if joined.is_empty() => first = Some(data),
                None => joined.extend_from_slice(&data),
                Some(chunk) => {
                    joined.extend_from_slice(&chunk);
                    joined.extend_from_slice(&data);
                }
            }
        }
        Ok(first.unwrap_or_else(|| Bytes::from(joined)))
    };
    match tokio::time::timeout(limits.request_timeout, read).await {
        Err(_) => Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the body did not arrive within {} (`[ingress] request-timeout`)",
                crate::duration::format(limits.request_timeout)
            ),
        )),
        Ok(Err(refusal)) => Err(refusal),
        Ok(Ok(bytes)) => Ok((bytes, share)),
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
fn operators_only(peer: Option<&Peer>, realm: &str) -> Option<Response> {
    let allowed = peer
        .and_then(|p| p.addr)
        .is_some_and(|a| super::authorize::is_private(a.ip()));
    (!allowed).then(|| {
        let request_id = uuid::Uuid::new_v4().to_string();
        let refusal = Refusal::new(
            StatusCode::FORBIDDEN,
            "operators_only",
            "/metrics and /status are served to loopback and private addresses only",
        );
        respond(refusal.reply(realm, &request_id), &request_id)
    })
}

async fn metrics(
    State(ingress): State<Arc<Ingress>>,
    peer: Option<axum::Extension<Peer>>,
) -> Response {
    if let Some(refused) = operators_only(peer.as_ref().map(|p| &p.0), ingress.realm()) {
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
    if let Some(refused) = operators_only(peer.as_ref().map(|p| &p.0), ingress.realm()) {
        return refused;
    }
    respond(ingress.status_json(), "")
}

async fn method_not_allowed(
    State(ingress): State<Arc<Ingress>>,
    method: http::Method,
    uri: http::Uri,
) -> Response {
    let allowed = if uri.path().starts_with("/realms/") {
        "POST"
    } else {
        "GET"
    };
    let refusal = Refusal::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not served at {}: use {allowed}",
            loggable(uri.path())
        ),
    );
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = respond(refusal.reply(ingress.realm(), &request_id), &request_id);
    response
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allowed));
    response
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
    let request_id = uuid::Uuid::new_v4().to_string();
    respond(refusal.reply(ingress.realm(), &request_id), &request_id)
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
        assert!(operators_only(Some(&peer("127.0.0.1:9")), "bank").is_none());
        assert!(operators_only(Some(&peer("10.1.2.3:9")), "bank").is_none());
        assert!(operators_only(Some(&peer("[::1]:9")), "bank").is_none());
        assert!(operators_only(Some(&peer("203.0.113.7:9")), "bank").is_some());
        assert!(operators_only(None, "bank").is_some());
    }

    #[test]
    fn control_characters_are_escaped_for_logs() {
        assert_eq!(loggable("a.b@c"), "a.b@c");
        assert_eq!(loggable("a\nINFO x"), "a\\nINFO x");
    }
}
