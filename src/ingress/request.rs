//! What every call request needs, whichever protocol brought it
//! (`POST /realms/...` in `routes`, FTL's verb service in
//! `verb_service`): its request id (`is_request_id`, the one predicate),
//! head size, trace context and body (within its limits and the budget of
//! buffered bytes); the hand-over to [`Ingress::handle`] with its metrics
//! and access-log line; the refusals of requests that never became a call.
//!
//! Never decides where a call goes or who may make it: [`Ingress::handle`]
//! does.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;

use super::budget::Share;
use super::response::{Response, respond};
use super::trace::{TRACEPARENT, TraceContext};
use super::{CALLER_MODULE, CALLER_REALM, Call, Ingress, Outcome, REQUEST_ID, Refusal};

/// What the accept loop knows about a connection, for each of its requests.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    pub addr: Option<SocketAddr>,
    /// The connection is TLS (the scheme of the URLs it was called by).
    pub tls: bool,
    /// Realms whose CA verified the client certificate.
    pub realms: Arc<[String]>,
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

pub(super) fn header(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The caller's `x-request-id` when it is one ([`is_request_id`]), a new
/// one otherwise: an id that is not one is replaced, never logged or
/// passed on.
pub(super) fn request_id(headers: &HeaderMap) -> String {
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

/// A call handed to [`Ingress::handle`], counted and logged.
/// `deadline`: the caller's (the verb service's `grpc-timeout`), if any.
pub(super) async fn run(
    ingress: &Ingress,
    call: &Call<'_>,
    started: Instant,
    deadline: Option<std::time::Duration>,
) -> Outcome {
    let outcome = ingress.handle_or_queue(call, deadline).await;
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
pub(super) struct CallName<'a> {
    pub realm: &'a str,
    pub module: &'a str,
    pub verb: &'a str,
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
pub(super) fn refuse_early(
    ingress: &Ingress,
    path: &str,
    request_id: &str,
    refusal: Refusal,
) -> Response {
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

/// The host (and port) a request was sent to: the URI's authority (HTTP/2,
/// absolute-form) or the `Host` header.
pub(super) fn authority(parts: &http::request::Parts) -> Option<&str> {
    parts
        .uri
        .authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| parts.headers.get(http::header::HOST)?.to_str().ok())
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

/// The refusal of a call whose bytes do not fit in `[ingress]
/// max-buffered` now.
pub(super) fn busy(ingress: &Ingress) -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ingress_busy",
        format!(
            "the ingress holds {} bytes of request and reply bodies already, its limit (`[ingress] max-buffered`): the call was not made; try again shortly",
            ingress.budget.total()
        ),
    )
    .retry_after(Duration::from_secs(1))
}

/// Reads a request body within the size limit, the request timeout and
/// the ingress's budget of buffered bytes; the share of the budget is held
/// until the returned [`Share`] is dropped (when the call is over).
/// `body`: hyper's, or the fast path's (`fast`: the whole body, read
/// before).
pub(super) async fn read_body<B>(
    ingress: &Ingress,
    headers: &HeaderMap,
    body: B,
) -> Result<(Bytes, Share), Refusal>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
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
    let busy = || busy(ingress);
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
}
