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

//!
//! This file is the driver (the index of declarations, the walk over
//! modules and declarations); each job has its file: `names`, `enums`,
//! `resolve` (references), `visibility`, `metadata` (placement),
//! `verbs` (FTL's verb rules), `graph` (cycles), `text` (names and
//! strings as text).

mod cron;
mod enums;
mod graph;
mod metadata;
mod names;
mod resolve;
pub mod text;
mod verbs;
mod visibility;

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use super::builtin::builtin_module;
use super::diagnostic::Diagnostic;
use super::model::*;
use crate::rules;
use metadata::Host;
pub use names::GO_KEYWORDS;
use visibility::referenced_within;

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
    let builtin = ModuleIndex::new(builtin_module());
    let none = Default::default();
    let empty = Index::default();
    let mut v = Validator::new(&empty, &builtin, &none);
    let index = v.build_index(schema);
    let mut diagnostics = v.diagnostics;
    for realm in &schema.realms {
        let referenced = if realm.external {
            referenced_within(realm)
        } else {
            Default::default()
        };
        // Modules are checked on every core (each on its own, against the
        // shared index: its declarations, then its texts), their findings
        // kept in the modules' order; the checks of the whole realm run
        // beside them. Findings come in the order they always had (sorting
        // by position keeps it among equal positions): every module's
        // checks, the realm's texts, every module's texts, the rest.
        let (modules, (realm_texts, whole)) = rayon::join(
            || {
                realm
                    .modules
                    .par_iter()
                    .map(|module| {
                        let mut v = Validator::new(&index, &builtin, &referenced);
                        v.check_module(realm, module);
                        let checks = std::mem::take(&mut v.diagnostics);
                        v.check_module_texts(realm, module);
                        (checks, v.diagnostics)
                    })
                    .collect::<Vec<(Vec<Diagnostic>, Vec<Diagnostic>)>>()
            },
            || {
                let mut v = Validator::new(&index, &builtin, &referenced);
                v.check_realm_texts(realm);
                let texts = std::mem::take(&mut v.diagnostics);
                v.check_graphs(realm);
                v.check_ingress_routes(realm);
                (texts, v.diagnostics)
            },
        );
        let (checks, texts): (Vec<_>, Vec<_>) = modules.into_iter().unzip();
        diagnostics.extend(checks.into_iter().flatten());
        diagnostics.extend(realm_texts);
        diagnostics.extend(texts.into_iter().flatten());
        diagnostics.extend(whole);
    }
    // What no rule of its own claimed is about the schema's shape.
    let mut diagnostics: Vec<Diagnostic> = diagnostics
        .into_iter()
        .map(|d| d.or_code(rules::SCHEMA_STRUCTURE))
        .collect();
    Diagnostic::sort(&mut diagnostics);
    diagnostics
}

/// How many type aliases a resolution follows at most before giving up (a
/// longer chain is a cycle, which `graph` reports).
pub const MAX_ALIAS_HOPS: usize = 256;

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

/// Where a diagnostic about a name or a reference points: the site it is
/// written in, its position (if any) and the length of its text.
#[derive(Clone, Copy)]
struct Span<'s, 'a> {
    site: &'s Site<'a>,
    pos: Option<&'s Pos>,
    len: usize,
}

/// The checks of one module, or of what spans a realm's modules: the
/// index and the rest are shared (by the threads checking modules), the
/// findings are its own.
struct Validator<'a> {
    index: &'a Index<'a>,
    builtin: &'a ModuleIndex<'static>,
    diagnostics: Vec<Diagnostic>,
    /// In an external realm: the declarations its own declarations refer
    /// to. FTL publishes these whatever their visibility (its closure), so
    /// only other declarations must be `export realm` there.
    referenced: &'a std::collections::HashSet<(&'a str, &'a str)>,
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
    // Counted, not formatted: it is asked for every declaration.
    let keyword = match decl {
        Decl::Database(db) => "database ".len() + db.engine.keyword().len(),
        _ => decl.kind().keyword().len(),
    };
    decl.visibility().prefix().len() + keyword + 1 + decl.name().len()
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

impl<'a> Validator<'a> {
    fn new(
        index: &'a Index<'a>,
        builtin: &'a ModuleIndex<'static>,
        referenced: &'a std::collections::HashSet<(&'a str, &'a str)>,
    ) -> Self {
        Validator {
            index,
            builtin,
            diagnostics: Vec::new(),
            referenced,
        }
    }

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

    /// The index of `schema`'s realms, modules and declarations; what makes
    /// one ambiguous (two realms, modules or declarations of one name) is
    /// reported.
    fn build_index(&mut self, schema: &'a Schema) -> Index<'a> {
        let mut built = Index::default();
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
            if let Some(first) = built.realms.get(realm.name.as_str()) {
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
                    self.report(d.or_code(rules::NAME));
                    continue;
                }
                let index = ModuleIndex::new(module);
                if index.decls.len() != module.decls.len() && module.name != "builtin" {
                    self.report_duplicate_decls(&site);
                }
                modules.insert(&module.name, index);
            }
            built
                .realms
                .insert(&realm.name, RealmIndex { realm, modules });
        }
        built
    }

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
            self.report(d.or_code(rules::NAME));
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
            self.report(d.or_code(rules::NAME));
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
                self.warn(d.or_code(rules::NAME));
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

    fn check_decl(&mut self, realm: &'a Realm, module: &'a Module, decl: &'a Decl) {
        let site = Site::of(realm, module, decl);
        let span = Span {
            site: &site,
            pos: decl.pos(),
            len: head_len(decl),
        };
        self.check_not_builtin_type(&span, decl.kind().keyword(), decl.name());
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
                    let span = Span {
                        site: &site,
                        pos: param.pos.as_ref(),
                        len: param.name.len(),
                    };
                    self.check_not_builtin_type(&span, "type parameter", &param.name);
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
                    self.check_field_extensions(&site, field);
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
                    self.report(d.or_code(rules::NAME));
                }
                self.check_type(&site, &topic.event);
                self.check_metadata(&site, Host::Topic, &topic.metadata);
            }
        }
    }
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
