//! Go types → schema types, as FTL's Go extractor maps them
//! (`go-runtime/schema/common/common.go`, `ExtractType`):
//!
//! | Go | schema |
//! |---|---|
//! | `int`, `float64`, `string`, `bool` | `Int`, `Float`, `String`, `Bool` |
//! | `[]byte` | `Bytes` |
//! | `time.Time` | `Time` |
//! | `any`, `interface{}` | `Any` |
//! | `ftl.Unit` | `Unit` |
//! | `ftl.Option[T]` | `T?` |
//! | `[]T`, `map[K]V` | `[T]`, `{K: V}` |
//! | a type of this module (any package) | `module.Name` (extracted too) |
//! | `other.T` from `ftl/other` | `other.T` |
//! | a type parameter `T` | `T` |
//!
//! Everything else is an error FTL also refuses (`int64`, `*T`, arrays,
//! channels, external packages without a `//ftl:typealias`), each with what
//! to write instead. Also here: which verb parameters are resources (verb
//! clients, config, secrets, topics, databases). Recursion is bounded by
//! [`MAX_TYPE_DEPTH`].
//!
//! [`Types`] is what the mapping shares with the extraction of the
//! declarations (`super::extract`, which uses it and which it does not
//! know): the problems found, in the order found, and the module types a
//! mapped type names, to be extracted in turn.

use crate::schema::model::ThinVec;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::schema::{DatabaseEngine, Diagnostic, MAX_TYPE_DEPTH, Pos, Ref, Type};

use super::naming::{lower_camel, title_first, upper_camel};
use super::scope::{Imported, Scope};
use super::syntax::{GoType, Span, TypeDecl};

/// The type mapping of one module: its Go types as schema types, and what
/// mapping them finds.
pub struct Types<'a> {
    pub(super) scope: &'a Scope<'a>,
    pub(super) module: &'a str,
    /// Every problem found, the extraction's too (one list keeps them in
    /// the order found).
    pub(super) diagnostics: Vec<Diagnostic>,
    /// Databases by name: engine and where declared.
    pub(super) databases: BTreeMap<String, (DatabaseEngine, Option<Pos>)>,
    /// `//ftl:database` config types: (package dir, type) → database name.
    pub(super) db_configs: HashMap<(&'a str, &'a str), String>,
    /// Module types to extract, (package dir, name), in the order asked.
    queue: VecDeque<(&'a str, &'a str)>,
    queued: HashSet<(&'a str, &'a str)>,
}

/// Where a type is written: the file and package it is resolved in, the
/// type parameters in scope, and what it is the type of (for messages).
pub struct Site<'s> {
    pub file: usize,
    pub dir: &'s str,
    pub params: &'s [String],
    pub what: What<'s>,
}

/// What a type is the type of, for messages; formatted only when there is
/// an error to report.
#[derive(Clone, Copy, Debug)]
pub enum What<'s> {
    Field { field: &'s str, of: &'s str },
    Request(&'s str),
    Response(&'s str),
    Enum(&'s str),
    Variant { variant: &'s str, of: &'s str },
    Alias(&'s str),
    Handle { handle: &'static str, name: &'s str },
}

impl std::fmt::Display for What<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Field { field, of } => write!(f, "field `{field}` of `{of}`"),
            What::Request(verb) => write!(f, "the request of verb `{verb}`"),
            What::Response(verb) => write!(f, "the response of verb `{verb}`"),
            What::Enum(name) => write!(f, "enum `{name}`"),
            What::Variant { variant, of } => write!(f, "variant `{variant}` of enum `{of}`"),
            What::Alias(name) => write!(f, "type alias `{name}`"),
            What::Handle { handle, name } => write!(f, "{handle} `{name}`"),
        }
    }
}

/// A resource a verb takes as a parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    Verb(Ref),
    Config(Ref),
    Secret(Ref),
    Topic(Ref),
    Database(Ref),
}

/// FTL SDK generic handles that are declared as aliases and passed to
/// verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handle {
    Config,
    Secret,
    Topic,
    Database,
}

impl Handle {
    pub fn from_sdk_name(name: &str) -> Option<Handle> {
        Some(match name {
            "Config" => Handle::Config,
            "Secret" => Handle::Secret,
            "TopicHandle" => Handle::Topic,
            "DatabaseHandle" => Handle::Database,
            _ => return None,
        })
    }

    pub fn sdk_name(self) -> &'static str {
        match self {
            Handle::Config => "ftl.Config",
            Handle::Secret => "ftl.Secret",
            Handle::Topic => "ftl.TopicHandle",
            Handle::Database => "ftl.DatabaseHandle",
        }
    }
}

/// The verb a client type calls, as FTL names it: `EchoClient` → `echo`.
pub fn client_verb(type_name: &str) -> Option<String> {
    lower_camel(type_name)
        .strip_suffix("Client")
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Go source text for a type, for messages.
pub fn go_text(t: &GoType) -> String {
    match t {
        GoType::Name {
            package,
            name,
            args,
            ..
        } => {
            let mut s = match package {
                Some(p) => format!("{p}.{name}"),
                None => name.clone(),
            };
            if !args.is_empty() {
                s.push('[');
                s.push_str(&args.iter().map(go_text).collect::<Vec<_>>().join(", "));
                s.push(']');
            }
            s
        }
        GoType::Pointer(t, _) => format!("*{}", go_text(t)),
        GoType::Slice(t, _) => format!("[]{}", go_text(t)),
        GoType::Array(t, _) => format!("[...]{}", go_text(t)),
        GoType::Map(k, v, _) => format!("map[{}]{}", go_text(k), go_text(v)),
        GoType::Struct(..) => "struct{...}".to_string(),
        GoType::Interface { .. } => "interface{...}".to_string(),
        GoType::Func(_) => "func(...)".to_string(),
        GoType::Other(kind, _) => (*kind).to_string(),
        GoType::TooDeep(_) => "...".to_string(),
    }
}

fn at(span: &Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(message, Some(span.pos.clone())).with_len(span.len)
}

/// Help for Go's basic types that FTL has no schema type for.
fn basic_help(name: &str) -> Option<&'static str> {
    Some(match name {
        "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32"
        | "uint64" | "uintptr" | "rune" | "byte" => {
            "FTL's `Int` is Go's `int` (64-bit); FTL maps no other integer type: use `int`"
        }
        "float32" => "FTL's `Float` is Go's `float64`: use `float64`",
        "complex64" | "complex128" => "FTL has no complex numbers",
        "error" => "an `error` is not data: return it as the verb's last result",
        _ => return None,
    })
}

/// A named Go type as written: `Name[Args]`, from a package or not.
#[derive(Clone, Copy)]
struct Named<'a> {
    name: &'a str,
    args: &'a [GoType],
    span: &'a Span,
}

impl<'a> Types<'a> {
    /// The type mapping of the module of `scope`, with the databases found
    /// beside its code.
    pub fn new(
        scope: &'a Scope<'a>,
        databases: BTreeMap<String, (DatabaseEngine, Option<Pos>)>,
    ) -> Types<'a> {
        Types {
            scope,
            module: scope.module,
            diagnostics: Vec::new(),
            databases,
            db_configs: HashMap::new(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
        }
    }

    pub fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Asks for the type `name` of package `dir` to be extracted.
    pub fn need(&mut self, dir: &'a str, name: &'a str) {
        if self.queued.insert((dir, name)) {
            self.queue.push_back((dir, name));
        }
    }

    /// The next module type to extract, first asked first.
    pub fn next_needed(&mut self) -> Option<(&'a str, &'a str)> {
        self.queue.pop_front()
    }

    /// The database a `ftl.DatabaseHandle[C]` alias names.
    fn database_of(&self, dir: &'a str, decl: &'a TypeDecl) -> Option<String> {
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
            .find(|d| title_first(d) == stem)
            .cloned()
    }

    /// The schema type of `t`, or `None` after reporting why there is none.
    pub fn ty(&mut self, t: &'a GoType, site: &Site, depth: usize) -> Option<Type> {
        if depth >= MAX_TYPE_DEPTH {
            let span = t.span();
            self.report(
                at(
                    span,
                    format!("types nest more than {MAX_TYPE_DEPTH} deep here"),
                )
                .with_help("name an inner type with its own `type` declaration"),
            );
            return None;
        }
        match t {
            GoType::Name {
                package,
                name,
                args,
                span,
            } => self.named(package.as_deref(), Named { name, args, span }, site, depth),
            GoType::Slice(elem, _) => {
                if let GoType::Name {
                    package: None,
                    name,
                    ..
                } = &**elem
                    && (name == "byte" || name == "uint8")
                    && !self.declares(site.dir, name)
                {
                    return Some(Type::Bytes);
                }
                Some(Type::List(Box::new(self.ty(elem, site, depth + 1)?)))
            }
            GoType::Map(k, v, _) => {
                let k = self.ty(k, site, depth + 1);
                let v = self.ty(v, site, depth + 1);
                Some(Type::Map(Box::new(k?), Box::new(v?)))
            }
            GoType::Interface {
                methods, embeds, ..
            } if methods.is_empty() && *embeds == 0 => Some(Type::Any),
            _ => {
                let span = t.span();
                let (what, help) = match t {
                    GoType::Pointer(inner, _) => (
                        "pointer types are not supported by FTL".to_string(),
                        format!("use `ftl.Option[{}]` for an optional value", go_text(inner)),
                    ),
                    GoType::Array(..) => (
                        "arrays are not supported by FTL".to_string(),
                        "use a slice (`[]T`)".to_string(),
                    ),
                    GoType::Struct(..) => (
                        "anonymous structs are not supported by FTL".to_string(),
                        "declare a named struct type and use its name".to_string(),
                    ),
                    GoType::Interface { .. } => (
                        "interface literals are not supported by FTL".to_string(),
                        "use `any`, or declare a named interface with an `//ftl:enum` directive"
                            .to_string(),
                    ),
                    GoType::Func(_) => (
                        "function types are not data".to_string(),
                        "verb clients are verb parameters, not fields or results".to_string(),
                    ),
                    GoType::TooDeep(_) => (
                        format!("types nest more than {MAX_TYPE_DEPTH} deep here"),
                        "name an inner type with its own `type` declaration".to_string(),
                    ),
                    _ => (
                        format!("{} is not supported by FTL", go_text(t)),
                        "use a type FTL maps: int, float64, string, bool, []byte, time.Time, \
                         slices, maps, ftl.Option[T] or a struct"
                            .to_string(),
                    ),
                };
                self.report(
                    at(
                        span,
                        format!("unsupported type `{}` in {}: {what}", go_text(t), site.what),
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    /// Whether package `dir` declares a type named `name` (which then
    /// shadows a predeclared one).
    fn declares(&self, dir: &str, name: &str) -> bool {
        self.scope
            .package(dir)
            .is_some_and(|p| p.types.contains_key(name))
    }

    fn args(&mut self, args: &'a [GoType], site: &Site, depth: usize) -> Option<Vec<Type>> {
        let mut out = Vec::with_capacity(args.len());
        let mut ok = true;
        for a in args {
            match self.ty(a, site, depth + 1) {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn named(
        &mut self,
        package: Option<&'a str>,
        named: Named<'a>,
        site: &Site,
        depth: usize,
    ) -> Option<Type> {
        let Named { name, args, span } = named;
        let Some(package) = package else {
            if site.params.iter().any(|p| p == name) && args.is_empty() {
                return Some(Type::from(Ref {
                    pos: Some(span.pos.clone()),
                    realm: None,
                    module: None,
                    name: name.to_string(),
                    type_args: ThinVec::new(),
                }));
            }
            if self.declares(site.dir, name) {
                return self.local(site.dir, named, site, depth);
            }
            return match name {
                "string" => Some(Type::String),
                "int" => Some(Type::Int),
                "bool" => Some(Type::Bool),
                "float64" => Some(Type::Float),
                "any" => Some(Type::Any),
                _ => {
                    let d = at(span, format!("unsupported type `{name}` in {}", site.what));
                    let d = match basic_help(name) {
                        Some(help) => d.with_help(help),
                        None => d.with_label("not declared in this package").with_help(
                            "declare the type in this module, or import it from another FTL \
                             module (`ftl/<module>`)",
                        ),
                    };
                    self.report(d);
                    None
                }
            };
        };
        let Some(imported) = self.scope.import(site.file, package) else {
            self.report(
                at(
                    span,
                    format!("unknown package `{package}` in {}", site.what),
                )
                .with_help(format!("import the package `{package}` refers to")),
            );
            return None;
        };
        match imported {
            Imported::Time if name == "Time" => Some(Type::Time),
            Imported::Sdk if name == "Unit" => Some(Type::Unit),
            Imported::Sdk if name == "Option" => {
                let [inner] = args else {
                    self.report(
                        at(span, "`ftl.Option` takes one type argument")
                            .with_help("write `ftl.Option[T]`"),
                    );
                    return None;
                };
                let inner = self.ty(inner, site, depth + 1)?;
                if matches!(inner, Type::Optional(_)) {
                    // Schema text cannot write `T??` (FTL's grammar has one
                    // `?`), so neither can a Go module.
                    self.report(
                        at(
                            span,
                            format!("`ftl.Option` of an optional type in {}", site.what),
                        )
                        .with_help("a value is optional once: write `ftl.Option[T]`"),
                    );
                    return None;
                }
                Some(Type::Optional(Box::new(inner)))
            }
            Imported::Sdk => {
                let help = match Handle::from_sdk_name(name) {
                    Some(_) => format!(
                        "`ftl.{name}` is a resource: declare `type MyName = ftl.{name}[...]` \
                         and take it as a verb parameter"
                    ),
                    None => {
                        "FTL's SDK types usable as data are ftl.Option[T] and ftl.Unit".to_string()
                    }
                };
                self.report(
                    at(
                        span,
                        format!("unsupported type `ftl.{name}` in {}", site.what),
                    )
                    .with_help(help),
                );
                None
            }
            Imported::ThisModule(dir) => self.local(dir, named, site, depth),
            Imported::Module(module) => {
                let type_args = self.args(args, site, depth)?;
                Some(Type::from(Ref {
                    pos: Some(span.pos.clone()),
                    realm: None,
                    module: Some(module),
                    name: name.to_string(),
                    type_args: type_args.into(),
                }))
            }
            Imported::Time | Imported::Context | Imported::External { .. } => {
                let path = match imported {
                    Imported::External { path } => path,
                    Imported::Context => "context",
                    _ => "time",
                };
                self.report(
                    at(
                        span,
                        format!("unsupported external type `{path}.{name}` in {}", site.what),
                    )
                    .with_help(format!(
                        "FTL maps only its own types; to pass `{path}.{name}` as `Any`, declare \
                         `//ftl:typealias` `type My{name} {package}.{name}` and use that \
                         (see block.github.io/ftl/docs/reference/externaltypes/)"
                    )),
                );
                None
            }
        }
    }

    /// A type declared in package `dir` of this module.
    fn local(&mut self, dir: &str, named: Named<'a>, site: &Site, depth: usize) -> Option<Type> {
        let Named { name, args, span } = named;
        let scope = self.scope;
        let found = scope
            .packages
            .get_key_value(dir)
            .and_then(|(dir, p)| Some((*dir, p.types.get(name)?.0)));
        let Some((dir, decl)) = found else {
            self.report(
                at(span, format!("unknown type `{name}` in {}", site.what))
                    .with_label("not declared in this module"),
            );
            return None;
        };
        if let Some(handle) = self.handle_of(dir, decl) {
            self.report(
                at(
                    span,
                    format!("`{name}` is a {} handle, not data", handle.sdk_name()),
                )
                .with_help("take resources as verb parameters; data fields cannot hold them"),
            );
            return None;
        }
        // Go aliases of basic types are the basic type (go/types sees
        // through them, and so does FTL).
        if decl.alias
            && let GoType::Name {
                package: None,
                name: basic,
                args: basic_args,
                ..
            } = &decl.ty
            && basic_args.is_empty()
            && matches!(
                basic.as_str(),
                "string" | "int" | "bool" | "float64" | "any"
            )
            && !self.declares(dir, basic)
        {
            return self.ty(&decl.ty, site, depth);
        }
        let type_args = self.args(args, site, depth)?;
        self.need(dir, name);
        Some(Type::from(Ref {
            pos: Some(span.pos.clone()),
            realm: None,
            module: Some(self.module.to_string()),
            name: upper_camel(name),
            type_args: type_args.into(),
        }))
    }

    /// Which SDK handle a type declaration aliases, if any
    /// (`type Key = ftl.Config[string]`).
    pub fn handle_of(&self, dir: &str, decl: &'a TypeDecl) -> Option<Handle> {
        let GoType::Name {
            package: Some(p),
            name,
            ..
        } = &decl.ty
        else {
            return None;
        };
        let file = self
            .scope
            .package(dir)?
            .types
            .get(decl.name.as_str())
            .map(|(_, f)| *f)?;
        (self.scope.import(file, p)? == Imported::Sdk)
            .then(|| Handle::from_sdk_name(name))
            .flatten()
    }

    /// What a verb parameter of type `t` is, when it is a resource: a verb
    /// client, a config, a secret, a topic or a database handle. `None`
    /// for data (the request) and for what cannot be one.
    pub fn resource(&mut self, t: &'a GoType, site: &Site) -> Option<Resource> {
        let GoType::Name {
            package,
            name,
            span,
            ..
        } = t
        else {
            return None;
        };
        let (dir, name) = match package {
            None => (site.dir, name.as_str()),
            Some(p) => match self.scope.import(site.file, p)? {
                Imported::ThisModule(dir) => (dir, name.as_str()),
                Imported::Module(module) => {
                    let verb = client_verb(name)?;
                    return Some(Resource::Verb(self.ref_to(&module, &verb, span)));
                }
                _ => return None,
            },
        };
        let module = self.module.to_string();
        let Some(&(decl, _)) = self.scope.package(dir).and_then(|p| p.types.get(name)) else {
            // Not declared: FTL generates `XClient` and `DbHandle` into
            // types.ftl.go, which may not be committed.
            if let Some(verb) = name.strip_suffix("Client")
                && self.scope.package(dir).is_some_and(|p| {
                    p.funcs
                        .get(verb)
                        .is_some_and(|(f, _)| !f.doc.directives.is_empty())
                })
            {
                return Some(Resource::Verb(self.ref_to(
                    &module,
                    &lower_camel(verb),
                    span,
                )));
            }
            if let Some(db) = name.strip_suffix("Handle")
                && let Some(db) = self
                    .databases
                    .keys()
                    .find(|d| title_first(d) == db)
                    .cloned()
            {
                return Some(Resource::Database(self.ref_to(&module, &db, span)));
            }
            return None;
        };
        let ref_name = lower_camel(name);
        match self.handle_of(dir, decl) {
            Some(Handle::Config) => Some(Resource::Config(self.ref_to(&module, &ref_name, span))),
            Some(Handle::Secret) => Some(Resource::Secret(self.ref_to(&module, &ref_name, span))),
            Some(Handle::Topic) => Some(Resource::Topic(self.ref_to(&module, &ref_name, span))),
            Some(Handle::Database) => {
                let db = self.database_of(dir, decl);
                match db {
                    Some(db) => Some(Resource::Database(self.ref_to(&module, &db, span))),
                    None => {
                        self.report(
                            at(span, format!("no database name found for `{name}`")).with_help(
                                "annotate the handle's config type with `//ftl:database \
                                     postgres <name>` (FTL generates it into types.ftl.go)",
                            ),
                        );
                        None
                    }
                }
            }
            None if matches!(decl.ty, GoType::Func(_)) => {
                let verb = ref_name.strip_suffix("Client").unwrap_or(&ref_name);
                Some(Resource::Verb(self.ref_to(&module, verb, span)))
            }
            None => None,
        }
    }

    fn ref_to(&self, module: &str, name: &str, span: &Span) -> Ref {
        Ref {
            pos: Some(span.pos.clone()),
            realm: None,
            module: Some(module.to_string()),
            name: name.to_string(),
            type_args: ThinVec::new(),
        }
    }
}
