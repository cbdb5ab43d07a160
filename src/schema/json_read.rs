//! Reads a call's body as JSON, strictly: the value the checker sees must be
//! the only meaning the bytes can have.
//!
//! serde_json on its own keeps the last of two members with the same name
//! (`{"amount":"lots","amount":1}` reads as `{"amount":1}`), while other
//! parsers keep the first; a body checked one way and used the other would
//! reach a runner unchecked. So members are collected by our own visitor,
//! which refuses a repeated name and says where (`$.order.amount`). Nesting
//! is bounded by serde_json's recursion limit (128).
//!
//! Bytes that are not UTF-8 are refused first, with their offset.
//!
//! Pure: fed bytes, returns a value or an error.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a body is not JSON the ingress will check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyError {
    /// The JSON path of the offending member, when there is one.
    pub path: Option<String>,
    pub message: String,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The body as JSON; `None` when it is empty (or only whitespace).
pub fn read_body(bytes: &[u8]) -> Result<Option<Value>, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // serde_json reports a byte that is not UTF-8 inside a string as an
    // "invalid unicode code point", which reads like a `\u` escape problem.
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return Err(BodyError {
            path: None,
            message: format!(
                "the body is not valid UTF-8: byte 0x{:02x} at byte offset {at} (line {line} column {column}) does not begin a UTF-8 character or ends one early; JSON text is UTF-8",
                bytes[at]
            ),
        });
    }
    let mut duplicate = None;
    let mut path = String::from("$");
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = Strict {
        path: &mut path,
        duplicate: &mut duplicate,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match read {
        Ok(value) => Ok(Some(value)),
        Err(_) if duplicate.is_some() => Err(BodyError {
            path: duplicate.take(),
            message: "this member appears more than once in its object; send each member once"
                .into(),
        }),
        Err(e) => Err(BodyError {
            path: None,
            message: format!("the body is not valid JSON: {}", explain(&e)),
        }),
    }
}

/// serde_json's message, with the cases it words obscurely said plainly.
fn explain(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!("at line {} column {}", e.line(), e.column());
    // serde_json reports a `\u` escape of a lone UTF-16 surrogate as a
    // missing second escape; it has no error kind to match on.
    if text.starts_with("unexpected end of hex escape")
        || text.starts_with("lone leading surrogate")
        || text.starts_with("invalid unicode code point")
    {
        return format!(
            "a `\\u` escape {position} is half of a UTF-16 surrogate pair (\\uD800–\\uDFFF) without its other half, which is not a character"
        );
    }
    text
}

/// A value, with the path to it and a slot for the path of a repeated
/// member.
struct Strict<'p> {
    path: &'p mut String,
    duplicate: &'p mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        loop {
            let len = self.path.len();
            self.path.push_str(&format!("[{}]", items.len()));
            let item = seq.next_element_seed(Strict {
                path: self.path,
                duplicate: self.duplicate,
            })?;
            self.path.truncate(len);
            match item {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let len = self.path.len();
            super::json::push_member(self.path, &key);
            if members.contains_key(&key) {
                *self.duplicate = Some(self.path.clone());
                return Err(de::Error::custom("repeated member"));
            }
            let value = map.next_value_seed(Strict {
                path: self.path,
                duplicate: self.duplicate,
            })?;
            self.path.truncate(len);
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Option<Value>, BodyError> {
        read_body(text.as_bytes())
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let text =
            r#"{"a": [1, -2, 3.5, "x", null, true], "b": {"c": {}}, "d": 18446744073709551615}"#;
        let expected: Value = serde_json::from_str(text).expect("valid");
        assert_eq!(read(text), Ok(Some(expected)));
        assert_eq!(read(" \n "), Ok(None));
    }

    #[test]
    fn a_repeated_member_is_refused_with_its_path() {
        let err = read(r#"{"amount": "lots", "amount": 1}"#).expect_err("duplicate");
        assert_eq!(err.path.as_deref(), Some("$.amount"));
        let err =
            read(r#"{"items": [{"sku": "a"}, {"sku": "b", "sku": "c"}]}"#).expect_err("duplicate");
        assert_eq!(err.path.as_deref(), Some("$.items[1].sku"));
        let err = read(r#"{"a b": 1, "a b": 2}"#).expect_err("duplicate");
        assert_eq!(err.path.as_deref(), Some(r#"$["a b"]"#));
        // The same name in different objects is fine.
        assert!(read(r#"{"a": {"x": 1}, "b": {"x": 1}}"#).is_ok());
    }

    #[test]
    fn a_lone_surrogate_is_named() {
        let err = read(r#"{"a": "\ud800"}"#).expect_err("lone surrogate");
        assert!(err.message.contains("surrogate"), "{err}");
        assert!(err.path.is_none());
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named_with_their_offset() {
        let err = read_body(b"{\"a\":\n \"x\xffy\"}").expect_err("not UTF-8");
        assert_eq!(
            err.message,
            "the body is not valid UTF-8: byte 0xff at byte offset 9 (line 2 column 4) does not begin a UTF-8 character or ends one early; JSON text is UTF-8"
        );
        assert!(!err.message.contains("surrogate"));
        // A truncated character at the end.
        let err = read_body(b"\"\xc3").expect_err("truncated");
        assert!(err.message.contains("byte offset 1"), "{err}");
        // An encoded surrogate (CESU-8) is not UTF-8 either.
        let err = read_body(b"\"\xed\xa0\x80\"").expect_err("surrogate bytes");
        assert!(err.message.contains("not valid UTF-8"), "{err}");
    }

    #[test]
    fn trailing_bytes_and_deep_nesting_are_refused() {
        assert!(read(r#"{"a": 1} x"#).is_err());
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = read(&deep).expect_err("too deep");
        assert!(err.message.contains("recursion limit"), "{err}");
    }
}
