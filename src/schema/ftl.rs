//! Converts the model to and from FTL's schema protobuf
//! (`xyz.block.ftl.schema.v1`, `schema/xyz/block/ftl/schema/v1/`): the
//! one wire form of every schema file realm writes.
//!
//! What FTL's messages have no field for travels in FTL's own metadata
//! kinds, never in fields FTL's strict reader would refuse:
//! - `+grpc`, `+oneof` and `+protobuf` (realm's additions for imported
//!   realms) are `MetadataTypeMap`s under runtimes schema text cannot name
//!   (`realm-grpc`, `realm-oneof`, `realm-protobuf-message`,
//!   `realm-protobuf-field`: not identifiers);
//! - a reference into another realm (`module.Name@bank`) is a `Ref` whose
//!   name is `Name@bank`, which FTL prints as the text it stands for.
//!
//! Lost on the way (FTL's `Realm` has no field for them): a realm's doc
//! comments. Everything else round-trips, positions included.
//!
//! Protobuf from outside (a pinned realm) is checked while converting, as in
//! [`super::proto`]: required oneofs set, names identifiers, enum values
//! known, types nested at most [`MAX_TYPE_DEPTH`] deep. Runtime fields (a
//! running cluster's state) are ignored.

use std::collections::HashMap;
use std::sync::Arc;

use super::diagnostic::Diagnostic;
use super::model::*;
use super::parser;

/// The generated protobuf types of `xyz.block.ftl.schema.v1`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/xyz.block.ftl.schema.v1.rs"));
}

/// The fully qualified name of FTL's schema message.
pub const SCHEMA_MESSAGE: &str = "xyz.block.ftl.schema.v1.Schema";

const GRPC: &str = "realm-grpc";
const ONEOF: &str = "realm-oneof";
const PROTOBUF_MESSAGE: &str = "realm-protobuf-message";
const PROTOBUF_FIELD: &str = "realm-protobuf-field";

/// Converts a schema to FTL's protobuf.
pub fn to_ftl(schema: &Schema) -> pb::Schema {
    pb::Schema {
        pos: None,
        realms: schema.realms.iter().map(realm_to).collect(),
    }
}

/// Converts FTL's protobuf to a schema, checking that it can be one.
pub fn from_ftl(schema: pb::Schema) -> Result<Schema, Diagnostic> {
    let mut c = FromFtl::default();
    let realms = schema
        .realms
        .into_iter()
        .map(|r| c.realm(r))
        .collect::<Result<_, _>>()?;
    Ok(Schema { realms })
}

// ---- model → protobuf -------------------------------------------------------

fn pos_to(pos: &Option<Pos>) -> Option<pb::Position> {
    pos.as_ref().map(|p| pb::Position {
        filename: p.file.to_string(),
        line: i64::from(p.line),
        column: i64::from(p.column),
    })
}

fn visibility_to(v: Visibility) -> i32 {
    match v {
        Visibility::Private => pb::Visibility::ScopeNone as i32,
        Visibility::Export => pb::Visibility::ScopeModule as i32,
        Visibility::ExportRealm => pb::Visibility::ScopeRealm as i32,
    }
}

fn realm_to(r: &Realm) -> pb::Realm {
    pb::Realm {
        pos: pos_to(&r.pos),
        external: r.external,
        name: r.name.clone(),
        modules: r.modules.iter().map(module_to).collect(),
    }
}

fn module_to(m: &Module) -> pb::Module {
    pb::Module {
        pos: pos_to(&m.pos),
        comments: m.comments.clone(),
        builtin: m.builtin,
        name: m.name.clone(),
        metadata: metadata_to(&m.metadata),
        decls: m.decls.iter().map(decl_to).collect(),
        runtime: None,
    }
}

fn data_to(d: &Data) -> pb::Data {
    pb::Data {
        pos: pos_to(&d.pos),
        comments: d.comments.clone(),
        visibility: visibility_to(d.visibility),
        name: d.name.clone(),
        type_parameters: d
            .type_params
            .iter()
            .map(|p| pb::TypeParameter {
                pos: pos_to(&p.pos),
                name: p.name.clone(),
            })
            .collect(),
        metadata: metadata_to(&d.metadata),
        fields: d
            .fields
            .iter()
            .map(|f| pb::Field {
                pos: pos_to(&f.pos),
                comments: f.comments.clone(),
                name: f.name.clone(),
                r#type: Some(type_to(&f.ty)),
                metadata: metadata_to(&f.metadata),
            })
            .collect(),
    }
}

fn decl_to(d: &Decl) -> pb::Decl {
    use pb::decl::Value;
    let value = match d {
        Decl::Data(d) => Value::Data(data_to(d)),
        Decl::Verb(v) => Value::Verb(pb::Verb {
            pos: pos_to(&v.pos),
            comments: v.comments.clone(),
            visibility: visibility_to(v.visibility),
            name: v.name.clone(),
            request: Some(type_to(&v.request)),
            response: Some(type_to(&v.response)),
            metadata: metadata_to(&v.metadata),
            runtime: None,
        }),
        Decl::Enum(e) => Value::Enum(pb::Enum {
            pos: pos_to(&e.pos),
            comments: e.comments.clone(),
            visibility: visibility_to(e.visibility),
            name: e.name.clone(),
            r#type: e.ty.as_ref().map(|t| Box::new(type_to(t))),
            variants: e
                .variants
                .iter()
                .map(|v| {
                    use pb::value::Value as V;
                    let value = match &v.value {
                        VariantValue::Int(n) => V::IntValue(pb::IntValue {
                            pos: None,
                            value: *n,
                        }),
                        VariantValue::String(s) => V::StringValue(pb::StringValue {
                            pos: None,
                            value: s.clone(),
                        }),
                        VariantValue::Type(t) => V::TypeValue(pb::TypeValue {
                            pos: None,
                            value: Some(type_to(t)),
                        }),
                    };
                    pb::EnumVariant {
                        pos: pos_to(&v.pos),
                        comments: v.comments.clone(),
                        name: v.name.clone(),
                        value: Some(pb::Value { value: Some(value) }),
                    }
                })
                .collect(),
        }),
        Decl::TypeAlias(t) => Value::TypeAlias(pb::TypeAlias {
            pos: pos_to(&t.pos),
            comments: t.comments.clone(),
            visibility: visibility_to(t.visibility),
            name: t.name.clone(),
            r#type: Some(Box::new(type_to(&t.ty))),
            metadata: metadata_to(&t.metadata),
        }),
        Decl::Config(c) => Value::Config(pb::Config {
            pos: pos_to(&c.pos),
            comments: c.comments.clone(),
            name: c.name.clone(),
            r#type: Some(type_to(&c.ty)),
        }),
        Decl::Secret(s) => Value::Secret(pb::Secret {
            pos: pos_to(&s.pos),
            comments: s.comments.clone(),
            name: s.name.clone(),
            r#type: Some(type_to(&s.ty)),
        }),
        Decl::Database(d) => Value::Database(pb::Database {
            pos: pos_to(&d.pos),
            comments: d.comments.clone(),
            r#type: d.engine.keyword().to_string(),
            name: d.name.clone(),
            metadata: metadata_to(&d.metadata),
            runtime: None,
        }),
        Decl::Topic(t) => Value::Topic(pb::Topic {
            pos: pos_to(&t.pos),
            comments: t.comments.clone(),
            visibility: visibility_to(t.visibility),
            name: t.name.clone(),
            event: Some(type_to(&t.event)),
            metadata: metadata_to(&t.metadata),
            runtime: None,
        }),
    };
    pb::Decl { value: Some(value) }
}

fn type_to(t: &Type) -> pb::Type {
    use pb::r#type::Value;
    let value = match t {
        Type::Int => Value::Int(pb::Int { pos: None }),
        Type::Float => Value::Float(pb::Float { pos: None }),
        Type::String => Value::String(pb::String { pos: None }),
        Type::Bytes => Value::Bytes(pb::Bytes { pos: None }),
        Type::Bool => Value::Bool(pb::Bool { pos: None }),
        Type::Time => Value::Time(pb::Time { pos: None }),
        Type::Any => Value::Any(pb::Any { pos: None }),
        Type::Unit => Value::Unit(pb::Unit { pos: None }),
        Type::List(e) => Value::Array(Box::new(pb::Array {
            pos: None,
            element: Some(Box::new(type_to(e))),
        })),
        Type::Map(k, v) => Value::Map(Box::new(pb::Map {
            pos: None,
            key: Some(Box::new(type_to(k))),
            value: Some(Box::new(type_to(v))),
        })),
        Type::Optional(inner) => Value::Optional(Box::new(pb::Optional {
            pos: None,
            r#type: Some(Box::new(type_to(inner))),
        })),
        Type::Ref(r) => Value::Ref(ref_to(r)),
    };
    pb::Type { value: Some(value) }
}

fn ref_to(r: &Ref) -> pb::Ref {
    pb::Ref {
        pos: pos_to(&r.pos),
        module: r.module.clone().unwrap_or_default(),
        name: match &r.realm {
            Some(realm) => format!("{}@{realm}", r.name),
            None => r.name.clone(),
        },
        type_parameters: r.type_args.iter().map(type_to).collect(),
    }
}

fn refs_to(refs: &[Ref]) -> Vec<pb::Ref> {
    refs.iter().map(ref_to).collect()
}

fn type_map(pos: Option<pb::Position>, runtime: &str, native_name: String) -> pb::metadata::Value {
    pb::metadata::Value::TypeMap(pb::MetadataTypeMap {
        pos,
        runtime: runtime.to_string(),
        native_name,
    })
}

fn metadata_to(metadata: &[Metadata]) -> Vec<pb::Metadata> {
    use pb::metadata::Value;
    metadata
        .iter()
        .map(|m| {
            let pos = pos_to(&m.pos);
            let value = match &m.kind {
                MetadataKind::Calls(refs) => Value::Calls(pb::MetadataCalls {
                    pos,
                    calls: refs_to(refs),
                }),
                MetadataKind::Ingress { kind, method, path } => {
                    Value::Ingress(pb::MetadataIngress {
                        pos,
                        r#type: kind.clone(),
                        method: method.clone(),
                        path: path_to(path),
                    })
                }
                MetadataKind::Cron(cron) => Value::CronJob(pb::MetadataCronJob {
                    pos,
                    cron: cron.clone(),
                }),
                MetadataKind::Retry {
                    count,
                    min_backoff,
                    max_backoff,
                    catch,
                } => Value::Retry(pb::MetadataRetry {
                    pos,
                    count: *count,
                    min_backoff: min_backoff.clone(),
                    max_backoff: max_backoff.clone().unwrap_or_default(),
                    catch: catch.as_ref().map(ref_to),
                }),
                MetadataKind::Subscribe {
                    topic,
                    from,
                    dead_letter,
                } => Value::Subscriber(pb::MetadataSubscriber {
                    pos,
                    topic: Some(ref_to(topic)),
                    from_offset: match from {
                        None => pb::FromOffset::Unspecified as i32,
                        Some(SubscribeFrom::Beginning) => pb::FromOffset::Beginning as i32,
                        Some(SubscribeFrom::Latest) => pb::FromOffset::Latest as i32,
                    },
                    dead_letter: *dead_letter,
                }),
                MetadataKind::Publish(refs) => Value::Publisher(pb::MetadataPublisher {
                    pos,
                    topics: refs_to(refs),
                }),
                MetadataKind::TypeMap {
                    runtime,
                    native_name,
                } => type_map(pos, runtime, native_name.clone()),
                MetadataKind::Alias { alias, .. } => Value::Alias(pb::MetadataAlias {
                    pos,
                    // The parser reads only `+alias json`.
                    kind: pb::AliasKind::Json as i32,
                    alias: alias.clone(),
                }),
                MetadataKind::Encoding { kind, lenient } => Value::Encoding(pb::MetadataEncoding {
                    pos,
                    r#type: kind.clone(),
                    lenient: *lenient,
                }),
                MetadataKind::DatabaseUses(refs) => Value::Databases(pb::MetadataDatabases {
                    pos,
                    uses: refs_to(refs),
                }),
                MetadataKind::ConfigUses(refs) => Value::Config(pb::MetadataConfig {
                    pos,
                    config: refs_to(refs),
                }),
                MetadataKind::SecretsUses(refs) => Value::Secrets(pb::MetadataSecrets {
                    pos,
                    secrets: refs_to(refs),
                }),
                MetadataKind::Partitions(n) => Value::Partitions(pb::MetadataPartitions {
                    pos,
                    partitions: *n,
                }),
                MetadataKind::Egress(targets) => Value::Egress(pb::MetadataEgress {
                    pos,
                    targets: targets.clone(),
                }),
                MetadataKind::Generated => Value::Generated(pb::MetadataGenerated { pos }),
                MetadataKind::Transaction => Value::Transaction(pb::MetadataTransaction { pos }),
                MetadataKind::Fixture { manual } => Value::Fixture(pb::MetadataFixture {
                    pos,
                    manual: *manual,
                }),
                MetadataKind::SqlQuery { command, query } => {
                    Value::SqlQuery(pb::MetadataSqlQuery {
                        pos,
                        command: command.clone(),
                        query: query.clone(),
                    })
                }
                MetadataKind::SqlColumn { table, name } => {
                    Value::SqlColumn(pb::MetadataSqlColumn {
                        pos,
                        table: table.clone(),
                        name: name.clone(),
                    })
                }
                MetadataKind::Migration(digest) => Value::SqlMigration(pb::MetadataSqlMigration {
                    pos,
                    digest: digest.clone(),
                }),
                MetadataKind::Artefact {
                    path,
                    digest,
                    executable,
                } => Value::Artefact(pb::MetadataArtefact {
                    pos,
                    path: path.clone(),
                    digest: digest.clone(),
                    executable: *executable,
                }),
                MetadataKind::Git {
                    repository,
                    commit,
                    dirty,
                } => Value::Git(pb::MetadataGit {
                    pos,
                    repository: repository.clone(),
                    commit: commit.clone(),
                    dirty: *dirty,
                }),
                MetadataKind::Image { image, digest } => Value::Image(pb::MetadataImage {
                    pos,
                    image: image.clone(),
                    digest: digest.clone(),
                }),
                MetadataKind::Grpc(method) => type_map(pos, GRPC, method.clone()),
                MetadataKind::Oneof(group) => type_map(pos, ONEOF, group.clone()),
                MetadataKind::ProtobufMessage(name) => {
                    type_map(pos, PROTOBUF_MESSAGE, name.clone())
                }
                MetadataKind::ProtobufField { ty, name } => type_map(
                    pos,
                    PROTOBUF_FIELD,
                    match name {
                        Some(name) => format!("{ty} {name}"),
                        None => ty.to_string(),
                    },
                ),
            };
            pb::Metadata { value: Some(value) }
        })
        .collect()
}

/// `/orders/{id}` as FTL's path components (`/` is none).
fn path_to(path: &str) -> Vec<pb::IngressPathComponent> {
    use pb::ingress_path_component::Value;
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            let value = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Value::IngressPathParameter(pb::IngressPathParameter {
                    pos: None,
                    name: name.to_string(),
                }),
                None => Value::IngressPathLiteral(pb::IngressPathLiteral {
                    pos: None,
                    text: segment.to_string(),
                }),
            };
            pb::IngressPathComponent { value: Some(value) }
        })
        .collect()
}

// ---- protobuf → model -------------------------------------------------------

type Result<T, E = Diagnostic> = std::result::Result<T, E>;

/// Converts protobuf into the model, remembering where it is for errors.
#[derive(Default)]
struct FromFtl {
    /// One `Arc` per distinct file name.
    files: HashMap<String, Arc<str>>,
    /// `realm bank`, `module balance`, `verb withdraw`, ...
    path: Vec<String>,
    /// How many types enclose the one being converted.
    type_depth: usize,
}

impl FromFtl {
    fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message, None).with_context(self.path.join(", "))
    }

    fn within<T>(&mut self, step: String, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.path.push(step);
        let out = f(self);
        self.path.pop();
        out
    }

    fn pos(&mut self, pos: Option<pb::Position>) -> Option<Pos> {
        let p = pos?;
        let file = match self.files.get(&p.filename) {
            Some(f) => f.clone(),
            None => {
                let f: Arc<str> = Arc::from(p.filename.as_str());
                self.files.insert(p.filename, f.clone());
                f
            }
        };
        Some(Pos {
            file,
            line: u32::try_from(p.line).unwrap_or(0),
            column: u32::try_from(p.column).unwrap_or(0),
        })
    }

    fn ident(&self, what: &str, name: String) -> Result<String> {
        if is_ident(&name) {
            Ok(name)
        } else {
            Err(self.error(format!("{what} name {name:?} is not an identifier")))
        }
    }

    fn non_empty(&self, what: &str, s: String) -> Result<String> {
        if s.is_empty() {
            Err(self.error(format!("{what} name is empty")))
        } else {
            Ok(s)
        }
    }

    fn one_of(&self, what: &str, s: &str, allowed: &[&str]) -> Result<()> {
        if allowed.contains(&s) {
            Ok(())
        } else {
            Err(self.error(format!(
                "unknown {what} {s:?}; expected {}",
                allowed.join(", ")
            )))
        }
    }

    fn duration(&self, s: String) -> Result<String> {
        if parser::is_duration(&s) {
            Ok(s)
        } else {
            Err(self.error(format!(
                "invalid duration {s:?}; expected e.g. \"5s\" or \"1m30s\""
            )))
        }
    }

    fn visibility(&self, v: i32) -> Result<Visibility> {
        match pb::Visibility::try_from(v) {
            Ok(pb::Visibility::ScopeNone) => Ok(Visibility::Private),
            Ok(pb::Visibility::ScopeModule) => Ok(Visibility::Export),
            Ok(pb::Visibility::ScopeRealm) => Ok(Visibility::ExportRealm),
            Err(_) => Err(self.error(format!("unknown visibility {v}"))),
        }
    }

    fn realm(&mut self, r: pb::Realm) -> Result<Realm> {
        let name = self.ident("realm", r.name)?;
        self.within(format!("realm {name}"), |c| {
            Ok(Realm {
                pos: c.pos(r.pos),
                comments: Vec::new(),
                external: r.external,
                modules: r
                    .modules
                    .into_iter()
                    .map(|m| c.module(m))
                    .collect::<Result<_>>()?,
                name,
            })
        })
    }

    fn module(&mut self, m: pb::Module) -> Result<Module> {
        let name = self.ident("module", m.name)?;
        self.within(format!("module {name}"), |c| {
            Ok(Module {
                pos: c.pos(m.pos),
                comments: m.comments,
                builtin: m.builtin,
                metadata: c.metadata(m.metadata)?,
                decls: m
                    .decls
                    .into_iter()
                    .map(|d| c.decl(d))
                    .collect::<Result<_>>()?,
                name,
            })
        })
    }

    fn required_type(&mut self, what: &str, t: Option<pb::Type>) -> Result<Type> {
        match t {
            Some(t) => self.ty(t),
            None => Err(self.error(format!("{what} has no type"))),
        }
    }

    fn data(&mut self, d: pb::Data) -> Result<Data> {
        let name = self.ident("data", d.name)?;
        self.within(format!("data {name}"), |c| {
            let type_params = d
                .type_parameters
                .into_iter()
                .map(|p| {
                    Ok(TypeParameter {
                        pos: c.pos(p.pos),
                        name: c.ident("type parameter", p.name)?,
                    })
                })
                .collect::<Result<_>>()?;
            let fields = d
                .fields
                .into_iter()
                .map(|f| {
                    let name = c.ident("field", f.name)?;
                    c.within(format!("field {name}"), |c| {
                        Ok(Field {
                            pos: c.pos(f.pos),
                            comments: f.comments,
                            ty: c.required_type("the field", f.r#type)?,
                            metadata: c.metadata(f.metadata)?,
                            name,
                        })
                    })
                })
                .collect::<Result<_>>()?;
            Ok(Data {
                pos: c.pos(d.pos),
                comments: d.comments,
                visibility: c.visibility(d.visibility)?,
                name,
                type_params,
                metadata: c.metadata(d.metadata)?,
                fields,
            })
        })
    }

    fn decl(&mut self, d: pb::Decl) -> Result<Decl> {
        use pb::decl::Value;
        let Some(value) = d.value else {
            return Err(self.error("declaration with no kind set"));
        };
        Ok(match value {
            Value::Data(d) => Decl::Data(self.data(d)?),
            Value::Verb(v) => {
                let name = self.ident("verb", v.name)?;
                self.within(format!("verb {name}"), |c| {
                    Ok(Decl::Verb(Verb {
                        pos: c.pos(v.pos),
                        comments: v.comments,
                        visibility: c.visibility(v.visibility)?,
                        request: c.required_type("the request", v.request)?,
                        response: c.required_type("the response", v.response)?,
                        metadata: c.metadata(v.metadata)?,
                        name,
                    }))
                })?
            }
            Value::Enum(e) => {
                let name = self.ident("enum", e.name)?;
                self.within(format!("enum {name}"), |c| {
                    let ty = e.r#type.map(|t| c.ty(*t)).transpose()?;
                    let variants = e
                        .variants
                        .into_iter()
                        .map(|v| {
                            let name = c.ident("variant", v.name)?;
                            c.within(format!("variant {name}"), |c| {
                                use pb::value::Value as V;
                                let value = match v.value.and_then(|v| v.value) {
                                    Some(V::IntValue(n)) => VariantValue::Int(n.value),
                                    Some(V::StringValue(s)) => VariantValue::String(s.value),
                                    Some(V::TypeValue(t)) => {
                                        VariantValue::Type(c.required_type("the variant", t.value)?)
                                    }
                                    None => {
                                        return Err(c.error("enum variant with no value or type"));
                                    }
                                };
                                Ok(EnumVariant {
                                    pos: c.pos(v.pos),
                                    comments: v.comments,
                                    name,
                                    value,
                                })
                            })
                        })
                        .collect::<Result<_>>()?;
                    Ok(Decl::Enum(Enum {
                        pos: c.pos(e.pos),
                        comments: e.comments,
                        visibility: c.visibility(e.visibility)?,
                        name,
                        ty,
                        variants,
                    }))
                })?
            }
            Value::TypeAlias(t) => {
                let name = self.ident("typealias", t.name)?;
                self.within(format!("typealias {name}"), |c| {
                    Ok(Decl::TypeAlias(TypeAlias {
                        pos: c.pos(t.pos),
                        comments: t.comments,
                        visibility: c.visibility(t.visibility)?,
                        ty: c.required_type("the type alias", t.r#type.map(|t| *t))?,
                        metadata: c.metadata(t.metadata)?,
                        name,
                    }))
                })?
            }
            Value::Config(cfg) => {
                let name = self.ident("config", cfg.name)?;
                self.within(format!("config {name}"), |c| {
                    Ok(Decl::Config(Config {
                        pos: c.pos(cfg.pos),
                        comments: cfg.comments,
                        ty: c.required_type("the config", cfg.r#type)?,
                        name,
                    }))
                })?
            }
            Value::Secret(s) => {
                let name = self.ident("secret", s.name)?;
                self.within(format!("secret {name}"), |c| {
                    Ok(Decl::Secret(Secret {
                        pos: c.pos(s.pos),
                        comments: s.comments,
                        ty: c.required_type("the secret", s.r#type)?,
                        name,
                    }))
                })?
            }
            Value::Database(d) => {
                let name = self.ident("database", d.name)?;
                self.within(format!("database {name}"), |c| {
                    let engine = DatabaseEngine::from_keyword(&d.r#type).ok_or_else(|| {
                        c.error(format!(
                            "unknown database type {:?}; expected \"postgres\" or \"mysql\"",
                            d.r#type
                        ))
                    })?;
                    Ok(Decl::Database(Database {
                        pos: c.pos(d.pos),
                        comments: d.comments,
                        engine,
                        metadata: c.metadata(d.metadata)?,
                        name,
                    }))
                })?
            }
            Value::Topic(t) => {
                let name = self.ident("topic", t.name)?;
                self.within(format!("topic {name}"), |c| {
                    Ok(Decl::Topic(Topic {
                        pos: c.pos(t.pos),
                        comments: t.comments,
                        visibility: c.visibility(t.visibility)?,
                        event: c.required_type("the topic's event", t.event)?,
                        metadata: c.metadata(t.metadata)?,
                        name,
                    }))
                })?
            }
        })
    }

    fn boxed_type(&mut self, what: &str, t: Option<Box<pb::Type>>) -> Result<Box<Type>> {
        match t {
            Some(t) => Ok(Box::new(self.ty(*t)?)),
            None => Err(self.error(format!("{what} has no type"))),
        }
    }

    fn ty(&mut self, t: pb::Type) -> Result<Type> {
        if self.type_depth >= MAX_TYPE_DEPTH {
            return Err(self.error(format!(
                "types nest more than {MAX_TYPE_DEPTH} deep; realm reads types nested at most {MAX_TYPE_DEPTH} deep"
            )));
        }
        self.type_depth += 1;
        let ty = self.ty_inner(t);
        self.type_depth -= 1;
        ty
    }

    fn ty_inner(&mut self, t: pb::Type) -> Result<Type> {
        use pb::r#type::Value;
        let Some(value) = t.value else {
            return Err(self.error("type with no kind set"));
        };
        Ok(match value {
            Value::Int(_) => Type::Int,
            Value::Float(_) => Type::Float,
            Value::String(_) => Type::String,
            Value::Bytes(_) => Type::Bytes,
            Value::Bool(_) => Type::Bool,
            Value::Time(_) => Type::Time,
            Value::Any(_) => Type::Any,
            Value::Unit(_) => Type::Unit,
            Value::Array(l) => Type::List(self.boxed_type("an array element", l.element)?),
            Value::Map(m) => Type::Map(
                self.boxed_type("a map key", m.key)?,
                self.boxed_type("a map value", m.value)?,
            ),
            Value::Optional(o) => {
                let inner = self.boxed_type("an optional", o.r#type)?;
                if matches!(*inner, Type::Optional(_)) {
                    return Err(self.error("optional of an optional type"));
                }
                Type::Optional(inner)
            }
            Value::Ref(r) => Type::Ref(self.reference(r)?),
            Value::Data(_) | Value::Enum(_) | Value::TypeAlias(_) => {
                return Err(self.error(
                    "a declaration written where a type belongs; schema files refer to declarations by reference",
                ));
            }
        })
    }

    fn reference(&mut self, r: pb::Ref) -> Result<Ref> {
        let (name, realm) = match r.name.split_once('@') {
            Some((name, realm)) => (
                name.to_string(),
                Some(self.ident("realm", realm.to_string())?),
            ),
            None => (r.name, None),
        };
        let module = (!r.module.is_empty())
            .then(|| self.ident("module", r.module))
            .transpose()?;
        Ok(Ref {
            pos: self.pos(r.pos),
            realm,
            module,
            name: self.ident("referenced", name)?,
            type_args: r
                .type_parameters
                .into_iter()
                .map(|t| self.ty(t))
                .collect::<Result<_>>()?,
        })
    }

    fn qualified_refs(&mut self, refs: Vec<pb::Ref>) -> Result<Vec<Ref>> {
        refs.into_iter()
            .map(|r| self.qualified_ref(Some(r)))
            .collect()
    }

    fn qualified_ref(&mut self, r: Option<pb::Ref>) -> Result<Ref> {
        let Some(r) = r else {
            return Err(self.error("metadata reference is missing"));
        };
        let r = self.reference(r)?;
        if r.module.is_none() {
            return Err(self.error(format!("metadata reference `{}` has no module", r.name)));
        }
        Ok(r)
    }

    fn path(&self, components: Vec<pb::IngressPathComponent>) -> Result<String> {
        use pb::ingress_path_component::Value;
        let mut path = String::new();
        for component in components {
            path.push('/');
            match component.value {
                Some(Value::IngressPathLiteral(l)) => path.push_str(&l.text),
                Some(Value::IngressPathParameter(p)) => {
                    path.push('{');
                    path.push_str(&p.name);
                    path.push('}');
                }
                None => return Err(self.error("ingress path component with no kind set")),
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        if let Some(problem) = parser::ingress_path_problem(&path) {
            return Err(self.error(problem.message));
        }
        Ok(path)
    }

    fn type_map(&self, t: pb::MetadataTypeMap) -> Result<MetadataKind> {
        Ok(match t.runtime.as_str() {
            GRPC => MetadataKind::Grpc(t.native_name),
            ONEOF => MetadataKind::Oneof(self.ident("oneof group", t.native_name)?),
            PROTOBUF_MESSAGE => MetadataKind::ProtobufMessage(t.native_name),
            PROTOBUF_FIELD => {
                let (ty, name) = match t.native_name.split_once(' ') {
                    Some((ty, name)) => (ty, Some(name.to_string())),
                    None => (t.native_name.as_str(), None),
                };
                MetadataKind::ProtobufField {
                    ty: ty.parse().map_err(|e: String| self.error(e))?,
                    name,
                }
            }
            _ => {
                self.one_of("typemap runtime", &t.runtime, parser::TYPEMAP_RUNTIMES)?;
                MetadataKind::TypeMap {
                    runtime: t.runtime,
                    native_name: t.native_name,
                }
            }
        })
    }

    fn metadata(&mut self, metadata: Vec<pb::Metadata>) -> Result<Vec<Metadata>> {
        use pb::metadata::Value;
        metadata
            .into_iter()
            .map(|m| {
                let Some(value) = m.value else {
                    return Err(self.error("metadata with no kind set"));
                };
                let (pos, kind) = match value {
                    Value::Calls(c) => (c.pos, MetadataKind::Calls(self.qualified_refs(c.calls)?)),
                    Value::Ingress(i) => {
                        self.one_of("ingress type", &i.r#type, &["http"])?;
                        let method = i.method.to_ascii_uppercase();
                        self.one_of("ingress method", &method, parser::HTTP_METHODS)?;
                        (
                            i.pos,
                            MetadataKind::Ingress {
                                kind: i.r#type,
                                method,
                                path: self.path(i.path)?,
                            },
                        )
                    }
                    Value::CronJob(c) => {
                        if c.cron.trim().is_empty()
                            || c.cron.contains('\n')
                            || c.cron.trim() != c.cron
                        {
                            return Err(self.error(format!("invalid cron expression {:?}", c.cron)));
                        }
                        (c.pos, MetadataKind::Cron(c.cron))
                    }
                    Value::Retry(r) => (
                        r.pos,
                        MetadataKind::Retry {
                            count: r.count,
                            min_backoff: match r.min_backoff.as_str() {
                                "" if r.max_backoff.is_empty() => String::new(),
                                _ => self.duration(r.min_backoff)?,
                            },
                            max_backoff: match r.max_backoff.as_str() {
                                "" => None,
                                _ => Some(self.duration(r.max_backoff)?),
                            },
                            catch: match r.catch {
                                Some(c) => Some(self.qualified_ref(Some(c))?),
                                None => None,
                            },
                        },
                    ),
                    Value::Subscriber(s) => (
                        s.pos,
                        MetadataKind::Subscribe {
                            topic: self.qualified_ref(s.topic)?,
                            from: match pb::FromOffset::try_from(s.from_offset) {
                                Ok(pb::FromOffset::Unspecified) => None,
                                Ok(pb::FromOffset::Beginning) => Some(SubscribeFrom::Beginning),
                                Ok(pb::FromOffset::Latest) => Some(SubscribeFrom::Latest),
                                Err(_) => {
                                    return Err(self.error(format!(
                                        "unknown subscription offset {}",
                                        s.from_offset
                                    )));
                                }
                            },
                            dead_letter: s.dead_letter,
                        },
                    ),
                    Value::Publisher(p) => {
                        (p.pos, MetadataKind::Publish(self.qualified_refs(p.topics)?))
                    }
                    Value::TypeMap(t) => (t.pos.clone(), self.type_map(t)?),
                    Value::Alias(a) => {
                        if a.kind != pb::AliasKind::Json as i32 {
                            return Err(self.error(format!(
                                "unknown alias kind {}; expected ALIAS_KIND_JSON",
                                a.kind
                            )));
                        }
                        (
                            a.pos,
                            MetadataKind::Alias {
                                kind: "json".to_string(),
                                alias: a.alias,
                            },
                        )
                    }
                    Value::Encoding(e) => {
                        self.one_of("encoding", &e.r#type, &["json"])?;
                        (
                            e.pos,
                            MetadataKind::Encoding {
                                kind: e.r#type,
                                lenient: e.lenient,
                            },
                        )
                    }
                    Value::Databases(u) => (
                        u.pos,
                        MetadataKind::DatabaseUses(self.qualified_refs(u.uses)?),
                    ),
                    Value::Config(u) => (
                        u.pos,
                        MetadataKind::ConfigUses(self.qualified_refs(u.config)?),
                    ),
                    Value::Secrets(u) => (
                        u.pos,
                        MetadataKind::SecretsUses(self.qualified_refs(u.secrets)?),
                    ),
                    Value::Partitions(p) => (p.pos, MetadataKind::Partitions(p.partitions)),
                    Value::Egress(e) => (e.pos, MetadataKind::Egress(e.targets)),
                    Value::Generated(g) => (g.pos, MetadataKind::Generated),
                    Value::Transaction(t) => (t.pos, MetadataKind::Transaction),
                    Value::Fixture(f) => (f.pos, MetadataKind::Fixture { manual: f.manual }),
                    Value::SqlQuery(q) => (
                        q.pos,
                        MetadataKind::SqlQuery {
                            command: self.ident("query command", q.command)?,
                            query: q.query,
                        },
                    ),
                    Value::SqlColumn(c) => (
                        c.pos,
                        MetadataKind::SqlColumn {
                            table: self.non_empty("table", c.table)?,
                            name: self.non_empty("column", c.name)?,
                        },
                    ),
                    Value::SqlMigration(m) => {
                        if !parser::is_migration_digest(&m.digest) {
                            return Err(self.error(format!(
                                "migration digest {:?} is not `sha256:` and 64 hex digits",
                                m.digest
                            )));
                        }
                        (m.pos, MetadataKind::Migration(m.digest))
                    }
                    Value::Artefact(a) => (
                        a.pos,
                        MetadataKind::Artefact {
                            path: a.path,
                            digest: a.digest,
                            executable: a.executable,
                        },
                    ),
                    Value::Git(g) => (
                        g.pos,
                        MetadataKind::Git {
                            repository: g.repository,
                            commit: g.commit,
                            dirty: g.dirty,
                        },
                    ),
                    Value::Image(i) => (
                        i.pos,
                        MetadataKind::Image {
                            image: i.image,
                            digest: i.digest,
                        },
                    ),
                };
                Ok(Metadata {
                    pos: self.pos(pos),
                    kind,
                })
            })
            .collect()
    }
}
