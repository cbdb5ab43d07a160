//! The network boundary for clients: gRPC channels (plaintext or TLS,
//! custom CA, verification off on request), the server-reflection client, a
//! codec that moves `prost_reflect::DynamicMessage`s over tonic, unary gRPC
//! calls with JSON transcoding, and the pooled HTTP client the ingress uses
//! for runners and other realms.
//!
//! Everything that opens a connection goes through here. Errors are
//! classified ([`NetError`]) so that callers can say what went wrong in the
//! user's terms: nothing listens, not a gRPC server, TLS refused, too slow.

pub mod channel;
pub mod codec;
pub mod grpc;
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
    #[error("no answer from {endpoint} within {}", humantime(*.timeout))]
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

/// `1.5s`, `250ms`, `2m`.
pub fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

/// Parses a duration such as `500ms`, `10s`, `2m`, `1h`, `1d` or a sum of
/// them such as `1m30s` (FTL's form); a bare number is seconds. Values
/// that overflow are errors, not panics.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration; write e.g. 500ms, 10s, 2m or 1m30s");
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || letters == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let part = match &rest[digits..digits + letters] {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            "d" => n.checked_mul(86_400).map(Duration::from_secs),
            _ => return Err(bad()),
        }
        .ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[digits + letters..];
    }
    Ok(total)
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

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "soon", "5x", "m", "1m30", "18446744073709551615h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
