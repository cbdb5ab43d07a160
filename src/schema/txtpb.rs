//! The files of a schema: FTL's `xyz.block.ftl.schema.v1.Schema` as
//! proto-text (`.txtpb`, `.textproto`), protojson (`.json`) or binary
//! protobuf (`.binpb`), chosen by the file's extension ([`Format`]), through
//! prost-reflect and the descriptors compiled from `schema/`. Proto-text
//! that names realm's older `realm.schema.v1.Schema` in its header (what
//! realm wrote before it spoke FTL's messages) is still read.
//!
//! Every encoding is deterministic: fields in declaration order, repeated
//! fields in model order, no maps, no timestamps. The same schema always
//! gives the same bytes. Proto-text is decoded by prost-reflect and written
//! straight from the model (`TextOut`, through the walk in `ftl::binary`
//! that also writes the binary encoding); `write_message`, a
//! descriptor-driven writer over wire bytes, is the reference it is tested
//! against and writes realm's older proto-text.
//! protojson is read strictly (unknown fields refused, as FTL's reader does)
//! and nested at most [`MAX_TEXT_NESTING`] deep, like proto-text.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor};

use super::diagnostic::{Diagnostic, pos_at};
use super::ftl;
use super::ftl::Encoder as _;
use super::model::{MAX_TYPE_DEPTH, Pos, Realm, Schema};
use super::proto;

/// Every `.proto` under `schema/` (FTL's schema, realm's older one and
/// their imports), encoded as a `FileDescriptorSet`.
pub const DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/realm_schema_descriptor.bin"));

/// The header of every proto-text file `realm` writes. The `proto-file` and
/// `proto-message` lines follow the text format specification's convention so
/// editors and `protoc --decode` know what the file holds.
pub const HEADER: &str = "\
# proto-file: xyz/block/ftl/schema/v1/schema.proto
# proto-message: xyz.block.ftl.schema.v1.Schema
";

/// The message realm wrote before it spoke FTL's (read, never written).
pub const LEGACY_MESSAGE: &str = "realm.schema.v1.Schema";

/// How a schema file is encoded, by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Protobuf text format: `.txtpb`, `.textproto`, `.pbtxt`.
    Text,
    /// protojson: `.json`.
    Json,
    /// Binary protobuf: `.binpb`, `.pb`.
    Binary,
}

impl Format {
    /// The format a file name's extension says, if it names one.
    pub fn of_path(path: &str) -> Option<Format> {
        let extension = path.rsplit_once('.').map(|(_, e)| e)?;
        match extension.to_ascii_lowercase().as_str() {
            "txtpb" | "textproto" | "pbtxt" => Some(Format::Text),
            "json" => Some(Format::Json),
            "binpb" | "pb" => Some(Format::Binary),
            _ => None,
        }
    }

    /// The extensions realm reads, for messages.
    pub const EXTENSIONS: &'static str = ".txtpb, .textproto, .json or .binpb";

    /// Encodes a schema in this format.
    pub fn encode(self, schema: &Schema) -> Vec<u8> {
        match self {
            Format::Text => to_text(schema).into_bytes(),
            Format::Json => to_json(schema).into_bytes(),
            Format::Binary => to_binary(schema),
        }
    }
}

/// A schema read from a file.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub schema: Schema,
    /// The file is realm's older `realm.schema.v1` proto-text: read, but it
    /// should be exported again.
    pub legacy: bool,
}

/// Decodes a schema file of `format`; `file` names it in errors.
pub fn decode(file: &str, bytes: &[u8], format: Format) -> Result<Decoded, Diagnostic> {
    let text = || {
        std::str::from_utf8(bytes).map_err(|e| {
            Diagnostic::new(
                format!("{file} is not UTF-8 text (at byte {})", e.valid_up_to()),
                None,
            )
            .with_help("proto-text and protojson schema files are UTF-8")
        })
    };
    match format {
        Format::Text => {
            let text = text()?;
            let legacy = is_legacy(text);
            Ok(Decoded {
                schema: from_text(file, text)?,
                legacy,
            })
        }
        Format::Json => Ok(Decoded {
            schema: from_json(file, text()?)?,
            legacy: false,
        }),
        Format::Binary => Ok(Decoded {
            schema: from_binary(file, bytes)?,
            legacy: false,
        }),
    }
}

/// Decodes a published schema file named `path` (its extension chooses the
/// format; proto-text when it names none); `file` names it in errors.
pub fn decode_published(file: &str, path: &str, bytes: &[u8]) -> Result<Decoded, Diagnostic> {
    decode(file, bytes, Format::of_path(path).unwrap_or(Format::Text))
}

/// Whether proto-text says (in its header) that it holds realm's older
/// `realm.schema.v1.Schema`.
pub fn is_legacy(text: &str) -> bool {
    text.lines()
        .take_while(|line| line.starts_with('#'))
        .filter_map(|line| line.strip_prefix("# proto-message:"))
        .any(|message| message.trim() == LEGACY_MESSAGE)
}

/// The descriptors of FTL's schema (and realm's older one).
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("the embedded schema descriptors do not decode: {e}"))
    })
}

fn message(name: &str) -> MessageDescriptor {
    descriptor_pool()
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("{name} is missing from the embedded descriptors"))
}

fn schema_descriptor() -> MessageDescriptor {
    message(ftl::SCHEMA_MESSAGE)
}

/// Encodes a schema as FTL's proto-text, with [`HEADER`].
pub fn to_text(schema: &Schema) -> String {
    to_text_after("", schema)
}

/// [`to_text`] after `prefix` (a comment line), in one buffer.
pub fn to_text_after(prefix: &str, schema: &Schema) -> String {
    let realms: Vec<&Realm> = schema.realms.iter().collect();
    text_of_realms(prefix, &realms)
}

/// Proto-text (after `prefix` and [`HEADER`]) of a schema of `realms`, in
/// one buffer: written straight from the model, the text
/// [`text_of_binary`] writes of its binary encoding.
pub fn text_of_realms(prefix: &str, realms: &[&Realm]) -> String {
    let mut out = String::new();
    write_pieces(prefix, realms, &mut |piece| {
        if out.is_empty() {
            out = piece;
        } else {
            out.push_str(&piece);
        }
        Ok(())
    })
    .unwrap_or_else(|e: std::io::Error| unreachable!("a string takes every piece: {e}"));
    out
}

/// [`text_of_realms`] sent to `sink` as it is made: a large realm's
/// modules are written on every core a batch at a time ([`STREAM_DECLS`]
/// declarations, whole modules), each batch sent while the next is made,
/// so the whole text is never in memory (13.4 MiB for the benchmark realm),
/// only a batch's (one module's when that module is larger). The first
/// error of `sink` stops the writing and is returned.
pub fn write_text_of_realms(
    prefix: &str,
    realms: &[&Realm],
    sink: &mut Sink<'_>,
) -> std::io::Result<()> {
    write_pieces(prefix, realms, &mut |piece| sink(piece.as_bytes()))
}

/// Below this many declarations a realm is written on one core: the
/// fan-out costs more than it saves.
const PARALLEL_DECLS: usize = 256;

/// How many declarations of a large realm [`write_text_of_realms`] writes
/// at a time (about 1 MiB of text in the benchmark realm).
const STREAM_DECLS: usize = 1536;

/// The text of `realms`, in pieces, in order, each given to `send`; the
/// first error of `send` stops it.
fn write_pieces(
    prefix: &str,
    realms: &[&Realm],
    send: &mut (dyn FnMut(String) -> std::io::Result<()> + Send),
) -> std::io::Result<()> {
    use rayon::prelude::*;
    let table = schema_table();
    let decls = |m: &super::model::Module| m.decls.len();
    let mut o = TextOut::new(table, 0, 0, prefix.len() + HEADER.len() + 4096);
    o.out.push_str(prefix);
    o.out.push_str(HEADER);
    for realm in realms {
        let Some(realm_message) = o.nested(ftl::SCHEMA_REALMS) else {
            continue;
        };
        if realm.modules.iter().map(decls).sum::<usize>() < PARALLEL_DECLS {
            o.message(ftl::SCHEMA_REALMS, |o| {
                ftl::realm_head(o, realm);
                for m in &realm.modules {
                    o.message(ftl::REALM_MODULES, |o| ftl::encode_module(o, m));
                }
            });
            continue;
        }
        // A large realm (its modules are not empty, nor is its text): its
        // head, then its modules a batch at a time on every core.
        o.open(ftl::SCHEMA_REALMS);
        let (message, depth) = (o.message, o.depth);
        (o.message, o.depth) = (realm_message, depth + 1);
        ftl::realm_head(&mut o, realm);
        (o.message, o.depth) = (message, depth);
        let mut ready = vec![std::mem::take(&mut o.out)];
        let mut modules = realm.modules.iter().peekable();
        while modules.peek().is_some() {
            let mut batch = Vec::new();
            let mut size = 0;
            while let Some(m) = modules.peek() {
                if !batch.is_empty() && size + decls(m) > STREAM_DECLS {
                    break;
                }
                size += decls(m);
                batch.extend(modules.next());
            }
            let sending = std::mem::take(&mut ready);
            let (sent, written) = rayon::join(
                || sending.into_iter().try_for_each(&mut *send),
                || {
                    batch
                        .par_iter()
                        .map(|m| {
                            // About 700 bytes of text a declaration in the
                            // benchmark realm; room not written to costs
                            // no memory.
                            let mut t = TextOut::new(
                                table,
                                realm_message,
                                depth + 1,
                                1024 * decls(m) + 256,
                            );
                            t.message(ftl::REALM_MODULES, |t| ftl::encode_module(t, m));
                            t.out
                        })
                        .collect::<Vec<String>>()
                },
            );
            sent?;
            ready = written;
        }
        ready.into_iter().try_for_each(&mut *send)?;
        o.out.push_str("}\n");
    }
    if o.out.is_empty() {
        return Ok(());
    }
    send(o.out)
}

/// Proto-text written straight from the model, through the walk that
/// writes its binary encoding (`ftl::encode_module`): field for field the
/// text [`write_message`] makes of that encoding (a test holds them equal),
/// without encoding and decoding it first (`realm export` of the benchmark
/// realm spent a quarter of its instructions on the round).
struct TextOut<'t> {
    out: String,
    table: &'t TextTable,
    /// The message being written, by its place in `table`.
    message: usize,
    depth: usize,
}

impl<'t> TextOut<'t> {
    fn new(table: &'t TextTable, message: usize, depth: usize, capacity: usize) -> TextOut<'t> {
        TextOut {
            out: String::with_capacity(capacity),
            table,
            message,
            depth,
        }
    }

    /// The field the walk writes (every one is in the descriptors: the
    /// binary encoding equals prost's, whose types are generated from
    /// them; debug builds say so when that breaks).
    fn field(&self, number: u32) -> Option<&'t TextField> {
        let field = self.table.field(self.message, number);
        debug_assert!(
            field.is_some(),
            "field {number} of message {} is not in the descriptors",
            self.message
        );
        field
    }

    /// The message a message field holds, by its place in `table`.
    fn nested(&self, number: u32) -> Option<usize> {
        match self.field(number)?.kind {
            TextKind::Message(nested) => Some(nested),
            _ => None,
        }
    }

    /// A message field's opening line, for a body written elsewhere.
    fn open(&mut self, number: u32) {
        if let Some(field) = self.field(number) {
            indent(&mut self.out, self.depth);
            self.out.push_str(&field.open);
        }
    }

    fn scalar(&mut self, number: u32, value: Wire<'_>) {
        if let Some(field) = self.field(number) {
            field_prefix(&mut self.out, self.depth, &field.prefix);
            write_scalar(&mut self.out, &field.kind, value);
            self.out.push('\n');
        }
    }

    fn text(&mut self, number: u32, s: &str) {
        if let Some(field) = self.field(number) {
            field_prefix(&mut self.out, self.depth, &field.prefix);
            write_str_literal(&mut self.out, s);
            self.out.push('\n');
        }
    }
}

impl ftl::Encoder for TextOut<'_> {
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.text(field, s);
        }
    }

    fn strings(&mut self, field: u32, strings: &[String]) {
        for s in strings {
            self.text(field, s);
        }
    }

    fn bool(&mut self, field: u32, b: bool) {
        if b {
            self.scalar(field, Wire::Varint(1));
        }
    }

    fn int(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.optional_int(field, v);
        }
    }

    fn optional_int(&mut self, field: u32, v: i64) {
        self.scalar(field, Wire::Varint(v as u64));
    }

    /// `name {}` when the body writes nothing, as [`write_field`] writes a
    /// message of no bytes.
    fn message<F: FnOnce(&mut Self)>(&mut self, number: u32, body: F) {
        let Some(field) = self.field(number) else {
            return;
        };
        let TextKind::Message(nested) = field.kind else {
            debug_assert!(false, "field {number} is not a message");
            return;
        };
        indent(&mut self.out, self.depth);
        let head = self.out.len();
        self.out.push_str(&field.open);
        let start = self.out.len();
        let (message, depth) = (self.message, self.depth);
        self.message = nested;
        self.depth += 1;
        body(self);
        self.message = message;
        self.depth = depth;
        if self.out.len() == start {
            self.out.truncate(head);
            self.out.push_str(&field.empty);
        } else {
            indent(&mut self.out, depth);
            self.out.push_str("}\n");
        }
    }
}

/// Proto-text (after `prefix` and [`HEADER`]) of `bytes`, a schema encoded
/// by [`to_binary`], written by the descriptor-driven writer over the wire
/// bytes: the reference [`text_of_realms`] is tested against.
pub fn text_of_binary(prefix: &str, bytes: &[u8]) -> String {
    // Proto-text of FTL's schema is about 8.4 times its binary size.
    let mut out = String::with_capacity(prefix.len() + HEADER.len() + bytes.len() * 10);
    out.push_str(prefix);
    out.push_str(HEADER);
    write_message(&mut out, schema_table(), 0, bytes, 0)
        .unwrap_or_else(|e| panic!("a schema message does not decode as itself: {e}"));
    out
}

/// Where [`write_text_of_realms`] sends the text as it is made, a piece
/// at a time, in order (a file being written).
pub type Sink<'s> = dyn FnMut(&[u8]) -> std::io::Result<()> + Send + 's;

/// Encodes a schema as realm's older `realm.schema.v1` proto-text, as realm
/// wrote it before it spoke FTL's messages (for tests of reading old pins).
#[doc(hidden)]
pub fn to_legacy_text(schema: &Schema) -> String {
    let bytes = proto::to_proto(schema).encode_to_vec();
    let mut out = String::from(
        "# proto-file: realm/schema/v1/schema.proto\n# proto-message: realm.schema.v1.Schema\n",
    );
    let table = TextTable::of(&message(LEGACY_MESSAGE));
    out.reserve(bytes.len() * 10);
    write_message(&mut out, &table, 0, &bytes, 0)
        .unwrap_or_else(|e| panic!("a schema message does not decode as itself: {e}"));
    out
}

/// Encodes a schema as binary protobuf of FTL's `Schema`.
pub fn to_binary(schema: &Schema) -> Vec<u8> {
    ftl::encode_ftl(schema)
}

/// What [`write_message`] needs of the descriptors of a message and of
/// every message under it, read out of prost-reflect once: each field's
/// name and kind by its number, nested messages by their place in
/// `messages`, enum value names by number. Looking each field up in
/// prost-reflect (a hash lookup and two reference counts per field) was
/// most of the writer's time.
struct TextTable {
    /// The root message first.
    messages: Vec<TextMessage>,
}

struct TextField {
    /// `name: `, what a scalar's line starts with after its indentation.
    prefix: String,
    /// `name {\n`, a message's opening line.
    open: String,
    /// `name {}\n`, an empty message's line.
    empty: String,
    kind: TextKind,
}

impl TextField {
    fn new(name: &str, kind: TextKind) -> TextField {
        TextField {
            prefix: format!("{name}: "),
            open: format!("{name} {{\n"),
            empty: format!("{name} {{}}\n"),
            kind,
        }
    }
}

enum TextKind {
    /// The place of the message in [`TextTable::messages`].
    Message(usize),
    /// The enum's values, by number, in declaration order.
    Enum(Vec<(i32, String)>),
    Scalar(Kind),
}

impl TextTable {
    fn of(root: &MessageDescriptor) -> TextTable {
        let mut places = std::collections::HashMap::new();
        places.insert(root.full_name().to_string(), 0);
        let mut pending = vec![root.clone()];
        let mut messages = Vec::new();
        while let Some(desc) = pending.get(messages.len()).cloned() {
            let fields = desc
                .fields()
                .map(|field| {
                    let kind = match field.kind() {
                        Kind::Message(m) => {
                            let next = pending.len();
                            let place = *places.entry(m.full_name().to_string()).or_insert(next);
                            if place == next {
                                pending.push(m);
                            }
                            TextKind::Message(place)
                        }
                        Kind::Enum(e) => TextKind::Enum(
                            e.values()
                                .map(|v| (v.number(), v.name().to_string()))
                                .collect(),
                        ),
                        kind => TextKind::Scalar(kind),
                    };
                    (field.number(), TextField::new(field.name(), kind))
                })
                .collect();
            messages.push(TextMessage::new(fields));
        }
        TextTable { messages }
    }

    fn field(&self, message: usize, number: u32) -> Option<&TextField> {
        let message = &self.messages[message];
        match message.direct.get(number as usize) {
            Some(&place) if place > 0 => message.fields.get(usize::from(place) - 1).map(|(_, f)| f),
            _ => message
                .fields
                .iter()
                .find(|(n, _)| *n == number)
                .map(|(_, field)| field),
        }
    }
}

/// The fields of one message of a [`TextTable`].
struct TextMessage {
    fields: Vec<(u32, TextField)>,
    /// By field number below [`DIRECT`]: the field's place in `fields`
    /// plus one, 0 for none (a search through the fields for every field
    /// read was a tenth of the writer's time).
    direct: [u16; DIRECT],
}

const DIRECT: usize = 64;

impl TextMessage {
    fn new(fields: Vec<(u32, TextField)>) -> TextMessage {
        let mut direct = [0; DIRECT];
        for (place, (number, _)) in fields.iter().enumerate() {
            if let (Some(slot), Ok(place)) =
                (direct.get_mut(*number as usize), u16::try_from(place + 1))
            {
                *slot = place;
            }
        }
        TextMessage { fields, direct }
    }
}

/// The [`TextTable`] of FTL's `Schema`.
fn schema_table() -> &'static TextTable {
    static TABLE: OnceLock<TextTable> = OnceLock::new();
    TABLE.get_or_init(|| TextTable::of(&schema_descriptor()))
}

/// Writes protobuf text format for the encoded message `buf`, message
/// `message` of `table`, one field per line, nested messages as indented
/// `name { ... }` blocks and repeated fields as repeated lines (protoc's
/// layout).
///
/// It walks the wire bytes with the message's descriptor instead of
/// building a `DynamicMessage` first: the same output for a tenth of the
/// time on large schemas. Fields come out in encoding order, which prost
/// makes declaration order, so the output is deterministic. prost-reflect
/// reads it back (`from_text`); tests hold that the two agree.
fn write_message(
    out: &mut String,
    table: &TextTable,
    message: usize,
    buf: &[u8],
    depth: usize,
) -> Result<(), Malformed> {
    let mut fields = Fields { buf };
    while let Some((field, value)) = fields.next_known(table, message)? {
        write_field(out, table, field, value, depth)?;
    }
    Ok(())
}

/// The fields of a message's wire bytes, one by one.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    /// The next field `table` knows of message `message` (unknown fields
    /// cannot occur: the bytes come from our own types), with its value.
    fn next_known<'t>(
        &mut self,
        table: &'t TextTable,
        message: usize,
    ) -> Result<Option<(&'t TextField, Wire<'a>)>, Malformed> {
        while let Some((number, value)) = self.next_field()? {
            if let Some(field) = table.field(message, number) {
                return Ok(Some((field, value)));
            }
        }
        Ok(None)
    }

    fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, Malformed> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let buf = &mut self.buf;
        let key = decode_varint(buf)?;
        let number = u32::try_from(key >> 3).map_err(|_| Malformed("field number"))?;
        let value = match key & 7 {
            0 => Wire::Varint(decode_varint(buf)?),
            1 => Wire::Fixed64(u64::from_le_bytes(take::<8>(buf)?)),
            5 => Wire::Fixed32(u32::from_le_bytes(take::<4>(buf)?)),
            2 => {
                let len = usize::try_from(decode_varint(buf)?).map_err(|_| Malformed("length"))?;
                let Some((data, rest)) = buf.split_at_checked(len) else {
                    return Err(Malformed("truncated field"));
                };
                *buf = rest;
                Wire::Delimited(data)
            }
            _ => return Err(Malformed("unsupported wire type")),
        };
        Ok(Some((number, value)))
    }
}

fn decode_varint(buf: &mut &[u8]) -> Result<u64, Malformed> {
    // Keys and most lengths are one byte.
    if let Some((&byte, rest)) = buf.split_first()
        && byte < 0x80
    {
        *buf = rest;
        return Ok(u64::from(byte));
    }
    prost::encoding::decode_varint(buf).map_err(|_| Malformed("varint"))
}

/// One field of a message, at `depth`.
fn write_field(
    out: &mut String,
    table: &TextTable,
    field: &TextField,
    value: Wire<'_>,
    depth: usize,
) -> Result<(), Malformed> {
    match (value, &field.kind) {
        (Wire::Delimited(data), TextKind::Message(nested)) => {
            indent(out, depth);
            if data.is_empty() {
                out.push_str(&field.empty);
            } else {
                out.push_str(&field.open);
                write_message(out, table, *nested, data, depth + 1)?;
                indent(out, depth);
                out.push_str("}\n");
            }
        }
        (Wire::Delimited(data), TextKind::Scalar(Kind::String | Kind::Bytes)) => {
            field_prefix(out, depth, &field.prefix);
            write_string(out, data);
            out.push('\n');
        }
        (Wire::Delimited(mut data), kind) => {
            // A packed repeated scalar field.
            while !data.is_empty() {
                let value = match kind {
                    TextKind::Scalar(Kind::Double | Kind::Fixed64 | Kind::Sfixed64) => {
                        Wire::Fixed64(u64::from_le_bytes(take::<8>(&mut data)?))
                    }
                    TextKind::Scalar(Kind::Float | Kind::Fixed32 | Kind::Sfixed32) => {
                        Wire::Fixed32(u32::from_le_bytes(take::<4>(&mut data)?))
                    }
                    _ => Wire::Varint(decode_varint(&mut data)?),
                };
                field_prefix(out, depth, &field.prefix);
                write_scalar(out, kind, value);
                out.push('\n');
            }
        }
        (value, kind) => {
            field_prefix(out, depth, &field.prefix);
            write_scalar(out, kind, value);
            out.push('\n');
        }
    }
    Ok(())
}

/// The wire bytes are not a valid encoding (they always are: they come from
/// our own prost types).
#[derive(Debug)]
struct Malformed(&'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed {}", self.0)
    }
}

enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Delimited(&'a [u8]),
}

fn take<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], Malformed> {
    if buf.len() < N {
        return Err(Malformed("truncated fixed-width field"));
    }
    let (head, rest) = buf.split_at(N);
    *buf = rest;
    let mut out = [0; N];
    out.copy_from_slice(head);
    Ok(out)
}

/// Two spaces a level: a line's indentation is one copy of a part of
/// this (a push per level was a fifth of the writer's time; the benchmark
/// realm's text is 800,000 lines of 17 bytes).
const SPACES: &str = "                                                                                                                                ";

fn indent(out: &mut String, depth: usize) {
    let mut width = 2 * depth;
    while width > 0 {
        let part = width.min(SPACES.len());
        out.push_str(&SPACES[..part]);
        width -= part;
    }
}

/// The indentation and `name: ` of a scalar's line.
fn field_prefix(out: &mut String, depth: usize, prefix: &str) {
    indent(out, depth);
    out.push_str(prefix);
}

fn write_scalar(out: &mut String, kind: &TextKind, value: Wire) {
    use std::fmt::Write as _;
    let kind = match (kind, &value) {
        (TextKind::Enum(values), Wire::Varint(v)) => {
            let _ = match values.iter().find(|(n, _)| *n == *v as i32) {
                Some((_, name)) => write!(out, "{name}"),
                None => write!(out, "{}", *v as i32),
            };
            return;
        }
        (TextKind::Scalar(kind), _) => kind,
        _ => return,
    };
    // Integers through `itoa` (positions are most of the numbers).
    let mut digits = itoa::Buffer::new();
    let _ = match (kind, value) {
        (Kind::Bool, Wire::Varint(v)) => {
            out.push_str(if v != 0 { "true" } else { "false" });
            Ok(())
        }
        (Kind::Int32, Wire::Varint(v)) => {
            out.push_str(digits.format(v as i32));
            Ok(())
        }
        (Kind::Int64, Wire::Varint(v)) => {
            out.push_str(digits.format(v as i64));
            Ok(())
        }
        (Kind::Uint32 | Kind::Uint64, Wire::Varint(v)) => {
            out.push_str(digits.format(v));
            Ok(())
        }
        (Kind::Sint32 | Kind::Sint64, Wire::Varint(v)) => {
            write!(out, "{}", ((v >> 1) as i64) ^ -((v & 1) as i64))
        }
        (Kind::Fixed64, Wire::Fixed64(b)) => write!(out, "{b}"),
        (Kind::Sfixed64, Wire::Fixed64(b)) => write!(out, "{}", b as i64),
        (Kind::Double, Wire::Fixed64(b)) => write!(out, "{:?}", f64::from_bits(b)),
        (Kind::Fixed32, Wire::Fixed32(b)) => write!(out, "{b}"),
        (Kind::Sfixed32, Wire::Fixed32(b)) => write!(out, "{}", b as i32),
        (Kind::Float, Wire::Fixed32(b)) => write!(out, "{:?}", f32::from_bits(b)),
        (_, Wire::Varint(v)) => write!(out, "{v}"),
        (_, _) => Ok(()),
    };
}

/// A text-format string literal: printable text as it is (UTF-8 included,
/// so comments stay readable), `"` `\\` and control bytes escaped.
fn write_string(out: &mut String, bytes: &[u8]) {
    use std::fmt::Write as _;
    match std::str::from_utf8(bytes) {
        Ok(text) => write_str_literal(out, text),
        Err(_) => {
            out.push('"');
            for &b in bytes {
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    0x20..=0x7e => out.push(b as char),
                    _ => {
                        let _ = write!(out, "\\{b:03o}");
                    }
                }
            }
            out.push('"');
        }
    }
}

/// [`write_string`] of text (known to be UTF-8).
fn write_str_literal(out: &mut String, text: &str) {
    use std::fmt::Write as _;
    out.push('"');
    // Most strings (names) need no escape: copied whole.
    if !text
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
    {
        out.push_str(text);
    } else {
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\{:03o}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// How deeply proto-text may nest messages and lists. Refusing deeper text
/// before parsing bounds the recursion of prost-reflect's text parser and
/// of prost's decoder, which hostile input (3,000 levels) would otherwise
/// overflow the stack with (a level takes ~20 KiB of stack in a debug
/// build; prost itself stops at 100). A type takes two levels per nesting
/// under the schema's seven, so this carries types [`MAX_TYPE_DEPTH`] deep.
pub const MAX_TEXT_NESTING: usize = 2 * MAX_TYPE_DEPTH + 16;

/// Where proto-text first nests deeper than [`MAX_TEXT_NESTING`] (a byte
/// offset), found without parsing: brackets outside strings and comments.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'<' | b'[' => {
                depth += 1;
                if depth > MAX_TEXT_NESTING {
                    return Some(i);
                }
            }
            b'}' | b'>' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Decodes proto-text into a schema: FTL's `Schema`, or realm's older
/// `realm.schema.v1.Schema` when the header names it. `file` names the text
/// in errors, which carry the line and column of the offending text.
pub fn from_text(file: &str, text: &str) -> Result<Schema, Diagnostic> {
    if let Some(offset) = too_deep(text) {
        return Err(Diagnostic::new(
            format!("proto-text nests messages more than {MAX_TEXT_NESTING} deep"),
            Some(pos_at(file, text, offset)),
        )
        .with_help("this is not a schema realm wrote: a type takes two levels per nesting"));
    }
    let legacy = is_legacy(text);
    let descriptor = if legacy {
        message(LEGACY_MESSAGE)
    } else {
        schema_descriptor()
    };
    let message = DynamicMessage::parse_text_format(descriptor, text).map_err(|e| {
        let offset = miette::Diagnostic::labels(&e)
            .and_then(|mut labels| labels.next())
            .map_or(text.len(), |label| label.offset());
        Diagnostic::new(
            format!("invalid proto-text: {e}"),
            Some(pos_at(file, text, offset)),
        )
    })?;
    let invalid = |e: prost::DecodeError| {
        Diagnostic::new(format!("invalid schema message: {e}"), None).with_context(file)
    };
    let schema = if legacy {
        proto::from_proto(message.transcode_to().map_err(invalid)?)
    } else {
        ftl::from_ftl(message.transcode_to().map_err(invalid)?)
    };
    schema.map_err(|d| in_file(file, d))
}

/// Names `file` in the context of a conversion error.
fn in_file(file: &str, d: Diagnostic) -> Diagnostic {
    let context = match d.context() {
        Some(c) => format!("{file}: {c}"),
        None => file.to_string(),
    };
    d.with_context(context)
}

/// Encodes a schema as protojson of FTL's `Schema` (field names in
/// lowerCamelCase, enums by name, 64-bit integers as strings, as Go's
/// protojson writes them), pretty printed, with a trailing newline.
pub fn to_json(schema: &Schema) -> String {
    json_of_binary(&to_binary(schema))
}

/// protojson (as [`to_json`]) of `bytes`, a schema encoded by
/// [`to_binary`].
pub fn json_of_binary(bytes: &[u8]) -> String {
    let message = DynamicMessage::decode(schema_descriptor(), bytes)
        .unwrap_or_else(|e| panic!("a schema message does not decode as itself: {e}"));
    let mut out = Vec::with_capacity(bytes.len() * 4);
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    message
        .serialize_with_options(&mut serializer, &prost_reflect::SerializeOptions::new())
        .unwrap_or_else(|e| panic!("a schema message does not serialize to JSON: {e}"));
    let mut text = String::from_utf8(out).unwrap_or_default();
    text.push('\n');
    text
}

/// Decodes protojson of FTL's `Schema` strictly: a field FTL's `Schema`
/// does not have is an error (as in FTL's own reader), and so is JSON
/// nested deeper than [`MAX_TEXT_NESTING`].
pub fn from_json(file: &str, text: &str) -> Result<Schema, Diagnostic> {
    if let Some(offset) = too_deep(text) {
        return Err(Diagnostic::new(
            format!("JSON nests objects and arrays more than {MAX_TEXT_NESTING} deep"),
            Some(pos_at(file, text, offset)),
        )
        .with_help(
            "this is not a schema FTL or realm wrote: a type takes two levels per nesting",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let options = prost_reflect::DeserializeOptions::new().deny_unknown_fields(true);
    let message =
        DynamicMessage::deserialize_with_options(schema_descriptor(), &mut deserializer, &options)
            .and_then(|m| deserializer.end().map(|()| m))
            .map_err(|e| {
                Diagnostic::new(
                    format!("invalid schema JSON: {e}"),
                    Some(Pos {
                        file: file.into(),
                        line: u32::try_from(e.line()).unwrap_or(0),
                        column: u32::try_from(e.column()).unwrap_or(0),
                    }),
                )
                .with_help(format!(
                    "a .json schema file is protojson of FTL's {}",
                    ftl::SCHEMA_MESSAGE
                ))
            })?;
    let schema: ftl::pb::Schema = message.transcode_to().map_err(|e| {
        Diagnostic::new(format!("invalid schema message: {e}"), None).with_context(file)
    })?;
    ftl::from_ftl(schema).map_err(|d| in_file(file, d))
}

/// Decodes binary protobuf of FTL's `Schema` (prost refuses messages
/// nested more than 100 deep; types are bounded while converting).
pub fn from_binary(file: &str, bytes: &[u8]) -> Result<Schema, Diagnostic> {
    let schema = ftl::pb::Schema::decode(bytes).map_err(|e| {
        Diagnostic::new(format!("invalid binary schema: {e}"), None)
            .with_context(file)
            .with_help(format!(
                "a .binpb schema file is binary protobuf of FTL's {}",
                ftl::SCHEMA_MESSAGE
            ))
    })?;
    ftl::from_ftl(schema).map_err(|d| in_file(file, d))
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn deeply_nested_proto_text_is_refused_not_a_crash() {
        let open = "optional { type { ".repeat(3000);
        let close = "} } ".repeat(3000);
        let text = format!(
            "realms {{ name: \"x\" modules {{ name: \"m\" decls {{ type_alias {{ name: \"A\" type {{ {open} int {{}} {close} }} }} }} }} }}"
        );
        let err = from_text("deep.txtpb", &text).expect_err("too deep");
        assert!(
            err.message.contains("nests messages more than"),
            "{}",
            err.message
        );
    }

    /// A type alias of `levels` nested lists of Int, as proto-text.
    fn nested_lists(levels: usize) -> String {
        format!(
            "realms {{ name: \"x\" modules {{ name: \"m\" decls {{ type_alias {{ name: \"A\" type {{ {} int {{}} {} }} }} }} }} }}",
            "array { element { ".repeat(levels),
            "} } ".repeat(levels)
        )
    }

    #[test]
    fn the_deepest_types_read_on_a_small_stack_and_deeper_ones_are_refused() {
        // A thread with the stack tokio and std give their threads (2 MiB),
        // in a debug build, where frames are largest.
        let run = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                (
                    from_text("deep.txtpb", &nested_lists(MAX_TYPE_DEPTH - 1)).map(|_| ()),
                    from_text("deep.txtpb", &nested_lists(MAX_TYPE_DEPTH + 1)).map(|_| ()),
                )
            })
            .expect("thread");
        let (deepest, deeper) = run.join().expect("no stack overflow");
        assert_eq!(deepest, Ok(()));
        let err = deeper.expect_err("too deep");
        assert!(
            err.message.contains("types nest more than"),
            "{}",
            err.message
        );
    }
}

#[cfg(test)]
mod piece_tests {
    use super::*;

    /// A realm of `modules` modules, each with data, an enum and verbs.
    fn realm_text(modules: usize) -> String {
        let mut text = String::new();
        for m in 0..modules {
            text.push_str(&format!("module m{m} {{\n  // Module {m}.\n"));
            for d in 0..20 {
                text.push_str(&format!(
                    "  export realm data D{d} {{\n    name String +alias json \"n{d}\"\n    tags [String]\n    at Time?\n  }}\n"
                ));
                text.push_str(&format!(
                    "  export realm verb v{d}(m{m}.D{d}) m{m}.D{d}\n    +retry 3 1s\n"
                ));
            }
            text.push_str("  export realm enum E {\n    A = 1\n    B = 2\n  }\n}\n");
        }
        text
    }

    /// [`realm_text`] as a schema.
    fn schema_of(modules: usize) -> Schema {
        let file = crate::schema::parse_file("r.ftl", &realm_text(modules)).expect("parses");
        Schema {
            realms: vec![crate::schema::Realm {
                name: "r".into(),
                modules: file.modules,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn a_large_realm_reads_back_as_the_schema_it_was_written_from() {
        let schema = schema_of(60);
        let binary = to_binary(&schema);
        let back = from_text("big.txtpb", &to_text(&schema)).expect("reads");
        assert_eq!(to_binary(&back), binary);
    }

    #[test]
    fn text_written_from_the_model_is_sent_to_a_sink_in_batches() {
        let schema = schema_of(80);
        let realms: Vec<&crate::schema::Realm> = schema.realms.iter().collect();
        let decls: usize = schema.realms[0].modules.iter().map(|m| m.decls.len()).sum();
        assert!(decls > 2 * STREAM_DECLS, "{decls} declarations");
        let mut sent: Vec<Vec<u8>> = Vec::new();
        write_text_of_realms("# prefix\n", &realms, &mut |bytes| {
            sent.push(bytes.to_vec());
            Ok(())
        })
        .expect("writes");
        assert!(sent.len() > 3, "sent as it is made: {} pieces", sent.len());
        assert!(sent.iter().all(|p| !p.is_empty()));
        let text = String::from_utf8(sent.concat()).expect("utf-8");
        assert_eq!(text, text_of_binary("# prefix\n", &to_binary(&schema)));
        assert_eq!(text, text_of_realms("# prefix\n", &realms));
        // The sink's first error stops the writing: nothing is sent after it.
        let mut calls = 0;
        let failed = write_text_of_realms("", &realms, &mut |_| {
            calls += 1;
            if calls == 2 {
                return Err(std::io::Error::other("disk full"));
            }
            Ok(())
        });
        assert_eq!(failed.expect_err("fails").to_string(), "disk full");
        assert_eq!(calls, 2);
        // Among other realms, external, with positions, and empty.
        let mut big = schema_of(80).realms.remove(0);
        big.external = true;
        big.pos = Some(Pos {
            file: "big.ftl".into(),
            line: 3,
            column: 1,
        });
        let mut first = schema_of(1).realms.remove(0);
        first.name = "first".into();
        first.pos = big.pos.clone();
        let several = Schema {
            realms: vec![first, big, crate::schema::Realm::default()],
        };
        let realms: Vec<&crate::schema::Realm> = several.realms.iter().collect();
        assert_eq!(
            text_of_realms("", &realms),
            text_of_binary("", &to_binary(&several))
        );
        // A small schema is sent at once.
        let small = schema_of(1);
        let mut pieces = 0;
        write_text_of_realms("", &[&small.realms[0]], &mut |_| {
            pieces += 1;
            Ok(())
        })
        .expect("writes");
        assert_eq!(pieces, 1);
    }
}
