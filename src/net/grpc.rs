//! Unary gRPC calls to runners of imported realms: JSON in, JSON out,
//! transcoded with prost-reflect and carried by tonic with
//! [`DynamicCodec`](super::codec::DynamicCodec).

use prost_reflect::{DeserializeOptions, DynamicMessage, MethodDescriptor, SerializeOptions};
use tonic::transport::{Channel, Endpoint};

use super::codec::DynamicCodec;

/// A lazily connected channel to one gRPC runner.
#[derive(Clone, Debug)]
pub struct GrpcUpstream {
    channel: Channel,
}

impl GrpcUpstream {
    /// `url` is `http://host:port` (h2c) or `https://host:port`.
    pub fn new(url: &str) -> Result<GrpcUpstream, String> {
        let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| e.to_string())?;
        let endpoint = if url.starts_with("https://") {
            endpoint
                .tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
                .map_err(|e| e.to_string())?
        } else {
            endpoint
        };
        Ok(GrpcUpstream {
            channel: endpoint.tcp_nodelay(true).connect_lazy(),
        })
    }

    /// Calls `method` with `request` and the given metadata, reading a
    /// reply of at most `max_reply` bytes.
    pub async fn unary(
        &self,
        method: &MethodDescriptor,
        request: DynamicMessage,
        metadata: tonic::metadata::MetadataMap,
        max_reply: usize,
    ) -> Result<DynamicMessage, CallError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(max_reply)
            .max_encoding_message_size(usize::MAX);
        grpc.ready().await.map_err(|e| {
            CallError::Status(tonic::Status::unavailable(format!(
                "the runner is unreachable: {e}"
            )))
        })?;
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let path = http::uri::PathAndQuery::try_from(path).map_err(|e| {
            CallError::Status(tonic::Status::internal(format!("invalid method path: {e}")))
        })?;
        let mut request = tonic::Request::new(request);
        *request.metadata_mut() = metadata;
        grpc.unary(request, path, DynamicCodec::new(method.output()))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| {
                // tonic's own refusal of a long reply: not the server's word.
                if status.code() == tonic::Code::OutOfRange
                    && status
                        .message()
                        .starts_with("Error, decoded message length too large")
                {
                    CallError::TooLarge {
                        limit: max_reply,
                        detail: status.message().to_string(),
                    }
                } else {
                    CallError::Status(status)
                }
            })
    }
}

/// Why a unary call has no reply.
#[derive(Debug)]
pub enum CallError {
    /// The server (or the transport) answered with a status.
    Status(tonic::Status),
    /// The reply is longer than the limit this client reads.
    TooLarge { limit: usize, detail: String },
}

/// How replies are written as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStyle {
    /// FTL's encoding, as the imported schema describes the reply: JSON
    /// names, 64-bit integers as numbers, every field present.
    Ftl,
    /// proto3 JSON as protojson prints it: 64-bit integers as strings,
    /// fields at their default left out, enums by name, well-known types in
    /// their JSON forms (`x-realm-json: proto3`).
    Proto3,
}

/// JSON (already checked against the verb's request type, which applies
/// proto3 JSON's rules) → the method's request message. A value the check
/// let through and prost-reflect refuses is answered with its JSON path.
pub fn json_to_message(
    method: &MethodDescriptor,
    json: &serde_json::Value,
) -> Result<DynamicMessage, (String, String)> {
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(json, &mut track);
    DynamicMessage::deserialize_with_options(method.input(), deserializer, &options).map_err(|e| {
        let path = json_path(&track.path());
        let message = format!(
            "{path}: cannot read this as protobuf {}: {e}",
            method.input().full_name(),
        );
        (path, message)
    })
}

/// serde_path_to_error's path as the checker writes paths: `$.a[2].b`.
fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::from("$");
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => crate::schema::json::push_member(&mut out, key),
            Segment::Enum { variant } => crate::schema::json::push_member(&mut out, variant),
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// A reply message → JSON in `style`.
pub fn message_to_json(message: &DynamicMessage, style: JsonStyle) -> Result<Vec<u8>, String> {
    let options = match style {
        JsonStyle::Ftl => SerializeOptions::new()
            .stringify_64_bit_integers(false)
            .skip_default_fields(false),
        JsonStyle::Proto3 => SerializeOptions::new(),
    };
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(&mut serializer, &options)
        .map_err(|e| format!("cannot encode the reply as JSON: {e}"))?;
    Ok(out)
}

/// The HTTP status for a gRPC status code (as gRPC-HTTP gateways map them).
pub fn http_status(code: tonic::Code) -> http::StatusCode {
    use http::StatusCode as S;
    use tonic::Code::*;
    match code {
        Ok => S::OK,
        Cancelled => S::from_u16(499).unwrap_or(S::BAD_REQUEST),
        Unknown | Internal | DataLoss => S::INTERNAL_SERVER_ERROR,
        InvalidArgument | FailedPrecondition | OutOfRange => S::BAD_REQUEST,
        DeadlineExceeded => S::GATEWAY_TIMEOUT,
        NotFound => S::NOT_FOUND,
        AlreadyExists | Aborted => S::CONFLICT,
        PermissionDenied => S::FORBIDDEN,
        ResourceExhausted => S::TOO_MANY_REQUESTS,
        Unimplemented => S::NOT_IMPLEMENTED,
        Unavailable => S::SERVICE_UNAVAILABLE,
        Unauthenticated => S::UNAUTHORIZED,
    }
}
