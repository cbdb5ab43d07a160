//! Forwarding a call to its upstream: a runner over HTTP or gRPC, another
//! realm's ingress, or the hub. Takes a slot of the upstream (or refuses
//! when it is full or backing off), signs calls to other realms, bounds
//! each call by `[ingress] upstream-timeout`, retries connection failures
//! of `+retry` verbs, records the upstream's health and turns failures
//! into refusals.
//!
//! Never decides where a call goes or who may make it (`route`,
//! `authorize`); never reads configuration files.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use prost_reflect::MethodDescriptor;

use super::hops::VIA;
use super::reply::{JSON, Refusal, Reply};
use super::upstream::{Unavailable, Upstream};
use super::{Ingress, auth, unix_now};
use crate::net::grpc::{self, CallError, GrpcUpstream, JsonStyle};
use crate::schema::{MetadataKind, Type, Verb};

impl Ingress {
    /// Sends a call to an HTTP upstream: waits for a slot (or refuses when
    /// the upstream is full or backing off), signs it with `key` when given,
    /// bounds it by the upstream timeout, retries connection failures for
    /// `+retry` verbs (their policy is read only then, off the hot path),
    /// and records the upstream's health.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send(
        &self,
        upstream: &Upstream,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
        verb: &Verb,
        key: Option<&[u8]>,
        what: &str,
    ) -> Result<Reply, Refusal> {
        let uri: http::Uri = url.parse().map_err(|e| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "bad_upstream",
                format!("{url}: {e}"),
            )
        })?;
        let timeout = self.config.limits.upstream_timeout;
        let now = Instant::now();
        let deadline = now.checked_add(timeout).unwrap_or(now);
        let mut attempt = 0u32;
        let started = now;
        loop {
            let permit = upstream
                .acquire(Instant::now(), attempt > 0)
                .map_err(|u| unavailable(u, what))?;
            let mut headers = headers.clone();
            if let Some(key) = key {
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let via = headers.get(VIA).and_then(|v| v.to_str().ok()).unwrap_or("");
                let request = auth::Request {
                    method: "POST",
                    path,
                    via,
                    body: &body,
                };
                let value = auth::sign(key, &self.realm, &request, unix_now());
                headers.insert(auth::SIGNATURE, value);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let result =
                tokio::time::timeout(left, self.http.post_json(&uri, headers, body.clone())).await;
            let reply = match result {
                Err(_) => {
                    let wait = upstream.failed(permit, "no answer in time", Instant::now());
                    return Err(timed_out(what, timeout).retry_after(wait));
                }
                Ok(Err(e)) => {
                    let wait = upstream.failed(permit, &e.to_string(), Instant::now());
                    if e.not_sent()
                        && let Some(policy) = RetryPolicy::of(verb)
                        && attempt + 1 < policy.attempts
                    {
                        let pause = policy.backoff(attempt);
                        if Instant::now()
                            .checked_add(pause)
                            .is_some_and(|at| at < deadline)
                        {
                            tracing::debug!("retrying {what} in {pause:?}: {e}");
                            tokio::time::sleep(pause).await;
                            attempt += 1;
                            continue;
                        }
                    }
                    // After retries, say how many and how long they took.
                    let tries = if attempt > 0 {
                        format!(
                            " after {} attempts over {} (`+retry`)",
                            attempt + 1,
                            crate::duration::format(Duration::from_millis(
                                started.elapsed().as_millis() as u64
                            ))
                        )
                    } else {
                        String::new()
                    };
                    return Err(Refusal::new(
                        StatusCode::BAD_GATEWAY,
                        "upstream_unreachable",
                        format!("cannot reach {what}{tries}: {e}"),
                    )
                    .retry_after(wait));
                }
                Ok(Ok(reply)) => {
                    upstream.succeeded(permit);
                    reply
                }
            };
            return relay_reply(reply, what);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn call_grpc(
        &self,
        health: &Upstream,
        upstream: &GrpcUpstream,
        url: &str,
        method: &MethodDescriptor,
        body: Option<serde_json::Value>,
        headers: HeaderMap,
        module: &str,
        verb: &Verb,
        style: JsonStyle,
    ) -> Result<Reply, Refusal> {
        let json = body.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let request = grpc::json_to_message(method, &json).map_err(|(path, message)| Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            message,
            path: Some(path),
            retry_after: None,
        })?;
        let mut metadata = tonic::metadata::MetadataMap::new();
        for (name, value) in &headers {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                metadata.insert(key, value);
            }
        }
        let what = format!("the runner of module `{module}`");
        let permit = health
            .acquire(Instant::now(), false)
            .map_err(|u| unavailable(u, &what))?;
        let timeout = self.config.limits.upstream_timeout;
        let max_reply =
            usize::try_from(self.config.limits.max_grpc_reply_size).unwrap_or(usize::MAX);
        let result = tokio::time::timeout(
            timeout,
            upstream.unary(method, request, metadata, max_reply),
        )
        .await;
        let result = match result {
            Err(_) => {
                let wait = health.failed(permit, "no answer in time", Instant::now());
                return Err(timed_out(&what, timeout).retry_after(wait));
            }
            Ok(result) => result,
        };
        match result {
            Ok(reply) => {
                health.succeeded(permit);
                let body = if verb.response == Type::Unit {
                    b"{}".to_vec()
                } else {
                    grpc::message_to_json(&reply, style)
                        .map_err(|e| Refusal::new(StatusCode::BAD_GATEWAY, "bad_reply", e))?
                };
                Ok(Reply::json(StatusCode::OK, body))
            }
            Err(CallError::TooLarge { limit, detail }) => {
                // The runner answered: it is there, the reply is ours to refuse.
                health.succeeded(permit);
                Err(Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_too_large",
                    format!(
                        "{module}.{} answered more than {limit} bytes, the most this ingress reads from a gRPC runner (`[ingress] max-grpc-reply-size`, default `max-body-size`): {detail}",
                        verb.name
                    ),
                ))
            }
            Err(CallError::Status(status)) => {
                let name = crate::net::code_name(status.code());
                let unreachable = status.code() == tonic::Code::Unavailable;
                if unreachable {
                    let wait = health.failed(permit, status.message(), Instant::now());
                    return Err(Refusal::new(
                        grpc::http_status(status.code()),
                        "upstream_unreachable",
                        format!("cannot reach {what} at {url}: {}", status.message()),
                    )
                    .retry_after(wait));
                }
                health.succeeded(permit);
                Err(Refusal::new(
                    grpc::http_status(status.code()),
                    "upstream_status",
                    format!(
                        "{module}.{} failed: {name}: {}",
                        verb.name,
                        status.message()
                    ),
                ))
            }
        }
    }
}

/// How a `+retry` verb's calls are retried when the connection fails
/// before the request is sent.
#[derive(Clone, Copy, Debug)]
struct RetryPolicy {
    /// Attempts in all, the first included.
    attempts: u32,
    min: Duration,
    max: Duration,
}

impl RetryPolicy {
    /// The policy of `+retry [count] min [max]`: count (default 3) retries
    /// after the first attempt, waiting min, doubling up to max (default
    /// 10 × min). `None` for verbs without `+retry`.
    fn of(verb: &Verb) -> Option<RetryPolicy> {
        verb.metadata.iter().find_map(|m| match &m.kind {
            MetadataKind::Retry {
                count,
                min_backoff,
                max_backoff,
                ..
            } => {
                // The schema's durations may be anything it parses; a
                // retry waits between 10 ms and a minute.
                let clamp =
                    |d: Duration| d.clamp(Duration::from_millis(10), Duration::from_secs(60));
                let min =
                    clamp(crate::duration::parse(min_backoff).unwrap_or(Duration::from_secs(1)));
                let max = clamp(
                    max_backoff
                        .as_deref()
                        .and_then(|m| crate::duration::parse(m).ok())
                        .unwrap_or_else(|| min.saturating_mul(10)),
                )
                .max(min);
                let retries = count.unwrap_or(3).clamp(0, 100) as u32;
                Some(RetryPolicy {
                    attempts: retries + 1,
                    min,
                    max,
                })
            }
            _ => None,
        })
    }

    /// The wait before retry number `attempt + 1`.
    fn backoff(&self, attempt: u32) -> Duration {
        self.min
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max)
    }
}

/// An upstream's answer as the caller gets it: successes and JSON answers
/// pass through; other failures are wrapped in a JSON error.
fn relay_reply(reply: crate::net::http::Answer, what: &str) -> Result<Reply, Refusal> {
    let is_json = reply
        .content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(JSON));
    if reply.status.is_success() || is_json {
        return Ok(Reply {
            status: reply.status,
            content_type: reply
                .content_type
                .unwrap_or_else(|| HeaderValue::from_static(JSON)),
            body: reply.body,
            retry_after: reply.retry_after,
        });
    }
    let text = String::from_utf8_lossy(&reply.body);
    let text = text.trim();
    Err(Refusal::new(
        reply.status,
        "upstream_error",
        format!(
            "{what} answered {}{}",
            reply.status,
            if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            }
        ),
    ))
}

fn unavailable(u: Unavailable, what: &str) -> Refusal {
    match u {
        Unavailable::BackingOff { retry_after } => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_backoff",
            format!(
                "{what} failed recently; calls to it are refused for {} more",
                crate::duration::format(Duration::from_millis(
                    retry_after.as_millis().div_ceil(100) as u64 * 100
                ))
            ),
        )
        .retry_after(retry_after),
        Unavailable::Busy { limit } => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_busy",
            format!(
                "{what} already has {limit} calls in flight (`[ingress] upstream-concurrency`)"
            ),
        )
        .retry_after(Duration::from_secs(1)),
    }
}

fn timed_out(what: &str, timeout: Duration) -> Refusal {
    Refusal::new(
        StatusCode::GATEWAY_TIMEOUT,
        "upstream_timeout",
        format!(
            "{what} did not answer within {} (`[ingress] upstream-timeout`)",
            crate::duration::format(timeout)
        ),
    )
}
