//! Protobuf descriptors → a realm schema. Pure: fed a descriptor pool,
//! returns a model.
//!
//! The mapping (also in docs/decisions.md, "Imported realms"):
//! - each service → a module of `export realm` verbs named after it
//!   (`AccountService` → `account`; collisions resolved by package segments,
//!   then numbers); each unary method → a verb, lowerCamelCase, with
//!   `+grpc "pkg.Service/Method"`; streaming methods are skipped and
//!   reported;
//! - messages and enums → data and enums in a module per protobuf package
//!   (`acme.bank.v1` → `acme_bank_v1`); nested names are flattened with `_`
//!   (`Outer.Inner` → `Outer_Inner`); only types the verbs reach are kept;
//! - fields are named by their JSON name (what callers send), with `+alias
//!   json` when that is not an identifier; `repeated` → list, `map<K, V>` →
//!   map, message-typed and `optional` fields → optional; each member of a
//!   `oneof` → an optional field with `+oneof <name>`;
//! - enums → `enum E: Int` keeping each value's name and number (JSON uses
//!   the names); aliases of a number keep the first name;
//! - well-known types → builtins: Timestamp → Time, Duration and FieldMask →
//!   String (their JSON forms, e.g. "1.5s"), wrappers → optional scalars,
//!   Empty → Unit, Struct/Value/ListValue/Any → Any;
//! - scalar numbers → Int or Float, bool → Bool, string → String, bytes →
//!   Bytes;
//! - every message gets `+protobuf "pkg.Message"` and each of its fields
//!   `+protobuf <type> ["proto_name"]` (see `schema::protobuf`): what the
//!   ingress needs to read proto3 JSON as protobuf does;
//! - leading comments of services, methods, messages, fields and enums (when
//!   the descriptors carry source info) → doc comments.

use crate::schema::model::{ThinVec, thin_vec};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    ServiceDescriptor,
};

use crate::schema::is_ident;
use crate::schema::protobuf::{ProtoKind, ProtoType};
use crate::schema::{
    Data, Decl, Enum, EnumVariant, Field, Metadata, MetadataKind, Module, Realm, Ref, Type,
    VariantValue, Verb, Visibility,
};

/// A method that has no verb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// `package.Service/Method`.
    pub method: String,
    /// Why: "server streaming", "client streaming", "bidirectional streaming".
    pub reason: &'static str,
}

/// A realm made from descriptors.
#[derive(Clone, Debug)]
pub struct Conversion {
    pub realm: Realm,
    pub skipped: Vec<Skipped>,
}

/// Converts `services` of `pool` (full names; all services when empty) into
/// the internal realm `name`.
pub fn convert(
    pool: &DescriptorPool,
    services: &[String],
    name: &str,
) -> Result<Conversion, String> {
    let mut selected: Vec<ServiceDescriptor> = if services.is_empty() {
        pool.services().collect()
    } else {
        services
            .iter()
            .map(|s| {
                pool.get_service_by_name(s)
                    .ok_or_else(|| format!("service `{s}` is not in the descriptors"))
            })
            .collect::<Result<_, _>>()?
    };
    selected.retain(|s| !s.full_name().starts_with("grpc.reflection."));
    selected.sort_by(|a, b| a.full_name().cmp(b.full_name()));

    // The methods that become verbs, and the types they reach.
    let mut skipped = Vec::new();
    let mut unary: Vec<(ServiceDescriptor, Vec<MethodDescriptor>)> = Vec::new();
    let mut roots = Vec::new();
    for service in &selected {
        let mut methods = Vec::new();
        for method in service.methods() {
            let reason = match (method.is_client_streaming(), method.is_server_streaming()) {
                (false, false) => None,
                (true, false) => Some("client streaming"),
                (false, true) => Some("server streaming"),
                (true, true) => Some("bidirectional streaming"),
            };
            match reason {
                Some(reason) => skipped.push(Skipped {
                    method: grpc_path(&method),
                    reason,
                }),
                None => {
                    roots.push(method.input());
                    roots.push(method.output());
                    methods.push(method);
                }
            }
        }
        unary.push((service.clone(), methods));
    }
    let (messages, enums) = reachable(&roots);

    let mut names = Names::default();
    // Type modules first (by package), then service modules.
    let mut packages: BTreeSet<String> = BTreeSet::new();
    packages.extend(messages.keys().map(|m| package_of_message(&messages[m])));
    packages.extend(enums.keys().map(|e| enums[e].package_name().to_string()));
    let mut package_modules = HashMap::new();
    for package in &packages {
        let candidate = if package.is_empty() {
            "types".to_string()
        } else {
            package.replace('.', "_").to_ascii_lowercase()
        };
        package_modules.insert(package.clone(), names.module(&candidate, package));
    }
    let mut service_modules = Vec::new();
    for (service, _) in &unary {
        let simple = service.name();
        let base = simple
            .strip_suffix("Service")
            .filter(|s| !s.is_empty())
            .unwrap_or(simple);
        service_modules.push(names.module(&snake_case(base), service.package_name()));
    }

    // Declaration names inside each package module.
    let mut type_names: HashMap<String, Ref> = HashMap::new();
    let mut taken: HashMap<String, HashSet<String>> = HashMap::new();
    let all_types: BTreeSet<(String, String)> = messages
        .values()
        .map(|m| (m.full_name().to_string(), package_of_message(m)))
        .chain(
            enums
                .values()
                .map(|e| (e.full_name().to_string(), e.package_name().to_string())),
        )
        .collect();
    for (full_name, package) in &all_types {
        let module = &package_modules[package];
        let relative = full_name
            .strip_prefix(package.as_str())
            .map(|s| s.trim_start_matches('.'))
            .unwrap_or(full_name);
        let mut decl_name = relative.replace('.', "_");
        if crate::schema::Type::scalar(&decl_name).is_some() {
            decl_name.push('_');
        }
        let used = taken.entry(module.clone()).or_default();
        let decl_name = unique(&decl_name, used);
        type_names.insert(full_name.clone(), Ref::new(module, &decl_name));
    }

    let comments = Comments::of(pool);
    let ctx = Ctx {
        names: &type_names,
        comments: &comments,
    };
    let mut modules: BTreeMap<String, Module> = BTreeMap::new();
    for (full_name, _) in &all_types {
        let r = &type_names[full_name];
        let module_name = r.module.clone().unwrap_or_default();
        let decl = if let Some(message) = messages.get(full_name) {
            Decl::Data(ctx.data(message, &r.name))
        } else {
            Decl::Enum(ctx.enumeration(&enums[full_name], &r.name))
        };
        modules
            .entry(module_name.clone())
            .or_insert_with(|| Module {
                name: module_name,
                ..Module::default()
            })
            .decls
            .push(decl);
    }
    let mut service_module_list = Vec::new();
    for ((service, methods), module_name) in unary.iter().zip(service_modules) {
        let mut used = HashSet::new();
        let decls = methods
            .iter()
            .map(|method| {
                let verb_name = unique(&lower_camel(method.name()), &mut used);
                Decl::Verb(Verb {
                    pos: None,
                    comments: ctx.comments.get(method.parent_file().name(), method.path()),
                    visibility: Visibility::ExportRealm,
                    name: verb_name,
                    request: ctx.message_type(&method.input()),
                    response: ctx.message_type(&method.output()),
                    metadata: thin_vec![Metadata::from(MetadataKind::Grpc(grpc_path(method)))],
                })
            })
            .collect();
        service_module_list.push(Module {
            pos: None,
            comments: ctx
                .comments
                .get(service.parent_file().name(), service.path()),
            builtin: false,
            name: module_name,
            metadata: ThinVec::new(),
            decls,
        });
    }
    // Modules in name order: type modules and service modules together.
    let mut all: Vec<Module> = modules.into_values().chain(service_module_list).collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Conversion {
        realm: Realm {
            pos: None,
            comments: ThinVec::new(),
            external: false,
            name: name.to_string(),
            modules: all,
        },
        skipped,
    })
}

/// `package.Service/Method`, the gRPC path without its leading `/`.
pub fn grpc_path(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().full_name(), method.name())
}

/// Well-known types that map to builtins.
fn well_known(full_name: &str) -> Option<Type> {
    let optional = |t| Type::Optional(Box::new(t));
    Some(match full_name {
        "google.protobuf.Timestamp" => Type::Time,
        "google.protobuf.Duration" | "google.protobuf.FieldMask" => Type::String,
        "google.protobuf.Empty" => Type::Unit,
        "google.protobuf.Struct"
        | "google.protobuf.Value"
        | "google.protobuf.ListValue"
        | "google.protobuf.Any"
        | "google.protobuf.NullValue" => Type::Any,
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => optional(Type::Float),
        "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value" => optional(Type::Int),
        "google.protobuf.BoolValue" => optional(Type::Bool),
        "google.protobuf.StringValue" => optional(Type::String),
        "google.protobuf.BytesValue" => optional(Type::Bytes),
        _ => return None,
    })
}

/// Every message and enum reachable from `roots` through fields, well-known
/// types and map entries excluded.
fn reachable(
    roots: &[MessageDescriptor],
) -> (
    BTreeMap<String, MessageDescriptor>,
    BTreeMap<String, EnumDescriptor>,
) {
    let mut messages = BTreeMap::new();
    let mut enums = BTreeMap::new();
    let mut stack: Vec<MessageDescriptor> = roots.to_vec();
    while let Some(message) = stack.pop() {
        if well_known(message.full_name()).is_some() || messages.contains_key(message.full_name()) {
            continue;
        }
        if !message.is_map_entry() {
            messages.insert(message.full_name().to_string(), message.clone());
        }
        for field in message.fields() {
            match field.kind() {
                Kind::Message(m) => stack.push(m),
                Kind::Enum(e) if well_known(e.full_name()).is_none() => {
                    enums.insert(e.full_name().to_string(), e);
                }
                _ => {}
            }
        }
    }
    (messages, enums)
}

fn package_of_message(m: &MessageDescriptor) -> String {
    m.package_name().to_string()
}

/// Module names, unique and valid.
#[derive(Default)]
struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// `candidate`, or with package segments prefixed (last first) until it
    /// is free, or with a number.
    fn module(&mut self, candidate: &str, package: &str) -> String {
        let mut name = sanitize(candidate);
        let segments: Vec<&str> = package.split('.').filter(|s| !s.is_empty()).collect();
        let mut prefix = Vec::new();
        for segment in segments.iter().rev() {
            if !self.is_taken(&name) {
                break;
            }
            prefix.insert(0, sanitize(&segment.to_ascii_lowercase()));
            name = format!("{}_{}", prefix.join("_"), sanitize(candidate));
        }
        let name = unique(&name, &mut self.taken_with_reserved());
        self.taken.insert(name.clone());
        name
    }

    fn is_taken(&self, name: &str) -> bool {
        name == "builtin" || self.taken.contains(name)
    }

    fn taken_with_reserved(&self) -> HashSet<String> {
        let mut t = self.taken.clone();
        t.insert("builtin".into());
        t
    }
}

/// `name`, or `name_2`, `name_3`, ... whichever is not in `taken`; the
/// result is added to `taken`.
fn unique(name: &str, taken: &mut HashSet<String>) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// An identifier from any text: invalid characters become `_`, a leading
/// digit gets a `_` before it.
fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// `AccountService` → `account_service`, `HTTPServer` → `http_server`.
fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `GetAccount` → `getAccount`.
fn lower_camel(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Leading comments by file and descriptor path, built once: looking each
/// path up in a file's source info would scan every location of the file
/// per element.
#[derive(Default)]
struct Comments {
    by_file: HashMap<String, HashMap<Vec<i32>, Vec<String>>>,
}

impl Comments {
    fn of(pool: &DescriptorPool) -> Comments {
        let mut by_file = HashMap::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            let Some(info) = &proto.source_code_info else {
                continue;
            };
            let mut paths = HashMap::new();
            for location in &info.location {
                if let Some(text) = &location.leading_comments {
                    let lines = comment_lines(text);
                    if !lines.is_empty() {
                        paths.entry(location.path.clone()).or_insert(lines);
                    }
                }
            }
            by_file.insert(proto.name().to_string(), paths);
        }
        Comments { by_file }
    }

    fn get(&self, file: &str, path: &[i32]) -> ThinVec<String> {
        self.by_file
            .get(file)
            .and_then(|paths| paths.get(path))
            .map(|lines| ThinVec::from(lines.as_slice()))
            .unwrap_or_default()
    }
}

/// A comment block as lines: one leading space and trailing blanks
/// removed, blank lines at the ends dropped.
fn comment_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_string())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    while lines.first().is_some_and(String::is_empty) {
        lines.remove(0);
    }
    lines
}

/// The `+protobuf` type of a field: a map's key and value kinds, a
/// repeated field's element kind, or the field's kind.
fn proto_type(field: &FieldDescriptor) -> ProtoType {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        return ProtoType::map(
            proto_kind(&entry.map_entry_key_field().kind()),
            proto_kind(&entry.map_entry_value_field().kind()),
        );
    }
    ProtoType::new(proto_kind(&field.kind()))
}

fn proto_kind(kind: &Kind) -> ProtoKind {
    match kind {
        Kind::Double => ProtoKind::Double,
        Kind::Float => ProtoKind::Float,
        Kind::Int32 => ProtoKind::Int32,
        Kind::Int64 => ProtoKind::Int64,
        Kind::Uint32 => ProtoKind::Uint32,
        Kind::Uint64 => ProtoKind::Uint64,
        Kind::Sint32 => ProtoKind::Sint32,
        Kind::Sint64 => ProtoKind::Sint64,
        Kind::Fixed32 => ProtoKind::Fixed32,
        Kind::Fixed64 => ProtoKind::Fixed64,
        Kind::Sfixed32 => ProtoKind::Sfixed32,
        Kind::Sfixed64 => ProtoKind::Sfixed64,
        Kind::Bool => ProtoKind::Bool,
        Kind::String => ProtoKind::String,
        Kind::Bytes => ProtoKind::Bytes,
        Kind::Message(m) => ProtoKind::well_known(m.full_name()).unwrap_or(ProtoKind::Message),
        Kind::Enum(e) => ProtoKind::well_known(e.full_name()).unwrap_or(ProtoKind::Enum),
    }
}

struct Ctx<'a> {
    names: &'a HashMap<String, Ref>,
    comments: &'a Comments,
}

impl Ctx<'_> {
    fn reference(&self, full_name: &str) -> Type {
        match self.names.get(full_name) {
            Some(r) => Type::from(r.clone()),
            // Unreachable: every reachable type was named.
            None => Type::Any,
        }
    }

    /// A message as a verb's request or response: no optional around it.
    fn message_type(&self, message: &MessageDescriptor) -> Type {
        well_known(message.full_name()).unwrap_or_else(|| self.reference(message.full_name()))
    }

    fn scalar(&self, kind: &Kind) -> Type {
        match kind {
            Kind::Double | Kind::Float => Type::Float,
            Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Sint32
            | Kind::Sint64
            | Kind::Fixed32
            | Kind::Fixed64
            | Kind::Sfixed32
            | Kind::Sfixed64 => Type::Int,
            Kind::Bool => Type::Bool,
            Kind::String => Type::String,
            Kind::Bytes => Type::Bytes,
            Kind::Message(m) => self.message_type(m),
            Kind::Enum(e) => {
                well_known(e.full_name()).unwrap_or_else(|| self.reference(e.full_name()))
            }
        }
    }

    fn field_type(&self, field: &FieldDescriptor) -> Type {
        let kind = field.kind();
        if field.is_map() {
            let Kind::Message(entry) = &kind else {
                return Type::Any;
            };
            let key = entry.map_entry_key_field();
            let value = entry.map_entry_value_field();
            return Type::Map(
                Box::new(self.scalar(&key.kind())),
                Box::new(self.scalar(&value.kind())),
            );
        }
        let element = self.scalar(&kind);
        if field.is_list() {
            return Type::List(Box::new(element));
        }
        let required = field.cardinality() == prost_reflect::Cardinality::Required;
        let optional = !required && (matches!(kind, Kind::Message(_)) || field.supports_presence());
        match element {
            Type::Optional(_) | Type::Unit => element,
            t if optional => Type::Optional(Box::new(t)),
            t => t,
        }
    }

    fn data(&self, message: &MessageDescriptor, name: &str) -> Data {
        let file = message.parent_file();
        let fields = message
            .fields()
            .map(|field| {
                let json = field.json_name();
                let (field_name, mut metadata) = if is_ident(json) {
                    (json.to_string(), Vec::new())
                } else {
                    (
                        sanitize(field.name()),
                        vec![Metadata::from(MetadataKind::Alias {
                            kind: "json".into(),
                            alias: json.to_string(),
                        })],
                    )
                };
                let proto_name = (field.name() != json).then(|| field.name().to_string());
                metadata.push(Metadata::from(MetadataKind::ProtobufField {
                    ty: proto_type(&field),
                    name: proto_name,
                }));
                let mut ty = self.field_type(&field);
                let mut field_comments = self.comments.get(file.name(), field.path());
                if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
                    if !matches!(ty, Type::Optional(_)) {
                        ty = Type::Optional(Box::new(ty));
                    }
                    metadata.push(Metadata::from(MetadataKind::Oneof(sanitize(&lower_camel(
                        oneof.name(),
                    )))));
                    // The oneof's own comment goes on its first field.
                    if oneof
                        .fields()
                        .next()
                        .is_some_and(|first| first.number() == field.number())
                    {
                        let mut group = self.comments.get(file.name(), oneof.path());
                        group.append(&mut field_comments);
                        field_comments = group;
                    }
                }
                Field {
                    pos: None,
                    comments: field_comments,
                    name: field_name,
                    ty,
                    metadata: metadata.into(),
                }
            })
            .collect();
        Data {
            pos: None,
            comments: self.comments.get(file.name(), message.path()),
            visibility: Visibility::ExportRealm,
            name: name.to_string(),
            type_params: ThinVec::new(),
            metadata: thin_vec![Metadata::from(MetadataKind::ProtobufMessage(
                message.full_name().to_string(),
            ))],
            fields,
        }
    }

    fn enumeration(&self, e: &EnumDescriptor, name: &str) -> Enum {
        let file = e.parent_file();
        let mut seen = HashSet::new();
        let variants = e
            .values()
            .filter(|v| seen.insert(v.number()))
            .map(|v| EnumVariant {
                pos: None,
                comments: self.comments.get(file.name(), v.path()),
                name: sanitize(v.name()),
                value: VariantValue::Int(i64::from(v.number())),
            })
            .collect();
        Enum {
            pos: None,
            comments: self.comments.get(file.name(), e.path()),
            visibility: Visibility::ExportRealm,
            name: name.to_string(),
            ty: Some(Type::Int),
            variants,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake_case("AccountService"), "account_service");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("V2Api"), "v2_api");
        assert_eq!(lower_camel("GetAccount"), "getAccount");
        assert_eq!(sanitize("9lives"), "_9lives");
        let mut names = Names::default();
        assert_eq!(names.module("accounts", "acme.bank.v1"), "accounts");
        assert_eq!(names.module("accounts", "acme.crm.v1"), "v1_accounts");
        assert_eq!(names.module("accounts", "acme.crm.v1"), "crm_v1_accounts");
        assert_eq!(names.module("builtin", ""), "builtin_2");
    }
}
