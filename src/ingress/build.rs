//! Building an ingress: from a workspace and the process environment
//! (`REALM_KEY_*`, `<realm>-realm-endpoint`), the configuration resolved
//! ([`super::config`]), the keys loaded ([`super::auth`]), the realm's gRPC
//! descriptors read through [`crate::files`], and the clients for
//! upstreams. Runs once, at start.
//!
//! Never serves or routes a call; never prints: what a user should hear
//! (key warnings) is kept in [`Ingress::warnings`].

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use prost_reflect::DescriptorPool;

use super::auth::{Keys, PinnedKey, PinnedKeys, PinnedRealm, Signer, Verifier};
use super::upstream::{Kind, Upstream};
use super::{
    External, Hub, Ingress, IngressConfig, LocalRunner, Overrides, Runner, budget, config, metrics,
};
use crate::files;
use crate::net::grpc::GrpcUpstream;
use crate::net::http::HttpClient;
use crate::schema::json::Checker;
use crate::schema::{Decl, Verb};
use crate::workspace::Workspace;

/// What an ingress signs and checks calls between realms with.
#[derive(Debug)]
pub struct Trust {
    /// Keys shared with peer realms (HMAC, `x-realm-signature`).
    pub keys: Keys,
    /// The public keys of the realms pinned as callers, at their pinned
    /// commits (RFC 9421 signatures).
    pub callers: Vec<PinnedRealm>,
    /// This realm's Ed25519 key, to sign calls to other realms.
    pub signer: Option<Signer>,
}

impl Ingress {
    /// Builds the ingress of a workspace: `trust` signs and checks calls
    /// between realms, `http` reaches upstreams. Fails when gRPC verbs have
    /// no descriptors or a `+grpc` method is not in them, or the hub has no
    /// endpoint.
    pub fn new(
        ws: &Workspace,
        config: IngressConfig,
        trust: Trust,
        http: HttpClient,
    ) -> Result<Ingress> {
        let Trust {
            keys,
            callers,
            signer,
        } = trust;
        let internal = ws.internal_realm();
        let local = Checker::new(internal);

        // gRPC verbs need the realm's descriptor set.
        let grpc_verbs: Vec<(&str, &Verb, &str)> = internal
            .decls()
            .filter_map(|(m, d)| match d {
                Decl::Verb(v) => v.grpc_method().map(|method| (m.name.as_str(), v, method)),
                _ => None,
            })
            .collect();
        let mut methods = HashMap::new();
        let mut grpc_modules = HashSet::new();
        if !grpc_verbs.is_empty() {
            let Some(set) = &ws.project.descriptor_set else {
                bail!(
                    "realm `{}` has gRPC verbs (+grpc) but no `[realm] descriptor-set` in realm.toml\n\
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
        // An FTL cluster serves the modules that have no runner of their
        // own (its verb service routes to the module's deployment).
        if let Some(ftl) = &config.ftl_endpoint {
            let upstream = GrpcUpstream::new(&ftl.value).map_err(|e| {
                anyhow!("the FTL endpoint {} (from {}): {e}", ftl.value, ftl.origin)
            })?;
            let modules = internal.modules.iter().filter(|m| !m.builtin);
            for module in modules.map(|m| &m.name) {
                if runners.contains_key(module) || grpc_modules.contains(module.as_str()) {
                    continue;
                }
                let runner = Runner::Ftl {
                    upstream: upstream.clone(),
                    url: ftl.value.clone(),
                };
                let health = Upstream::new(Kind::Runner, module, &ftl.value, limit);
                runners.insert(
                    module.clone(),
                    LocalRunner {
                        runner,
                        upstream: health,
                    },
                );
            }
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

        // The public API as `realm export` writes it, in both text forms.
        let export = crate::export::of_realm(
            internal,
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
        let verifier = (!keys.is_empty() || !callers.is_empty()).then(|| {
            Verifier::new(keys, config.security.replay_window).with_pinned(PinnedKeys::new(callers))
        });
        Ok(Ingress {
            realm: internal.name.clone(),
            local,
            runners,
            methods,
            externals,
            hub,
            http,
            verifier,
            signer,
            peer_cas: config
                .security
                .peer_cas
                .iter()
                .map(|(realm, _)| realm.clone())
                .collect(),
            metrics: metrics::Metrics::new(&internal.name),
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
}

/// Builds an ingress for a workspace with the given overrides, reading the
/// process environment and this realm's signing key; `callers` are the
/// keys of the realms pinned as callers, read at their pinned commits
/// ([`pinned_callers`]).
pub fn from_workspace(
    ws: &Workspace,
    overrides: &Overrides,
    callers: Vec<PinnedRealm>,
) -> Result<Arc<Ingress>> {
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
    let config_values = read_config_values(&ws.project).context("invalid ingress configuration")?;
    let config = config::resolve(
        &ws.project,
        config_values.as_ref(),
        &modules,
        &realms,
        overrides,
        &|var| std::env::var(var).ok(),
    )
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
    // Every caller pin's keys, or none would be trusted and its calls
    // refused as unpinned: the command reads them ([`pinned_callers`]).
    if callers.len() != ws.project.callers.len() {
        bail!(
            "the keys of the {} realms pinned as callers were not read ({} given)",
            ws.project.callers.len(),
            callers.len()
        );
    }
    let mut warnings = keys.warnings().to_vec();
    let signer = signing_key(&ws.project)?;
    warnings.extend(trust_warnings(&ws.project, signer.as_ref(), &callers));
    for warning in &warnings {
        tracing::warn!("{warning}");
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
    let trust = Trust {
        keys,
        callers,
        signer,
    };
    let mut ingress = Ingress::new(ws, config, trust, http)?;
    ingress.warnings = warnings;
    Ok(Arc::new(ingress))
}

/// The public keys of every realm pinned as a caller
/// (`[caller-realms.*]`), as published at its pinned commit, fetched into
/// the pin cache when it lacks the commit (unless offline).
pub fn pinned_callers(
    project: &crate::project::Project,
    ctx: &crate::pins::Context,
) -> Result<Vec<PinnedRealm>> {
    project
        .callers
        .iter()
        .map(|pin| {
            // Its calls name it as it names itself, not as it is pinned
            // here; never as this realm (its calls are then refused).
            let (own, keys) = crate::pins::pinned_signer(project, pin, ctx)?;
            let name = if own == project.name {
                pin.name.clone()
            } else {
                own
            };
            Ok(PinnedRealm {
                name,
                commit: pin.commit.clone(),
                keys: keys
                    .into_iter()
                    .map(|k| PinnedKey {
                        id: k.id,
                        public: k.public,
                        retired: k.retired,
                    })
                    .collect(),
            })
        })
        .collect()
}

/// This realm's signing key: `[ingress] signing-key-file`, else
/// `$REALM_SIGNING_KEY_FILE`; none when neither is set.
fn signing_key(project: &crate::project::Project) -> Result<Option<Signer>> {
    let env = std::env::var_os(crate::keys::KEY_FILE_ENV).filter(|v| !v.is_empty());
    let cwd = std::env::current_dir().unwrap_or_else(|_| project.root.clone());
    let Some(file) = crate::keys::key_file(project, None, env.as_deref().map(Path::new), &cwd)
    else {
        return Ok(None);
    };
    let key = crate::keys::load_private_key(&file.path).with_context(|| {
        format!(
            "cannot load this realm's signing key (from {})",
            file.source
        )
    })?;
    Ok(Some(Signer::new(key)))
}

/// What an operator should hear about the keys: a signing key realm.toml
/// does not publish (callees refuse its calls), a caller that publishes no
/// key, a key two callers publish.
fn trust_warnings(
    project: &crate::project::Project,
    signer: Option<&Signer>,
    callers: &[PinnedRealm],
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(signer) = signer {
        let id = signer.id();
        match project.keys.iter().find(|k| k.id == id) {
            None => warnings.push(format!(
                "this realm signs with key `{id}`, which `[realm] public-keys` in realm.toml does not publish: realms that pin it refuse its calls\nhelp: `realm keys list` shows the published keys; commit the key's public half, or point `[ingress] signing-key-file` at a published key"
            )),
            Some(k) if k.retired => warnings.push(format!(
                "this realm signs with key `{id}`, which realm.toml lists in `retired-keys`: realms that pin the current commit refuse its calls\nhelp: sign with a key in `public-keys` (`realm keys new` makes one)"
            )),
            Some(_) => {}
        }
    }
    for caller in callers {
        if !caller.keys.iter().any(|k| !k.retired) {
            warnings.push(format!(
                "realm `{}`, pinned as a caller at {}, publishes no key: its calls cannot be verified and are refused\nhelp: `realm keys new` in `{}`, then `realm update {}` here",
                caller.name,
                crate::project::short_commit(&caller.commit),
                caller.name,
                caller.name
            ));
        }
    }
    for id in PinnedKeys::new(callers.to_vec()).shared_ids() {
        warnings.push(format!(
            "key `{id}` is published by more than one pinned caller: calls signed with it are refused"
        ));
    }
    warnings
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

/// The config provider's file (`config-provider`), read at start.
fn read_config_values(project: &crate::project::Project) -> Result<Option<config::ConfigValues>> {
    let Some(rel) = &project.config_file else {
        return Ok(None);
    };
    let text = files::read_text(&project.root.join(rel)).with_context(|| {
        format!("cannot read the config provider {rel} (`config-provider` in ftl-project.toml)")
    })?;
    config::parse_config_values(rel, &text).map(Some)
}
