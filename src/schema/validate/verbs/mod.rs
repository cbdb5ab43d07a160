//! FTL's rules for verbs (`validateVerbMetadata` and friends in FTL's
//! `validate.go`), all errors there and here:
//!
//! - `+ingress`: the request is `builtin.HttpRequest<Body, Path, Query>`
//!   and the response `builtin.HttpResponse<Body, Error>`; a GET has no
//!   body; bodies, path parameters and queries have the types HTTP can
//!   carry; every `{parameter}` of the path is a field of the path type;
//!   one route per method and path in a realm.
//! - `+cron`: a pattern FTL's cron accepts, on a verb taking and giving
//!   `Unit`.
//! - `+retry`: FTL's durations (`d`, `h`, `m`, `s`, largest first, 1s to
//!   1d), a minimum backoff unless the count is 0, max ≥ min, and a `catch`
//!   verb taking `builtin.CatchRequest<Request>` (or `<Any>`) and giving
//!   `Unit`.
//! - `+subscribe`: the verb takes the topic's event and gives `Unit`; a
//!   dead-letter topic `<verb>Failed`, if declared, carries
//!   `builtin.FailedEvent<Request>`.
//! - `+sql query` and `+transaction`: exactly one database, through
//!   `+database uses` of the verb and of the verbs it calls; a transaction
//!   does not call another.
//! - `+egress`: every `${name}` is a config of the module.
//!
//! One difference, on purpose: FTL allows `+retry` only on subscribers;
//! `realm`'s ingress retries calls of `+retry` verbs, so any verb may have
//! it. FTL's retry rules above hold for subscribers; on other verbs the
//! backoffs are `realm`'s (any duration schema text can write, `200ms`
//! included).
//!
//! This file dispatches a verb's metadata; [`ingress`] has the HTTP rules,
//! [`events`] cron, retry and subscriptions, [`resources`] SQL,
//! transactions and egress.

mod events;
mod ingress;
mod resources;

use super::{Site, Validator};
use crate::schema::model::*;
use events::Retry;

/// One metadata line of a verb: the verb, the site it is declared in, and
/// the position diagnostics point at (the line's, else the verb's).
#[derive(Clone, Copy)]
struct VerbLine<'s, 'a> {
    site: &'s Site<'a>,
    verb: &'a Verb,
    pos: Option<&'s Pos>,
}

impl<'a> Validator<'a> {
    pub(super) fn check_verb(&mut self, site: &Site<'a>, verb: &'a Verb) {
        let subscribes = verb
            .metadata
            .iter()
            .any(|m| matches!(m.kind, MetadataKind::Subscribe { .. }));
        for m in &verb.metadata {
            let line = VerbLine {
                site,
                verb,
                pos: m.pos.as_ref().or(verb.pos.as_ref()),
            };
            match &m.kind {
                MetadataKind::Ingress { method, path, .. } => {
                    self.check_ingress(&line, method, path)
                }
                MetadataKind::Cron(pattern) => self.check_cron(&line, pattern),
                MetadataKind::Retry {
                    count,
                    min_backoff,
                    max_backoff,
                    catch,
                } if subscribes => self.check_retry(
                    &line,
                    Retry {
                        count: *count,
                        min: min_backoff,
                        max: max_backoff.as_deref(),
                        catch: catch.as_deref(),
                    },
                ),
                MetadataKind::Subscribe {
                    topic, dead_letter, ..
                } => self.check_subscribe(&line, topic, *dead_letter),
                MetadataKind::Egress(targets) => self.check_egress(&line, targets),
                _ => {}
            }
        }
        self.check_datasource(site, verb);
    }
}
