//! The bytes of bodies the ingress holds at once, all calls together
//! (`[ingress] max-buffered`): a request body takes its share as its bytes
//! arrive, and its reply's bytes are added when the reply comes back; the
//! share is given back when the reply has been written (or the call
//! ends). A request body that does not fit is refused; a reply is counted
//! even past the budget (it has been read already, and the call has
//! happened), so that the calls after it wait for room. With
//! `max-body-size`, `max-connections` and the write timeout, this bounds
//! the memory callers can make the ingress use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct BodyBudget {
    used: Arc<AtomicU64>,
    total: u64,
}

/// Bytes a call holds of the budget; given back on drop.
#[derive(Debug, Default)]
pub struct Share {
    used: Option<Arc<AtomicU64>>,
    bytes: u64,
}

/// The budget has no room for a body now.
#[derive(Debug, PartialEq, Eq)]
pub struct Exhausted;

impl BodyBudget {
    pub fn new(bytes: u64) -> BodyBudget {
        BodyBudget {
            used: Arc::new(AtomicU64::new(0)),
            total: bytes,
        }
    }

    /// The budget in bytes, for messages.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Grows `share` to `bytes`, or fails (leaving it as it was) when the
    /// budget has not that much left. Never waits.
    pub fn grow(&self, share: &mut Share, bytes: u64) -> Result<(), Exhausted> {
        let more = bytes.saturating_sub(share.bytes);
        if more == 0 {
            return Ok(());
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|n| *n <= self.total)
            })
            .map_err(|_| Exhausted)?;
        self.hold(share, bytes);
        Ok(())
    }

    /// Grows `share` by `bytes` already held in memory, past the budget if
    /// need be.
    pub fn add(&self, share: &mut Share, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::AcqRel);
        let total = share.bytes.saturating_add(bytes);
        self.hold(share, total);
    }

    fn hold(&self, share: &mut Share, bytes: u64) {
        share.bytes = bytes;
        share.used.get_or_insert_with(|| self.used.clone());
    }

    /// Bytes held by all calls now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Some(used) = &self.used {
            used.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_grow_within_the_budget_and_return_on_drop() {
        let budget = BodyBudget::new(10 * 1024);
        let mut a = Share::default();
        budget.grow(&mut a, 4000).expect("room");
        budget.grow(&mut a, 6000).expect("room");
        assert_eq!(budget.in_use(), 6000);
        let mut b = Share::default();
        assert_eq!(budget.grow(&mut b, 5 * 1024), Err(Exhausted));
        assert_eq!(budget.in_use(), 6000, "a refused grow takes nothing");
        budget.grow(&mut b, 4000).expect("room");
        drop(a);
        assert_eq!(budget.in_use(), 4000);
        budget.grow(&mut b, 10 * 1024).expect("room");
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn replies_are_counted_past_the_budget_and_make_bodies_wait() {
        let budget = BodyBudget::new(1000);
        let mut call = Share::default();
        budget.grow(&mut call, 600).expect("room");
        budget.add(&mut call, 900);
        assert_eq!(budget.in_use(), 1500);
        let mut next = Share::default();
        assert_eq!(budget.grow(&mut next, 1), Err(Exhausted));
        drop(call);
        assert_eq!(budget.in_use(), 0);
        budget.grow(&mut next, 1000).expect("room again");
    }

    #[test]
    fn a_huge_share_is_refused_not_wrapped() {
        let budget = BodyBudget::new(1 << 40);
        let mut share = Share::default();
        assert_eq!(budget.grow(&mut share, u64::MAX), Err(Exhausted));
        assert_eq!(budget.in_use(), 0);
    }
}
