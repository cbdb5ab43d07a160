//! Model to `realm.schema.v1` protobuf: lossless, positions included.

use super::pb;
use crate::schema::model::*;

fn pos_to(pos: &Option<Pos>) -> Option<pb::Position> {
    pos.as_ref().map(|p| pb::Position {
        file: p.file.to_string(),
        line: i64::from(p.line),
        column: i64::from(p.column),
    })
}

fn visibility_to(v: Visibility) -> i32 {
    match v {
        Visibility::Private => pb::Visibility::Private as i32,
        Visibility::Export => pb::Visibility::Export as i32,
        Visibility::ExportRealm => pb::Visibility::ExportRealm as i32,
    }
}

pub(super) fn realm_to(r: &Realm) -> pb::Realm {
    pb::Realm {
        pos: pos_to(&r.pos),
        comments: r.comments.to_vec(),
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
    }
}

fn decl_to(d: &Decl) -> pb::Decl {
    use pb::decl::Value;
    let value = match d {
        Decl::Data(d) => Value::Data(pb::Data {
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
        }),
        Decl::Verb(v) => Value::Verb(pb::Verb {
            pos: pos_to(&v.pos),
            comments: v.comments.to_vec(),
            visibility: visibility_to(v.visibility),
            name: v.name.clone(),
            request: Some(type_to(&v.request)),
            response: Some(type_to(&v.response)),
            metadata: metadata_to(&v.metadata),
        }),
        Decl::Enum(e) => Value::Enum(pb::Enum {
            pos: pos_to(&e.pos),
            comments: e.comments.to_vec(),
            visibility: visibility_to(e.visibility),
            name: e.name.clone(),
            r#type: e.ty.as_ref().map(type_to),
            variants: e
                .variants
                .iter()
                .map(|v| pb::EnumVariant {
                    pos: pos_to(&v.pos),
                    comments: v.comments.to_vec(),
                    name: v.name.clone(),
                    value: Some(match &v.value {
                        VariantValue::Int(n) => pb::enum_variant::Value::IntValue(*n),
                        VariantValue::String(s) => pb::enum_variant::Value::StringValue(s.clone()),
                        VariantValue::Type(t) => pb::enum_variant::Value::TypeValue(type_to(t)),
                    }),
                })
                .collect(),
        }),
        Decl::TypeAlias(t) => Value::TypeAlias(pb::TypeAlias {
            pos: pos_to(&t.pos),
            comments: t.comments.to_vec(),
            visibility: visibility_to(t.visibility),
            name: t.name.clone(),
            r#type: Some(type_to(&t.ty)),
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
            engine: d.engine.keyword().to_string(),
            name: d.name.clone(),
            metadata: metadata_to(&d.metadata),
        }),
        Decl::Topic(t) => Value::Topic(pb::Topic {
            pos: pos_to(&t.pos),
            comments: t.comments.to_vec(),
            visibility: visibility_to(t.visibility),
            name: t.name.clone(),
            event: Some(type_to(&t.event)),
            metadata: metadata_to(&t.metadata),
        }),
    };
    pb::Decl { value: Some(value) }
}

fn type_to(t: &Type) -> pb::Type {
    use pb::r#type::Value;
    let value = match t {
        Type::Int => Value::Int(pb::Int {}),
        Type::Float => Value::Float(pb::Float {}),
        Type::String => Value::String(pb::String {}),
        Type::Bytes => Value::Bytes(pb::Bytes {}),
        Type::Bool => Value::Bool(pb::Bool {}),
        Type::Time => Value::Time(pb::Time {}),
        Type::Any => Value::Any(pb::Any {}),
        Type::Unit => Value::Unit(pb::Unit {}),
        Type::List(e) => Value::List(Box::new(pb::List {
            element: Some(Box::new(type_to(e))),
        })),
        Type::Map(k, v) => Value::Map(Box::new(pb::Map {
            key: Some(Box::new(type_to(k))),
            value: Some(Box::new(type_to(v))),
        })),
        Type::Optional(inner) => Value::Optional(Box::new(pb::Optional {
            r#type: Some(Box::new(type_to(inner))),
        })),
        Type::Ref(r) => Value::Ref(ref_to(r)),
    };
    pb::Type { value: Some(value) }
}

fn ref_to(r: &Ref) -> pb::Ref {
    pb::Ref {
        pos: pos_to(&r.pos),
        realm: r.realm.clone().unwrap_or_default(),
        module: r.module.clone().unwrap_or_default(),
        name: r.name.clone(),
        type_parameters: r.type_args.iter().map(type_to).collect(),
    }
}

fn refs_to(refs: &[Ref]) -> Vec<pb::Ref> {
    refs.iter().map(ref_to).collect()
}

fn metadata_to(metadata: &[Metadata]) -> Vec<pb::Metadata> {
    use pb::metadata::Value;
    metadata
        .iter()
        .map(|m| {
            let value = match &m.kind {
                MetadataKind::Calls(refs) => Value::Calls(pb::MetadataCalls {
                    calls: refs_to(refs),
                }),
                MetadataKind::Ingress { kind, method, path } => {
                    Value::Ingress(pb::MetadataIngress {
                        r#type: kind.clone(),
                        method: method.clone(),
                        path: path.clone(),
                    })
                }
                MetadataKind::Cron(cron) => Value::Cron(pb::MetadataCron { cron: cron.clone() }),
                MetadataKind::Retry {
                    count,
                    min_backoff,
                    max_backoff,
                    catch,
                } => Value::Retry(pb::MetadataRetry {
                    count: *count,
                    min_backoff: min_backoff.clone(),
                    max_backoff: max_backoff.clone().unwrap_or_default(),
                    catch: catch.as_deref().map(ref_to),
                }),
                MetadataKind::Subscribe {
                    topic,
                    from,
                    dead_letter,
                } => Value::Subscribe(pb::MetadataSubscribe {
                    topic: Some(ref_to(topic)),
                    from: from.map(|f| f.keyword().to_string()).unwrap_or_default(),
                    dead_letter: *dead_letter,
                }),
                MetadataKind::Publish(refs) => Value::Publish(pb::MetadataPublish {
                    topics: refs_to(refs),
                }),
                MetadataKind::TypeMap {
                    runtime,
                    native_name,
                } => Value::TypeMap(pb::MetadataTypeMap {
                    runtime: runtime.clone(),
                    native_name: native_name.clone(),
                }),
                MetadataKind::Alias { kind, alias } => Value::Alias(pb::MetadataAlias {
                    kind: kind.clone(),
                    alias: alias.clone(),
                }),
                MetadataKind::Encoding { kind, lenient } => Value::Encoding(pb::MetadataEncoding {
                    r#type: kind.clone(),
                    lenient: *lenient,
                }),
                MetadataKind::DatabaseUses(refs) => Value::DatabaseUses(pb::MetadataDatabaseUses {
                    uses: refs_to(refs),
                }),
                MetadataKind::ConfigUses(refs) => Value::ConfigUses(pb::MetadataConfigUses {
                    uses: refs_to(refs),
                }),
                MetadataKind::SecretsUses(refs) => Value::SecretsUses(pb::MetadataSecretsUses {
                    uses: refs_to(refs),
                }),
                MetadataKind::Partitions(n) => {
                    Value::Partitions(pb::MetadataPartitions { partitions: *n })
                }
                MetadataKind::Egress(targets) => Value::Egress(pb::MetadataEgress {
                    targets: targets.clone(),
                }),
                MetadataKind::Generated => Value::Generated(pb::MetadataGenerated {}),
                MetadataKind::Transaction => Value::Transaction(pb::MetadataTransaction {}),
                MetadataKind::Fixture { manual } => {
                    Value::Fixture(pb::MetadataFixture { manual: *manual })
                }
                MetadataKind::SqlQuery { command, query } => {
                    Value::SqlQuery(pb::MetadataSqlQuery {
                        command: command.clone(),
                        query: query.clone(),
                    })
                }
                MetadataKind::SqlColumn { table, name } => {
                    Value::SqlColumn(pb::MetadataSqlColumn {
                        table: table.clone(),
                        name: name.clone(),
                    })
                }
                MetadataKind::Migration(digest) => Value::Migration(pb::MetadataMigration {
                    digest: digest.clone(),
                }),
                MetadataKind::Artefact {
                    path,
                    digest,
                    executable,
                } => Value::Artefact(pb::MetadataArtefact {
                    path: path.clone(),
                    digest: digest.clone(),
                    executable: *executable,
                }),
                MetadataKind::Git {
                    repository,
                    commit,
                    dirty,
                } => Value::Git(pb::MetadataGit {
                    repository: repository.clone(),
                    commit: commit.clone(),
                    dirty: *dirty,
                }),
                MetadataKind::Image { image, digest } => Value::Image(pb::MetadataImage {
                    image: image.clone(),
                    digest: digest.clone(),
                }),
                MetadataKind::Grpc(method) => Value::Grpc(pb::MetadataGrpc {
                    method: method.clone(),
                }),
                MetadataKind::Oneof(name) => Value::OneOf(pb::MetadataOneof { name: name.clone() }),
                MetadataKind::ProtobufMessage(name) => {
                    Value::ProtobufMessage(pb::MetadataProtobufMessage { name: name.clone() })
                }
                MetadataKind::ProtobufField { ty, name } => {
                    Value::ProtobufField(pb::MetadataProtobufField {
                        r#type: ty.to_string(),
                        name: name.clone(),
                    })
                }
            };
            pb::Metadata {
                pos: pos_to(&m.pos),
                value: Some(value),
            }
        })
        .collect()
}
