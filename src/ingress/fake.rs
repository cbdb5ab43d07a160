//! The ingress of a fake realm (`realm fake`): a pinned realm's public API
//! served as if it were this realm, every module answered by a
//! [`FakeRunner`] in place of a runner process.
//!
//! Everything before the runner is the ingress's own: the same admit,
//! route and check stages refuse what the real realm's ingress refuses,
//! with the same JSON errors. What the runner would answer is the fake's
//! (generated replies, examples, injected latency and failures: see
//! `crate::fake`).
//!
//! Never reads files or generates values; never opens connections.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;

use super::upstream::{Kind, Upstream};
use super::{Ingress, IngressConfig, LocalRunner, Runner, budget, metrics};
use crate::net::http::HttpClient;
use crate::schema::json::Checker;
use crate::schema::{Realm, Verb};

/// A call the fake answers: it passed every check of the ingress.
#[derive(Debug)]
pub struct FakeCall<'a> {
    /// The realm's name, as the ingress answers to it.
    pub realm: &'a str,
    pub module: &'a str,
    pub verb: &'a Verb,
    /// The body as JSON; `None` when it was empty.
    pub request: Option<&'a serde_json::Value>,
    pub request_id: &'a str,
}

/// What a fake answers in place of a runner.
#[derive(Debug)]
pub struct FakeAnswer {
    pub reply: super::Reply,
    /// How long to wait before answering (`--latency`).
    pub delay: Duration,
}

/// Answers the calls of a fake realm's modules.
pub trait FakeRunner: Send + Sync + std::fmt::Debug {
    fn answer(&self, call: FakeCall<'_>) -> FakeAnswer;

    /// What it answers with, for the start-up message.
    fn describe(&self, module: &str) -> String;
}

impl Ingress {
    /// The ingress of a fake realm: `realm` (a pinned realm's public API,
    /// made internal under the name its own ingress answers to) served on
    /// `config`, each of its modules answered by `runner`. No keys, no
    /// other realms: calls are checked by route and body, as the real
    /// realm checks them.
    pub fn fake(
        realm: &Realm,
        config: IngressConfig,
        runner: Arc<dyn FakeRunner>,
    ) -> Result<Ingress> {
        let local = Checker::new(realm);
        let limit = config.limits.upstream_concurrency;
        let runners: HashMap<String, LocalRunner> = realm
            .modules
            .iter()
            .filter(|m| !m.builtin)
            .map(|m| {
                let upstream = Upstream::new(Kind::Runner, &m.name, "fake", limit);
                let runner = Runner::Fake {
                    runner: runner.clone(),
                };
                (m.name.clone(), LocalRunner { runner, upstream })
            })
            .collect();
        let export = crate::export::of_realm(
            realm,
            &[
                std::path::PathBuf::from("well-known.txtpb"),
                std::path::PathBuf::from("well-known.json"),
            ],
        )?;
        let mut files = export
            .files
            .into_iter()
            .map(|f| Bytes::from(f.into_bytes()));
        let (Some(well_known_txtpb), Some(well_known_json)) = (files.next(), files.next()) else {
            unreachable!("an export to two paths has two files");
        };
        Ok(Ingress {
            realm: realm.name.clone(),
            local,
            runners,
            methods: HashMap::new(),
            externals: HashMap::new(),
            hub: None,
            http: HttpClient::new(),
            verifier: None,
            signer: None,
            peer_cas: HashSet::new(),
            metrics: metrics::Metrics::new(&realm.name),
            draining: AtomicBool::new(false),
            well_known_txtpb,
            well_known_json,
            budget: budget::BodyBudget::new(config.limits.max_buffered),
            warnings: Vec::new(),
            config,
            recorder: std::sync::OnceLock::new(),
            queue: std::sync::OnceLock::new(),
        })
    }

    /// The forward stage of a fake module: the fake's answer, after its
    /// delay.
    pub(super) async fn answer_fake(
        &self,
        runner: &dyn FakeRunner,
        call: FakeCall<'_>,
    ) -> Result<super::Reply, super::Refusal> {
        let FakeAnswer { reply, delay } = runner.answer(call);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(reply)
    }
}
