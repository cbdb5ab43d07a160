//! The bytes of bodies the ingress holds at once, all calls together
//! (`[ingress] max-buffered`): a request body takes its share as its bytes
//! arrive, and so does its reply as its bytes come back from the upstream
//! (before they are held, see [`crate::net::http::HttpClient::post_json`]).
//! A request body that does not fit is refused (`ingress_busy`), and so is
//! a reply (`reply_busy`: the call ran, its reply is dropped). A request's
//! share is given back when its reply has been written (or the call ends);
//! a reply's share lives in the reply's bytes ([`hold`]) and is given back
//! when the last of them is freed. With `max-body-size`, the reply cap,
//! `max-connections` and the write timeout, this bounds the memory callers
//! and upstreams can make the ingress use.

use std::sync::Arc;

use bytes::Bytes;
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

impl Share {
    /// The bytes it holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
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

    fn hold(&self, share: &mut Share, bytes: u64) {
        share.bytes = bytes;
        share.used.get_or_insert_with(|| self.used.clone());
    }

    /// Bytes held by all calls now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// `bytes` holding `share` until the last reference to them is dropped:
/// the budget counts a reply for as long as its memory lives (written,
/// dropped with its connection, or reset with its HTTP/2 stream).
pub fn hold(bytes: Bytes, share: Share) -> Bytes {
    if share.bytes == 0 {
        return bytes;
    }
    Bytes::from_owner(Held {
        bytes,
        _share: share,
    })
}

struct Held {
    bytes: Bytes,
    _share: Share,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
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
    fn held_bytes_keep_their_share_until_the_last_reference_goes() {
        let budget = BodyBudget::new(1000);
        let mut share = Share::default();
        budget.grow(&mut share, 600).expect("room");
        let reply = hold(Bytes::from(vec![7u8; 600]), share);
        let piece = reply.slice(10..20);
        drop(reply);
        assert_eq!(budget.in_use(), 600, "a piece still holds the reply");
        assert_eq!(&piece[..], &[7u8; 10]);
        drop(piece);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_huge_share_is_refused_not_wrapped() {
        let budget = BodyBudget::new(1 << 40);
        let mut share = Share::default();
        assert_eq!(budget.grow(&mut share, u64::MAX), Err(Exhausted));
        assert_eq!(budget.in_use(), 0);
    }
}
