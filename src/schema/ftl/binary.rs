//! The binary encoding of FTL's schema message written straight from the
//! model: the bytes prost writes for [`super::to_ftl`]'s message (fields in
//! tag order, proto3 defaults left out, every set message written even when
//! empty), without making that message first.
//!
//! Making the prost values took a fifth of a large export's encoding
//! memory and most of its time: ~220,000 values, each name cloned, for the
//! public API of the 10,000-verb benchmark realm, then dropped. The field
//! numbers below are those of `schema/xyz/block/ftl/schema/v1/schema.proto`;
//! `tests::every_form_is_encoded_as_prost_encodes_it_and_written_as_its_text`
//! holds the two encodings byte for byte equal over every declaration, type
//! and metadata kind, and the proto-text written by the same walk
//! (`txtpb`'s `TextOut`) equal to the text of those bytes.

use rayon::prelude::*;

use super::super::model::*;
use super::{GRPC, ONEOF, PROTOBUF_FIELD, PROTOBUF_MESSAGE};

const VARINT: u32 = 0;
const LEN: u32 = 2;

/// What the walk of the model below writes to, field by field in FTL's
/// field order: the binary encoding ([`Out`]) or proto-text written
/// straight from the model (`txtpb`'s writer). One walk for both keeps
/// them describing the same message.
pub(crate) trait Encoder: Sized {
    /// A (proto3, implicit presence) string: nothing when empty.
    fn string(&mut self, field: u32, s: &str);
    /// A repeated string: every element, empty ones too.
    fn strings(&mut self, field: u32, strings: &[String]);
    /// A bool: nothing when false.
    fn bool(&mut self, field: u32, b: bool);
    /// An int64 or an enum: nothing when 0.
    fn int(&mut self, field: u32, v: i64);
    /// An `optional int64` that is set: written, 0 too.
    fn optional_int(&mut self, field: u32, v: i64);
    /// A message field whose body is written by `body` (written even when
    /// the body is empty).
    fn message<F: FnOnce(&mut Self)>(&mut self, field: u32, body: F);

    /// A message field that is set and empty.
    fn empty_message(&mut self, field: u32) {
        self.message(field, |_| {});
    }

    /// A node's `Position` (field 1), when it has one.
    fn pos(&mut self, pos: &Option<Pos>) {
        if let Some(p) = pos {
            self.message(1, |o| {
                o.string(1, &p.file);
                o.int(2, i64::from(p.line));
                o.int(3, i64::from(p.column));
            });
        }
    }
}

/// Protobuf's binary encoding of one message, written field by field.
struct Out(Vec<u8>);

impl Out {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u32) {
        self.varint(u64::from((field << 3) | wire));
    }

    /// A length-delimited field: bytes, a string, or an encoded message.
    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, LEN);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }
}

impl Encoder for Out {
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn strings(&mut self, field: u32, strings: &[String]) {
        for s in strings {
            self.bytes(field, s.as_bytes());
        }
    }

    fn bool(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, VARINT);
            self.0.push(1);
        }
    }

    /// As prost writes an `i32` enum: sign-extended.
    fn int(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.optional_int(field, v);
        }
    }

    fn optional_int(&mut self, field: u32, v: i64) {
        self.key(field, VARINT);
        self.varint(v as u64);
    }

    /// Its length put in front after the body (one byte kept for it; a
    /// longer length moves the body).
    fn message<F: FnOnce(&mut Self)>(&mut self, field: u32, body: F) {
        self.key(field, LEN);
        let at = self.0.len();
        self.0.push(0);
        body(self);
        let len = self.0.len() - at - 1;
        if len < 0x80 {
            self.0[at] = len as u8;
            return;
        }
        let mut head = Out(Vec::with_capacity(10));
        head.varint(len as u64);
        self.0.splice(at..=at, head.0);
    }

    fn empty_message(&mut self, field: u32) {
        self.bytes(field, &[]);
    }
}

/// The binary encoding of a schema: each realm's modules encoded on every
/// core, each into its own buffer, and taken in order.
pub fn encode_ftl(schema: &Schema) -> Vec<u8> {
    let mut out = Out(Vec::new());
    for r in &schema.realms {
        let modules: Vec<Vec<u8>> = r
            .modules
            .par_iter()
            .map(|m| {
                let mut o = Out(Vec::new());
                o.message(REALM_MODULES, |o| module(o, m));
                o.0
            })
            .collect();
        out.message(SCHEMA_REALMS, |o| {
            realm_head(o, r);
            o.0.reserve(modules.iter().map(Vec::len).sum());
            for bytes in modules {
                o.0.extend_from_slice(&bytes);
            }
        });
    }
    out.0
}

/// `Schema.realms`.
pub(crate) const SCHEMA_REALMS: u32 = 2;
/// `Realm.modules`.
pub(crate) const REALM_MODULES: u32 = 4;

/// A `Realm`'s fields before its modules.
pub(crate) fn realm_head<E: Encoder>(o: &mut E, r: &Realm) {
    o.pos(&r.pos);
    o.bool(2, r.external);
    o.string(3, &r.name);
}

fn visibility(v: Visibility) -> i64 {
    match v {
        Visibility::Private => 0,
        Visibility::Export => 1,
        Visibility::ExportRealm => 2,
    }
}

/// The body of a `Module`.
pub(crate) fn module<E: Encoder>(o: &mut E, m: &Module) {
    o.pos(&m.pos);
    o.strings(2, &m.comments);
    o.bool(3, m.builtin);
    o.string(4, &m.name);
    for d in &m.decls {
        o.message(5, |o| decl(o, d));
    }
    metadata(o, 6, &m.metadata);
}

fn decl<E: Encoder>(o: &mut E, d: &Decl) {
    match d {
        Decl::Data(d) => o.message(1, |o| {
            o.pos(&d.pos);
            o.strings(2, &d.comments);
            o.int(3, visibility(d.visibility));
            o.string(4, &d.name);
            for p in &d.type_params {
                o.message(5, |o| {
                    o.pos(&p.pos);
                    o.string(2, &p.name);
                });
            }
            for f in &d.fields {
                o.message(6, |o| {
                    o.pos(&f.pos);
                    o.string(2, &f.name);
                    o.strings(3, &f.comments);
                    o.message(4, |o| ty(o, &f.ty));
                    metadata(o, 5, &f.metadata);
                });
            }
            metadata(o, 7, &d.metadata);
        }),
        Decl::Verb(v) => o.message(2, |o| {
            o.pos(&v.pos);
            o.strings(2, &v.comments);
            o.int(3, visibility(v.visibility));
            o.string(4, &v.name);
            o.message(5, |o| ty(o, &v.request));
            o.message(6, |o| ty(o, &v.response));
            metadata(o, 7, &v.metadata);
        }),
        Decl::Database(d) => o.message(3, |o| {
            o.pos(&d.pos);
            o.strings(2, &d.comments);
            o.string(3, &d.name);
            o.string(4, d.engine.keyword());
            metadata(o, 5, &d.metadata);
        }),
        Decl::Enum(e) => o.message(4, |o| {
            o.pos(&e.pos);
            o.strings(2, &e.comments);
            o.int(3, visibility(e.visibility));
            o.string(4, &e.name);
            if let Some(t) = &e.ty {
                o.message(5, |o| ty(o, t));
            }
            for v in &e.variants {
                o.message(6, |o| {
                    o.pos(&v.pos);
                    o.strings(2, &v.comments);
                    o.string(3, &v.name);
                    // `Value`, whose one field is the value's kind.
                    o.message(4, |o| match &v.value {
                        VariantValue::String(s) => o.message(1, |o| o.string(2, s)),
                        VariantValue::Int(n) => o.message(2, |o| o.int(2, *n)),
                        VariantValue::Type(t) => o.message(3, |o| o.message(2, |o| ty(o, t))),
                    });
                });
            }
        }),
        Decl::TypeAlias(t) => o.message(5, |o| {
            o.pos(&t.pos);
            o.strings(2, &t.comments);
            o.int(3, visibility(t.visibility));
            o.string(4, &t.name);
            o.message(5, |o| ty(o, &t.ty));
            metadata(o, 6, &t.metadata);
        }),
        Decl::Config(c) => o.message(6, |o| {
            o.pos(&c.pos);
            o.strings(2, &c.comments);
            o.string(3, &c.name);
            o.message(4, |o| ty(o, &c.ty));
        }),
        Decl::Secret(s) => o.message(7, |o| {
            o.pos(&s.pos);
            o.strings(2, &s.comments);
            o.string(3, &s.name);
            o.message(4, |o| ty(o, &s.ty));
        }),
        Decl::Topic(t) => o.message(9, |o| {
            o.pos(&t.pos);
            o.strings(2, &t.comments);
            o.int(3, visibility(t.visibility));
            o.string(4, &t.name);
            o.message(5, |o| ty(o, &t.event));
            metadata(o, 6, &t.metadata);
        }),
    }
}

/// The body of a `Type`: the one field of its oneof.
fn ty<E: Encoder>(o: &mut E, t: &Type) {
    match t {
        // The scalar types are messages with only a position, which the
        // model does not keep: present and empty.
        Type::Int => o.empty_message(1),
        Type::Float => o.empty_message(2),
        Type::String => o.empty_message(3),
        Type::Bytes => o.empty_message(4),
        Type::Bool => o.empty_message(5),
        Type::Time => o.empty_message(6),
        Type::List(element) => o.message(7, |o| o.message(2, |o| ty(o, element))),
        Type::Map(k, v) => o.message(8, |o| {
            o.message(2, |o| ty(o, k));
            o.message(3, |o| ty(o, v));
        }),
        Type::Any => o.empty_message(9),
        Type::Unit => o.empty_message(10),
        Type::Ref(r) => o.message(11, |o| reference(o, r)),
        Type::Optional(inner) => o.message(12, |o| o.message(2, |o| ty(o, inner))),
    }
}

/// The body of a `Ref`; a reference into another realm is named
/// `Name@realm`.
fn reference<E: Encoder>(o: &mut E, r: &Ref) {
    o.pos(&r.pos);
    match &r.realm {
        Some(realm) => {
            let name = [r.name.as_str(), "@", realm].concat();
            o.string(2, &name);
        }
        None => o.string(2, &r.name),
    }
    o.string(3, r.module.as_deref().unwrap_or_default());
    for t in &r.type_args {
        o.message(4, |o| ty(o, t));
    }
}

fn references<E: Encoder>(o: &mut E, field: u32, refs: &[Ref]) {
    for r in refs {
        o.message(field, |o| reference(o, r));
    }
}

/// A `MetadataTypeMap`'s fields after its position.
fn type_map<E: Encoder>(o: &mut E, runtime: &str, native_name: &str) {
    o.string(2, runtime);
    o.string(3, native_name);
}

/// Every metadata of a list as field `field` of the message being written.
fn metadata<E: Encoder>(o: &mut E, field: u32, metadata: &[Metadata]) {
    for m in metadata {
        o.message(field, |o| one_metadata(o, m));
    }
}

/// The body of a `Metadata`: the one field of its oneof.
fn one_metadata<E: Encoder>(o: &mut E, m: &Metadata) {
    // The kind's message (field `kind` of `Metadata`), its position first.
    let mut message = |kind: u32, body: &mut dyn FnMut(&mut E)| {
        o.message(kind, |o| {
            o.pos(&m.pos);
            body(o);
        });
    };
    match &m.kind {
        MetadataKind::Calls(refs) => message(1, &mut |o| references(o, 2, refs)),
        MetadataKind::Ingress { kind, method, path } => message(2, &mut |o| {
            o.string(2, kind);
            o.string(3, method);
            for segment in path.split('/').filter(|s| !s.is_empty()) {
                // An `IngressPathComponent`: a parameter `{name}` or a literal.
                o.message(4, |o| {
                    match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => o.message(2, |o| o.string(2, name)),
                        None => o.message(1, |o| o.string(2, segment)),
                    }
                });
            }
        }),
        MetadataKind::Cron(cron) => message(3, &mut |o| o.string(2, cron)),
        MetadataKind::DatabaseUses(refs) => message(4, &mut |o| references(o, 2, refs)),
        // The parser reads only `+alias json`: FTL's `ALIAS_KIND_JSON`.
        MetadataKind::Alias { alias, .. } => message(5, &mut |o| {
            o.int(2, 1);
            o.string(3, alias);
        }),
        MetadataKind::Retry {
            count,
            min_backoff,
            max_backoff,
            catch,
        } => message(6, &mut |o| {
            // `optional int64`: written when set, 0 too.
            if let Some(count) = count {
                o.optional_int(2, *count);
            }
            o.string(3, min_backoff);
            o.string(4, max_backoff.as_deref().unwrap_or_default());
            if let Some(catch) = catch {
                o.message(5, |o| reference(o, catch));
            }
        }),
        MetadataKind::Subscribe {
            topic,
            from,
            dead_letter,
        } => message(7, &mut |o| {
            o.message(2, |o| reference(o, topic));
            o.int(
                3,
                match from {
                    None => 0,
                    Some(SubscribeFrom::Beginning) => 1,
                    Some(SubscribeFrom::Latest) => 2,
                },
            );
            o.bool(4, *dead_letter);
        }),
        MetadataKind::TypeMap {
            runtime,
            native_name,
        } => message(8, &mut |o| type_map(o, runtime, native_name)),
        MetadataKind::Grpc(method) => message(8, &mut |o| type_map(o, GRPC, method)),
        MetadataKind::Oneof(group) => message(8, &mut |o| type_map(o, ONEOF, group)),
        MetadataKind::ProtobufMessage(name) => {
            message(8, &mut |o| type_map(o, PROTOBUF_MESSAGE, name))
        }
        MetadataKind::ProtobufField { ty, name } => message(8, &mut |o| {
            let native = match name {
                Some(name) => format!("{ty} {name}"),
                None => ty.to_string(),
            };
            type_map(o, PROTOBUF_FIELD, &native);
        }),
        MetadataKind::Encoding { kind, lenient } => message(9, &mut |o| {
            o.string(2, kind);
            o.bool(3, *lenient);
        }),
        MetadataKind::ConfigUses(refs) => message(10, &mut |o| references(o, 2, refs)),
        MetadataKind::SecretsUses(refs) => message(11, &mut |o| references(o, 2, refs)),
        MetadataKind::Publish(refs) => message(12, &mut |o| references(o, 2, refs)),
        MetadataKind::Migration(digest) => message(13, &mut |o| o.string(2, digest)),
        MetadataKind::Artefact {
            path,
            digest,
            executable,
        } => message(14, &mut |o| {
            o.string(2, path);
            o.string(3, digest);
            o.bool(4, *executable);
        }),
        MetadataKind::Partitions(n) => message(15, &mut |o| o.int(2, *n)),
        MetadataKind::SqlQuery { command, query } => message(16, &mut |o| {
            o.string(2, command);
            o.string(3, query);
        }),
        MetadataKind::SqlColumn { table, name } => message(17, &mut |o| {
            o.string(2, table);
            o.string(3, name);
        }),
        MetadataKind::Generated => message(18, &mut |_| {}),
        MetadataKind::Git {
            repository,
            commit,
            dirty,
        } => message(19, &mut |o| {
            o.string(2, repository);
            o.string(3, commit);
            o.bool(4, *dirty);
        }),
        MetadataKind::Fixture { manual } => message(20, &mut |o| o.bool(2, *manual)),
        MetadataKind::Transaction => message(21, &mut |_| {}),
        MetadataKind::Egress(targets) => message(22, &mut |o| o.strings(2, targets)),
        MetadataKind::Image { image, digest } => message(23, &mut |o| {
            o.string(2, image);
            o.string(3, digest);
        }),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::schema::protobuf::{ProtoKind, ProtoType};
    use crate::schema::{parse_file, parse_schema};

    /// A place in the list of metadata kinds (`KINDS` of them): a new kind
    /// must be placed here (the match is exhaustive), and the test below
    /// fails until an example of it is encoded.
    fn kind_index(kind: &MetadataKind) -> usize {
        use MetadataKind as K;
        match kind {
            K::Calls(_) => 0,
            K::Ingress { .. } => 1,
            K::Cron(_) => 2,
            K::Retry { .. } => 3,
            K::Subscribe { .. } => 4,
            K::Publish(_) => 5,
            K::TypeMap { .. } => 6,
            K::Alias { .. } => 7,
            K::Encoding { .. } => 8,
            K::DatabaseUses(_) => 9,
            K::ConfigUses(_) => 10,
            K::SecretsUses(_) => 11,
            K::Partitions(_) => 12,
            K::Egress(_) => 13,
            K::Generated => 14,
            K::Transaction => 15,
            K::Fixture { .. } => 16,
            K::SqlQuery { .. } => 17,
            K::SqlColumn { .. } => 18,
            K::Migration(_) => 19,
            K::Artefact { .. } => 20,
            K::Git { .. } => 21,
            K::Image { .. } => 22,
            K::Grpc(_) => 23,
            K::Oneof(_) => 24,
            K::ProtobufMessage(_) => 25,
            K::ProtobufField { .. } => 26,
        }
    }
    const KINDS: usize = 27;

    fn assert_encoded_as_prost(what: &str, schema: &Schema) {
        let prost = super::super::to_ftl(schema).encode_to_vec();
        let direct = encode_ftl(schema);
        if direct != prost {
            let at = direct
                .iter()
                .zip(&prost)
                .position(|(a, b)| a != b)
                .unwrap_or(direct.len().min(prost.len()));
            panic!(
                "{what}: the direct encoding ({} bytes) differs from prost's ({} bytes) at byte {at}",
                direct.len(),
                prost.len()
            );
        }
        // Proto-text written by the same walk is the text of those bytes.
        let text = crate::schema::txtpb::to_text_after("# p\n", schema);
        let of_binary = crate::schema::txtpb::text_of_binary("# p\n", &prost);
        if text != of_binary {
            let at = text
                .lines()
                .zip(of_binary.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(text.lines().count().min(of_binary.lines().count()));
            panic!(
                "{what}: the text written from the model differs from the text of its binary at line {}: {:?} against {:?}",
                at + 1,
                text.lines().nth(at),
                of_binary.lines().nth(at)
            );
        }
    }

    fn kinds_in(schema: &Schema, seen: &mut [bool; KINDS]) {
        let mut mark = |metadata: &[Metadata]| {
            for m in metadata {
                seen[kind_index(&m.kind)] = true;
            }
        };
        for module in schema.realms.iter().flat_map(|r| &r.modules) {
            mark(&module.metadata);
            for decl in &module.decls {
                match decl {
                    Decl::Data(d) => {
                        mark(&d.metadata);
                        d.fields.iter().for_each(|f| mark(&f.metadata));
                    }
                    Decl::Verb(v) => mark(&v.metadata),
                    Decl::TypeAlias(t) => mark(&t.metadata),
                    Decl::Database(d) => mark(&d.metadata),
                    Decl::Topic(t) => mark(&t.metadata),
                    Decl::Enum(_) | Decl::Config(_) | Decl::Secret(_) => {}
                }
            }
        }
    }

    /// Every text of FTL's corpus (every declaration, type and metadata
    /// form of its grammar), realm's own metadata kinds, no positions,
    /// and messages long enough for lengths of two and three bytes.
    #[test]
    fn every_form_is_encoded_as_prost_encodes_it_and_written_as_its_text() {
        let mut seen = [false; KINDS];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ftl-corpus/ok");
        let mut texts = 0;
        for entry in std::fs::read_dir(&dir).expect("the corpus") {
            let path = entry.expect("an entry").path();
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).expect("a corpus text");
            let file = parse_file(&name, &text).expect("the corpus parses");
            let schema = if file.realms.is_empty() {
                Schema {
                    realms: vec![Realm {
                        name: "corpus".into(),
                        modules: file.modules,
                        ..Realm::default()
                    }],
                }
            } else {
                parse_schema(&name, &text).expect("the corpus parses")
            };
            kinds_in(&schema, &mut seen);
            assert_encoded_as_prost(&name, &schema);
            texts += 1;
        }
        assert!(texts >= 25, "{texts} corpus texts");

        let text = "realm bank {\n  module a {\n    export realm data D<T> {\n      x Int\n      y T +oneof pick\n      z [{String: Bytes?}] +protobuf map<string,bytes> \"zee\"\n      w Any +protobuf int64\n    }\n    export realm verb v(a.D<Int>) Unit\n      +grpc \"bank.v1.Accounts/Get\"\n      +retry 0 1s catch a.c\n      +calls a.v, x.y@shop\n    export data P {\n    }\n    verb c(builtin.CatchRequest<a.D<Int>>) Unit\n  }\n}\n";
        let mut schema = parse_schema("extra.ftl", text).expect("parses");
        let module = &mut schema.realms[0].modules[0];
        let long = "x".repeat(20_000);
        module.comments = thin_vec![String::new(), long.clone(), "y".repeat(200)];
        module.metadata = thin_vec![
            MetadataKind::ProtobufMessage("bank.v1.D".into()).into(),
            MetadataKind::Egress(vec![String::new(), long.clone()]).into(),
            MetadataKind::Retry {
                count: Some(-1),
                min_backoff: String::new(),
                max_backoff: None,
                catch: None,
            }
            .into(),
            MetadataKind::Partitions(-3).into(),
            MetadataKind::Subscribe {
                topic: Box::new(Ref {
                    module: None,
                    ..Ref::new("t", "events")
                }),
                from: None,
                dead_letter: false,
            }
            .into(),
            MetadataKind::ProtobufField {
                ty: ProtoType::new(ProtoKind::Int64),
                name: None,
            }
            .into(),
        ];
        kinds_in(&schema, &mut seen);
        assert_encoded_as_prost("realm's own forms", &schema);
        let missing: Vec<usize> = (0..KINDS).filter(|i| !seen[*i]).collect();
        assert!(
            missing.is_empty(),
            "metadata kinds never encoded: {missing:?}"
        );

        // Without positions (the public API has none on realms and modules).
        let mut bare = schema.clone();
        for realm in &mut bare.realms {
            realm.pos = None;
            for module in &mut realm.modules {
                module.pos = None;
            }
        }
        assert_encoded_as_prost("no positions", &bare);
        assert_encoded_as_prost("nothing", &Schema::default());
        assert_encoded_as_prost(
            "an empty realm",
            &Schema {
                realms: vec![Realm::default()],
            },
        );
    }
}
