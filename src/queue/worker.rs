//! The delivery worker: one thread of its own, one lane per target
//! (realm, module, verb) with pending deliveries. A lane sends its
//! target's deliveries one at a time, in the order they were accepted
//! (FIFO per target: a call waiting for its retry holds back the calls
//! behind it to the same verb, not those to other verbs). Each attempt is
//! marked `sending` in the store before it goes, and its outcome written
//! after; at start, deliveries left `sending` go back to `queued` and are
//! sent again (with the same `Idempotency-Key`, so the receiver runs them
//! once).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::{Delivery, Policy, Queue, Stats, Status, StoredReply, now_ms};

/// What one attempt got: the target's answer (or the refusal of the
/// ingress that sends it, as an answer).
#[derive(Debug)]
pub struct Attempted {
    pub status: u16,
    pub body: String,
    /// How long the target asked to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// The call surely was not made (the target could not be reached, was
    /// backing off, or said so): such an attempt does not use up the
    /// policy's attempts, only its `max-age`, so a call outlives an outage.
    pub not_made: bool,
}

/// Sends deliveries: the ingress, which checks and signs each attempt.
pub trait Deliver: Send + Sync + 'static {
    /// One attempt at `delivery`.
    fn attempt<'a>(
        &'a self,
        delivery: &'a Delivery,
    ) -> Pin<Box<dyn Future<Output = Attempted> + 'a>>;
    /// The verb's own retry policy (`+retry`), when it has one.
    fn policy(&self, delivery: &Delivery, defaults: &Policy) -> Option<Policy>;
    /// How long a claimed attempt is held against other workers sharing
    /// the store: longer than an attempt should take. A replica killed
    /// during an attempt holds it this long; an attempt that takes longer
    /// may be sent again by another replica (the receiving ingress answers
    /// its key once).
    fn lease(&self) -> Duration {
        Duration::from_secs(120)
    }
}

/// How often old idempotency records and ended deliveries are swept.
const SWEEP: Duration = Duration::from_secs(600);

/// What an answer means for a delivery.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Delivered,
    /// Refused for good (a 4xx other than those below).
    Refused,
    /// Try again: unreachable, busy, timed out (408, 409, 425, 429, 5xx).
    Again,
}

fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 409 | 425 | 429 | 500..=599 => Verdict::Again,
        _ => Verdict::Refused,
    }
}

/// The error a refusal's JSON body gives, else the body.
fn message_of(status: u16, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(500).collect());
    format!("{status}: {message}")
}

/// Starts the worker on a thread of its own.
pub fn start(
    queue: Arc<Queue>,
    deliver: Arc<dyn Deliver>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("realm-delivery".into())
        .spawn(move || {
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, run(queue, deliver));
        })
}

/// Starts a lane for every target with pending deliveries, whenever a call
/// is accepted (and every second, for lanes that ended as one came).
async fn run(queue: Arc<Queue>, deliver: Arc<dyn Deliver>) {
    match queue.store.recover() {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!("{n} deliveries were being sent when the ingress stopped: queued again")
        }
        Err(e) => tracing::error!("cannot recover deliveries: {e}"),
    }
    let mut lanes: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    // The first sweep at start, then one every ten minutes.
    let mut swept: Option<std::time::Instant> = None;
    loop {
        lanes.retain(|_, lane| !lane.is_finished());
        match queue.store.pending_targets() {
            Ok(targets) => {
                for target in targets {
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        lanes.entry(target.clone())
                    {
                        slot.insert(tokio::task::spawn_local(lane(
                            queue.clone(),
                            deliver.clone(),
                            target,
                        )));
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read the queue: {e}"),
        }
        // Old idempotency records (and ended deliveries) go every ten
        // minutes: a round comes every second, and at every accepted call.
        if swept.is_none_or(|at| at.elapsed() >= SWEEP) {
            swept = Some(std::time::Instant::now());
            if let Err(e) = queue.forget_old_keys() {
                tracing::warn!("cannot forget old idempotency keys: {e}");
            }
        }
        tokio::select! {
            _ = queue.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Sends `target`'s deliveries in order until none is pending.
async fn lane(queue: Arc<Queue>, deliver: Arc<dyn Deliver>, target: String) {
    loop {
        match queue.store.next_for(&target) {
            Ok(Some(delivery)) => {
                if let Err(e) = deliver_one(&queue, deliver.as_ref(), delivery).await {
                    tracing::warn!("delivery to {target}: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot read the queue of {target}: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
        }
    }
}

/// One attempt at `d` (or its expiry), its outcome stored; after a failed
/// attempt, waits before returning.
async fn deliver_one(
    queue: &Queue,
    deliver: &dyn Deliver,
    mut d: Delivery,
) -> Result<(), super::StoreError> {
    if d.status.is_final() {
        // Listed as pending after it ended (a shared store's listing can
        // lag): never sent again; its pending entry goes.
        return queue.store.update(&d);
    }
    let policy = deliver
        .policy(&d, &queue.defaults)
        .unwrap_or(queue.defaults);
    let age = u64::try_from(policy.max_age.as_millis()).unwrap_or(u64::MAX);
    let expires = d.created_ms.saturating_add(age);
    if now_ms() >= expires {
        Stats::count(&queue.stats.expired);
        d.status = Status::Expired;
        d.updated_ms = now_ms();
        let why = format!(
            "not delivered within {} (max-age)",
            crate::duration::format(policy.max_age)
        );
        d.last_error = Some(match d.last_error.take() {
            Some(last) => format!("{why}; last error {last}"),
            None => why,
        });
        return queue.store.update(&d);
    }
    let now = now_ms();
    if d.status == Status::Sending && d.lease_ms > now {
        // Another worker sharing the store is sending it: its turn.
        let wait = Duration::from_millis(d.lease_ms - now).min(Duration::from_secs(1));
        tokio::time::sleep(wait).await;
        return Ok(());
    }
    let before = d.clone();
    d.status = Status::Sending;
    d.attempts += 1;
    d.updated_ms = now;
    let lease = u64::try_from(deliver.lease().as_millis()).unwrap_or(u64::MAX);
    d.lease_ms = now.saturating_add(lease);
    if !queue.store.claim(&before, &d)? {
        // Another worker claimed it first.
        return Ok(());
    }
    if d.attempts > 1 {
        Stats::count(&queue.stats.redelivered);
    }
    let answer = deliver.attempt(&d).await;
    d.updated_ms = now_ms();
    let verdict = verdict(answer.status);
    let message = (verdict != Verdict::Delivered).then(|| message_of(answer.status, &answer.body));
    match verdict {
        Verdict::Delivered | Verdict::Refused => {
            d.status = if verdict == Verdict::Delivered {
                Stats::count(&queue.stats.delivered);
                Status::Delivered
            } else {
                Stats::count(&queue.stats.failed);
                Status::Failed
            };
            d.last_error = message;
            d.reply = Some(StoredReply {
                status: answer.status,
                body: answer.body,
            });
            queue.store.update(&d)
        }
        Verdict::Again => {
            d.last_error = message;
            if answer.not_made {
                d.unmade = d.unmade.saturating_add(1);
            }
            if d.attempts.saturating_sub(d.unmade) >= policy.max_attempts {
                Stats::count(&queue.stats.failed);
                d.status = Status::Failed;
                return queue.store.update(&d);
            }
            d.status = Status::Queued;
            queue.store.update(&d)?;
            let left = Duration::from_millis(expires.saturating_sub(now_ms()));
            let wait = policy
                .wait(d.attempts)
                .max(answer.retry_after.unwrap_or_default())
                .min(left);
            tokio::time::sleep(wait).await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_delivered_refused_or_tried_again() {
        assert_eq!(verdict(200), Verdict::Delivered);
        assert_eq!(verdict(204), Verdict::Delivered);
        assert_eq!(verdict(400), Verdict::Refused);
        assert_eq!(verdict(422), Verdict::Refused);
        for again in [408, 409, 429, 500, 502, 503, 504] {
            assert_eq!(verdict(again), Verdict::Again, "{again}");
        }
        assert_eq!(
            message_of(503, r#"{"error":{"message":"cannot reach realm `bank`"}}"#),
            "503: cannot reach realm `bank`"
        );
    }
}
