//! Idempotency records: the reply a call with an `Idempotency-Key` got,
//! remembered for `[ingress] idempotency-window`, so that a repeat (a
//! queued call sent again after a crash, a client's retry) is answered
//! the same without running the verb again. The same key with another
//! call (another verb or body) is refused (422); a repeat while the first
//! is still running is told to come back (409).

use serde::{Deserialize, Serialize};

use super::{Queue, StoreError, now_ms};

/// A reply remembered by its idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// What the call was: SHA-256 of its target and body, hex.
    pub call: String,
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// When it was answered (ms since the Unix epoch).
    pub at_ms: u64,
}

/// What a call with an idempotency key does.
pub enum Begun {
    /// The first with this key: run it, then [`Running::finish`].
    Run(Running),
    /// Answered before: answer the same.
    Replay(Remembered),
    /// The key was used for another call.
    Conflict,
    /// A call with this key is running now.
    InProgress,
}

/// A call whose key is taken until it is finished (or dropped).
pub struct Running {
    queue: std::sync::Arc<Queue>,
    key: String,
    /// The revision of the key's hold in a shared store.
    revision: u64,
}

/// What identifies a call for its key: its target and its body.
pub fn call_hash(target: &str, body: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(target.as_bytes());
    ctx.update(&[0]);
    ctx.update(body);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Queue {
    /// Begins a call with idempotency key `key` whose [`call_hash`] is
    /// `call`, which runs for `hold` at most: replicas sharing the store
    /// see the key in progress that long, even if this one stops.
    pub fn begin(
        self: &std::sync::Arc<Self>,
        key: &str,
        call: &str,
        hold: std::time::Duration,
    ) -> Result<Begun, StoreError> {
        let mut running = self
            .running
            .lock()
            .map_err(|_| StoreError("a call with a key panicked".into()))?;
        if running.contains(key) {
            return Ok(Begun::InProgress);
        }
        // The key is taken for every replica first, then its reply looked
        // up: a replica that ran the call remembered its reply before it
        // let the key go, so the reply is seen.
        let hold = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
        let Some(revision) = self.store.take_key(key, now_ms().saturating_add(hold))? else {
            return Ok(Begun::InProgress);
        };
        let window = u64::try_from(self.idempotency_window.as_millis()).unwrap_or(u64::MAX);
        let fresh = match self.store.remembered(key) {
            Ok(r) => r.filter(|r| r.at_ms.saturating_add(window) >= now_ms()),
            Err(e) => {
                let _ = self.store.free_key(key, revision);
                return Err(e);
            }
        };
        if fresh.is_some() {
            self.store.free_key(key, revision)?;
        }
        match fresh {
            Some(r) if r.call == call => Ok(Begun::Replay(r)),
            Some(_) => Ok(Begun::Conflict),
            None => {
                running.insert(key.to_string());
                Ok(Begun::Run(Running {
                    queue: self.clone(),
                    key: key.to_string(),
                    revision,
                }))
            }
        }
    }

    /// Forgets the replies older than the window, and the deliveries that
    /// ended before it (their outcome is kept as long as their key); how
    /// many replies.
    pub fn forget_old_keys(&self) -> Result<usize, StoreError> {
        let window = u64::try_from(self.idempotency_window.as_millis()).unwrap_or(u64::MAX);
        let before = now_ms().saturating_sub(window);
        let ended = self.store.forget_ended_before(before)?;
        if ended > 0 {
            tracing::info!("{ended} deliveries that ended over the idempotency window ago removed");
        }
        self.store.forget_before(before)
    }
}

impl Running {
    /// Remembers the reply (durably, before it is answered); `None`
    /// remembers nothing (the call did not run: it may be tried again).
    pub fn finish(self, reply: Option<&Remembered>) -> Result<(), StoreError> {
        match reply {
            Some(r) => self.queue.store.remember(&self.key, r),
            None => Ok(()),
        }
        // Drop frees the key.
    }
}

impl Drop for Running {
    /// Frees the key, here and for the replicas (the store may wait for
    /// the network: drop a `Running` off an async worker's thread).
    fn drop(&mut self) {
        if let Err(e) = self.queue.store.free_key(&self.key, self.revision) {
            tracing::warn!("idempotency key left held until its time runs out: {e}");
        }
        if let Ok(mut running) = self.queue.running.lock() {
            running.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Embedded, Policy};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_key_runs_once_then_replays_and_refuses_another_call() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Embedded::open(&dir.path().join("q.redb")).expect("open");
        let queue = Arc::new(Queue::with_store(
            Arc::new(store),
            vec![],
            Policy::default(),
            Duration::from_secs(60),
        ));
        let call = call_hash("bank/balance/withdraw", b"{}");
        let Ok(Begun::Run(running)) = queue.begin("k", &call, Duration::from_secs(60)) else {
            panic!("the first call runs");
        };
        assert!(matches!(
            queue.begin("k", &call, Duration::from_secs(60)),
            Ok(Begun::InProgress)
        ));
        let reply = Remembered {
            call: call.clone(),
            status: 200,
            content_type: "application/json".into(),
            body: b"{\"ok\":true}".to_vec(),
            at_ms: now_ms(),
        };
        running.finish(Some(&reply)).expect("finish");
        assert!(
            matches!(queue.begin("k", &call, Duration::from_secs(60)), Ok(Begun::Replay(r)) if r == reply)
        );
        let other = call_hash("bank/balance/withdraw", b"{\"a\":1}");
        assert!(matches!(
            queue.begin("k", &other, Duration::from_secs(60)),
            Ok(Begun::Conflict)
        ));
        assert_eq!(queue.forget_old_keys().expect("forget"), 0);
    }
}
