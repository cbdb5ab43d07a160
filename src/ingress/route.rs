//! Where a call goes: this realm's verb and its runner, or a pinned
//! realm's verb and the upstream that reaches it (its ingress or the hub);
//! unknown realms, modules and verbs, verbs not exported and realms
//! without an endpoint are refused.
//!
//! Reads only what the ingress was built with: no I/O, no network.

use http::StatusCode;
use prost_reflect::MethodDescriptor;

use super::reply::Refusal;
use super::upstream::Upstream;
use super::{External, Ingress, LocalRunner, config};
use crate::schema::json::Checker;
use crate::schema::{Decl, Verb, Visibility};

/// Where a call goes.
pub(super) enum Route<'a> {
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

impl Ingress {
    /// Where a call to `realm`'s `module.verb` goes.
    pub(super) fn route<'a>(
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
                         set `[ingress.runners] {module}` (or `default`) in realm.toml, or pass --runner {module}=URL"
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
                v.visibility.meaning()
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
