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

use super::budget::{self, Share};
use super::hops::VIA;
use super::reply::{JSON, Refusal, Reply};
use super::upstream::{Unavailable, Upstream};
use super::{Ingress, auth, unix_now};
use crate::net::grpc::{self, CallError, GrpcUpstream, JsonStyle};
use crate::net::http::UpstreamError;
use crate::schema::{MetadataKind, Type, Verb};

/// How one attempt at an upstream ended.
pub(super) enum Attempt<T> {
    /// The upstream answered: it is up, whatever it said.
    Answered(Result<T, Refusal>),
    /// Another realm's ingress answered that it did not make the call
    /// (busy, backing off, a fake's injected failure: [`not_made`]). It is
    /// up, so it does not back off; a `+retry` verb may try again, and
    /// after the last attempt its answer is relayed as it came.
    Declined {
        answer: Result<T, Refusal>,
        /// Its `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// The call failed in transport; `not_sent` when it surely did not
    /// reach the upstream (then a `+retry` verb may try again).
    Failed {
        status: StatusCode,
        /// Whom it failed to reach, e.g. "the runner of module `m` at URL".
        target: String,
        reason: String,
        not_sent: bool,
    },
}

/// Whom a call is forwarded to, as messages name it: made into text only
/// when a message is written, not for every call.
#[derive(Clone, Copy, Debug)]
pub(super) enum Target<'a> {
    /// The runner of a module of this realm.
    Runner(&'a str),
    /// Another realm, through its ingress or through a hub.
    Realm {
        realm: &'a str,
        hub: Option<&'a str>,
    },
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Runner(module) => write!(f, "the runner of module `{module}`"),
            Target::Realm {
                realm,
                hub: Some(hub),
            } => write!(f, "realm `{realm}` through the hub `{hub}`"),
            Target::Realm { realm, hub: None } => write!(f, "realm `{realm}`"),
        }
    }
}

/// How a call to another realm is signed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Signing<'a> {
    /// Not signed (runners; no key for the realm).
    None,
    /// With the key shared with the realm (HMAC, `x-realm-signature`).
    Hmac(&'a [u8]),
    /// With this realm's Ed25519 key (RFC 9421), passing on the signature
    /// of the realm the call came from when this realm relays it.
    Ed25519(&'a auth::Signer, Option<&'a auth::Relayed>),
}

/// A call on its way out, as every forwarder takes it: where it goes,
/// what it is, and what goes with it.
pub(super) struct Outbound<'a> {
    /// The upstream whose slots, timeout and health the call takes.
    pub upstream: &'a Upstream,
    /// Whom it goes to, as messages name it.
    pub what: Target<'a>,
    /// The called module and verb, in the called realm's schema.
    pub module: &'a str,
    pub verb: &'a Verb,
    pub request_id: &'a str,
    /// The headers that go with it.
    pub headers: HeaderMap,
    /// The body as it came, was checked (and is signed).
    pub body: Bytes,
    /// The body as JSON (`None`: empty), for upstreams that transcode it.
    pub value: Option<serde_json::Value>,
    /// How replies of gRPC verbs are written (`x-realm-json`).
    pub style: JsonStyle,
}

impl Ingress {
    /// The one forwarding path of HTTP and gRPC upstreams: waits for a slot
    /// (or refuses when the upstream is full or backing off), makes `once`
    /// attempts within `[ingress] upstream-timeout`, retries failures
    /// before sending for `+retry` verbs (their policy is read only then,
    /// off the hot path), and records the upstream's health.
    pub(super) async fn forward<T, F, Fut>(
        &self,
        upstream: &Upstream,
        verb: &Verb,
        what: Target<'_>,
        mut once: F,
    ) -> Result<T, Refusal>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let timeout = self.config.limits.upstream_timeout;
        let started = Instant::now();
        let deadline = started.checked_add(timeout).unwrap_or(started);
        let mut attempt = 0u32;
        loop {
            let permit = upstream
                .acquire(Instant::now(), attempt > 0)
                .map_err(|u| unavailable(u, what))?;
            let left = deadline.saturating_duration_since(Instant::now());
            let (status, target, reason, not_sent) = match tokio::time::timeout(left, once()).await
            {
                Err(_) => {
                    let wait = upstream.failed(permit, "no answer in time", Instant::now());
                    return Err(timed_out(what, timeout).retry_after(wait));
                }
                Ok(Attempt::Answered(answer)) => {
                    upstream.succeeded(permit);
                    return answer;
                }
                Ok(Attempt::Declined {
                    answer,
                    retry_after,
                }) => {
                    upstream.succeeded(permit);
                    // Not sooner than the other realm asked.
                    let asked = Duration::from_secs(retry_after.unwrap_or(0));
                    match self.retry_wait(verb, attempt, deadline, asked) {
                        Some(pause) => {
                            tracing::debug!(
                                "retrying {what} in {pause:?}: it did not make the call"
                            );
                            tokio::time::sleep(pause).await;
                            attempt += 1;
                            continue;
                        }
                        None => return answer,
                    }
                }
                Ok(Attempt::Failed {
                    status,
                    target,
                    reason,
                    not_sent,
                }) => (status, target, reason, not_sent),
            };
            let wait = upstream.failed(permit, &reason, Instant::now());
            if not_sent
                && let Some(pause) = self.retry_wait(verb, attempt, deadline, Duration::ZERO)
            {
                tracing::debug!("retrying {what} in {pause:?}: {reason}");
                tokio::time::sleep(pause).await;
                attempt += 1;
                continue;
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
            let mut refusal = Refusal::new(
                status,
                "upstream_unreachable",
                format!("cannot reach {target}{tries}: {reason}"),
            )
            .retry_after(wait);
            refusal.not_made = not_sent;
            return Err(refusal);
        }
    }

    /// How long to wait before attempt `attempt + 1` of a call that was
    /// not made: the verb's backoff, or `at_least` when longer (the other
    /// realm's `Retry-After`); `None` when `verb` has no `+retry`, its
    /// attempts are spent or the wait would pass the call's deadline.
    fn retry_wait(
        &self,
        verb: &Verb,
        attempt: u32,
        deadline: Instant,
        at_least: Duration,
    ) -> Option<Duration> {
        let policy = RetryPolicy::of(verb)?;
        if attempt + 1 >= policy.attempts {
            return None;
        }
        let pause = policy.backoff(attempt).max(at_least);
        Instant::now()
            .checked_add(pause)
            .is_some_and(|at| at < deadline)
            .then_some(pause)
    }

    /// Sends a call to an HTTP upstream (a runner, another realm's ingress
    /// or the hub) at `url`, signed as `signing` says (anew for every
    /// attempt: each has its own time and nonce).
    pub(super) async fn send(
        &self,
        out: Outbound<'_>,
        url: &str,
        signing: Signing<'_>,
    ) -> Result<Reply, Refusal> {
        let Outbound {
            upstream,
            what,
            verb,
            headers,
            body,
            ..
        } = out;
        let uri: http::Uri = url.parse().map_err(|e| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "bad_upstream",
                format!("{url}: {e}"),
            )
        })?;
        // Only the first realm's ingress tries again a call another realm
        // did not make: a hub relays the last answer as it came, so
        // retries are not multiplied along the way.
        let first_hop = matches!(what, Target::Realm { .. })
            && headers
                .get(VIA)
                .is_none_or(|v| !v.as_bytes().contains(&b','));
        let headers = ForAttempts::new(headers, verb);
        let (uri, headers, body) = (&uri, &headers, &body);
        self.forward(upstream, verb, what, || async move {
            let mut headers = match headers.next(what) {
                Ok(headers) => headers,
                Err(refusal) => return Attempt::Answered(Err(refusal)),
            };
            match signing {
                Signing::None => {}
                Signing::Hmac(key) => {
                    let path = uri.path_and_query().map_or("/", |p| p.as_str());
                    let via = headers.get(VIA).and_then(|v| v.to_str().ok()).unwrap_or("");
                    let request = auth::Request {
                        method: "POST",
                        path,
                        via,
                        body,
                    };
                    let value = auth::sign(key, &self.realm, &request, unix_now());
                    headers.insert(auth::SIGNATURE, value);
                }
                Signing::Ed25519(signer, relayed) => {
                    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
                    let lifetime =
                        i64::try_from(self.config.security.replay_window.as_secs()).unwrap_or(60);
                    let nonce = auth::new_nonce_hex();
                    let stamp = auth::Stamp {
                        now,
                        lifetime,
                        nonce: &nonce,
                    };
                    let target = auth::target_uri(uri);
                    let signed = signer.sign(&mut headers, &target, body, &stamp, relayed);
                    if let Err(e) = signed {
                        return Attempt::Answered(Err(Refusal::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "cannot_sign",
                            format!("cannot sign the call to {what}: {e}"),
                        )));
                    }
                }
            }
            // The reply takes its share of `max-buffered` as it arrives.
            let mut share = Share::default();
            let mut room = |bytes: u64| self.budget.grow(&mut share, bytes).is_ok();
            let sent = self
                .http
                .post_json_within(uri, headers, body.clone(), &mut room)
                .await;
            match sent {
                Ok(mut answer) => {
                    let declined = first_hop && not_made(&answer);
                    let retry_after = answer.retry_after;
                    answer.body = budget::hold(answer.body, share);
                    let reply = relay_reply(answer, what);
                    if declined {
                        Attempt::Declined {
                            answer: reply,
                            retry_after,
                        }
                    } else {
                        Attempt::Answered(reply)
                    }
                }
                // The upstream answered: it is up; only this call fails.
                Err(UpstreamError::TooLarge { .. }) => Attempt::Answered(Err(Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_too_large",
                    format!(
                        "{what} answered more than {} MiB, the most this ingress reads from an upstream; the call ran, its reply was dropped",
                        crate::net::http::MAX_REPLY >> 20
                    ),
                ))),
                Err(UpstreamError::NoRoom { bytes, .. }) => {
                    Attempt::Answered(Err(self.reply_busy(what, bytes)))
                }
                Err(e) => Attempt::Failed {
                    status: StatusCode::BAD_GATEWAY,
                    target: what.to_string(),
                    not_sent: e.not_sent(),
                    reason: e.to_string(),
                },
            }
        })
        .await
    }

    /// Calls a gRPC runner (`upstream`, at `url`): the JSON body
    /// transcoded to `method`'s request, the reply back to JSON in the
    /// caller's style.
    pub(super) async fn call_grpc(
        &self,
        out: Outbound<'_>,
        upstream: &GrpcUpstream,
        url: &str,
        method: &MethodDescriptor,
    ) -> Result<Reply, Refusal> {
        let Outbound {
            upstream: health,
            what,
            module,
            verb,
            headers,
            value,
            style,
            ..
        } = out;
        let json = value.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let request = grpc::json_to_message(method, &json).map_err(|(path, message)| Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            message,
            path: Some(path),
            retry_after: None,
            not_made: false,
        })?;
        // The headers go on as gRPC metadata, every value kept.
        let metadata = tonic::metadata::MetadataMap::from_headers(headers);
        let max_reply =
            usize::try_from(self.config.limits.max_grpc_reply_size).unwrap_or(usize::MAX);
        let request = ForAttempts::new(request, verb);
        let (request, metadata) = (&request, &metadata);
        self.forward(health, verb, what, || async move {
            let message = match request.next(what) {
                Ok(message) => message,
                Err(refusal) => return Attempt::Answered(Err(refusal)),
            };
            let result = upstream
                .unary(method, message, metadata.clone(), max_reply)
                .await;
            match result {
                Ok(reply) => Attempt::Answered(if verb.response == Type::Unit {
                    Ok(Reply::json(StatusCode::OK, b"{}".to_vec()))
                } else {
                    grpc::message_to_json(&reply, style)
                        .map_err(|e| Refusal::new(StatusCode::BAD_GATEWAY, "bad_reply", e))
                        .and_then(|body| {
                            // The JSON reply is held until written: it
                            // takes its share of `max-buffered`.
                            let mut share = Share::default();
                            let len = body.len() as u64;
                            self.budget
                                .grow(&mut share, len)
                                .map_err(|_| self.reply_busy(what, len))?;
                            Ok(Reply::json(
                                StatusCode::OK,
                                budget::hold(Bytes::from(body), share),
                            ))
                        })
                }),
                // The runner answered: it is there, the reply is ours to refuse.
                Err(CallError::TooLarge { limit, detail }) => Attempt::Answered(Err(Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_too_large",
                    format!(
                        "{module}.{} answered more than {limit} bytes, the most this ingress reads from a gRPC runner (`[ingress] max-grpc-reply-size`, default `max-body-size`): {detail}",
                        verb.name
                    ),
                ))),
                Err(CallError::Status(status)) if status.code() == tonic::Code::Unavailable => {
                    Attempt::Failed {
                        status: grpc::http_status(status.code()),
                        target: format!("{what} at {url}"),
                        not_sent: grpc::not_sent(&status),
                        reason: status.message().to_string(),
                    }
                }
                Err(CallError::Status(status)) => Attempt::Answered(Err(Refusal::new(
                    grpc::http_status(status.code()),
                    "upstream_status",
                    format!(
                        "{module}.{} failed: {}: {}",
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

impl Ingress {
    /// The refusal of a reply that does not fit in `max-buffered`.
    pub(super) fn reply_busy(&self, what: Target<'_>, bytes: u64) -> Refusal {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "reply_busy",
            format!(
                "{what} answered, but its reply ({bytes} bytes so far) does not fit: the ingress holds {} bytes of request and reply bodies at most (`[ingress] max-buffered`) and is full; the call ran, its reply was dropped",
                self.budget.total()
            ),
        )
        .retry_after(Duration::from_secs(1))
    }
}

/// What each attempt of a call sends: the first attempt takes it as it is;
/// only a verb that may be retried (`+retry`) gives each attempt a copy.
pub(super) struct ForAttempts<T> {
    value: std::sync::Mutex<Option<T>>,
    copies: bool,
}

impl<T: Clone> ForAttempts<T> {
    pub(super) fn new(value: T, verb: &Verb) -> ForAttempts<T> {
        ForAttempts {
            value: std::sync::Mutex::new(Some(value)),
            copies: RetryPolicy::retries(verb),
        }
    }

    /// The value for the next attempt at `what`.
    pub(super) fn next(&self, what: impl std::fmt::Display) -> Result<T, Refusal> {
        let mut value = self.value.lock().unwrap_or_else(|e| e.into_inner());
        let next = if self.copies {
            value.clone()
        } else {
            value.take()
        };
        // `forward` tries again only verbs with `+retry`.
        next.ok_or_else(|| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("a call to {what} was attempted twice without `+retry`"),
            )
        })
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

/// A verb's `+retry` policy as attempts in all, first and longest wait;
/// `None` without `+retry` (queued delivery takes it, `queued.rs`).
pub(super) fn retry_policy(verb: &Verb) -> Option<(u32, Duration, Duration)> {
    RetryPolicy::of(verb).map(|p| (p.attempts, p.min, p.max))
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

    /// Whether calls of `verb` may be tried more than once; cheaper than
    /// reading the policy, for every call.
    fn retries(verb: &Verb) -> bool {
        verb.metadata.iter().any(
            |m| matches!(&m.kind, MetadataKind::Retry { count, .. } if count.is_none_or(|n| n > 0)),
        )
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
/// Whether another realm's ingress answered that it did not make the call:
/// a 503 of its own marked `x-realm-not-made` ([`super::reply::NOT_MADE`]).
/// The header, not the body: an ingress relays its runners' JSON bodies as
/// they came, but never their headers.
fn not_made(answer: &crate::net::http::Answer) -> bool {
    answer.not_made && answer.status == StatusCode::SERVICE_UNAVAILABLE
}

fn relay_reply(reply: crate::net::http::Answer, what: Target<'_>) -> Result<Reply, Refusal> {
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
            not_made: false,
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

fn unavailable(u: Unavailable, what: Target<'_>) -> Refusal {
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

fn timed_out(what: Target<'_>, timeout: Duration) -> Refusal {
    Refusal::new(
        StatusCode::GATEWAY_TIMEOUT,
        "upstream_timeout",
        format!(
            "{what} did not answer within {} (`[ingress] upstream-timeout`)",
            crate::duration::format(timeout)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Decl;

    fn verbs(text: &str) -> Vec<Verb> {
        let schema = crate::schema::parser::parse_schema("t.schema", text).expect("schema");
        schema
            .realms
            .iter()
            .flat_map(|r| r.modules.iter())
            .flat_map(|m| m.decls.iter())
            .filter_map(|d| match d {
                Decl::Verb(v) => Some(v.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn only_verbs_that_may_be_retried_copy_what_they_send() {
        let verbs = verbs(
            "realm r {\n  module m {\n    verb plain(Unit) Unit\n    verb again(Unit) Unit\n      +retry 2 10ms\n    verb never(Unit) Unit\n      +retry 0 10ms\n  }\n}\n",
        );
        let [plain, again, never] = &verbs[..] else {
            panic!("three verbs: {verbs:?}");
        };
        for (verb, copies) in [(plain, false), (again, true), (never, false)] {
            assert_eq!(RetryPolicy::retries(verb), copies, "{}", verb.name);
            // `retries` says what the policy says.
            assert_eq!(
                RetryPolicy::of(verb).is_some_and(|p| p.attempts > 1),
                copies,
                "{}",
                verb.name
            );
            let attempts = ForAttempts::new(vec![1u8], verb);
            assert_eq!(attempts.next("m.verb").ok(), Some(vec![1u8]));
            let second = attempts.next("m.verb");
            if copies {
                assert_eq!(second.ok(), Some(vec![1u8]));
            } else {
                assert_eq!(second.err().map(|r| r.code), Some("internal"));
            }
        }
    }
}
