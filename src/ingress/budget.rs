//! The bytes of request bodies the ingress holds at once, all calls
//! together (`[ingress] max-buffered`): each body takes its share while it
//! is read and forwarded and gives it back when the call ends. With
//! `max-body-size` per call and `max-connections`, this bounds the memory
//! callers can make the ingress use, however many send at once.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Shares are counted in KiB, so that a budget of many GiB fits the
/// semaphore's counter and a share fits `u32`.
const UNIT: u64 = 1024;

#[derive(Debug)]
pub struct BodyBudget {
    units: Arc<Semaphore>,
    total: u64,
}

/// Bytes a body holds of the budget; given back on drop.
#[derive(Debug, Default)]
pub struct Share {
    permit: Option<OwnedSemaphorePermit>,
    bytes: u64,
}

impl BodyBudget {
    pub fn new(bytes: u64) -> BodyBudget {
        let units = bytes.div_ceil(UNIT).min(Semaphore::MAX_PERMITS as u64);
        BodyBudget {
            units: Arc::new(Semaphore::new(units as usize)),
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
        let have = share.bytes.div_ceil(UNIT);
        let want = bytes.div_ceil(UNIT);
        if want > have {
            let more = u32::try_from(want - have).map_err(|_| Exhausted)?;
            let permit = self
                .units
                .clone()
                .try_acquire_many_owned(more)
                .map_err(|_| Exhausted)?;
            match &mut share.permit {
                Some(held) => held.merge(permit),
                None => share.permit = Some(permit),
            }
        }
        share.bytes = share.bytes.max(bytes);
        Ok(())
    }

    /// Bytes held by all calls now.
    pub fn in_use(&self) -> u64 {
        let total_units = self.total.div_ceil(UNIT);
        total_units.saturating_sub(self.units.available_permits() as u64) * UNIT
    }
}

/// The budget has no room for a body now.
#[derive(Debug, PartialEq, Eq)]
pub struct Exhausted;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_grow_within_the_budget_and_return_on_drop() {
        let budget = BodyBudget::new(10 * 1024);
        let mut a = Share::default();
        budget.grow(&mut a, 4000).expect("room");
        budget.grow(&mut a, 6000).expect("room");
        assert_eq!(budget.in_use(), 6 * 1024);
        let mut b = Share::default();
        assert_eq!(budget.grow(&mut b, 5 * 1024), Err(Exhausted));
        budget.grow(&mut b, 4 * 1024).expect("room");
        drop(a);
        assert_eq!(budget.in_use(), 4 * 1024);
        budget.grow(&mut b, 10 * 1024).expect("room");
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_huge_share_is_refused_not_truncated() {
        let budget = BodyBudget::new(1 << 40);
        let mut share = Share::default();
        assert_eq!(budget.grow(&mut share, u64::MAX), Err(Exhausted));
    }
}
