//! What the ingress answers to each HTTP request: which route it is, the
//! call handler around [`Ingress::handle`] (request id, head size, path
//! segments; the rest of it, shared with the verb service, is in
//! `request`), the small GET routes.
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
//! (docs/decisions.md, "The ingress's threads", has the measurement).

use std::borrow::Cow;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use hyper::body::Incoming;

use super::request::{
    CallName, authority, head_size, header, loggable, read_body, refuse_early, request_id, run,
    trace_of,
};
use super::response::{H2_PIECE, reply, respond, text, without_body};
use super::{Call, Ingress, Refusal};

pub use super::request::Peer;
/// Named here by `conn`.
pub(crate) use super::response::Response;

/// Answers one request (a `HEAD` request with the headers of `GET`).
pub async fn handle(ingress: &Ingress, peer: &Peer, request: http::Request<Incoming>) -> Response {
    let head = request.method() == Method::HEAD;
    let h2 = request.version() == http::Version::HTTP_2;
    let mut response = answer(ingress, peer, request).await;
    if h2 {
        response
            .body_mut()
            .in_pieces(H2_PIECE, super::conn::reply_progress);
    }
    if head {
        without_body(response)
    } else {
        response
    }
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
    // Queued calls: where they are, retry, drop (`queued.rs`).
    if path == "/deliveries" || path.starts_with("/deliveries/") {
        if let Some(refused) = operators_only(peer, ingress.realm()) {
            return refused;
        }
        let token = ingress.queue().and_then(|q| q.admin_token.as_deref());
        if let Some(refused) = admin_only(token, &parts.headers, ingress.realm()) {
            return refused;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        return match super::queued::deliveries(ingress, &parts.method, path, &request_id).await {
            Ok(answer) => respond(answer, &request_id),
            Err(allowed) => method_not_allowed(ingress, &parts.method, path, allowed),
        };
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
        "/metrics" => match operators_only(peer, ingress.realm()) {
            Some(refused) => refused,
            None => {
                let queue = ingress.queue_status().await;
                let page = ingress.metrics_text_with(queue.as_ref());
                let mut response = text(StatusCode::OK, page);
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(super::metrics::CONTENT_TYPE),
                );
                response
            }
        },
        "/status" => match operators_only(peer, ingress.realm()) {
            Some(refused) => refused,
            None => respond(ingress.status_json_with(ingress.queue_status().await), ""),
        },
        _ => not_found(ingress, path),
    }
}

/// A path segment, percent-decoded; borrowed when it has no escapes.
pub(super) fn decode(segment: &str) -> Result<Cow<'_, str>, std::str::Utf8Error> {
    percent_encoding::percent_decode_str(segment).decode_utf8()
}

/// A call: `POST /realms/{realm}/{module}/{verb}`, its segments decoded;
/// `body` is hyper's, or the fast path's (`fast`).
pub(super) async fn call<B>(
    ingress: &Ingress,
    peer: &Peer,
    parts: &http::request::Parts,
    body: B,
    [realm, module, verb]: [&str; 3],
) -> Response
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
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
        scheme: if peer.tls { "https" } else { "http" },
        authority: authority(parts),
        headers,
        body,
        peer: peer.addr,
        peer_realms: &peer.realms,
        request_id: &request_id,
        trace,
    };
    let outcome = run(ingress, &call, started, None).await;
    let location = ingress.location(headers, [realm, module, verb], &outcome.reply);
    // The request's share is held until the reply is written; an
    // upstream's reply holds its own share (`budget::hold`).
    let mut response = reply(outcome.reply, &request_id, share);
    if let Some(location) = location {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    response
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
            "/metrics, /status and /deliveries are served to loopback and private addresses only",
        );
        respond(refusal.reply(realm, &request_id), &request_id)
    })
}

/// `/deliveries` shows call bodies and replies, and retries and drops
/// calls: with `[ingress] admin-token-file`, only to a request with
/// `Authorization: Bearer <that token>`.
fn admin_only(token: Option<&str>, headers: &http::HeaderMap, realm: &str) -> Option<Response> {
    let token = token?;
    // `Bearer` in any case, then one or more spaces (RFC 9110 11.1).
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| {
            let v = v.as_bytes();
            let (scheme, rest) = v.split_at(v.iter().position(|&b| b == b' ')?);
            scheme
                .eq_ignore_ascii_case(b"bearer")
                .then(|| rest.trim_ascii_start())
        })
        .unwrap_or_default();
    // Compared in time independent of where they differ.
    let same = given.len() == token.len()
        && given
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    (!same).then(|| {
        let request_id = uuid::Uuid::new_v4().to_string();
        let refusal = Refusal::new(
            StatusCode::UNAUTHORIZED,
            "admin_token_required",
            "/deliveries requires `Authorization: Bearer <token>`, the token of this ingress's `[ingress] admin-token-file` (`realm deliveries` sends it when run in the project)",
        );
        let mut response = respond(refusal.reply(realm, &request_id), &request_id);
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"deliveries\""),
        );
        response
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn metrics_and_status_are_for_the_realms_own_network() {
        let peer = |addr: &str| Peer {
            addr: Some(addr.parse().expect("addr")),
            tls: false,
            realms: Arc::from([]),
        };
        assert!(operators_only(&peer("127.0.0.1:9"), "bank").is_none());
        assert!(operators_only(&peer("10.1.2.3:9"), "bank").is_none());
        assert!(operators_only(&peer("[::1]:9"), "bank").is_none());
        assert!(operators_only(&peer("203.0.113.7:9"), "bank").is_some());
        assert!(operators_only(&Peer::default(), "bank").is_some());
    }

    #[test]
    fn deliveries_take_the_admin_token_when_there_is_one() {
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("value"),
            );
            headers
        };
        let none = http::HeaderMap::new();
        assert!(admin_only(None, &none, "bank").is_none());
        assert!(admin_only(Some("s3cret"), &with("Bearer s3cret"), "bank").is_none());
        for wrong in ["Bearer s3cre", "Bearer s3cret!", "Basic s3cret", "s3cret"] {
            let refused = admin_only(Some("s3cret"), &with(wrong), "bank").expect(wrong);
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        }
        assert!(admin_only(Some("s3cret"), &none, "bank").is_some());
    }

    /// Found by review, fixed: the auth-scheme is case-insensitive (RFC 9110
    /// 11.1) and may be followed by more than one space; a client that
    /// writes `bearer` (as some do) is refused 401 with the right token.
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(admin_only(Some("s3cret"), &headers, "bank").is_none());
        for wrong in [
            "Basic s3cret",
            "Bearer",
            "Bearers3cret",
            "Bearer s3cre",
            "bearer  s3cret!",
        ] {
            headers.insert(http::header::AUTHORIZATION, HeaderValue::from_static(wrong));
            assert!(
                admin_only(Some("s3cret"), &headers, "bank").is_some(),
                "{wrong}"
            );
        }
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("BEARER   s3cret"),
        );
        assert!(admin_only(Some("s3cret"), &headers, "bank").is_none());
    }

    #[test]
    fn segments_are_percent_decoded_and_must_be_utf8() {
        assert_eq!(decode("balance").ok(), Some(Cow::Borrowed("balance")));
        assert_eq!(decode("a%20b").ok().as_deref(), Some("a b"));
        assert!(decode("%ff%fe").is_err());
    }
}
