//! A declaration's directives, parsed and checked together as FTL's
//! metadata extractor does (`go-runtime/schema/metadata`): which kind of
//! declaration they make it, its visibility, and the directives that do
//! not belong on it. Read for every type before anything is extracted:
//! `//ftl:database` names the database a config type belongs to, and a
//! `//ftl:typemap go` names an external package's package clause.

use std::collections::HashSet;

use crate::schema::{DatabaseEngine, Visibility};

use super::{Extractor, Kind, Meta, at, at_directive};
use crate::golang::directives::{self, DirectiveKind};
use crate::golang::scope::{Imported, assumed_package_name};
use crate::golang::syntax::{Doc, GoType, Span};

impl<'a> Extractor<'a> {
    /// Parses a declaration's directives and checks them together, as
    /// FTL's metadata extractor does.
    pub(super) fn meta(&mut self, doc: &Doc, on_func: bool, node: &Span) -> Meta {
        let mut meta = Meta {
            comments: doc.text.clone(),
            ..Meta::default()
        };
        for line in &doc.directives {
            match directives::parse(line) {
                Ok(d) => meta.directives.push(d),
                Err(e) => {
                    self.report(e);
                    meta.broken = true;
                }
            }
        }
        if meta.broken {
            return meta;
        }
        meta.visibility = meta
            .directives
            .iter()
            .find_map(|d| d.kind.visibility())
            .unwrap_or_default();
        let mut seen: HashSet<&'static str> = HashSet::new();
        let count = meta.directives.len();
        let mut problems = Vec::new();
        for d in &meta.directives {
            let name = d.kind.name();
            if !seen.insert(name) && !matches!(d.kind, DirectiveKind::TypeMap { .. }) {
                problems.push(
                    at_directive(
                        d,
                        format!("expected exactly one `//ftl:{name}` directive, found more"),
                    )
                    .with_help("keep one"),
                );
                continue;
            }
            let (kind, on_funcs, on_types) = match &d.kind {
                DirectiveKind::Verb(_)
                | DirectiveKind::Ingress { .. }
                | DirectiveKind::Cron(_)
                | DirectiveKind::Fixture { .. }
                | DirectiveKind::Subscribe { .. }
                | DirectiveKind::Transaction
                | DirectiveKind::Egress(_) => (Some(Kind::Verb), true, false),
                DirectiveKind::Encoding { .. } => (None, true, false),
                DirectiveKind::Retry { .. } => (None, true, true),
                DirectiveKind::Data { .. } => (Some(Kind::Data), false, true),
                DirectiveKind::Enum { .. } => (Some(Kind::Enum), false, true),
                DirectiveKind::TypeAlias { .. } | DirectiveKind::TypeMap { .. } => {
                    (Some(Kind::TypeAlias), false, true)
                }
                DirectiveKind::Topic { .. } => (Some(Kind::Topic), false, true),
                DirectiveKind::Export | DirectiveKind::Database { .. } => (None, false, true),
            };
            if on_func && !on_funcs {
                problems.push(
                    at_directive(
                        d,
                        format!("unexpected directive `//ftl:{name}` on a function"),
                    )
                    .with_help("did you mean `//ftl:verb export`?"),
                );
                continue;
            }
            if !on_func && !on_types {
                problems.push(
                    at_directive(d, format!("unexpected directive `//ftl:{name}` on a type"))
                        .with_help(format!("`//ftl:{name}` annotates a function")),
                );
                continue;
            }
            if matches!(
                d.kind,
                DirectiveKind::Enum { .. } | DirectiveKind::Export | DirectiveKind::Transaction
            ) && count > 1
            {
                problems.push(
                    at(
                        node,
                        format!(
                            "only one directive expected when `//ftl:{name}` is present, found {count}"
                        ),
                    )
                    .with_help(format!("remove the other directives or `//ftl:{name}`")),
                );
            }
            if matches!(
                d.kind,
                DirectiveKind::Cron(_) | DirectiveKind::Fixture { .. }
            ) && meta.visibility != Visibility::Private
            {
                problems.push(
                    at_directive(
                        d,
                        format!("`//ftl:{name}` cannot be attached to exported verbs"),
                    )
                    .with_help("remove `export` from `//ftl:verb`: FTL runs these verbs itself"),
                );
            }
            if let Some(kind) = kind {
                match meta.kind {
                    Some(k) if k != kind => problems.push(
                        at_directive(d, "declaration has conflicting directives").with_help(
                            "a declaration is one of verb, data, enum, typealias or topic",
                        ),
                    ),
                    _ => meta.kind = Some(kind),
                }
            }
        }
        if meta.kind == Some(Kind::Verb) {
            let ingress = meta
                .directives
                .iter()
                .any(|d| matches!(d.kind, DirectiveKind::Ingress { .. }));
            if let Some(enc) = meta
                .directives
                .iter()
                .find(|d| matches!(d.kind, DirectiveKind::Encoding { .. }))
                && !ingress
            {
                problems.push(
                    at_directive(
                        enc,
                        "custom encoding options can only be specified on ingress verbs",
                    )
                    .with_help("add `//ftl:ingress` or remove `//ftl:encoding`"),
                );
            }
        }
        if !problems.is_empty() {
            meta.broken = true;
            self.types.diagnostics.extend(problems);
        }
        meta
    }

    pub(super) fn read_type_directives(&mut self) {
        let scope = self.scope;
        for (fi, file) in scope.files.iter().enumerate() {
            for t in &file.syntax.types {
                let meta = self.meta(&t.doc, false, &t.name_span);
                for d in &meta.directives {
                    if let DirectiveKind::TypeMap {
                        runtime,
                        native_name,
                    } = &d.kind
                        && runtime == "go"
                        && let GoType::Name {
                            package: Some(p),
                            name,
                            ..
                        } = &t.ty
                        && let Some(Imported::External { path }) = scope.import(fi, p)
                        && let Some(package) = typemap_package(native_name, path, name)
                        // Only a name the package plausibly declares (the
                        // check of the typemap itself is `type_alias`'s).
                        && (package == *p
                            || Some(package.as_str()) == path.rsplit('/').next()
                            || package == assumed_package_name(path))
                    {
                        self.package_names
                            .entry(path.to_string())
                            .or_insert(package);
                    }
                    if let DirectiveKind::Database { engine, name } = &d.kind {
                        let engine = DatabaseEngine::from_keyword(engine)
                            .unwrap_or(DatabaseEngine::Postgres);
                        self.types
                            .db_configs
                            .insert((file.package_dir.as_str(), t.name.as_str()), name.clone());
                        self.types
                            .databases
                            .entry(name.clone())
                            .or_insert((engine, Some(d.pos.clone())));
                    }
                }
                self.metas
                    .insert((file.package_dir.as_str(), t.name.as_str()), meta);
            }
        }
    }
}

/// The package clause a Go typemap gives the package at `path`: `X` of
/// `<path>.X.<name>`, or the path's last element for `<path>.<name>`.
fn typemap_package(native: &str, path: &str, name: &str) -> Option<String> {
    let middle = native
        .strip_prefix(path)?
        .strip_prefix('.')?
        .strip_suffix(name)?;
    match middle.strip_suffix('.') {
        Some(package) if !package.is_empty() && !package.contains(['.', '/']) => {
            Some(package.to_string())
        }
        None if middle.is_empty() => path.rsplit('/').next().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::typemap_package;

    #[test]
    fn the_package_clause_a_typemap_names() {
        let path = "github.com/block/ftl/go-runtime/schema/testdata";
        let name = |native: &str| typemap_package(native, path, "NonFTLType");
        assert_eq!(name(&format!("{path}.lib.NonFTLType")), Some("lib".into()));
        assert_eq!(name(&format!("{path}.NonFTLType")), Some("testdata".into()));
        assert_eq!(name(&format!("{path}.a.b.NonFTLType")), None);
        assert_eq!(name("github.com/blah.lib.NonFTLType"), None);
        assert_eq!(name(&format!("{path}.lib.Other")), None);
    }
}
