//! Unary gRPC calls to runners of imported realms: JSON in, JSON out,
//! transcoded with prost-reflect and carried by tonic with
//! [`DynamicCodec`](super::codec::DynamicCodec).

use prost_reflect::{DynamicMessage, MethodDescriptor, SerializeOptions};
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

    /// Calls `method` with `request` and the given metadata.
    pub async fn unary(
        &self,
        method: &MethodDescriptor,
        request: DynamicMessage,
        metadata: tonic::metadata::MetadataMap,
    ) -> Result<DynamicMessage, tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("the runner is unreachable: {e}")))?;
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let path = http::uri::PathAndQuery::try_from(path)
            .map_err(|e| tonic::Status::internal(format!("invalid method path: {e}")))?;
        let mut request = tonic::Request::new(request);
        *request.metadata_mut() = metadata;
        grpc.unary(request, path, DynamicCodec::new(method.output()))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// JSON (already checked against the verb's request type) → the method's
/// request message.
pub fn json_to_message(
    method: &MethodDescriptor,
    json: &serde_json::Value,
) -> Result<DynamicMessage, String> {
    DynamicMessage::deserialize(method.input(), json).map_err(|e| {
        format!(
            "cannot convert the body to {}: {e}",
            method.input().full_name()
        )
    })
}

/// A reply message → JSON as the realm's schema describes it: JSON field
/// names, 64-bit integers as numbers, every field present.
pub fn message_to_json(message: &DynamicMessage) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(
            &mut serializer,
            &SerializeOptions::new()
                .stringify_64_bit_integers(false)
                .skip_default_fields(false),
        )
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
