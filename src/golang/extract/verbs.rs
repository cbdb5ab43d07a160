//! Verbs (`go-runtime/schema/verb`): functions with a verb directive, their
//! signature `func(context.Context, Request?, Resources...) (Response?,
//! error)`, and their metadata (`+ingress`, `+cron`, `+retry`,
//! `+subscribe`, ... and the resources they take: `+calls`, `+database
//! uses`, `+publish`, `+config`, `+secrets`); and the direct calls of
//! verbs FTL refuses.

use crate::schema::model::ThinVec;
use std::collections::{HashMap, HashSet};

use crate::schema::{Decl, Diagnostic, Metadata, MetadataKind, Ref, Type, Verb};

use super::{ExternalParam, Extractor, Kind, Meta, at, at_directive, is_exported};
use crate::golang::directives::{DirectiveKind, DirectiveRef};
use crate::golang::naming::{lower_camel, upper_camel};
use crate::golang::scope::Imported;
use crate::golang::syntax::{FuncDecl, GoType};
use crate::golang::types::{Resource, Site, What, go_text};

impl<'a> Extractor<'a> {
    pub(super) fn functions(&mut self) {
        let scope = self.scope;
        for (fi, file) in scope.files.iter().enumerate() {
            let dir = file.package_dir.as_str();
            for m in &file.syntax.methods {
                if let Some(line) = m.doc.directives.first() {
                    self.report(
                        Diagnostic::new("ftl:verb cannot be a method", Some(line.pos.clone()))
                            .with_len(line.text.chars().count())
                            .with_help(format!(
                                "make `{}` a function: `func {}(ctx context.Context, ...)`",
                                m.name, m.name
                            )),
                    );
                }
            }
            for f in &file.syntax.funcs {
                if f.doc.directives.is_empty() {
                    continue;
                }
                let meta = self.meta(&f.doc, true, &f.name_span);
                if meta.broken {
                    continue;
                }
                if meta.kind != Some(Kind::Verb) {
                    if let Some(d) = meta.directives.first() {
                        let name = d.kind.name();
                        self.report(
                            at_directive(d, format!("`//ftl:{name}` needs a verb directive"))
                                .with_help(format!("add `//ftl:verb` above `//ftl:{name}`")),
                        );
                    }
                    continue;
                }
                self.verbs.entry(dir).or_default().insert(f.name.as_str());
                if let Some(v) = self.verb(fi, dir, f, meta) {
                    self.decls.push(Decl::Verb(v));
                }
            }
        }
    }

    fn qualify(&self, r: &DirectiveRef) -> Ref {
        Ref {
            pos: Some(r.pos.clone()),
            realm: None,
            module: Some(r.module.clone().unwrap_or_else(|| self.module.to_string())),
            name: r.name.clone(),
            type_args: ThinVec::new(),
        }
    }

    fn verb(&mut self, fi: usize, dir: &'a str, f: &'a FuncDecl, meta: Meta) -> Option<Verb> {
        let name = lower_camel(&f.name);
        if !is_exported(&f.name) {
            self.report(
                at(&f.name_span, "verb function name must be exported")
                    .with_help(format!("rename it to `{}`", upper_camel(&f.name))),
            );
            return None;
        }
        if f.generic {
            self.report(
                at(&f.name_span, "a verb cannot have type parameters")
                    .with_help("use concrete request and response types"),
            );
            return None;
        }
        let mut ok = true;
        let signature = "verbs have the signature func(context.Context, Request?, Resources...) (Response?, error)";
        match f.params.first() {
            None => {
                self.report(
                    at(&f.name_span, "first parameter must be context.Context")
                        .with_help(signature),
                );
                ok = false;
            }
            Some(p) => {
                let is_ctx = matches!(&p.ty, GoType::Name { package: Some(q), name, .. }
                    if name == "Context" && self.scope.import(fi, q) == Some(Imported::Context));
                if !is_ctx {
                    self.report(
                        at(
                            p.ty.span(),
                            format!(
                                "first parameter must be of type context.Context but is `{}`",
                                go_text(&p.ty)
                            ),
                        )
                        .with_help(signature),
                    );
                    ok = false;
                }
            }
        }
        let egress: HashMap<&str, &str> = meta
            .directives
            .iter()
            .filter_map(|d| match &d.kind {
                DirectiveKind::Egress(targets) => Some(targets),
                _ => None,
            })
            .flatten()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let site = Site {
            file: fi,
            dir,
            params: &[],
            what: What::Request(&name),
        };
        let mut request = None;
        let mut resources = Vec::new();
        let mut egress_targets = Vec::new();
        for (idx, p) in f.params.iter().enumerate().skip(1) {
            if p.variadic {
                self.report(
                    at(&p.span, "variadic parameters are not supported in verbs")
                        .with_help(signature),
                );
                ok = false;
                continue;
            }
            if let Some(target) = p.name.as_deref().and_then(|n| egress.get(n)) {
                egress_targets.push(target.to_string());
                continue;
            }
            let resource = self.types.resource(&p.ty, &site);
            if resource.is_none()
                && let GoType::Name {
                    package: Some(q),
                    name: type_name,
                    span,
                    ..
                } = &p.ty
                && let Some(Imported::Module(module)) = self.scope.import(fi, q)
            {
                self.external_params.push(ExternalParam {
                    module,
                    type_name: type_name.clone(),
                    text: go_text(&p.ty),
                    verb: name.clone(),
                    index: idx,
                    span: span.clone(),
                    request: idx == 1,
                });
                if idx > 1 {
                    continue;
                }
            }
            match resource {
                Some(r) => resources.push(r),
                None if idx == 1 => request = Some(p),
                None => {
                    self.report(
                        at(
                            p.ty.span(),
                            format!(
                                "unsupported verb parameter type `{}` in verb `{name}` at parameter {idx}",
                                go_text(&p.ty)
                            ),
                        )
                        .with_label("not a verb client, config, secret, topic or database handle")
                        .with_help(signature),
                    );
                    ok = false;
                }
            }
        }
        let is_unit = |x: &Self, t: &GoType| {
            matches!(t, GoType::Name { package: Some(q), name, .. }
                if name == "Unit" && x.scope.import(fi, q) == Some(Imported::Sdk))
        };
        if let Some(p) = request
            && is_unit(self, &p.ty)
        {
            self.report(
                at(p.ty.span(), "second parameter must not be ftl.Unit")
                    .with_help("verbs without a request type omit the request parameter"),
            );
            ok = false;
        }
        let mut response = None;
        match f.results.as_slice() {
            [] => {
                self.report(
                    at(&f.name_span, "must at least return an error").with_help(
                        "end the signature with `error`: `(Response, error)` or `error`",
                    ),
                );
                ok = false;
            }
            results => {
                let last = &results[results.len() - 1];
                let is_error = matches!(&last.ty, GoType::Name { package: None, name, args, .. }
                    if name == "error" && args.is_empty());
                if !is_error {
                    self.report(
                        at(
                            last.ty.span(),
                            format!("must return an error but is `{}`", go_text(&last.ty)),
                        )
                        .with_help("the last result of a verb is `error`"),
                    );
                    ok = false;
                }
                if results.len() > 2 {
                    self.report(
                        at(
                            &f.name_span,
                            "must have at most two results (<type>, error)",
                        )
                        .with_help("return one response type and an error"),
                    );
                    ok = false;
                } else if results.len() == 2 {
                    if is_unit(self, &results[1].ty) {
                        self.report(at(
                            results[1].ty.span(),
                            "second result must not be ftl.Unit",
                        ));
                        ok = false;
                    }
                    response = Some(&results[0]);
                }
            }
        }
        let request_ty = match request {
            Some(p) => self.types.ty(&p.ty, &site, 0),
            None => Some(Type::Unit),
        };
        let response_ty = match response {
            Some(p) => self.types.ty(
                &p.ty,
                &Site {
                    what: What::Response(&name),
                    ..site
                },
                0,
            ),
            None => Some(Type::Unit),
        };
        let transaction = meta
            .directives
            .iter()
            .any(|d| d.kind == DirectiveKind::Transaction);
        let mut metadata = Vec::new();
        for d in &meta.directives {
            let kind = match &d.kind {
                DirectiveKind::Ingress { method, path } => MetadataKind::Ingress {
                    kind: "http".to_string(),
                    method: method.clone(),
                    path: path.clone(),
                },
                DirectiveKind::Cron(c) => MetadataKind::Cron(c.clone()),
                DirectiveKind::Fixture { manual } => MetadataKind::Fixture { manual: *manual },
                DirectiveKind::Retry {
                    count,
                    min_backoff,
                    max_backoff,
                    catch,
                } => MetadataKind::Retry {
                    count: *count,
                    min_backoff: min_backoff.clone(),
                    max_backoff: max_backoff.clone(),
                    catch: catch.as_ref().map(|c| Box::new(self.qualify(c))),
                },
                DirectiveKind::Subscribe {
                    topic,
                    from,
                    dead_letter,
                } => MetadataKind::Subscribe {
                    topic: Box::new(self.qualify(topic)),
                    from: Some(*from),
                    dead_letter: *dead_letter,
                },
                DirectiveKind::Encoding { lenient } => MetadataKind::Encoding {
                    kind: "json".to_string(),
                    lenient: *lenient,
                },
                DirectiveKind::Transaction => MetadataKind::Transaction,
                _ => continue,
            };
            metadata.push(Metadata {
                pos: Some(d.pos.clone()),
                kind,
            });
        }
        let mut calls = Vec::new();
        let mut dbs = Vec::new();
        let mut publish = Vec::new();
        let mut configs = Vec::new();
        let mut secrets = Vec::new();
        for r in resources {
            match r {
                Resource::Verb(r) => {
                    if transaction && r.module.as_deref() != Some(self.module) {
                        self.report(
                            Diagnostic::new(
                                format!(
                                    "could not inject external verb `{}.{}`: calling external verbs from within a transaction is not allowed",
                                    r.module.as_deref().unwrap_or_default(),
                                    r.name
                                ),
                                r.pos.clone(),
                            )
                            .with_help("call it from a verb outside the transaction"),
                        );
                        ok = false;
                    }
                    calls.push(r);
                }
                Resource::Database(r) => dbs.push(r),
                Resource::Topic(r) => publish.push(r),
                Resource::Config(r) => configs.push(r),
                Resource::Secret(r) => secrets.push(r),
            }
        }
        for (refs, make) in [
            (calls, MetadataKind::Calls as fn(Vec<Ref>) -> MetadataKind),
            (dbs, MetadataKind::DatabaseUses),
            (publish, MetadataKind::Publish),
            (configs, MetadataKind::ConfigUses),
            (secrets, MetadataKind::SecretsUses),
        ] {
            let mut refs = refs;
            if refs.is_empty() {
                continue;
            }
            let mut seen = HashSet::new();
            refs.retain(|r| seen.insert((r.module.clone(), r.name.clone())));
            metadata.push(Metadata {
                pos: refs[0].pos.clone(),
                kind: make(refs),
            });
        }
        if !egress_targets.is_empty() {
            egress_targets.sort();
            egress_targets.dedup();
            metadata.push(Metadata {
                pos: Some(f.span.pos.clone()),
                kind: MetadataKind::Egress(egress_targets),
            });
        }
        metadata.sort_by_key(|m| metadata_priority(&m.kind));
        // FTL's validation sorts the references of a verb's metadata while
        // it sorts the metadata (in its comparison): only when there are
        // two or more. One list keeps the parameters' order.
        if metadata.len() > 1 {
            for m in &mut metadata {
                if let MetadataKind::Calls(refs)
                | MetadataKind::DatabaseUses(refs)
                | MetadataKind::Publish(refs)
                | MetadataKind::ConfigUses(refs)
                | MetadataKind::SecretsUses(refs) = &mut m.kind
                {
                    refs.sort_by(|a, b| (&a.module, &a.name).cmp(&(&b.module, &b.name)));
                }
            }
        }
        if !ok {
            return None;
        }
        Some(Verb {
            pos: Some(f.span.pos.clone()),
            comments: meta.comments.into(),
            visibility: meta.visibility,
            name,
            request: request_ty?,
            response: response_ty?,
            metadata: metadata.into(),
        })
    }

    /// FTL refuses `Echo(ctx, req)` and `sub.Echo(ctx, req)` when the
    /// function called is a verb of this module (of the file's package, or
    /// of the package of this module that `sub` imports): calls go through
    /// the verb client. Calls of names a local declaration shadows were
    /// left out when the file was read.
    pub(super) fn direct_calls(&mut self) {
        let scope = self.scope;
        let mut found = Vec::new();
        for (i, file) in scope.files.iter().enumerate() {
            for call in &file.syntax.calls {
                let dir = match &call.package {
                    None => file.package_dir.as_str(),
                    Some(q) => match scope.import(i, q) {
                        Some(Imported::ThisModule(dir)) => dir,
                        _ => continue,
                    },
                };
                if !self
                    .verbs
                    .get(dir)
                    .is_some_and(|verbs| verbs.contains(call.name.as_str()))
                {
                    continue;
                }
                let name = &call.name;
                found.push(
                    at(
                        &call.span,
                        format!(
                            "direct verb calls are not allowed; use the provided {name}Client instead"
                        ),
                    )
                    .with_help(format!(
                        "take `{name}Client` as a parameter of the calling verb and call that \
                         (see block.github.io/ftl/docs/reference/verbs/#calling-verbs)"
                    )),
                );
            }
        }
        self.types.diagnostics.extend(found);
    }
}

/// The order FTL's validator gives a verb's metadata.
fn metadata_priority(kind: &MetadataKind) -> u8 {
    match kind {
        MetadataKind::Ingress { .. } => 1,
        MetadataKind::Alias { .. } => 2,
        MetadataKind::Encoding { .. } => 3,
        MetadataKind::Calls(_) => 4,
        MetadataKind::DatabaseUses(_) => 5,
        MetadataKind::SecretsUses(_) => 6,
        MetadataKind::ConfigUses(_) => 7,
        MetadataKind::Cron(_) => 8,
        MetadataKind::Publish(_) => 9,
        MetadataKind::Subscribe { .. } => 10,
        MetadataKind::Retry { .. } => 11,
        MetadataKind::TypeMap { .. } => 12,
        MetadataKind::Migration(_) => 13,
        MetadataKind::Artefact { .. } => 14,
        MetadataKind::SqlColumn { .. } => 15,
        MetadataKind::SqlQuery { .. } => 16,
        MetadataKind::Partitions(_) => 17,
        MetadataKind::Generated => 18,
        MetadataKind::Git { .. } => 19,
        MetadataKind::Fixture { .. } => 20,
        MetadataKind::Transaction => 21,
        MetadataKind::Egress(_) => 22,
        MetadataKind::Image { .. } => 23,
        MetadataKind::Grpc(_)
        | MetadataKind::Oneof(_)
        | MetadataKind::ProtobufMessage(_)
        | MetadataKind::ProtobufField { .. } => 24,
    }
}
