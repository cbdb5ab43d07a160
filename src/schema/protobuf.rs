//! What an imported realm remembers of protobuf: the `+protobuf` metadata
//! that makes the checker apply proto3 JSON rules (see [`super::json`]).
//!
//! - On data, `+protobuf "package.Message"`: the data is a protobuf
//!   message; its JSON is proto3 JSON (both field names, fields without
//!   presence may be left out or `null`, 64-bit integers as numbers or
//!   strings, ...).
//! - On each field of such data, `+protobuf <type> ["proto_name"]`: the
//!   field's protobuf type — the element type of a `repeated` field,
//!   `map<K,V>` for a map — and its name in the `.proto` file when that is
//!   not its JSON name. The realm type alone cannot say which: `Int` is any
//!   of ten integer types, `String` may be a Duration or a FieldMask, `Any`
//!   a Struct, Value, ListValue or Any.
//!
//! This is metadata of the schema, so it survives `realm export` (proto-text)
//! and `realm add`: a pinning realm's ingress checks a call exactly as the
//! imported realm's own ingress does, without descriptors.
//!
//! Pure: text to values and back.

use std::fmt;
use std::str::FromStr;

/// A protobuf field type as far as JSON cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtoKind {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    /// An enum (the realm type names which).
    Enum,
    /// A message (the realm type names which).
    Message,
    Timestamp,
    Duration,
    FieldMask,
    Struct,
    Value,
    ListValue,
    Any,
    NullValue,
    Empty,
    DoubleValue,
    FloatValue,
    Int64Value,
    Uint64Value,
    Int32Value,
    Uint32Value,
    BoolValue,
    StringValue,
    BytesValue,
}

/// Every kind with its text, in the order of protobuf's documentation.
const KINDS: &[(ProtoKind, &str)] = &[
    (ProtoKind::Double, "double"),
    (ProtoKind::Float, "float"),
    (ProtoKind::Int32, "int32"),
    (ProtoKind::Int64, "int64"),
    (ProtoKind::Uint32, "uint32"),
    (ProtoKind::Uint64, "uint64"),
    (ProtoKind::Sint32, "sint32"),
    (ProtoKind::Sint64, "sint64"),
    (ProtoKind::Fixed32, "fixed32"),
    (ProtoKind::Fixed64, "fixed64"),
    (ProtoKind::Sfixed32, "sfixed32"),
    (ProtoKind::Sfixed64, "sfixed64"),
    (ProtoKind::Bool, "bool"),
    (ProtoKind::String, "string"),
    (ProtoKind::Bytes, "bytes"),
    (ProtoKind::Enum, "enum"),
    (ProtoKind::Message, "message"),
    (ProtoKind::Timestamp, "google.protobuf.Timestamp"),
    (ProtoKind::Duration, "google.protobuf.Duration"),
    (ProtoKind::FieldMask, "google.protobuf.FieldMask"),
    (ProtoKind::Struct, "google.protobuf.Struct"),
    (ProtoKind::Value, "google.protobuf.Value"),
    (ProtoKind::ListValue, "google.protobuf.ListValue"),
    (ProtoKind::Any, "google.protobuf.Any"),
    (ProtoKind::NullValue, "google.protobuf.NullValue"),
    (ProtoKind::Empty, "google.protobuf.Empty"),
    (ProtoKind::DoubleValue, "google.protobuf.DoubleValue"),
    (ProtoKind::FloatValue, "google.protobuf.FloatValue"),
    (ProtoKind::Int64Value, "google.protobuf.Int64Value"),
    (ProtoKind::Uint64Value, "google.protobuf.UInt64Value"),
    (ProtoKind::Int32Value, "google.protobuf.Int32Value"),
    (ProtoKind::Uint32Value, "google.protobuf.UInt32Value"),
    (ProtoKind::BoolValue, "google.protobuf.BoolValue"),
    (ProtoKind::StringValue, "google.protobuf.StringValue"),
    (ProtoKind::BytesValue, "google.protobuf.BytesValue"),
];

/// The JSON form of a kind: what the checker tests a value against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonForm {
    /// An integer in a range: as a number or a decimal string.
    Int(IntRange),
    /// A float (32 or 64 bits): a number, a numeric string, "NaN",
    /// "Infinity", "-Infinity".
    Float {
        bits32: bool,
    },
    Bool,
    String,
    Bytes,
    Enum,
    Message,
    Timestamp,
    Duration,
    FieldMask,
    /// An object of any values.
    Struct,
    /// Any JSON value, `null` included.
    Value,
    /// An array of any values.
    ListValue,
    /// `{"@type": "type.googleapis.com/pkg.Message", ...}`.
    Any,
    /// `null` (or the enum's one value, `"NULL_VALUE"` / `0`).
    NullValue,
    /// `{}`.
    Empty,
}

/// The range of an integer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntRange {
    I32,
    U32,
    I64,
    U64,
}

impl IntRange {
    pub fn bounds(self) -> (i128, i128) {
        match self {
            IntRange::I32 => (i32::MIN.into(), i32::MAX.into()),
            IntRange::U32 => (0, u32::MAX.into()),
            IntRange::I64 => (i64::MIN.into(), i64::MAX.into()),
            IntRange::U64 => (0, u64::MAX.into()),
        }
    }

    /// "a 32-bit integer", "a 64-bit unsigned integer".
    pub fn describe(self) -> &'static str {
        match self {
            IntRange::I32 => "a 32-bit integer",
            IntRange::U32 => "a 32-bit unsigned integer",
            IntRange::I64 => "a 64-bit integer",
            IntRange::U64 => "a 64-bit unsigned integer",
        }
    }
}

impl ProtoKind {
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("message", |(_, name)| name)
    }

    /// The kind of a well-known type's full name.
    pub fn well_known(full_name: &str) -> Option<ProtoKind> {
        full_name
            .starts_with("google.protobuf.")
            .then(|| KINDS.iter().find(|(_, name)| *name == full_name))
            .flatten()
            .map(|(k, _)| *k)
    }

    pub fn json_form(self) -> JsonForm {
        use ProtoKind as K;
        match self {
            K::Int32 | K::Sint32 | K::Sfixed32 | K::Int32Value => JsonForm::Int(IntRange::I32),
            K::Uint32 | K::Fixed32 | K::Uint32Value => JsonForm::Int(IntRange::U32),
            K::Int64 | K::Sint64 | K::Sfixed64 | K::Int64Value => JsonForm::Int(IntRange::I64),
            K::Uint64 | K::Fixed64 | K::Uint64Value => JsonForm::Int(IntRange::U64),
            K::Double | K::DoubleValue => JsonForm::Float { bits32: false },
            K::Float | K::FloatValue => JsonForm::Float { bits32: true },
            K::Bool | K::BoolValue => JsonForm::Bool,
            K::String | K::StringValue => JsonForm::String,
            K::Bytes | K::BytesValue => JsonForm::Bytes,
            K::Enum => JsonForm::Enum,
            K::Message => JsonForm::Message,
            K::Timestamp => JsonForm::Timestamp,
            K::Duration => JsonForm::Duration,
            K::FieldMask => JsonForm::FieldMask,
            K::Struct => JsonForm::Struct,
            K::Value => JsonForm::Value,
            K::ListValue => JsonForm::ListValue,
            K::Any => JsonForm::Any,
            K::NullValue => JsonForm::NullValue,
            K::Empty => JsonForm::Empty,
        }
    }

    /// Whether `null` is a value of this kind rather than "not set".
    pub fn null_is_a_value(self) -> bool {
        matches!(self, ProtoKind::Value | ProtoKind::NullValue)
    }
}

impl fmt::Display for ProtoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProtoKind {
    type Err = String;

    fn from_str(s: &str) -> Result<ProtoKind, String> {
        KINDS
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| format!("unknown protobuf type `{s}`"))
    }
}

/// A field's protobuf type: `int64`, `map<int64,string>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtoType {
    /// The key kind of a map.
    pub key: Option<ProtoKind>,
    /// The field's kind: a repeated field's element, a map's value.
    pub value: ProtoKind,
}

impl ProtoType {
    pub fn new(value: ProtoKind) -> ProtoType {
        ProtoType { key: None, value }
    }

    pub fn map(key: ProtoKind, value: ProtoKind) -> ProtoType {
        ProtoType {
            key: Some(key),
            value,
        }
    }
}

/// Kinds a map key may have.
fn is_map_key(kind: ProtoKind) -> bool {
    use ProtoKind as K;
    matches!(
        kind,
        K::Int32
            | K::Int64
            | K::Uint32
            | K::Uint64
            | K::Sint32
            | K::Sint64
            | K::Fixed32
            | K::Fixed64
            | K::Sfixed32
            | K::Sfixed64
            | K::Bool
            | K::String
    )
}

impl fmt::Display for ProtoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            Some(key) => write!(f, "map<{key},{}>", self.value),
            None => write!(f, "{}", self.value),
        }
    }
}

impl FromStr for ProtoType {
    type Err = String;

    fn from_str(s: &str) -> Result<ProtoType, String> {
        if let Some(inner) = s.strip_prefix("map<").and_then(|r| r.strip_suffix('>')) {
            let (key, value) = inner
                .split_once(',')
                .ok_or_else(|| format!("`{s}` is not `map<K,V>`"))?;
            let key: ProtoKind = key.trim().parse()?;
            if !is_map_key(key) {
                return Err(format!(
                    "`{key}` cannot be a map key (integers, bool and string can)"
                ));
            }
            return Ok(ProtoType::map(key, value.trim().parse()?));
        }
        Ok(ProtoType::new(s.parse()?))
    }
}

/// Every kind's text, for error messages.
pub fn kind_names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_back_as_printed() {
        for (kind, _) in KINDS {
            let t = ProtoType::new(*kind);
            assert_eq!(t.to_string().parse::<ProtoType>(), Ok(t));
        }
        let map = ProtoType::map(ProtoKind::Int64, ProtoKind::Duration);
        assert_eq!(map.to_string(), "map<int64,google.protobuf.Duration>");
        assert_eq!("map<int64, google.protobuf.Duration>".parse(), Ok(map));
        assert!("map<double,string>".parse::<ProtoType>().is_err());
        assert!("int65".parse::<ProtoType>().is_err());
        assert_eq!(
            ProtoKind::well_known("google.protobuf.UInt64Value"),
            Some(ProtoKind::Uint64Value)
        );
        assert_eq!(ProtoKind::well_known("acme.Thing"), None);
    }
}
