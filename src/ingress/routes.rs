//! What the ingress answers to each HTTP request: which route it is, the
//! call handler around [`Ingress::handle`] (request id, head size, path
//! segments, body within its limits and the budget, access-log line,
//! metrics), the small GET routes, and the HTTP response of a [`Reply`].
//!
//! Routes: `POST /realms/{realm}/{module}/{verb}` (calls),
//! `GET /.well-known/realm` (the public schema), `GET /healthz` (the
//! process serves), `GET /readyz` (503 while draining), `GET /metrics`
//! (Prometheus), `GET /status` (upstreams as JSON, what `realm status`
//! shows). Anything else is a JSON 404, a wrong method a JSON 405 with
//! `Allow`.
//!
//! Six fixed routes are a `match`, not a router: a call goes from hyper to
//! [`Ingress::handle`] with no boxing of bodies or futures on the way
//! (ARCHITECTURE.md, "The ingress's threads", has the measurement).

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};

use super::budget::Share;
use super::trace::{TRACEPARENT, TraceContext};
use super::{CALLER_MODULE, CALLER_REALM, Call, Ingress, REQUEST_ID, Refusal, Reply};

/// What the ingress answers.
pub type Response = http::Response<ReplyBody>;

/// What the accept loop knows about a connection, for each of its requests.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    pub addr: Option<SocketAddr>,
    /// Realms whose CA verified the client certificate.
    pub realms: Arc<[String]>,
}

/// The body of an answer: one buffer, holding its call's share of the
/// budget of buffered bytes until hyper has written it (or dropped it: the
/// client went away, or its HTTP/2 stream was reset for not reading).
///
/// Over HTTP/1.1 the buffer goes to hyper whole. Over HTTP/2 it goes in
/// copied pieces of [`H2_PIECE`] bytes, one each time hyper has room for
/// more on the stream: the reply stays here (counted) until it is sent, each
/// piece taken marks progress for the stream's reply deadline
/// ([`super::conn::reply_progress`]), and what h2 may still hold of a
/// stream once its body has ended is one small piece, not the whole reply.
pub struct ReplyBody {
    data: Option<Bytes>,
    /// Pieces of at most this many bytes (HTTP/2), or the whole (`None`).
    piece: Option<usize>,
    /// Sent after the data (gRPC's status).
    trailers: Option<HeaderMap>,
    _share: Share,
}

/// The size of the pieces of an HTTP/2 reply: h2's default frame size.
const H2_PIECE: usize = 16 << 10;

impl ReplyBody {
    fn new(data: Bytes, share: Share) -> ReplyBody {
        ReplyBody::with_trailers(data, None, share)
    }

    pub(super) fn with_trailers(
        data: Bytes,
        trailers: Option<HeaderMap>,
        share: Share,
    ) -> ReplyBody {
        ReplyBody {
            data: (!data.is_empty()).then_some(data),
            piece: None,
            trailers,
            _share: share,
        }
    }
}

impl hyper::body::Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let Some(data) = self.data.take() else {
            return Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))));
        };
        let Some(piece) = self.piece else {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        };
        super::conn::reply_progress();
        let n = data.len().min(piece);
        let taken = Bytes::copy_from_slice(&data[..n]);
        if n < data.len() {
            self.data = Some(data.slice(n..));
        }
        Poll::Ready(Some(Ok(Frame::data(taken))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// Answers one request (a `HEAD` request with the headers of `GET`).
pub async fn handle(ingress: &Ingress, peer: &Peer, request: http::Request<Incoming>) -> Response {
    let head = request.method() == Method::HEAD;
    let h2 = request.version() == http::Version::HTTP_2;
    let mut response = answer(ingress, peer, request).await;
    if h2 {
        response.body_mut().piece = Some(H2_PIECE);
    }
    if head {
        without_body(response)
    } else {
        response
    }
}

/// A response to `HEAD`: the length the body has, no body. hyper leaves
/// the body out of HTTP/1.1 answers to `HEAD` itself, but not of HTTP/2
/// ones.
fn without_body(mut response: Response) -> Response {
    let len = response.body().data.as_ref().map_or(0, Bytes::len);
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    response.body_mut().data = None;
    response
}

async fn answer(ingress: &Ingress, peer: &Peer, request: http::Request<Incoming>) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if let Some(method) = path.strip_prefix(super::verb_service::PREFIX) {
        return super::verb_service::answer(ingress, peer, &parts, body, method).await;
    }
    if let Some(rest) = path.strip_prefix("/realms/") {
        let mut segments = rest.split('/');
        if let (Some(realm), Some(module), Some(verb), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) && !realm.is_empty()
            && !module.is_empty()
            && !verb.is_empty()
        {
            if parts.method != Method::POST {
                return method_not_allowed(ingress, &parts.method, path, "POST");
            }
            return match [realm, module, verb].map(decode) {
                [Ok(realm), Ok(module), Ok(verb)] => {
                    call(ingress, peer, &parts, body, [&realm, &module, &verb]).await
                }
                _ => {
                    let refusal = Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "malformed_path",
                        format!(
                            "the path is not /realms/{{realm}}/{{module}}/{{verb}} in UTF-8: {}",
                            loggable(path)
                        ),
                    );
                    refuse_early(ingress, path, &request_id(&parts.headers), refusal)
                }
            };
        }
        return not_found(ingress, path);
    }
    let get = matches!(parts.method, Method::GET | Method::HEAD);
    match path {
        "/.well-known/realm" | "/healthz" | "/readyz" | "/metrics" | "/status" if !get => {
            method_not_allowed(ingress, &parts.method, path, "GET")
        }
        "/.well-known/realm" => {
            let json = header(&parts.headers, http::header::ACCEPT).contains("application/json");
            respond(ingress.well_known(json), "")
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if ingress.is_draining() => text(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        "/readyz" => text(StatusCode::OK, "ready\n"),
        "/metrics" => operators_only(peer, ingress.realm()).unwrap_or_else(|| {
            let mut response = text(StatusCode::OK, ingress.metrics_text());
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(super::metrics::CONTENT_TYPE),
            );
            response
        }),
        "/status" => operators_only(peer, ingress.realm())
            .unwrap_or_else(|| respond(ingress.status_json(), "")),
        _ => not_found(ingress, path),
    }
}

/// A path segment, percent-decoded; borrowed when it has no escapes.
fn decode(segment: &str) -> Result<Cow<'_, str>, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(segment).decode_utf8()
}

/// Path segments as they may appear in a log line: control characters
/// (a `%0a` in the URL) escaped, so a request cannot forge log lines.
pub(super) fn loggable(text: &str) -> Cow<'_, str> {
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

fn header(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The caller's `x-request-id` when it is one ([`is_request_id`]), a new
/// one otherwise: an id that is not one is replaced, never logged or
/// passed on.
fn request_id(headers: &HeaderMap) -> String {
    match header(headers, REQUEST_ID) {
        id if is_request_id(id) => id.to_string(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// Whether `id` may serve as a request id (`x-request-id`, and FTL's
/// `Ftl-Request-Id`): 1 to 128 characters of `A-Z a-z 0-9 - _ . :`. Such
/// an id is one word in a log line (no spaces, quotes, `=` or control
/// characters: a caller cannot forge fields or lines with it) and a valid
/// header value; UUIDs, ULIDs and FTL's `req-...` ids all are.
pub fn is_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The call's trace context: the caller's `traceparent`, or a new trace.
pub(super) fn trace_of(headers: &HeaderMap) -> TraceContext {
    headers
        .get(TRACEPARENT)
        .and_then(|v| TraceContext::parse(v.as_bytes()))
        .unwrap_or_else(|| TraceContext::start(uuid::Uuid::new_v4().as_u128(), super::random_u64()))
}

/// A call: `POST /realms/{realm}/{module}/{verb}`, its segments decoded.
async fn call(
    ingress: &Ingress,
    peer: &Peer,
    parts: &http::request::Parts,
    body: Incoming,
    [realm, module, verb]: [&str; 3],
) -> Response {
    let started = Instant::now();
    let headers = &parts.headers;
    let request_id = request_id(headers);
    let limit = ingress.config().limits.max_header_size;
    let size = head_size(parts);
    if size > limit {
        let refusal = Refusal::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request line and headers are {size} bytes, more than {limit} (`[ingress] max-header-size`)"
            ),
        );
        return refuse_early(ingress, parts.uri.path(), &request_id, refusal);
    }
    let trace = trace_of(headers);
    let called = || CallName {
        realm,
        module,
        verb,
    };
    let (body, share) = match read_body(ingress, headers, body).await {
        Ok(read) => read,
        Err(refusal) => {
            ingress.record_refusal(refusal.code);
            tracing::info!(
                request_id = %request_id,
                trace_id = %trace.trace_id_hex(),
                call = %called(),
                status = refusal.status.as_u16(),
                refused = refusal.code,
                "call"
            );
            return respond(refusal.reply(ingress.realm(), &request_id), &request_id);
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let call = Call {
        realm,
        module,
        verb,
        path,
        headers,
        body,
        peer: peer.addr,
        peer_realms: &peer.realms,
        request_id: &request_id,
        trace,
    };
    let outcome = run(ingress, &call, started).await;
    // The request's share is held until the reply is written; an
    // upstream's reply holds its own share (`budget::hold`).
    reply(outcome.reply, &request_id, share)
}

/// A call handed to [`Ingress::handle`], counted and logged.
pub(super) async fn run(ingress: &Ingress, call: &Call<'_>, started: Instant) -> super::Outcome {
    let outcome = ingress.handle(call).await;
    let elapsed = started.elapsed();
    ingress.record(call, &outcome, elapsed);
    let headers = call.headers;
    tracing::info!(
        request_id = %call.request_id,
        trace_id = %call.trace.trace_id_hex(),
        caller_realm = outcome.caller.as_deref().unwrap_or_else(|| header(headers, CALLER_REALM)),
        caller_module = header(headers, CALLER_MODULE),
        call = %CallName {
            realm: call.realm,
            module: call.module,
            verb: call.verb,
        },
        status = outcome.reply.status.as_u16(),
        refused = outcome.refusal,
        micros = elapsed.as_micros() as u64,
        "call"
    );
    outcome
}

/// `module.verb@realm` for the access log, control characters escaped.
struct CallName<'a> {
    realm: &'a str,
    module: &'a str,
    verb: &'a str,
}

impl std::fmt::Display for CallName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}@{}",
            loggable(self.module),
            loggable(self.verb),
            loggable(self.realm)
        )
    }
}

/// A refusal of a request that is not a call: counted, logged with a
/// new request id, answered with the JSON error body.
pub(super) fn refuse_plain(ingress: &Ingress, path: &str, refusal: Refusal) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    refuse_early(ingress, path, &request_id, refusal)
}

/// A refusal before the call is known (its path or head is unusable):
/// counted, logged with the raw path, answered.
fn refuse_early(ingress: &Ingress, path: &str, request_id: &str, refusal: Refusal) -> Response {
    ingress.record_refusal(refusal.code);
    tracing::info!(
        request_id = %request_id,
        call = %loggable(path),
        status = refusal.status.as_u16(),
        refused = refusal.code,
        "call"
    );
    respond(refusal.reply(ingress.realm(), request_id), request_id)
}

/// The size of a request's head as HTTP/1.1 sends it: request line and
/// header lines with their line ends.
pub(super) fn head_size(parts: &http::request::Parts) -> usize {
    let uri = &parts.uri;
    // As `Uri` displays itself, without making the string.
    let target = uri.scheme_str().map_or(0, |s| s.len() + "://".len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path().len()
        + uri.query().map_or(0, |q| q.len() + 1);
    let line = parts.method.as_str().len() + target + "  HTTP/1.1\r\n".len();
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
pub(super) async fn read_body(
    ingress: &Ingress,
    headers: &HeaderMap,
    body: Incoming,
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
                "the ingress holds {} bytes of request and reply bodies already, its limit (`[ingress] max-buffered`): the call was not made; try again shortly",
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

/// `/metrics` and `/status` show upstream URLs and errors: they are for
/// this realm's own network (loopback and private addresses), not for
/// other realms.
fn operators_only(peer: &Peer, realm: &str) -> Option<Response> {
    let allowed = peer
        .addr
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

fn method_not_allowed(
    ingress: &Ingress,
    method: &Method,
    path: &str,
    allowed: &'static str,
) -> Response {
    let refusal = Refusal::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not served at {}: use {allowed}",
            loggable(path)
        ),
    );
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = respond(refusal.reply(ingress.realm(), &request_id), &request_id);
    response
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allowed));
    response
}

fn not_found(ingress: &Ingress, path: &str) -> Response {
    let refusal = Refusal::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing at {}: calls are POST /realms/{{realm}}/{{module}}/{{verb}}; the public schema is GET /.well-known/realm",
            loggable(path)
        ),
    );
    let request_id = uuid::Uuid::new_v4().to_string();
    respond(refusal.reply(ingress.realm(), &request_id), &request_id)
}

/// A plain-text answer.
fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(ReplyBody::new(body.into(), Share::default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn respond(reply: Reply, request_id: &str) -> Response {
    self::reply(reply, request_id, Share::default())
}

/// The HTTP response of `reply`, holding `share` until it is written.
fn reply(reply: Reply, request_id: &str, share: Share) -> Response {
    let mut response = http::Response::new(ReplyBody::new(reply.body, share));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, reply.content_type);
    if !request_id.is_empty()
        && let Ok(id) = HeaderValue::from_str(request_id)
    {
        headers.insert(REQUEST_ID, id);
    }
    if let Some(secs) = reply.retry_after {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
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
        assert!(operators_only(&peer("127.0.0.1:9"), "bank").is_none());
        assert!(operators_only(&peer("10.1.2.3:9"), "bank").is_none());
        assert!(operators_only(&peer("[::1]:9"), "bank").is_none());
        assert!(operators_only(&peer("203.0.113.7:9"), "bank").is_some());
        assert!(operators_only(&Peer::default(), "bank").is_some());
    }

    #[test]
    fn request_ids_are_one_word_of_a_safe_charset() {
        for good in [
            "r1",
            "4502cb6a-ea2d-44a4-a009-be634143ba70",
            "req-01HZX.a_b:c",
            &"a".repeat(128),
        ] {
            assert!(is_request_id(good), "{good}");
        }
        for bad in [
            "",
            "r1 caller_realm=shop call=m.v status=200",
            "a\nINFO",
            "\"quoted\"",
            "a=b",
            "caf\u{e9}",
            &"a".repeat(129),
        ] {
            assert!(!is_request_id(bad), "{bad}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("r1 status=200"));
        let id = request_id(&headers);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        headers.insert(REQUEST_ID, HeaderValue::from_static("r1"));
        assert_eq!(request_id(&headers), "r1");
    }

    #[test]
    fn control_characters_are_escaped_for_logs() {
        assert_eq!(loggable("a.b@c"), "a.b@c");
        assert_eq!(loggable("a\nINFO x"), "a\\nINFO x");
        let name = CallName {
            realm: "c",
            module: "a\n",
            verb: "b",
        };
        assert_eq!(name.to_string(), "a\\n.b@c");
    }

    #[test]
    fn an_answer_to_head_has_the_length_and_no_body() {
        let response = without_body(text(StatusCode::OK, "ready\n"));
        assert_eq!(
            response.headers().get(http::header::CONTENT_LENGTH),
            Some(&HeaderValue::from(6))
        );
        let body = response.body();
        assert!(hyper::body::Body::is_end_stream(body));
        assert_eq!(hyper::body::Body::size_hint(body).exact(), Some(0));
    }

    #[test]
    fn segments_are_percent_decoded_and_must_be_utf8() {
        assert_eq!(decode("balance").ok(), Some(Cow::Borrowed("balance")));
        assert_eq!(decode("a%20b").ok().as_deref(), Some("a b"));
        assert!(decode("%ff%fe").is_err());
    }
}
