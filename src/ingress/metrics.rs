//! Prometheus metrics of the ingress, rendered by hand in the text
//! exposition format 0.0.4 (`text/plain; version=0.0.4`).
//!
//! [`Metrics`] counts finished calls per called realm, module, verb and
//! status, with a latency histogram per verb; refusals per reason code; and
//! renders those, plus the upstream states the caller samples at scrape
//! time ([`UpstreamSample`]), as one deterministic text page: families in a
//! fixed order, series sorted by their label values.
//!
//! [`Metrics::call`] is on the hot path of every request: it takes a read
//! lock, finds the series by borrowed `&str` keys without allocating, and
//! bumps relaxed atomics. The write lock is taken only the first time a
//! `(realm, module, verb)` is seen.
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

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustc_hash::FxHashMap;

/// The `Content-Type` of [`Metrics::render`]'s page.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the latency buckets, in nanoseconds, with their `le`
/// label; `+Inf` is implied after the last.
const BUCKETS: [(u64, &str); 14] = [
    (500_000, "0.0005"),
    (1_000_000, "0.001"),
    (2_500_000, "0.0025"),
    (5_000_000, "0.005"),
    (10_000_000, "0.01"),
    (25_000_000, "0.025"),
    (50_000_000, "0.05"),
    (100_000_000, "0.1"),
    (250_000_000, "0.25"),
    (500_000_000, "0.5"),
    (1_000_000_000, "1"),
    (2_500_000_000, "2.5"),
    (5_000_000_000, "5"),
    (10_000_000_000, "10"),
];

/// Statuses counted in a fixed array; any other goes to a locked map.
const STATUS_MIN: u16 = 100;
const STATUS_MAX: u16 = 599;
const STATUS_SLOTS: usize = (STATUS_MAX - STATUS_MIN + 1) as usize;

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

/// The counters of one `(realm, module, verb)`.
#[derive(Debug)]
struct Series {
    /// Calls by status, index `status - STATUS_MIN`.
    statuses: Box<[AtomicU64]>,
    /// Calls with a status outside `STATUS_MIN..=STATUS_MAX` (rare).
    other_statuses: Mutex<FxHashMap<u16, u64>>,
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`. The
    /// count of calls is their total, so `_count` always equals the `+Inf`
    /// bucket.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of latencies, in nanoseconds (overflows after 584 years).
    sum_nanos: AtomicU64,
}

impl Series {
    fn new() -> Series {
        Series {
            statuses: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            other_statuses: Mutex::new(FxHashMap::default()),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, elapsed: Duration) {
        if (STATUS_MIN..=STATUS_MAX).contains(&status) {
            if let Some(slot) = self.statuses.get(usize::from(status - STATUS_MIN)) {
                slot.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            let mut other = self
                .other_statuses
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *other.entry(status).or_insert(0) += 1;
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS
            .iter()
            .position(|&(bound, _)| nanos <= bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// `(status, count)` of every status seen, by status.
    fn statuses(&self) -> Vec<(u16, u64)> {
        let mut out: Vec<(u16, u64)> = self
            .statuses
            .iter()
            .zip(STATUS_MIN..=STATUS_MAX)
            .map(|(n, status)| (status, n.load(Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect();
        let other = self
            .other_statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        out.extend(other.iter().map(|(&status, &n)| (status, n)));
        out.sort_unstable();
        out
    }
}

type Verbs = FxHashMap<Box<str>, Arc<Series>>;
type Modules = FxHashMap<Box<str>, Verbs>;
type Realms = FxHashMap<Box<str>, Modules>;

/// The metrics of one ingress. `Send + Sync`: share it as an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    /// This ingress's realm.
    realm: String,
    /// Series by called realm, module and verb: nested so that a lookup
    /// by `&str` does not allocate.
    calls: RwLock<Realms>,
    /// Refusals by reason code.
    refusals: RwLock<FxHashMap<&'static str, AtomicU64>>,
}

impl Metrics {
    /// The metrics of the ingress of `realm`.
    pub fn new(realm: &str) -> Metrics {
        Metrics {
            realm: realm.to_string(),
            calls: RwLock::new(FxHashMap::default()),
            refusals: RwLock::new(FxHashMap::default()),
        }
    }

    /// One finished call routed to a known verb (`realm`, `module`, `verb`
    /// are names from the schema, never from the request path: see the
    /// module's cardinality contract).
    pub fn call(&self, realm: &str, module: &str, verb: &str, status: u16, elapsed: Duration) {
        {
            let calls = self.calls.read().unwrap_or_else(|e| e.into_inner());
            if let Some(series) = calls
                .get(realm)
                .and_then(|m| m.get(module))
                .and_then(|v| v.get(verb))
            {
                series.record(status, elapsed);
                return;
            }
        }
        let series = {
            let mut calls = self.calls.write().unwrap_or_else(|e| e.into_inner());
            calls
                .entry(realm.into())
                .or_default()
                .entry(module.into())
                .or_default()
                .entry(verb.into())
                .or_insert_with(|| Arc::new(Series::new()))
                .clone()
        };
        series.record(status, elapsed);
    }

    /// One call refused or failed, by reason code (such as `unknown_verb`,
    /// `unsigned`, `loop`).
    pub fn refusal(&self, code: &'static str) {
        {
            let refusals = self.refusals.read().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = refusals.get(code) {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut refusals = self.refusals.write().unwrap_or_else(|e| e.into_inner());
        refusals
            .entry(code)
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Renders everything, plus the given upstream states, as Prometheus
    /// text (format 0.0.4): families in a fixed order, series sorted by
    /// their label values.
    pub fn render(&self, upstreams: &[UpstreamSample]) -> String {
        let mut series: Vec<(&str, &str, &str, Arc<Series>)> = Vec::new();
        let calls = self.calls.read().unwrap_or_else(|e| e.into_inner());
        for (realm, modules) in calls.iter() {
            for (module, verbs) in modules {
                for (verb, s) in verbs {
                    series.push((realm, module, verb, Arc::clone(s)));
                }
            }
        }
        series.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));

        let mut refusals: Vec<(&'static str, u64)> = {
            let refusals = self.refusals.read().unwrap_or_else(|e| e.into_inner());
            refusals
                .iter()
                .map(|(&code, n)| (code, n.load(Ordering::Relaxed)))
                .collect()
        };
        refusals.sort_unstable();

        let mut upstreams: Vec<&UpstreamSample> = upstreams.iter().collect();
        upstreams.sort_by(|a, b| (a.name, a.endpoint).cmp(&(b.name, b.endpoint)));

        let mut out = String::with_capacity(1024 + series.len() * 2048 + upstreams.len() * 512);

        header(
            &mut out,
            "realm_ingress_info",
            "gauge",
            "This ingress: its realm.",
        );
        let _ = writeln!(
            out,
            "realm_ingress_info{{realm=\"{}\"}} 1",
            Escaped(&self.realm)
        );

        header(
            &mut out,
            "realm_calls_total",
            "counter",
            "Calls routed to a known verb, by called realm, module, verb and status.",
        );
        for (realm, module, verb, s) in &series {
            for (status, n) in s.statuses() {
                let _ = writeln!(
                    out,
                    "realm_calls_total{{realm=\"{}\",module=\"{}\",verb=\"{}\",status=\"{status}\"}} {n}",
                    Escaped(realm),
                    Escaped(module),
                    Escaped(verb),
                );
            }
        }

        header(
            &mut out,
            "realm_call_duration_seconds",
            "histogram",
            "Duration of calls routed to a known verb, by called realm, module and verb.",
        );
        for (realm, module, verb, s) in &series {
            let labels = format!(
                "realm=\"{}\",module=\"{}\",verb=\"{}\"",
                Escaped(realm),
                Escaped(module),
                Escaped(verb)
            );
            let mut cumulative = 0u64;
            for (i, n) in s.buckets.iter().enumerate() {
                cumulative += n.load(Ordering::Relaxed);
                let le = BUCKETS.get(i).map_or("+Inf", |&(_, le)| le);
                let _ = writeln!(
                    out,
                    "realm_call_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = Seconds(u128::from(s.sum_nanos.load(Ordering::Relaxed)));
            let _ = writeln!(out, "realm_call_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(
                out,
                "realm_call_duration_seconds_count{{{labels}}} {cumulative}"
            );
        }
        drop(calls);

        header(
            &mut out,
            "realm_refusals_total",
            "counter",
            "Calls refused or failed, by reason code.",
        );
        for (code, n) in &refusals {
            let _ = writeln!(
                out,
                "realm_refusals_total{{reason=\"{}\"}} {n}",
                Escaped(code)
            );
        }

        let upstream_family =
            |out: &mut String,
             name: &str,
             kind: &str,
             help: &str,
             value: &dyn Fn(&UpstreamSample) -> Option<String>| {
                header(out, name, kind, help);
                for u in &upstreams {
                    if let Some(value) = value(u) {
                        let _ = writeln!(
                            out,
                            "{name}{{upstream=\"{}\",endpoint=\"{}\"}} {value}",
                            Escaped(u.name),
                            Escaped(u.endpoint),
                        );
                    }
                }
            };
        upstream_family(
            &mut out,
            "realm_upstream_up",
            "gauge",
            "Whether the upstream takes calls (0 while backing off).",
            &|u| Some(u8::from(u.up).to_string()),
        );
        upstream_family(
            &mut out,
            "realm_upstream_in_flight",
            "gauge",
            "Calls in flight to the upstream.",
            &|u| Some(u.in_flight.to_string()),
        );
        upstream_family(
            &mut out,
            "realm_upstream_calls_total",
            "counter",
            "Calls sent to the upstream.",
            &|u| Some(u.sent.to_string()),
        );
        upstream_family(
            &mut out,
            "realm_upstream_failures_total",
            "counter",
            "Calls to the upstream that failed.",
            &|u| Some(u.failed.to_string()),
        );
        upstream_family(
            &mut out,
            "realm_upstream_last_latency_seconds",
            "gauge",
            "Latency of the last call to the upstream.",
            &|u| u.last_latency.map(|d| Seconds(d.as_nanos()).to_string()),
        );
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a family.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value, escaped: `\` as `\\`, `"` as `\"`, newline as `\n`.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['\\', '"', '\n']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'\\' => "\\\\",
                b'"' => "\\\"",
                _ => "\\n",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// Nanoseconds, written exactly as decimal seconds: `1.5`, `0.0005`, `2`.
struct Seconds(u128);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (secs, nanos) = (self.0 / 1_000_000_000, self.0 % 1_000_000_000);
        if nanos == 0 {
            return write!(f, "{secs}");
        }
        let frac = format!("{nanos:09}");
        write!(f, "{secs}.{}", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The value of the line that starts with `series ` (name and labels).
    fn value(page: &str, series: &str) -> Option<String> {
        page.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
            .map(str::to_string)
    }

    #[test]
    fn renders_a_tiny_case_exactly() {
        let m = Metrics::new("shop");
        m.call("bank", "ledger", "Debit", 200, Duration::from_micros(700));
        m.call("bank", "ledger", "Debit", 502, ms(30));
        m.refusal("unsigned");
        m.refusal("unknown_verb");
        m.refusal("unsigned");
        let upstreams = [
            UpstreamSample {
                name: "runner:checkout",
                endpoint: "http://127.0.0.1:9001",
                up: false,
                in_flight: 0,
                sent: 7,
                failed: 3,
                last_latency: None,
            },
            UpstreamSample {
                name: "realm:bank",
                endpoint: "https://bank.example:8443",
                up: true,
                in_flight: 2,
                sent: 40,
                failed: 1,
                last_latency: Some(Duration::from_micros(1500)),
            },
        ];
        let expected = r#"# HELP realm_ingress_info This ingress: its realm.
# TYPE realm_ingress_info gauge
realm_ingress_info{realm="shop"} 1
# HELP realm_calls_total Calls routed to a known verb, by called realm, module, verb and status.
# TYPE realm_calls_total counter
realm_calls_total{realm="bank",module="ledger",verb="Debit",status="200"} 1
realm_calls_total{realm="bank",module="ledger",verb="Debit",status="502"} 1
# HELP realm_call_duration_seconds Duration of calls routed to a known verb, by called realm, module and verb.
# TYPE realm_call_duration_seconds histogram
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.0005"} 0
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.001"} 1
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.0025"} 1
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.005"} 1
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.01"} 1
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.025"} 1
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.05"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.1"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.25"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="0.5"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="1"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="2.5"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="5"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="10"} 2
realm_call_duration_seconds_bucket{realm="bank",module="ledger",verb="Debit",le="+Inf"} 2
realm_call_duration_seconds_sum{realm="bank",module="ledger",verb="Debit"} 0.0307
realm_call_duration_seconds_count{realm="bank",module="ledger",verb="Debit"} 2
# HELP realm_refusals_total Calls refused or failed, by reason code.
# TYPE realm_refusals_total counter
realm_refusals_total{reason="unknown_verb"} 1
realm_refusals_total{reason="unsigned"} 2
# HELP realm_upstream_up Whether the upstream takes calls (0 while backing off).
# TYPE realm_upstream_up gauge
realm_upstream_up{upstream="realm:bank",endpoint="https://bank.example:8443"} 1
realm_upstream_up{upstream="runner:checkout",endpoint="http://127.0.0.1:9001"} 0
# HELP realm_upstream_in_flight Calls in flight to the upstream.
# TYPE realm_upstream_in_flight gauge
realm_upstream_in_flight{upstream="realm:bank",endpoint="https://bank.example:8443"} 2
realm_upstream_in_flight{upstream="runner:checkout",endpoint="http://127.0.0.1:9001"} 0
# HELP realm_upstream_calls_total Calls sent to the upstream.
# TYPE realm_upstream_calls_total counter
realm_upstream_calls_total{upstream="realm:bank",endpoint="https://bank.example:8443"} 40
realm_upstream_calls_total{upstream="runner:checkout",endpoint="http://127.0.0.1:9001"} 7
# HELP realm_upstream_failures_total Calls to the upstream that failed.
# TYPE realm_upstream_failures_total counter
realm_upstream_failures_total{upstream="realm:bank",endpoint="https://bank.example:8443"} 1
realm_upstream_failures_total{upstream="runner:checkout",endpoint="http://127.0.0.1:9001"} 3
# HELP realm_upstream_last_latency_seconds Latency of the last call to the upstream.
# TYPE realm_upstream_last_latency_seconds gauge
realm_upstream_last_latency_seconds{upstream="realm:bank",endpoint="https://bank.example:8443"} 0.0015
"#;
        let page = m.render(&upstreams);
        assert_eq!(page, expected, "\n{page}");
        // Rendering does not change anything.
        assert_eq!(m.render(&upstreams), page);
    }

    #[test]
    fn metrics_are_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Metrics>();
        shared::<UpstreamSample<'static>>();
    }

    #[test]
    fn an_empty_page_has_every_family() {
        let page = Metrics::new("shop").render(&[]);
        assert_eq!(page.lines().filter(|l| l.starts_with("# TYPE ")).count(), 9);
        assert_eq!(page.lines().filter(|l| !l.starts_with('#')).count(), 1);
    }

    #[test]
    fn histogram_is_cumulative_and_counts_every_call() {
        let m = Metrics::new("shop");
        let latencies = [
            Duration::ZERO,
            Duration::from_micros(500), // on a bound: in that bucket
            Duration::from_micros(501),
            ms(3),
            ms(3),
            ms(99),
            ms(1000),
            ms(7000),
            Duration::from_secs(11),
            Duration::from_secs(3600),
            Duration::MAX,
        ];
        for (i, &d) in latencies.iter().enumerate() {
            m.call("shop", "cart", "Add", if i % 2 == 0 { 200 } else { 500 }, d);
        }
        let page = m.render(&[]);
        let labels = r#"realm="shop",module="cart",verb="Add""#;
        let mut previous = 0u64;
        let mut buckets = Vec::new();
        for (_, le) in BUCKETS.iter().chain(&[(0, "+Inf")]) {
            let n: u64 = value(
                &page,
                &format!("realm_call_duration_seconds_bucket{{{labels},le=\"{le}\"}}"),
            )
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no bucket {le}\n{page}"));
            assert!(n >= previous, "bucket {le} not cumulative\n{page}");
            previous = n;
            buckets.push(n);
        }
        assert_eq!(buckets, [2, 3, 3, 5, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 11]);
        let count = value(
            &page,
            &format!("realm_call_duration_seconds_count{{{labels}}}"),
        );
        assert_eq!(count.as_deref(), Some("11"));
        assert_eq!(
            value(
                &page,
                &format!("realm_calls_total{{{labels},status=\"200\"}}")
            )
            .as_deref(),
            Some("6")
        );
        assert_eq!(
            value(
                &page,
                &format!("realm_calls_total{{{labels},status=\"500\"}}")
            )
            .as_deref(),
            Some("5")
        );
    }

    #[test]
    fn sum_is_right_within_rounding() {
        let m = Metrics::new("shop");
        let mut expected = 0f64;
        for i in 1..=1000u64 {
            let d = Duration::from_nanos(i * 1_234_567);
            expected += d.as_secs_f64();
            m.call("shop", "cart", "Add", 200, d);
        }
        let page = m.render(&[]);
        let sum: f64 = value(
            &page,
            r#"realm_call_duration_seconds_sum{realm="shop",module="cart",verb="Add"}"#,
        )
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sum\n{page}"));
        assert!((sum - expected).abs() < 1e-6, "{sum} != {expected}");
    }

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(Seconds(0).to_string(), "0");
        assert_eq!(Seconds(2_000_000_000).to_string(), "2");
        assert_eq!(Seconds(500_000).to_string(), "0.0005");
        assert_eq!(Seconds(1_500_000_001).to_string(), "1.500000001");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(Escaped(r#"a\b"c"#).to_string(), r#"a\\b\"c"#);
        assert_eq!(Escaped("x\ny").to_string(), r"x\ny");
        assert_eq!(Escaped("plain").to_string(), "plain");
        assert_eq!(Escaped("").to_string(), "");

        let m = Metrics::new("sh\"op");
        m.call("a\\b", "m\nn", "v\"", 200, ms(1));
        let upstream = UpstreamSample {
            name: "realm:\"x\"",
            endpoint: "http://h/\\",
            up: true,
            in_flight: 0,
            sent: 0,
            failed: 0,
            last_latency: Some(Duration::ZERO),
        };
        let page = m.render(&[upstream]);
        assert!(
            page.contains(r#"realm_ingress_info{realm="sh\"op"} 1"#),
            "{page}"
        );
        assert!(
            page.contains(
                r#"realm_calls_total{realm="a\\b",module="m\nn",verb="v\"",status="200"} 1"#
            ),
            "{page}"
        );
        assert!(
            page.contains(r#"realm_upstream_last_latency_seconds{upstream="realm:\"x\"",endpoint="http://h/\\"} 0"#),
            "{page}"
        );
        check_syntax(&page);
    }

    #[test]
    fn upstream_gauges_omit_missing_latency() {
        let m = Metrics::new("shop");
        let sample = |name, last_latency| UpstreamSample {
            name,
            endpoint: "http://e",
            up: true,
            in_flight: 5,
            sent: 10,
            failed: 2,
            last_latency,
        };
        let page = m.render(&[sample("b", None), sample("a", Some(ms(250)))]);
        for family in [
            "realm_upstream_up",
            "realm_upstream_in_flight",
            "realm_upstream_calls_total",
            "realm_upstream_failures_total",
        ] {
            let lines: Vec<&str> = page
                .lines()
                .filter(|l| l.starts_with(&format!("{family}{{")))
                .collect();
            assert_eq!(lines.len(), 2, "{family}\n{page}");
            assert!(
                lines[0].contains("upstream=\"a\"") && lines[1].contains("upstream=\"b\""),
                "{page}"
            );
        }
        assert_eq!(
            value(
                &page,
                r#"realm_upstream_in_flight{upstream="a",endpoint="http://e"}"#
            )
            .as_deref(),
            Some("5")
        );
        assert_eq!(
            value(
                &page,
                r#"realm_upstream_calls_total{upstream="a",endpoint="http://e"}"#
            )
            .as_deref(),
            Some("10")
        );
        assert_eq!(
            value(
                &page,
                r#"realm_upstream_failures_total{upstream="b",endpoint="http://e"}"#
            )
            .as_deref(),
            Some("2")
        );
        let latencies: Vec<&str> = page
            .lines()
            .filter(|l| l.starts_with("realm_upstream_last_latency_seconds{"))
            .collect();
        assert_eq!(
            latencies,
            [r#"realm_upstream_last_latency_seconds{upstream="a",endpoint="http://e"} 0.25"#]
        );
    }

    #[test]
    fn odd_statuses_are_counted() {
        let m = Metrics::new("shop");
        m.call("shop", "m", "v", 0, ms(1));
        m.call("shop", "m", "v", 999, ms(1));
        m.call("shop", "m", "v", 999, ms(1));
        m.call("shop", "m", "v", 100, ms(1));
        m.call("shop", "m", "v", 599, ms(1));
        let page = m.render(&[]);
        let statuses: Vec<&str> = page
            .lines()
            .filter(|l| l.starts_with("realm_calls_total{"))
            .filter_map(|l| l.split("status=\"").nth(1))
            .collect();
        assert_eq!(statuses, ["0\"} 1", "100\"} 1", "599\"} 1", "999\"} 2"]);
    }

    #[test]
    fn concurrent_calls_are_all_counted() {
        const THREADS: usize = 8;
        const CALLS: usize = 10_000;
        let m = Arc::new(Metrics::new("shop"));
        let verbs = ["A", "B", "C"];
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let m = Arc::clone(&m);
                scope.spawn(move || {
                    for i in 0..CALLS {
                        // Every thread races to create every series.
                        let verb = verbs[(i + t) % verbs.len()];
                        m.call(
                            "bank",
                            "ledger",
                            verb,
                            if i % 10 == 0 { 503 } else { 200 },
                            Duration::from_micros(i as u64 % 2000),
                        );
                        if i % 100 == 0 {
                            m.refusal(if t % 2 == 0 { "unsigned" } else { "loop" });
                        }
                    }
                });
            }
        });
        let page = m.render(&[]);
        check_syntax(&page);
        let mut total = 0u64;
        let mut counted = 0u64;
        for verb in verbs {
            let labels = format!("realm=\"bank\",module=\"ledger\",verb=\"{verb}\"");
            for status in ["200", "503"] {
                total += value(
                    &page,
                    &format!("realm_calls_total{{{labels},status=\"{status}\"}}"),
                )
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            }
            let count: u64 = value(
                &page,
                &format!("realm_call_duration_seconds_count{{{labels}}}"),
            )
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
            let inf = value(
                &page,
                &format!("realm_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}}"),
            );
            assert_eq!(inf, Some(count.to_string()));
            counted += count;
        }
        assert_eq!(total, (THREADS * CALLS) as u64);
        assert_eq!(counted, (THREADS * CALLS) as u64);
        let refusals = (THREADS / 2 * CALLS / 100).to_string();
        assert_eq!(
            value(&page, r#"realm_refusals_total{reason="unsigned"}"#),
            Some(refusals.clone())
        );
        assert_eq!(
            value(&page, r#"realm_refusals_total{reason="loop"}"#),
            Some(refusals)
        );
    }

    #[test]
    fn every_line_parses() {
        let m = Metrics::new("shop");
        m.call("bank", "ledger", "Debit", 200, ms(3));
        m.call("shop", "cart", "Add", 404, Duration::from_nanos(1));
        m.refusal("loop");
        let upstream = UpstreamSample {
            name: "realm:bank",
            endpoint: "http://bank",
            up: true,
            in_flight: 1,
            sent: 2,
            failed: 0,
            last_latency: Some(Duration::from_nanos(123)),
        };
        check_syntax(&m.render(&[upstream]));
    }

    /// Every line is a `# HELP` or `# TYPE` line, `name{labels} value` or
    /// `name value`; every family is declared before its samples.
    fn check_syntax(page: &str) {
        assert!(page.ends_with('\n'));
        let mut declared: Vec<String> = Vec::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("bad HELP: {line}"));
                assert!(is_name(name), "bad HELP: {line}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("bad TYPE: {line}"));
                assert!(is_name(name), "bad TYPE: {line}");
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind),
                    "bad TYPE: {line}"
                );
                declared.push(name.to_string());
                continue;
            }
            assert!(!line.starts_with('#'), "stray comment: {line}");
            let name_end = line
                .find(['{', ' '])
                .unwrap_or_else(|| panic!("no value: {line}"));
            let name = &line[..name_end];
            assert!(is_name(name), "bad name: {line}");
            assert!(
                declared.iter().any(|family| name == family
                    || ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name.strip_suffix(s) == Some(family))),
                "undeclared family: {line}"
            );
            let mut rest = &line[name_end..];
            if let Some(labels) = rest.strip_prefix('{') {
                rest = parse_labels(labels).unwrap_or_else(|| panic!("bad labels: {line}"));
            }
            let value = rest
                .strip_prefix(' ')
                .unwrap_or_else(|| panic!("no value: {line}"));
            assert!(
                value == "+Inf" || value.parse::<f64>().is_ok(),
                "bad value: {line}"
            );
        }
    }

    fn is_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    /// Parses `name="value",...}` and returns what follows the `}`.
    fn parse_labels(mut s: &str) -> Option<&str> {
        loop {
            let (name, rest) = s.split_once("=\"")?;
            if !is_name(name) {
                return None;
            }
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next()? {
                    (_, '\\') => match chars.next()? {
                        (_, '\\' | '"' | 'n') => {}
                        _ => return None,
                    },
                    (_, '\n') => return None,
                    (i, '"') => break i,
                    _ => {}
                }
            };
            s = &rest[end + 1..];
            if let Some(after) = s.strip_prefix('}') {
                return Some(after);
            }
            s = s.strip_prefix(',')?;
        }
    }
}
