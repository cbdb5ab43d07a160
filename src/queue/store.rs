//! The store of queued calls and idempotency records: a trait, so that
//! the embedded store (`embedded.rs`) and a shared one can stand behind
//! the same queue. Every write returns once it is durable.

use super::{Delivery, Remembered};

#[derive(Debug, thiserror::Error)]
#[error("the queue's store: {0}")]
pub struct StoreError(pub String);

/// Where deliveries and idempotency records are kept.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Stores a new delivery, giving it the next `seq`; durable on return.
    fn enqueue(&self, delivery: &mut Delivery) -> Result<(), StoreError>;
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
    /// Removes the ended deliveries (delivered, failed, expired) last
    /// changed before `before_ms`; how many.
    fn forget_ended_before(&self, before_ms: u64) -> Result<usize, StoreError>;
}
