//! Forwarding a call into an FTL cluster: the local module's verb called
//! through the cluster's `xyz.block.ftl.v1.VerbService/Call` (gRPC, h2c or
//! TLS), on the one forwarding path ([`Ingress::forward`]: slots, timeout,
//! `+retry`, health).
//!
//! What comes back: `CallResponse.body` is the reply; `CallResponse.error`
//! is the verb's own failure, answered 500 with the message in the JSON
//! error body (code `verb_failed`) — the upstream is healthy; a gRPC status
//! is the matching refusal, `UNAVAILABLE` a transport failure.

use std::sync::OnceLock;

use http::StatusCode;
use prost_reflect::{DynamicMessage, MethodDescriptor};

use super::Ingress;
use super::budget::{self, Share};
use super::forward::{Attempt, ForAttempts, Outbound};
use super::reply::{Refusal, Reply};
use crate::net::grpc::{self, CallError, GrpcUpstream};
use crate::schema::Verb;
use crate::schema::pb::schema::Ref;
use crate::schema::pb::verb::{CallRequest, CallResponse, call_response};

/// `xyz.block.ftl.v1.VerbService.Call`, from the embedded descriptors.
fn call_method() -> Option<&'static MethodDescriptor> {
    static METHOD: OnceLock<Option<MethodDescriptor>> = OnceLock::new();
    METHOD
        .get_or_init(|| {
            crate::schema::txtpb::descriptor_pool()
                .get_service_by_name("xyz.block.ftl.v1.VerbService")?
                .methods()
                .find(|m| m.name() == "Call")
        })
        .as_ref()
}

impl Ingress {
    /// Calls the verb of `out` through the verb service of an FTL cluster
    /// (`upstream`, at `url`).
    pub(super) async fn call_ftl(
        &self,
        out: Outbound<'_>,
        upstream: &GrpcUpstream,
        url: &str,
    ) -> Result<Reply, Refusal> {
        let Outbound {
            upstream: health,
            what,
            module,
            verb,
            request_id,
            headers,
            body,
            ..
        } = out;
        let internal =
            |message: String| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message);
        let method = call_method()
            .ok_or_else(|| internal("the descriptors of FTL's VerbService are missing".into()))?;
        let request = CallRequest {
            metadata: None,
            verb: Some(Ref {
                module: module.to_string(),
                name: verb.name.clone(),
                ..Default::default()
            }),
            body: body.to_vec(),
        };
        let mut message = DynamicMessage::new(method.input());
        message
            .transcode_from(&request)
            .map_err(|e| internal(format!("CallRequest: {e}")))?;
        // The headers go on as gRPC metadata, every value kept.
        let metadata = tonic::metadata::MetadataMap::from_headers(headers);
        let max_reply =
            usize::try_from(self.config.limits.max_grpc_reply_size).unwrap_or(usize::MAX);
        let request = ForAttempts::new(message, verb);
        let (request, metadata) = (&request, &metadata);
        let realm = &self.realm;
        self.forward(health, verb, what, || async move {
            let message = match request.next(what) {
                Ok(message) => message,
                Err(refusal) => return Attempt::Answered(Err(refusal)),
            };
            let result = upstream
                .unary(method, message, metadata.clone(), max_reply)
                .await;
            match result {
                Ok(reply) => Attempt::Answered(
                    answer(&reply, realm, request_id, module, verb).and_then(|reply| {
                        // The reply takes its share of `max-buffered` until
                        // it is written, as every upstream's does.
                        let len = reply.body.len() as u64;
                        let mut share = Share::default();
                        self.budget
                            .grow(&mut share, len)
                            .map_err(|_| self.reply_busy(what, len))?;
                        Ok(Reply {
                            body: budget::hold(reply.body, share),
                            ..reply
                        })
                    }),
                ),
                Err(CallError::TooLarge { limit, detail }) => Attempt::Answered(Err(Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_too_large",
                    format!(
                        "{module}.{} answered more than {limit} bytes through FTL's verb service (`[ingress] max-grpc-reply-size`): {detail}",
                        verb.name
                    ),
                ))),
                Err(CallError::Status(status)) if status.code() == tonic::Code::Unavailable => {
                    Attempt::Failed {
                        status: grpc::http_status(status.code()),
                        target: format!("{what} at the FTL cluster {url}"),
                        not_sent: grpc::not_sent(&status),
                        reason: status.message().to_string(),
                    }
                }
                Err(CallError::Status(status)) => Attempt::Answered(Err(Refusal::new(
                    grpc::http_status(status.code()),
                    "upstream_status",
                    format!(
                        "the FTL cluster refused {module}.{}: {}: {}",
                        verb.name,
                        crate::net::code_name(status.code()),
                        status.message()
                    ),
                ))),
            }
        })
        .await
    }
}

/// The reply of a `CallResponse`: its body, or the verb's failure as a 500
/// with the JSON error body.
fn answer(
    reply: &DynamicMessage,
    realm: &str,
    request_id: &str,
    module: &str,
    verb: &Verb,
) -> Result<Reply, Refusal> {
    let bad = |e: String| {
        Refusal::new(
            StatusCode::BAD_GATEWAY,
            "bad_reply",
            format!(
                "{module}.{}: the FTL cluster's reply is not a CallResponse: {e}",
                verb.name
            ),
        )
    };
    let response: CallResponse = reply.transcode_to().map_err(|e| bad(e.to_string()))?;
    match response.response {
        Some(call_response::Response::Body(body)) => Ok(Reply::json(StatusCode::OK, body)),
        Some(call_response::Response::Error(error)) => {
            let failure = Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "verb_failed",
                error.message,
            );
            // The verb failed; the call itself went well: a reply, not a
            // refusal of the ingress.
            Ok(failure.reply(realm, request_id))
        }
        None => Err(bad("it holds neither a body nor an error".to_string())),
    }
}
