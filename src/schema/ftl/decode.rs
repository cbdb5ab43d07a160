//! FTL's protobuf → model, checking that it can be one (protobuf from
//! outside: a pinned realm).

use std::collections::HashMap;
use std::sync::Arc;

use super::super::diagnostic::Diagnostic;
use super::super::model::*;
use super::super::parser;
use super::pb;
use super::{GRPC, ONEOF, PROTOBUF_FIELD, PROTOBUF_MESSAGE};

type Result<T, E = Diagnostic> = std::result::Result<T, E>;

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
                comments: ThinVec::new(),
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
                comments: m.comments.into(),
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
                            comments: f.comments.into(),
                            ty: c.required_type("the field", f.r#type)?,
                            metadata: c.metadata(f.metadata)?,
                            name,
                        })
                    })
                })
                .collect::<Result<_>>()?;
            Ok(Data {
                pos: c.pos(d.pos),
                comments: d.comments.into(),
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
                        comments: v.comments.into(),
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
                                    comments: v.comments.into(),
                                    name,
                                    value,
                                })
                            })
                        })
                        .collect::<Result<_>>()?;
                    Ok(Decl::Enum(Enum {
                        pos: c.pos(e.pos),
                        comments: e.comments.into(),
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
                        comments: t.comments.into(),
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
                        comments: cfg.comments.into(),
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
                        comments: s.comments.into(),
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
                        comments: d.comments.into(),
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
                        comments: t.comments.into(),
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
            Value::Ref(r) => Type::from(self.reference(r)?),
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

    fn metadata(&mut self, metadata: Vec<pb::Metadata>) -> Result<ThinVec<Metadata>> {
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
                                Some(c) => Some(Box::new(self.qualified_ref(Some(c))?)),
                                None => None,
                            },
                        },
                    ),
                    Value::Subscriber(s) => (
                        s.pos,
                        MetadataKind::Subscribe {
                            topic: Box::new(self.qualified_ref(s.topic)?),
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
