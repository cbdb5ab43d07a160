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

use std::time::Duration;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::{Site, Target, Validator, cron, fmt_pos, type_pos};
use crate::schema::model::*;

/// FTL's bounds of a retry backoff.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);
/// FTL's defaults.
const DEFAULT_RETRY_COUNT: i64 = 10;
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(3600);

impl<'a> Validator<'a> {
    pub(super) fn check_verb(&mut self, site: &Site<'a>, verb: &'a Verb) {
        let subscribes = verb
            .metadata
            .iter()
            .any(|m| matches!(m.kind, MetadataKind::Subscribe { .. }));
        for m in &verb.metadata {
            let pos = m.pos.as_ref().or(verb.pos.as_ref());
            match &m.kind {
                MetadataKind::Ingress { method, path, .. } => {
                    self.check_ingress(site, verb, method, path, pos)
                }
                MetadataKind::Cron(pattern) => {
                    if let Err(why) = cron::check(pattern) {
                        let d = self
                            .at(
                                pos,
                                site,
                                format!(
                                    "verb {}: invalid cron expression {pattern:?}: {why}",
                                    verb.name
                                ),
                            )
                            .with_len(5)
                            .with_help("write 5 to 7 fields (`0 * * * *`), an interval (`30s`, `10m`, `12h`) or a weekday (`Mon`)");
                        self.report(d);
                    }
                    for (what, ty) in [("request", &verb.request), ("response", &verb.response)] {
                        if *ty != Type::Unit {
                            let d = self
                                .at(
                                    pos,
                                    site,
                                    format!(
                                        "verb {}: cron job can not have a {what} type",
                                        verb.name
                                    ),
                                )
                                .with_len(5)
                                .with_help(format!(
                                    "a cron job is `verb {}(Unit) Unit`",
                                    verb.name
                                ));
                            self.report(d);
                        }
                    }
                }
                MetadataKind::Retry {
                    count,
                    min_backoff,
                    max_backoff,
                    catch,
                } if subscribes => self.check_retry(
                    site,
                    verb,
                    pos,
                    *count,
                    min_backoff,
                    max_backoff.as_deref(),
                    catch.as_ref(),
                ),
                MetadataKind::Subscribe {
                    topic, dead_letter, ..
                } => self.check_subscribe(site, verb, pos, topic, *dead_letter),
                MetadataKind::Egress(targets) => {
                    for target in targets {
                        for name in config_items(target) {
                            let known = site
                                .module
                                .decls
                                .iter()
                                .any(|d| matches!(d, Decl::Config(c) if c.name == name));
                            if !known {
                                let d = self
                                    .at(
                                        pos,
                                        site,
                                        format!("egress target {target:?} references unknown config {name:?}"),
                                    )
                                    .with_len(7)
                                    .with_help(format!(
                                        "declare `config {name} String` in module `{}`",
                                        site.module.name
                                    ));
                                self.report(d);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let has = |f: fn(&MetadataKind) -> bool| verb.metadata.iter().any(|m| f(&m.kind));
        let query = has(|k| matches!(k, MetadataKind::SqlQuery { .. }));
        let transaction = has(|k| matches!(k, MetadataKind::Transaction));
        if !query && !transaction {
            return;
        }
        let databases = self.databases_used(site, verb);
        let mut datasource = |what: &str, none: String, many: String| {
            let message = match databases.len() {
                0 => none,
                1 => return,
                _ => many,
            };
            let d = self
                .at(verb.pos.as_ref(), site, message)
                .with_len("verb".len())
                .with_help(format!(
                    "a {what} uses exactly one database: add `+database uses <module>.<database>`{}",
                    if databases.len() > 1 {
                        format!(" (it reaches {})", databases.join(", "))
                    } else {
                        String::new()
                    }
                ));
            self.report(d);
        };
        if query {
            datasource(
                "query verb",
                "query verb must specify a corresponding datasource".into(),
                "query verbs can only access a single datasource".into(),
            );
        }
        if transaction {
            datasource(
                "transaction verb",
                "transaction verbs must access a datasource".into(),
                "transaction verbs can only access a single datasource".into(),
            );
            let nested = verb.metadata.iter().any(|m| match &m.kind {
                MetadataKind::Calls(refs) => refs.iter().any(|r| {
                    self.lookup(site, r, Some(DeclKind::Verb))
                        .is_some_and(|t| match t.decl {
                            Decl::Verb(v) => v
                                .metadata
                                .iter()
                                .any(|m| matches!(m.kind, MetadataKind::Transaction)),
                            _ => false,
                        })
                }),
                _ => false,
            });
            if nested {
                let d = self
                    .at(
                        verb.pos.as_ref(),
                        site,
                        "transaction verbs cannot inject nested transactions",
                    )
                    .with_len("verb".len())
                    .with_help("a transaction verb calls no other transaction verb");
                self.report(d);
            }
        }
    }

    /// The databases a verb uses: its `+database uses` and those of the
    /// verbs it calls, transitively (FTL's `ResolveDatabaseUses`), as
    /// `module.name`, sorted.
    fn databases_used(&self, site: &Site<'a>, verb: &'a Verb) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut seen: HashSet<*const Decl> = HashSet::default();
        let mut stack: Vec<(Site<'a>, &'a Verb)> = vec![(*site, verb)];
        while let Some((site, verb)) = stack.pop() {
            for m in &verb.metadata {
                match &m.kind {
                    MetadataKind::DatabaseUses(refs) => {
                        for r in refs {
                            if let Some(t) = self.lookup(&site, r, Some(DeclKind::Database)) {
                                let name = t.name();
                                if !found.contains(&name) {
                                    found.push(name);
                                }
                            }
                        }
                    }
                    MetadataKind::Calls(refs) => {
                        for r in refs {
                            if let Some(t) = self.lookup(&site, r, Some(DeclKind::Verb))
                                && let Decl::Verb(callee) = t.decl
                                && !std::ptr::eq(callee, verb)
                                && seen.insert(t.decl as *const Decl)
                            {
                                stack.push((t.site(), callee));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        found.sort();
        found
    }

    #[allow(clippy::too_many_arguments)]
    fn check_retry(
        &mut self,
        site: &Site<'a>,
        verb: &'a Verb,
        pos: Option<&Pos>,
        count: Option<i64>,
        min: &str,
        max: Option<&str>,
        catch: Option<&'a Ref>,
    ) {
        let error = |v: &mut Self, message: String| {
            let d = v
                .at(pos, site, message)
                .with_len("+retry".len())
                .with_help("`+retry [count] min-backoff [max-backoff] [catch verb]`, backoffs from 1s to 1d in d, h, m and s, e.g. `+retry 5 1s 1m`");
            v.report(d);
        };
        let count = count.unwrap_or(DEFAULT_RETRY_COUNT);
        if count < 0 {
            error(self, "retry count can not be negative".into());
        }
        let min_backoff = if min.is_empty() {
            if count != 0 {
                error(self, "retry must have a minimum backoff".into());
                return;
            }
            MIN_BACKOFF
        } else {
            match retry_duration(min) {
                Ok(d) => d,
                Err(why) => {
                    error(self, format!("could not parse min backoff duration: {why}"));
                    return;
                }
            }
        };
        let max_backoff = match max {
            None => min_backoff.max(DEFAULT_MAX_BACKOFF),
            Some(max) => match retry_duration(max) {
                Ok(d) => d,
                Err(why) => {
                    error(self, format!("could not parse max backoff duration: {why}"));
                    return;
                }
            },
        };
        if max_backoff < min_backoff {
            error(
                self,
                format!(
                    "max backoff duration ({}) needs to be at least as long as initial backoff ({min})",
                    max.unwrap_or_default()
                ),
            );
        }
        let Some(catch) = catch else {
            if count == 0 && !min.is_empty() {
                error(
                    self,
                    "can not define a backoff duration when retry count is 0 and no catch is declared"
                        .into(),
                );
            }
            return;
        };
        // An unknown or non-verb catch is reported with the reference.
        let Some(target) = self.lookup(site, catch, Some(DeclKind::Verb)) else {
            return;
        };
        let Decl::Verb(catcher) = target.decl else {
            return;
        };
        let catcher_site = target.site();
        let request = self.canonical(site, &verb.request);
        let accepted = match &catcher.request {
            Type::Ref(r) => {
                self.lookup(&catcher_site, r, None)
                    .is_some_and(|t| t.builtin && t.decl.name() == "CatchRequest")
                    && r.type_args.len() == 1
                    && (r.type_args[0] == Type::Any
                        || self.canonical(&catcher_site, &r.type_args[0]) == request)
            }
            _ => false,
        };
        if !accepted {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "catch verb must have a request type of builtin.CatchRequest<{request}> or builtin.CatchRequest<Any>, but found {}",
                        catcher.request
                    ),
                )
                .with_len("+retry".len())
                .with_help(format!(
                    "`{}` is declared{}",
                    target.name(),
                    fmt_pos(catcher.pos.as_ref())
                ));
            self.report(d);
        }
        if catcher.response != Type::Unit {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "catch verb must not have a response type but found {}",
                        catcher.response
                    ),
                )
                .with_len("+retry".len())
                .with_help(format!(
                    "a catch verb gives `Unit`: `verb {}({}) Unit`",
                    catcher.name, catcher.request
                ));
            self.report(d);
        }
    }

    fn check_subscribe(
        &mut self,
        site: &Site<'a>,
        verb: &'a Verb,
        pos: Option<&Pos>,
        topic: &'a Ref,
        dead_letter: bool,
    ) {
        let request = self.canonical(site, &verb.request);
        if let Some(target) = self.lookup(site, topic, Some(DeclKind::Topic))
            && let Decl::Topic(t) = target.decl
        {
            let event = self.canonical(&target.site(), &t.event);
            if request != event {
                let d = self
                    .at(
                        pos,
                        site,
                        format!(
                            "verb {}: request type {request} differs from subscription's event type {event}",
                            verb.name
                        ),
                    )
                    .with_len("+subscribe".len())
                    .with_help(format!("a subscriber takes the topic's event: `verb {}({event}) Unit`", verb.name));
                self.report(d);
            }
        }
        if verb.response != Type::Unit {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "verb {}: must be a sink to subscribe but found response type {}",
                        verb.name, verb.response
                    ),
                )
                .with_len("+subscribe".len())
                .with_help("a subscriber gives `Unit`");
            self.report(d);
        }
        if !dead_letter {
            return;
        }
        // FTL declares the dead-letter topic when it is missing; one that
        // is declared must be a topic of failed events.
        let name = format!("{}Failed", verb.name);
        let Some(decl) = site.module.decls.iter().find(|d| d.name() == name) else {
            return;
        };
        let qualified = format!("{}.{name}", site.module.name);
        let expected = format!("builtin.FailedEvent<{request}>");
        let message = match decl {
            Decl::Topic(t) => {
                let event = self.canonical(site, &t.event);
                if event == expected {
                    return;
                }
                format!(
                    "dead letter topic {qualified} must have the same event type ({expected}) as the subscription request type, not {event}"
                )
            }
            other => format!(
                "expected {qualified} to be a dead letter topic but was already declared{} as {}",
                fmt_pos(other.pos()),
                other.kind()
            ),
        };
        let d = self
            .at(pos, site, message)
            .with_len("+subscribe".len())
            .with_help(format!(
                "declare `topic {name} {expected}`, or let FTL declare it"
            ));
        self.report(d);
    }

    fn check_ingress(
        &mut self,
        site: &Site<'a>,
        verb: &'a Verb,
        method: &str,
        path: &str,
        pos: Option<&Pos>,
    ) {
        let name = &verb.name;
        let request = self.http_envelope(site, &verb.request, "HttpRequest");
        let response = self.http_envelope(site, &verb.response, "HttpResponse");
        let at_type = |ty: &'a Type| type_pos(ty).or(pos);
        let help = "an ingress verb is `verb v(builtin.HttpRequest<Body, Path, Query>) builtin.HttpResponse<Body, Error>`";
        let (request_site, request_args) = match request {
            Some(found) => found,
            None => {
                let d = self
                    .at(
                        at_type(&verb.request),
                        site,
                        format!(
                            "ingress verb {name}: request type {} must be builtin.HttpRequest",
                            verb.request
                        ),
                    )
                    .with_help(help);
                self.report(d);
                (*site, &[][..])
            }
        };
        if response.is_none() {
            let d = self
                .at(
                    at_type(&verb.response),
                    site,
                    format!(
                        "ingress verb {name}: response type {} must be builtin.HttpResponse",
                        verb.response
                    ),
                )
                .with_help(help);
            self.report(d);
        }
        let request_pos = at_type(&verb.request);
        if let [body, path_params, query] = request_args {
            if method == "GET" {
                if let Some(shown) = self.payload(site, &request_site, body, Payload::Unit) {
                    let d = self
                        .at(
                            request_pos,
                            site,
                            format!(
                                "ingress verb {name}: GET request type {} must have a body of unit not {shown}",
                                verb.request
                            ),
                        )
                        .with_help("a GET request has no body: `builtin.HttpRequest<Unit, Path, Query>`");
                    self.report(d);
                }
            } else if let Some(shown) = self.payload(site, &request_site, body, Payload::Body) {
                self.report_body(site, name, "request", &verb.request, request_pos, &shown);
            }
            if let Some(shown) = self.payload(site, &request_site, path_params, Payload::Path) {
                let d = self
                    .at(
                        request_pos,
                        site,
                        format!(
                            "ingress verb {name}: request type {} must have a param of data structure, unit or map not {shown}",
                            verb.request
                        ),
                    );
                self.report(d);
            } else {
                self.check_path_parameters(site, &request_site, path_params, path, pos, name);
            }
            if let Some(shown) = self.payload(site, &request_site, query, Payload::Query) {
                let d = self.at(
                    request_pos,
                    site,
                    format!(
                        "ingress verb {name}: request type {} must have a query of data structure, unit, or map of strings or string lists, not {shown}",
                        verb.request
                    ),
                );
                self.report(d);
            }
        }
        if let Some((response_site, [body, _error])) = response
            && let Some(shown) = self.payload(site, &response_site, body, Payload::Body)
        {
            self.report_body(
                site,
                name,
                "response",
                &verb.response,
                at_type(&verb.response),
                &shown,
            );
        }
    }

    fn report_body(
        &mut self,
        site: &Site<'a>,
        verb: &str,
        what: &str,
        ty: &Type,
        pos: Option<&Pos>,
        shown: &str,
    ) {
        let d = self.at(
            pos,
            site,
            format!(
                "ingress verb {verb}: {what} type {ty} must have a body of bytes, string, data structure, unit, float, int, bool, map, or array not {shown}"
            ),
        );
        self.report(d);
    }

    /// `builtin.HttpRequest<...>` (or `HttpResponse`), through aliases: its
    /// type arguments and the site they are written in.
    fn http_envelope(
        &self,
        site: &Site<'a>,
        ty: &'a Type,
        name: &str,
    ) -> Option<(Site<'a>, &'a [Type])> {
        let (site, ty) = self.unalias(*site, ty);
        let Type::Ref(r) = ty else { return None };
        let target = self.lookup(&site, r, None)?;
        (target.builtin && target.decl.name() == name).then_some((site, r.type_args.as_slice()))
    }

    /// What an envelope's type argument resolves to, for the payload
    /// checks: `None` when it is fine (or not checked: FTL leaves types of
    /// other modules alone), else how to show it in the message.
    fn payload(
        &self,
        verb_site: &Site<'a>,
        site: &Site<'a>,
        ty: &'a Type,
        payload: Payload,
    ) -> Option<String> {
        let shown = ty.to_string();
        let ty = match ty {
            Type::Optional(inner) => &**inner,
            ty => ty,
        };
        let (site, resolved, target) = match self.resolve_payload(verb_site, site, ty) {
            Resolved::Skip => return None,
            Resolved::Type(site, ty) => (site, ty, None),
            Resolved::Decl(site, target) => (site, ty, Some(target)),
        };
        let ok = match payload {
            Payload::Unit => matches!(resolved, Type::Unit),
            Payload::Body => match target {
                Some(t) => match t.decl {
                    Decl::Data(_) => true,
                    Decl::Enum(e) => e.ty.is_none(),
                    Decl::TypeAlias(_) => true,
                    _ => false,
                },
                None => matches!(
                    resolved,
                    Type::Bytes
                        | Type::String
                        | Type::Unit
                        | Type::Float
                        | Type::Int
                        | Type::Bool
                        | Type::Map(..)
                        | Type::List(_)
                ),
            },
            Payload::Path => match target {
                Some(t) => matches!(t.decl, Decl::Data(_) | Decl::TypeAlias(_)),
                None => match resolved {
                    Type::String | Type::Unit | Type::Float | Type::Int | Type::Bool => true,
                    Type::Map(_, value) => matches!(self.unalias(site, value).1, Type::String),
                    _ => false,
                },
            },
            Payload::Query => match target {
                Some(t) => matches!(t.decl, Decl::Data(_) | Decl::TypeAlias(_)),
                None => match resolved {
                    Type::Unit => true,
                    Type::Map(_, value) => match self.unalias(site, value).1 {
                        Type::String => true,
                        Type::List(element) => {
                            matches!(self.unalias(site, element).1, Type::String)
                        }
                        _ => false,
                    },
                    _ => false,
                },
            },
        };
        (!ok).then_some(shown)
    }

    /// A payload type with aliases followed: a declaration (data, enum, an
    /// alias mapped to a native type), a builtin type, or `Skip` for what
    /// FTL does not check (another module's types, unknown references).
    fn resolve_payload(&self, verb_site: &Site<'a>, site: &Site<'a>, ty: &'a Type) -> Resolved<'a> {
        let mut site = *site;
        let mut ty = ty;
        for _ in 0..super::MAX_ALIAS_HOPS {
            let Type::Ref(r) = ty else {
                return Resolved::Type(site, ty);
            };
            let Some(target) = self.lookup(&site, r, None) else {
                return Resolved::Skip;
            };
            if !std::ptr::eq(target.module, verb_site.module) {
                return Resolved::Skip;
            }
            match target.decl {
                Decl::TypeAlias(alias)
                    if !alias
                        .metadata
                        .iter()
                        .any(|m| matches!(m.kind, MetadataKind::TypeMap { .. })) =>
                {
                    site = target.site();
                    ty = &alias.ty;
                }
                _ => return Resolved::Decl(site, target),
            }
        }
        Resolved::Skip
    }

    /// Every `{parameter}` of the path is a field of the path type (or a
    /// key of a map of strings, or the one parameter of a scalar); without
    /// parameters the path type is `Unit` or a map.
    fn check_path_parameters(
        &mut self,
        verb_site: &Site<'a>,
        site: &Site<'a>,
        ty: &'a Type,
        path: &str,
        pos: Option<&Pos>,
        verb: &str,
    ) {
        let params: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let ty = match ty {
            Type::Optional(inner) => &**inner,
            ty => ty,
        };
        let resolved = self.resolve_payload(verb_site, site, ty);
        let mut problems = Vec::new();
        if params.is_empty() {
            let fine = match &resolved {
                Resolved::Skip => true,
                Resolved::Type(_, t) => matches!(t, Type::Unit | Type::Map(..)),
                Resolved::Decl(..) => false,
            };
            if !fine {
                problems.push(format!(
                    "ingress verb {verb}: cannot use path parameter type {ty}, expected Unit or Map as ingress has no path parameters"
                ));
            }
        }
        for param in &params {
            match &resolved {
                Resolved::Skip => {}
                Resolved::Decl(_, Target {
                    decl: Decl::Data(data),
                    ..
                }) => {
                    if !data.fields.iter().any(|f| f.name == *param) {
                        problems.push(format!(
                            "ingress verb {verb}: request pathParameter type {ty} does not contain a field corresponding to the parameter {param:?}"
                        ));
                    }
                }
                Resolved::Decl(..) => problems.push(format!(
                    "ingress verb {verb}: cannot use path parameter {param:?} with request type {ty}, expected Data or Map type"
                )),
                Resolved::Type(s, t) => match t {
                    Type::Map(key, _) => {
                        if !matches!(self.unalias(*s, key).1, Type::String) {
                            problems.push(format!(
                                "ingress verb {verb}: request pathParameter map key type {key} does not contain a field corresponding to the parameter {param:?}"
                            ));
                        }
                    }
                    Type::String | Type::Int | Type::Bool | Type::Float if params.len() != 1 => {
                        problems.push(format!(
                            "ingress verb {verb}: cannot use path parameter {param:?} with request type {ty} as it has multiple path parameters, expected Data or Map type"
                        ));
                    }
                    Type::String | Type::Int | Type::Bool | Type::Float => {}
                    _ => problems.push(format!(
                        "ingress verb {verb}: cannot use path parameter {param:?} with request type {ty}, expected Data or Map type"
                    )),
                },
            }
        }
        for message in problems {
            let d = self.at(pos, verb_site, message).with_len("+ingress".len());
            self.report(d);
        }
    }

    /// One verb per method and path in a realm (parameters count as one
    /// segment whatever their names).
    pub(super) fn check_ingress_routes(&mut self, realm: &'a Realm) {
        let mut routes: HashMap<String, (String, Option<&'a Pos>)> = HashMap::default();
        for module in realm.modules.iter().filter(|m| m.name != "builtin") {
            for decl in &module.decls {
                let Decl::Verb(verb) = decl else { continue };
                for m in &verb.metadata {
                    let MetadataKind::Ingress { kind, method, path } = &m.kind else {
                        continue;
                    };
                    let shape: Vec<&str> = path
                        .split('/')
                        .map(|s| if s.starts_with('{') { "{}" } else { s })
                        .collect();
                    let key = format!("{method} {}", shape.join("/"));
                    let name = format!("{}.{}", module.name, verb.name);
                    let pos = m.pos.as_ref().or(verb.pos.as_ref());
                    match routes.get(&key) {
                        Some((first, first_pos)) => {
                            let site = Site::of(realm, module, decl);
                            let d = self
                                .at(
                                    pos,
                                    &site,
                                    format!("duplicate {kind} ingress {key} for `{first}` and `{name}`"),
                                )
                                .with_len("+ingress".len())
                                .with_help(format!(
                                    "`{first}` serves it{}; give one of them another path or method",
                                    fmt_pos(*first_pos)
                                ));
                            self.report(d);
                        }
                        None => {
                            routes.insert(key, (name, pos));
                        }
                    }
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Payload {
    /// A GET request's body: `Unit`.
    Unit,
    Body,
    Path,
    Query,
}

enum Resolved<'a> {
    Skip,
    Type(Site<'a>, &'a Type),
    Decl(Site<'a>, Target<'a>),
}

/// The `${name}` items of an egress target.
fn config_items(target: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = target;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 && rest[len..].starts_with('}') {
            out.push(&rest[..len]);
            rest = &rest[len + 1..];
        }
    }
    out
}

/// A retry backoff as FTL reads it ([`crate::duration::ftl_units`]),
/// between 1s and 1d.
fn retry_duration(text: &str) -> Result<Duration, String> {
    let total = crate::duration::ftl_units(text)
        .map_err(|e| format!("could not parse retry duration: {e}"))?;
    if total < MIN_BACKOFF {
        return Err("retry must have a minimum backoff of 1s".to_string());
    }
    if total > MAX_BACKOFF {
        return Err("retry backoff can not be larger than 1d".to_string());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_durations_are_ftls() {
        assert_eq!(retry_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(retry_duration("1d"), Ok(Duration::from_secs(86_400)));
        for (bad, why) in [
            ("500ms", "unknown unit \"ms\""),
            ("5s1m", "out of order"),
            ("0s", "minimum backoff of 1s"),
            ("1d1s", "larger than 1d"),
            ("99999999999999999999h", "larger than 1d"),
        ] {
            let err = retry_duration(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn egress_config_items() {
        assert_eq!(
            config_items("https://${host}:${port}/x${}${a-b}"),
            vec!["host", "port"]
        );
    }
}
