//! The network boundary for clients: gRPC channels (plaintext or TLS,
//! custom CA, verification off on request), the server-reflection client, a
//! codec that moves `prost_reflect::DynamicMessage`s over tonic, unary gRPC
//! calls with JSON transcoding, and the pooled HTTP client the ingress uses
//! for runners and other realms.
//!
//! Everything that opens a connection goes through here. Errors are
//! classified ([`NetError`]) so that callers can say what went wrong in the
//! user's terms: nothing listens, not a gRPC server, TLS refused, too slow.

pub mod ask;
pub mod channel;
pub mod codec;
pub mod grpc;
pub(crate) mod h1;
pub mod http;
pub mod reflection;
pub mod tls;

use std::time::Duration;

/// What went wrong talking to a gRPC endpoint.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    #[error("TLS with {endpoint} failed: {reason}")]
    Tls { endpoint: String, reason: String },
    #[error("{endpoint} is not a gRPC server: {reason}")]
    NotGrpc { endpoint: String, reason: String },
    #[error("no answer from {endpoint} within {}", crate::duration::format(*.timeout))]
    Timeout { endpoint: String, timeout: Duration },
    #[error("{endpoint} refused the request: {}: {message}", code_name(*.code))]
    Status {
        endpoint: String,
        code: tonic::Code,
        message: String,
    },
}

impl NetError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            NetError::InvalidEndpoint { .. } => {
                "write the endpoint as http://host:port (plaintext) or https://host:port (TLS)".into()
            }
            NetError::Connect { .. } => "check the address and that the server is running".into(),
            NetError::Tls { .. } => {
                "pass the server's CA certificate with --cacert, or skip verification with --insecure".into()
            }
            NetError::NotGrpc { .. } => {
                "check the port: it must serve gRPC over HTTP/2 (http:// for plaintext, https:// for TLS)".into()
            }
            NetError::Timeout { .. } => "raise --timeout, or check that the server is healthy".into(),
            NetError::Status { code, .. } => match code {
                tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                    "pass credentials with -H 'authorization: Bearer $TOKEN'".into()
                }
                _ => return None,
            },
        })
    }
}

/// The canonical name of a gRPC status code, e.g. `UNAUTHENTICATED`.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Classifies a tonic status from a server into a [`NetError`]: statuses
/// that mean "this is not a gRPC server" or "the transport failed" become
/// those, the rest stay statuses.
pub fn status_error(endpoint: &str, status: tonic::Status) -> NetError {
    let message = status.message().to_string();
    // tonic reports an HTTP answer without grpc-status as Unknown/Internal
    // with the HTTP status in the message.
    if matches!(
        status.code(),
        tonic::Code::Unknown | tonic::Code::Internal | tonic::Code::Unimplemented
    ) && (message.contains("HTTP status code") || message.contains("grpc-status header missing"))
    {
        return NetError::NotGrpc {
            endpoint: endpoint.to_string(),
            reason: message,
        };
    }
    if status.code() == tonic::Code::Internal && message.contains("h2 protocol error") {
        return NetError::NotGrpc {
            endpoint: endpoint.to_string(),
            reason: "it does not speak HTTP/2".into(),
        };
    }
    if matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown
    ) && let Some(source) = std::error::Error::source(&status)
    {
        return channel::classify(endpoint, source);
    }
    NetError::Status {
        endpoint: endpoint.to_string(),
        code: status.code(),
        message,
    }
}
