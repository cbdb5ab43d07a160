//! Model → FTL's protobuf as prost values. What realm writes is encoded
//! straight from the model (`binary`); these values are the reference its
//! tests hold it equal to, byte for byte: a change of one is a change of
//! both.

use super::super::model::*;
use super::pb;
use super::{GRPC, ONEOF, PROTOBUF_FIELD, PROTOBUF_MESSAGE};

/// Converts a schema to FTL's protobuf.
pub fn to_ftl(schema: &Schema) -> pb::Schema {
    pb::Schema {
        pos: None,
        realms: schema.realms.iter().map(realm_to).collect(),
    }
}

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
        comments: m.comments.to_vec(),
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
        comments: d.comments.to_vec(),
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
                comments: f.comments.to_vec(),
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
            comments: v.comments.to_vec(),
            visibility: visibility_to(v.visibility),
            name: v.name.clone(),
            request: Some(type_to(&v.request)),
            response: Some(type_to(&v.response)),
            metadata: metadata_to(&v.metadata),
            runtime: None,
        }),
        Decl::Enum(e) => Value::Enum(pb::Enum {
            pos: pos_to(&e.pos),
            comments: e.comments.to_vec(),
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
                        comments: v.comments.to_vec(),
                        name: v.name.clone(),
                        value: Some(pb::Value { value: Some(value) }),
                    }
                })
                .collect(),
        }),
        Decl::TypeAlias(t) => Value::TypeAlias(pb::TypeAlias {
            pos: pos_to(&t.pos),
            comments: t.comments.to_vec(),
            visibility: visibility_to(t.visibility),
            name: t.name.clone(),
            r#type: Some(Box::new(type_to(&t.ty))),
            metadata: metadata_to(&t.metadata),
        }),
        Decl::Config(c) => Value::Config(pb::Config {
            pos: pos_to(&c.pos),
            comments: c.comments.to_vec(),
            name: c.name.clone(),
            r#type: Some(type_to(&c.ty)),
        }),
        Decl::Secret(s) => Value::Secret(pb::Secret {
            pos: pos_to(&s.pos),
            comments: s.comments.to_vec(),
            name: s.name.clone(),
            r#type: Some(type_to(&s.ty)),
        }),
        Decl::Database(d) => Value::Database(pb::Database {
            pos: pos_to(&d.pos),
            comments: d.comments.to_vec(),
            r#type: d.engine.keyword().to_string(),
            name: d.name.clone(),
            metadata: metadata_to(&d.metadata),
            runtime: None,
        }),
        Decl::Topic(t) => Value::Topic(pb::Topic {
            pos: pos_to(&t.pos),
            comments: t.comments.to_vec(),
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
                    catch: catch.as_deref().map(ref_to),
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
