//! Names: two declarations of one name in a module, repeated fields,
//! variants and type parameters, names that shadow builtin types or are Go
//! keywords, and a `builtin` module in schema text compared with realm's own.

use crate::rules;
use std::mem::discriminant;

use rustc_hash::FxHashMap as HashMap;

use super::{Site, Span, Validator, fmt_pos, head_len};
use crate::schema::model::*;

/// Go's keywords: FTL refuses them as module names (modules become Go
/// packages), and generated Go code must not use them as names.
pub const GO_KEYWORDS: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "type",
    "var",
];

/// Config, secret and database declarations are named only in metadata,
/// which says which kind it means: sharing a name is no ambiguity.
pub(super) fn named_by_kind(kind: DeclKind) -> bool {
    matches!(
        kind,
        DeclKind::Config | DeclKind::Secret | DeclKind::Database
    )
}

impl<'a> Validator<'a> {
    /// Two declarations of one kind with one name are an error (FTL's
    /// rule); of two kinds, a warning, unless both are config, secret or
    /// database (FTL's own tests declare a config and a secret alike).
    pub(super) fn report_duplicate_decls(&mut self, site: &Site<'a>) {
        let mut seen: Vec<&Decl> = Vec::new();
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::default();
        for decl in &site.module.decls {
            let earlier = by_name.entry(decl.name()).or_default();
            let same_kind = earlier
                .iter()
                .map(|&i| seen[i])
                .find(|d| d.kind() == decl.kind());
            let other_kind = earlier
                .iter()
                .map(|&i| seen[i])
                .find(|d| !(named_by_kind(d.kind()) && named_by_kind(decl.kind())));
            earlier.push(seen.len());
            seen.push(decl);
            let d = match (same_kind, other_kind) {
                (Some(first), _) => self
                    .at(
                        decl.pos(),
                        site,
                        format!(
                            "`{}` is declared twice in module `{}`",
                            decl.name(),
                            site.module.name
                        ),
                    )
                    .with_help(format!(
                        "first declared{} as {}; rename one of them",
                        fmt_pos(first.pos()),
                        first.kind()
                    )),
                (None, Some(first)) => self
                    .at(
                        decl.pos(),
                        site,
                        format!(
                            "`{}` names both {} and {} in module `{}`",
                            decl.name(),
                            first.kind().with_article(),
                            decl.kind().with_article(),
                            site.module.name
                        ),
                    )
                    .with_help(format!(
                        "`{}.{}` means the first, declared{}; rename one of them",
                        site.module.name,
                        decl.name(),
                        fmt_pos(first.pos())
                    )),
                (None, None) => continue,
            };
            self.report_or_warn(
                same_kind.is_some(),
                d.with_len(head_len(decl)).or_code(rules::NAME),
            );
        }
    }

    /// Warns when `names` (with positions) of the site's declaration repeat:
    /// FTL does not check fields, variants or type parameters for
    /// duplicates.
    pub(super) fn check_unique<'n>(
        &mut self,
        site: &Site,
        what: &str,
        names: impl Iterator<Item = (&'n str, Option<&'n Pos>)>,
    ) {
        let names: Vec<(&str, Option<&Pos>)> = names.collect();
        // Most lists are short: a scan beats building a map.
        let first_of = |i: usize| -> Option<usize> {
            let name = names[i].0;
            names[..i].iter().position(|(n, _)| *n == name)
        };
        let duplicates: Vec<(usize, usize)> = if names.len() <= 16 {
            (0..names.len())
                .filter_map(|i| first_of(i).map(|f| (f, i)))
                .collect()
        } else {
            let mut seen: HashMap<&str, usize> = HashMap::default();
            let mut out = Vec::new();
            for (i, (name, _)) in names.iter().enumerate() {
                match seen.get(name) {
                    Some(&first) => out.push((first, i)),
                    None => {
                        seen.insert(name, i);
                    }
                }
            }
            out
        };
        for (first, i) in duplicates {
            let (name, pos) = names[i];
            let owner = match site.decl {
                Some(decl) => format!("{} `{}`", decl.kind(), site.decl_name()),
                None => format!("module `{}`", site.module.name),
            };
            let d = self
                .at(
                    pos,
                    site,
                    format!("{what} `{name}` is declared twice in {owner}"),
                )
                .with_len(name.len())
                .with_help(format!("first declared{}", fmt_pos(names[first].1)));
            self.warn(d.or_code(rules::NAME));
        }
    }

    /// A name that is a builtin type: an error for declarations (FTL: "a
    /// reserved word"), a warning for type parameters.
    pub(super) fn check_not_builtin_type(&mut self, span: &Span, what: &str, name: &str) {
        let Span { site, pos, len } = *span;
        if Type::scalar(name).is_some() {
            let d = self
                .at(
                    pos,
                    site,
                    format!("{what} `{name}` shadows the builtin type `{name}`"),
                )
                .with_len(len)
                .with_help(format!("rename it; `{name}` always means the builtin type"));
            self.report_or_warn(what != "type parameter", d.or_code(rules::NAME));
        }
    }

    /// A `builtin module builtin { ... }` block (as `ftl schema` prints at
    /// the top of a realm): declarations the builtin module has must be the
    /// same (comments, visibility and order aside); any difference is a
    /// warning, since `realm` (like FTL) uses its own.
    pub(super) fn check_builtin_copy(&mut self, site: &Site<'a>) {
        for decl in &site.module.decls {
            let message = match self.builtin.decls.get(decl.name()) {
                None => format!(
                    "the builtin module has no `{}`; this declaration is ignored",
                    decl.name()
                ),
                Some(ours) if same_builtin(ours, decl) => continue,
                Some(ours) => format!(
                    "`builtin.{}` differs from the builtin module's; realm uses its own: {}",
                    decl.name(),
                    one_line(ours)
                ),
            };
            let d = self
                .at(decl.pos(), site, message)
                .with_len(head_len(decl))
                .with_help("remove the builtin module from the schema text, or copy it from `ftl schema get`");
            self.warn(d.or_code(rules::NAME));
        }
    }
}

/// Whether two types are the same builtin scalar.
pub(super) fn same_scalar(a: &Type, b: &Type) -> bool {
    !matches!(
        a,
        Type::Ref(_) | Type::List(_) | Type::Map(..) | Type::Optional(_)
    ) && discriminant(a) == discriminant(b)
}

/// Whether a declaration of a `builtin` module in schema text is the
/// builtin module's: same kind, type parameters, fields and types.
pub(super) fn same_builtin(ours: &Decl, theirs: &Decl) -> bool {
    match (ours, theirs) {
        (Decl::Data(a), Decl::Data(b)) => {
            a.type_params.len() == b.type_params.len()
                && a.type_params
                    .iter()
                    .zip(&b.type_params)
                    .all(|(x, y)| x.name == y.name)
                && a.fields.len() == b.fields.len()
                && a.fields
                    .iter()
                    .zip(&b.fields)
                    .all(|(x, y)| x.name == y.name && crate::schema::diff::same_type(&x.ty, &y.ty))
        }
        _ => false,
    }
}

/// A declaration on one line, for messages.
pub(super) fn one_line(decl: &Decl) -> String {
    match decl {
        Decl::Data(d) => {
            let fields: Vec<String> = d
                .fields
                .iter()
                .map(|f| format!("{} {}", f.name, f.ty))
                .collect();
            let params: Vec<&str> = d.type_params.iter().map(|p| p.name.as_str()).collect();
            let params = if params.is_empty() {
                String::new()
            } else {
                format!("<{}>", params.join(", "))
            };
            format!("data {}{params} {{ {} }}", d.name, fields.join(", "))
        }
        other => format!("{} {}", other.kind(), other.name()),
    }
}

/// The built-in type a name written another way means (`int`, `string`,
/// `int64`, `boolean`, ...), for "did you mean".
pub(super) fn builtin_type_like(name: &str) -> Option<&'static str> {
    const BUILTINS: [&str; 8] = [
        "Int", "Float", "String", "Bytes", "Bool", "Time", "Any", "Unit",
    ];
    if let Some(b) = BUILTINS.iter().find(|b| b.eq_ignore_ascii_case(name)) {
        return Some(b);
    }
    // Other languages' names, as written there (lower case only: a
    // capitalised name is more likely another module's declaration).
    Some(match name {
        "integer" | "int32" | "int64" | "long" | "uint" | "uint64" => "Int",
        "double" | "float32" | "float64" | "number" => "Float",
        "str" | "text" => "String",
        "boolean" => "Bool",
        "timestamp" | "datetime" => "Time",
        _ => return None,
    })
}
