//! Upstreams: the runners and other realms' ingresses a call goes to, each
//! with its own concurrency limit, health and counters.
//!
//! Health is judged by transport failures only (cannot connect, connection
//! broken, no answer in time): an answer of any status means the upstream
//! is there. After a failure the upstream is *backing off*: calls to it are
//! refused at once (503 with `Retry-After`) for 1 s, doubling with every
//! further failure up to 60 s. When the wait is over one call goes through
//! as a probe while the others still fail fast; its success resets the
//! upstream, its failure doubles the wait.
//!
//! The concurrency limit is per upstream, so one slow realm fills only its
//! own slots and calls to other upstreams go on.
//!
//! This module keeps state; it never does I/O.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The first wait after a failure.
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What kind of upstream this is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The runner of a local module.
    Runner,
    /// Another realm's ingress.
    Realm,
    /// The hub, relaying to realms without an endpoint.
    Hub,
    /// A kind this version does not know, read from a newer ingress's
    /// `/status` (an ingress never reports it).
    #[serde(other)]
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Runner => "runner",
            Kind::Realm => "realm",
            Kind::Hub => "hub",
            Kind::Other => "other",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known of an upstream's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No call has been answered or failed since the ingress started.
    Unknown,
    /// The last call was answered.
    Up,
    /// A call failed in transport: calls fail fast until the wait is over.
    BackingOff,
    /// The wait is over: the next call (or the one in flight) tries again.
    Probing,
    /// A state this version does not know, read from a newer ingress's
    /// `/status` (an ingress never reports it).
    #[serde(other)]
    Other,
}

impl State {
    /// As `realm status` shows it: `backing off`.
    pub fn words(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::BackingOff => "backing off",
            State::Probing => "probing",
            State::Other => "other",
        }
    }
}

#[derive(Debug, Default)]
struct Health {
    /// Failures since the last success.
    failures: u32,
    /// Calls fail fast until then.
    until: Option<Instant>,
    /// A probe is out after the wait ended.
    probing: bool,
    /// Which probe: a permit clears `probing` only for its own probe.
    probe_id: u64,
    last_latency: Option<Duration>,
    last_error: Option<String>,
}

/// One upstream.
#[derive(Debug)]
pub struct Upstream {
    pub kind: Kind,
    /// The module or realm name.
    pub name: String,
    /// Its base URL.
    pub endpoint: String,
    limit: usize,
    slots: Semaphore,
    health: Mutex<Health>,
    sent: AtomicU64,
    failed: AtomicU64,
}

/// Why a call may not go to an upstream now.
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// It failed recently; retry after this long.
    BackingOff { retry_after: Duration },
    /// All its slots are taken.
    Busy { limit: usize },
}

/// Leave to send one call: holds a concurrency slot until dropped. A probe
/// dropped without an outcome (the caller went away mid-call) lets the next
/// call probe instead, so an upstream never stays "probing" for good.
#[derive(Debug)]
pub struct Permit<'a> {
    upstream: &'a Upstream,
    _slot: SemaphorePermit<'a>,
    started: Instant,
    /// This call is the probe after a wait: its id.
    probe: Option<u64>,
    /// `succeeded` or `failed` was called.
    resolved: bool,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.probe
            && !self.resolved
        {
            let mut h = self.upstream.health();
            if h.probe_id == id {
                h.probing = false;
            }
        }
    }
}

/// A snapshot for `/status` and `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpstreamStatus {
    pub kind: Kind,
    pub name: String,
    pub endpoint: String,
    pub state: State,
    /// While backing off: milliseconds until the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_latency_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default)]
    pub in_flight: u64,
    #[serde(default)]
    pub limit: u64,
    #[serde(default)]
    pub sent: u64,
    #[serde(default)]
    pub failed: u64,
}

impl Upstream {
    pub fn new(kind: Kind, name: &str, endpoint: &str, limit: usize) -> Upstream {
        Upstream {
            kind,
            name: name.to_string(),
            endpoint: endpoint.to_string(),
            limit,
            slots: Semaphore::new(limit),
            health: Mutex::new(Health::default()),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leave to send a call now, or why not. `probe_anyway` lets a call
    /// through while backing off (a retry that waited on its own).
    pub fn acquire(&self, now: Instant, probe_anyway: bool) -> Result<Permit<'_>, Unavailable> {
        let mut probe = None;
        {
            let mut h = self.health();
            if let Some(until) = h.until
                && !probe_anyway
            {
                if now < until {
                    return Err(Unavailable::BackingOff {
                        retry_after: until - now,
                    });
                }
                if h.probing {
                    return Err(Unavailable::BackingOff {
                        retry_after: MIN_BACKOFF,
                    });
                }
                h.probing = true;
                h.probe_id += 1;
                probe = Some(h.probe_id);
            }
        }
        match self.slots.try_acquire() {
            Ok(slot) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                Ok(Permit {
                    upstream: self,
                    _slot: slot,
                    started: now,
                    probe,
                    resolved: false,
                })
            }
            Err(_) => {
                // No slot: the probe we just allowed did not go out.
                if let Some(id) = probe {
                    let mut h = self.health();
                    if h.probe_id == id {
                        h.probing = false;
                    }
                }
                Err(Unavailable::Busy { limit: self.limit })
            }
        }
    }

    /// The call got an answer (any status).
    pub fn succeeded(&self, mut permit: Permit<'_>) {
        permit.resolved = true;
        let latency = permit.started.elapsed();
        let mut h = self.health();
        h.failures = 0;
        h.until = None;
        h.probing = false;
        h.last_latency = Some(latency);
        h.last_error = None;
    }

    /// The call failed in transport; the upstream backs off. The wait
    /// doubles only when the probe fails (or at the first failure): calls
    /// that were already in flight and fail with it do not add to it.
    /// Returns the time left to wait.
    pub fn failed(&self, mut permit: Permit<'_>, error: &str, now: Instant) -> Duration {
        self.failed.fetch_add(1, Ordering::Relaxed);
        permit.resolved = true;
        let probe = permit.probe;
        drop(permit);
        let mut h = self.health();
        h.last_error = Some(error.to_string());
        let own_probe = probe.is_some_and(|id| id == h.probe_id);
        if h.until.is_none() || own_probe {
            h.failures = h.failures.saturating_add(1);
            h.until = Some(now + backoff(h.failures));
            if own_probe {
                h.probing = false;
            }
        }
        h.until
            .map_or(MIN_BACKOFF, |until| until.saturating_duration_since(now))
    }

    pub fn status(&self, now: Instant) -> UpstreamStatus {
        let h = self.health();
        let in_flight = (self.limit - self.slots.available_permits()) as u64;
        let (state, retry_in) = match h.until {
            // Never answered, never failed: nothing is known about it yet.
            None if h.last_latency.is_none() => (State::Unknown, None),
            None => (State::Up, None),
            Some(_) if h.probing => (State::Probing, None),
            Some(until) if now < until => (State::BackingOff, Some(until - now)),
            Some(_) => (State::Probing, None),
        };
        UpstreamStatus {
            kind: self.kind,
            name: self.name.clone(),
            endpoint: self.endpoint.clone(),
            state,
            retry_in_ms: retry_in.map(|d| d.as_millis() as u64),
            last_latency_us: h.last_latency.map(|d| d.as_micros() as u64),
            last_error: h.last_error.clone(),
            consecutive_failures: h.failures,
            in_flight,
            limit: self.limit as u64,
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// The wait after `failures` consecutive failures: 1 s, 2 s, 4 s, ... 60 s.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(6);
    (MIN_BACKOFF * (1u32 << doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_is_unknown_until_a_call_is_answered() {
        let u = Upstream::new(Kind::Runner, "checkout", "http://checkout", 4);
        let t0 = Instant::now();
        assert_eq!(u.status(t0).state, State::Unknown);
        let p = u.acquire(t0, false).expect("slot");
        assert_eq!(
            u.status(t0).state,
            State::Unknown,
            "a call in flight tells nothing yet"
        );
        u.succeeded(p);
        assert_eq!(u.status(t0).state, State::Up);

        let never_up = Upstream::new(Kind::Realm, "bank", "http://bank", 4);
        let p = never_up.acquire(t0, false).expect("slot");
        never_up.failed(p, "refused", t0);
        assert_eq!(never_up.status(t0).state, State::BackingOff);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn a_failure_makes_calls_fail_fast_until_one_probe_succeeds() {
        let u = Upstream::new(Kind::Realm, "bank", "http://bank", 4);
        let t0 = Instant::now();
        let p = u.acquire(t0, false).expect("up");
        assert_eq!(u.failed(p, "refused", t0), Duration::from_secs(1));
        match u.acquire(t0, false) {
            Err(Unavailable::BackingOff { retry_after }) => {
                assert!(retry_after <= Duration::from_secs(1) && retry_after > Duration::ZERO)
            }
            other => panic!("expected backing off, got {other:?}"),
        }
        assert_eq!(u.status(t0).state, State::BackingOff);
        // The wait is over: one probe, the others still fail fast.
        let later = t0 + Duration::from_secs(2);
        let probe = u.acquire(later, false).expect("probe");
        assert!(matches!(
            u.acquire(later, false),
            Err(Unavailable::BackingOff { .. })
        ));
        // The probe fails: the wait doubles.
        assert_eq!(u.failed(probe, "refused", later), Duration::from_secs(2));
        let much_later = later + Duration::from_secs(3);
        let probe = u.acquire(much_later, false).expect("probe");
        u.succeeded(probe);
        assert!(u.acquire(much_later, false).is_ok());
        let s = u.status(much_later);
        assert_eq!((s.state, s.sent, s.failed), (State::Up, 4, 2));
    }

    #[test]
    fn a_probe_dropped_without_an_outcome_lets_the_next_call_probe() {
        let u = Upstream::new(Kind::Runner, "checkout", "http://checkout", 4);
        let t0 = Instant::now();
        let p = u.acquire(t0, false).expect("up");
        u.failed(p, "refused", t0);
        let later = t0 + Duration::from_secs(2);
        let probe = u.acquire(later, false).expect("probe");
        assert!(u.acquire(later, false).is_err());
        // The caller disconnects: the handler future, and the permit, drop.
        drop(probe);
        let probe = u.acquire(later, false).expect("a new probe");
        u.succeeded(probe);
        assert_eq!(u.status(later).state, State::Up);
    }

    #[test]
    fn calls_failing_together_count_as_one_failure() {
        let u = Upstream::new(Kind::Realm, "bank", "http://bank", 16);
        let t0 = Instant::now();
        let permits: Vec<Permit<'_>> = (0..10)
            .map(|_| u.acquire(t0, false).expect("slot"))
            .collect();
        let waits: Vec<Duration> = permits
            .into_iter()
            .map(|p| u.failed(p, "refused", t0))
            .collect();
        assert!(
            waits.iter().all(|w| *w == Duration::from_secs(1)),
            "{waits:?}"
        );
        assert_eq!(u.status(t0).consecutive_failures, 1);
    }

    #[test]
    fn an_old_probe_does_not_clear_a_newer_one() {
        let u = Upstream::new(Kind::Realm, "bank", "http://bank", 16);
        let t0 = Instant::now();
        let p = u.acquire(t0, false).expect("slot");
        u.failed(p, "refused", t0);
        let t1 = t0 + Duration::from_secs(2);
        let a = u.acquire(t1, false).expect("probe a");
        u.failed(a, "refused", t1); // waits 2 s
        let t2 = t1 + Duration::from_secs(3);
        let c = u.acquire(t2, false).expect("probe c");
        let b = u.acquire(t2, true).expect("a retry");
        drop(b);
        assert!(u.acquire(t2, false).is_err(), "a second probe went out");
        drop(c);
        assert!(u.acquire(t2, false).is_ok());
    }

    #[test]
    fn the_concurrency_limit_is_per_upstream() {
        let slow = Upstream::new(Kind::Realm, "slow", "http://slow", 2);
        let other = Upstream::new(Kind::Realm, "other", "http://other", 2);
        let now = Instant::now();
        let a = slow.acquire(now, false).expect("slot");
        let _b = slow.acquire(now, false).expect("slot");
        assert_eq!(
            slow.acquire(now, false).err(),
            Some(Unavailable::Busy { limit: 2 })
        );
        assert!(other.acquire(now, false).is_ok());
        assert_eq!(slow.status(now).in_flight, 2);
        slow.succeeded(a);
        assert!(slow.acquire(now, false).is_ok());
    }
}
