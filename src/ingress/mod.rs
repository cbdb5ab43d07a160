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
//! realm, and to runners the realm the call started in), `x-realm-via` (the
//! realms the call crossed, see [`hops`]), `x-realm-caller-module` (set by
//! the runner that makes the call), `x-request-id` (made here when absent)
//! and `traceparent` (W3C, see [`trace`]). All are passed on and logged.
//!
//! Before anything else a call is authenticated ([`auth`]: a signature by
//! the calling realm's key, and/or a client certificate from the realm's
//! CA) and checked against loops ([`hops`]). Each runner, realm and the hub
//! is an [`upstream::Upstream`] with its own concurrency limit and backoff.
//!
//! [`Ingress::handle`] is the whole of a call without the HTTP server
//! around it; [`server`] serves it.

pub mod auth;
mod budget;
pub mod config;
mod conn;
pub mod hops;
pub mod metrics;
pub mod server;
pub mod status;
pub mod trace;
pub mod upstream;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use prost_reflect::{DescriptorPool, MethodDescriptor};

use crate::files;
use crate::net::grpc::{self, CallError, GrpcUpstream, JsonStyle};
use crate::net::http::HttpClient;
use crate::project::UnsignedEgress;
use crate::schema::json::Checker;
use crate::schema::{Decl, MetadataKind, Schema, Type, Verb, Visibility, txtpb};
use crate::workspace::Workspace;

use auth::{AuthError, Keys, Verifier};
use hops::{VIA, Via};
use trace::{TRACEPARENT, TraceContext};
use upstream::{Kind, Unavailable, Upstream, UpstreamStatus};

pub use config::{IngressConfig, Overrides};

/// The calling realm.
pub const CALLER_REALM: &str = "x-realm-caller";
/// The calling module.
pub const CALLER_MODULE: &str = "x-realm-caller-module";
/// The request's id.
pub const REQUEST_ID: &str = "x-request-id";
/// How replies of gRPC verbs are encoded: `proto3` (proto3 JSON as
/// protojson prints it) or `ftl` (FTL's encoding, the default). Passed on
/// to other realms' ingresses.
pub const JSON_STYLE: &str = "x-realm-json";

/// An answer to a call: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: Bytes,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
}

const JSON: &str = "application/json";

impl Reply {
    fn json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: HeaderValue::from_static(JSON),
            body: body.into(),
            retry_after: None,
        }
    }
}

/// Why a call is refused (or failed upstream), as the caller sees it.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    /// A stable, machine-readable code: `unknown_realm`, `not_exported`, ...
    pub code: &'static str,
    pub message: String,
    /// The JSON path of the offending value, for bodies that do not fit.
    pub path: Option<String>,
    /// When the caller may try again.
    pub retry_after: Option<Duration>,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            path: None,
            retry_after: None,
        }
    }

    fn retry_after(mut self, after: Duration) -> Refusal {
        self.retry_after = Some(after);
        self
    }

    fn unauthenticated(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// The JSON error body.
    pub fn reply(&self, realm: &str, request_id: &str) -> Reply {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
        });
        if let Some(path) = &self.path {
            error["path"] = serde_json::Value::String(path.clone());
        }
        error["realm"] = serde_json::Value::String(realm.to_string());
        error["request_id"] = serde_json::Value::String(request_id.to_string());
        let mut reply = Reply::json(
            self.status,
            serde_json::json!({ "error": error }).to_string(),
        );
        // Whole seconds, rounded up: "in 0 s" would invite a stampede.
        reply.retry_after = self
            .retry_after
            .map(|d| d.as_millis().div_ceil(1000).max(1) as u64);
        reply
    }
}

/// How a local module's verbs are served.
#[derive(Clone, Debug)]
enum Runner {
    /// JSON over HTTP: `POST {base}/{module}/{verb}`.
    Http { base: String },
    /// gRPC to an imported realm's server.
    Grpc { upstream: GrpcUpstream, url: String },
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

/// One incoming call, as the HTTP server saw it.
#[derive(Debug)]
pub struct Call<'a> {
    pub realm: &'a str,
    pub module: &'a str,
    pub verb: &'a str,
    /// The request's path and query, as signed.
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The realms whose CA verified the client's TLS certificate.
    pub peer_realms: &'a [String],
    pub request_id: &'a str,
    pub trace: TraceContext,
}

/// What became of a call: the reply, and for metrics and logs the refusal
/// code and whether the call named a verb of the schema.
#[derive(Debug)]
pub struct Outcome {
    pub reply: Reply,
    /// The refusal's code, when the call was refused or failed.
    pub refusal: Option<&'static str>,
    /// The call named a known verb (its names are safe metric labels).
    pub routed: bool,
    /// The realm that sent the call, when it was authenticated.
    pub caller: Option<String>,
}

/// Where a call goes.
enum Route<'a> {
    Local {
        module: &'a str,
        verb: &'a Verb,
        runner: &'a LocalRunner,
        grpc: Option<&'a MethodDescriptor>,
    },
    External {
        external: &'a External,
        /// Where it goes: the realm's ingress, or the hub.
        upstream: &'a Upstream,
        /// The realm whose key signs it (the realm's or the hub's local name).
        peer: &'a str,
        module: &'a str,
        verb: &'a Verb,
    },
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
    /// Checks signatures; `None` when this ingress has no keys.
    verifier: Option<Verifier>,
    /// Realms whose client certificates are checked (mutual TLS).
    peer_cas: HashSet<String>,
    metrics: metrics::Metrics,
    draining: AtomicBool,
    well_known_txtpb: Bytes,
    well_known_json: Bytes,
    /// Bytes of request bodies held at once (`max-buffered`).
    budget: budget::BodyBudget,
    config: IngressConfig,
}

impl Ingress {
    /// Builds the ingress of a workspace: `keys` sign and check calls
    /// between realms, `http` reaches upstreams. Fails when gRPC verbs have
    /// no descriptors or a `+grpc` method is not in them, or the hub has no
    /// endpoint.
    pub fn new(
        ws: &Workspace,
        config: IngressConfig,
        keys: Keys,
        http: HttpClient,
    ) -> Result<Ingress> {
        let internal = ws.internal_realm();
        let local = Checker::new(internal);

        // gRPC verbs need the realm's descriptor set.
        let grpc_verbs: Vec<(&str, &Verb, &str)> = internal
            .decls()
            .filter_map(|(m, d)| match d {
                Decl::Verb(v) => v.metadata.iter().find_map(|md| match &md.kind {
                    MetadataKind::Grpc(method) => Some((m.name.as_str(), v, method.as_str())),
                    _ => None,
                }),
                _ => None,
            })
            .collect();
        let mut methods = HashMap::new();
        let mut grpc_modules = std::collections::HashSet::new();
        if !grpc_verbs.is_empty() {
            let Some(set) = &ws.project.descriptor_set else {
                bail!(
                    "realm `{}` has gRPC verbs (+grpc) but no `[realm] descriptor-set` in ftl-project.toml\n\
                     help: re-run `realm import ... --output` to write one",
                    internal.name
                );
            };
            let path = ws.project.root.join(set);
            let bytes = files::read_bytes(&path)?;
            let pool = DescriptorPool::decode(bytes.as_slice())
                .map_err(|e| anyhow!("{set} is not a valid descriptor set: {e}"))?;
            for (module, verb, method) in grpc_verbs {
                let (service, name) = method.split_once('/').ok_or_else(|| {
                    anyhow!(
                        "`+grpc \"{method}\"` of {module}.{} is not `package.Service/Method`",
                        verb.name
                    )
                })?;
                let descriptor = pool
                    .get_service_by_name(service)
                    .and_then(|s| s.methods().find(|m| m.name() == name))
                    .ok_or_else(|| {
                        anyhow!(
                            "{module}.{} is served by gRPC method {method}, which is not in {set}\n\
                             help: re-run `realm import ... --output` so the schema and the descriptors agree",
                            verb.name
                        )
                    })?;
                methods
                    .entry(module.to_string())
                    .or_insert_with(HashMap::new)
                    .insert(verb.name.clone(), descriptor);
                grpc_modules.insert(module.to_string());
            }
        }

        let limit = config.limits.upstream_concurrency;
        let mut runners = HashMap::new();
        for (module, setting) in &config.runners {
            let runner = if grpc_modules.contains(module) {
                Runner::Grpc {
                    upstream: GrpcUpstream::new(&setting.value)
                        .map_err(|e| anyhow!("runner of module `{module}`: {e}"))?,
                    url: setting.value.clone(),
                }
            } else {
                Runner::Http {
                    base: setting.value.trim_end_matches('/').to_string(),
                }
            };
            let upstream = Upstream::new(Kind::Runner, module, &setting.value, limit);
            runners.insert(module.clone(), LocalRunner { runner, upstream });
        }

        let endpoint = |name: &str| {
            config
                .endpoints
                .get(name)
                .map(|s| s.value.trim_end_matches('/').to_string())
        };
        let mut externals = HashMap::new();
        for realm in ws.schema.realms.iter().filter(|r| r.external) {
            externals.insert(
                realm.name.clone(),
                External {
                    checker: Checker::new(realm),
                    own_name: ws
                        .own_names
                        .get(&realm.name)
                        .cloned()
                        .unwrap_or_else(|| realm.name.clone()),
                    upstream: endpoint(&realm.name)
                        .map(|url| Upstream::new(Kind::Realm, &realm.name, &url, limit)),
                },
            );
        }
        let hub = match &config.hub {
            None => None,
            Some(name) => {
                let Some(url) = endpoint(name) else {
                    bail!(
                        "the hub `{name}` (`[ingress] hub`) has no endpoint\n\
                         help: set `{name}-realm-endpoint` in the config provider, ${}_REALM_ENDPOINT, or --realm-endpoint {name}=URL",
                        config::env_name(name)
                    );
                };
                Some(Hub {
                    name: name.clone(),
                    upstream: Upstream::new(Kind::Hub, name, &url, limit),
                })
            }
        };

        let export = crate::export::of_realm(internal, ws.project.export_path())?;
        let well_known_json = txtpb::to_json(&Schema {
            realms: vec![export.api.clone()],
        });
        let verifier =
            (!keys.is_empty()).then(|| Verifier::new(keys.clone(), config.security.replay_window));
        Ok(Ingress {
            realm: internal.name.clone(),
            local,
            runners,
            methods,
            externals,
            hub,
            http,
            verifier,
            peer_cas: config
                .security
                .peer_cas
                .iter()
                .map(|(realm, _)| realm.clone())
                .collect(),
            metrics: metrics::Metrics::new(&internal.name),
            draining: AtomicBool::new(false),
            well_known_txtpb: Bytes::from(export.text),
            well_known_json: Bytes::from(well_known_json),
            budget: budget::BodyBudget::new(config.limits.max_buffered),
            config,
        })
    }

    /// This realm's name.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn config(&self) -> &IngressConfig {
        &self.config
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
                None => format!("module {module} -> no runner (its verbs answer 503)"),
            });
        }
        let mut realms: Vec<(&String, &External)> = self.externals.iter().collect();
        realms.sort_by_key(|(name, _)| *name);
        for (name, external) in realms {
            let signed = |peer: &str| {
                if self.key_for(peer).is_some() {
                    ", signed"
                } else {
                    ""
                }
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
        let mut peers: Vec<&str> = self
            .verifier
            .iter()
            .flat_map(|v| v.keys().peers())
            .collect();
        peers.extend(self.peer_cas.iter().map(String::as_str));
        peers.sort_unstable();
        peers.dedup();
        if self.auth_required() {
            lines.push(format!(
                "calls to this realm must be signed or carry a client certificate of: {}",
                peers.join(", ")
            ));
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
        let status = status::Status {
            realm: self.realm.clone(),
            ready: !self.is_draining(),
            buffered_bytes: self.budget.in_use(),
            upstreams: self.upstreams(),
        };
        // Strings, numbers and unit enums: writing them cannot fail.
        let body = serde_json::to_string(&status).expect("a status is JSON");
        Reply::json(StatusCode::OK, body)
    }

    /// `/metrics`: Prometheus text.
    pub fn metrics_text(&self) -> String {
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
        self.metrics.render(&samples)
    }

    /// Counts a finished call.
    pub fn record(&self, call: &Call<'_>, outcome: &Outcome, elapsed: Duration) {
        if outcome.routed {
            self.metrics.call(
                call.realm,
                call.module,
                call.verb,
                outcome.reply.status.as_u16(),
                elapsed,
            );
        }
        if let Some(code) = outcome.refusal {
            self.metrics.refusal(code);
        }
    }

    /// Counts a request refused before it was a call (e.g. too large).
    pub fn record_refusal(&self, code: &'static str) {
        self.metrics.refusal(code);
    }

    fn route<'a>(
        &'a self,
        realm: &'a str,
        module: &'a str,
        verb: &'a str,
    ) -> Result<Route<'a>, Refusal> {
        if realm == self.realm {
            let v = find_verb(&self.local, realm, module, verb)?;
            let runner = self.runners.get(module).ok_or_else(|| {
                Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no_runner",
                    format!(
                        "module `{module}` of realm `{realm}` has no runner\n\
                         set `[ingress.runners] {module}` (or `default`) in ftl-project.toml, or pass --runner {module}=URL"
                    ),
                )
            })?;
            let grpc = self.methods.get(module).and_then(|verbs| verbs.get(verb));
            return Ok(Route::Local {
                module,
                verb: v,
                runner,
                grpc,
            });
        }
        let Some(external) = self.externals.get(realm) else {
            let mut known: Vec<&str> = self.externals.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "unknown_realm",
                format!(
                    "no realm `{realm}` here: this ingress serves realm `{}`{}",
                    self.realm,
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" and routes to {}", known.join(", "))
                    }
                ),
            ));
        };
        let v = find_verb(&external.checker, realm, module, verb)?;
        let (upstream, peer) = match (&external.upstream, &self.hub) {
            (Some(u), _) => (u, realm),
            (None, Some(hub)) => (&hub.upstream, hub.name.as_str()),
            (None, None) => {
                return Err(Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no_endpoint",
                    format!(
                        "no endpoint for realm `{realm}`: set `{realm}-realm-endpoint` in the config provider, \
                         ${}_REALM_ENDPOINT, or --realm-endpoint {realm}=URL (or configure a hub: `[ingress] hub`)",
                        config::env_name(realm)
                    ),
                ));
            }
        };
        Ok(Route::External {
            external,
            upstream,
            peer,
            module,
            verb: v,
        })
    }

    /// Handles one call: authenticates it, checks its hops, routes it,
    /// checks the body, calls the runner or the other realm, and answers.
    pub async fn handle(&self, call: &Call<'_>) -> Outcome {
        let mut routed = false;
        let mut caller = None;
        match self.handle_inner(call, &mut routed, &mut caller).await {
            Ok(reply) => Outcome {
                reply,
                refusal: None,
                routed,
                caller,
            },
            Err(refusal) => Outcome {
                reply: refusal.reply(&self.realm, call.request_id),
                refusal: Some(refusal.code),
                routed,
                caller,
            },
        }
    }

    /// Who sent the call, when it proves it: a valid signature, a client
    /// certificate from a realm's CA, or both (then they must agree).
    fn authenticate(&self, call: &Call<'_>, via: &Via) -> Result<Option<String>, Refusal> {
        let signature = call.headers.get(auth::SIGNATURE);
        let signed = match (&self.verifier, signature) {
            (Some(verifier), Some(header)) => {
                let request = auth::Request {
                    method: "POST",
                    path: call.path,
                    via: call
                        .headers
                        .get(VIA)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                    body: &call.body,
                };
                let realm = verifier
                    .verify(Some(header.as_bytes()), &request, unix_now())
                    .map_err(|e| auth_refusal(&e))?;
                Some(realm)
            }
            (None, Some(_)) | (_, None) => None,
        };
        let certified = match call.peer_realms {
            [] => None,
            [one] => Some(one.clone()),
            several => {
                // One certificate for several realms: the signature decides.
                match &signed {
                    Some(s) if several.contains(s) => Some(s.clone()),
                    _ => None,
                }
            }
        };
        let caller = match (signed, certified) {
            (Some(s), Some(c)) if s != c => {
                return Err(Refusal::unauthenticated(
                    "certificate_mismatch",
                    format!(
                        "the call is signed by realm `{s}` but the client certificate belongs to realm `{c}`"
                    ),
                ));
            }
            (Some(s), _) => Some(s),
            (None, c) => c,
        };
        if let Some(realm) = &caller {
            // A realm that has a CA here must present its certificate.
            if self.peer_cas.contains(realm) && !call.peer_realms.contains(realm) {
                return Err(Refusal::unauthenticated(
                    "client_certificate_required",
                    format!(
                        "calls from realm `{realm}` must come with a client certificate issued by its CA (`[ingress.tls.peers] {realm}`)"
                    ),
                ));
            }
            if let Some(last) = via.last()
                && last != realm
            {
                return Err(Refusal::unauthenticated(
                    "via_mismatch",
                    format!(
                        "the call comes from realm `{realm}` but its {VIA} header ends with `{last}`"
                    ),
                ));
            }
        }
        Ok(caller)
    }

    /// Whether an unsigned call from `peer` may go on to other realms.
    fn unsigned_egress_allowed(&self, peer: Option<SocketAddr>) -> bool {
        match self.config.security.unsigned_egress {
            UnsignedEgress::Any => true,
            UnsignedEgress::None => false,
            UnsignedEgress::Private => peer.is_some_and(|p| is_private(p.ip())),
            UnsignedEgress::Loopback => peer.is_some_and(|p| p.ip().to_canonical().is_loopback()),
        }
    }

    async fn handle_inner(
        &self,
        call: &Call<'_>,
        routed: &mut bool,
        caller: &mut Option<String>,
    ) -> Result<Reply, Refusal> {
        let via = Via::parse(call.headers.get(VIA).map(HeaderValue::as_bytes))
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
        *caller = self.authenticate(call, &via)?;
        let local = call.realm == self.realm;
        if self.auth_required() {
            match (&caller, local) {
                (Some(_), true) => {}
                (None, true) => {
                    return Err(Refusal::unauthenticated(
                        if call.headers.contains_key(auth::SIGNATURE) {
                            "unknown_peer"
                        } else {
                            "unsigned"
                        },
                        format!(
                            "calls to realm `{}` must be signed by the calling realm{} (other realms' ingresses sign the calls they forward when they have a key for `{}`)",
                            self.realm,
                            if self.peer_cas.is_empty() {
                                String::new()
                            } else {
                                " or carry its client certificate".to_string()
                            },
                            self.realm
                        ),
                    ));
                }
                // This realm's own runners, signing (or certified) as it.
                (Some(realm), false) if *realm == self.realm => {
                    if !via.realms().is_empty() {
                        return Err(Refusal::new(
                            StatusCode::BAD_REQUEST,
                            "malformed_via",
                            format!(
                                "a call from realm `{realm}`'s own modules starts here: it must not carry {VIA}"
                            ),
                        ));
                    }
                }
                (Some(realm), false) if !self.config.security.relay => {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        "relay_refused",
                        format!(
                            "realm `{}` does not relay calls of realm `{realm}` to other realms (`[ingress] relay = true` allows it)",
                            self.realm
                        ),
                    ));
                }
                (Some(_), false) => {}
                (None, false) if self.unsigned_egress_allowed(call.peer) => {
                    // Nobody vouches for where an unsigned call has been:
                    // it starts here, or it could name any origin realm.
                    if !via.realms().is_empty() {
                        return Err(Refusal::unauthenticated(
                            "unsigned",
                            format!(
                                "an unsigned call cannot say which realms it crossed ({VIA}: {via}): only a signed call from another realm can"
                            ),
                        ));
                    }
                }
                (None, false) => {
                    let who = call
                        .peer
                        .map_or("this client".to_string(), |p| p.ip().to_string());
                    return Err(Refusal::unauthenticated(
                        "unsigned",
                        match self.config.security.unsigned_egress {
                            UnsignedEgress::None => format!(
                                "calls to other realms through realm `{}` must be signed (`[ingress] unsigned-egress = \"none\"`)",
                                self.realm
                            ),
                            policy => format!(
                                "unsigned calls to other realms are accepted only from {} addresses; {who} is not one (`[ingress] unsigned-egress`)",
                                if policy == UnsignedEgress::Loopback {
                                    "loopback"
                                } else {
                                    "loopback and private"
                                }
                            ),
                        },
                    ));
                }
            }
        }
        via.arrive(&self.realm, self.config.limits.max_hops)
            .map_err(hop_refusal)?;

        let route = self.route(call.realm, call.module, call.verb)?;
        *routed = true;
        let (checker, request_type) = match &route {
            Route::Local { verb, .. } => (&self.local, &verb.request),
            Route::External { external, verb, .. } => (&external.checker, &verb.request),
        };
        let parsed = parse_body(&call.body)?;
        checker
            .check_body(request_type, parsed.as_ref())
            .map_err(|e| Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_body",
                message: format!("the body does not fit {request_type}: {e}"),
                path: Some(e.path),
                retry_after: None,
            })?;

        let style = json_style(call.headers)?;
        let mut forward = HeaderMap::new();
        if let Ok(id) = HeaderValue::from_str(call.request_id) {
            forward.insert(REQUEST_ID, id);
        }
        if let Some(module) = call.headers.get(CALLER_MODULE) {
            forward.insert(CALLER_MODULE, module.clone());
        }
        if let Ok(tp) = HeaderValue::from_str(&call.trace.child(random_u64()).header()) {
            forward.insert(TRACEPARENT, tp);
        }
        match route {
            Route::Local {
                module,
                verb,
                runner,
                grpc,
            } => {
                // The runner hears which realm the call started in.
                let origin = via
                    .origin()
                    .map(str::to_string)
                    .or_else(|| caller.clone())
                    .or_else(|| {
                        call.headers
                            .get(CALLER_REALM)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    });
                if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
                    forward.insert(CALLER_REALM, origin);
                }
                if let Some(v) = call.headers.get(VIA) {
                    forward.insert(VIA, v.clone());
                }
                match (&runner.runner, grpc) {
                    (Runner::Grpc { upstream, url }, Some(method)) => {
                        self.call_grpc(
                            &runner.upstream,
                            upstream,
                            url,
                            method,
                            parsed,
                            forward,
                            module,
                            verb,
                            style,
                        )
                        .await
                    }
                    (Runner::Http { base }, _) => {
                        let url = format!("{base}/{module}/{}", verb.name);
                        self.send(
                            &runner.upstream,
                            &url,
                            forward,
                            call.body.clone(),
                            verb,
                            None,
                            &format!("the runner of module `{module}`"),
                        )
                        .await
                    }
                    (Runner::Grpc { .. }, None) => Err(Refusal::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "no_method",
                        format!(
                            "{module}.{} has no +grpc method for its gRPC runner",
                            verb.name
                        ),
                    )),
                }
            }
            Route::External {
                external,
                upstream,
                peer,
                module,
                verb,
            } => {
                let on = via
                    .forward(&self.realm, &external.own_name, self.config.limits.max_hops)
                    .map_err(hop_refusal)?;
                if let Ok(v) = HeaderValue::from_str(&on.to_string()) {
                    forward.insert(VIA, v);
                }
                if let Ok(me) = HeaderValue::from_str(&self.realm) {
                    forward.insert(CALLER_REALM, me);
                }
                if let Some(style) = call.headers.get(JSON_STYLE) {
                    forward.insert(JSON_STYLE, style.clone());
                }
                let url = format!(
                    "{}/realms/{}/{module}/{}",
                    upstream.endpoint.trim_end_matches('/'),
                    external.own_name,
                    verb.name
                );
                let what = if upstream.kind == Kind::Hub {
                    format!("realm `{}` through the hub `{peer}`", call.realm)
                } else {
                    format!("realm `{}`", call.realm)
                };
                let key = self.key_for(peer);
                self.send(upstream, &url, forward, call.body.clone(), verb, key, &what)
                    .await
            }
        }
    }

    /// Sends a call to an HTTP upstream: waits for a slot (or refuses when
    /// the upstream is full or backing off), signs it with `key` when given,
    /// bounds it by the upstream timeout, retries connection failures for
    /// `+retry` verbs (their policy is read only then, off the hot path),
    /// and records the upstream's health.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        upstream: &Upstream,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
        verb: &Verb,
        key: Option<&[u8]>,
        what: &str,
    ) -> Result<Reply, Refusal> {
        let uri: http::Uri = url.parse().map_err(|e| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "bad_upstream",
                format!("{url}: {e}"),
            )
        })?;
        let timeout = self.config.limits.upstream_timeout;
        let now = Instant::now();
        let deadline = now.checked_add(timeout).unwrap_or(now);
        let mut attempt = 0u32;
        let started = now;
        loop {
            let permit = upstream
                .acquire(Instant::now(), attempt > 0)
                .map_err(|u| unavailable(u, what))?;
            let mut headers = headers.clone();
            if let Some(key) = key {
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let via = headers.get(VIA).and_then(|v| v.to_str().ok()).unwrap_or("");
                let request = auth::Request {
                    method: "POST",
                    path,
                    via,
                    body: &body,
                };
                let value = auth::sign(key, &self.realm, &request, unix_now());
                headers.insert(auth::SIGNATURE, value);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let result =
                tokio::time::timeout(left, self.http.post_json(&uri, headers, body.clone())).await;
            let reply = match result {
                Err(_) => {
                    let wait = upstream.failed(permit, "no answer in time", Instant::now());
                    return Err(timed_out(what, timeout).retry_after(wait));
                }
                Ok(Err(e)) => {
                    let wait = upstream.failed(permit, &e.to_string(), Instant::now());
                    if e.not_sent()
                        && let Some(policy) = RetryPolicy::of(verb)
                        && attempt + 1 < policy.attempts
                    {
                        let pause = policy.backoff(attempt);
                        if Instant::now()
                            .checked_add(pause)
                            .is_some_and(|at| at < deadline)
                        {
                            tracing::debug!("retrying {what} in {pause:?}: {e}");
                            tokio::time::sleep(pause).await;
                            attempt += 1;
                            continue;
                        }
                    }
                    // After retries, say how many and how long they took.
                    let tries = if attempt > 0 {
                        format!(
                            " after {} attempts over {} (`+retry`)",
                            attempt + 1,
                            crate::duration::format(Duration::from_millis(
                                started.elapsed().as_millis() as u64
                            ))
                        )
                    } else {
                        String::new()
                    };
                    return Err(Refusal::new(
                        StatusCode::BAD_GATEWAY,
                        "upstream_unreachable",
                        format!("cannot reach {what}{tries}: {e}"),
                    )
                    .retry_after(wait));
                }
                Ok(Ok(reply)) => {
                    upstream.succeeded(permit);
                    reply
                }
            };
            return relay_reply(reply, what);
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn call_grpc(
        &self,
        health: &Upstream,
        upstream: &GrpcUpstream,
        url: &str,
        method: &MethodDescriptor,
        body: Option<serde_json::Value>,
        headers: HeaderMap,
        module: &str,
        verb: &Verb,
        style: JsonStyle,
    ) -> Result<Reply, Refusal> {
        let json = body.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let request = grpc::json_to_message(method, &json).map_err(|(path, message)| Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            message,
            path: Some(path),
            retry_after: None,
        })?;
        let mut metadata = tonic::metadata::MetadataMap::new();
        for (name, value) in &headers {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                metadata.insert(key, value);
            }
        }
        let what = format!("the runner of module `{module}`");
        let permit = health
            .acquire(Instant::now(), false)
            .map_err(|u| unavailable(u, &what))?;
        let timeout = self.config.limits.upstream_timeout;
        let max_reply =
            usize::try_from(self.config.limits.max_grpc_reply_size).unwrap_or(usize::MAX);
        let result = tokio::time::timeout(
            timeout,
            upstream.unary(method, request, metadata, max_reply),
        )
        .await;
        let result = match result {
            Err(_) => {
                let wait = health.failed(permit, "no answer in time", Instant::now());
                return Err(timed_out(&what, timeout).retry_after(wait));
            }
            Ok(result) => result,
        };
        match result {
            Ok(reply) => {
                health.succeeded(permit);
                let body = if verb.response == Type::Unit {
                    b"{}".to_vec()
                } else {
                    grpc::message_to_json(&reply, style)
                        .map_err(|e| Refusal::new(StatusCode::BAD_GATEWAY, "bad_reply", e))?
                };
                Ok(Reply::json(StatusCode::OK, body))
            }
            Err(CallError::TooLarge { limit, detail }) => {
                // The runner answered: it is there, the reply is ours to refuse.
                health.succeeded(permit);
                Err(Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_too_large",
                    format!(
                        "{module}.{} answered more than {limit} bytes, the most this ingress reads from a gRPC runner (`[ingress] max-grpc-reply-size`, default `max-body-size`): {detail}",
                        verb.name
                    ),
                ))
            }
            Err(CallError::Status(status)) => {
                let name = crate::net::code_name(status.code());
                let unreachable = status.code() == tonic::Code::Unavailable;
                if unreachable {
                    let wait = health.failed(permit, status.message(), Instant::now());
                    return Err(Refusal::new(
                        grpc::http_status(status.code()),
                        "upstream_unreachable",
                        format!("cannot reach {what} at {url}: {}", status.message()),
                    )
                    .retry_after(wait));
                }
                health.succeeded(permit);
                Err(Refusal::new(
                    grpc::http_status(status.code()),
                    "upstream_status",
                    format!(
                        "{module}.{} failed: {name}: {}",
                        verb.name,
                        status.message()
                    ),
                ))
            }
        }
    }
}

/// How a `+retry` verb's calls are retried when the connection fails
/// before the request is sent.
#[derive(Clone, Copy, Debug)]
struct RetryPolicy {
    /// Attempts in all, the first included.
    attempts: u32,
    min: Duration,
    max: Duration,
}

impl RetryPolicy {
    /// The policy of `+retry [count] min [max]`: count (default 3) retries
    /// after the first attempt, waiting min, doubling up to max (default
    /// 10 × min). `None` for verbs without `+retry`.
    fn of(verb: &Verb) -> Option<RetryPolicy> {
        verb.metadata.iter().find_map(|m| match &m.kind {
            MetadataKind::Retry {
                count,
                min_backoff,
                max_backoff,
                ..
            } => {
                // The schema's durations may be anything it parses; a
                // retry waits between 10 ms and a minute.
                let clamp =
                    |d: Duration| d.clamp(Duration::from_millis(10), Duration::from_secs(60));
                let min =
                    clamp(crate::duration::parse(min_backoff).unwrap_or(Duration::from_secs(1)));
                let max = clamp(
                    max_backoff
                        .as_deref()
                        .and_then(|m| crate::duration::parse(m).ok())
                        .unwrap_or_else(|| min.saturating_mul(10)),
                )
                .max(min);
                let retries = count.unwrap_or(3).clamp(0, 100) as u32;
                Some(RetryPolicy {
                    attempts: retries + 1,
                    min,
                    max,
                })
            }
            _ => None,
        })
    }

    /// The wait before retry number `attempt + 1`.
    fn backoff(&self, attempt: u32) -> Duration {
        self.min
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max)
    }
}

/// An upstream's answer as the caller gets it: successes and JSON answers
/// pass through; other failures are wrapped in a JSON error.
fn relay_reply(reply: crate::net::http::Answer, what: &str) -> Result<Reply, Refusal> {
    let is_json = reply
        .content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(JSON));
    if reply.status.is_success() || is_json {
        return Ok(Reply {
            status: reply.status,
            content_type: reply
                .content_type
                .unwrap_or_else(|| HeaderValue::from_static(JSON)),
            body: reply.body,
            retry_after: reply.retry_after,
        });
    }
    let text = String::from_utf8_lossy(&reply.body);
    let text = text.trim();
    Err(Refusal::new(
        reply.status,
        "upstream_error",
        format!(
            "{what} answered {}{}",
            reply.status,
            if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            }
        ),
    ))
}

fn unavailable(u: Unavailable, what: &str) -> Refusal {
    match u {
        Unavailable::BackingOff { retry_after } => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_backoff",
            format!(
                "{what} failed recently; calls to it are refused for {} more",
                crate::duration::format(Duration::from_millis(
                    retry_after.as_millis().div_ceil(100) as u64 * 100
                ))
            ),
        )
        .retry_after(retry_after),
        Unavailable::Busy { limit } => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_busy",
            format!(
                "{what} already has {limit} calls in flight (`[ingress] upstream-concurrency`)"
            ),
        )
        .retry_after(Duration::from_secs(1)),
    }
}

fn timed_out(what: &str, timeout: Duration) -> Refusal {
    Refusal::new(
        StatusCode::GATEWAY_TIMEOUT,
        "upstream_timeout",
        format!(
            "{what} did not answer within {} (`[ingress] upstream-timeout`)",
            crate::duration::format(timeout)
        ),
    )
}

fn hop_refusal(e: hops::HopError) -> Refusal {
    let status = match e {
        hops::HopError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::LOOP_DETECTED,
    };
    Refusal::new(status, e.code(), e.to_string())
}

fn auth_refusal(e: &AuthError) -> Refusal {
    let refusal = Refusal::new(e.status(), e.code(), e.to_string());
    match e {
        AuthError::ReplayCacheFull => refusal.retry_after(Duration::from_secs(1)),
        _ => refusal,
    }
}

/// Loopback, private, link-local and unique-local addresses.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
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

/// Finds `module.verb` of a realm, refusing unknown modules and verbs, other
/// declarations and verbs that are not `export realm`.
fn find_verb<'a>(
    checker: &'a Checker,
    realm: &str,
    module: &str,
    verb: &str,
) -> Result<&'a Verb, Refusal> {
    if !checker.has_module(module) || module == "builtin" {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "unknown_module",
            format!("realm `{realm}` has no module `{module}`"),
        ));
    }
    match checker.decl(module, verb) {
        None => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "unknown_verb",
            format!("module `{module}` of realm `{realm}` has no verb `{verb}`"),
        )),
        Some(Decl::Verb(v)) if v.visibility == Visibility::ExportRealm => Ok(v),
        Some(Decl::Verb(v)) => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "not_exported",
            format!(
                "verb `{module}.{verb}` of realm `{realm}` is not exported to other realms (it is {})",
                v.visibility
            ),
        )),
        Some(other) => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "unknown_verb",
            format!(
                "`{module}.{verb}` of realm `{realm}` is {}, not a verb",
                other.kind().with_article()
            ),
        )),
    }
}

/// The reply style a caller asks for with `x-realm-json`.
fn json_style(headers: &HeaderMap) -> Result<JsonStyle, Refusal> {
    match headers.get(JSON_STYLE).map(HeaderValue::as_bytes) {
        None | Some(b"ftl") => Ok(JsonStyle::Ftl),
        Some(b"proto3") => Ok(JsonStyle::Proto3),
        Some(other) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_json_style",
            format!(
                "{JSON_STYLE}: {:?} is not a JSON style; use `proto3` (proto3 JSON replies) or `ftl` (FTL's encoding, the default)",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

/// The body as JSON; `None` when it is empty. Read strictly: a member
/// named twice is refused, so the value checked is the only one the bytes
/// forwarded can mean.
fn parse_body(body: &[u8]) -> Result<Option<serde_json::Value>, Refusal> {
    crate::schema::json_read::read_body(body).map_err(|e| Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "malformed_json",
        message: e.message,
        path: e.path,
        retry_after: None,
    })
}

/// Builds an ingress for a workspace with the given overrides, reading the
/// process environment.
pub fn from_workspace(ws: &Workspace, overrides: &Overrides) -> Result<Arc<Ingress>> {
    let modules: Vec<String> = ws
        .internal_realm()
        .modules
        .iter()
        .filter(|m| !m.builtin)
        .map(|m| m.name.clone())
        .collect();
    let mut realms: Vec<String> = ws
        .schema
        .realms
        .iter()
        .filter(|r| r.external)
        .map(|r| r.name.clone())
        .collect();
    // The hub's endpoint is found like a pinned realm's.
    if let Some(hub) = &ws.project.ingress.hub
        && !realms.contains(hub)
    {
        realms.push(hub.clone());
    }
    let config = config::resolve(&ws.project, &modules, &realms, overrides, &|var| {
        std::env::var(var).ok()
    })
    .context("invalid ingress configuration")?;
    let keys = Keys::load(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("REALM_KEY_")),
        config
            .security
            .keys_file
            .as_ref()
            .map(|(path, label)| (path.as_path(), label.as_str())),
    )
    .context("cannot load the signing keys")?;
    for warning in keys.warnings() {
        tracing::warn!("{warning}");
        eprintln!("warning: {warning}");
    }
    let security = &config.security;
    let http = if security.upstream_cas.is_empty() && security.client_cert.is_none() {
        HttpClient::new()
    } else {
        let tls = crate::net::tls::client_config(
            &security.upstream_cas,
            security
                .client_cert
                .as_ref()
                .map(|(c, k)| (c.as_path(), k.as_path())),
        )
        .context("invalid `[ingress.tls]` for upstreams")?;
        HttpClient::with_tls(tls)
    };
    Ok(Arc::new(Ingress::new(ws, config, keys, http)?))
}

/// The listener's TLS, when `[ingress.tls]` names a certificate.
pub fn server_tls(config: &IngressConfig) -> Result<Option<Arc<crate::net::tls::ServerTls>>> {
    let security = &config.security;
    let Some((cert, key)) = &security.tls else {
        return Ok(None);
    };
    let tls = crate::net::tls::ServerTls::load(cert, key, &security.peer_cas)
        .context("invalid `[ingress.tls]`")?;
    Ok(Some(Arc::new(tls)))
}
