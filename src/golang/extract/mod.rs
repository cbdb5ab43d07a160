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
//!
//! This file drives the extraction (the passes, and the transitive
//! extraction of the module types the declarations use); each kind of
//! declaration has its file, after FTL's extractor of the same job:
//!
//! - `metadata`: a declaration's directives, parsed and checked together;
//! - `resources`: configs, secrets and topics (aliases of SDK handles);
//! - `verbs`: verbs, their metadata, and direct calls of verbs;
//! - `data`: structs, with their fields' JSON names;
//! - `enums`: value enums (typed constants) and type enums (sealed
//!   interfaces);
//! - `aliases`: type aliases, and the typemaps of external types.
//!
//! Go types become schema types in [`super::types`], which also records
//! the problems found and the module types met on the way.

mod aliases;
mod data;
mod enums;
mod metadata;
mod resources;
mod verbs;

use crate::schema::model::ThinVec;
use std::collections::{HashMap, HashSet};

use crate::schema::{Database, DatabaseEngine, Decl, Diagnostic, Pos, Visibility};

use super::directives::Directive;
use super::scope::{Imported, Scope};
use super::syntax::{GoType, Span};
use super::types::Types;

pub use data::struct_tag;

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
    scope: &'a Scope<'a>,
    module: &'a str,
    /// The type mapping, which holds the problems found, the module types
    /// still to extract and the module's databases.
    types: Types<'a>,
    metas: HashMap<(&'a str, &'a str), Meta>,
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
        types: Types::new(
            scope,
            databases
                .iter()
                .map(|d| (d.name.clone(), (d.engine, None)))
                .collect(),
        ),
        metas: HashMap::new(),
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
    while let Some((dir, name)) = x.types.next_needed() {
        x.extract_type(dir, name);
    }
    x.direct_calls();
    for (name, (engine, pos)) in std::mem::take(&mut x.types.databases) {
        x.decls.push(Decl::Database(Database {
            pos,
            comments: ThinVec::new(),
            engine,
            name,
            metadata: ThinVec::new(),
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
        errors: x.types.diagnostics,
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
    fn report(&mut self, d: Diagnostic) {
        self.types.report(d);
    }

    /// Asks for the type `name` of package `dir` to be extracted.
    fn need(&mut self, dir: &'a str, name: &'a str) {
        self.types.need(dir, name);
    }

    /// Asks for every type that `//ftl:data`, `//ftl:enum` or
    /// `//ftl:typealias` annotates.
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
}
