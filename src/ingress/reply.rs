//! What the ingress answers: [`Reply`] (status, content type, body) and
//! [`Refusal`] (why a call is refused or failed upstream, written as the
//! JSON error body `{"error": {"code", "message", "path"?, "realm",
//! "request_id"}}`), and the refusals of the hop and signature checks.
//!
//! Pure: builds values, no I/O. Never decides whether to refuse: the
//! modules that check calls do.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::auth::AuthError;
use super::hops;

/// An answer to a call: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: Bytes,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    /// This ingress did not make the call (a refusal with a code of
    /// [`NOT_MADE`]): answered with `x-realm-not-made`, so that the
    /// caller's ingress may try a `+retry` verb again.
    pub not_made: bool,
}

pub(crate) const JSON: &str = "application/json";

impl Reply {
    pub(crate) fn json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: HeaderValue::from_static(JSON),
            body: body.into(),
            retry_after: None,
            not_made: false,
        }
    }
}

/// The JSON error body of a refusal, as the ingress writes it and `realm
/// call` (or a verb service client) reads it back.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// `{"code", "message", "path"?, "realm", "request_id"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub realm: String,
    #[serde(default)]
    pub request_id: String,
}

/// The refusal code of a failure `realm fake --fail-rate` injected.
pub const INJECTED_FAILURE: &str = "fake_failure";

/// Refusal codes after which the call surely did not run: nothing was
/// forwarded. Codes that may follow a call that ran (`reply_busy`,
/// `upstream_unreachable`, `upstream_timeout`) are not here.
pub const NOT_MADE: &[&str] = &[
    "ingress_busy",
    "too_many_connections",
    "upstream_backoff",
    "upstream_busy",
    "queue_full",
    INJECTED_FAILURE,
];

/// Why a call is refused (or failed upstream), as the caller sees it.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    /// A stable, machine-readable code: `unknown_realm`, `not_exported`, ...
    pub code: &'static str,
    pub message: String,
    /// The JSON path of the offending value, for bodies that do not fit.
    pub path: Option<String>,
    /// When the caller may try again.
    pub retry_after: Option<Duration>,
    /// The call surely did not reach the upstream (it could not be
    /// connected to), whatever the code: the reply is marked as one of
    /// [`NOT_MADE`]'s codes is.
    pub not_made: bool,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            path: None,
            retry_after: None,
            not_made: false,
        }
    }

    pub(crate) fn retry_after(mut self, after: Duration) -> Refusal {
        self.retry_after = Some(after);
        self
    }

    pub(crate) fn unauthenticated(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// The JSON error body.
    pub fn reply(&self, realm: &str, request_id: &str) -> Reply {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                path: self.path.clone(),
                realm: realm.to_string(),
                request_id: request_id.to_string(),
            },
        };
        // Strings only: writing them cannot fail.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut reply = Reply::json(self.status, json);
        reply.not_made = self.not_made || NOT_MADE.contains(&self.code);
        // Whole seconds, rounded up: "in 0 s" would invite a stampede.
        reply.retry_after = self
            .retry_after
            .map(|d| d.as_millis().div_ceil(1000).max(1) as u64);
        reply
    }
}

pub(crate) fn hop_refusal(e: hops::HopError) -> Refusal {
    let status = match e {
        hops::HopError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::LOOP_DETECTED,
    };
    Refusal::new(status, e.code(), e.to_string())
}

pub(crate) fn auth_refusal(e: &AuthError) -> Refusal {
    let refusal = Refusal::new(e.status(), e.code(), e.to_string());
    match e {
        AuthError::ReplayCacheFull => refusal.retry_after(Duration::from_secs(1)),
        _ => refusal,
    }
}
