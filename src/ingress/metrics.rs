//! Prometheus metrics of the ingress, kept and written by
//! `prometheus-client` in the text exposition format 0.0.4.
//!
//! [`Metrics`] counts finished calls per called realm, module, verb and
//! status, with a latency histogram per verb; refusals per reason code; and
//! renders those, plus the upstream states the caller samples at scrape
//! time ([`UpstreamSample`]), as one text page.
//!
//! [`Metrics::call`] is on the hot path of every request: the labels of a
//! `(realm, module, verb)` are made once, the first time it is seen, and
//! kept with its histogram; after that a call finds them by borrowed
//! `&str` keys without allocating, counts its status in the library's
//! family and observes its latency.
//!
//! What this module must never do:
//! - any I/O: it neither logs nor serves; the server calls [`Metrics::render`]
//!   and writes the page with [`CONTENT_TYPE`];
//! - make up label values: every label value comes from the caller.
//!
//! **Cardinality contract.** Every series lives for the life of the
//! process, so the set of label values must be bounded. Callers must pass
//! only *known* names: `realm`, `module` and `verb` of [`Metrics::call`] are
//! names found in the schema (a verb that was resolved), never raw segments
//! of a request path; a call to an unknown realm, module or verb is counted
//! with [`Metrics::refusal`] instead, whose reason is a `&'static str` code
//! so that it cannot carry request data. Upstream names and endpoints come
//! from the configuration. Under this contract no attacker-chosen URL path
//! can create a series.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use rustc_hash::FxHashMap;

/// The `Content-Type` of [`Metrics::render`]'s page.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the latency buckets, in seconds; `+Inf` follows.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One state of one upstream, sampled by the caller at render time.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamSample<'a> {
    /// E.g. `realm:bank` or `runner:checkout`.
    pub name: &'a str,
    pub endpoint: &'a str,
    /// False while backing off.
    pub up: bool,
    pub in_flight: u64,
    pub sent: u64,
    pub failed: u64,
    pub last_latency: Option<Duration>,
}

/// The queued calls of one target, sampled by the caller at render time
/// (names from deliveries, which were routed to known verbs when they
/// were accepted: see the cardinality contract).
#[derive(Debug, Clone, Copy)]
pub struct QueueSample<'a> {
    pub verb: VerbName<'a>,
    /// Deliveries queued or being sent.
    pub pending: u64,
    /// How long the first of them has waited.
    pub oldest_age: Duration,
}

/// What the delivery worker did since the process started.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryCounts {
    pub delivered: u64,
    pub failed: u64,
    pub expired: u64,
    /// Attempts after a delivery's first.
    pub redelivered: u64,
}

/// The queue of an ingress that has one, sampled at render time.
#[derive(Debug, Clone, Copy)]
pub struct QueueSamples<'a> {
    pub targets: &'a [QueueSample<'a>],
    pub counts: DeliveryCounts,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// A verb by its names in the schema (never raw segments of a request
/// path: see the module's cardinality contract).
#[derive(Clone, Copy, Debug)]
pub struct VerbName<'a> {
    pub realm: &'a str,
    pub module: &'a str,
    pub verb: &'a str,
}

/// The labels of one verb: `realm`, `module`, `verb`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    realm: String,
    module: String,
    verb: String,
}

/// A verb's labels, shared by its series (made once per verb).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct VerbKey(Arc<VerbLabels>);

impl EncodeLabelSet for VerbKey {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
    endpoint: String,
}

/// What a seen verb keeps: its labels and its histogram.
#[derive(Debug)]
struct Seen {
    key: VerbKey,
    duration: Histogram,
}

type Verbs = FxHashMap<Box<str>, Arc<Seen>>;
type Modules = FxHashMap<Box<str>, Verbs>;
type Realms = FxHashMap<Box<str>, Modules>;

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The metrics of one ingress. `Send + Sync`: share it as an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    /// This ingress's realm.
    realm: String,
    /// The verbs seen, by called realm, module and verb: nested so that a
    /// lookup by `&str` does not allocate.
    seen: RwLock<Realms>,
    calls: Family<(VerbKey, Status), Counter>,
    durations: Family<VerbKey, Histogram, fn() -> Histogram>,
    refusals: Family<Reason, Counter>,
}

impl Metrics {
    /// The metrics of the ingress of `realm`.
    pub fn new(realm: &str) -> Metrics {
        Metrics {
            realm: realm.to_string(),
            seen: RwLock::new(FxHashMap::default()),
            calls: Family::default(),
            durations: Family::new_with_constructor(histogram),
            refusals: Family::default(),
        }
    }

    /// One finished call routed to a known verb (`realm`, `module`, `verb`
    /// are names from the schema, never from the request path: see the
    /// module's cardinality contract).
    pub fn call(&self, verb: VerbName<'_>, status: u16, elapsed: Duration) {
        let seen = self.seen(verb);
        self.calls
            .get_or_create(&(seen.key.clone(), Status { status }))
            .inc();
        seen.duration.observe(elapsed.as_secs_f64());
    }

    /// The labels and histogram of a verb, made the first time it is seen.
    fn seen(&self, name: VerbName<'_>) -> Arc<Seen> {
        let VerbName {
            realm,
            module,
            verb,
        } = name;
        {
            let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = seen
                .get(realm)
                .and_then(|m| m.get(module))
                .and_then(|v| v.get(verb))
            {
                return s.clone();
            }
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        seen.entry(realm.into())
            .or_default()
            .entry(module.into())
            .or_default()
            .entry(verb.into())
            .or_insert_with(|| {
                let key = VerbKey(Arc::new(VerbLabels {
                    realm: realm.to_string(),
                    module: module.to_string(),
                    verb: verb.to_string(),
                }));
                let duration = self.durations.get_or_create_owned(&key);
                Arc::new(Seen { key, duration })
            })
            .clone()
    }

    /// One call refused or failed, by reason code (such as `unknown_verb`,
    /// `unsigned`, `loop`).
    pub fn refusal(&self, code: &'static str) {
        self.refusals.get_or_create(&Reason { reason: code }).inc();
    }

    /// Renders everything, plus the given upstream states, as Prometheus
    /// text (format 0.0.4), families in a fixed order.
    pub fn render(&self, upstreams: &[UpstreamSample]) -> String {
        self.render_with(upstreams, None)
    }

    /// [`Metrics::render`], plus the queue's state when there is a queue.
    pub fn render_with(
        &self,
        upstreams: &[UpstreamSample],
        queue: Option<QueueSamples<'_>>,
    ) -> String {
        let mut registry = Registry::default();
        registry.register(
            "realm_ingress",
            "This ingress: its realm",
            Info::new(vec![("realm", self.realm.clone())]),
        );
        registry.register(
            "realm_calls",
            "Calls routed to a known verb, by called realm, module, verb and status",
            self.calls.clone(),
        );
        registry.register(
            "realm_call_duration_seconds",
            "Duration of calls routed to a known verb, by called realm, module and verb",
            self.durations.clone(),
        );
        registry.register(
            "realm_refusals",
            "Calls refused or failed, by reason code",
            self.refusals.clone(),
        );

        // Upstream states are sampled now, into families made for this page.
        let up = Family::<UpstreamLabels, Gauge>::default();
        let in_flight = Family::<UpstreamLabels, Gauge>::default();
        let sent = Family::<UpstreamLabels, Counter>::default();
        let failed = Family::<UpstreamLabels, Counter>::default();
        let latency = Family::<UpstreamLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for u in upstreams {
            let labels = UpstreamLabels {
                upstream: u.name.to_string(),
                endpoint: u.endpoint.to_string(),
            };
            up.get_or_create(&labels).set(i64::from(u.up));
            in_flight
                .get_or_create(&labels)
                .set(i64::try_from(u.in_flight).unwrap_or(i64::MAX));
            sent.get_or_create(&labels).inc_by(u.sent);
            failed.get_or_create(&labels).inc_by(u.failed);
            if let Some(last) = u.last_latency {
                latency.get_or_create(&labels).set(last.as_secs_f64());
            }
        }
        registry.register(
            "realm_upstream_up",
            "Whether the upstream takes calls (0 while backing off)",
            up,
        );
        registry.register(
            "realm_upstream_in_flight",
            "Calls in flight to the upstream",
            in_flight,
        );
        registry.register("realm_upstream_calls", "Calls sent to the upstream", sent);
        registry.register(
            "realm_upstream_failures",
            "Calls to the upstream that failed",
            failed,
        );
        registry.register(
            "realm_upstream_last_latency_seconds",
            "Latency of the last call to the upstream",
            latency,
        );

        if let Some(queue) = queue {
            register_queue(&mut registry, queue);
        }

        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }
}

/// The queue's families, made for this page.
fn register_queue(registry: &mut Registry, queue: QueueSamples<'_>) {
    let pending = Family::<VerbLabels, Gauge>::default();
    let oldest = Family::<VerbLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for t in queue.targets {
        let labels = VerbLabels {
            realm: t.verb.realm.to_string(),
            module: t.verb.module.to_string(),
            verb: t.verb.verb.to_string(),
        };
        pending
            .get_or_create(&labels)
            .set(i64::try_from(t.pending).unwrap_or(i64::MAX));
        oldest
            .get_or_create(&labels)
            .set(t.oldest_age.as_secs_f64());
    }
    registry.register(
        "realm_queued_calls",
        "Queued calls not yet delivered, failed or expired (queued or being sent), by target realm, module and verb",
        pending,
    );
    registry.register(
        "realm_queued_oldest_age_seconds",
        "How long the first queued call of the target has waited",
        oldest,
    );
    let ended = Family::<Outcome, Counter>::default();
    let counts = queue.counts;
    for (outcome, n) in [
        ("delivered", counts.delivered),
        ("failed", counts.failed),
        ("expired", counts.expired),
    ] {
        ended.get_or_create(&Outcome { outcome }).inc_by(n);
    }
    registry.register(
        "realm_deliveries",
        "Queued calls this process's worker ended, by outcome (delivered, failed, expired)",
        ended,
    );
    let redelivered = Counter::<u64>::default();
    redelivered.inc_by(counts.redelivered);
    registry.register(
        "realm_redeliveries",
        "Attempts at queued calls after their first (after a failed attempt, or sent again after a restart)",
        redelivered,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name<'a>(realm: &'a str, module: &'a str, verb: &'a str) -> VerbName<'a> {
        VerbName {
            realm,
            module,
            verb,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The value of the line that starts with `series ` (name and labels).
    fn value(page: &str, series: &str) -> Option<String> {
        page.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
            .map(str::to_string)
    }

    fn sample<'a>(name: &'a str, endpoint: &'a str) -> UpstreamSample<'a> {
        UpstreamSample {
            name,
            endpoint,
            up: true,
            in_flight: 0,
            sent: 0,
            failed: 0,
            last_latency: None,
        }
    }

    #[test]
    fn the_queue_is_on_the_page_when_there_is_one() {
        let m = Metrics::new("shop");
        assert!(!m.render(&[]).contains("realm_queued"));
        let targets = [QueueSample {
            verb: name("bank", "ledger", "Debit"),
            pending: 7,
            oldest_age: Duration::from_millis(2500),
        }];
        let counts = DeliveryCounts {
            delivered: 3,
            failed: 1,
            expired: 0,
            redelivered: 4,
        };
        let page = m.render_with(
            &[],
            Some(QueueSamples {
                targets: &targets,
                counts,
            }),
        );
        let labels = r#"{realm="bank",module="ledger",verb="Debit"}"#;
        assert_eq!(
            value(&page, &format!("realm_queued_calls{labels}")).as_deref(),
            Some("7"),
            "{page}"
        );
        assert_eq!(
            value(&page, &format!("realm_queued_oldest_age_seconds{labels}")).as_deref(),
            Some("2.5")
        );
        for (series, n) in [
            (r#"realm_deliveries_total{outcome="delivered"}"#, "3"),
            (r#"realm_deliveries_total{outcome="failed"}"#, "1"),
            (r#"realm_deliveries_total{outcome="expired"}"#, "0"),
            ("realm_redeliveries_total", "4"),
        ] {
            assert_eq!(value(&page, series).as_deref(), Some(n), "{series}\n{page}");
        }
    }

    #[test]
    fn a_page_has_the_families_names_and_values_scrapers_read() {
        let m = Metrics::new("shop");
        m.call(
            name("bank", "ledger", "Debit"),
            200,
            Duration::from_micros(700),
        );
        m.call(name("bank", "ledger", "Debit"), 502, ms(30));
        m.refusal("unsigned");
        m.refusal("unknown_verb");
        m.refusal("unsigned");
        let upstreams = [
            UpstreamSample {
                up: false,
                sent: 7,
                failed: 3,
                ..sample("runner:checkout", "http://127.0.0.1:9001")
            },
            UpstreamSample {
                in_flight: 2,
                sent: 40,
                failed: 1,
                last_latency: Some(Duration::from_micros(1500)),
                ..sample("realm:bank", "https://bank.example:8443")
            },
        ];
        let page = m.render(&upstreams);
        let debit = r#"realm="bank",module="ledger",verb="Debit""#;
        let bank = r#"upstream="realm:bank",endpoint="https://bank.example:8443""#;
        let checkout = r#"upstream="runner:checkout",endpoint="http://127.0.0.1:9001""#;
        for (series, expected) in [
            (r#"realm_ingress_info{realm="shop"}"#.to_string(), "1"),
            (format!(r#"realm_calls_total{{{debit},status="200"}}"#), "1"),
            (format!(r#"realm_calls_total{{{debit},status="502"}}"#), "1"),
            (
                format!(r#"realm_call_duration_seconds_bucket{{{debit},le="0.0005"}}"#),
                "0",
            ),
            (
                format!(r#"realm_call_duration_seconds_bucket{{{debit},le="0.001"}}"#),
                "1",
            ),
            (
                format!(r#"realm_call_duration_seconds_bucket{{{debit},le="0.05"}}"#),
                "2",
            ),
            (
                format!(r#"realm_call_duration_seconds_bucket{{{debit},le="+Inf"}}"#),
                "2",
            ),
            (
                format!(r#"realm_call_duration_seconds_count{{{debit}}}"#),
                "2",
            ),
            (
                r#"realm_refusals_total{reason="unsigned"}"#.to_string(),
                "2",
            ),
            (
                r#"realm_refusals_total{reason="unknown_verb"}"#.to_string(),
                "1",
            ),
            (format!("realm_upstream_up{{{bank}}}"), "1"),
            (format!("realm_upstream_up{{{checkout}}}"), "0"),
            (format!("realm_upstream_in_flight{{{bank}}}"), "2"),
            (format!("realm_upstream_calls_total{{{bank}}}"), "40"),
            (format!("realm_upstream_calls_total{{{checkout}}}"), "7"),
            (format!("realm_upstream_failures_total{{{checkout}}}"), "3"),
            (
                format!("realm_upstream_last_latency_seconds{{{bank}}}"),
                "0.0015",
            ),
        ] {
            assert_eq!(
                value(&page, &series).as_deref(),
                Some(expected),
                "{series}\n{page}"
            );
        }
        let sum: f64 = value(
            &page,
            &format!("realm_call_duration_seconds_sum{{{debit}}}"),
        )
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0);
        assert!((sum - 0.0307).abs() < 1e-9, "{sum}\n{page}");
        // No latency yet: no series, rather than a made-up 0.
        assert!(
            !page.contains(&format!(
                "realm_upstream_last_latency_seconds{{{checkout}}}"
            )),
            "{page}"
        );
        for (family, kind) in [
            ("realm_ingress_info", "gauge"),
            ("realm_calls_total", "counter"),
            ("realm_call_duration_seconds", "histogram"),
            ("realm_refusals_total", "counter"),
            ("realm_upstream_up", "gauge"),
            ("realm_upstream_in_flight", "gauge"),
            ("realm_upstream_calls_total", "counter"),
            ("realm_upstream_failures_total", "counter"),
            ("realm_upstream_last_latency_seconds", "gauge"),
        ] {
            assert!(
                page.contains(&format!("# TYPE {family} {kind}\n")),
                "{family}\n{page}"
            );
        }
        // Rendering does not change anything.
        assert_eq!(m.render(&upstreams).len(), page.len());
    }

    #[test]
    fn metrics_are_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Metrics>();
        shared::<UpstreamSample<'static>>();
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new("sh\"op");
        m.call(name("a\\b", "m\nn", "v"), 200, ms(1));
        let page = m.render(&[sample("realm:\"x\"", "http://h/\n")]);
        assert!(
            page.contains(r#"realm_ingress_info{realm="sh\"op"} 1"#),
            "{page}"
        );
        assert!(
            page.contains(
                r#"realm_calls_total{realm="a\\b",module="m\nn",verb="v",status="200"} 1"#
            ),
            "{page}"
        );
        assert!(
            page.contains(r#"realm_upstream_up{upstream="realm:\"x\"",endpoint="http://h/\n"} 1"#),
            "{page}"
        );
        assert_eq!(
            page.lines()
                .filter(|l| l.starts_with("realm_calls_total"))
                .count(),
            1
        );
    }

    #[test]
    fn odd_statuses_are_counted() {
        let m = Metrics::new("shop");
        for status in [0, 100, 599, 999, 999] {
            m.call(name("bank", "ledger", "Debit"), status, ms(1));
        }
        let page = m.render(&[]);
        for (status, n) in [(0, "1"), (100, "1"), (599, "1"), (999, "2")] {
            assert_eq!(
                value(
                    &page,
                    &format!(r#"realm_calls_total{{realm="bank",module="ledger",verb="Debit",status="{status}"}}"#)
                )
                .as_deref(),
                Some(n),
                "{page}"
            );
        }
    }

    #[test]
    fn concurrent_calls_are_all_counted() {
        const THREADS: usize = 8;
        const CALLS: usize = 2_000;
        let m = Arc::new(Metrics::new("shop"));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..CALLS {
                        let verb = if i % 2 == 0 { "Debit" } else { "Credit" };
                        m.call(name("bank", "ledger", verb), 200 + (t % 2) as u16, ms(1));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let page = m.render(&[]);
        // The sum of a family's samples over all its label sets.
        let sum = |family: &str| -> u64 {
            page.lines()
                .filter(|l| l.starts_with(family))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .sum()
        };
        let expected = (THREADS * CALLS) as u64;
        assert_eq!(sum("realm_calls_total{"), expected, "{page}");
        assert_eq!(
            sum("realm_call_duration_seconds_count{"),
            expected,
            "{page}"
        );
    }
}
