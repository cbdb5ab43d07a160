//! The ingress's side of queued delivery ([`crate::queue`]): a call that
//! asks `Prefer: respond-async` (RFC 7240), or names a verb of
//! `[ingress] queued`, goes through the same stages as a direct call
//! (`admit`, `route`, `check`), then is handed to the queue — stored
//! durably — and answered `202 Accepted` with `Location: /deliveries/<id>`;
//! the delivery worker sends it later through `dispatch` (signed anew at
//! each attempt, by `forward.rs`'s `send`). A call with an
//! `Idempotency-Key` is answered from the store when its key was answered
//! before ([`crate::queue::idempotency`]).
//!
//! Never stores anything itself: the queue does.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::call::{Admission, Admitted, Passed};
use super::hops::{VIA, Via};
use super::metrics;
use super::reply::Refusal;
use super::request::trace_of;
use super::route::Route;
use super::status::{QueueDepth, QueueStatus};
use super::trace::TRACEPARENT;
use super::{
    CALLER_MODULE, Call, FTL_PARENT_REQUEST_ID, FTL_REQUEST_ID, FTL_TRANSACTION_ID, FTL_VERB,
    Ingress, JSON_STYLE, Outcome, REQUEST_ID, Reply,
};
use crate::queue::{self, Begun, Delivery, Enqueued, Queue, Remembered, Status};

/// The idempotency key of a call (draft-ietf-httpapi-idempotency-key-header).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The longest idempotency key taken.
const MAX_KEY: usize = 255;

/// The headers a queued call keeps, to send with it later.
const KEPT: [HeaderName; 8] = [
    CALLER_MODULE,
    VIA,
    JSON_STYLE,
    TRACEPARENT,
    FTL_VERB,
    FTL_PARENT_REQUEST_ID,
    FTL_TRANSACTION_ID,
    FTL_REQUEST_ID,
];

/// `Prefer: respond-async` (RFC 7240: a list of preferences, in any
/// `Prefer` header).
fn wants_async(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::HeaderName::from_static("prefer"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| {
            p.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("respond-async"))
        })
}

/// The call's idempotency key: `None` when it has none, a refusal when it
/// is not one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Refusal> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if !key.is_empty()
                && key.len() <= MAX_KEY
                && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
        {
            Ok(Some(key))
        }
        _ => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_idempotency_key",
            format!("{IDEMPOTENCY_KEY} must be 1 to {MAX_KEY} printable ASCII characters"),
        )),
    }
}

/// The queue as the ingress holds it, and the ingress itself (weakly):
/// a call with an idempotency key runs on a task of its own, so that it
/// finishes, and its reply is remembered, when its client goes away.
pub(super) struct Queued {
    queue: Arc<Queue>,
    ingress: Weak<Ingress>,
}

impl Ingress {
    /// Queues calls and remembers replies by idempotency key from now on,
    /// with `queue`; `false` when a queue is set already.
    pub fn queue_to(self: &Arc<Self>, queue: Arc<Queue>) -> bool {
        let queued = Queued {
            queue,
            ingress: Arc::downgrade(self),
        };
        self.queue.set(queued).is_ok()
    }

    /// The queue, when this ingress has one.
    pub fn queue(&self) -> Option<&Arc<Queue>> {
        self.queue.get().map(|q| &q.queue)
    }

    /// A call as `request.rs` hands it over: queued when it asks to be
    /// (or its verb always is), answered from the store when its key was,
    /// else handled at once ([`Ingress::handle_within`]).
    pub(super) async fn handle_or_queue(
        &self,
        call: &Call<'_>,
        deadline: Option<Duration>,
    ) -> Outcome {
        let Some(queued) = self.queue.get() else {
            return self.handle_within(call, deadline).await;
        };
        let key = match idempotency_key(call.headers) {
            Ok(key) => key,
            Err(refusal) => return self.refused(call, refusal, false, None),
        };
        if self.queues(
            &queued.queue,
            call.headers,
            [call.realm, call.module, call.verb],
        ) {
            return self.enqueue(&queued.queue, call, key).await;
        }
        match key {
            Some(key) => self.idempotent(queued, call, key, deadline).await,
            None => self.handle_within(call, deadline).await,
        }
    }

    /// `Location` of a reply [`Self::handle_or_queue`] gave: the
    /// delivery's, for a call it queued.
    pub(super) fn location(
        &self,
        headers: &HeaderMap,
        [realm, module, verb]: [&str; 3],
        reply: &Reply,
    ) -> Option<HeaderValue> {
        let queue = self.queue()?;
        if !self.queues(queue, headers, [realm, module, verb])
            || reply.status != StatusCode::ACCEPTED
        {
            return None;
        }
        // The body `enqueue` wrote, read back without building a JSON
        // value (a map and strings a call, on the caller's path).
        #[derive(serde::Deserialize)]
        struct Accepted<'a> {
            #[serde(borrow)]
            id: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            status: std::borrow::Cow<'a, str>,
        }
        let accepted: Accepted<'_> = serde_json::from_slice(&reply.body).ok()?;
        (accepted.status == "queued")
            .then(|| format!("/deliveries/{}", accepted.id))
            .and_then(|l| HeaderValue::from_str(&l).ok())
    }

    /// How long a call may hold its idempotency key (and a delivery
    /// attempt its lease): twice `[ingress] upstream-timeout` (which bounds
    /// each try), and a second to store the outcome.
    fn key_hold(&self) -> Duration {
        let timeout = self.config.limits.upstream_timeout;
        timeout.saturating_mul(2) + Duration::from_secs(1)
    }

    /// Whether a call is queued: asked for (`Prefer: respond-async`) or
    /// listed in `[ingress] queued`, unless it is a relay, a call from
    /// another realm (`x-realm-via`) to a realm other than this one: the
    /// caller's signature it carries would be stale by the time a delivery
    /// went on, so a hub passes such a call on at once (RFC 7240 lets a
    /// server not honour a preference). The caller's own ingress queues it.
    fn queues(&self, queue: &Queue, headers: &HeaderMap, [realm, module, verb]: [&str; 3]) -> bool {
        let relay = realm != self.realm && headers.contains_key(VIA);
        !relay && (wants_async(headers) || queue.is_queued(realm, module, verb))
    }

    fn refused(
        &self,
        call: &Call<'_>,
        refusal: Refusal,
        routed: bool,
        caller: Option<String>,
    ) -> Outcome {
        Outcome {
            reply: refusal.reply(&self.realm, call.request_id),
            refusal: Some(refusal.code),
            routed,
            caller,
        }
    }

    /// The admit and route stages; the caller, and what they decided.
    async fn admit_and_route(
        &self,
        call: &Call<'_>,
    ) -> (Option<String>, Result<Admitted, (Refusal, bool)>) {
        let Admission {
            caller,
            admitted,
            shared,
        } = self.admit(call);
        let admitted = self
            .settle(admitted, shared)
            .await
            .map_err(|refusal| (refusal, false))
            .and_then(|admitted| {
                let route = self
                    .route(call.realm, call.module, call.verb)
                    .map_err(|refusal| (refusal, false))?;
                self.check(call, &route)
                    .map_err(|refusal| (refusal, true))?;
                Ok(admitted)
            });
        (caller, admitted)
    }

    /// Checks a call as a direct one, stores it, answers 202.
    async fn enqueue(&self, queue: &Arc<Queue>, call: &Call<'_>, key: Option<&str>) -> Outcome {
        let (caller, admitted) = self.admit_and_route(call).await;
        let delivery = admitted.and_then(|admitted| {
            owned(call, key, admitted.origin).map_err(|refusal| (refusal, true))
        });
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err((refusal, routed)) => return self.refused(call, refusal, routed, caller),
        };
        // The body's copy in the delivery counts in `max-buffered` until it
        // is committed: calls whose clients leave at once cannot pile up
        // unseen while the disk is slow.
        let mut share = super::budget::Share::default();
        if self
            .budget
            .grow(&mut share, delivery.body.len() as u64)
            .is_err()
        {
            return self.refused(call, super::request::busy(self), true, caller);
        }
        // The commit waits for the disk on the queue's committing thread.
        match queue.accept(delivery, Box::new(share)).await {
            Ok((Enqueued::Full { pending }, _)) => {
                self.refused(call, queue_full(pending, queue.max_queued), true, caller)
            }
            Ok((Enqueued::Stored, delivery)) => Outcome {
                reply: Reply::json(StatusCode::ACCEPTED, accepted_body(&delivery.id)),
                refusal: None,
                routed: true,
                caller,
            },
            Err(why) => {
                tracing::error!("cannot queue a call: {why}");
                let refusal = Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "queue_unavailable",
                    "the call could not be stored for delivery; it was not queued",
                );
                self.refused(call, refusal, true, caller)
            }
        }
    }

    /// A direct call with an idempotency key: checked like any, then
    /// answered as before when its key was, else run (on a task of its
    /// own, which finishes when the client goes away) and its reply
    /// remembered, durably, before it is answered.
    async fn idempotent(
        &self,
        queued: &Queued,
        call: &Call<'_>,
        key: &str,
        deadline: Option<Duration>,
    ) -> Outcome {
        let (caller, admitted) = self.admit_and_route(call).await;
        let owned = admitted.and_then(|admitted| {
            owned(call, Some(key), admitted.origin).map_err(|refusal| (refusal, true))
        });
        let owned = match owned {
            Ok(owned) => owned,
            Err((refusal, routed)) => return self.refused(call, refusal, routed, caller),
        };
        let queue = &queued.queue;
        let hash = queue::idempotency::call_hash(&owned.target(), &call.body);
        // A key is its caller's own (the realm the call started in, proven
        // when the call is signed): another caller's same key never
        // answers with this caller's reply.
        let scoped = scoped_key(owned.origin.as_deref(), key);
        let unavailable = |why: String| {
            tracing::error!("idempotency key {key:?}: {why}");
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                "the idempotency key could not be looked up; the call did not run",
            )
        };
        // The store may wait for the disk or the network: off this
        // worker's thread, which serves other calls.
        let begun = {
            let (queue, scoped, hash) = (queue.clone(), scoped.clone(), hash.clone());
            let hold = self.key_hold();
            tokio::task::spawn_blocking(move || queue.begin(&scoped, &hash, hold))
                .await
                .unwrap_or_else(|e| Err(queue::StoreError(e.to_string())))
        };
        let running = match begun {
            Ok(Begun::Run(running)) => running,
            Ok(Begun::Replay(r)) => {
                return Outcome {
                    reply: replayed(r),
                    refusal: None,
                    routed: true,
                    caller,
                };
            }
            Ok(Begun::Conflict) => return self.refused(call, key_reused(key), true, caller),
            Ok(Begun::InProgress) => return self.refused(call, key_in_flight(key), true, caller),
            Err(e) => return self.refused(call, unavailable(e.to_string()), true, caller),
        };
        let Some(ingress) = queued.ingress.upgrade() else {
            return self.refused(call, unavailable("the ingress stops".into()), true, caller);
        };
        let task = tokio::spawn(async move {
            let answered = ingress.deliver(&owned).await;
            // What the verb answered is remembered; what says "try again"
            // is not. Then the key is let go, for the replicas too: the
            // store may wait, so not on this worker's thread.
            let remembered = answered.as_ref().ok().and_then(|r| remembered(hash, r));
            let kept =
                tokio::task::spawn_blocking(move || running.finish(remembered.as_ref())).await;
            if !matches!(kept, Ok(Ok(()))) {
                tracing::error!(
                    "cannot remember the reply of idempotency key {:?}",
                    owned.key
                );
            }
            answered
        });
        let joined = match deadline {
            None => task.await,
            Some(deadline) => match tokio::time::timeout(deadline, task).await {
                Ok(joined) => joined,
                Err(_) => {
                    let refusal = Refusal::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "deadline_exceeded",
                        "no answer within the caller's deadline (the call goes on, and its reply is kept for its idempotency key)",
                    );
                    return self.refused(call, refusal, true, caller);
                }
            },
        };
        match joined {
            Ok(Ok(reply)) => Outcome {
                reply,
                refusal: None,
                routed: true,
                caller,
            },
            Ok(Err(refusal)) => self.refused(call, refusal, true, caller),
            Err(e) => self.refused(call, unavailable(e.to_string()), true, caller),
        }
    }

    /// One attempt at a queued call, by the delivery worker: to this
    /// realm's own runner, answered from the idempotency store as a direct
    /// call with its key is (a call sent again after a crash between the
    /// runner's answer and its outcome being stored runs once); to another
    /// realm, that realm's ingress does.
    async fn deliver_once(&self, d: &Delivery) -> Result<Reply, Refusal> {
        let local = matches!(
            self.route(&d.realm, &d.module, &d.verb),
            Ok(Route::Local { .. })
        );
        let Some(queue) = self.queue().filter(|_| local) else {
            return self.deliver(d).await;
        };
        let hash = queue::idempotency::call_hash(&d.target(), d.body.as_bytes());
        // The worker has a thread of its own: the store may block it.
        match queue.begin(
            &scoped_key(d.origin.as_deref(), &d.key),
            &hash,
            self.key_hold(),
        ) {
            Ok(Begun::Run(running)) => {
                let answered = self.deliver(d).await;
                let remembered = answered.as_ref().ok().and_then(|r| remembered(hash, r));
                if let Err(e) = running.finish(remembered.as_ref()) {
                    tracing::error!("cannot remember the reply of delivery {}: {e}", d.id);
                }
                answered
            }
            Ok(Begun::Replay(r)) => Ok(replayed(r)),
            Ok(Begun::Conflict) => Err(key_reused(&d.key)),
            Ok(Begun::InProgress) => Err(key_in_flight(&d.key)),
            Err(e) => Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                format!("the idempotency key could not be looked up: {e}"),
            )),
        }
    }

    /// One attempt at a queued call: routed and checked again (the schema
    /// is the one it was accepted with), then dispatched as a call the
    /// authorize stage let through when it was accepted.
    async fn deliver(&self, d: &Delivery) -> Result<Reply, Refusal> {
        let mut headers = HeaderMap::new();
        for (name, value) in &d.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        if let Ok(key) = HeaderValue::from_str(&d.key) {
            headers.insert(IDEMPOTENCY_KEY, key);
        }
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(&d.id)
            .to_string();
        let path = format!("/realms/{}/{}/{}", d.realm, d.module, d.verb);
        let call = Call {
            realm: &d.realm,
            module: &d.module,
            verb: &d.verb,
            path: &path,
            scheme: "http",
            authority: None,
            headers: &headers,
            body: Bytes::from(d.body.clone()),
            peer: None,
            peer_realms: &[],
            request_id: &request_id,
            trace: trace_of(&headers),
        };
        let route = self.route(call.realm, call.module, call.verb)?;
        let checked = self.check(&call, &route)?;
        let via = Via::parse(headers.get(VIA).map(HeaderValue::as_bytes))
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
        let admitted = Admitted {
            via,
            origin: d.origin.clone(),
            relayed: None,
        };
        self.dispatch(Passed {
            call: &call,
            admitted,
            route,
            checked,
        })
        .await
    }
}

/// A remembered reply, answered again.
fn replayed(r: Remembered) -> Reply {
    Reply {
        status: StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
        content_type: HeaderValue::from_str(&r.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/json")),
        body: Bytes::from(r.body),
        retry_after: None,
        not_made: false,
    }
}

/// What is remembered of `reply` to the call `hash`: nothing when it says
/// "try again".
fn remembered(hash: String, reply: &Reply) -> Option<Remembered> {
    if matches!(reply.status.as_u16(), 408 | 409 | 425 | 429 | 500..=599) {
        return None;
    }
    Some(Remembered {
        call: hash,
        status: reply.status.as_u16(),
        content_type: reply
            .content_type
            .to_str()
            .unwrap_or("application/json")
            .to_string(),
        body: reply.body.to_vec(),
        at_ms: queue::now_ms(),
    })
}

/// How long a caller refused for a full queue is asked to wait.
const QUEUE_FULL_RETRY: Duration = Duration::from_secs(30);

/// The refusal of a call that finds `pending` calls (its cap, `max`)
/// waiting to be delivered.
fn queue_full(pending: u64, max: u64) -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_full",
        format!(
            "the queue holds {pending} calls not yet delivered, its cap of {max} (`[ingress] max-queued`); this call was not queued: try again later"
        ),
    )
    .retry_after(QUEUE_FULL_RETRY)
}

fn key_reused(key: &str) -> Refusal {
    Refusal::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        format!(
            "the {IDEMPOTENCY_KEY} {key:?} was used for another call (another verb or body) within the idempotency window; send this call with a new key"
        ),
    )
}

fn key_in_flight(key: &str) -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_flight",
        format!(
            "a call with the {IDEMPOTENCY_KEY} {key:?} is running; try again when it is answered"
        ),
    )
    .retry_after(Duration::from_secs(1))
}

/// The key a reply is remembered by: the caller's key within its
/// caller's realm (`None`: an unknown caller, all such callers together).
/// Keys are printable ASCII, so the newline keeps the two apart.
fn scoped_key(caller: Option<&str>, key: &str) -> String {
    format!("{}\n{key}", caller.unwrap_or(""))
}

/// The body of a `202 Accepted`: `{"id":"<id>","status":"queued"}`,
/// written as text (the id a UUID, quoted as JSON all the same).
fn accepted_body(id: &str) -> String {
    let mut body = String::with_capacity(id.len() + 32);
    body.push_str("{\"id\":");
    // A `&str` always serializes; an empty string if it ever did not.
    body.push_str(&serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into()));
    body.push_str(",\"status\":\"queued\"}");
    body
}

/// A call as the queue keeps it: what goes on with it, its key (the
/// caller's, else its id) and the realm it started in.
fn owned(call: &Call<'_>, key: Option<&str>, origin: Option<String>) -> Result<Delivery, Refusal> {
    let body = String::from_utf8(call.body.to_vec()).map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not UTF-8",
        )
    })?;
    // Time-ordered (UUID v7): the store's tables are keyed by it, and keys
    // that come in order are appended, not scattered over the table.
    let id = uuid::Uuid::now_v7().to_string();
    let mut headers: Vec<(String, String)> = KEPT
        .iter()
        .filter(|name| **name != TRACEPARENT)
        .flat_map(|name| call.headers.get_all(name).iter().map(move |v| (name, v)))
        .filter_map(|(name, v)| Some((name.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    headers.push((REQUEST_ID.to_string(), call.request_id.to_string()));
    headers.push((
        TRACEPARENT.to_string(),
        String::from_utf8_lossy(&call.trace.header()).into_owned(),
    ));
    let now = queue::now_ms();
    Ok(Delivery {
        key: key.map_or_else(|| id.clone(), str::to_string),
        id,
        seq: 0,
        realm: call.realm.to_string(),
        module: call.module.to_string(),
        verb: call.verb.to_string(),
        body,
        headers,
        origin,
        status: Status::Queued,
        attempts: 0,
        unmade: 0,
        last_error: None,
        reply: None,
        created_ms: now,
        updated_ms: now,
        lease_ms: 0,
    })
}

impl Ingress {
    /// The queue's state, for `/status` and `/metrics`: `None` without a
    /// queue. Reads the store on a blocking thread, off the worker serving
    /// other calls.
    pub(super) async fn queue_status(&self) -> Option<QueueStatus> {
        let queue = self.queue()?.clone();
        let max_queued = queue.max_queued;
        let read = tokio::task::spawn_blocking(move || queue.depths()).await;
        let now = queue::now_ms();
        let (targets, error) = match read {
            Ok(Ok(depths)) => (depths, None),
            Ok(Err(e)) => (Vec::new(), Some(e.to_string())),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let targets = targets
            .into_iter()
            .map(|d| {
                let mut names = d.target.splitn(3, '/').map(str::to_string);
                QueueDepth {
                    realm: names.next().unwrap_or_default(),
                    module: names.next().unwrap_or_default(),
                    verb: names.next().unwrap_or_default(),
                    queued: d.pending,
                    oldest_age_ms: now.saturating_sub(d.oldest_ms),
                }
            })
            .collect();
        Some(QueueStatus {
            max_queued,
            targets,
            error,
        })
    }
}

/// The queue's targets as metrics samples.
pub(super) fn samples(status: &QueueStatus) -> Vec<metrics::QueueSample<'_>> {
    status
        .targets
        .iter()
        .map(|t| metrics::QueueSample {
            verb: metrics::VerbName {
                realm: &t.realm,
                module: &t.module,
                verb: &t.verb,
            },
            pending: t.queued,
            oldest_age: Duration::from_millis(t.oldest_age_ms),
        })
        .collect()
}

/// What this process's delivery worker did.
pub(super) fn counts(queue: &Queue) -> metrics::DeliveryCounts {
    let [delivered, failed, expired, redelivered] = queue.stats.read();
    metrics::DeliveryCounts {
        delivered,
        failed,
        expired,
        redelivered,
    }
}

/// The ingress as the delivery worker sees it.
pub struct Deliverer(pub Arc<Ingress>);

impl queue::Deliver for Deliverer {
    fn attempt<'a>(
        &'a self,
        d: &'a Delivery,
    ) -> Pin<Box<dyn Future<Output = queue::Attempted> + 'a>> {
        Box::pin(async move {
            let (status, body, retry_after, not_made) = match self.0.deliver_once(d).await {
                Ok(reply) => (reply.status, reply.body, reply.retry_after, false),
                Err(refusal) => {
                    let retry = refusal.retry_after.map(|d| d.as_secs());
                    let reply = refusal.reply(&self.0.realm, &d.id);
                    (reply.status, reply.body, retry, reply.not_made)
                }
            };
            tracing::info!(
                delivery = %d.id,
                attempt = d.attempts,
                call = %format_args!("{}.{}@{}", d.module, d.verb, d.realm),
                status = status.as_u16(),
                "delivery"
            );
            queue::Attempted {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
                retry_after: retry_after.map(Duration::from_secs),
                not_made,
            }
        })
    }

    /// Twice `[ingress] upstream-timeout` (which bounds each try of an
    /// attempt), and a second to store its outcome.
    fn lease(&self) -> Duration {
        self.0.key_hold()
    }

    fn policy(&self, d: &Delivery, defaults: &queue::Policy) -> Option<queue::Policy> {
        let route = self.0.route(&d.realm, &d.module, &d.verb).ok()?;
        let verb = match route {
            Route::Local { verb, .. } | Route::External { verb, .. } => verb,
        };
        let (attempts, min, max) = super::forward::retry_policy(verb)?;
        Some(queue::Policy {
            backoff: min,
            max_backoff: max,
            max_attempts: attempts,
            max_age: defaults.max_age,
        })
    }
}

/// What [`Ingress::open_queue`] did.
#[derive(Debug)]
pub enum QueueOpened {
    /// Calls are queued in this store (as it describes itself).
    Open { store: String },
    /// The store could not be opened: calls are not queued, idempotency
    /// keys not kept (another `realm serve` of this project may hold it).
    NotOpened { why: String },
}

impl Ingress {
    /// Opens `project`'s queue store (`[ingress] store`) and, from now on,
    /// queues calls and keeps idempotency keys in it; shares the replay
    /// cache of signed calls with the other replicas when the store is
    /// shared (NATS); starts the delivery worker. `Err`: the worker's
    /// thread could not start.
    pub fn open_queue(
        self: &Arc<Self>,
        project: &crate::project::Project,
    ) -> std::io::Result<QueueOpened> {
        let queue = match Queue::open(project) {
            Ok(queue) => queue,
            Err(e) => return Ok(QueueOpened::NotOpened { why: e.to_string() }),
        };
        if let Some(verifier) = &self.verifier {
            // A nonce matters while its timestamp passes the window: up to
            // two windows from now, and a minute for the replicas' clocks.
            let window = self.config().security.replay_window;
            let ttl = window.saturating_mul(2) + Duration::from_secs(60);
            match queue.store().nonces(ttl) {
                Ok(Some(shared)) => {
                    verifier.share_nonces(shared);
                }
                Ok(None) => {}
                Err(e) => return Ok(QueueOpened::NotOpened { why: e.to_string() }),
            }
        }
        let store = format!("{:?}", queue.store());
        self.queue_to(queue);
        start_delivery(self.clone())?;
        Ok(QueueOpened::Open { store })
    }
}

/// Starts delivering `ingress`'s queued calls on a thread of its own.
pub fn start_delivery(
    ingress: Arc<Ingress>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(queue) = ingress.queue().cloned() else {
        return Ok(None);
    };
    queue::worker::start(queue, Arc::new(Deliverer(ingress))).map(Some)
}

/// The most deliveries `GET /deliveries` lists.
const LIST_LIMIT: usize = 1000;

/// `/deliveries...`: `GET /deliveries` (the oldest 1,000),
/// `GET /deliveries/<id>`, `POST /deliveries/<id>/retry` (a failed or
/// expired one queued again), `POST /deliveries/<id>/drop` (removed).
/// `Err`: the method the path takes, for a 405.
///
/// Reads and writes the store (which may wait for the disk or the
/// network) on a blocking thread, off the worker serving other calls.
pub(super) async fn deliveries(
    ingress: &Ingress,
    method: &http::Method,
    path: &str,
    request_id: &str,
) -> Result<Reply, &'static str> {
    let (realm, queue) = (ingress.realm.clone(), ingress.queue().cloned());
    let owned = (method.clone(), path.to_string(), request_id.to_string());
    tokio::task::spawn_blocking(move || {
        let (method, path, request_id) = owned;
        deliveries_now(&realm, queue.as_ref(), &method, &path, &request_id)
    })
    .await
    .unwrap_or_else(|e| {
        let refusal = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            e.to_string(),
        );
        Ok(refusal.reply(&ingress.realm, request_id))
    })
}

fn deliveries_now(
    realm: &str,
    queue: Option<&Arc<Queue>>,
    method: &http::Method,
    path: &str,
    request_id: &str,
) -> Result<Reply, &'static str> {
    let get = matches!(*method, http::Method::GET | http::Method::HEAD);
    let refuse = |status, code, message: String| {
        Refusal::new(status, code, message).reply(realm, request_id)
    };
    let Some(queue) = queue else {
        return Ok(refuse(
            StatusCode::NOT_FOUND,
            "no_queue",
            "this ingress queues no calls (its store could not be opened at start)".into(),
        ));
    };
    let failed = |e: queue::StoreError| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            e.to_string(),
        )
    };
    let missing = |id: &str| {
        refuse(
            StatusCode::NOT_FOUND,
            "no_delivery",
            format!(
                "no queued call has the id {:?} here",
                super::request::loggable(id)
            ),
        )
    };
    let rest = path
        .trim_start_matches("/deliveries")
        .trim_start_matches('/');
    // Ids are percent-decoded (`realm deliveries` escapes them); one that
    // is not UTF-8 names no delivery.
    let decoded: Vec<std::borrow::Cow<'_, str>> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .unwrap_or(std::borrow::Cow::Borrowed("\u{fffd}"))
        })
        .collect();
    let segments: Vec<&str> = decoded.iter().map(|s| s.as_ref()).collect();
    Ok(match segments.as_slice() {
        [""] if get => match queue.list(LIST_LIMIT) {
            Ok(list) => {
                let views: Vec<serde_json::Value> = list.iter().map(Delivery::view).collect();
                Reply::json(
                    StatusCode::OK,
                    serde_json::json!({ "deliveries": views }).to_string(),
                )
            }
            Err(e) => failed(e),
        },
        [""] => return Err("GET"),
        [id] if get => match queue.delivery(id) {
            Ok(Some(d)) => Reply::json(StatusCode::OK, d.view().to_string()),
            Ok(None) => missing(id),
            Err(e) => failed(e),
        },
        [_] => return Err("GET"),
        [id, "retry"] if *method == http::Method::POST => match queue.retry(id) {
            Ok(Some(Ok(d))) => Reply::json(StatusCode::OK, d.view().to_string()),
            Ok(Some(Err(why))) => refuse(StatusCode::CONFLICT, "not_retryable", why),
            Ok(None) => missing(id),
            Err(e) => failed(e),
        },
        [id, "drop"] if *method == http::Method::POST => match queue.drop_delivery(id) {
            Ok(true) => Reply::json(
                StatusCode::OK,
                serde_json::json!({ "id": id, "status": "dropped" }).to_string(),
            ),
            Ok(false) => missing(id),
            Err(e) => failed(e),
        },
        [_, "retry" | "drop"] => return Err("POST"),
        _ => refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "nothing at {}: deliveries are GET /deliveries, GET /deliveries/<id>, POST /deliveries/<id>/retry and POST /deliveries/<id>/drop",
                super::request::loggable(path)
            ),
        ),
    })
}
