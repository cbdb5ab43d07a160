//! Group commit of accepted calls: one thread per queue takes every call
//! waiting and hands them to the store as one batch (one transaction and
//! one fsync for the embedded store).
//!
//! Calls come from the ingress's async workers over a channel and get their
//! outcome back on a oneshot: a call costs the thread no wake-up of its
//! own when others are waiting, and none of the workers' threads blocks.
//! This replaced a group commit inside the embedded store, reached through
//! `spawn_blocking`, where every call woke a blocking thread and every
//! commit woke every waiting one: `cargo bench --bench queue` spent most of
//! the acceptance's CPU switching threads (the commit's numbers are in its
//! message).

use std::sync::Arc;
use std::sync::mpsc;

use super::{Delivery, Enqueued, Store, StoreError};

/// The most calls committed together: more wait for the next commit.
const MAX_BATCH: usize = 512;

/// A call waiting for the commit, and where its outcome goes.
struct Accepting {
    delivery: Delivery,
    max_pending: u64,
    done: tokio::sync::oneshot::Sender<Result<(Enqueued, Delivery), StoreError>>,
}

/// The committing thread of one queue; it ends when this is dropped.
pub(super) struct Committer {
    calls: mpsc::Sender<Accepting>,
}

impl Committer {
    /// Starts the thread that commits for `store`; `wake` is notified
    /// after each batch that stored a call (the delivery worker).
    pub(super) fn start(
        store: Arc<dyn Store>,
        wake: Arc<tokio::sync::Notify>,
    ) -> std::io::Result<Committer> {
        let (calls, waiting) = mpsc::channel();
        std::thread::Builder::new()
            .name("realm-queue-commit".into())
            .spawn(move || run(&*store, &waiting, &wake))?;
        Ok(Committer { calls })
    }

    /// Stores `delivery` with the calls waiting beside it, unless
    /// `max_pending` deliveries are pending: what became of it, and the
    /// delivery with its `seq`.
    pub(super) async fn accept(
        &self,
        delivery: Delivery,
        max_pending: u64,
    ) -> Result<(Enqueued, Delivery), StoreError> {
        let stopped = || StoreError("the queue's committing thread has stopped".into());
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.calls
            .send(Accepting {
                delivery,
                max_pending,
                done,
            })
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Commits what waits, batch after batch, until every sender is gone.
fn run(store: &dyn Store, waiting: &mpsc::Receiver<Accepting>, wake: &tokio::sync::Notify) {
    while let Ok(first) = waiting.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (mut calls, dones): (Vec<(Delivery, u64)>, Vec<_>) = batch
            .into_iter()
            .map(|a| ((a.delivery, a.max_pending), a.done))
            .unzip();
        let outcomes = store.enqueue_batch(&mut calls);
        // One wake-up of the worker a batch, not one a call.
        if outcomes.iter().any(|o| matches!(o, Ok(Enqueued::Stored))) {
            wake.notify_one();
        }
        for (((delivery, _), outcome), done) in calls.into_iter().zip(outcomes).zip(dones) {
            // A caller that went away meanwhile finds its call queued
            // all the same (it was: its client can look it up by id).
            let _ = done.send(outcome.map(|enqueued| (enqueued, delivery)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Embedded, Policy, Queue, Status};
    use super::*;

    fn delivery(id: &str) -> Delivery {
        Delivery {
            id: id.into(),
            key: id.into(),
            seq: 0,
            realm: "bank".into(),
            module: "balance".into(),
            verb: "account".into(),
            body: "{}".into(),
            headers: Vec::new(),
            origin: None,
            status: Status::Queued,
            attempts: 0,
            unmade: 0,
            last_error: None,
            reply: None,
            created_ms: 0,
            updated_ms: 0,
            lease_ms: 0,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_accepted_at_once_each_get_their_own_seq_and_the_cap_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(Embedded::open(&dir.path().join("q.redb")).expect("open"));
        let mut queue = Queue::with_store(
            store.clone(),
            Vec::new(),
            Policy::default(),
            std::time::Duration::from_secs(60),
        );
        queue.max_queued = 60;
        let queue = Arc::new(queue);
        let calls: Vec<_> = (0..80)
            .map(|i| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.accept(delivery(&format!("d{i}"))).await })
            })
            .collect();
        let mut seqs = Vec::new();
        let mut full = 0;
        for call in calls {
            match call.await.expect("task").expect("accept") {
                (Enqueued::Stored, d) => seqs.push(d.seq),
                (Enqueued::Full { pending }, _) => {
                    assert_eq!(pending, 60);
                    full += 1;
                }
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=60).collect::<Vec<u64>>());
        assert_eq!(full, 20);
        assert_eq!(store.list(1000).expect("list").len(), 60);
    }
}
