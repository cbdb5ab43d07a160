//! Checks a schema: every reference resolves, visibility is consistent, names
//! are unique, type arguments match, metadata is where it belongs, and FTL's
//! own rules for verbs (ingress, cron, retry, subscriptions, SQL).
//!
//! All problems of a schema are collected in one pass and returned sorted by
//! position. Each carries the position of the offending text when the schema
//! came from text, or a `realm, module, declaration` context when it did not
//! (a pinned public API read from proto-text).
//!
//! Parity with FTL's validator (`common/schema/validate.go`): what FTL
//! refuses is an error here too; what FTL accepts but `realm` would rather
//! not see (a duplicate field, metadata where it has no effect, a verb used
//! as a type, ...) is a *warning*: printed, not refused (unless
//! `--deny-warnings`). `realm`'s own rules stay errors: the public API of a
//! realm (`export realm` closure, `@realm` references, external realms),
//! its extensions (`+grpc`, `+oneof`), and types that can never hold a
//! value or never end (cyclic type aliases, required fields that contain
//! themselves) — walkers over such types would not terminate.
//!
//! Resolution rules:
//! - `module.Name` resolves in the realm the reference is written in; the
//!   `builtin` module resolves in every realm (always `realm`'s own builtin
//!   module, as FTL replaces any module named `builtin` with its own).
//! - `module.Name@realm` resolves in another realm of the schema and must
//!   name an `export realm` declaration there. External realms may not refer
//!   to other realms (no transitive realm dependencies).
//! - a bare `Name` is a type parameter of the enclosing data, else a
//!   declaration of the builtin module, else of the module it is written in
//!   (`qualify::bare_target`, FTL's order).
//! - across modules of one realm, the target must be at least `export`.
//!
//! No I/O: the validator is given a schema and returns diagnostics. Every
//! walk is bounded: types by `MAX_TYPE_DEPTH` (the parsers refuse deeper
//! ones), alias chains by [`MAX_ALIAS_HOPS`], graphs are walked iteratively.

mod cron;
mod graph;
pub mod text;
mod verbs;

use rustc_hash::FxHashMap as HashMap;
use std::mem::discriminant;

use super::builtin::builtin_module;
use super::diagnostic::Diagnostic;
use super::model::*;
use super::qualify::{bare_target, qualify_type};

/// Validates a schema and returns every error found, sorted by position.
/// An empty list means the schema is valid. Warnings are left out (see
/// [`validate_with_warnings`]).
pub fn validate(schema: &Schema) -> Vec<Diagnostic> {
    let mut all = validate_with_warnings(schema);
    all.retain(|d| !d.is_warning());
    all
}

/// Validates a schema and returns every error and warning, sorted by
/// position.
pub fn validate_with_warnings(schema: &Schema) -> Vec<Diagnostic> {
    let mut v = Validator {
        index: Index::default(),
        builtin: ModuleIndex::new(builtin_module()),
        diagnostics: Vec::new(),
        referenced: Default::default(),
    };
    v.build_index(schema);
    for realm in &schema.realms {
        v.referenced = if realm.external {
            referenced_within(realm)
        } else {
            Default::default()
        };
        for module in &realm.modules {
            v.check_module(realm, module);
        }
        v.check_texts(realm);
        v.check_graphs(realm);
        v.check_ingress_routes(realm);
    }
    let mut diagnostics = v.diagnostics;
    Diagnostic::sort(&mut diagnostics);
    diagnostics
}

/// How many type aliases a resolution follows at most before giving up (a
/// longer chain is a cycle, which `graph` reports).
pub const MAX_ALIAS_HOPS: usize = 256;

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

#[derive(Default)]
struct Index<'a> {
    realms: HashMap<&'a str, RealmIndex<'a>>,
}

struct RealmIndex<'a> {
    realm: &'a Realm,
    modules: HashMap<&'a str, ModuleIndex<'a>>,
}

struct ModuleIndex<'a> {
    module: &'a Module,
    decls: HashMap<&'a str, &'a Decl>,
}

impl<'a> ModuleIndex<'a> {
    fn new(module: &'a Module) -> Self {
        let mut decls = HashMap::with_capacity_and_hasher(module.decls.len(), Default::default());
        for decl in &module.decls {
            decls.entry(decl.name()).or_insert(decl);
        }
        ModuleIndex { module, decls }
    }

    /// The declaration named `name`: the first, or the first of `kind`
    /// when several kinds share the name.
    fn find(&self, name: &str, kind: Option<DeclKind>) -> Option<&'a Decl> {
        let first = *self.decls.get(name)?;
        match kind {
            Some(kind) if first.kind() != kind => Some(
                self.module
                    .decls
                    .iter()
                    .find(|d| d.name() == name && d.kind() == kind)
                    .unwrap_or(first),
            ),
            _ => Some(first),
        }
    }
}

/// A declaration a reference resolved to.
#[derive(Clone, Copy)]
struct Target<'a> {
    realm: &'a Realm,
    module: &'a Module,
    decl: &'a Decl,
    builtin: bool,
}

impl<'a> Target<'a> {
    fn name(&self) -> String {
        format!("{}.{}", self.module.name, self.decl.name())
    }

    /// The declaration as a place where references are written.
    fn site(&self) -> Site<'a> {
        Site::of(self.realm, self.module, self.decl)
    }
}

/// Where a reference is written.
#[derive(Clone, Copy)]
struct Site<'a> {
    realm: &'a Realm,
    module: &'a Module,
    decl: Option<&'a Decl>,
    type_params: &'a [TypeParameter],
}

impl<'a> Site<'a> {
    fn of(realm: &'a Realm, module: &'a Module, decl: &'a Decl) -> Site<'a> {
        let type_params: &[TypeParameter] = match decl {
            Decl::Data(d) => &d.type_params,
            _ => &[],
        };
        Site {
            realm,
            module,
            decl: Some(decl),
            type_params,
        }
    }

    fn context(&self) -> String {
        let mut out = format!("realm {}, module {}", self.realm.name, self.module.name);
        if let Some(decl) = self.decl {
            out.push_str(&format!(", {} {}", decl.kind(), decl.name()));
        }
        out
    }

    /// The declaration's visibility; module-level metadata counts as private.
    fn visibility(&self) -> Visibility {
        self.decl.map_or(Visibility::Private, Decl::visibility)
    }

    fn decl_name(&self) -> String {
        match self.decl {
            Some(decl) => format!("{}.{}", self.module.name, decl.name()),
            None => self.module.name.clone(),
        }
    }
}

/// What a reference must resolve to.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// A data, enum or typealias, used as a type; its visibility must be
    /// at least that of the declaration using it.
    Type,
    /// A declaration of this kind named in metadata. `ftl` when FTL refuses
    /// another kind (`+calls`, `+subscribe`, `catch`); otherwise another
    /// kind is a warning.
    Kind { kind: DeclKind, ftl: bool },
}

/// What a metadata line is attached to.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Host {
    Module,
    Data,
    Field,
    Verb,
    TypeAlias,
    Database,
    Topic,
}

impl Host {
    fn describe(self) -> &'static str {
        match self {
            Host::Module => "a module",
            Host::Data => "data",
            Host::Field => "a field",
            Host::Verb => "a verb",
            Host::TypeAlias => "a type alias",
            Host::Database => "a database",
            Host::Topic => "a topic",
        }
    }
}

/// Where each metadata kind has an effect. Elsewhere it is a warning, or
/// an error where FTL refuses it ([`ftl_refuses`]).
fn allowed_on(kind: &MetadataKind) -> &'static [Host] {
    use Host::*;
    match kind {
        MetadataKind::Calls(_)
        | MetadataKind::Ingress { .. }
        | MetadataKind::Cron(_)
        | MetadataKind::Retry { .. }
        | MetadataKind::Subscribe { .. }
        | MetadataKind::Publish(_)
        | MetadataKind::DatabaseUses(_)
        | MetadataKind::ConfigUses(_)
        | MetadataKind::SecretsUses(_)
        | MetadataKind::Egress(_)
        | MetadataKind::Transaction
        | MetadataKind::Fixture { .. }
        | MetadataKind::SqlQuery { .. }
        | MetadataKind::Grpc(_) => &[Verb],
        MetadataKind::ProtobufMessage(_) => &[Data],
        MetadataKind::ProtobufField { .. } => &[Field],
        MetadataKind::TypeMap { .. } => &[Data, TypeAlias],
        MetadataKind::Encoding { .. } => &[Verb, Data],
        MetadataKind::Alias { .. } | MetadataKind::SqlColumn { .. } | MetadataKind::Oneof(_) => {
            &[Field]
        }
        MetadataKind::Partitions(_) => &[Topic],
        MetadataKind::Migration(_) => &[Database],
        MetadataKind::Artefact { .. } | MetadataKind::Git { .. } | MetadataKind::Image { .. } => {
            &[Module]
        }
        MetadataKind::Generated => &[Module, Data, Verb],
    }
}

/// Where FTL's validator refuses a metadata (and `realm`'s own `+grpc` and
/// `+oneof` anywhere but where they belong).
fn ftl_refuses(kind: &MetadataKind, host: Host) -> bool {
    use MetadataKind as K;
    match kind {
        K::Grpc(_) => return host != Host::Verb,
        K::Oneof(_) | K::ProtobufField { .. } => return host != Host::Field,
        K::ProtobufMessage(_) => return host != Host::Data,
        _ => {}
    }
    match host {
        Host::Data => matches!(
            kind,
            K::Calls(_)
                | K::SecretsUses(_)
                | K::ConfigUses(_)
                | K::SqlColumn { .. }
                | K::SqlQuery { .. }
        ),
        Host::Field => !matches!(kind, K::Alias { .. } | K::SqlColumn { .. }),
        Host::TypeAlias => !matches!(kind, K::TypeMap { .. }),
        Host::Database => !matches!(kind, K::Migration(_)),
        Host::Verb => matches!(kind, K::SqlColumn { .. }),
        Host::Module | Host::Topic => false,
    }
}

/// Metadata that has an effect once per node (a second is a warning; on
/// verbs and databases FTL refuses any repetition).
fn single(kind: &MetadataKind) -> bool {
    !matches!(
        kind,
        MetadataKind::Calls(_)
            | MetadataKind::Publish(_)
            | MetadataKind::DatabaseUses(_)
            | MetadataKind::ConfigUses(_)
            | MetadataKind::SecretsUses(_)
            | MetadataKind::Egress(_)
            | MetadataKind::TypeMap { .. }
            | MetadataKind::Migration(_)
            | MetadataKind::Artefact { .. }
    )
}

struct Validator<'a> {
    index: Index<'a>,
    builtin: ModuleIndex<'static>,
    diagnostics: Vec<Diagnostic>,
    /// In an external realm: the declarations its own declarations refer
    /// to. FTL publishes these whatever their visibility (its closure), so
    /// only other declarations must be `export realm` there.
    referenced: std::collections::HashSet<(&'a str, &'a str)>,
}

/// The declarations of `realm` that its declarations refer to, by type or
/// in metadata.
fn referenced_within<'a>(realm: &'a Realm) -> std::collections::HashSet<(&'a str, &'a str)> {
    let mut out = std::collections::HashSet::new();
    let mut add = |r: &'a Ref| {
        if let Ref {
            realm: None,
            module: Some(module),
            name,
            ..
        } = r
        {
            out.insert((module.as_str(), name.as_str()));
        }
    };
    for (_, decl) in realm.decls() {
        decl.for_each_type(&mut |ty| {
            if let Type::Ref(r) = ty {
                add(r);
            }
        });
        decl.for_each_metadata_ref(&mut add);
    }
    out
}

/// The length of a reference as printed, without printing it.
fn ref_len(r: &Ref) -> usize {
    let module = r.module.as_ref().map_or(0, |m| m.len() + 1);
    let realm = r.realm.as_ref().map_or(0, |m| m.len() + 1);
    let args = if r.type_args.is_empty() {
        0
    } else {
        // `<` `>` and `, ` between arguments.
        2 + 2 * (r.type_args.len() - 1) + r.type_args.iter().map(type_len).sum::<usize>()
    };
    module + r.name.len() + args + realm
}

fn type_len(t: &Type) -> usize {
    match t {
        Type::Int | Type::Any => 3,
        Type::Bool | Type::Time | Type::Unit => 4,
        Type::Float | Type::Bytes => 5,
        Type::String => 6,
        Type::List(t) => 2 + type_len(t),
        Type::Map(k, v) => 4 + type_len(k) + type_len(v),
        Type::Optional(t) => 1 + type_len(t),
        Type::Ref(r) => ref_len(r),
    }
}

/// Where a type is written: its reference's position, if it is one.
fn type_pos(ty: &Type) -> Option<&Pos> {
    match ty {
        Type::Ref(r) => r.pos.as_ref(),
        _ => None,
    }
}

/// The length of a declaration's head: `export realm data Name`.
fn head_len(decl: &Decl) -> usize {
    let keyword = match decl {
        Decl::Database(db) => format!("database {}", db.engine.keyword()),
        _ => decl.kind().keyword().to_string(),
    };
    decl.visibility().prefix().len() + keyword.len() + 1 + decl.name().len()
}

/// Whether a declaration was extracted from Go code (its position is in a
/// `.go` file), where visibility is written with `//ftl:` directives.
fn in_go(pos: Option<&Pos>) -> bool {
    pos.is_some_and(|p| p.file.ends_with(".go"))
}

fn fmt_pos(pos: Option<&Pos>) -> String {
    pos.map_or_else(String::new, |p| format!(" at {p}"))
}

/// "did you mean `x`?" when a known name is close to `name`.
fn suggest<'b>(name: &str, known: impl Iterator<Item = &'b str>) -> Option<String> {
    known
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

/// Config, secret and database declarations are named only in metadata,
/// which says which kind it means: sharing a name is no ambiguity.
fn named_by_kind(kind: DeclKind) -> bool {
    matches!(
        kind,
        DeclKind::Config | DeclKind::Secret | DeclKind::Database
    )
}

impl<'a> Validator<'a> {
    /// An error: the schema is refused.
    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// A warning: FTL accepts it, `realm` points it out.
    fn warn(&mut self, d: Diagnostic) {
        self.diagnostics.push(d.into_warning());
    }

    /// An error when `error`, else a warning.
    fn report_or_warn(&mut self, error: bool, d: Diagnostic) {
        if error {
            self.report(d);
        } else {
            self.warn(d);
        }
    }

    /// A diagnostic at `pos`, or with the site's context when there is none.
    fn at(&self, pos: Option<&Pos>, site: &Site, message: impl Into<String>) -> Diagnostic {
        let d = Diagnostic::new(message, pos.cloned());
        if pos.is_none() {
            d.with_context(site.context())
        } else {
            d
        }
    }

    // ---- names ------------------------------------------------------------

    fn build_index(&mut self, schema: &'a Schema) {
        let mut internal: Option<&Realm> = None;
        for realm in &schema.realms {
            if !realm.external {
                if let Some(first) = internal {
                    self.report(
                        Diagnostic::new(
                            format!(
                                "a schema has one internal realm, but declares `{}` and `{}`",
                                first.name, realm.name
                            ),
                            realm.pos.clone(),
                        )
                        .with_len(5)
                        .with_help(format!(
                            "mark the realm that is not this project's as `external realm {}`",
                            realm.name
                        )),
                    );
                } else {
                    internal = Some(realm);
                }
            }
            if let Some(first) = self.index.realms.get(realm.name.as_str()) {
                let first_pos = fmt_pos(first.realm.pos.as_ref());
                self.report(
                    Diagnostic::new(
                        format!("realm `{}` is declared twice", realm.name),
                        realm.pos.clone(),
                    )
                    .with_help(format!("first declared{first_pos}; merge the two")),
                );
                continue;
            }
            let mut modules: HashMap<&str, ModuleIndex> = HashMap::default();
            for module in &realm.modules {
                let site = Site {
                    realm,
                    module,
                    decl: None,
                    type_params: &[],
                };
                if let Some(first) = modules.get(module.name.as_str()) {
                    // Copies of the builtin module (one per dump) are each
                    // compared with realm's own, not duplicates.
                    if module.name == "builtin" {
                        continue;
                    }
                    let first_pos = fmt_pos(first.module.pos.as_ref());
                    let d = self
                        .at(
                            module.pos.as_ref(),
                            &site,
                            format!(
                                "module `{}` is declared twice in realm `{}`",
                                module.name, realm.name
                            ),
                        )
                        .with_help(format!(
                            "first declared{first_pos}; a module lives in one place"
                        ));
                    self.report(d);
                    continue;
                }
                let index = ModuleIndex::new(module);
                if index.decls.len() != module.decls.len() && module.name != "builtin" {
                    self.report_duplicate_decls(&site);
                }
                modules.insert(&module.name, index);
            }
            self.index
                .realms
                .insert(&realm.name, RealmIndex { realm, modules });
        }
    }

    /// Two declarations of one kind with one name are an error (FTL's
    /// rule); of two kinds, a warning, unless both are config, secret or
    /// database (FTL's own tests declare a config and a secret alike).
    fn report_duplicate_decls(&mut self, site: &Site<'a>) {
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
            self.report_or_warn(same_kind.is_some(), d.with_len(head_len(decl)));
        }
    }

    /// Warns when `names` (with positions) of the site's declaration repeat:
    /// FTL does not check fields, variants or type parameters for
    /// duplicates.
    fn check_unique<'n>(
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
            self.warn(d);
        }
    }

    /// A name that is a builtin type: an error for declarations (FTL: "a
    /// reserved word"), a warning for type parameters.
    fn check_not_builtin_type(
        &mut self,
        site: &Site,
        what: &str,
        name: &str,
        pos: Option<&Pos>,
        len: usize,
    ) {
        if Type::scalar(name).is_some() {
            let d = self
                .at(
                    pos,
                    site,
                    format!("{what} `{name}` shadows the builtin type `{name}`"),
                )
                .with_len(len)
                .with_help(format!("rename it; `{name}` always means the builtin type"));
            self.report_or_warn(what != "type parameter", d);
        }
    }

    // ---- modules and declarations -----------------------------------------

    fn check_module(&mut self, realm: &'a Realm, module: &'a Module) {
        let site = Site {
            realm,
            module,
            decl: None,
            type_params: &[],
        };
        if GO_KEYWORDS.contains(&module.name.as_str()) {
            let d = self
                .at(
                    module.pos.as_ref(),
                    &site,
                    format!("module name `{}` is invalid", module.name),
                )
                .with_len("module ".len() + module.name.len())
                .with_help(format!(
                    "`{}` is a Go keyword; FTL makes modules Go packages: rename the module",
                    module.name
                ));
            self.report(d);
        }
        if module.builtin && module.name != "builtin" {
            let d = self
                .at(
                    module.pos.as_ref(),
                    &site,
                    format!(
                        "only the module `builtin` can be declared `builtin`, not `{}`",
                        module.name
                    ),
                )
                .with_len(7)
                .with_help("remove `builtin`");
            self.report(d);
        } else if module.name == "builtin" {
            if !module.builtin {
                let d = self
                    .at(
                        module.pos.as_ref(),
                        &site,
                        "the module name `builtin` is reserved for the builtin module",
                    )
                    .with_len("module builtin".len())
                    .with_help("rename the module; `builtin.X` always means the builtin module's `X` (FTL replaces a module of this name with its own)");
                self.warn(d);
            }
            // FTL replaces it with its own builtin module, and so does
            // realm: it is compared, not validated.
            self.check_builtin_copy(&site);
            return;
        }
        self.check_metadata(&site, Host::Module, &module.metadata);
        for decl in &module.decls {
            self.check_decl(realm, module, decl);
        }
    }

    /// A `builtin module builtin { ... }` block (as `ftl schema` prints at
    /// the top of a realm): declarations the builtin module has must be the
    /// same (comments, visibility and order aside); any difference is a
    /// warning, since `realm` (like FTL) uses its own.
    fn check_builtin_copy(&mut self, site: &Site<'a>) {
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
            self.warn(d);
        }
    }

    fn check_decl(&mut self, realm: &'a Realm, module: &'a Module, decl: &'a Decl) {
        let site = Site::of(realm, module, decl);
        self.check_not_builtin_type(
            &site,
            decl.kind().keyword(),
            decl.name(),
            decl.pos(),
            head_len(decl),
        );
        if realm.external
            && !module.builtin
            && decl.visibility() != Visibility::ExportRealm
            && !self
                .referenced
                .contains(&(module.name.as_str(), decl.name()))
        {
            let d = self
                .at(
                    decl.pos(),
                    &site,
                    format!(
                        "external realm `{}` declares {} `{}.{}` as {}; an external realm holds only its public API",
                        realm.name,
                        decl.kind(),
                        module.name,
                        decl.name(),
                        decl.visibility()
                    ),
                )
                .with_len(head_len(decl))
                .with_help("only `export realm` declarations belong in an external realm");
            self.report(d);
        }
        match decl {
            Decl::Data(data) => {
                self.check_unique(
                    &site,
                    "type parameter",
                    data.type_params
                        .iter()
                        .map(|p| (p.name.as_str(), p.pos.as_ref())),
                );
                for param in &data.type_params {
                    self.check_not_builtin_type(
                        &site,
                        "type parameter",
                        &param.name,
                        param.pos.as_ref(),
                        param.name.len(),
                    );
                }
                self.check_unique(
                    &site,
                    "field",
                    data.fields
                        .iter()
                        .map(|f| (f.name.as_str(), f.pos.as_ref())),
                );
                self.check_metadata(&site, Host::Data, &data.metadata);
                for field in &data.fields {
                    self.check_type(&site, &field.ty);
                    self.check_metadata(&site, Host::Field, &field.metadata);
                    let group = field.oneof();
                    if let Some(group) = group
                        && !matches!(field.ty, Type::Optional(_))
                    {
                        let d = self
                            .at(
                                field.pos.as_ref(),
                                &site,
                                format!(
                                    "field `{}` is in oneof `{group}` but is not optional",
                                    field.name
                                ),
                            )
                            .with_len(field.name.len())
                            .with_help(format!(
                                "at most one field of a oneof is set: write `{} {}?`",
                                field.name, field.ty
                            ));
                        self.report(d);
                    }
                    for m in &field.metadata {
                        if let MetadataKind::ProtobufField { ty, .. } = &m.kind
                            && !ty.fits(&field.ty)
                        {
                            let d = self
                                .at(
                                    m.pos.as_ref().or(field.pos.as_ref()),
                                    &site,
                                    format!(
                                        "field `{}` of type {} cannot hold protobuf `{ty}` values",
                                        field.name, field.ty
                                    ),
                                )
                                .with_help(
                                    "the `+protobuf` type says how the field's JSON is read: \
                                     integer types go with Int, float and double with Float, \
                                     Duration and FieldMask with String, Timestamp with Time, \
                                     Struct, Value, ListValue and Any with Any, messages and \
                                     enums with references; re-import the realm to regenerate it",
                                );
                            self.report(d);
                        }
                    }
                }
            }
            Decl::Verb(verb) => {
                self.check_type(&site, &verb.request);
                self.check_type(&site, &verb.response);
                self.check_metadata(&site, Host::Verb, &verb.metadata);
                self.check_verb(&site, verb);
            }
            Decl::Enum(e) => self.check_enum(&site, e),
            Decl::TypeAlias(alias) => {
                self.check_type(&site, &alias.ty);
                self.check_metadata(&site, Host::TypeAlias, &alias.metadata);
            }
            Decl::Config(Config { ty, .. }) | Decl::Secret(Secret { ty, .. }) => {
                self.check_type(&site, ty);
            }
            Decl::Database(db) => self.check_metadata(&site, Host::Database, &db.metadata),
            Decl::Topic(topic) => {
                if !topic.name.starts_with(|c: char| c.is_ascii_lowercase()) {
                    let d = self
                        .at(
                            topic.pos.as_ref(),
                            &site,
                            format!(
                                "topic name `{}` must start with a lowercase letter",
                                topic.name
                            ),
                        )
                        .with_len(head_len(decl))
                        .with_help("FTL derives a topic's name from a Go variable; rename it, e.g. `orders`");
                    self.report(d);
                }
                self.check_type(&site, &topic.event);
                self.check_metadata(&site, Host::Topic, &topic.metadata);
            }
        }
    }

    fn check_enum(&mut self, site: &Site<'a>, e: &'a Enum) {
        let name = format!("{}.{}", site.module.name, e.name);
        self.check_unique(
            site,
            "variant",
            e.variants.iter().map(|v| (v.name.as_str(), v.pos.as_ref())),
        );
        let Some(ty) = &e.ty else {
            // A type enum.
            if e.variants.is_empty() {
                let d = self
                    .at(
                        e.pos.as_ref(),
                        site,
                        format!("enum `{name}` must have at least one variant"),
                    )
                    .with_len(site.decl.map_or(1, head_len))
                    .with_help("a type enum holds one of its variants' types: declare one, or give the enum a type (`enum E: String { ... }`)");
                self.report(d);
            }
            for variant in &e.variants {
                match &variant.value {
                    VariantValue::Type(ty) => self.check_type(site, ty),
                    _ => {
                        let d = self
                            .at(
                                variant.pos.as_ref(),
                                site,
                                format!(
                                    "variant `{}` has a value, but enum `{name}` has no type",
                                    variant.name
                                ),
                            )
                            .with_len(variant.name.len())
                            .with_help(format!("declare the enum's type: `enum {}: String {{` or `enum {}: Int {{`", e.name, e.name));
                        self.report(d);
                    }
                }
            }
            return;
        };
        // A value enum: its type (through aliases) is Int or String.
        self.check_type(site, ty);
        let base = self.unalias(*site, ty).1;
        let is_int = match base {
            Type::Int => Some(true),
            Type::String => Some(false),
            _ => None,
        };
        if is_int.is_none() && e.variants.is_empty() {
            let d = self
                .at(
                    e.pos.as_ref(),
                    site,
                    format!(
                        "value enum `{name}` has type `{ty}`; value enums are `Int` or `String`"
                    ),
                )
                .with_help("use `Int` or `String`, or drop the type to declare a type enum");
            self.warn(d);
        }
        let mut values: HashMap<String, &str> = HashMap::default();
        for variant in &e.variants {
            let value = match (&variant.value, is_int) {
                (VariantValue::Int(n), Some(true)) => n.to_string(),
                (VariantValue::String(s), Some(false)) => format!("{s:?}"),
                (VariantValue::Type(vt), _) => {
                    // FTL compares the variant's type with the enum's: the
                    // same is accepted (a warning here), another refused.
                    let same = same_scalar(self.unalias(*site, vt).1, base);
                    let d = self
                        .at(
                            variant.pos.as_ref(),
                            site,
                            format!(
                                "variant `{}` of value enum `{name}` is a type",
                                variant.name
                            ),
                        )
                        .with_len(variant.name.len())
                        .with_help(format!(
                            "write `{} = <value>`, or drop `: {ty}` to make `{name}` a type enum",
                            variant.name
                        ));
                    self.report_or_warn(!same, d);
                    continue;
                }
                (value, _) => {
                    let value_type = if matches!(value, VariantValue::Int(_)) {
                        "Int"
                    } else {
                        "String"
                    };
                    let d = self
                        .at(
                            variant.pos.as_ref(),
                            site,
                            format!(
                                "enum variant `{}` of type `{ty}` cannot have a value of type `{value_type}`",
                                variant.name,
                            ),
                        )
                        .with_len(variant.name.len())
                        .with_help(match is_int {
                            Some(true) => format!("every value of `{name}` is an integer"),
                            Some(false) => format!("every value of `{name}` is a string"),
                            None => "value enums are `Int` or `String`".to_string(),
                        });
                    self.report(d);
                    continue;
                }
            };
            if let Some(first) = values.get(&value) {
                let d = self
                    .at(
                        variant.pos.as_ref(),
                        site,
                        format!(
                            "variants `{first}` and `{}` of enum `{name}` have the same value {value}",
                            variant.name
                        ),
                    )
                    .with_len(variant.name.len())
                    .with_help("give every variant its own value");
                self.warn(d);
            } else {
                values.insert(value, &variant.name);
            }
        }
    }

    // ---- types and references -----------------------------------------

    fn check_type(&mut self, site: &Site<'a>, ty: &'a Type) {
        ty.walk(&mut |t| {
            if let Type::Ref(r) = t {
                self.check_ref(site, r, Expect::Type);
            }
        });
    }

    /// Resolves a reference without reporting anything: to a declaration of
    /// the kind `kind` when several share its name.
    fn lookup(&self, site: &Site<'a>, r: &Ref, kind: Option<DeclKind>) -> Option<Target<'a>> {
        let module_name = match &r.module {
            Some(m) => m.as_str(),
            None if r.realm.is_some() => return None,
            None => bare_target(&r.name, site.type_params, site.module)?,
        };
        let realm = match &r.realm {
            None => self.index.realms.get(site.realm.name.as_str())?,
            Some(name) => self.index.realms.get(name.as_str())?,
        };
        let (module, builtin) = if module_name == "builtin" {
            (&self.builtin, true)
        } else {
            (realm.modules.get(module_name)?, false)
        };
        let decl = module.find(&r.name, kind)?;
        Some(Target {
            realm: realm.realm,
            module: module.module,
            decl,
            builtin,
        })
    }

    /// A type with references to type aliases followed (FTL's
    /// `resolveType`), and the site its last part is written in.
    fn unalias(&self, site: Site<'a>, ty: &'a Type) -> (Site<'a>, &'a Type) {
        let (mut site, mut ty) = (site, ty);
        for _ in 0..MAX_ALIAS_HOPS {
            let Type::Ref(r) = ty else { break };
            let Some(target) = self.lookup(&site, r, None) else {
                break;
            };
            let Decl::TypeAlias(alias) = target.decl else {
                break;
            };
            site = target.site();
            ty = &alias.ty;
        }
        (site, ty)
    }

    /// The type as text with bare references qualified, to compare types
    /// written in different places (FTL compares them qualified).
    fn canonical(&self, site: &Site<'a>, ty: &Type) -> String {
        let mut ty = ty.clone();
        qualify_type(&mut ty, site.type_params, site.module);
        ty.to_string()
    }

    /// Resolves `r` from `site` and checks what it resolved to. Messages are
    /// formatted only when there is something to report: this runs for every
    /// reference of the schema.
    fn check_ref(&mut self, site: &Site<'a>, r: &'a Ref, expect: Expect) {
        let pos = r.pos.as_ref().or(site.decl.and_then(Decl::pos));
        let len = ref_len(r);
        let module_name = match &r.module {
            Some(m) => m.as_str(),
            None => {
                if site.type_params.iter().any(|p| p.name == r.name) {
                    self.check_type_param(site, r, pos, len);
                    return;
                }
                match bare_target(&r.name, &[], site.module) {
                    Some(module) if r.realm.is_none() => module,
                    _ => {
                        self.report_unknown_bare(site, r, pos, len);
                        return;
                    }
                }
            }
        };
        let wanted = match expect {
            Expect::Type => None,
            Expect::Kind { kind, .. } => Some(kind),
        };
        let Some(target) = self.resolve(site, r, module_name, wanted, pos, len) else {
            return;
        };

        // The kind of declaration.
        let kind = target.decl.kind();
        let (kind_ok, ftl) = match expect {
            Expect::Type => (kind.is_type(), false),
            Expect::Kind { kind: k, ftl } => (k == kind, ftl),
        };
        if !kind_ok {
            let wanted = match expect {
                Expect::Type => "a type (data, enum or typealias)",
                Expect::Kind { kind: k, .. } => k.with_article(),
            };
            let message = format!(
                "`{r}` is {}, but {wanted} is expected here",
                kind.with_article()
            );
            let help = format!(
                "`{}` is declared{}",
                target.name(),
                fmt_pos(target.decl.pos())
            );
            let d = self.at(pos, site, message).with_len(len).with_help(help);
            self.report_or_warn(ftl, d);
            return;
        }

        // Who may see it.
        let other_realm = !std::ptr::eq(target.realm, site.realm);
        let visibility = target.decl.visibility();
        if !target.builtin {
            if other_realm && visibility != Visibility::ExportRealm {
                let message = format!(
                    "`{r}` is not part of realm `{}`'s public API (it is {})",
                    target.realm.name,
                    visibility.meaning()
                );
                let d = self
                    .at(pos, site, message)
                    .with_len(len)
                    .with_help("other realms can use only `export realm` declarations");
                self.report(d);
                return;
            }
            if !other_realm
                && !std::ptr::eq(target.module, site.module)
                && visibility == Visibility::Private
            {
                let message = format!(
                    "{kind} `{}` is private to module `{}`",
                    target.name(),
                    target.module.name
                );
                let help = match kind {
                    DeclKind::Config | DeclKind::Secret | DeclKind::Database => {
                        format!("a {kind} can be used only by the module that declares it")
                    }
                    _ if in_go(target.decl.pos()) => format!(
                        "export it from its Go module: put `//ftl:export` above it{}; \
                         what an `export:realm` verb uses is then exported to the realm too",
                        fmt_pos(target.decl.pos())
                    ),
                    _ => format!(
                        "mark it `export` where it is declared{}",
                        fmt_pos(target.decl.pos())
                    ),
                };
                let d = self.at(pos, site, message).with_len(len).with_help(help);
                self.report(d);
                return;
            }
        }

        if expect != Expect::Type && !r.type_args.is_empty() {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "{kind} `{}` takes no type arguments, but {} {} given",
                        target.name(),
                        r.type_args.len(),
                        if r.type_args.len() == 1 {
                            "was"
                        } else {
                            "were"
                        }
                    ),
                )
                .with_len(len)
                .with_help(format!("write `{}`", target.name()));
            self.report(d);
        }
        if expect == Expect::Type {
            self.check_arity(site, r, &target, pos, len);
            let user_visibility = site.visibility();
            // The visibility rule: whatever an exported declaration uses is
            // at least as visible.
            if !target.builtin
                && !other_realm
                && visibility < user_visibility
                && let Some(user) = site.decl
            {
                let target_name = target.name();
                let message = format!(
                    "{kind} `{target_name}` must be `{user_visibility}` because {user_visibility} {} `{}` uses it",
                    user.kind(),
                    site.decl_name()
                );
                let at = target
                    .decl
                    .pos()
                    .map_or_else(String::new, |p| format!(" (at {p})"));
                let help = if in_go(target.decl.pos()) {
                    format!(
                        "declarations of Go modules take the visibility of what uses them, \
                         within their module or, once exported, across modules: put \
                         `//ftl:export` above `{target_name}`{at}, or lower the visibility of `{}`",
                        site.decl_name()
                    )
                } else {
                    format!(
                        "mark `{target_name}` as `{user_visibility}`{at}, or lower the visibility of `{}`",
                        site.decl_name()
                    )
                };
                let d = self.at(pos, site, message).with_len(len).with_help(help);
                // The public API rule is realm's own and always holds; at
                // `export`, FTL checks data, enums and aliases, and verbs
                // with metadata, but not topics or bare verbs.
                let error = user_visibility == Visibility::ExportRealm
                    || match user {
                        Decl::Data(_) | Decl::Enum(_) | Decl::TypeAlias(_) => true,
                        Decl::Verb(v) => !v.metadata.is_empty(),
                        _ => false,
                    };
                self.report_or_warn(error, d);
            }
            // No transitive realm dependencies: the internal realm's public
            // API uses only its own types.
            if other_realm
                && !site.realm.external
                && user_visibility == Visibility::ExportRealm
                && let Some(user) = site.decl
            {
                let message = format!(
                    "export realm {} `{}` exposes `{r}`, a type of external realm `{}`",
                    user.kind(),
                    site.decl_name(),
                    target.realm.name
                );
                let help = format!(
                    "a realm's public API cannot use other realms' types; declare an equivalent type in realm `{}`",
                    site.realm.name
                );
                let d = self.at(pos, site, message).with_len(len).with_help(help);
                self.report(d);
            }
        }
    }

    /// A bare name that is no type parameter, builtin or declaration of
    /// its module.
    fn report_unknown_bare(&mut self, site: &Site, r: &Ref, pos: Option<&Pos>, len: usize) {
        let mut d = self
            .at(pos, site, format!("unknown reference `{r}`"))
            .with_len(len);
        d = if r.realm.is_some() {
            d.with_help(format!(
                "a reference to another realm names its module: `module.{}`",
                r
            ))
        } else if let Some(builtin) = builtin_type_like(&r.name) {
            d.with_help(format!(
                "did you mean `{builtin}`? The built-in types are written with a capital: Int, Float, String, Bytes, Bool, Time, Any, Unit"
            ))
        } else if site.type_params.is_empty() {
            match suggest(&r.name, site.module.decls.iter().map(Decl::name)) {
                Some(s) => d.with_help(format!(
                    "module `{}` declares no `{}`; {s}",
                    site.module.name, r.name
                )),
                None => d.with_help(format!(
                    "module `{}` declares no `{}`; name another module's declaration as `module.{}`",
                    site.module.name, r.name, r.name
                )),
            }
        } else {
            let params: Vec<&str> = site.type_params.iter().map(|p| p.name.as_str()).collect();
            d.with_help(format!(
                "the type parameters here are {}; module `{}` declares no `{}`",
                params.join(", "),
                site.module.name,
                r.name
            ))
        };
        self.report(d);
    }

    fn check_type_param(&mut self, site: &Site, r: &Ref, pos: Option<&Pos>, len: usize) {
        if !r.type_args.is_empty() {
            let d = self
                .at(
                    pos,
                    site,
                    format!("type parameter `{}` takes no type arguments", r.name),
                )
                .with_len(len);
            self.warn(d);
        }
        if let Some(realm) = &r.realm {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "type parameter `{}` cannot have a realm suffix `@{realm}`",
                        r.name
                    ),
                )
                .with_len(len)
                .with_help(format!("write `{}`", r.name));
            self.report(d);
        }
    }

    fn resolve(
        &mut self,
        site: &Site<'a>,
        r: &Ref,
        module_name: &str,
        kind: Option<DeclKind>,
        pos: Option<&Pos>,
        len: usize,
    ) -> Option<Target<'a>> {
        let shown = r;
        let realm_name = match &r.realm {
            None => site.realm.name.as_str(),
            Some(realm) if *realm == site.realm.name => {
                let d = self
                    .at(
                        pos,
                        site,
                        format!("`{shown}` names the realm it is written in"),
                    )
                    .with_len(len)
                    .with_help(format!(
                        "drop `@{realm}`: references without `@` resolve in realm `{realm}`"
                    ));
                self.report(d);
                return None;
            }
            Some(realm) if site.realm.external => {
                let d = self
                    .at(
                        pos,
                        site,
                        format!(
                            "external realm `{}` refers to realm `{realm}` in `{shown}`",
                            site.realm.name
                        ),
                    )
                    .with_len(len)
                    .with_help("a realm's public API cannot depend on other realms");
                self.report(d);
                return None;
            }
            Some(realm) => realm.as_str(),
        };
        let Some(realm) = self.index.realms.get(realm_name) else {
            let known: Vec<&str> = self
                .index
                .realms
                .values()
                .filter(|r| r.realm.external)
                .map(|r| r.realm.name.as_str())
                .collect();
            let help = match suggest(realm_name, known.iter().copied()) {
                Some(s) => s,
                None => format!(
                    "pin the realm with `realm add --git-repo <url>` (or declare `external realm {realm_name} {{ ... }}`)"
                ),
            };
            let d = self
                .at(
                    pos,
                    site,
                    format!("unknown realm `{realm_name}` in `{shown}`"),
                )
                .with_len(len)
                .with_help(help);
            self.report(d);
            return None;
        };
        let (module, builtin) = if module_name == "builtin" {
            (&self.builtin, true)
        } else if let Some(m) = realm.modules.get(module_name) {
            (m, false)
        } else {
            let mut help = format!("realm `{realm_name}` has no module `{module_name}`");
            if let Some(s) = suggest(module_name, realm.modules.keys().copied()) {
                help = format!("{help}; {s}");
            }
            let d = self
                .at(pos, site, format!("unknown reference `{shown}`"))
                .with_len(len)
                .with_help(help);
            self.report(d);
            return None;
        };
        let Some(decl) = module.find(&r.name, kind) else {
            let mut help = format!("module `{module_name}` has no declaration `{}`", r.name);
            if let Some(s) = suggest(&r.name, module.decls.keys().copied()) {
                help = format!("{help}; {s}");
            }
            let d = self
                .at(pos, site, format!("unknown reference `{shown}`"))
                .with_len(len)
                .with_help(help);
            self.report(d);
            return None;
        };
        Some(Target {
            realm: realm.realm,
            module: module.module,
            decl,
            builtin,
        })
    }

    fn check_arity(
        &mut self,
        site: &Site,
        r: &Ref,
        target: &Target,
        pos: Option<&Pos>,
        len: usize,
    ) {
        let expected = match target.decl {
            Decl::Data(d) => d.type_params.len(),
            _ => 0,
        };
        if expected != r.type_args.len() {
            let name = target.name();
            let message = if expected == 0 {
                format!(
                    "`{name}` takes no type arguments, but {} {} given",
                    r.type_args.len(),
                    if r.type_args.len() == 1 {
                        "was"
                    } else {
                        "were"
                    }
                )
            } else {
                format!(
                    "`{name}` takes {expected} type argument{}, but {} {} given",
                    if expected == 1 { "" } else { "s" },
                    r.type_args.len(),
                    if r.type_args.len() == 1 {
                        "was"
                    } else {
                        "were"
                    }
                )
            };
            let mut d = self.at(pos, site, message).with_len(len);
            if let Decl::Data(data) = target.decl
                && !data.type_params.is_empty()
            {
                let params: Vec<&str> = data.type_params.iter().map(|p| p.name.as_str()).collect();
                d = d.with_help(format!(
                    "`{name}` is declared as `{}<{}>`",
                    data.name,
                    params.join(", ")
                ));
            }
            // FTL lets an exported type alias take (ignored) arguments.
            let error = !(matches!(target.decl, Decl::TypeAlias(_))
                && target.decl.visibility() != Visibility::Private);
            self.report_or_warn(error, d);
        }
    }

    // ---- metadata -----------------------------------------------------------

    fn check_metadata(&mut self, site: &Site<'a>, host: Host, metadata: &'a [Metadata]) {
        for (i, m) in metadata.iter().enumerate() {
            let pos = m.pos.as_ref().or(site.decl.and_then(Decl::pos));
            let keyword = m.kind.keyword();
            let refused = ftl_refuses(&m.kind, host);
            if refused || !allowed_on(&m.kind).contains(&host) {
                let places: Vec<&str> = allowed_on(&m.kind).iter().map(|h| h.describe()).collect();
                let message = if refused {
                    format!("`+{keyword}` is not allowed on {}", host.describe())
                } else {
                    format!("`+{keyword}` has no effect on {}", host.describe())
                };
                let d = self
                    .at(pos, site, message)
                    .with_len(keyword.len() + 1)
                    .with_help(format!("`+{keyword}` belongs on {}", places.join(" or ")));
                self.report_or_warn(refused, d);
            }
            let repeated = metadata[..i]
                .iter()
                .any(|earlier| discriminant(&earlier.kind) == discriminant(&m.kind));
            // FTL refuses any repetition on a verb, and two migrations.
            let ftl_refuses_repeat = match host {
                Host::Verb => true,
                Host::Database => matches!(m.kind, MetadataKind::Migration(_)),
                _ => false,
            };
            if repeated && (ftl_refuses_repeat || single(&m.kind)) {
                let help = match &m.kind {
                    MetadataKind::Subscribe { .. } => "a verb subscribes to one topic".to_string(),
                    MetadataKind::Calls(_)
                    | MetadataKind::Publish(_)
                    | MetadataKind::DatabaseUses(_)
                    | MetadataKind::ConfigUses(_)
                    | MetadataKind::SecretsUses(_)
                    | MetadataKind::Egress(_) => {
                        format!("merge them into one list: `+{keyword} a, b`")
                    }
                    _ => "keep one".to_string(),
                };
                let d = self
                    .at(pos, site, format!("`+{keyword}` appears more than once"))
                    .with_len(keyword.len() + 1)
                    .with_help(help);
                self.report_or_warn(ftl_refuses_repeat, d);
            }
            let kind = |kind: DeclKind, ftl: bool| Expect::Kind { kind, ftl };
            match &m.kind {
                MetadataKind::Calls(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Verb, true))
                }
                MetadataKind::Publish(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Topic, false))
                }
                MetadataKind::DatabaseUses(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Database, false))
                }
                MetadataKind::ConfigUses(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Config, false))
                }
                MetadataKind::SecretsUses(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Secret, false))
                }
                MetadataKind::Subscribe { topic, from, .. } => {
                    self.check_ref(site, topic, kind(DeclKind::Topic, true));
                    if from.is_none() {
                        let d = self
                            .at(pos, site, "`+subscribe` without `from=`")
                            .with_len(keyword.len() + 1)
                            .with_help(format!(
                                "FTL requires where the subscription starts: `+subscribe {topic} from=beginning` or `from=latest`"
                            ));
                        self.warn(d);
                    }
                }
                MetadataKind::Retry {
                    catch: Some(catch), ..
                } => self.check_ref(site, catch, kind(DeclKind::Verb, true)),
                MetadataKind::Partitions(n) if *n < 1 => {
                    let d = self
                        .at(pos, site, format!("a topic with {n} partitions"))
                        .with_len(keyword.len() + 1)
                        .with_help("a topic has at least 1 partition");
                    self.warn(d);
                }
                MetadataKind::SqlQuery { command, .. }
                    if !["one", "many", "exec", "copyfrom"].contains(&command.as_str()) =>
                {
                    let d = self
                        .at(pos, site, format!("unknown query command `{command}`"))
                        .with_len(keyword.len() + 1)
                        .with_help("FTL's query commands are one, many, exec and copyfrom");
                    self.warn(d);
                }
                _ => {}
            }
        }
    }

    fn check_refs(&mut self, site: &Site<'a>, refs: &'a [Ref], expect: Expect) {
        for r in refs {
            self.check_ref(site, r, expect);
        }
    }
}

/// Whether two types are the same builtin scalar.
fn same_scalar(a: &Type, b: &Type) -> bool {
    !matches!(
        a,
        Type::Ref(_) | Type::List(_) | Type::Map(..) | Type::Optional(_)
    ) && discriminant(a) == discriminant(b)
}

/// Whether a declaration of a `builtin` module in schema text is the
/// builtin module's: same kind, type parameters, fields and types.
fn same_builtin(ours: &Decl, theirs: &Decl) -> bool {
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
                    .all(|(x, y)| x.name == y.name && super::diff::same_type(&x.ty, &y.ty))
        }
        _ => false,
    }
}

/// A declaration on one line, for messages.
fn one_line(decl: &Decl) -> String {
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
fn builtin_type_like(name: &str) -> Option<&'static str> {
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_type;

    #[test]
    fn ref_len_is_the_printed_length() {
        for text in [
            "a.B",
            "T",
            "a.B@bank",
            "builtin.HttpRequest<Unit, a.Path, {String: [Int?]}>",
            "a.Page<a.Item<Float, Bytes>, Bool, Time, Any>@x",
        ] {
            let Ok(Type::Ref(r)) = parse_type("t", text) else {
                panic!("{text} is a reference");
            };
            assert_eq!(ref_len(&r), r.to_string().chars().count(), "{text}");
        }
    }
}
