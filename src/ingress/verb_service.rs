//! FTL's verb service on the ingress's listener: `realm serve` is "a verb
//! service compatible proxy" (FTL #5284). `POST
//! /xyz.block.ftl.v1.VerbService/Call` and `/Ping` are answered in the three
//! protocols connect-go serves: gRPC (HTTP/2, h2c or TLS), gRPC-Web and
//! Connect unary (`application/proto`, `application/json`).
//!
//! A `Call` names a module and verb of this realm and goes through exactly
//! the course of `POST /realms/<this realm>/<module>/<verb>`
//! ([`Ingress::handle`]: hops, authorization, route, visibility, body,
//! forward). What comes back is told apart the way FTL's clients tell it:
//! a refusal of the ingress (unknown verb, not exported, bad body,
//! overload) is a status code of the protocol; the verb's own failure (its
//! runner answered an error) is `CallResponse.error`.
//!
//! FTL's headers: `Ftl-Request-Id` is the call's request id (validated as
//! `x-request-id` is), `Ftl-Verb` (`module.verb` of the caller) names the
//! calling module; both, with `Ftl-Parent-Request-Id` and
//! `Ftl-Transaction-Id`, are passed on to the runner.
//!
//! Never decides anything about the call itself: it translates between a
//! protocol and [`Ingress::handle`].

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use hyper::body::Incoming;
use prost::Message;

use super::budget::{BodyBudget, Share};
use super::request::{self, Peer};
use super::response::{ReplyBody, Response};
use super::{CALLER_MODULE, Call, FTL_REQUEST_ID, FTL_VERB, Ingress, Outcome};
use crate::schema::pb::verb::{
    CallRequest, CallResponse, PingRequest, PingResponse, call_response,
};

/// The path prefix of the verb service's methods.
pub(super) const PREFIX: &str = "/xyz.block.ftl.v1.VerbService/";

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The protocol of a request, from its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Grpc,
    GrpcWeb,
    ConnectProto,
    ConnectJson,
}

impl Protocol {
    fn of(headers: &HeaderMap) -> Option<Protocol> {
        let value = headers
            .get(http::header::CONTENT_TYPE)?
            .to_str()
            .ok()?
            .split(';')
            .next()?
            .trim()
            .to_ascii_lowercase();
        Some(match value.as_str() {
            "application/grpc" | "application/grpc+proto" => Protocol::Grpc,
            "application/grpc-web" | "application/grpc-web+proto" => Protocol::GrpcWeb,
            "application/proto" => Protocol::ConnectProto,
            "application/json" => Protocol::ConnectJson,
            _ => return None,
        })
    }

    fn content_type(self) -> &'static str {
        match self {
            Protocol::Grpc => "application/grpc",
            Protocol::GrpcWeb => "application/grpc-web+proto",
            Protocol::ConnectProto => "application/proto",
            Protocol::ConnectJson => "application/json",
        }
    }

    fn framed(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::GrpcWeb)
    }
}

/// A failure as the protocol says it: a status code and a message.
#[derive(Debug)]
struct Failure {
    code: tonic::Code,
    message: String,
}

impl Failure {
    fn new(code: tonic::Code, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Answers `POST /xyz.block.ftl.v1.VerbService/<method>`.
pub(super) async fn answer(
    ingress: &Ingress,
    peer: &Peer,
    parts: &http::request::Parts,
    body: Incoming,
    method: &str,
) -> Response {
    let Some(protocol) = Protocol::of(&parts.headers) else {
        return request::refuse_plain(
            ingress,
            parts.uri.path(),
            super::Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the verb service speaks gRPC (application/grpc), gRPC-Web (application/grpc-web+proto) and Connect (application/proto, application/json)",
            ),
        );
    };
    if parts.method != http::Method::POST {
        return refused(
            ingress,
            "verb_service_method",
            protocol,
            &Failure::new(
                tonic::Code::Unimplemented,
                format!("{} is not served here: use POST", parts.method),
            ),
        );
    }
    // gRPC's `grpc-encoding` only names the codec a compressed message
    // would use (each message's flag says whether it is: `unframe`);
    // Connect's `content-encoding` compresses the whole body.
    let encoded = match protocol {
        Protocol::Grpc | Protocol::GrpcWeb => None,
        _ => parts.headers.get(http::header::CONTENT_ENCODING),
    };
    if encoded.is_some_and(|e| e.as_bytes() != b"identity") {
        return refused(
            ingress,
            "verb_service_compressed",
            protocol,
            &Failure::new(
                tonic::Code::Unimplemented,
                "compressed requests are not served: send them uncompressed",
            ),
        );
    }
    let limit = ingress.config().limits.max_header_size;
    let size = request::head_size(parts);
    if size > limit {
        ingress.record_refusal("headers_too_large");
        return failed(
            protocol,
            &Failure::new(
                tonic::Code::ResourceExhausted,
                format!(
                    "the request line and headers are {size} bytes, more than {limit} (`[ingress] max-header-size`)"
                ),
            ),
        );
    }
    // Signatures cover `/realms/<realm>/<module>/<verb>`; here the verb is
    // inside the body. Realms call each other on `/realms/...`. Either
    // scheme: HMAC (`x-realm-signature`) and RFC 9421 (`Signature-Input`).
    if parts.headers.contains_key(super::auth::SIGNATURE) || super::auth::is_signed(&parts.headers)
    {
        ingress.record_refusal("signed_verb_service_call");
        return failed(
            protocol,
            &Failure::new(
                tonic::Code::Unauthenticated,
                "signed calls go to POST /realms/<realm>/<module>/<verb>, where the signature covers the verb; the verb service takes the calls of this realm's own network",
            ),
        );
    }
    let request_id = request_id(&parts.headers);
    let (bytes, share) = match request::read_body(ingress, &parts.headers, body).await {
        Ok(read) => read,
        Err(refusal) => {
            ingress.record_refusal(refusal.code);
            return failed(
                protocol,
                &Failure::new(code_of(refusal.status), refusal.message),
            );
        }
    };
    let message = match unframe(protocol, bytes) {
        Ok(message) => message,
        Err(failure) => return refused(ingress, "verb_service_framing", protocol, &failure),
    };
    match method {
        "Ping" => match decode::<PingRequest>(protocol, &message, "xyz.block.ftl.v1.PingRequest") {
            Err(failure) => refused(ingress, "verb_service_message", protocol, &failure),
            Ok(_) => {
                let ping = PingResponse {
                    not_ready: ingress.is_draining().then(|| "draining".to_string()),
                };
                succeeded(
                    protocol,
                    &ping,
                    "xyz.block.ftl.v1.PingResponse",
                    share,
                    None,
                )
            }
        },
        "Call" => {
            let called = decode::<CallRequest>(protocol, &message, "xyz.block.ftl.v1.CallRequest")
                .and_then(Called::of);
            // The request's bytes are in `called` now.
            drop(message);
            let called = match called {
                Ok(called) => called,
                Err(failure) => {
                    return refused(ingress, "verb_service_message", protocol, &failure);
                }
            };
            let connect = matches!(protocol, Protocol::ConnectProto | Protocol::ConnectJson);
            let answered = match super::deadline::of(&parts.headers, connect) {
                Err(message) => {
                    ingress.record_refusal("bad_deadline");
                    Err(Failure::new(tonic::Code::InvalidArgument, message))
                }
                Ok(deadline) => call(ingress, peer, parts, called, &request_id, deadline).await,
            };
            let mut response = match answered {
                Ok(response) => succeeded(
                    protocol,
                    &response,
                    "xyz.block.ftl.v1.CallResponse",
                    share,
                    Some(&ingress.budget),
                ),
                Err(failure) => failed(protocol, &failure),
            };
            if let Ok(id) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(FTL_REQUEST_ID, id);
            }
            response
        }
        other => refused(
            ingress,
            "verb_service_method",
            protocol,
            &Failure::new(
                tonic::Code::Unimplemented,
                format!(
                    "xyz.block.ftl.v1.VerbService has no method {:?}: it has Call and Ping",
                    request::loggable(other)
                ),
            ),
        ),
    }
}

/// The verb a `CallRequest` names, and its body.
struct Called {
    module: String,
    verb: String,
    body: Bytes,
}

impl Called {
    fn of(request: CallRequest) -> Result<Called, Failure> {
        match request.verb {
            Some(verb) if !verb.module.is_empty() && !verb.name.is_empty() => Ok(Called {
                module: verb.module,
                verb: verb.name,
                body: Bytes::from(request.body),
            }),
            _ => Err(Failure::new(
                tonic::Code::InvalidArgument,
                "CallRequest.verb must name a module and a verb of this realm",
            )),
        }
    }
}

/// `Call`: the verb called made into a call of this realm, handed to
/// [`Ingress::handle`]; what became of it as a `CallResponse` or a status.
async fn call(
    ingress: &Ingress,
    peer: &Peer,
    parts: &http::request::Parts,
    called: Called,
    request_id: &str,
    deadline: Option<std::time::Duration>,
) -> Result<CallResponse, Failure> {
    let mut headers = parts.headers.clone();
    // The calling module, from FTL's `Ftl-Verb: module.verb` (the last hop
    // is the caller), unless the caller said it the realm way.
    if !headers.contains_key(CALLER_MODULE)
        && let Some(module) = headers
            .get_all(FTL_VERB)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split('.').next())
            .filter(|m| crate::schema::is_ident(m))
            .and_then(|m| HeaderValue::from_str(m).ok())
    {
        headers.insert(CALLER_MODULE, module);
    }
    let call = Call {
        realm: ingress.realm(),
        module: &called.module,
        verb: &called.verb,
        path: parts.uri.path(),
        scheme: if peer.tls { "https" } else { "http" },
        authority: request::authority(parts),
        headers: &headers,
        body: called.body,
        peer: peer.addr,
        peer_realms: &peer.realms,
        request_id,
        trace: request::trace_of(&headers),
    };
    let outcome = request::run(ingress, &call, std::time::Instant::now(), deadline).await;
    // The reply's bytes (and their share) go when `outcome` does, before
    // the encoded answer is counted.
    outcome_to_response(&outcome)
}

/// What a call's outcome is in the verb service's terms: a reply or the
/// verb's failure as a `CallResponse`, a refusal as a status.
fn outcome_to_response(outcome: &Outcome) -> Result<CallResponse, Failure> {
    let reply = &outcome.reply;
    if outcome.refusal.is_some() {
        let (message, path) = error_of(&reply.body);
        let message = match path {
            Some(path) => format!("{message} (at {path})"),
            None => message,
        };
        return Err(Failure::new(code_of(reply.status), message));
    }
    let response = if reply.status.is_success() {
        call_response::Response::Body(reply.body.to_vec())
    } else {
        // The runner (or the realm beyond) answered, with an error: the
        // verb failed.
        call_response::Response::Error(call_response::Error {
            message: error_of(&reply.body).0,
            stack: None,
        })
    };
    Ok(CallResponse {
        response: Some(response),
    })
}

/// The message (and JSON path) of a JSON error body
/// `{"error": {"message", "path"?}}`, or the body as text.
fn error_of(body: &[u8]) -> (String, Option<String>) {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().and_then(|j| j.get("error"));
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    match error {
        Some(serde_json::Value::String(message)) => (message.clone(), None),
        Some(error) => match text(error.get("message")) {
            Some(message) => (message, text(error.get("path"))),
            None => (error.to_string(), None),
        },
        None => {
            const MOST: usize = 4096;
            let text = String::from_utf8_lossy(&body[..body.len().min(MOST)]);
            (text.into_owned(), None)
        }
    }
}

/// The status code of a refusal with this HTTP status.
fn code_of(status: StatusCode) -> tonic::Code {
    use tonic::Code;
    match status.as_u16() {
        400 | 415 => Code::InvalidArgument,
        409 => Code::Aborted,
        499 => Code::Cancelled,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 | 504 => Code::DeadlineExceeded,
        413 | 431 => Code::ResourceExhausted,
        429 => Code::ResourceExhausted,
        502 | 503 => Code::Unavailable,
        501 => Code::Unimplemented,
        508 => Code::FailedPrecondition,
        _ => Code::Internal,
    }
}

/// The HTTP status of a Connect error with this code (connect's protocol
/// document).
fn connect_status(code: tonic::Code) -> StatusCode {
    use tonic::Code;
    let status = match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The request id: `Ftl-Request-Id`, else `x-request-id`, when usable; a
/// new one otherwise.
fn request_id(headers: &HeaderMap) -> String {
    [FTL_REQUEST_ID, super::REQUEST_ID]
        .iter()
        .filter_map(|name| headers.get(name)?.to_str().ok())
        .find(|id| request::is_request_id(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

/// The one message of a request: gRPC's and gRPC-Web's length-prefixed
/// frame (uncompressed), Connect's whole body.
fn unframe(protocol: Protocol, body: Bytes) -> Result<Bytes, Failure> {
    if !protocol.framed() {
        return Ok(body);
    }
    let bad = |what: &str| Failure::new(tonic::Code::InvalidArgument, what.to_string());
    if body.len() < 5 {
        return Err(bad("the request is not one length-prefixed gRPC message"));
    }
    if body[0] & 1 != 0 {
        return Err(Failure::new(
            tonic::Code::Unimplemented,
            "compressed messages are not served: send them uncompressed",
        ));
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if body.len() - 5 != len {
        return Err(bad(
            "the request is not exactly one length-prefixed gRPC message (unary methods take one)",
        ));
    }
    Ok(body.slice(5..))
}

/// Decodes a request message: binary, or protojson for Connect's JSON.
fn decode<M: Message + Default>(
    protocol: Protocol,
    bytes: &[u8],
    name: &str,
) -> Result<M, Failure> {
    let invalid = |e: String| {
        Failure::new(
            tonic::Code::InvalidArgument,
            format!("the request is not a {name}: {e}"),
        )
    };
    if protocol != Protocol::ConnectJson {
        return M::decode(bytes).map_err(|e| invalid(e.to_string()));
    }
    let descriptor = crate::schema::txtpb::descriptor_pool()
        .get_message_by_name(name)
        .ok_or_else(|| invalid("its descriptor is missing".to_string()))?;
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let message = prost_reflect::DynamicMessage::deserialize(descriptor, &mut json)
        .map_err(|e| invalid(e.to_string()))?;
    json.end().map_err(|e| invalid(e.to_string()))?;
    message
        .transcode_to::<M>()
        .map_err(|e| invalid(e.to_string()))
}

/// Encodes a reply message: binary, or protojson for Connect's JSON.
fn encode<M: Message>(protocol: Protocol, message: &M, name: &str) -> Result<Vec<u8>, Failure> {
    if protocol != Protocol::ConnectJson {
        return Ok(message.encode_to_vec());
    }
    let internal = |e: String| Failure::new(tonic::Code::Internal, e);
    let descriptor = crate::schema::txtpb::descriptor_pool()
        .get_message_by_name(name)
        .ok_or_else(|| internal(format!("the descriptor of {name} is missing")))?;
    let mut dynamic = prost_reflect::DynamicMessage::new(descriptor);
    dynamic
        .transcode_from(message)
        .map_err(|e| internal(e.to_string()))?;
    serde_json::to_vec(&dynamic).map_err(|e| internal(e.to_string()))
}

/// A successful answer holding `message`'s bytes. With a budget, the bytes
/// are counted in `share` (beside the request's) until they are written; no
/// room is `UNAVAILABLE`, as `reply_busy` is on `/realms/...`.
fn succeeded<M: Message>(
    protocol: Protocol,
    message: &M,
    name: &str,
    mut share: Share,
    budget: Option<&BodyBudget>,
) -> Response {
    let message = match encode(protocol, message, name) {
        Ok(bytes) => bytes,
        Err(failure) => return failed(protocol, &failure),
    };
    let body = match protocol {
        Protocol::Grpc | Protocol::GrpcWeb => {
            let mut framed = BytesMut::with_capacity(message.len() + 64);
            framed.put_u8(0);
            framed.put_u32(message.len() as u32);
            framed.put_slice(&message);
            if protocol == Protocol::GrpcWeb {
                put_web_trailers(&mut framed, tonic::Code::Ok, "");
            }
            framed.freeze()
        }
        _ => Bytes::from(message),
    };
    if let Some(budget) = budget {
        let held = share.bytes() + body.len() as u64;
        if budget.grow(&mut share, held).is_err() {
            return failed(
                protocol,
                &Failure::new(
                    tonic::Code::Unavailable,
                    format!(
                        "the call ran, but its reply does not fit in what the ingress may hold ({} bytes of request and reply bodies, `[ingress] max-buffered`); try again shortly",
                        budget.total()
                    ),
                ),
            );
        }
    }
    let trailers = (protocol == Protocol::Grpc).then(|| {
        let mut trailers = HeaderMap::new();
        trailers.insert(GRPC_STATUS, HeaderValue::from_static("0"));
        trailers
    });
    let mut response = http::Response::new(ReplyBody::with_trailers(body, trailers, share));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(protocol.content_type()),
    );
    response
}

/// A failed answer: gRPC's trailers-only response, gRPC-Web's trailer
/// frame, Connect's JSON error with its HTTP status.
/// A refusal of the verb service's own (before the call reaches
/// [`Ingress::handle`], which counts its own): counted by its fixed `code`,
/// answered in the caller's protocol.
fn refused(
    ingress: &Ingress,
    code: &'static str,
    protocol: Protocol,
    failure: &Failure,
) -> Response {
    ingress.record_refusal(code);
    failed(protocol, failure)
}

fn failed(protocol: Protocol, failure: &Failure) -> Response {
    let code = failure.code as i32;
    match protocol {
        Protocol::Grpc => {
            let mut response = http::Response::new(ReplyBody::with_trailers(
                Bytes::new(),
                None,
                Share::default(),
            ));
            let headers = response.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(protocol.content_type()),
            );
            headers.insert(GRPC_STATUS, HeaderValue::from(code));
            if let Ok(message) = HeaderValue::from_str(&percent_encode(&failure.message)) {
                headers.insert(GRPC_MESSAGE, message);
            }
            response
        }
        Protocol::GrpcWeb => {
            let mut body = BytesMut::new();
            put_web_trailers(&mut body, failure.code, &failure.message);
            let mut response = http::Response::new(ReplyBody::with_trailers(
                body.freeze(),
                None,
                Share::default(),
            ));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(protocol.content_type()),
            );
            response
        }
        Protocol::ConnectProto | Protocol::ConnectJson => {
            // Connect's names are gRPC's in lower case, but `canceled`.
            let name = match failure.code {
                tonic::Code::Cancelled => "canceled".to_string(),
                code => crate::net::code_name(code).to_ascii_lowercase(),
            };
            let body = serde_json::json!({"code": name, "message": failure.message}).to_string();
            let mut response = http::Response::new(ReplyBody::with_trailers(
                Bytes::from(body),
                None,
                Share::default(),
            ));
            *response.status_mut() = connect_status(failure.code);
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

/// gRPC-Web's trailers: a frame flagged 0x80 holding them as HTTP/1 header
/// lines.
fn put_web_trailers(body: &mut BytesMut, code: tonic::Code, message: &str) {
    let mut text = format!("grpc-status: {}\r\n", code as i32);
    if !message.is_empty() {
        text.push_str(&format!("grpc-message: {}\r\n", percent_encode(message)));
    }
    body.put_u8(0x80);
    body.put_u32(text.len() as u32);
    body.put_slice(text.as_bytes());
}

/// `grpc-message`'s percent-encoding: printable ASCII but `%` as it is,
/// everything else as `%XX` of its UTF-8 bytes.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_come_from_the_content_type() {
        let of = |ct: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(ct).expect("ct"),
            );
            Protocol::of(&headers)
        };
        assert_eq!(of("application/grpc"), Some(Protocol::Grpc));
        assert_eq!(of("application/grpc+proto"), Some(Protocol::Grpc));
        assert_eq!(of("application/grpc-web+proto"), Some(Protocol::GrpcWeb));
        assert_eq!(of("application/proto"), Some(Protocol::ConnectProto));
        assert_eq!(
            of("application/json; charset=utf-8"),
            Some(Protocol::ConnectJson)
        );
        assert_eq!(of("application/grpc+json"), None);
        assert_eq!(of("text/plain"), None);
    }

    #[test]
    fn frames_hold_exactly_one_message() {
        let frame = |flag: u8, len: u32, rest: &[u8]| {
            let mut b = vec![flag];
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(rest);
            Bytes::from(b)
        };
        assert_eq!(
            unframe(Protocol::Grpc, frame(0, 2, b"ab"))
                .expect("one")
                .as_ref(),
            b"ab"
        );
        assert!(unframe(Protocol::Grpc, frame(0, 3, b"ab")).is_err());
        assert!(unframe(Protocol::Grpc, frame(0, 1, b"ab")).is_err());
        assert!(unframe(Protocol::Grpc, Bytes::from_static(b"\0\0")).is_err());
        let compressed = unframe(Protocol::Grpc, frame(1, 2, b"ab")).expect_err("compressed");
        assert_eq!(compressed.code, tonic::Code::Unimplemented);
        assert_eq!(
            unframe(Protocol::ConnectProto, Bytes::from_static(b"xy"))
                .expect("raw")
                .as_ref(),
            b"xy"
        );
    }

    #[test]
    fn refusals_are_status_codes_and_verb_failures_are_errors() {
        use super::super::Reply;
        let refused = |status: StatusCode, body: &str| Outcome {
            reply: Reply::json(status, body.to_string()),
            refusal: Some("x"),
            routed: false,
            caller: None,
        };
        let failure = outcome_to_response(&refused(
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":"unknown_verb","message":"no verb m.v"}}"#,
        ))
        .expect_err("refused");
        assert_eq!(failure.code, tonic::Code::NotFound);
        assert_eq!(failure.message, "no verb m.v");
        let failure = outcome_to_response(&refused(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"invalid_body","message":"bad","path":"$.a"}}"#,
        ))
        .expect_err("refused");
        assert_eq!(failure.code, tonic::Code::InvalidArgument);
        assert_eq!(failure.message, "bad (at $.a)");
        assert_eq!(
            code_of(StatusCode::FORBIDDEN),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            code_of(StatusCode::SERVICE_UNAVAILABLE),
            tonic::Code::Unavailable
        );

        let answered = |status: StatusCode, body: &str| Outcome {
            reply: Reply::json(status, body.to_string()),
            refusal: None,
            routed: true,
            caller: None,
        };
        let ok = outcome_to_response(&answered(StatusCode::OK, "{\"a\":1}")).expect("ok");
        assert_eq!(
            ok.response,
            Some(call_response::Response::Body(b"{\"a\":1}".to_vec()))
        );
        let error = outcome_to_response(&answered(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"insufficient funds"}"#,
        ))
        .expect("a verb failure is a response");
        assert_eq!(
            error.response,
            Some(call_response::Response::Error(call_response::Error {
                message: "insufficient funds".to_string(),
                stack: None
            }))
        );
    }

    #[test]
    fn grpc_messages_are_percent_encoded() {
        assert_eq!(percent_encode("a b"), "a b");
        assert_eq!(percent_encode("100%"), "100%25");
        assert_eq!(percent_encode("é\n"), "%C3%A9%0A");
    }
}
