//! Queued delivery: calls that outlive an outage (issue 29).
//!
//! A call that asks `Prefer: respond-async` (RFC 7240), or names a verb of
//! `[ingress] queued`, is checked by the ingress exactly as a direct call,
//! then handed to the [`Queue`]: stored durably (committed and fsync'd
//! before the `202 Accepted`), then delivered by the [`worker`] with
//! retries, in order per target (realm, module, verb). The receiving
//! ingress answers a repeated `Idempotency-Key` from its store
//! ([`idempotency`]), so a call retried after a crash runs once.
//!
//! One job per file: `delivery.rs` the stored call and its lifecycle;
//! `store.rs` the [`Store`] trait; `commit.rs` the group commit of
//! accepted calls; `embedded.rs` the embedded store (one
//! redb file) and `journal.rs` the journal its accepted calls are
//! appended to before they are moved into its tables; `nats.rs` the shared one (NATS JetStream key-value
//! buckets, `[ingress] store = "nats://..."`); `policy.rs` how deliveries are retried; `worker.rs` the
//! delivery worker; `idempotency.rs` the idempotency records. Never knows
//! about HTTP or the ingress: the ingress implements [`Deliver`].

mod commit;
mod delivery;
mod embedded;
pub mod idempotency;
mod journal;
mod nats;
mod policy;
mod store;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use delivery::{Delivery, Status, StoredReply};
pub use embedded::Embedded;
pub use idempotency::{Begun, Remembered};
pub use nats::{NONCE_WAIT, Nats};
pub use policy::Policy;
pub use store::{Depth, Enqueued, Nonces, Store, StoreError};
pub use worker::{Attempted, Deliver};

use crate::project::Project;

/// Where the embedded store is, relative to the project root, by default.
pub const DEFAULT_STORE: &str = ".realm/ingress.redb";

/// How long a reply is remembered by its `Idempotency-Key`, by default.
pub const DEFAULT_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How many queued calls may be pending (not yet delivered, failed or
/// expired) at once, by default (`[ingress] max-queued`). Ten thousand
/// calls ride out an outage of hours at a steady few calls a second, yet
/// keep the store small (bodies are at most `max-body-size`, 4 MiB by
/// default, and most are well under a KiB: about 10 MB of them), and keep
/// the shared store within what it is made for (it lists keys to find the
/// next delivery: thousands, not millions).
pub const DEFAULT_MAX_QUEUED: u64 = 10_000;

/// The queue of one ingress: its store, which verbs are always queued, the
/// delivery defaults, and the signal that wakes the worker.
pub struct Queue {
    store: Arc<dyn Store>,
    /// `module.verb@realm` of `[ingress] queued`.
    queued: Vec<String>,
    /// `[ingress.delivery]`, for verbs without `+retry`.
    pub defaults: Policy,
    /// `[ingress] idempotency-window`.
    pub idempotency_window: Duration,
    /// `[ingress] max-queued`: past it, calls are refused, not queued.
    pub max_queued: u64,
    /// What the delivery worker of this process did.
    pub stats: Stats,
    /// `[ingress] admin-token-file`'s token: `/deliveries` requires it.
    pub admin_token: Option<String>,
    wake: Arc<tokio::sync::Notify>,
    /// Idempotency keys whose call is running now.
    running: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The thread committing accepted calls, started with the first.
    committer: std::sync::OnceLock<commit::Committer>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("store", &self.store)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// The queue of `project`'s ingress, its store opened (made if absent).
    pub fn open(project: &Project) -> Result<Arc<Queue>, StoreError> {
        let settings = &project.ingress;
        let store: Arc<dyn Store> = match settings.store.as_deref() {
            Some(url) if url.starts_with("nats://") => Arc::new(Nats::open(url, &project.name)?),
            other => Arc::new(Embedded::open(&store_path(&project.root, other))?),
        };
        let mut queue = Queue::with_store(
            store,
            settings.queued.clone(),
            Policy::from_settings(&settings.delivery),
            settings
                .idempotency_window
                .unwrap_or(DEFAULT_IDEMPOTENCY_WINDOW),
        );
        queue.max_queued = settings.max_queued.unwrap_or(DEFAULT_MAX_QUEUED);
        // A token that cannot be read opens no queue (so no `/deliveries`
        // without it), rather than one open to every operator address.
        queue.admin_token = admin_token(project).map_err(|e| StoreError(format!("{e:#}")))?;
        Ok(Arc::new(queue))
    }

    pub fn with_store(
        store: Arc<dyn Store>,
        queued: Vec<String>,
        defaults: Policy,
        idempotency_window: Duration,
    ) -> Queue {
        Queue {
            store,
            queued,
            defaults,
            idempotency_window,
            max_queued: DEFAULT_MAX_QUEUED,
            stats: Stats::default(),
            admin_token: None,
            wake: Arc::new(tokio::sync::Notify::new()),
            running: Default::default(),
            committer: std::sync::OnceLock::new(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether calls of `module.verb` of `realm` are always queued.
    pub fn is_queued(&self, realm: &str, module: &str, verb: &str) -> bool {
        self.queued.iter().any(|q| {
            q.split_once('@')
                .is_some_and(|(mv, r)| r == realm && mv.split_once('.') == Some((module, verb)))
        })
    }

    /// Stores `delivery` durably, committed with the calls accepted at the
    /// same time ([`commit`], which wakes the worker once a batch), unless
    /// [`Queue::max_queued`] calls are pending already: what became of it,
    /// and the delivery with its `seq`.
    ///
    /// `hold` is dropped once the call is committed (or failed to be): the
    /// ingress's share of its memory budget for the call's body.
    pub async fn accept(
        &self,
        delivery: Delivery,
        hold: Box<dyn Send>,
    ) -> Result<(Enqueued, Delivery), StoreError> {
        let committer = match self.committer.get() {
            Some(committer) => committer,
            None => {
                let started = commit::Committer::start(self.store.clone(), self.wake.clone())
                    .map_err(|e| {
                        StoreError(format!("cannot start the queue's committing thread: {e}"))
                    })?;
                // Two first calls at once: one thread is kept, the other
                // ends as its sender is dropped.
                let _ = self.committer.set(started);
                self.committer.get().ok_or_else(|| {
                    StoreError("the queue's committing thread did not start".into())
                })?
            }
        };
        committer.accept(delivery, self.max_queued, hold).await
    }

    /// A delivery by its id.
    pub fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        self.store.get(id)
    }

    /// The pending deliveries of every target (reads the store: call it
    /// off an async worker thread).
    pub fn depths(&self) -> Result<Vec<Depth>, StoreError> {
        self.store.depths()
    }

    /// Every delivery, oldest first, at most `limit`.
    pub fn list(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.store.list(limit)
    }

    /// A failed or expired delivery queued again (`realm deliveries
    /// retry`): tried anew, its attempts and age counted from now. `Ok(None)`
    /// when there is none with this id; an error message when it is not
    /// failed or expired.
    pub fn retry(&self, id: &str) -> Result<Option<Result<Delivery, String>>, StoreError> {
        let Some(mut d) = self.store.get(id)? else {
            return Ok(None);
        };
        if !matches!(d.status, Status::Failed | Status::Expired) {
            return Ok(Some(Err(format!(
                "delivery {id} is {}: only failed or expired deliveries are retried",
                d.status.as_str()
            ))));
        }
        d.status = Status::Queued;
        d.attempts = 0;
        d.created_ms = now_ms();
        d.updated_ms = d.created_ms;
        d.reply = None;
        self.store.update(&d)?;
        self.wake.notify_one();
        Ok(Some(Ok(d)))
    }

    /// Removes a delivery, pending or not (`realm deliveries drop`);
    /// whether there was one. An attempt in flight may still arrive.
    pub fn drop_delivery(&self, id: &str) -> Result<bool, StoreError> {
        self.store.remove(id)
    }
}

/// What the delivery worker of one process did since it started (for
/// `/metrics`; replicas sharing a store count each its own).
#[derive(Debug, Default)]
pub struct Stats {
    /// Deliveries the target answered with success.
    pub delivered: AtomicU64,
    /// Deliveries refused for good, or out of attempts.
    pub failed: AtomicU64,
    /// Deliveries not delivered within their `max-age`.
    pub expired: AtomicU64,
    /// Attempts after a delivery's first (after a failed attempt, or sent
    /// again after a crash).
    pub redelivered: AtomicU64,
}

impl Stats {
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(delivered, failed, expired, redelivered)` now.
    pub fn read(&self) -> [u64; 4] {
        [
            &self.delivered,
            &self.failed,
            &self.expired,
            &self.redelivered,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

/// The bearer token of `[ingress] admin-token-file` (the file's text,
/// trimmed), when the setting is there: what `/deliveries` requires and
/// `realm deliveries` sends.
pub fn admin_token(project: &Project) -> anyhow::Result<Option<String>> {
    let Some(file) = &project.ingress.admin_token_file else {
        return Ok(None);
    };
    let path = match (Path::new(file).strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => project.root.join(file),
    };
    let text = crate::files::read_text(&path)
        .map_err(|e| anyhow::anyhow!("[ingress] admin-token-file: {e:#}"))?;
    let token = text.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        anyhow::bail!(
            "[ingress] admin-token-file: {} must hold a token of printable characters without spaces",
            path.display()
        );
    }
    Ok(Some(token.to_string()))
}

/// Where the embedded store is: `[ingress] store` (relative to the
/// project root), else [`DEFAULT_STORE`].
pub fn store_path(root: &Path, store: Option<&str>) -> PathBuf {
    root.join(store.unwrap_or(DEFAULT_STORE))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
