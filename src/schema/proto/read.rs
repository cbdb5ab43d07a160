//! `realm.schema.v1` protobuf to the model, checked as it converts (a
//! pinned public API comes from outside): required oneofs set, names are
//! identifiers, enum values known; errors name the node by its path.

use std::collections::HashMap;
use std::sync::Arc;

use super::pb;
use crate::schema::diagnostic::Diagnostic;
use crate::schema::model::*;
use crate::schema::parser;

type Result<T, E = Diagnostic> = std::result::Result<T, E>;

/// Converts protobuf into the model, remembering where it is for errors.
#[derive(Default)]
pub(super) struct FromProto {
    /// One `Arc` per distinct file name.
    files: HashMap<String, Arc<str>>,
    /// `realm bank`, `module balance`, `verb withdraw`, ...
    path: Vec<String>,
    /// How many types enclose the one being converted (at most
    /// [`MAX_TYPE_DEPTH`], as in schema text).
    type_depth: usize,
}

impl FromProto {
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
        let file = match self.files.get(&p.file) {
            Some(f) => f.clone(),
            None => {
                let f: Arc<str> = Arc::from(p.file.as_str());
                self.files.insert(p.file, f.clone());
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

    /// One of the words schema text allows here.
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
            Ok(pb::Visibility::Private) => Ok(Visibility::Private),
            Ok(pb::Visibility::Export) => Ok(Visibility::Export),
            Ok(pb::Visibility::ExportRealm) => Ok(Visibility::ExportRealm),
            Err(_) => Err(self.error(format!("unknown visibility {v}"))),
        }
    }

    pub(super) fn realm(&mut self, r: pb::Realm) -> Result<Realm> {
        let name = self.ident("realm", r.name)?;
        self.within(format!("realm {name}"), |c| {
            Ok(Realm {
                pos: c.pos(r.pos),
                comments: r.comments.into(),
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

    fn decl(&mut self, d: pb::Decl) -> Result<Decl> {
        use pb::decl::Value;
        let Some(value) = d.value else {
            return Err(self.error("declaration with no kind set"));
        };
        Ok(match value {
            Value::Data(d) => {
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
                    Ok(Decl::Data(Data {
                        pos: c.pos(d.pos),
                        comments: d.comments.into(),
                        visibility: c.visibility(d.visibility)?,
                        name,
                        type_params,
                        metadata: c.metadata(d.metadata)?,
                        fields,
                    }))
                })?
            }
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
                    let ty = e.r#type.map(|t| c.ty(t)).transpose()?;
                    let variants = e
                        .variants
                        .into_iter()
                        .map(|v| {
                            let name = c.ident("variant", v.name)?;
                            c.within(format!("variant {name}"), |c| {
                                use pb::enum_variant::Value as V;
                                let value = match v.value {
                                    Some(V::IntValue(n)) => VariantValue::Int(n),
                                    Some(V::StringValue(s)) => VariantValue::String(s),
                                    Some(V::TypeValue(t)) => VariantValue::Type(c.ty(t)?),
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
                        ty: c.required_type("the type alias", t.r#type)?,
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
                    let engine = DatabaseEngine::from_keyword(&d.engine).ok_or_else(|| {
                        c.error(format!(
                            "unknown database engine {:?}; expected \"postgres\" or \"mysql\"",
                            d.engine
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
            Value::List(l) => Type::List(self.boxed_type("a list element", l.element)?),
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
        })
    }

    fn reference(&mut self, r: pb::Ref) -> Result<Ref> {
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let realm = non_empty(r.realm)
            .map(|s| self.ident("realm", s))
            .transpose()?;
        let module = non_empty(r.module)
            .map(|s| self.ident("module", s))
            .transpose()?;
        Ok(Ref {
            pos: self.pos(r.pos),
            realm,
            module,
            name: self.ident("referenced", r.name)?,
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

    fn metadata(&mut self, metadata: Vec<pb::Metadata>) -> Result<ThinVec<Metadata>> {
        use pb::metadata::Value;
        metadata
            .into_iter()
            .map(|m| {
                let Some(value) = m.value else {
                    return Err(self.error("metadata with no kind set"));
                };
                let kind = match value {
                    Value::Calls(c) => MetadataKind::Calls(self.qualified_refs(c.calls)?),
                    Value::Ingress(i) => {
                        self.one_of("ingress type", &i.r#type, &["http"])?;
                        self.one_of("ingress method", &i.method, parser::HTTP_METHODS)?;
                        if let Some(problem) = parser::ingress_path_problem(&i.path) {
                            return Err(self.error(problem.message));
                        }
                        MetadataKind::Ingress {
                            kind: i.r#type,
                            method: i.method,
                            path: i.path,
                        }
                    }
                    Value::Cron(c) => {
                        if c.cron.trim().is_empty() || c.cron.contains('\n') || c.cron.trim() != c.cron {
                            return Err(self.error(format!("invalid cron expression {:?}", c.cron)));
                        }
                        MetadataKind::Cron(c.cron)
                    }
                    Value::Retry(r) => MetadataKind::Retry {
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
                    Value::Subscribe(s) => MetadataKind::Subscribe {
                        topic: Box::new(self.qualified_ref(s.topic)?),
                        from: match s.from.as_str() {
                            "" => None,
                            "beginning" => Some(SubscribeFrom::Beginning),
                            "latest" => Some(SubscribeFrom::Latest),
                            other => {
                                return Err(self.error(format!(
                                    "unknown subscription start {other:?}; expected \"beginning\" or \"latest\""
                                )));
                            }
                        },
                        dead_letter: s.dead_letter,
                    },
                    Value::Publish(p) => MetadataKind::Publish(self.qualified_refs(p.topics)?),
                    Value::TypeMap(t) => {
                        self.one_of("typemap runtime", &t.runtime, parser::TYPEMAP_RUNTIMES)?;
                        MetadataKind::TypeMap {
                            runtime: t.runtime,
                            native_name: t.native_name,
                        }
                    }
                    Value::Alias(a) => {
                        self.one_of("alias kind", &a.kind, &["json"])?;
                        MetadataKind::Alias {
                            kind: a.kind,
                            alias: a.alias,
                        }
                    }
                    Value::Encoding(e) => {
                        self.one_of("encoding", &e.r#type, &["json"])?;
                        MetadataKind::Encoding {
                            kind: e.r#type,
                            lenient: e.lenient,
                        }
                    }
                    Value::DatabaseUses(u) => MetadataKind::DatabaseUses(self.qualified_refs(u.uses)?),
                    Value::ConfigUses(u) => MetadataKind::ConfigUses(self.qualified_refs(u.uses)?),
                    Value::SecretsUses(u) => MetadataKind::SecretsUses(self.qualified_refs(u.uses)?),
                    Value::Partitions(p) => MetadataKind::Partitions(p.partitions),
                    Value::Egress(e) => MetadataKind::Egress(e.targets),
                    Value::Generated(_) => MetadataKind::Generated,
                    Value::Transaction(_) => MetadataKind::Transaction,
                    Value::Fixture(f) => MetadataKind::Fixture { manual: f.manual },
                    Value::SqlQuery(q) => MetadataKind::SqlQuery {
                        command: self.ident("query command", q.command)?,
                        query: q.query,
                    },
                    Value::SqlColumn(c) => MetadataKind::SqlColumn {
                        table: self.non_empty("table", c.table)?,
                        name: self.non_empty("column", c.name)?,
                    },
                    Value::Migration(m) => {
                        if !parser::is_migration_digest(&m.digest) {
                            return Err(self.error(format!(
                                "migration digest {:?} is not `sha256:` and 64 hex digits",
                                m.digest
                            )));
                        }
                        MetadataKind::Migration(m.digest)
                    }
                    Value::Artefact(a) => MetadataKind::Artefact {
                        path: a.path,
                        digest: a.digest,
                        executable: a.executable,
                    },
                    Value::Git(g) => MetadataKind::Git {
                        repository: g.repository,
                        commit: g.commit,
                        dirty: g.dirty,
                    },
                    Value::Image(i) => MetadataKind::Image {
                        image: i.image,
                        digest: i.digest,
                    },
                    Value::Grpc(g) => MetadataKind::Grpc(g.method),
                    Value::OneOf(o) => MetadataKind::Oneof(self.ident("oneof group", o.name)?),
                    Value::ProtobufMessage(m) => MetadataKind::ProtobufMessage(m.name),
                    Value::ProtobufField(f) => MetadataKind::ProtobufField {
                        ty: f.r#type.parse().map_err(|e: String| self.error(e))?,
                        name: f.name,
                    },
                };
                Ok(Metadata {
                    pos: self.pos(m.pos),
                    kind,
                })
            })
            .collect()
    }
}
