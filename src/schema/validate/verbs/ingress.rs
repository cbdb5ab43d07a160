//! `+ingress` on verbs: the `builtin.HttpRequest` / `HttpResponse`
//! envelope, the payload types HTTP can carry, path parameters, one route
//! per method and path in a realm.

use crate::rules;
use rustc_hash::FxHashMap as HashMap;

use super::super::{MAX_ALIAS_HOPS, Site, Target, Validator, fmt_pos, type_pos};
use super::VerbLine;
use crate::schema::model::*;

impl<'a> Validator<'a> {
    pub(super) fn check_ingress(&mut self, line: &VerbLine<'_, 'a>, method: &str, path: &str) {
        let VerbLine { site, verb, pos } = *line;
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
                self.report(d.or_code(rules::INGRESS));
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
            self.report(d.or_code(rules::INGRESS));
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
                    self.report(d.or_code(rules::INGRESS));
                }
            } else if let Some(shown) = self.payload(site, &request_site, body, Payload::Body) {
                let at = VerbLine {
                    pos: request_pos,
                    ..*line
                };
                self.report_body(&at, "request", &verb.request, &shown);
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
                self.report(d.or_code(rules::INGRESS));
            } else {
                self.check_path_parameters(line, &request_site, path_params, path);
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
                self.report(d.or_code(rules::INGRESS));
            }
        }
        if let Some((response_site, [body, _error])) = response
            && let Some(shown) = self.payload(site, &response_site, body, Payload::Body)
        {
            let at = VerbLine {
                pos: at_type(&verb.response),
                ..*line
            };
            self.report_body(&at, "response", &verb.response, &shown);
        }
    }

    /// A request or response body HTTP cannot carry, reported at the
    /// line's position.
    fn report_body(&mut self, line: &VerbLine, what: &str, ty: &Type, shown: &str) {
        let VerbLine { site, pos, .. } = *line;
        let verb = &line.verb.name;
        let d = self.at(
            pos,
            site,
            format!(
                "ingress verb {verb}: {what} type {ty} must have a body of bytes, string, data structure, unit, float, int, bool, map, or array not {shown}"
            ),
        );
        self.report(d.or_code(rules::INGRESS));
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
        for _ in 0..MAX_ALIAS_HOPS {
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
        line: &VerbLine<'_, 'a>,
        site: &Site<'a>,
        ty: &'a Type,
        path: &str,
    ) {
        let VerbLine {
            site: verb_site,
            pos,
            ..
        } = *line;
        let verb = &line.verb.name;
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
            self.report(d.or_code(rules::INGRESS));
        }
    }

    /// One verb per method and path in a realm (parameters count as one
    /// segment whatever their names).
    pub(in crate::schema::validate) fn check_ingress_routes(&mut self, realm: &'a Realm) {
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
                            self.report(d.or_code(rules::INGRESS));
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
