//! The ingress: routes verb calls between realms.
//!
//! `POST /realms/{realm}/{module}/{verb}` with a JSON body:
//! - `{realm}` is this realm: the verb must exist and be `export realm`; the
//!   body must fit its request type; the call goes to the module's runner —
//!   JSON over HTTP (`POST {runner}/{module}/{verb}`), or gRPC for verbs of
//!   imported realms (`+grpc`), transcoded with the realm's descriptor set;
//! - `{realm}` is a pinned realm: the verb must exist and be exported in the
//!   pinned schema and the body must fit, before any network hop; the call
//!   goes to that realm's ingress (`<name>-realm-endpoint`);
//! - anything else: 404.
//!
//! Refusals and upstream failures answer with a JSON error body
//! `{"error": {"code", "message", "path"?, "realm", "request_id"}}`.
//!
//! Caller identity travels in headers: `x-realm-caller` (the realm that
//! sends this hop: set by the ingress that forwards a call to another
//! realm, and to runners the verified calling realm, or for a call this
//! realm's hub relayed the realm it started in, see
//! [`authorize::origin`]), `x-realm-via` (the realms the call crossed, see
//! [`hops`]; realms before the caller only from the hub),
//! `x-realm-caller-module` (set by the runner that makes the call),
//! `x-request-id` (made here when absent or not one, see
//! [`is_request_id`]) and `traceparent` (W3C, see [`trace`]). All are
//! passed on and logged.
//!
//! Before anything else a call is authenticated (its signature checked by
//! [`auth`], then [`authorize`] decides from the signature, the client
//! certificate, the hops and the policy) and checked against loops
//! ([`hops`]). Each runner, realm and the hub is an [`upstream::Upstream`]
//! with its own concurrency limit and backoff.
//!
//! The rooms: this file holds the ingress's state; `call` the course of a
//! call ([`Ingress::handle`], the whole of a call without the HTTP server
//! around it: [`authorize`] decides who sent it, `route` where it goes,
//! `forward` sends it), [`reply`] holds what is answered; `build` makes an
//! ingress; `routes` (and `verb_service`, FTL's protocol) answer HTTP
//! requests with it, through `request` (request id, body, access log) and
//! `response` (the HTTP response of a reply); [`server`] runs the worker
//! threads that accept and serve connections. `fake` builds the ingress of
//! a fake realm (`realm fake`: a pinned realm's public API, its modules
//! answered by a [`FakeRunner`]); [`record`] hands the calls that crossed
//! to other realms to a recorder (`realm serve --record`).

pub mod auth;
pub mod authorize;
mod budget;
mod build;
mod call;
pub mod config;
mod conn;
mod deadline;
mod fake;
mod fast;
mod forward;
mod forward_ftl;
pub mod hops;
pub mod metrics;
mod queued;
pub mod record;
pub mod reply;
mod request;
mod response;
mod route;
mod routes;
pub mod server;
pub mod status;
pub mod trace;
pub mod upstream;
mod verb_service;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use prost_reflect::MethodDescriptor;

use crate::net::grpc::GrpcUpstream;
use crate::net::http::HttpClient;
use crate::schema::json::Checker;

use auth::Verifier;
use upstream::{Upstream, UpstreamStatus};

pub use build::{Trust, from_workspace, pinned_callers, server_tls};
pub use call::{Call, Outcome};
pub use config::{IngressConfig, Overrides};
pub use fake::{FakeAnswer, FakeCall, FakeRunner};
pub use queued::{Deliverer, IDEMPOTENCY_KEY, QueueOpened, start_delivery};
pub use reply::{Refusal, Reply};
pub use request::is_request_id;

/// The calling realm.
pub const CALLER_REALM: http::HeaderName = http::HeaderName::from_static("x-realm-caller");
/// The calling module.
pub const CALLER_MODULE: http::HeaderName = http::HeaderName::from_static("x-realm-caller-module");
/// The request's id.
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
/// How replies of gRPC verbs are encoded: `proto3` (proto3 JSON as
/// protojson prints it) or `ftl` (FTL's encoding, the default). Passed on
/// to other realms' ingresses.
pub const JSON_STYLE: http::HeaderName = http::HeaderName::from_static("x-realm-json");

/// FTL's request id header.
pub(crate) const FTL_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("ftl-request-id");
/// The calling verb, `module.verb`, one per hop.
pub(crate) const FTL_VERB: http::HeaderName = http::HeaderName::from_static("ftl-verb");
/// The request that started this one (a publisher).
pub(crate) const FTL_PARENT_REQUEST_ID: http::HeaderName =
    http::HeaderName::from_static("ftl-parent-request-id");
/// An open database transaction.
pub(crate) const FTL_TRANSACTION_ID: http::HeaderName =
    http::HeaderName::from_static("ftl-transaction-id");

/// How a local module's verbs are served.
#[derive(Clone, Debug)]
enum Runner {
    /// JSON over HTTP: `POST {base}/{module}/{verb}`.
    Http { base: String },
    /// gRPC to an imported realm's server.
    Grpc { upstream: GrpcUpstream, url: String },
    /// An FTL cluster's `xyz.block.ftl.v1.VerbService/Call`.
    Ftl { upstream: GrpcUpstream, url: String },
    /// A fake realm's stand-in (`realm fake`).
    Fake {
        runner: std::sync::Arc<dyn FakeRunner>,
    },
}

/// A local module's runner.
struct LocalRunner {
    runner: Runner,
    upstream: Upstream,
}

/// A pinned realm the ingress routes to.
struct External {
    checker: Checker,
    /// The name its own ingress answers to.
    own_name: String,
    /// Its ingress, when it has a direct endpoint.
    upstream: Option<Upstream>,
}

/// The realm that relays calls to realms without an endpoint.
struct Hub {
    name: String,
    upstream: Upstream,
}

/// Everything a running ingress knows: built once at start.
pub struct Ingress {
    realm: String,
    local: Checker,
    runners: HashMap<String, LocalRunner>,
    /// `+grpc` verbs: module → verb → method.
    methods: HashMap<String, HashMap<String, MethodDescriptor>>,
    externals: HashMap<String, External>,
    hub: Option<Hub>,
    http: HttpClient,
    /// Checks signatures; `None` when this ingress has no keys and pins
    /// no callers.
    verifier: Option<Verifier>,
    /// This realm's Ed25519 key, to sign calls to other realms.
    signer: Option<auth::Signer>,
    /// Realms whose client certificates are checked (mutual TLS).
    peer_cas: HashSet<String>,
    metrics: metrics::Metrics,
    draining: AtomicBool,
    well_known_txtpb: Bytes,
    well_known_json: Bytes,
    /// Bytes of request bodies held at once (`max-buffered`).
    budget: budget::BodyBudget,
    /// What a user should hear about the configuration (key files
    /// readable by others, ...), for the command to print.
    warnings: Vec<String>,
    config: IngressConfig,
    /// Keeps the calls that cross to other realms (`realm serve --record`).
    recorder: std::sync::OnceLock<std::sync::Arc<dyn record::CallRecorder>>,
    /// Queued calls and idempotency keys (`queued.rs`), when set.
    queue: std::sync::OnceLock<queued::Queued>,
}

impl Ingress {
    /// This realm's name.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn config(&self) -> &IngressConfig {
        &self.config
    }

    /// Warnings about the configuration, found while building.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The public schema, as proto-text or JSON.
    pub fn well_known(&self, json: bool) -> Reply {
        if json {
            Reply::json(StatusCode::OK, self.well_known_json.clone())
        } else {
            Reply {
                status: StatusCode::OK,
                content_type: HeaderValue::from_static("text/plain; charset=utf-8"),
                body: self.well_known_txtpb.clone(),
                retry_after: None,
                not_made: false,
            }
        }
    }

    /// Lines describing where calls go and who may call, for the start-up
    /// message.
    pub fn describe_routes(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut modules: Vec<&String> = self
            .local
            .realm()
            .modules
            .iter()
            .filter(|m| !m.builtin)
            .map(|m| &m.name)
            .collect();
        modules.sort();
        for module in modules {
            lines.push(match self.runners.get(module).map(|r| &r.runner) {
                Some(Runner::Http { base }) => format!("module {module} -> {base} (HTTP JSON)"),
                Some(Runner::Grpc { url, .. }) => format!("module {module} -> {url} (gRPC)"),
                Some(Runner::Ftl { url, .. }) => {
                    format!("module {module} -> {url} (FTL's VerbService)")
                }
                Some(Runner::Fake { runner }) => {
                    format!("module {module} -> {}", runner.describe(module))
                }
                None => format!("module {module} -> no runner (its verbs answer 503)"),
            });
        }
        let mut realms: Vec<(&String, &External)> = self.externals.iter().collect();
        realms.sort_by_key(|(name, _)| *name);
        for (name, external) in realms {
            let signed = |peer: &str| match self.signing_for(peer, None) {
                forward::Signing::Hmac(_) => ", signed (HMAC key)".to_string(),
                forward::Signing::Ed25519(signer, _) => {
                    format!(", signed (ed25519 key {})", signer.id())
                }
                forward::Signing::None => String::new(),
            };
            lines.push(match (&external.upstream, &self.hub) {
                (Some(u), _) => format!("realm {name} -> {}{}", u.endpoint, signed(name)),
                (None, Some(hub)) => format!(
                    "realm {name} -> hub {} at {}{}",
                    hub.name,
                    hub.upstream.endpoint,
                    signed(&hub.name)
                ),
                (None, None) => format!(
                    "realm {name} -> no endpoint (set {name}-realm-endpoint; its verbs answer 503)"
                ),
            });
        }
        // Who may call, and how each caller proves it.
        let mut callers: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut scheme = |realm: &str, how: String| {
            callers.entry(realm.to_string()).or_default().push(how);
        };
        if let Some(verifier) = &self.verifier {
            for peer in verifier.keys().peers() {
                scheme(peer, "HMAC key".to_string());
            }
            for pinned in verifier.pinned().realms() {
                let keys: Vec<&str> = pinned
                    .keys
                    .iter()
                    .filter(|k| !k.retired)
                    .map(|k| k.id.as_str())
                    .collect();
                scheme(
                    &pinned.name,
                    format!(
                        "ed25519 keys pinned at {}: {}",
                        crate::project::short_commit(&pinned.commit),
                        if keys.is_empty() {
                            "none".to_string()
                        } else {
                            keys.join(", ")
                        }
                    ),
                );
            }
        }
        for realm in &self.peer_cas {
            scheme(realm, "client certificate".to_string());
        }
        if self.auth_required() {
            lines.push(format!(
                "calls to this realm must be signed{} by one of:",
                if self.peer_cas.is_empty() {
                    ""
                } else {
                    " or carry a client certificate"
                }
            ));
            for (realm, hows) in callers {
                lines.push(format!("  caller {realm}: {}", hows.join("; ")));
            }
        }
        if self.config.security.relay {
            lines.push("relays signed calls of other realms (relay = true)".to_string());
        }
        lines
    }

    /// The key this realm shares with `peer`, to sign calls to it.
    fn key_for(&self, peer: &str) -> Option<&[u8]> {
        self.verifier.as_ref()?.keys().get(peer)
    }

    /// How calls to `peer` are signed: with the key shared with it when
    /// there is one (HMAC, as set up before realms had key pairs), else
    /// with this realm's Ed25519 key when it has one, else not at all.
    fn signing_for<'a>(
        &'a self,
        peer: &str,
        relayed: Option<&'a auth::Relayed>,
    ) -> forward::Signing<'a> {
        match (self.key_for(peer), &self.signer) {
            (Some(key), _) => forward::Signing::Hmac(key),
            (None, Some(signer)) => forward::Signing::Ed25519(signer, relayed),
            (None, None) => forward::Signing::None,
        }
    }

    /// Whether calls must be authenticated: this ingress has keys or checks
    /// client certificates.
    fn auth_required(&self) -> bool {
        self.verifier.is_some() || !self.peer_cas.is_empty()
    }

    /// Marks the ingress as shutting down: `/readyz` answers 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Every upstream's state.
    pub fn upstreams(&self) -> Vec<UpstreamStatus> {
        let now = Instant::now();
        let mut all: Vec<UpstreamStatus> = self
            .runners
            .values()
            .map(|r| r.upstream.status(now))
            .chain(
                self.externals
                    .values()
                    .filter_map(|e| e.upstream.as_ref().map(|u| u.status(now))),
            )
            .chain(self.hub.iter().map(|h| h.upstream.status(now)))
            .collect();
        all.sort_by(|a, b| (a.kind.as_str(), &a.name).cmp(&(b.kind.as_str(), &b.name)));
        all
    }

    /// `/status`: this realm and its upstreams, as JSON.
    pub fn status_json(&self) -> Reply {
        self.status_json_with(None)
    }

    /// `/status`, with the queue's state (`queued.rs` reads it).
    pub fn status_json_with(&self, queue: Option<status::QueueStatus>) -> Reply {
        let status = status::Status {
            realm: self.realm.clone(),
            ready: !self.is_draining(),
            buffered_bytes: self.budget.in_use(),
            upstreams: self.upstreams(),
            queue,
        };
        // Strings, numbers and unit enums: writing them cannot fail.
        let body = serde_json::to_string(&status).expect("a status is JSON");
        Reply::json(StatusCode::OK, body)
    }

    /// `/metrics`: Prometheus text.
    pub fn metrics_text(&self) -> String {
        self.metrics_text_with(None)
    }

    /// `/metrics`, with the queue's state (`queued.rs` reads it).
    pub fn metrics_text_with(&self, queue: Option<&status::QueueStatus>) -> String {
        let upstreams = self.upstreams();
        let names: Vec<String> = upstreams
            .iter()
            .map(|u| format!("{}:{}", u.kind, u.name))
            .collect();
        let samples: Vec<metrics::UpstreamSample<'_>> = upstreams
            .iter()
            .zip(&names)
            .map(|(u, name)| metrics::UpstreamSample {
                name,
                endpoint: &u.endpoint,
                up: u.state == upstream::State::Up,
                in_flight: u.in_flight,
                sent: u.sent,
                failed: u.failed,
                last_latency: u.last_latency_us.map(Duration::from_micros),
            })
            .collect();
        let targets = queue.map(queued::samples).unwrap_or_default();
        let queue = queue.and(self.queue()).map(|q| metrics::QueueSamples {
            targets: &targets,
            counts: queued::counts(q),
        });
        self.metrics.render_with(&samples, queue)
    }

    /// Counts a finished call.
    pub fn record(&self, call: &Call<'_>, outcome: &Outcome, elapsed: Duration) {
        if outcome.routed {
            let verb = metrics::VerbName {
                realm: call.realm,
                module: call.module,
                verb: call.verb,
            };
            self.metrics
                .call(verb, outcome.reply.status.as_u16(), elapsed);
        }
        if let Some(code) = outcome.refusal {
            self.metrics.refusal(code);
        }
    }

    /// Counts a request refused before it was a call (e.g. too large).
    pub fn record_refusal(&self, code: &'static str) {
        self.metrics.refusal(code);
    }
}

/// 64 random bits (span ids).
pub fn random_u64() -> u64 {
    uuid::Uuid::new_v4().as_u128() as u64
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
