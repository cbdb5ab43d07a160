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
//! Caller identity travels in headers: `x-realm-caller` (the calling
//! realm: set by the ingress that forwards a call to another realm),
//! `x-realm-caller-module` (set by the runner that makes the call) and
//! `x-request-id` (made here when absent). All three are passed on and
//! logged.
//!
//! [`Ingress::handle`] is the whole of a call without the HTTP server
//! around it; [`server`] serves it.

pub mod auth;
pub mod config;
pub mod metrics;
pub mod server;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use prost_reflect::{DescriptorPool, MethodDescriptor};

use crate::files;
use crate::net::grpc::{self, GrpcUpstream};
use crate::net::http::HttpClient;
use crate::schema::json::Checker;
use crate::schema::{Decl, MetadataKind, Schema, Type, Verb, Visibility, txtpb};
use crate::workspace::Workspace;

pub use config::{IngressConfig, Overrides};

/// The calling realm.
pub const CALLER_REALM: &str = "x-realm-caller";
/// The calling module.
pub const CALLER_MODULE: &str = "x-realm-caller-module";
/// The request's id.
pub const REQUEST_ID: &str = "x-request-id";

/// An answer to a call: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: Bytes,
}

const JSON: &str = "application/json";

impl Reply {
    fn json(status: StatusCode, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: HeaderValue::from_static(JSON),
            body: body.into(),
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
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            path: None,
        }
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
        Reply::json(
            self.status,
            serde_json::json!({ "error": error }).to_string(),
        )
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

/// A pinned realm the ingress routes to.
struct External {
    checker: Checker,
    /// The name its own ingress answers to.
    own_name: String,
    /// Its ingress, without a trailing `/`.
    endpoint: Option<String>,
}

/// Where a call goes.
enum Route<'a> {
    Local {
        module: &'a str,
        verb: &'a Verb,
        runner: &'a Runner,
        grpc: Option<&'a MethodDescriptor>,
    },
    External {
        external: &'a External,
        endpoint: &'a str,
        module: &'a str,
        verb: &'a Verb,
    },
}

/// Everything a running ingress knows: built once at start.
pub struct Ingress {
    realm: String,
    local: Checker,
    runners: HashMap<String, Runner>,
    /// `+grpc` verbs: module → verb → method.
    methods: HashMap<String, HashMap<String, MethodDescriptor>>,
    externals: HashMap<String, External>,
    http: HttpClient,
    well_known_txtpb: Bytes,
    well_known_json: Bytes,
    config: IngressConfig,
}

impl Ingress {
    /// Builds the ingress of a workspace. Fails when gRPC verbs have no
    /// descriptors or a `+grpc` method is not in them.
    pub fn new(ws: &Workspace, config: IngressConfig) -> Result<Ingress> {
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
            runners.insert(module.clone(), runner);
        }

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
                    endpoint: config
                        .endpoints
                        .get(&realm.name)
                        .map(|s| s.value.trim_end_matches('/').to_string()),
                },
            );
        }

        let export = crate::export::of_realm(internal, ws.project.export_path())?;
        let well_known_json = txtpb::to_json(&Schema {
            realms: vec![export.api.clone()],
        });
        Ok(Ingress {
            realm: internal.name.clone(),
            local,
            runners,
            methods,
            externals,
            http: HttpClient::new(),
            well_known_txtpb: Bytes::from(export.text),
            well_known_json: Bytes::from(well_known_json),
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
            }
        }
    }

    /// Lines describing where calls go, for the start-up message.
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
            lines.push(match self.runners.get(module) {
                Some(Runner::Http { base }) => format!("module {module} -> {base} (HTTP JSON)"),
                Some(Runner::Grpc { url, .. }) => format!("module {module} -> {url} (gRPC)"),
                None => format!("module {module} -> no runner (its verbs answer 503)"),
            });
        }
        let mut realms: Vec<(&String, &External)> = self.externals.iter().collect();
        realms.sort_by_key(|(name, _)| *name);
        for (name, external) in realms {
            lines.push(match &external.endpoint {
                Some(url) => format!("realm {name} -> {url}"),
                None => format!(
                    "realm {name} -> no endpoint (set {name}-realm-endpoint; its verbs answer 503)"
                ),
            });
        }
        lines
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
        let Some(endpoint) = &external.endpoint else {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_endpoint",
                format!(
                    "no endpoint for realm `{realm}`: set `{realm}-realm-endpoint` in the config provider, \
                     ${}_REALM_ENDPOINT, or --realm-endpoint {realm}=URL",
                    config::env_name(realm)
                ),
            ));
        };
        Ok(Route::External {
            external,
            endpoint,
            module,
            verb: v,
        })
    }

    /// Handles one call: routes it, checks the body, calls the runner or the
    /// other realm, and answers. `headers` are the incoming ones.
    pub async fn handle(
        &self,
        realm: &str,
        module: &str,
        verb: &str,
        headers: &HeaderMap,
        body: Bytes,
        request_id: &str,
    ) -> Reply {
        match self
            .handle_inner(realm, module, verb, headers, body, request_id)
            .await
        {
            Ok(reply) => reply,
            Err(refusal) => refusal.reply(&self.realm, request_id),
        }
    }

    async fn handle_inner(
        &self,
        realm: &str,
        module: &str,
        verb: &str,
        headers: &HeaderMap,
        body: Bytes,
        request_id: &str,
    ) -> Result<Reply, Refusal> {
        let route = self.route(realm, module, verb)?;
        let (checker, request_type) = match &route {
            Route::Local { verb, .. } => (&self.local, &verb.request),
            Route::External { external, verb, .. } => (&external.checker, &verb.request),
        };
        let parsed = parse_body(&body)?;
        checker
            .check_body(request_type, parsed.as_ref())
            .map_err(|e| Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_body",
                message: format!("the body does not fit {request_type}: {e}"),
                path: Some(e.path),
            })?;

        let mut forward = HeaderMap::new();
        if let Ok(id) = HeaderValue::from_str(request_id) {
            forward.insert(REQUEST_ID, id);
        }
        if let Some(caller) = headers.get(CALLER_MODULE) {
            forward.insert(CALLER_MODULE, caller.clone());
        }
        match route {
            Route::Local {
                module,
                verb,
                runner,
                grpc,
            } => {
                if let Some(caller) = headers.get(CALLER_REALM) {
                    forward.insert(CALLER_REALM, caller.clone());
                }
                match (runner, grpc) {
                    (Runner::Grpc { upstream, url }, Some(method)) => {
                        self.call_grpc(upstream, url, method, parsed, forward, module, verb)
                            .await
                    }
                    (Runner::Http { base }, _) => {
                        let url = format!("{base}/{module}/{}", verb.name);
                        self.forward(
                            &url,
                            forward,
                            body,
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
                endpoint,
                module,
                verb,
            } => {
                if let Ok(me) = HeaderValue::from_str(&self.realm) {
                    forward.insert(CALLER_REALM, me);
                }
                let url = format!(
                    "{endpoint}/realms/{}/{module}/{}",
                    external.own_name, verb.name
                );
                self.forward(&url, forward, body, &format!("realm `{realm}`"))
                    .await
            }
        }
    }

    async fn forward(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
        what: &str,
    ) -> Result<Reply, Refusal> {
        let uri: http::Uri = url.parse().map_err(|e| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "bad_upstream",
                format!("{url}: {e}"),
            )
        })?;
        let reply = self
            .http
            .post_json(&uri, headers, body)
            .await
            .map_err(|e| {
                Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_unreachable",
                    format!("cannot reach {what}: {e}"),
                )
            })?;
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
            });
        }
        // A failure without a JSON body: wrap it so callers always get JSON.
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

    #[allow(clippy::too_many_arguments)]
    async fn call_grpc(
        &self,
        upstream: &GrpcUpstream,
        url: &str,
        method: &MethodDescriptor,
        body: Option<serde_json::Value>,
        headers: HeaderMap,
        module: &str,
        verb: &Verb,
    ) -> Result<Reply, Refusal> {
        let json = body.unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let request = grpc::json_to_message(method, &json)
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "invalid_body", e))?;
        let mut metadata = tonic::metadata::MetadataMap::new();
        for (name, value) in &headers {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                metadata.insert(key, value);
            }
        }
        match upstream.unary(method, request, metadata).await {
            Ok(reply) => {
                let body = if verb.response == Type::Unit {
                    b"{}".to_vec()
                } else {
                    grpc::message_to_json(&reply)
                        .map_err(|e| Refusal::new(StatusCode::BAD_GATEWAY, "bad_reply", e))?
                };
                Ok(Reply::json(StatusCode::OK, body))
            }
            Err(status) => {
                let name = crate::net::code_name(status.code());
                let unreachable = status.code() == tonic::Code::Unavailable;
                Err(Refusal {
                    status: grpc::http_status(status.code()),
                    code: if unreachable {
                        "upstream_unreachable"
                    } else {
                        "upstream_status"
                    },
                    message: if unreachable {
                        format!(
                            "cannot reach the runner of module `{module}` at {url}: {}",
                            status.message()
                        )
                    } else {
                        format!(
                            "{module}.{} failed: {name}: {}",
                            verb.name,
                            status.message()
                        )
                    },
                    path: None,
                })
            }
        }
    }
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

/// The body as JSON; `None` when it is empty.
fn parse_body(body: &[u8]) -> Result<Option<serde_json::Value>, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "malformed_json",
        message: format!("the body is not valid JSON: {e}"),
        path: None,
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
    let realms: Vec<String> = ws
        .schema
        .realms
        .iter()
        .filter(|r| r.external)
        .map(|r| r.name.clone())
        .collect();
    let config = config::resolve(&ws.project, &modules, &realms, overrides, &|var| {
        std::env::var(var).ok()
    })
    .context("invalid ingress configuration")?;
    Ok(Arc::new(Ingress::new(ws, config)?))
}
