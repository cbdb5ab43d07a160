//! The schema model: realms, modules, declarations, types and metadata.
//!
//! Plain values with public fields. The parser builds them, the printer
//! prints them, the validator checks them and `proto` converts them to and
//! from protobuf. Nothing here does I/O.

use std::fmt;
use std::sync::Arc;

pub use thin_vec::{ThinVec, thin_vec};

// The model is most of `realm export`'s memory (docs/decisions.md, "The
// parsed model made smaller"): these sizes are held on purpose.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<Field>() == 88);
    assert!(size_of::<Ref>() == 104);
    assert!(size_of::<Metadata>() == 104);
    assert!(size_of::<Decl>() == 120);
    assert!(size_of::<Type>() == 24);
};

/// An identifier: `[A-Za-z_][A-Za-z0-9_]*`, ASCII as in FTL. Names of
/// realms, modules, declarations and fields, and realm names wherever they
/// travel (keys, `x-realm-via`, signatures), are identifiers.
pub fn is_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(is_ident_start) && bytes.all(is_ident_continue)
}

/// A byte that may start an identifier: a letter or `_`.
pub fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// A byte that may continue an identifier: a letter, a digit or `_`.
pub fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where a node was written: file (relative to the project root), 1-based
/// line and column (in characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A whole schema: any number of external realms and at most one internal
/// realm.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub realms: Vec<Realm>,
}

impl Schema {
    /// The internal realm (the one not marked `external`), if any.
    pub fn internal_realm(&self) -> Option<&Realm> {
        self.realms.iter().find(|r| !r.external)
    }

    pub fn realm(&self, name: &str) -> Option<&Realm> {
        self.realms.iter().find(|r| r.name == name)
    }
}

/// `realm shop { ... }` or `external realm bank { ... }`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Realm {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub external: bool,
    pub name: String,
    pub modules: Vec<Module>,
}

impl Realm {
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// Every declaration of the realm with the module it belongs to.
    pub fn decls(&self) -> impl Iterator<Item = (&Module, &Decl)> {
        self.modules
            .iter()
            .flat_map(|m| m.decls.iter().map(move |d| (m, d)))
    }
}

/// `module name { ... }`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub builtin: bool,
    pub name: String,
    pub metadata: ThinVec<Metadata>,
    pub decls: Vec<Decl>,
}

impl Module {
    pub fn decl(&self, name: &str) -> Option<&Decl> {
        self.decls.iter().find(|d| d.name() == name)
    }
}

/// Who can see a declaration. Ordered from least to most visible.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Visibility {
    /// No `export`: visible only inside its module.
    #[default]
    Private,
    /// `export`: visible to the other modules of the realm.
    Export,
    /// `export realm`: visible to other realms (the public API).
    ExportRealm,
}

impl Visibility {
    /// The keywords as written before a declaration, with a trailing space
    /// (empty for private).
    pub fn prefix(self) -> &'static str {
        match self {
            Visibility::Private => "",
            Visibility::Export => "export ",
            Visibility::ExportRealm => "export realm ",
        }
    }
}

impl Visibility {
    /// Who may use a declaration of this visibility, for messages: "it is
    /// `export`: the other modules of its realm may use it, other realms
    /// may not".
    pub fn meaning(self) -> &'static str {
        match self {
            Visibility::Private => "private: only its own module may use it",
            Visibility::Export => {
                "`export`: the other modules of its realm may use it, other realms may not"
            }
            Visibility::ExportRealm => "`export realm`: other realms may use it",
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Visibility::Private => "private",
            Visibility::Export => "export",
            Visibility::ExportRealm => "export realm",
        })
    }
}

/// A declaration inside a module.
#[derive(Clone, Debug, PartialEq)]
pub enum Decl {
    Data(Data),
    Verb(Verb),
    Enum(Enum),
    TypeAlias(TypeAlias),
    Config(Config),
    Secret(Secret),
    Database(Database),
    Topic(Topic),
}

/// The kind of a declaration, as written in schema text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeclKind {
    Data,
    Verb,
    Enum,
    TypeAlias,
    Config,
    Secret,
    Database,
    Topic,
}

impl DeclKind {
    pub fn keyword(self) -> &'static str {
        match self {
            DeclKind::Data => "data",
            DeclKind::Verb => "verb",
            DeclKind::Enum => "enum",
            DeclKind::TypeAlias => "typealias",
            DeclKind::Config => "config",
            DeclKind::Secret => "secret",
            DeclKind::Database => "database",
            DeclKind::Topic => "topic",
        }
    }

    /// The kind with an article, for messages: "a verb", "an enum", "data".
    pub fn with_article(self) -> &'static str {
        match self {
            DeclKind::Data => "data",
            DeclKind::Verb => "a verb",
            DeclKind::Enum => "an enum",
            DeclKind::TypeAlias => "a typealias",
            DeclKind::Config => "a config",
            DeclKind::Secret => "a secret",
            DeclKind::Database => "a database",
            DeclKind::Topic => "a topic",
        }
    }

    /// Whether a declaration of this kind can be used as a type.
    pub fn is_type(self) -> bool {
        matches!(self, DeclKind::Data | DeclKind::Enum | DeclKind::TypeAlias)
    }
}

impl fmt::Display for DeclKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl Decl {
    pub fn kind(&self) -> DeclKind {
        match self {
            Decl::Data(_) => DeclKind::Data,
            Decl::Verb(_) => DeclKind::Verb,
            Decl::Enum(_) => DeclKind::Enum,
            Decl::TypeAlias(_) => DeclKind::TypeAlias,
            Decl::Config(_) => DeclKind::Config,
            Decl::Secret(_) => DeclKind::Secret,
            Decl::Database(_) => DeclKind::Database,
            Decl::Topic(_) => DeclKind::Topic,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Decl::Data(d) => &d.name,
            Decl::Verb(d) => &d.name,
            Decl::Enum(d) => &d.name,
            Decl::TypeAlias(d) => &d.name,
            Decl::Config(d) => &d.name,
            Decl::Secret(d) => &d.name,
            Decl::Database(d) => &d.name,
            Decl::Topic(d) => &d.name,
        }
    }

    pub fn pos(&self) -> Option<&Pos> {
        match self {
            Decl::Data(d) => d.pos.as_ref(),
            Decl::Verb(d) => d.pos.as_ref(),
            Decl::Enum(d) => d.pos.as_ref(),
            Decl::TypeAlias(d) => d.pos.as_ref(),
            Decl::Config(d) => d.pos.as_ref(),
            Decl::Secret(d) => d.pos.as_ref(),
            Decl::Database(d) => d.pos.as_ref(),
            Decl::Topic(d) => d.pos.as_ref(),
        }
    }

    /// Config, secrets and databases have no visibility; they are private.
    pub fn visibility(&self) -> Visibility {
        match self {
            Decl::Data(d) => d.visibility,
            Decl::Verb(d) => d.visibility,
            Decl::Enum(d) => d.visibility,
            Decl::TypeAlias(d) => d.visibility,
            Decl::Topic(d) => d.visibility,
            Decl::Config(_) | Decl::Secret(_) | Decl::Database(_) => Visibility::Private,
        }
    }

    pub fn metadata(&self) -> &[Metadata] {
        match self {
            Decl::Data(d) => &d.metadata,
            Decl::Verb(d) => &d.metadata,
            Decl::TypeAlias(d) => &d.metadata,
            Decl::Database(d) => &d.metadata,
            Decl::Topic(d) => &d.metadata,
            Decl::Enum(_) | Decl::Config(_) | Decl::Secret(_) => &[],
        }
    }

    pub fn comments(&self) -> &[String] {
        match self {
            Decl::Data(d) => &d.comments,
            Decl::Verb(d) => &d.comments,
            Decl::Enum(d) => &d.comments,
            Decl::TypeAlias(d) => &d.comments,
            Decl::Config(d) => &d.comments,
            Decl::Secret(d) => &d.comments,
            Decl::Database(d) => &d.comments,
            Decl::Topic(d) => &d.comments,
        }
    }

    /// Calls `f` on every type written in the declaration (not in its
    /// metadata), outermost first.
    pub fn for_each_type<'a>(&'a self, f: &mut impl FnMut(&'a Type)) {
        match self {
            Decl::Data(d) => d.fields.iter().for_each(|field| field.ty.walk(f)),
            Decl::Verb(v) => {
                v.request.walk(f);
                v.response.walk(f);
            }
            Decl::Enum(e) => {
                if let Some(ty) = &e.ty {
                    ty.walk(f);
                }
                for variant in &e.variants {
                    if let VariantValue::Type(ty) = &variant.value {
                        ty.walk(f);
                    }
                }
            }
            Decl::TypeAlias(t) => t.ty.walk(f),
            Decl::Config(c) => c.ty.walk(f),
            Decl::Secret(s) => s.ty.walk(f),
            Decl::Topic(t) => t.event.walk(f),
            Decl::Database(_) => {}
        }
    }
}

impl Decl {
    /// Calls `f` on every reference in the declaration's metadata (`+calls`,
    /// `+subscribe`, `+retry ... catch`, ...).
    pub fn for_each_metadata_ref<'a>(&'a self, f: &mut impl FnMut(&'a Ref)) {
        for m in self.metadata() {
            m.kind.for_each_ref(f);
        }
    }
}

impl MetadataKind {
    /// Calls `f` on every reference this metadata names.
    pub fn for_each_ref<'a>(&'a self, f: &mut impl FnMut(&'a Ref)) {
        match self {
            MetadataKind::Calls(refs)
            | MetadataKind::Publish(refs)
            | MetadataKind::DatabaseUses(refs)
            | MetadataKind::ConfigUses(refs)
            | MetadataKind::SecretsUses(refs) => refs.iter().for_each(f),
            MetadataKind::Subscribe { topic, .. } => f(topic),
            MetadataKind::Retry {
                catch: Some(catch), ..
            } => f(catch),
            _ => {}
        }
    }
}

/// A type parameter of a generic data type: `T` in `data Page<T>`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeParameter {
    pub pos: Option<Pos>,
    pub name: String,
}

/// `data Name<T> { field Type ... }`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub visibility: Visibility,
    pub name: String,
    pub type_params: ThinVec<TypeParameter>,
    pub metadata: ThinVec<Metadata>,
    pub fields: Vec<Field>,
}

/// `name Type +metadata...` inside a data block.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub name: String,
    pub ty: Type,
    pub metadata: ThinVec<Metadata>,
}

impl Data {
    /// The message name of data marked `+protobuf "pkg.Message"`.
    pub fn protobuf_message(&self) -> Option<&str> {
        find_metadata(&self.metadata, |k| match k {
            MetadataKind::ProtobufMessage(name) => Some(name.as_str()),
            _ => None,
        })
    }
}

impl Field {
    /// The name the field has in JSON (and on the wire): its `+alias json`,
    /// or its own name.
    pub fn json_name(&self) -> &str {
        find_metadata(&self.metadata, |k| match k {
            MetadataKind::Alias { kind, alias } if kind == "json" => Some(alias.as_str()),
            _ => None,
        })
        .unwrap_or(&self.name)
    }

    /// The `+oneof` group the field is a member of.
    pub fn oneof(&self) -> Option<&str> {
        find_metadata(&self.metadata, |k| match k {
            MetadataKind::Oneof(group) => Some(group.as_str()),
            _ => None,
        })
    }

    /// The field's `+protobuf` type and `.proto` name (when that differs
    /// from its JSON name).
    pub fn protobuf(&self) -> Option<(super::protobuf::ProtoType, Option<&str>)> {
        find_metadata(&self.metadata, |k| match k {
            MetadataKind::ProtobufField { ty, name } => Some((*ty, name.as_deref())),
            _ => None,
        })
    }
}

/// `verb name(Request) Response`.
#[derive(Clone, Debug, PartialEq)]
pub struct Verb {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub visibility: Visibility,
    pub name: String,
    pub request: Type,
    pub response: Type,
    pub metadata: ThinVec<Metadata>,
}

impl Verb {
    /// The `package.Service/Method` of a verb served over gRPC (`+grpc`).
    pub fn grpc_method(&self) -> Option<&str> {
        find_metadata(&self.metadata, |k| match k {
            MetadataKind::Grpc(method) => Some(method.as_str()),
            _ => None,
        })
    }
}

/// A value enum (`enum Color: String { Red = "red" }`) when `ty` is set, a
/// type enum (`enum Value { Text String }`) when it is not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Enum {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub visibility: Visibility,
    pub name: String,
    pub ty: Option<Type>,
    pub variants: Vec<EnumVariant>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumVariant {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub name: String,
    pub value: VariantValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum VariantValue {
    Int(i64),
    String(String),
    Type(Type),
}

/// `typealias Name Type`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeAlias {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub visibility: Visibility,
    pub name: String,
    pub ty: Type,
    pub metadata: ThinVec<Metadata>,
}

/// `config name Type`.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub name: String,
    pub ty: Type,
}

/// `secret name Type`.
#[derive(Clone, Debug, PartialEq)]
pub struct Secret {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub name: String,
    pub ty: Type,
}

/// `database postgres name`.
#[derive(Clone, Debug, PartialEq)]
pub struct Database {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub engine: DatabaseEngine,
    pub name: String,
    pub metadata: ThinVec<Metadata>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseEngine {
    Postgres,
    Mysql,
}

impl DatabaseEngine {
    pub fn keyword(self) -> &'static str {
        match self {
            DatabaseEngine::Postgres => "postgres",
            DatabaseEngine::Mysql => "mysql",
        }
    }

    pub fn from_keyword(s: &str) -> Option<Self> {
        match s {
            "postgres" => Some(DatabaseEngine::Postgres),
            "mysql" => Some(DatabaseEngine::Mysql),
            _ => None,
        }
    }
}

/// `topic name EventType`.
#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    pub pos: Option<Pos>,
    pub comments: ThinVec<String>,
    pub visibility: Visibility,
    pub name: String,
    pub event: Type,
    pub metadata: ThinVec<Metadata>,
}

/// How deeply types may nest (`[[{String: a.D<Int>}]]` is 4 deep). Every
/// way into the model — schema text, proto-text, Go source — refuses deeper
/// types, so the recursive walks over a model (validation, printing, JSON
/// checks, protobuf conversion) are bounded by it. Real schemas stay under
/// ten; the limit is generous and small enough for a 2 MiB thread stack
/// (prost-reflect's proto-text parser, in a debug build, overflows one at
/// about 45 levels of types; proto-text carries a type in two levels, see
/// `txtpb::MAX_TEXT_NESTING`).
pub const MAX_TYPE_DEPTH: usize = 24;

/// A type as written in schema text.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Int,
    Float,
    String,
    Bytes,
    Bool,
    Time,
    Any,
    Unit,
    /// `[T]`
    List(Box<Type>),
    /// `{K: V}`
    Map(Box<Type>, Box<Type>),
    /// `T?`
    Optional(Box<Type>),
    /// `module.Name<Args>@realm`, or a bare type parameter `T`. Boxed: a
    /// reference is five times the size of every other variant, and most
    /// types of a schema are not references (a field's `Type` is 24 bytes,
    /// not 120).
    Ref(Box<Ref>),
}

impl From<Ref> for Type {
    fn from(r: Ref) -> Type {
        Type::Ref(Box::new(r))
    }
}

impl Type {
    /// The builtin scalar type named `name`, if it is one.
    pub fn scalar(name: &str) -> Option<Type> {
        Some(match name {
            "Int" => Type::Int,
            "Float" => Type::Float,
            "String" => Type::String,
            "Bytes" => Type::Bytes,
            "Bool" => Type::Bool,
            "Time" => Type::Time,
            "Any" => Type::Any,
            "Unit" => Type::Unit,
            _ => return None,
        })
    }

    /// The reference this type is, if it is one.
    pub fn reference(&self) -> Option<&Ref> {
        match self {
            Type::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// Visits this type and every type nested in it, outermost first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Type)) {
        f(self);
        match self {
            Type::List(t) | Type::Optional(t) => t.walk(f),
            Type::Map(k, v) => {
                k.walk(f);
                v.walk(f);
            }
            Type::Ref(r) => r.type_args.iter().for_each(|t| t.walk(f)),
            _ => {}
        }
    }
}

/// A reference to a declaration: `module.Name<Args>@realm`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ref {
    pub pos: Option<Pos>,
    /// `None`: the realm the reference is written in.
    pub realm: Option<String>,
    /// `None`: a type parameter of the enclosing data.
    pub module: Option<String>,
    pub name: String,
    pub type_args: ThinVec<Type>,
}

impl Ref {
    pub fn new(module: &str, name: &str) -> Ref {
        Ref {
            pos: None,
            realm: None,
            module: Some(module.to_string()),
            name: name.to_string(),
            type_args: ThinVec::new(),
        }
    }
}

/// A `+...` metadata line (or, on fields, an inline `+...` annotation).
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub pos: Option<Pos>,
    pub kind: MetadataKind,
}

impl From<MetadataKind> for Metadata {
    fn from(kind: MetadataKind) -> Self {
        Metadata { pos: None, kind }
    }
}

/// The first metadata of `metadata` that `pick` picks, picked.
pub fn find_metadata<'a, T>(
    metadata: &'a [Metadata],
    pick: impl FnMut(&'a MetadataKind) -> Option<T>,
) -> Option<T> {
    metadata.iter().map(|m| &m.kind).find_map(pick)
}

/// Where a subscription starts reading a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeFrom {
    Beginning,
    Latest,
}

impl SubscribeFrom {
    pub fn keyword(self) -> &'static str {
        match self {
            SubscribeFrom::Beginning => "beginning",
            SubscribeFrom::Latest => "latest",
        }
    }
}

/// Every metadata form of FTL schema text, plus `+grpc`.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataKind {
    /// `+calls module.verb, ...`
    Calls(Vec<Ref>),
    /// `+ingress http GET /path/{param}`
    Ingress {
        kind: String,
        method: String,
        path: String,
    },
    /// `+cron <expression or interval>`
    Cron(String),
    /// `+retry [count] [min-backoff [max-backoff]] [catch module.verb]`;
    /// `min_backoff` is empty when none is written (FTL's grammar makes
    /// every part optional; the validator says what must be there).
    /// References are boxed in metadata: a `Ref` inline made every
    /// `Metadata` 208 bytes, the size of its largest kind.
    Retry {
        count: Option<i64>,
        min_backoff: String,
        max_backoff: Option<String>,
        catch: Option<Box<Ref>>,
    },
    /// `+subscribe module.topic from=beginning|latest [deadletter]` (`from`
    /// is `None` when not written: FTL requires it, realm warns)
    Subscribe {
        topic: Box<Ref>,
        from: Option<SubscribeFrom>,
        dead_letter: bool,
    },
    /// `+publish module.topic, ...`
    Publish(Vec<Ref>),
    /// `+typemap runtime "native.Name"`
    TypeMap {
        runtime: String,
        native_name: String,
    },
    /// `+alias json "name"`
    Alias { kind: String, alias: String },
    /// `+encoding json [lenient]`
    Encoding { kind: String, lenient: bool },
    /// `+database uses module.db, ...`
    DatabaseUses(Vec<Ref>),
    /// `+config module.config, ...` (realm also reads `+config uses ...`,
    /// which it printed before FTL parity)
    ConfigUses(Vec<Ref>),
    /// `+secrets module.secret, ...` (also read: `+secrets uses ...`)
    SecretsUses(Vec<Ref>),
    /// `+partitions 8`
    Partitions(i64),
    /// `+egress "target", ...`
    Egress(Vec<String>),
    /// `+generated`
    Generated,
    /// `+transaction`
    Transaction,
    /// `+fixture [manual]`
    Fixture { manual: bool },
    /// `+sql query <command> "query"` (FTL's commands: one, many, exec,
    /// copyfrom)
    SqlQuery { command: String, query: String },
    /// `+sql column table.column` (either may be a string)
    SqlColumn { table: String, name: String },
    /// `+migration sha256:...`
    Migration(String),
    /// `+artefact "path" "digest" [executable]`
    Artefact {
        path: String,
        digest: String,
        executable: bool,
    },
    /// `+git "repository" "commit" [dirty]`
    Git {
        repository: String,
        commit: String,
        dirty: bool,
    },
    /// `+image "image":"digest"`
    Image { image: String, digest: String },
    /// `+grpc "package.Service/Method"`
    Grpc(String),
    /// `+oneof name`: the field is one member of a group of which at most
    /// one is set (a protobuf `oneof`).
    Oneof(String),
    /// `+protobuf "package.Message"` on data: a protobuf message, whose JSON
    /// is proto3 JSON (see [`super::protobuf`]).
    ProtobufMessage(String),
    /// `+protobuf <type> ["proto_name"]` on a field of such data: its
    /// protobuf type, and its `.proto` name when that is not its JSON name.
    ProtobufField {
        ty: super::protobuf::ProtoType,
        name: Option<String>,
    },
}

impl MetadataKind {
    /// The keyword(s) after `+` that introduce this metadata.
    pub fn keyword(&self) -> &'static str {
        match self {
            MetadataKind::Calls(_) => "calls",
            MetadataKind::Ingress { .. } => "ingress",
            MetadataKind::Cron(_) => "cron",
            MetadataKind::Retry { .. } => "retry",
            MetadataKind::Subscribe { .. } => "subscribe",
            MetadataKind::Publish(_) => "publish",
            MetadataKind::TypeMap { .. } => "typemap",
            MetadataKind::Alias { .. } => "alias",
            MetadataKind::Encoding { .. } => "encoding",
            MetadataKind::DatabaseUses(_) => "database uses",
            MetadataKind::ConfigUses(_) => "config",
            MetadataKind::SecretsUses(_) => "secrets",
            MetadataKind::Partitions(_) => "partitions",
            MetadataKind::Egress(_) => "egress",
            MetadataKind::Generated => "generated",
            MetadataKind::Transaction => "transaction",
            MetadataKind::Fixture { .. } => "fixture",
            MetadataKind::SqlQuery { .. } => "sql query",
            MetadataKind::SqlColumn { .. } => "sql column",
            MetadataKind::Migration(_) => "migration",
            MetadataKind::Artefact { .. } => "artefact",
            MetadataKind::Git { .. } => "git",
            MetadataKind::Image { .. } => "image",
            MetadataKind::Grpc(_) => "grpc",
            MetadataKind::Oneof(_) => "oneof",
            MetadataKind::ProtobufMessage(_) | MetadataKind::ProtobufField { .. } => "protobuf",
        }
    }
}
