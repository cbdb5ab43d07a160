//! Group commit of accepted calls: one thread per queue takes every call
//! waiting and hands them to the store as one batch (one append to its
//! journal and one fsync for the embedded store).
//!
//! Calls come from the ingress's async workers over a channel and get their
//! outcome back on a oneshot: a call costs the thread no wake-up of its
//! own when others are waiting, and none of the workers' threads blocks.
//! This replaced a group commit inside the embedded store, reached through
//! `spawn_blocking`, where every call woke a blocking thread and every
//! commit woke every waiting one: `cargo bench --bench queue` spent most of
//! the acceptance's CPU switching threads (the commit's numbers are in its
//! message).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;

use super::{Delivery, Enqueued, Store, StoreError};

/// The most calls committed together: more wait for the next commit.
const MAX_BATCH: usize = 512;

/// The most bytes of bodies committed together (a batch takes at least
/// one call, whatever its size).
const MAX_BATCH_BYTES: usize = 16 << 20;

/// A call waiting for the commit, and where its outcome goes.
struct Accepting {
    delivery: Delivery,
    max_pending: u64,
    /// Dropped once the call is committed: its caller's share of the
    /// memory budget, so that a call whose caller has gone still counts.
    hold: Box<dyn Send>,
    done: tokio::sync::oneshot::Sender<Result<(Enqueued, Delivery), StoreError>>,
}

/// The committing thread of one queue. Dropping it waits for the batch
/// being committed, then the thread ends and lets go of the store.
pub(super) struct Committer {
    calls: Option<mpsc::Sender<Accepting>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Committer {
    /// Starts the thread that commits for `store`; `wake` is notified
    /// after each batch that stored a call (the delivery worker).
    pub(super) fn start(
        store: Arc<dyn Store>,
        wake: Arc<tokio::sync::Notify>,
    ) -> std::io::Result<Committer> {
        let (calls, waiting) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("realm-queue-commit".into())
            .spawn(move || run(&*store, &waiting, &wake))?;
        Ok(Committer {
            calls: Some(calls),
            thread: Some(thread),
        })
    }

    /// Stores `delivery` with the calls waiting beside it, unless
    /// `max_pending` deliveries are pending: what became of it, and the
    /// delivery with its `seq`. `hold` is dropped after the commit.
    pub(super) async fn accept(
        &self,
        delivery: Delivery,
        max_pending: u64,
        hold: Box<dyn Send>,
    ) -> Result<(Enqueued, Delivery), StoreError> {
        let stopped = || StoreError("the queue's committing thread has stopped".into());
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.calls
            .as_ref()
            .ok_or_else(stopped)?
            .send(Accepting {
                delivery,
                max_pending,
                hold,
                done,
            })
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // The thread ends when its channel does; its store (a redb file,
        // locked while open) is let go before this returns.
        drop(self.calls.take());
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// How long the thread sleeps, once a batch, for more calls when no more
/// than the last batch had are there and that batch had several (calls
/// are coming in together).
const LINGER: std::time::Duration = std::time::Duration::from_micros(200);

/// Commits what waits, batch after batch, until every sender is gone.
fn run(store: &dyn Store, waiting: &mpsc::Receiver<Accepting>, wake: &tokio::sync::Notify) {
    let mut carried: Option<Accepting> = None;
    let mut last = 0;
    loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match waiting.recv() {
                Ok(first) => first,
                Err(_) => return,
            },
        };
        let mut bytes = first.delivery.body.len();
        let mut batch = vec![first];
        // Under load, the next calls are a moment away: after a batch of
        // several, one commit (an fsync) for one more call than it had
        // costs less than one more commit.
        // The thread sleeps through the linger once rather than waiting
        // on the channel: a wait there was woken (a futex wake by the
        // sender, a switch to this thread) by each call that came.
        let mut linger = last > 1;
        while batch.len() < MAX_BATCH {
            let next = match waiting.try_recv() {
                Ok(next) => next,
                Err(mpsc::TryRecvError::Empty) if linger && batch.len() <= last => {
                    linger = false;
                    std::thread::sleep(LINGER);
                    continue;
                }
                Err(_) => break,
            };
            bytes += next.delivery.body.len();
            if bytes > MAX_BATCH_BYTES {
                carried = Some(next);
                break;
            }
            batch.push(next);
        }
        last = batch.len();
        commit(store, batch, wake);
    }
}

/// Commits one batch and answers its callers.
fn commit(store: &dyn Store, batch: Vec<Accepting>, wake: &tokio::sync::Notify) {
    let mut calls = Vec::with_capacity(batch.len());
    let mut answers = Vec::with_capacity(batch.len());
    for a in batch {
        calls.push((a.delivery, a.max_pending));
        answers.push((a.hold, a.done));
    }
    // A store that panics fails this batch's calls, not every call after
    // it: the thread goes on with the next batch.
    let outcomes = std::panic::catch_unwind(AssertUnwindSafe(|| store.enqueue_batch(&mut calls)))
        .unwrap_or_else(|_| {
            tracing::error!("a commit of the queue panicked: its calls were refused");
            calls
                .iter()
                .map(|_| Err(StoreError("a commit of the queue panicked".into())))
                .collect()
        });
    // One wake-up of the worker a batch at most, not one a call; none
    // when the store says its lanes find the calls on their own.
    if outcomes.iter().any(|o| matches!(o, Ok(Enqueued::Stored))) && store.worker_needed() {
        wake.notify_one();
    }
    for (((delivery, _), outcome), (hold, done)) in calls.into_iter().zip(outcomes).zip(answers) {
        let id = delivery.id.clone();
        // A caller that went away meanwhile finds its call queued all
        // the same (its client can look it up by id); one that failed is
        // logged, as nobody else hears of it.
        if let Err(Err(e)) = done.send(outcome.map(|enqueued| (enqueued, delivery))) {
            tracing::error!("call {id} was not queued, and its caller has gone: {e}");
        }
        drop(hold);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Embedded, Policy, Queue};
    use super::*;

    fn delivery(id: &str) -> Delivery {
        crate::queue::delivery::fixture(id, "account", 0)
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
                tokio::spawn(
                    async move { queue.accept(delivery(&format!("d{i}")), Box::new(())).await },
                )
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

    /// An embedded store whose next batch panics (a bug or a damaged file
    /// inside the store), once.
    #[derive(Debug)]
    struct PanicsOnce {
        inner: Embedded,
        armed: std::sync::atomic::AtomicBool,
    }

    impl Store for PanicsOnce {
        fn enqueue_within(&self, d: &mut Delivery, max: u64) -> Result<Enqueued, StoreError> {
            self.inner.enqueue_within(d, max)
        }
        fn enqueue_batch(
            &self,
            batch: &mut [(Delivery, u64)],
        ) -> Vec<Result<Enqueued, StoreError>> {
            if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
                panic!("a store's bug, once");
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            self.inner.enqueue_batch(batch)
        }
        fn get(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
            self.inner.get(id)
        }
        fn update(&self, d: &Delivery) -> Result<(), StoreError> {
            self.inner.update(d)
        }
        fn claim(&self, b: &Delivery, a: &Delivery) -> Result<bool, StoreError> {
            self.inner.claim(b, a)
        }
        fn remove(&self, id: &str) -> Result<bool, StoreError> {
            self.inner.remove(id)
        }
        fn pending_targets(&self) -> Result<Vec<String>, StoreError> {
            self.inner.pending_targets()
        }
        fn depths(&self) -> Result<Vec<super::super::Depth>, StoreError> {
            self.inner.depths()
        }
        fn next_for(&self, t: &str) -> Result<Option<Delivery>, StoreError> {
            self.inner.next_for(t)
        }
        fn list(&self, l: usize) -> Result<Vec<Delivery>, StoreError> {
            self.inner.list(l)
        }
        fn recover(&self) -> Result<usize, StoreError> {
            self.inner.recover()
        }
        fn remembered(&self, k: &str) -> Result<Option<super::super::Remembered>, StoreError> {
            self.inner.remembered(k)
        }
        fn remember(&self, k: &str, r: &super::super::Remembered) -> Result<(), StoreError> {
            self.inner.remember(k, r)
        }
        fn forget_before(&self, b: u64) -> Result<usize, StoreError> {
            self.inner.forget_before(b)
        }
        fn forget_ended_before(&self, b: u64) -> Result<usize, StoreError> {
            self.inner.forget_ended_before(b)
        }
    }

    /// One panic inside the store fails that batch's calls, not every
    /// call the process accepts afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_one_commit_does_not_stop_queueing_for_good() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(PanicsOnce {
            inner: Embedded::open(&dir.path().join("q.redb")).expect("open"),
            armed: true.into(),
        });
        let queue = Queue::with_store(
            store.clone(),
            Vec::new(),
            Policy::default(),
            std::time::Duration::from_secs(60),
        );
        assert!(
            queue.accept(delivery("first"), Box::new(())).await.is_err(),
            "the batch that panicked fails"
        );
        let second = queue.accept(delivery("second"), Box::new(())).await;
        assert!(
            matches!(second, Ok((Enqueued::Stored, _))),
            "a later call is queued again: {second:?}"
        );
    }

    /// A queue dropped while its thread commits lets go of the store (the
    /// redb file, locked while open) before the drop returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_queue_lets_go_of_its_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("q.redb");
        let store: Arc<dyn Store> = Arc::new(PanicsOnce {
            inner: Embedded::open(&path).expect("open"),
            armed: false.into(),
        });
        let queue = Arc::new(Queue::with_store(
            store,
            Vec::new(),
            Policy::default(),
            std::time::Duration::from_secs(60),
        ));
        // A client that goes away while its call is being committed.
        let call = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.accept(delivery("gone"), Box::new(())).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        call.abort();
        let _ = call.await;
        drop(queue);
        let reopened = Embedded::open(&path);
        assert!(reopened.is_ok(), "{:?}", reopened.err());
    }
}
