//! The declarations of one FTL Go module, as FTL's Go extractor finds them
//! (`go-runtime/schema/`: metadata, verb, data, enum, typeenum,
//! valueenumvariant, typealias, config, secret, topic, transitive):
//!
//! - functions with a verb directive (`//ftl:verb`, `//ftl:ingress`,
//!   `//ftl:cron`, `//ftl:subscribe`, `//ftl:fixture`, ...) are verbs; their
//!   resource parameters become `+calls`, `+config`, `+secrets`,
//!   `+database uses`, `+publish`;
//! - types with `//ftl:data`, `//ftl:enum` or `//ftl:typealias`, every
//!   `type X = ftl.Config[T]` / `ftl.Secret[T]` / `ftl.TopicHandle[E, M]`,
//!   and every module type that an extracted declaration uses
//!   (transitively) become data, enums (value enums from typed constants,
//!   type enums from sealed interfaces), type aliases, configs, secrets
//!   and topics.
//!
//! Every problem is collected, not just the first. Pure: works on parsed
//! files through [`Scope`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::schema::{
    Config, Data, Database, DatabaseEngine, Decl, Diagnostic, Enum, EnumVariant, Field, Metadata,
    MetadataKind, Pos, Ref, Secret, Topic, Type, TypeAlias, TypeParameter, VariantValue, Verb,
    Visibility,
};

use super::directives::{self, Directive, DirectiveKind, DirectiveRef};
use super::naming::{lower_camel, upper_camel};
use super::scope::{Imported, Scope, assumed_package_name, guessed_package_name, native_name};
use super::syntax::{ConstSpec, Doc, Expr, FuncDecl, GoType, Span, TypeDecl};
use super::types::{Handle, Resource, Site, What, go_text};

/// The kind of declaration a node's directives make it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Verb,
    Data,
    Enum,
    TypeAlias,
    Topic,
}

/// What a declaration's directives say.
#[derive(Clone, Debug, Default)]
struct Meta {
    kind: Option<Kind>,
    visibility: Visibility,
    directives: Vec<Directive>,
    comments: Vec<String>,
    /// A directive did not parse: the declaration is skipped (its error is
    /// reported) rather than extracted half-understood.
    broken: bool,
}

/// The extraction of one module.
pub struct Extractor<'a> {
    pub(super) scope: &'a Scope<'a>,
    pub(super) module: &'a str,
    diagnostics: Vec<Diagnostic>,
    /// Databases by name: engine and where declared.
    pub(super) databases: BTreeMap<String, (DatabaseEngine, Option<Pos>)>,
    /// `//ftl:database` config types: (package dir, type) → database name.
    db_configs: HashMap<(&'a str, &'a str), String>,
    metas: HashMap<(&'a str, &'a str), Meta>,
    queue: VecDeque<(&'a str, &'a str)>,
    queued: HashSet<(&'a str, &'a str)>,
    decls: Vec<Decl>,
    /// Value-enum variant names, which FTL keeps unique in a module.
    variants: HashMap<String, (String, Pos)>,
    /// Verb functions by package directory.
    verbs: HashMap<&'a str, HashSet<&'a str>>,
    /// Verb parameters of other modules' types that are no verb clients.
    external_params: Vec<ExternalParam>,
    /// The package clause of external packages, by import path, where a
    /// `//ftl:typemap go` of the module names it (FTL checks explicit
    /// typemaps against the package's real name, which realm, reading no
    /// source of other packages, cannot see otherwise).
    package_names: HashMap<String, String>,
}

/// A verb parameter (after the request) whose type is another module's
/// and no verb client: a topic of that module, which FTL refuses to
/// publish to directly, or no resource at all. Which one is known only
/// once every module is extracted ([`super::finalize::across_modules`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalParam {
    /// The module whose type it is.
    pub module: String,
    /// The Go type's name (`PublicBroadcast`).
    pub type_name: String,
    /// The parameter's type as written (`ps.PublicBroadcast`).
    pub text: String,
    /// The verb, as the schema names it, and the parameter's index.
    pub verb: String,
    pub index: usize,
    pub span: Span,
    /// The first parameter after the context: the request, unless the
    /// type is a topic.
    pub request: bool,
}

/// What extracting a module found.
pub struct Declarations {
    pub decls: Vec<Decl>,
    /// The module's doc comment.
    pub comments: Vec<String>,
    pub errors: Vec<Diagnostic>,
    pub external_params: Vec<ExternalParam>,
}

/// A database found beside the code (`db/<engine>/<name>/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseDir {
    pub engine: DatabaseEngine,
    pub name: String,
}

/// The declarations of the module, its doc comment, and every problem.
pub fn declarations(scope: &Scope, databases: &[DatabaseDir]) -> Declarations {
    let mut x = Extractor {
        scope,
        module: scope.module,
        diagnostics: Vec::new(),
        databases: databases
            .iter()
            .map(|d| (d.name.clone(), (d.engine, None)))
            .collect(),
        db_configs: HashMap::new(),
        metas: HashMap::new(),
        queue: VecDeque::new(),
        queued: HashSet::new(),
        decls: Vec::new(),
        variants: HashMap::new(),
        verbs: HashMap::new(),
        external_params: Vec::new(),
        package_names: HashMap::new(),
    };
    x.read_type_directives();
    x.resources();
    x.annotated_types();
    x.functions();
    while let Some((dir, name)) = x.queue.pop_front() {
        x.extract_type(dir, name);
    }
    x.direct_calls();
    for (name, (engine, pos)) in std::mem::take(&mut x.databases) {
        x.decls.push(Decl::Database(Database {
            pos,
            comments: Vec::new(),
            engine,
            name,
            metadata: Vec::new(),
        }));
    }
    let comments = scope
        .files
        .iter()
        .filter(|f| f.package_dir.is_empty())
        .map(|f| &f.syntax.doc)
        // `// Code generated by FTL. DO NOT EDIT.` heads generated files.
        .find(|d| !d.is_empty() && !d[0].starts_with("Code generated "))
        .cloned()
        .unwrap_or_default();
    Declarations {
        decls: x.decls,
        comments,
        errors: x.diagnostics,
        external_params: x.external_params,
    }
}

fn at(span: &Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(message, Some(span.pos.clone())).with_len(span.len)
}

fn at_directive(d: &Directive, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(message, Some(d.pos.clone())).with_len(d.len)
}

fn is_exported(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

impl<'a> Extractor<'a> {
    pub(super) fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Asks for the type `name` of package `dir` to be extracted.
    pub(super) fn need(&mut self, dir: &'a str, name: &'a str) {
        if self.queued.insert((dir, name)) {
            self.queue.push_back((dir, name));
        }
    }

    /// The database a `ftl.DatabaseHandle[C]` alias names.
    pub(super) fn database_of(&self, dir: &'a str, decl: &'a TypeDecl) -> Option<String> {
        let GoType::Name { args, .. } = &decl.ty else {
            return None;
        };
        let Some(GoType::Name {
            package: None,
            name,
            ..
        }) = args.first()
        else {
            return None;
        };
        if let Some(db) = self.db_configs.get(&(dir, name.as_str())) {
            return Some(db.clone());
        }
        let stem = name.strip_suffix("Config")?;
        self.databases
            .keys()
            .find(|d| super::naming::title_first(d) == stem)
            .cloned()
    }

    /// Parses a declaration's directives and checks them together, as
    /// FTL's metadata extractor does.
    fn meta(&mut self, doc: &Doc, on_func: bool, node: &Span) -> Meta {
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
            self.diagnostics.extend(problems);
        }
        meta
    }

    fn read_type_directives(&mut self) {
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
                        self.db_configs
                            .insert((file.package_dir.as_str(), t.name.as_str()), name.clone());
                        self.databases
                            .entry(name.clone())
                            .or_insert((engine, Some(d.pos.clone())));
                    }
                }
                self.metas
                    .insert((file.package_dir.as_str(), t.name.as_str()), meta);
            }
        }
    }

    /// Configs, secrets and topics: every alias of an SDK handle.
    fn resources(&mut self) {
        let scope = self.scope;
        for (fi, file) in scope.files.iter().enumerate() {
            let dir = file.package_dir.as_str();
            for t in &file.syntax.types {
                let Some(handle) = self.handle_of(dir, t) else {
                    if self.metas.get(&(dir, t.name.as_str())).and_then(|m| m.kind)
                        == Some(Kind::Topic)
                    {
                        self.report(
                            at(&t.name_span, "`//ftl:topic` annotates a topic handle").with_help(
                                "declare the topic as `type Name = ftl.TopicHandle[Event, \
                                 ftl.SinglePartitionMap[Event]]`",
                            ),
                        );
                    }
                    continue;
                };
                if !t.alias {
                    self.report(
                        at(
                            &t.name_span,
                            format!("`{}` must be an alias of {}", t.name, handle.sdk_name()),
                        )
                        .with_help(format!(
                            "write `type {} = {}` (with `=`): FTL only sees aliases",
                            t.name,
                            go_text(&t.ty)
                        )),
                    );
                    continue;
                }
                let meta = self
                    .metas
                    .get(&(dir, t.name.as_str()))
                    .cloned()
                    .unwrap_or_default();
                if meta.broken {
                    continue;
                }
                let GoType::Name { args, .. } = &t.ty else {
                    continue;
                };
                let name = lower_camel(&t.name);
                let site = Site {
                    file: fi,
                    dir,
                    params: &[],
                    what: What::Handle {
                        handle: handle.sdk_name(),
                        name: &name,
                    },
                };
                match handle {
                    Handle::Config | Handle::Secret => {
                        let [arg] = args.as_slice() else {
                            self.report(
                                at(
                                    &t.name_span,
                                    format!("{} takes one type argument", handle.sdk_name()),
                                )
                                .with_help(format!("write `{}[T]`", handle.sdk_name())),
                            );
                            continue;
                        };
                        let Some(ty) = self.ty(arg, &site, 0) else {
                            continue;
                        };
                        let pos = Some(t.name_span.pos.clone());
                        self.decls.push(if handle == Handle::Config {
                            Decl::Config(Config {
                                pos,
                                comments: meta.comments,
                                name,
                                ty,
                            })
                        } else {
                            Decl::Secret(Secret {
                                pos,
                                comments: meta.comments,
                                name,
                                ty,
                            })
                        });
                    }
                    Handle::Topic => self.topic(t, &meta, args, &site, name.clone()),
                    Handle::Database => {}
                }
            }
        }
    }

    fn topic(
        &mut self,
        t: &'a TypeDecl,
        meta: &Meta,
        args: &'a [GoType],
        site: &Site,
        name: String,
    ) {
        let [event, mapper] = args else {
            self.report(
                at(&t.name_span, "unsupported topic type: ftl.TopicHandle takes two type arguments")
                    .with_help("write `ftl.TopicHandle[Event, ftl.SinglePartitionMap[Event]]` or name a partition mapper"),
            );
            return;
        };
        let Some(event) = self.ty(event, site, 0) else {
            return;
        };
        let mut metadata = Vec::new();
        let mut partitions = 1;
        for d in &meta.directives {
            if let DirectiveKind::Topic { partitions: n, .. } = d.kind {
                partitions = n;
                metadata.push(Metadata {
                    pos: Some(d.pos.clone()),
                    kind: MetadataKind::Partitions(n),
                });
            }
        }
        if let GoType::Name {
            package: Some(p),
            name: mapper_name,
            span,
            ..
        } = mapper
            && mapper_name == "SinglePartitionMap"
            && self.scope.import(site.file, p) == Some(Imported::Sdk)
            && partitions > 1
        {
            self.report(
                at(
                    span,
                    "single partition map can not have more than one partition",
                )
                .with_help("use a partition mapper type, or `partitions=1`"),
            );
        }
        self.decls.push(Decl::Topic(Topic {
            pos: Some(t.name_span.pos.clone()),
            comments: meta.comments.clone(),
            visibility: meta.visibility,
            name,
            event,
            metadata,
        }));
    }

    fn annotated_types(&mut self) {
        let scope = self.scope;
        for file in scope.files {
            for t in &file.syntax.types {
                let key = (file.package_dir.as_str(), t.name.as_str());
                if let Some(meta) = self.metas.get(&key)
                    && matches!(meta.kind, Some(Kind::Data | Kind::Enum | Kind::TypeAlias))
                {
                    self.need(key.0, key.1);
                }
            }
        }
    }

    fn functions(&mut self) {
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
            type_args: Vec::new(),
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
            let resource = self.resource(&p.ty, &site);
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
            Some(p) => self.ty(&p.ty, &site, 0),
            None => Some(Type::Unit),
        };
        let response_ty = match response {
            Some(p) => self.ty(
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
                    catch: catch.as_ref().map(|c| self.qualify(c)),
                },
                DirectiveKind::Subscribe {
                    topic,
                    from,
                    dead_letter,
                } => MetadataKind::Subscribe {
                    topic: self.qualify(topic),
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
            comments: meta.comments,
            visibility: meta.visibility,
            name,
            request: request_ty?,
            response: response_ty?,
            metadata,
        })
    }

    /// A type of this module that a declaration uses or that a directive
    /// names.
    fn extract_type(&mut self, dir: &'a str, name: &'a str) {
        let scope = self.scope;
        let Some(&(decl, file)) = scope.package(dir).and_then(|p| p.types.get(name)) else {
            return;
        };
        let meta = self.metas.get(&(dir, name)).cloned().unwrap_or_default();
        if meta.broken {
            return;
        }
        let kind = match meta.kind {
            Some(k) => k,
            None => match &decl.ty {
                GoType::Interface { .. } => Kind::Enum,
                GoType::Struct(..) => Kind::Data,
                GoType::Name {
                    package: Some(p), ..
                } if matches!(scope.import(file, p), Some(Imported::External { .. })) => {
                    Kind::TypeAlias
                }
                _ if self.has_constants(dir, name) => Kind::Enum,
                _ => Kind::TypeAlias,
            },
        };
        let decl_out = match kind {
            Kind::Data => self.data(file, dir, decl, &meta),
            Kind::Enum if matches!(decl.ty, GoType::Interface { .. }) => {
                self.type_enum(file, dir, decl, &meta)
            }
            Kind::Enum => self.value_enum(file, dir, decl, &meta),
            Kind::TypeAlias => self.type_alias(file, dir, decl, &meta),
            Kind::Verb | Kind::Topic => None,
        };
        if let Some(d) = decl_out {
            self.decls.push(d);
        }
    }

    fn data(&mut self, file: usize, dir: &'a str, decl: &'a TypeDecl, meta: &Meta) -> Option<Decl> {
        let GoType::Struct(fields, _) = &decl.ty else {
            self.report(
                at(
                    &decl.name_span,
                    format!(
                        "`//ftl:data` annotates a struct type, and `{}` is `{}`",
                        decl.name,
                        go_text(&decl.ty)
                    ),
                )
                .with_help("use `//ftl:typealias` or `//ftl:enum` for other types"),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for field in fields {
            if field.names.is_empty() {
                self.report(
                    at(
                        &field.span,
                        format!("anonymous fields are not supported (in `{}`)", decl.name),
                    )
                    .with_help("give the field a name"),
                );
                ok = false;
                continue;
            }
            for (fname, span) in &field.names {
                let ty = self.ty(
                    &field.ty,
                    &Site {
                        file,
                        dir,
                        params: &decl.type_params,
                        what: What::Field {
                            field: fname,
                            of: &decl.name,
                        },
                    },
                    0,
                );
                if !is_exported(fname) {
                    self.report(
                        at(span, format!("struct field `{fname}` must be exported by starting with an uppercase letter"))
                            .with_help(format!(
                                "rename it to `{}` (add `json:\"{fname}\"` to keep its JSON name)",
                                upper_camel(fname)
                            )),
                    );
                    ok = false;
                    continue;
                }
                let Some(ty) = ty else {
                    ok = false;
                    continue;
                };
                let mut metadata = Vec::new();
                if let Some(tag) = &field.tag
                    && let Some(json) = struct_tag(tag, "json")
                {
                    let alias = json.split(',').next().unwrap_or_default();
                    if !alias.is_empty() {
                        metadata.push(Metadata {
                            pos: Some(span.pos.clone()),
                            kind: MetadataKind::Alias {
                                kind: "json".to_string(),
                                alias: alias.to_string(),
                            },
                        });
                    }
                }
                out.push(Field {
                    pos: Some(span.pos.clone()),
                    comments: Vec::new(),
                    name: lower_camel(fname),
                    ty,
                    metadata,
                });
            }
        }
        if !ok {
            return None;
        }
        Some(Decl::Data(Data {
            pos: Some(decl.name_span.pos.clone()),
            comments: meta.comments.clone(),
            visibility: meta.visibility,
            name: upper_camel(&decl.name),
            type_params: decl
                .type_params
                .iter()
                .map(|p| TypeParameter {
                    pos: Some(decl.name_span.pos.clone()),
                    name: p.clone(),
                })
                .collect(),
            metadata: Vec::new(),
            fields: out,
        }))
    }

    fn has_constants(&self, dir: &str, name: &str) -> bool {
        self.scope.package(dir).is_some_and(|p| {
            p.const_specs.iter().any(|c| {
                matches!(c.ty, Some(GoType::Name { package: None, name: n, args, .. }) if n == name && args.is_empty())
            })
        })
    }

    /// The basic type under a named type: `string` for `type B A` and
    /// `type A string`.
    fn underlying_basic(&self, dir: &str, t: &GoType) -> Option<String> {
        let mut t = t;
        for _ in 0..32 {
            let GoType::Name {
                package: None,
                name,
                args,
                ..
            } = t
            else {
                return None;
            };
            if !args.is_empty() {
                return None;
            }
            match self
                .scope
                .package(dir)
                .and_then(|p| p.types.get(name.as_str()))
            {
                Some((decl, _)) => t = &decl.ty,
                None => return Some(name.clone()),
            }
        }
        None
    }

    fn value_enum(
        &mut self,
        file: usize,
        dir: &'a str,
        decl: &'a TypeDecl,
        meta: &Meta,
    ) -> Option<Decl> {
        let enum_name = upper_camel(&decl.name);
        let basic = self.underlying_basic(dir, &decl.ty);
        // FTL writes `enum Level: kinds.Grade` for `type Level Grade`;
        // realm's schema requires `Int` or `String` there, which is what
        // the values are.
        let site = Site {
            file,
            dir,
            params: &decl.type_params,
            what: What::Enum(&enum_name),
        };
        // FTL extracts the named type under the enum (`PaymentState` of
        // `type PayinState PaymentState`) as the enum's type; realm's enum
        // is `: String`, but the named type is extracted all the same.
        if matches!(basic.as_deref(), Some("string" | "int"))
            && let GoType::Name {
                package: None,
                name,
                ..
            } = &decl.ty
            && name != "string"
            && name != "int"
        {
            let _ = self.ty(&decl.ty, &site, 0);
        }
        let ty = match basic.as_deref() {
            Some("string") => Type::String,
            Some("int") => Type::Int,
            _ => self.ty(&decl.ty, &site, 0)?,
        };
        let scope = self.scope;
        let mut variants = Vec::new();
        let mut declared = 0;
        let pkg = scope.package(dir)?;
        for c in &pkg.const_specs {
            let Some(GoType::Name {
                package: None,
                name: tname,
                args,
                ..
            }) = c.ty
            else {
                continue;
            };
            if tname != &decl.name || !args.is_empty() {
                continue;
            }
            // FTL reads the first name of a spec only (`const Red, Green
            // Color = ...` gives `Red`).
            for (k, (cname, span)) in c.spec.names.iter().enumerate().take(1) {
                if cname == "_" {
                    continue;
                }
                let Some(expr) = c.values.get(k) else {
                    continue;
                };
                declared += 1;
                let value = eval(self, dir, expr, c.spec.iota, 0);
                let value = match (basic.as_deref(), value) {
                    (Some("string"), Some(Const::String(s))) => VariantValue::String(s),
                    (Some("int"), Some(Const::Int(n))) if i64::try_from(n).is_ok() => {
                        VariantValue::Int(n as i64)
                    }
                    (Some("string" | "int"), _) => {
                        self.report(
                            at(
                                span,
                                format!("cannot read the value of enum constant `{cname}`"),
                            )
                            .with_help(
                                "write the value as a literal, `iota` or an expression of them",
                            ),
                        );
                        continue;
                    }
                    _ => {
                        self.report(
                            at(
                                &decl.name_span,
                                format!("enum `{}` must be a string or int type", decl.name),
                            )
                            .with_help("FTL value enums are `type X string` or `type X int`"),
                        );
                        return None;
                    }
                };
                if !is_exported(cname) {
                    self.report(
                        at(
                            span,
                            "Enum value must be exported by making the first letter capitalized",
                        )
                        .with_help(format!("rename it to `{}`", upper_camel(cname))),
                    );
                    continue;
                }
                let variant_name = upper_camel(cname);
                if let Some((other, pos)) = self.variants.get(&variant_name) {
                    self.report(
                        at(span, format!("enum variant `{variant_name}` conflicts with existing enum variant of `{other}` at {pos}"))
                            .with_help("variant names are unique in a module: rename one"),
                    );
                    continue;
                }
                self.variants
                    .insert(variant_name.clone(), (enum_name.clone(), span.pos.clone()));
                variants.push(EnumVariant {
                    pos: Some(span.pos.clone()),
                    comments: c.spec.doc.text.clone(),
                    name: variant_name,
                    value,
                });
            }
        }
        if declared == 0 {
            self.report(
                at(
                    &decl.name_span,
                    format!("enum `{}` has no values", decl.name),
                )
                .with_help(format!(
                    "declare its values as constants: `const ( A {0} = ...; B {0} = ... )`",
                    decl.name
                )),
            );
            return None;
        }
        if variants.is_empty() {
            return None;
        }
        variants.sort_by(|a, b| a.name.cmp(&b.name));
        Some(Decl::Enum(Enum {
            pos: Some(decl.name_span.pos.clone()),
            comments: meta.comments.clone(),
            visibility: meta.visibility,
            name: enum_name,
            ty: Some(ty),
            variants,
        }))
    }

    fn type_enum(
        &mut self,
        _file: usize,
        dir: &'a str,
        decl: &'a TypeDecl,
        meta: &Meta,
    ) -> Option<Decl> {
        let GoType::Interface { methods, .. } = &decl.ty else {
            return None;
        };
        if methods.is_empty() {
            self.report(
                at(
                    &decl.name_span,
                    format!(
                        "enum discriminator `{}` must define at least one method",
                        decl.name
                    ),
                )
                .with_help(format!(
                    "add an unexported marker method: `interface{{ is{}() }}`",
                    decl.name
                )),
            );
            return None;
        }
        if methods.iter().any(|m| is_exported(m)) {
            self.report(
                at(
                    &decl.name_span,
                    format!(
                        "enum discriminator `{}` cannot contain exported methods",
                        decl.name
                    ),
                )
                .with_help("use unexported marker methods only"),
            );
            return None;
        }
        let scope = self.scope;
        let pkg = scope.package(dir)?;
        let mut candidates: Vec<(&'a str, &'a TypeDecl, usize)> = pkg
            .types
            .iter()
            .filter(|(n, (t, _))| {
                !matches!(t.ty, GoType::Interface { .. })
                    && pkg
                        .methods
                        .get(*n)
                        .is_some_and(|ms| methods.iter().all(|m| ms.contains(&m.as_str())))
            })
            .map(|(n, (t, f))| (*n, *t, *f))
            .collect();
        candidates.sort_by_key(|(n, _, _)| upper_camel(n));
        let mut variants = Vec::new();
        let enum_name = upper_camel(&decl.name);
        for (vname, vdecl, vfile) in candidates {
            if self.has_constants(dir, vname) {
                self.report(
                    at(&vdecl.name_span, format!("`{vname}` is a value enum and cannot be tagged as a variant of type enum `{}` directly", decl.name))
                        .with_help(format!("declare a wrapper type, `type {vname}Variant {vname}`, as the variant")),
                );
                continue;
            }
            let value = if matches!(vdecl.ty, GoType::Struct(..)) {
                self.need(dir, vname);
                Some(Type::Ref(Ref {
                    pos: Some(vdecl.name_span.pos.clone()),
                    realm: None,
                    module: Some(self.module.to_string()),
                    name: upper_camel(vname),
                    type_args: Vec::new(),
                }))
            } else {
                self.ty(
                    &vdecl.ty,
                    &Site {
                        file: vfile,
                        dir,
                        params: &vdecl.type_params,
                        what: What::Variant {
                            variant: vname,
                            of: &enum_name,
                        },
                    },
                    0,
                )
            };
            let Some(value) = value else {
                continue;
            };
            let comments = self
                .metas
                .get(&(dir, vname))
                .map(|m| m.comments.clone())
                .unwrap_or_default();
            variants.push(EnumVariant {
                pos: Some(vdecl.name_span.pos.clone()),
                comments,
                name: upper_camel(vname),
                value: VariantValue::Type(value),
            });
        }
        Some(Decl::Enum(Enum {
            pos: Some(decl.name_span.pos.clone()),
            comments: meta.comments.clone(),
            visibility: meta.visibility,
            name: enum_name,
            ty: None,
            variants,
        }))
    }

    fn type_alias(
        &mut self,
        file: usize,
        dir: &'a str,
        decl: &'a TypeDecl,
        meta: &Meta,
    ) -> Option<Decl> {
        if !decl.type_params.is_empty() {
            self.report(
                at(
                    &decl.name_span,
                    format!("generic type `{}` cannot be a type alias", decl.name),
                )
                .with_help("FTL type aliases have no type parameters; use a struct"),
            );
            return None;
        }
        let mut metadata = Vec::new();
        let mut go_maps = Vec::new();
        for d in &meta.directives {
            if let DirectiveKind::TypeMap {
                runtime,
                native_name,
            } = &d.kind
            {
                if runtime == "go" {
                    go_maps.push((d, native_name.clone()));
                }
                metadata.push(Metadata {
                    pos: Some(d.pos.clone()),
                    kind: MetadataKind::TypeMap {
                        runtime: runtime.clone(),
                        native_name: native_name.clone(),
                    },
                });
            }
        }
        let external = match &decl.ty {
            GoType::Name {
                package: Some(p),
                name,
                ..
            } => match self.scope.import(file, p) {
                Some(Imported::External { path }) => {
                    // FTL's name, with the package clause another typemap
                    // of the module names, or guessed from the path; a
                    // typemap may name it by any package name the package
                    // plausibly declares.
                    let package = self
                        .package_names
                        .get(path)
                        .cloned()
                        .unwrap_or_else(|| guessed_package_name(path));
                    let native = native_name(path, &package, name);
                    let last = path.rsplit('/').next().unwrap_or(path);
                    let plausible: Vec<String> = [p.as_str(), last, &assumed_package_name(path)]
                        .iter()
                        .map(|package| native_name(path, package, name))
                        .chain([native.clone()])
                        .collect();
                    Some((native, plausible))
                }
                _ => None,
            },
            _ => None,
        };
        let ty = if let Some((native, plausible)) = external {
            if go_maps.len() > 1 {
                self.report(
                    at_directive(
                        go_maps[1].0,
                        format!("multiple Go type mappings found for `{}`", decl.name),
                    )
                    .with_help("keep one `//ftl:typemap go`"),
                );
                return None;
            }
            if let Some((d, declared)) = go_maps.first() {
                if !plausible.contains(declared) {
                    self.report(
                        at_directive(d, format!("declared type {declared} in typemap does not match native type {native}"))
                            .with_help(format!("write `//ftl:typemap go \"{native}\"`")),
                    );
                    return None;
                }
            } else {
                metadata.push(Metadata {
                    pos: Some(decl.name_span.pos.clone()),
                    kind: MetadataKind::TypeMap {
                        runtime: "go".to_string(),
                        native_name: native,
                    },
                });
            }
            Type::Any
        } else {
            self.ty(
                &decl.ty,
                &Site {
                    file,
                    dir,
                    params: &[],
                    what: What::Alias(&decl.name),
                },
                0,
            )?
        };
        Some(Decl::TypeAlias(TypeAlias {
            pos: Some(decl.name_span.pos.clone()),
            comments: meta.comments.clone(),
            visibility: meta.visibility,
            name: upper_camel(&decl.name),
            ty,
            metadata,
        }))
    }

    /// FTL refuses `Echo(ctx, req)` and `sub.Echo(ctx, req)` when the
    /// function called is a verb of this module (of the file's package, or
    /// of the package of this module that `sub` imports): calls go through
    /// the verb client. Calls of names a local declaration shadows were
    /// left out when the file was read.
    fn direct_calls(&mut self) {
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
        self.diagnostics.extend(found);
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

/// A constant's value.
#[derive(Clone, Debug, PartialEq)]
enum Const {
    Int(i128),
    String(String),
}

/// Evaluates a constant expression of package `dir` (bounded: names are
/// followed at most 32 deep, expressions are already bounded in depth).
fn eval(x: &Extractor, dir: &str, e: &Expr, iota: i64, depth: usize) -> Option<Const> {
    if depth > 32 {
        return None;
    }
    Some(match e {
        Expr::Int(n) => Const::Int(*n),
        Expr::String(s) => Const::String(s.clone()),
        Expr::Iota => Const::Int(i128::from(iota)),
        Expr::Name(n) => {
            let (spec, k): (&ConstSpec, usize) = *x.scope.package(dir)?.consts.get(n.as_str())?;
            let pkg = x.scope.package(dir)?;
            let effective = pkg
                .const_specs
                .iter()
                .find(|c| std::ptr::eq(c.spec, spec))?;
            return eval(x, dir, effective.values.get(k)?, spec.iota, depth + 1);
        }
        Expr::Unary(op, inner) => match (op, eval(x, dir, inner, iota, depth + 1)?) {
            ('-', Const::Int(n)) => Const::Int(n.checked_neg()?),
            ('^', Const::Int(n)) => Const::Int(!n),
            _ => return None,
        },
        Expr::Binary(op, l, r) => {
            let l = eval(x, dir, l, iota, depth + 1)?;
            let r = eval(x, dir, r, iota, depth + 1)?;
            match (l, r) {
                (Const::String(a), Const::String(b)) if op == "+" => Const::String(a + &b),
                (Const::Int(a), Const::Int(b)) => Const::Int(match op.as_str() {
                    "+" => a.checked_add(b)?,
                    "-" => a.checked_sub(b)?,
                    "*" => a.checked_mul(b)?,
                    "/" => a.checked_div(b)?,
                    "%" => a.checked_rem(b)?,
                    "<<" => a.checked_shl(u32::try_from(b).ok()?)?,
                    ">>" => a.checked_shr(u32::try_from(b).ok()?)?,
                    "&" => a & b,
                    "|" => a | b,
                    "^" => a ^ b,
                    "&^" => a & !b,
                    _ => return None,
                }),
                _ => return None,
            }
        }
        Expr::Other => return None,
    })
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

/// `reflect.StructTag.Get`: the value of `key` in a Go struct tag such as
/// `json:"id,omitempty" db:"id"`.
pub fn struct_tag(tag: &str, key: &str) -> Option<String> {
    let mut rest = tag;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return None;
        }
        let name_len = rest
            .bytes()
            .take_while(|&b| b > b' ' && b != b':' && b != b'"' && b != 0x7f)
            .count();
        if name_len == 0 || !rest[name_len..].starts_with(":\"") {
            return None;
        }
        let name = &rest[..name_len];
        rest = &rest[name_len + 1..];
        // The quoted value, up to the first unescaped quote.
        let bytes = rest.as_bytes();
        let mut i = 1;
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let quoted = &rest[..=i];
        rest = &rest[i + 1..];
        if name == key {
            return super::syntax::unquote(quoted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{struct_tag, typemap_package};

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

    #[test]
    fn struct_tags_like_reflect() {
        assert_eq!(
            struct_tag(r#"json:"id,omitempty" db:"x""#, "json").as_deref(),
            Some("id,omitempty")
        );
        assert_eq!(
            struct_tag(r#"db:"x"  json:"name""#, "json").as_deref(),
            Some("name")
        );
        assert_eq!(struct_tag(r#"db:"x""#, "json"), None);
        assert_eq!(
            struct_tag(r#"json:"a\"b""#, "json").as_deref(),
            Some("a\"b")
        );
        assert_eq!(struct_tag("json:", "json"), None);
    }
}
