//! Checks a schema: every reference resolves, visibility is consistent, names
//! are unique, type arguments match, metadata is where it belongs.
//!
//! All errors of a schema are collected in one pass and returned sorted by
//! position. Each carries the position of the offending text when the schema
//! came from text, or a `realm, module, declaration` context when it did not
//! (a pinned public API read from proto-text).
//!
//! Resolution rules:
//! - `module.Name` resolves in the realm the reference is written in; the
//!   `builtin` module resolves in every realm.
//! - `module.Name@realm` resolves in another realm of the schema and must
//!   name an `export realm` declaration there. External realms may not refer
//!   to other realms (no transitive realm dependencies).
//! - a bare `Name` is a type parameter of the enclosing data.
//! - across modules of one realm, the target must be at least `export`.
//!
//! No I/O: the validator is given a schema and returns diagnostics.

use rustc_hash::FxHashMap as HashMap;
use std::mem::discriminant;

use super::builtin::builtin_module;
use super::diagnostic::Diagnostic;
use super::model::*;

/// Validates a schema and returns every error found, sorted by position.
/// An empty list means the schema is valid.
pub fn validate(schema: &Schema) -> Vec<Diagnostic> {
    let builtin = ModuleIndex::new(builtin_module());
    let mut v = Validator {
        index: Index::default(),
        builtin,
        diagnostics: Vec::new(),
    };
    v.build_index(schema);
    for realm in &schema.realms {
        for module in &realm.modules {
            v.check_module(realm, module);
        }
    }
    let mut diagnostics = v.diagnostics;
    Diagnostic::sort(&mut diagnostics);
    diagnostics
}

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
}

/// A declaration a reference resolved to.
struct Target<'a> {
    realm: &'a Realm,
    module: &'a Module,
    decl: &'a Decl,
    builtin: bool,
}

impl Target<'_> {
    fn name(&self) -> String {
        format!("{}.{}", self.module.name, self.decl.name())
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

impl Site<'_> {
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
    /// A declaration of this kind named in metadata.
    Kind(DeclKind),
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

/// Where each metadata kind may appear.
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
        MetadataKind::Generated => &[Module, Data, Verb, TypeAlias],
    }
}

/// Metadata that may appear only once on the same node.
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

/// The length of a declaration's head: `export realm data Name`.
fn head_len(decl: &Decl) -> usize {
    let keyword = match decl {
        Decl::Database(db) => format!("database {}", db.engine.keyword()),
        _ => decl.kind().keyword().to_string(),
    };
    decl.visibility().prefix().len() + keyword.len() + 1 + decl.name().len()
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
    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
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
                if index.decls.len() != module.decls.len() {
                    self.report_duplicate_decls(&site);
                }
                modules.insert(&module.name, index);
            }
            self.index
                .realms
                .insert(&realm.name, RealmIndex { realm, modules });
        }
    }

    fn report_duplicate_decls(&mut self, site: &Site<'a>) {
        let mut seen: HashMap<&str, &Decl> = HashMap::default();
        for decl in &site.module.decls {
            if let Some(first) = seen.get(decl.name()) {
                let first_pos = fmt_pos(first.pos());
                let d = self
                    .at(
                        decl.pos(),
                        site,
                        format!(
                            "`{}` is declared twice in module `{}`",
                            decl.name(),
                            site.module.name
                        ),
                    )
                    .with_len(head_len(decl))
                    .with_help(format!(
                        "first declared{first_pos} as {}; rename one of them",
                        first.kind()
                    ));
                self.report(d);
            } else {
                seen.insert(decl.name(), decl);
            }
        }
    }

    /// Errors when `names` (with positions) of the site's declaration
    /// repeat.
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
            self.report(d);
        }
    }

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
            self.report(d);
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
        } else if !module.builtin && module.name == "builtin" {
            let d = self
                .at(
                    module.pos.as_ref(),
                    &site,
                    "the module name `builtin` is reserved for the builtin module",
                )
                .with_len("module builtin".len())
                .with_help("rename the module");
            self.report(d);
        }
        self.check_metadata(&site, Host::Module, &module.metadata);
        for decl in &module.decls {
            self.check_decl(realm, module, decl);
        }
    }

    fn check_decl(&mut self, realm: &'a Realm, module: &'a Module, decl: &'a Decl) {
        let type_params: &[TypeParameter] = match decl {
            Decl::Data(d) => &d.type_params,
            _ => &[],
        };
        let site = Site {
            realm,
            module,
            decl: Some(decl),
            type_params,
        };
        self.check_not_builtin_type(
            &site,
            decl.kind().keyword(),
            decl.name(),
            decl.pos(),
            head_len(decl),
        );
        if realm.external && !module.builtin && decl.visibility() != Visibility::ExportRealm {
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
                    let group = field.metadata.iter().find_map(|m| match &m.kind {
                        MetadataKind::Oneof(group) => Some(group),
                        _ => None,
                    });
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
                }
            }
            Decl::Verb(verb) => {
                self.check_type(&site, &verb.request);
                self.check_type(&site, &verb.response);
                self.check_metadata(&site, Host::Verb, &verb.metadata);
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
        match &e.ty {
            Some(ty) => {
                let is_int = match ty {
                    Type::Int => true,
                    Type::String => false,
                    other => {
                        let d = self
                            .at(
                                e.pos.as_ref(),
                                site,
                                format!("value enum `{name}` has type `{other}`; value enums are `Int` or `String`"),
                            )
                            .with_help("use `Int` or `String`, or drop the type to declare a type enum");
                        self.report(d);
                        return;
                    }
                };
                let mut values: HashMap<String, &str> = HashMap::default();
                for variant in &e.variants {
                    let value = match (&variant.value, is_int) {
                        (VariantValue::Int(n), true) => n.to_string(),
                        (VariantValue::String(s), false) => format!("{s:?}"),
                        (VariantValue::Type(_), _) => {
                            let d = self
                                .at(
                                    variant.pos.as_ref(),
                                    site,
                                    format!("variant `{}` of value enum `{name}` is a type", variant.name),
                                )
                                .with_len(variant.name.len())
                                .with_help(format!("write `{} = <value>`, or drop `: {ty}` to make `{name}` a type enum", variant.name));
                            self.report(d);
                            continue;
                        }
                        (_, _) => {
                            let d = self
                                .at(
                                    variant.pos.as_ref(),
                                    site,
                                    format!(
                                        "variant `{}` of enum `{name}: {ty}` has {} value",
                                        variant.name,
                                        if is_int { "a string" } else { "an integer" }
                                    ),
                                )
                                .with_len(variant.name.len())
                                .with_help(format!(
                                    "every value of `{name}` is {}",
                                    if is_int { "an integer" } else { "a string" }
                                ));
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
                        self.report(d);
                    } else {
                        values.insert(value, &variant.name);
                    }
                }
            }
            None => {
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

    /// Resolves `r` from `site` and checks what it resolved to. Messages are
    /// formatted only when there is something to report: this runs for every
    /// reference of the schema.
    fn check_ref(&mut self, site: &Site<'a>, r: &'a Ref, expect: Expect) {
        let pos = r.pos.as_ref().or(site.decl.and_then(Decl::pos));
        let len = ref_len(r);
        let Some(module_name) = &r.module else {
            self.check_type_param(site, r, pos, len);
            return;
        };
        let Some(target) = self.resolve(site, r, module_name, pos, len) else {
            return;
        };

        // The kind of declaration.
        let kind = target.decl.kind();
        let kind_ok = match expect {
            Expect::Type => kind.is_type(),
            Expect::Kind(k) => k == kind,
        };
        if !kind_ok {
            let wanted = match expect {
                Expect::Type => "a type (data, enum or typealias)",
                Expect::Kind(k) => k.with_article(),
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
            self.report(d);
            return;
        }

        // Who may see it.
        let other_realm = !std::ptr::eq(target.realm, site.realm);
        let visibility = target.decl.visibility();
        if !target.builtin {
            if other_realm && visibility != Visibility::ExportRealm {
                let message = format!(
                    "`{r}` is not part of realm `{}`'s public API (it is {visibility})",
                    target.realm.name
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
                let help = format!(
                    "mark `{target_name}` as `{user_visibility}`{}, or lower the visibility of `{}`",
                    target
                        .decl
                        .pos()
                        .map_or_else(String::new, |p| format!(" (at {p})")),
                    site.decl_name()
                );
                let d = self.at(pos, site, message).with_len(len).with_help(help);
                self.report(d);
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

    fn check_type_param(&mut self, site: &Site, r: &Ref, pos: Option<&Pos>, len: usize) {
        let is_param = site.type_params.iter().any(|p| p.name == r.name);
        if !is_param {
            let mut d = self
                .at(pos, site, format!("unknown type `{}`", r.name))
                .with_len(len);
            d = if site.module.decl(&r.name).is_some() {
                d.with_help(format!(
                    "references are module-qualified: write `{}.{}`",
                    site.module.name, r.name
                ))
            } else if site.type_params.is_empty() {
                d.with_help("references are module-qualified: write `module.Name`")
            } else {
                let params: Vec<&str> = site.type_params.iter().map(|p| p.name.as_str()).collect();
                d.with_help(format!(
                    "the type parameters here are {}; other references are module-qualified (`module.Name`)",
                    params.join(", ")
                ))
            };
            self.report(d);
            return;
        }
        if !r.type_args.is_empty() {
            let d = self
                .at(
                    pos,
                    site,
                    format!("type parameter `{}` takes no type arguments", r.name),
                )
                .with_len(len);
            self.report(d);
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
        let (module, builtin) = match realm.modules.get(module_name) {
            Some(m) => (m, m.module.builtin),
            None if module_name == "builtin" => (&self.builtin, true),
            None => {
                let help =
                    suggest(module_name, realm.modules.keys().copied()).unwrap_or_else(|| {
                        format!("realm `{realm_name}` has no module `{module_name}`")
                    });
                let d = self
                    .at(
                        pos,
                        site,
                        format!("unknown module `{module_name}` in `{shown}`"),
                    )
                    .with_len(len)
                    .with_help(help);
                self.report(d);
                return None;
            }
        };
        let Some(decl) = module.decls.get(r.name.as_str()) else {
            let mut d = self
                .at(
                    pos,
                    site,
                    format!("module `{module_name}` has no declaration `{}`", r.name),
                )
                .with_len(len);
            if let Some(s) = suggest(&r.name, module.decls.keys().copied()) {
                d = d.with_help(s);
            }
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
                    "`{name}` takes no type arguments, but {} were given",
                    r.type_args.len()
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
            self.report(d);
        }
    }

    // ---- metadata -----------------------------------------------------------

    fn check_metadata(&mut self, site: &Site<'a>, host: Host, metadata: &'a [Metadata]) {
        for (i, m) in metadata.iter().enumerate() {
            let pos = m.pos.as_ref().or(site.decl.and_then(Decl::pos));
            let keyword = m.kind.keyword();
            let allowed = allowed_on(&m.kind);
            if !allowed.contains(&host) {
                let places: Vec<&str> = allowed.iter().map(|h| h.describe()).collect();
                let d = self
                    .at(
                        pos,
                        site,
                        format!("`+{keyword}` is not allowed on {}", host.describe()),
                    )
                    .with_len(keyword.len() + 1)
                    .with_help(format!("`+{keyword}` belongs on {}", places.join(" or ")));
                self.report(d);
                continue;
            }
            if single(&m.kind)
                && metadata[..i]
                    .iter()
                    .any(|earlier| discriminant(&earlier.kind) == discriminant(&m.kind))
            {
                let d = self
                    .at(pos, site, format!("`+{keyword}` appears more than once"))
                    .with_len(keyword.len() + 1)
                    .with_help("keep one");
                self.report(d);
            }
            match &m.kind {
                MetadataKind::Calls(refs) => self.check_refs(site, refs, DeclKind::Verb),
                MetadataKind::Publish(refs) => self.check_refs(site, refs, DeclKind::Topic),
                MetadataKind::DatabaseUses(refs) => self.check_refs(site, refs, DeclKind::Database),
                MetadataKind::ConfigUses(refs) => self.check_refs(site, refs, DeclKind::Config),
                MetadataKind::SecretsUses(refs) => self.check_refs(site, refs, DeclKind::Secret),
                MetadataKind::Subscribe { topic, .. } => {
                    self.check_ref(site, topic, Expect::Kind(DeclKind::Topic))
                }
                MetadataKind::Retry {
                    catch: Some(catch), ..
                } => self.check_ref(site, catch, Expect::Kind(DeclKind::Verb)),
                _ => {}
            }
        }
    }

    fn check_refs(&mut self, site: &Site<'a>, refs: &'a [Ref], kind: DeclKind) {
        for r in refs {
            self.check_ref(site, r, Expect::Kind(kind));
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
