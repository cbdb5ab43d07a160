//! **`realm fake`**: a pinned realm answered from its pinned schema, for
//! developing against a realm one cannot reach.
//!
//! The fake is an ingress ([`Ingress::fake`]) built for the pinned
//! realm's public API as if it were this realm: calls go through the
//! ingress's own stages (route, check), so a body the real realm refuses
//! is refused the same way, with the same JSON error; each module's
//! runner is a [`Fake`], which answers
//!
//! 1. an injected failure (`--fail-rate`), decided by the seed and how
//!    many times the same request came before;
//! 2. else the first example that matches (`fakes/<realm>/<module>.<verb>.json`,
//!    see [`examples`]);
//! 3. else a reply generated for the response type ([`generate`]) from the
//!    seed and the request: the same request, the same reply;
//!
//! each after `--latency`. One job per file: `seed.rs` the randomness,
//! `generate.rs` values, `examples.rs` the examples files, `record.rs`
//! the examples `realm serve --record` writes of the calls that cross to
//! other realms.
//!
//! Reads and writes the examples through [`crate::files`]; never prints.

pub mod examples;
pub mod generate;
pub mod record;
pub mod seed;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http::StatusCode;
use serde_json::Value;

use crate::ingress::config::{IngressConfig, Limits, Origin, Security};
use crate::ingress::reply::{ErrorBody, ErrorDetail};
use crate::ingress::{FakeAnswer, FakeCall, FakeRunner, Ingress, Reply};
use crate::schema::Realm;
use crate::schema::json::Checker;
use crate::workspace::Workspace;

use examples::{Example, Then};
use generate::Generator;

/// How a fake answers, beside its schema and examples.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Where every random choice starts (`--seed`, default 0).
    pub seed: u64,
    /// How long each answer waits (`--latency`).
    pub latency: Duration,
    /// The share of calls answered with an injected failure
    /// (`--fail-rate`, 0 to 1).
    pub fail_rate: f64,
}

/// The code of an injected failure (the ingress knows it: a caller's
/// `+retry` verb tries again after one).
pub use crate::ingress::reply::INJECTED_FAILURE;

/// Requests remembered for `--fail-rate` (how often each came); past
/// this, the count starts again.
const MAX_REMEMBERED: usize = 100_000;

/// The runner of every module of a fake realm.
#[derive(Debug)]
pub struct Fake {
    generator: Generator,
    /// `module` → `verb` → its examples, in file order.
    examples: HashMap<String, HashMap<String, Vec<Example>>>,
    options: Options,
    /// How many times each request (by its seed) came, for `--fail-rate`.
    seen: Mutex<HashMap<u64, u64>>,
}

impl Fake {
    /// The fake of `realm` (a public API, as [`served_realm`] makes it),
    /// answering with `examples`.
    pub fn new(
        realm: &Realm,
        examples: HashMap<String, HashMap<String, Vec<Example>>>,
        options: Options,
    ) -> Fake {
        Fake {
            generator: Generator::new(Checker::new(realm)),
            examples,
            options,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this call fails on purpose: the `n`th time a request
    /// comes, with the same seed, always fails or never does.
    fn fails(&self, call_seed: u64) -> bool {
        if self.options.fail_rate <= 0.0 {
            return false;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_REMEMBERED {
            seen.clear();
        }
        let count = seen.entry(call_seed).or_insert(0);
        let n = *count;
        *count += 1;
        let mut rng = seed::Rng::new(call_seed ^ n.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        rng.unit() < self.options.fail_rate
    }

    /// The reply of a call that no example answers.
    fn generated(&self, call_seed: u64, verb: &crate::schema::Verb) -> Value {
        self.generator.value(&verb.response, call_seed)
    }
}

impl FakeRunner for Fake {
    fn answer(&self, call: FakeCall<'_>) -> FakeAnswer {
        let delay = self.options.latency;
        let call_seed = seed::of_call(
            self.options.seed,
            call.module,
            &call.verb.name,
            call.request,
        );
        let error = |status: StatusCode, code: &str, message: String| {
            let body = ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message,
                    path: None,
                    realm: call.realm.to_string(),
                    request_id: call.request_id.to_string(),
                },
            };
            Reply::json(status, serde_json::to_vec(&body).unwrap_or_default())
        };
        if self.fails(call_seed) {
            let mut reply = error(
                StatusCode::SERVICE_UNAVAILABLE,
                INJECTED_FAILURE,
                format!(
                    "realm fake failed this call on purpose (--fail-rate {}, --seed {}): the same calls fail in the same order with the same seed",
                    self.options.fail_rate, self.options.seed
                ),
            );
            // The fake's own refusal: nothing ran.
            reply.not_made = true;
            return FakeAnswer { reply, delay };
        }
        let example = self
            .examples
            .get(call.module)
            .and_then(|verbs| verbs.get(&call.verb.name))
            .and_then(|list| list.iter().find(|e| e.matches(call.request)));
        let reply = match example.map(|e| &e.then) {
            Some(Then::Reply(value)) => Reply::json(
                StatusCode::OK,
                serde_json::to_vec(value).unwrap_or_default(),
            ),
            Some(Then::Error {
                status,
                code,
                message,
            }) => error(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                code,
                message.clone(),
            ),
            None => {
                let value = self.generated(call_seed, call.verb);
                Reply::json(
                    StatusCode::OK,
                    serde_json::to_vec(&value).unwrap_or_default(),
                )
            }
        };
        FakeAnswer { reply, delay }
    }

    fn describe(&self, module: &str) -> String {
        let examples: usize = self
            .examples
            .get(module)
            .map_or(0, |verbs| verbs.values().map(Vec::len).sum());
        let mut text = format!("fake (replies generated from seed {}", self.options.seed);
        if examples > 0 {
            text.push_str(&format!(
                ", {examples} example{}",
                if examples == 1 { "" } else { "s" }
            ));
        }
        if !self.options.latency.is_zero() {
            text.push_str(&format!(
                ", latency {}",
                crate::duration::format(self.options.latency)
            ));
        }
        if self.options.fail_rate > 0.0 {
            text.push_str(&format!(", fail rate {}", self.options.fail_rate));
        }
        text.push(')');
        text
    }
}

/// The public API of the realm pinned as `name`, as its own ingress
/// serves it: internal, under the name it answers to.
pub fn served_realm(ws: &Workspace, name: &str) -> Result<Realm> {
    let Some(realm) = ws
        .schema
        .realms
        .iter()
        .find(|r| r.external && r.name == name && ws.project.pin(name).is_some())
    else {
        let pinned: Vec<&str> = ws.project.pins.iter().map(|p| p.name.as_str()).collect();
        bail!(
            "realm `{name}` is not pinned by this project\nhelp: {}",
            if pinned.is_empty() {
                "this project pins no realms: `realm add --git-repo URL` pins one".to_string()
            } else {
                format!("the pinned realms are: {}", pinned.join(", "))
            }
        );
    };
    let mut realm = realm.clone();
    realm.external = false;
    if let Some(own) = ws.own_names.get(name) {
        realm.name = own.clone();
    }
    Ok(realm)
}

/// The examples of the realm pinned as `name`: every
/// `<module>.<verb>.json` in `dir/<name>/` (none when it does not exist),
/// each checked against `realm`. Files are named in errors relative to
/// `shown_from`.
pub fn load_examples(
    realm: &Realm,
    name: &str,
    dir: &Path,
    shown_from: &Path,
) -> Result<HashMap<String, HashMap<String, Vec<Example>>>> {
    let dir = dir.join(name);
    let mut all: HashMap<String, HashMap<String, Vec<Example>>> = HashMap::new();
    if !dir.is_dir() {
        return Ok(all);
    }
    let checker = Checker::new(realm);
    for path in crate::files::find_files(&dir, "json")? {
        let shown = crate::files::relative(&path, shown_from);
        if path.parent() != Some(dir.as_path()) {
            bail!(
                "{shown}: examples are files directly in {}, named <module>.<verb>.json",
                crate::files::relative(&dir, shown_from)
            );
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (module, verb) = examples::verb_of_file(&checker, &stem).map_err(|e| {
            anyhow::anyhow!("{shown}: {e}\nhelp: name each examples file <module>.<verb>.json")
        })?;
        let text = crate::files::read_text(&path)?;
        let list = examples::parse(&checker, verb, &shown, &text).map_err(|e| {
            anyhow::anyhow!(
                "{e}\nhelp: fix the example so that it fits the pinned schema of realm `{name}`, or remove it"
            )
        })?;
        all.entry(module)
            .or_default()
            .insert(verb.name.clone(), list);
    }
    Ok(all)
}

/// The ingress of a fake of the realm pinned as `name`, listening on
/// `listen`, with the examples under `fakes` (named relative to the
/// project's root).
pub fn ingress(
    ws: &Workspace,
    name: &str,
    listen: SocketAddr,
    fakes: &Path,
    options: Options,
) -> Result<Arc<Ingress>> {
    let realm = served_realm(ws, name)?;
    let examples = load_examples(&realm, name, fakes, &ws.project.root)
        .with_context(|| format!("invalid examples for the fake of realm `{name}`"))?;
    let fake = Fake::new(&realm, examples, options);
    let config = IngressConfig {
        listen,
        listen_origin: Origin::Flag,
        runners: HashMap::new(),
        endpoints: HashMap::new(),
        hub: None,
        ftl_endpoint: None,
        limits: Limits::default(),
        security: Security::default(),
        fast_path: crate::ingress::config::DEFAULT_FAST_PATH,
    };
    Ok(Arc::new(Ingress::fake(&realm, config, Arc::new(fake))?))
}

/// The recorder of `realm serve --record DIR`: the calls this realm's
/// ingress forwards to the realms it pins, kept in `dir` as examples.
pub fn recorder(
    ws: &Workspace,
    dir: std::path::PathBuf,
    redact: Vec<record::Redacted>,
) -> Result<Arc<record::Recorder>> {
    let realms = ws
        .schema
        .realms
        .iter()
        .filter(|r| r.external && ws.project.pin(&r.name).is_some())
        .map(|r| (r.name.clone(), Checker::new(r)))
        .collect();
    let recorder = record::Recorder::start(dir, realms, redact)
        .context("cannot start the thread that records calls")?;
    Ok(Arc::new(recorder))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(fail_rate: f64) -> Fake {
        let schema = crate::schema::parse_schema("f.ftl", "realm r {\n  module m {\n  }\n}\n")
            .unwrap_or_else(|d| panic!("{d}"));
        Fake::new(
            &schema.realms[0],
            HashMap::new(),
            Options {
                fail_rate,
                ..Options::default()
            },
        )
    }

    #[test]
    fn the_fail_rate_is_the_share_of_calls_that_fail() {
        for (rate, low, high) in [(0.1, 900, 1100), (0.5, 4800, 5200)] {
            let fake = fake(rate);
            // Distinct requests, and one request again and again.
            let distinct = (0..10_000u64).filter(|&s| fake.fails(s)).count();
            let repeated = (0..10_000).filter(|_| fake.fails(42)).count();
            for failed in [distinct, repeated] {
                assert!((low..high).contains(&failed), "{rate}: {failed}");
            }
        }
        let never = fake(0.0);
        assert!((0..1000u64).all(|s| !never.fails(s)));
        let always = fake(1.0);
        assert!((0..1000u64).all(|s| always.fails(s)));
    }
}
