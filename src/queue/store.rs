//! The store of queued calls and idempotency records: a trait, so that
//! the embedded store (`embedded.rs`) and a shared one can stand behind
//! the same queue. Every write returns once it is durable.

use super::{Delivery, Remembered};

#[derive(Clone, Debug, thiserror::Error)]
#[error("the queue's store: {0}")]
pub struct StoreError(pub String);

/// What became of a call handed to [`Store::enqueue_within`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored, durably, with its `seq`.
    Stored,
    /// Not stored: this many deliveries are pending already.
    Full { pending: u64 },
}

/// The pending deliveries of one target (realm, module, verb).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Depth {
    /// `realm/module/verb`, as [`Delivery::target`] writes it.
    pub target: String,
    /// Deliveries queued or being sent.
    pub pending: u64,
    /// When the first of them in the queue was accepted (ms since the
    /// Unix epoch).
    pub oldest_ms: u64,
}

/// The nonces of signed calls, shared by the replicas of one ingress: a
/// nonce is taken once, by whichever replica sees it first.
pub trait Nonces: Send + Sync + std::fmt::Debug {
    /// Takes `nonce` until `until` (Unix seconds): `false` when it is
    /// taken already (by any replica) and not yet past its `until`.
    fn take(&self, nonce: &str, until: u64, now: u64) -> Result<bool, StoreError>;
}

/// Where deliveries and idempotency records are kept.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Stores a new delivery, giving it the next `seq`; durable on return.
    fn enqueue(&self, delivery: &mut Delivery) -> Result<(), StoreError> {
        self.enqueue_within(delivery, u64::MAX).map(|_| ())
    }
    /// Stores a new delivery as [`Store::enqueue`] does, unless
    /// `max_pending` deliveries are pending (queued or sending) already.
    /// A shared store counts what its server holds: replicas accepting at
    /// the same moment may pass the cap by the calls they accept at once.
    fn enqueue_within(
        &self,
        delivery: &mut Delivery,
        max_pending: u64,
    ) -> Result<Enqueued, StoreError>;
    /// Stores each delivery of `batch` (with its `max_pending`) as
    /// [`Store::enqueue_within`] does, in order: what became of each. The
    /// embedded store commits them together (one fsync).
    fn enqueue_batch(&self, batch: &mut [(Delivery, u64)]) -> Vec<Result<Enqueued, StoreError>> {
        batch
            .iter_mut()
            .map(|(delivery, max_pending)| self.enqueue_within(delivery, *max_pending))
            .collect()
    }
    /// Whether the delivery worker must look at the store after the
    /// calls just stored ([`Store::enqueue_batch`]): asked by the
    /// committing thread once a batch. True unless the store knows every
    /// call it stored since the last `true` goes to a target that had a
    /// call waiting already (its lane finds them; a lane ends only when
    /// its target has none) and no move is due (the worker looks every
    /// second anyway).
    fn worker_needed(&self) -> bool {
        true
    }
    /// A delivery by its id.
    fn get(&self, id: &str) -> Result<Option<Delivery>, StoreError>;
    /// Writes a delivery's new state; durable on return. A final status
    /// takes it out of the pending deliveries. A delivery dropped
    /// meanwhile stays dropped (nothing is written).
    fn update(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// Writes `after` (a claim: `sending`, with its lease) only when the
    /// stored delivery is still `before` (status and attempts): whether it
    /// was written. Workers sharing a store claim each attempt so.
    fn claim(&self, before: &Delivery, after: &Delivery) -> Result<bool, StoreError>;
    /// Removes a delivery (`realm deliveries drop`); whether it was there.
    fn remove(&self, id: &str) -> Result<bool, StoreError>;
    /// The targets with pending (queued or sending) deliveries.
    fn pending_targets(&self) -> Result<Vec<String>, StoreError>;
    /// Every target with pending deliveries: how many, and since when.
    /// Reads every pending entry: for `/status` and `/metrics`, not for
    /// each call.
    fn depths(&self) -> Result<Vec<Depth>, StoreError>;
    /// The first pending delivery of `target`, in `seq` order.
    fn next_for(&self, target: &str) -> Result<Option<Delivery>, StoreError>;
    /// Every delivery, in `seq` order, at most `limit`.
    fn list(&self, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    /// At start: deliveries left `sending` (the process stopped during an
    /// attempt) go back to `queued`; how many. A shared store takes back
    /// only those whose lease is over.
    fn recover(&self) -> Result<usize, StoreError>;
    /// The reply remembered for an idempotency key.
    fn remembered(&self, key: &str) -> Result<Option<Remembered>, StoreError>;
    /// Remembers a reply for an idempotency key; durable on return.
    fn remember(&self, key: &str, remembered: &Remembered) -> Result<(), StoreError>;
    /// Forgets the replies remembered before `before_ms`; how many.
    fn forget_before(&self, before_ms: u64) -> Result<usize, StoreError>;
    /// Takes idempotency key `key` for a call about to run, for every
    /// replica sharing the store, until [`Store::free_key`] or `until_ms`
    /// passes: `None` when another replica holds it. A store of one
    /// process takes every key (the queue's own set of running keys is
    /// all there is).
    ///
    /// Taken, the hold's revision, for [`Store::free_key`].
    fn take_key(&self, key: &str, until_ms: u64) -> Result<Option<u64>, StoreError> {
        let _ = (key, until_ms);
        Ok(Some(0))
    }
    /// Lets a key [`Store::take_key`] took go, unless another replica has
    /// taken it since (its hold's `revision` is no longer the key's).
    fn free_key(&self, key: &str, revision: u64) -> Result<(), StoreError> {
        let _ = (key, revision);
        Ok(())
    }
    /// The replay cache shared by the replicas of the ingress, its
    /// entries kept at least `ttl`; `None` for a store of one process
    /// (each process's own cache is all there is).
    fn nonces(
        &self,
        ttl: std::time::Duration,
    ) -> Result<Option<std::sync::Arc<dyn Nonces>>, StoreError> {
        let _ = ttl;
        Ok(None)
    }
    /// Removes the ended deliveries (delivered, failed, expired) last
    /// changed before `before_ms`; how many.
    fn forget_ended_before(&self, before_ms: u64) -> Result<usize, StoreError>;
}
