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
//! The rooms: this file holds the ingress's state and the course of a call
//! ([`Ingress::handle`], the whole of a call without the HTTP server around
//! it); `build` makes an ingress, `route` finds where a call goes,
//! `forward` sends it, [`reply`] holds what is answered; `routes` answers
//! HTTP requests with it and [`server`] runs the worker threads that
//! accept and serve connections.

pub mod auth;
pub mod authorize;
mod budget;
mod build;
pub mod config;
mod conn;
mod forward;
mod forward_ftl;
pub mod hops;
pub mod metrics;
pub mod reply;
mod route;
mod routes;
pub mod server;
pub mod status;
pub mod trace;
pub mod upstream;
mod verb_service;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use prost_reflect::MethodDescriptor;

use crate::net::grpc::{GrpcUpstream, JsonStyle};
use crate::net::http::HttpClient;
use crate::schema::json::Checker;

use auth::Verifier;
use forward::Target;
use hops::{VIA, Via};
use reply::{auth_refusal, hop_refusal};
use route::Route;
use trace::{TRACEPARENT, TraceContext};
use upstream::{Kind, Upstream, UpstreamStatus};

pub use build::{from_workspace, server_tls};
pub use config::{IngressConfig, Overrides};
pub use reply::{Refusal, Reply};
pub use routes::is_request_id;

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

/// How a local module's verbs are served.
#[derive(Clone, Debug)]
enum Runner {
    /// JSON over HTTP: `POST {base}/{module}/{verb}`.
    Http { base: String },
    /// gRPC to an imported realm's server.
    Grpc { upstream: GrpcUpstream, url: String },
    /// An FTL cluster's `xyz.block.ftl.v1.VerbService/Call`.
    Ftl { upstream: GrpcUpstream, url: String },
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
    /// What a user should hear about the configuration (key files
    /// readable by others, ...), for the command to print.
    warnings: Vec<String>,
    config: IngressConfig,
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

    async fn handle_inner(
        &self,
        call: &Call<'_>,
        routed: &mut bool,
        caller: &mut Option<String>,
    ) -> Result<Reply, Refusal> {
        let via = Via::parse(call.headers.get(VIA).map(HeaderValue::as_bytes))
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
        let signed = match (&self.verifier, call.headers.get(auth::SIGNATURE)) {
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
            _ => None,
        };
        let policy = authorize::Policy {
            realm: &self.realm,
            required: self.auth_required(),
            peer_cas: &self.peer_cas,
            relay: self.config.security.relay,
            unsigned_egress: self.config.security.unsigned_egress,
            hub: self.config.hub.as_deref(),
        };
        let facts = authorize::Facts {
            signed: signed.as_deref(),
            signature_header: call.headers.contains_key(auth::SIGNATURE),
            certified: call.peer_realms,
            via: &via,
            local: call.realm == self.realm,
            peer: call.peer,
        };
        // Who sent the call is known (and logged) even when it is refused.
        *caller = authorize::identify(&policy, &facts)?;
        authorize::permit(&policy, &facts, caller.clone())?;
        // Where the call started, for runners: proven, or (nothing
        // required here) what the call says.
        let origin = authorize::origin(&policy, &facts, caller.as_deref())
            .map(str::to_string)
            .or_else(|| {
                (!self.auth_required())
                    .then(|| call.headers.get(CALLER_REALM))
                    .flatten()
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
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
        if let Ok(tp) = HeaderValue::from_bytes(&call.trace.child(random_u64()).header()) {
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
                if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
                    forward.insert(CALLER_REALM, origin);
                }
                if let Some(v) = call.headers.get(VIA) {
                    forward.insert(VIA, v.clone());
                }
                // FTL's own headers go to this realm's runners (or FTL
                // cluster), not to other realms: a transaction id means
                // nothing there.
                verb_service::pass_on(call.headers, &mut forward);
                match (&runner.runner, grpc) {
                    (Runner::Grpc { upstream, url }, Some(method)) => {
                        // Boxed, so that the future of every call is not
                        // as large as a gRPC call's (see `server::service`).
                        Box::pin(self.call_grpc(
                            &runner.upstream,
                            upstream,
                            url,
                            method,
                            parsed,
                            forward,
                            module,
                            verb,
                            style,
                        ))
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
                            Target::Runner(module),
                        )
                        .await
                    }
                    (Runner::Ftl { upstream, url }, _) => {
                        Box::pin(self.call_ftl(
                            &runner.upstream,
                            upstream,
                            url,
                            call,
                            forward,
                            module,
                            verb,
                        ))
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
                let what = Target::Realm {
                    realm: call.realm,
                    hub: (upstream.kind == Kind::Hub).then_some(peer.as_ref()),
                };
                let key = self.key_for(peer);
                self.send(upstream, &url, forward, call.body.clone(), verb, key, what)
                    .await
            }
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
