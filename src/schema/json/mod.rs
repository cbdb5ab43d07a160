//! Checks a JSON value against a schema type: what the ingress does with a
//! call's body before any network hop.
//!
//! The JSON encoding of each type:
//! - `Int`: an integral number; `Float`: any number; `String`: a string;
//!   `Bool`: a boolean; `Bytes`: a base64 string; `Time`: an RFC 3339 string;
//!   `Any`: anything; `Unit`: `null`, `{}` or nothing at all;
//! - `[T]`: an array; `{K: V}`: an object (keys must read as `K`); `T?`:
//!   `null`, absent, or `T`;
//! - data: an object with a member per field, named by `+alias json` or the
//!   field's name; members for unknown fields are refused, members for
//!   non-optional fields are required; at most one member of a `+oneof`
//!   group is set;
//! - a value enum: one of its values, or (for `Int` enums) a variant's name,
//!   as protobuf's JSON mapping writes enums; a type enum: `{"name":
//!   <variant>, "value": <value>}`;
//! - a type alias: its type.
//!
//! Data marked `+protobuf "pkg.Message"` (realms imported from protobuf)
//! is read as proto3 JSON instead: members by JSON or `.proto` name, fields
//! left out or `null` at their defaults, each field's value in the JSON
//! form of its `+protobuf` type ([`super::protobuf`],
//! [`super::proto3_json`]).
//!
//! The checker is split by the rules it applies: `ftl` has FTL's JSON
//! (data, enums, map keys), `proto3` proto3 JSON (messages, fields,
//! well-known types, `Any`); both come back to `Checker::check` for what
//! a value holds, and neither uses the other.
//!
//! Errors name the JSON path of the offending value (`$.items[2].sku`).

use std::collections::HashMap;
use std::fmt;

use rustc_hash::FxHashMap;

use serde_json::Value;

mod ftl;
mod proto3;

use super::builtin::builtin_module;
use super::model::*;
use super::proto3_json::found;
use super::values::{self, MapKey};

/// Why a value does not fit a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// `$`, `$.amount`, `$.items[2].sku`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Checks values against the types of one realm (references resolve in
/// it, and in the builtin module). Owns a copy of the realm with an index
/// of its declarations, so it can live as long as a server does.
#[derive(Clone, Debug)]
pub struct Checker {
    realm: Realm,
    index: FxHashMap<String, FxHashMap<String, (usize, usize)>>,
    /// Data marked `+protobuf "pkg.Message"`, by message name (`@type`s of
    /// `google.protobuf.Any` values resolve here).
    messages: FxHashMap<String, (usize, usize)>,
}

impl Checker {
    pub fn new(realm: &Realm) -> Checker {
        let mut realm = realm.clone();
        if realm.module("builtin").is_none() {
            realm.modules.push(builtin_module().clone());
        }
        let mut index: FxHashMap<String, FxHashMap<String, (usize, usize)>> = FxHashMap::default();
        let mut messages = FxHashMap::default();
        for (m, module) in realm.modules.iter().enumerate() {
            let decls = index.entry(module.name.clone()).or_default();
            for (d, decl) in module.decls.iter().enumerate() {
                decls.entry(decl.name().to_string()).or_insert((m, d));
                if let Decl::Data(data) = decl
                    && let Some(name) = data.protobuf_message()
                {
                    messages.entry(name.to_string()).or_insert((m, d));
                }
            }
        }
        Checker {
            realm,
            index,
            messages,
        }
    }

    pub fn realm(&self) -> &Realm {
        &self.realm
    }

    /// The declaration `module.name`, without allocating.
    pub fn decl(&self, module: &str, name: &str) -> Option<&Decl> {
        let (m, d) = *self.index.get(module)?.get(name)?;
        Some(&self.realm.modules[m].decls[d])
    }

    /// Whether the realm has a module of that name.
    pub fn has_module(&self, module: &str) -> bool {
        self.index.contains_key(module)
    }

    /// Checks a call's body: `None` is an empty body.
    pub fn check_body(&self, ty: &Type, body: Option<&Value>) -> Result<(), JsonError> {
        let mut path = String::from("$");
        match body {
            None if accepts_nothing(ty) => Ok(()),
            None => Err(JsonError {
                path,
                message: format!("the body is empty, but a {} is expected", describe(ty)),
            }),
            Some(value) => self.check(
                ty,
                At {
                    value,
                    path: &mut path,
                    depth: 0,
                },
                &HashMap::new(),
            ),
        }
    }

    /// `depth` counts the steps taken through types without descending
    /// into the value — optionals, aliases, type parameters, references —
    /// bounded so that no schema can make a check go round without end;
    /// descending into a member, an element or an entry starts again from
    /// 0 (the value's own depth is bounded by serde_json's recursion
    /// limit).
    fn check(&self, ty: &Type, at: At, params: &HashMap<&str, &Type>) -> Result<(), JsonError> {
        let At { value, path, depth } = at;
        if depth > MAX_CHECK_DEPTH {
            return Err(JsonError {
                path: path.clone(),
                message: format!(
                    "the schema's types lead here through more than {MAX_CHECK_DEPTH} aliases, type parameters and references without reaching a value; it cannot be checked"
                ),
            });
        }
        let depth = depth + 1;
        let fail = |path: &str, expected: &str| {
            Err(JsonError {
                path: path.to_string(),
                message: format!("expected {expected}, found {}", found(value)),
            })
        };
        match ty {
            Type::Any => Ok(()),
            Type::Unit => match value {
                Value::Null => Ok(()),
                Value::Object(o) if o.is_empty() => Ok(()),
                _ => fail(path, "nothing (Unit: null or {})"),
            },
            Type::Int => match value {
                Value::Number(n) if n.is_i64() => Ok(()),
                Value::Number(n) if n.is_u64() || n.as_f64().is_some_and(|f| f.abs() >= TWO_POW_63) => {
                    fail(
                        path,
                        "an integer (Int) of 64 bits, from -9223372036854775808 to 9223372036854775807",
                    )
                }
                // A whole number written as a float (`5.0`, `1e3`): FTL's Go
                // runtime reads an Int with encoding/json, which refuses it.
                Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                    fail(
                        path,
                        "an integer (Int) written with digits only, without a fraction or an exponent (FTL's Go runtime refuses 1e3 and 5.0)",
                    )
                }
                _ => fail(path, "an integer (Int)"),
            },
            Type::Float => match value {
                Value::Number(_) => Ok(()),
                _ => fail(path, "a number (Float)"),
            },
            Type::String => match value {
                Value::String(_) => Ok(()),
                _ => fail(path, "a string (String)"),
            },
            Type::Bool => match value {
                Value::Bool(_) => Ok(()),
                _ => fail(path, "a boolean (Bool)"),
            },
            Type::Bytes => match value {
                Value::String(s) if values::decode_base64_std(s).is_some() => Ok(()),
                Value::String(_) => Err(JsonError {
                    path: path.clone(),
                    message:
                        "expected base64-encoded bytes (Bytes: the standard alphabet with = padding, as Go's encoding/json reads them), found a string that is not"
                            .into(),
                }),
                _ => fail(path, "a base64 string (Bytes)"),
            },
            Type::Time => match value {
                Value::String(s) => match values::read_time(s) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(JsonError {
                        path: path.clone(),
                        message: format!(
                            "expected an RFC 3339 time such as \"2024-05-01T12:00:00Z\" (Time), found {}: {e}",
                            found(value)
                        ),
                    }),
                },
                _ => fail(path, "an RFC 3339 time string (Time)"),
            },
            Type::Optional(inner) => match value {
                Value::Null => Ok(()),
                _ => self.check(inner, At { value, path, depth }, params),
            },
            Type::List(element) => {
                let Value::Array(items) = value else {
                    return fail(path, &format!("an array ({ty})"));
                };
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.check(element, At { value: item, path, depth: 0 }, params)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Type::Map(key, val) => {
                let Value::Object(entries) = value else {
                    return fail(path, &format!("an object ({ty})"));
                };
                let form = self.key_form(key, params);
                // Keys that read as one value, and the member that named
                // each first (text keys cannot repeat: `json_read` refuses
                // a repeated member).
                let mut seen: FxHashMap<MapKey, &str> = FxHashMap::default();
                for (k, v) in entries {
                    let len = path.len();
                    push_member(path, k);
                    let canonical = form.read(k).map_err(|message| JsonError {
                        path: path.clone(),
                        message,
                    })?;
                    if let Some(canonical) = canonical
                        && let Some(first) = seen.insert(canonical.clone(), k)
                    {
                        return Err(JsonError {
                            path: path.clone(),
                            message: format!(
                                "the keys {first:?} and {k:?} are one key of {ty} ({canonical}), which Go's decoder keeps only once; send each key once"
                            ),
                        });
                    }
                    self.check(val, At { value: v, path, depth: 0 }, params)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Type::Ref(r) => {
                let Some(module) = &r.module else {
                    // A type parameter.
                    return match params.get(r.name.as_str()) {
                        // Arguments are substituted when a data type is
                        // entered, so they name no parameters themselves.
                        Some(t) => self.check(t, At { value, path, depth }, &HashMap::new()),
                        None => Ok(()),
                    };
                };
                let Some(decl) = self.decl(module, &r.name) else {
                    // Unresolvable in a validated schema: accept.
                    return Ok(());
                };
                match decl {
                    Decl::Data(data) if data.protobuf_message().is_some() => {
                        self.check_message(data, r, At { value, path, depth })
                    }
                    Decl::Data(data) => self.check_data(data, r, At { value, path, depth }, params),
                    Decl::Enum(e) => self.check_enum(e, value, path, params),
                    Decl::TypeAlias(alias) => self.check(&alias.ty, At { value, path, depth }, params),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Where a check is: the value, its JSON path (`$.items[2].sku`), and the
/// steps taken through types since the checker last descended into the
/// value (see [`Checker::check`]).
struct At<'v, 'p> {
    value: &'v Value,
    path: &'p mut String,
    depth: usize,
}

/// How many steps through types a check may take without descending into
/// the value: far more than any schema needs (the validator refuses alias
/// chains longer than 256 and cycles), few enough to stop at once.
const MAX_CHECK_DEPTH: usize = 1024;

/// 2^63: the first whole float an `Int` cannot hold (serde_json reads an
/// integer beyond 64 bits as the nearest float).
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// A type whose value may be left out entirely.
fn accepts_nothing(ty: &Type) -> bool {
    matches!(ty, Type::Unit | Type::Optional(_) | Type::Any)
        || matches!(ty, Type::Ref(r) if r.module.as_deref() == Some("builtin") && r.name == "Empty")
}

pub(crate) fn push_member(path: &mut String, key: &str) {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{key:?}]"));
    }
}

fn describe(ty: &Type) -> String {
    format!("value of type {ty}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn realm() -> Realm {
        parse_schema(
            "t.ftl",
            "realm r {
  module m {
    data Req {
      id String
      amount Int
      ratio Float?
      tags [String]
      counts {String: Int}
      byId {Int: m.Item}
      at Time?
      raw Bytes?
      kind m.Kind
      color m.Color?
      item m.Item?
      page m.Page<m.Item>?
      note String? +alias json \"memo\"
      card String? +oneof method
      iban String? +oneof method
      shape m.Shape?
      alias m.Sku?
    }

    data Item {
      sku String
    }

    data Page<T> {
      items [T]
    }

    enum Kind: Int {
      KIND_A = 1
      KIND_B = 2
    }

    enum Color: String {
      Red = \"red\"
    }

    enum Shape {
      Circle Float
      Label String
    }

    typealias Sku String
  }
}
",
        )
        .unwrap_or_else(|d| panic!("{d}"))
        .realms
        .remove(0)
    }

    fn check(value: serde_json::Value) -> Result<(), String> {
        let realm = realm();
        let checker = Checker::new(&realm);
        checker
            .check_body(&Type::from(Ref::new("m", "Req")), Some(&value))
            .map_err(|e| e.to_string())
    }

    fn base() -> serde_json::Value {
        json!({"id": "x", "amount": 5, "tags": [], "counts": {}, "byId": {}, "kind": "KIND_A"})
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut v = base();
        v[key] = value;
        v
    }

    #[test]
    fn accepts_valid_values() {
        assert_eq!(check(base()), Ok(()));
        let full = json!({
            "id": "x", "amount": 5, "ratio": 1.5, "tags": ["a"], "counts": {"a": 1},
            "byId": {"7": {"sku": "s"}}, "at": "2024-05-01T12:00:00.5+02:00", "raw": "aGk=",
            "kind": 2, "color": "red", "item": {"sku": "s"}, "page": {"items": [{"sku": "t"}]},
            "memo": "n", "card": "c", "shape": {"name": "Circle", "value": 2.0}, "alias": "sku"
        });
        assert_eq!(check(full), Ok(()));
    }

    #[test]
    fn names_the_path_of_what_is_wrong() {
        assert_eq!(
            check(with("amount", json!("5"))),
            Err("$.amount: expected an integer (Int), found string \"5\"".into())
        );
        assert_eq!(
            check(with("amount", json!(1.5))),
            Err("$.amount: expected an integer (Int), found number 1.5".into())
        );
        assert_eq!(
            check(with("tags", json!(["a", 1]))),
            Err("$.tags[1]: expected a string (String), found number 1".into())
        );
        assert_eq!(
            check(with("page", json!({"items": [{"sku": 1}]}))),
            Err("$.page.items[0].sku: expected a string (String), found number 1".into())
        );
        assert_eq!(
            check(with("byId", json!({"x": {"sku": "s"}}))),
            Err("$.byId.x: expected an integer key (Int: decimal digits with an optional sign, from -9223372036854775808 to 9223372036854775807), found \"x\"".into())
        );
        assert_eq!(
            check(with("at", json!("yesterday"))),
            Err("$.at: expected an RFC 3339 time such as \"2024-05-01T12:00:00Z\" (Time), found string \"yesterday\": it is not of the form YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)".into())
        );
        assert_eq!(
            check(with("raw", json!("!!!"))),
            Err(
                "$.raw: expected base64-encoded bytes (Bytes: the standard alphabet with = padding, as Go's encoding/json reads them), found a string that is not"
                    .into()
            )
        );
        assert_eq!(
            check(with("alias", json!(3))),
            Err("$.alias: expected a string (String), found number 3".into())
        );
    }

    #[test]
    fn unknown_and_missing_fields() {
        let mut v = base();
        v.as_object_mut().map(|o| o.remove("amount"));
        assert_eq!(
            check(v),
            Err("$.amount: missing required field `amount` (Int)".into())
        );
        assert_eq!(
            check(with("amout", json!(5))),
            Err("$.amout: unknown field `amout` of m.Req; the fields are: id, amount, ratio, tags, counts, byId, at, raw, kind, color, item, page, memo, card, iban, shape, alias".into())
        );
        // The JSON name of an aliased field is `memo`, not `note`.
        assert!(check(with("note", json!("n"))).is_err());
        assert_eq!(
            check(json!([1])),
            Err("$: expected an object (m.Req), found an array".into())
        );
    }

    #[test]
    fn enums_oneofs_and_type_enums() {
        assert_eq!(
            check(with("kind", json!("KIND_C"))),
            Err("$.kind: string \"KIND_C\" is not a value of enum Kind; the values are: KIND_A (1), KIND_B (2)".into())
        );
        assert_eq!(
            check(with("color", json!("blue"))),
            Err(
                "$.color: string \"blue\" is not a value of enum Color; the values are: \"red\""
                    .into()
            )
        );
        let mut v = base();
        v["card"] = json!("c");
        v["iban"] = json!("i");
        assert_eq!(check(v), Err("$.iban: `card` and `iban` are both set, but at most one field of oneof `method` may be".into()));
        assert_eq!(
            check(with("shape", json!({"name": "Square", "value": 1}))),
            Err("$.shape.name: expected one of Circle, Label (enum Shape)".into())
        );
        assert_eq!(
            check(with("shape", json!({"name": "Label", "value": 1}))),
            Err("$.shape.value: expected a string (String), found number 1".into())
        );
    }

    #[test]
    fn bodies_of_unit_and_empty_requests() {
        let realm = realm();
        let checker = Checker::new(&realm);
        assert!(checker.check_body(&Type::Unit, None).is_ok());
        assert!(checker.check_body(&Type::Unit, Some(&json!({}))).is_ok());
        assert!(
            checker
                .check_body(&Type::Unit, Some(&json!({"a": 1})))
                .is_err()
        );
        assert_eq!(
            checker
                .check_body(&Type::from(Ref::new("m", "Item")), None)
                .map_err(|e| e.to_string()),
            Err("$: the body is empty, but a value of type m.Item is expected".into())
        );
        assert!(
            checker
                .check_body(&Type::from(Ref::new("builtin", "Empty")), None)
                .is_ok()
        );
    }

    const PROTO: &str = "realm r {
  module m {
    export realm data Req {
      +protobuf \"acme.v1.Req\"
      pageSize Int +protobuf int32 \"page_size\"
      ids [Int] +protobuf int64
      byId {Int: String} +protobuf map<uint32,string> \"by_id\"
      note String? +protobuf google.protobuf.StringValue
      wait String +protobuf google.protobuf.Duration
    }
  }
}
";

    fn check_proto(value: serde_json::Value) -> Result<(), String> {
        let schema = parse_schema("p.ftl", PROTO).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(crate::schema::print_schema(&schema), PROTO);
        let checker = Checker::new(&schema.realms[0]);
        checker
            .check_body(&Type::from(Ref::new("m", "Req")), Some(&value))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn protobuf_messages_are_read_as_proto3_json() {
        // Fields without presence may be left out; both names; strings for
        // integers; null is "not set".
        assert_eq!(check_proto(json!({})), Ok(()));
        assert_eq!(
            check_proto(json!({"page_size": "7", "ids": ["1", 2]})),
            Ok(())
        );
        assert_eq!(
            check_proto(json!({"pageSize": null, "note": null, "ids": null})),
            Ok(())
        );
        assert_eq!(
            check_proto(json!({"by_id": {"4294967295": "x"}, "wait": "1.5s"})),
            Ok(())
        );
        assert_eq!(
            check_proto(json!({"pageSize": 1, "page_size": 2})),
            Err("$.page_size: `pageSize` and `page_size` both set field `pageSize`; use one of its names".into())
        );
        assert_eq!(
            check_proto(json!({"byId": {"-1": "x"}})),
            Err("$.byId[\"-1\"]: expected a key that is a 32-bit unsigned integer (uint32) from 0 to 4294967295, found \"-1\"".into())
        );
        assert!(check_proto(json!({"wait": "soon"})).is_err());
        assert!(check_proto(json!({"ids": [null]})).is_err());
        // A `+protobuf` type that the field's type cannot hold is refused.
        let bad = PROTO.replace("wait String", "wait Int");
        let schema = parse_schema("p.ftl", &bad).unwrap_or_else(|d| panic!("{d}"));
        let problems = crate::schema::validate(&schema);
        assert!(
            problems.iter().any(|d| d
                .message
                .contains("cannot hold protobuf `google.protobuf.Duration` values")),
            "{problems:?}"
        );
    }

    #[test]
    fn times_bytes_and_ints_as_go_reads_them() {
        for bad in [
            "2024-99-99T99:99:99Z",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-00-00T00:00:00Z",
            "2024-13-01T24:00:00Z",
            "2024-05-01T12:00:00+99:99",
            "2024-05-01T12:00:60Z",
            "2024-05-01 12:00:00z",
        ] {
            assert!(check(with("at", json!(bad))).is_err(), "{bad}");
        }
        assert_eq!(
            check(with("at", json!("2023-02-29T00:00:00Z"))),
            Err("$.at: expected an RFC 3339 time such as \"2024-05-01T12:00:00Z\" (Time), found string \"2023-02-29T00:00:00Z\": 2023-02 has no day 29".into())
        );
        for good in [
            "0000-01-01T00:00:00Z",
            "2024-02-29T23:59:59.999Z",
            "2024-05-01T1:00:00,5+24:00",
        ] {
            assert_eq!(check(with("at", json!(good))), Ok(()), "{good}");
        }
        for bad in ["AA", "-_-_", "aGk"] {
            assert!(check(with("raw", json!(bad))).is_err(), "{bad}");
        }
        assert_eq!(check(with("raw", json!("AA=="))), Ok(()));
        for number in ["1e3", "1.0", "-0"] {
            let value: serde_json::Value = serde_json::from_str(number).expect("JSON");
            assert_eq!(
                check(with("amount", value.clone())),
                Err(format!(
                    "$.amount: expected an integer (Int) written with digits only, without a fraction or an exponent (FTL's Go runtime refuses 1e3 and 5.0), found number {value}"
                ))
            );
        }
        assert!(check(with("amount", json!(1e19))).is_err_and(|e| e.contains("64 bits")));
    }

    #[test]
    fn map_keys_are_read_as_their_type_and_one_key_is_named_once() {
        let realm = parse_schema(
            "k.ftl",
            "realm r {
  module m {
    data Keys {
      ints {Int: String}?
      floats {Float: String}?
      bools {Bool: String}?
      times {Time: String}?
      kinds {m.Kind: String}?
      colors {m.Color: String}?
      aliased {m.Id: String}?
      generic m.Box<Int>?
    }

    data Box<K> {
      map {K: String}
    }

    typealias Id Int

    enum Kind: Int {
      KIND_A = 1
      KIND_B = 2
    }

    enum Color: String {
      Red = \"red\"
    }
  }
}
",
        )
        .unwrap_or_else(|d| panic!("{d}"))
        .realms
        .remove(0);
        let checker = Checker::new(&realm);
        let check = |value: serde_json::Value| {
            checker
                .check_body(&Type::from(Ref::new("m", "Keys")), Some(&value))
                .map_err(|e| e.to_string())
        };
        let ok = json!({
            "ints": {"5": "a", "-7": "b"}, "floats": {"1.5": "a", "-2e3": "b"},
            "bools": {"true": "a", "false": "b"},
            "times": {"2024-05-01T12:00:00Z": "a", "2024-05-01T12:00:01Z": "b"},
            "kinds": {"1": "a", "KIND_B": "b"}, "colors": {"red": "a"},
            "aliased": {"9": "a"}, "generic": {"map": {"3": "a"}}
        });
        assert_eq!(check(ok), Ok(()));
        let refused = [
            (
                json!({"kinds": {"PURPLE": "x"}}),
                "$.kinds.PURPLE: the key \"PURPLE\" is not a value of enum Kind; the values are: KIND_A (1), KIND_B (2)",
            ),
            (
                json!({"colors": {"blue": "x"}}),
                "$.colors.blue: the key \"blue\" is not a value of enum Color; the values are: \"red\"",
            ),
            (
                json!({"bools": {"maybe": "x"}}),
                "$.bools.maybe: expected a key that is true or false (Bool), found \"maybe\"",
            ),
            (
                json!({"floats": {"one": "x"}}),
                "$.floats.one: expected a number key (Float, such as \"1.5\" or \"-2e3\"), found \"one\"",
            ),
            (
                json!({"times": {"yesterday": "x"}}),
                "$.times.yesterday: expected an RFC 3339 time key such as \"2024-05-01T12:00:00Z\" (Time), found \"yesterday\": it is not of the form YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)",
            ),
            (
                json!({"ints": {"5": "a", "05": "b"}}),
                "$.ints.05: the keys \"5\" and \"05\" are one key of {Int: String} (5), which Go's decoder keeps only once; send each key once",
            ),
            (
                json!({"ints": {"-0": "a", "0": "b"}}),
                "$.ints.0: the keys \"-0\" and \"0\" are one key of {Int: String} (0), which Go's decoder keeps only once; send each key once",
            ),
            (
                json!({"ints": {"x": "a"}}),
                "$.ints.x: expected an integer key (Int: decimal digits with an optional sign, from -9223372036854775808 to 9223372036854775807), found \"x\"",
            ),
        ];
        for (value, expected) in refused {
            assert_eq!(check(value), Err(expected.to_string()));
        }
        for same in [
            json!({"ints": {"5": "a", "+5": "b"}}),
            json!({"floats": {"1": "a", "1.0": "b"}}),
            json!({"times": {"2024-05-01T12:00:00Z": "a", "2024-05-01T12:00:00.000Z": "b"}}),
            json!({"times": {"2024-05-01T12:00:00Z": "a", "2024-05-01T14:00:00+02:00": "b"}}),
            json!({"kinds": {"1": "a", "KIND_A": "b"}}),
            json!({"aliased": {"1": "a", "01": "b"}}),
            json!({"generic": {"map": {"1": "a", "01": "b"}}}),
        ] {
            let err = check(same.clone()).expect_err("one key twice");
            assert!(err.contains("are one key of"), "{same}: {err}");
        }
    }
}

#[cfg(test)]
mod generic_tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn checker() -> Checker {
        let schema = parse_schema(
            "g.ftl",
            "realm r {
  module a {
    data Box<T> {
      v T
    }

    data Pair<U> {
      b a.Box<U>
      list [a.Box<[U]>]
    }

    data Grow<T> {
      v T
      next a.Grow<[T]>?
    }

    data Node {
      value Int
      next a.Node?
    }
  }
}
",
        )
        .unwrap_or_else(|d| panic!("{d}"));
        Checker::new(&schema.realms[0])
    }

    fn check(ty: &str, value: serde_json::Value) -> Result<(), JsonError> {
        let ty = crate::schema::parse_type("t", ty).unwrap_or_else(|d| panic!("{d}"));
        checker().check_body(&ty, Some(&value))
    }

    #[test]
    fn type_arguments_passed_on_to_another_generic_are_checked() {
        assert!(
            check(
                "a.Pair<Int>",
                json!({"b": {"v": 5}, "list": [{"v": [1, 2]}]})
            )
            .is_ok()
        );
        let err = check("a.Pair<Int>", json!({"b": {"v": "not an int"}, "list": []}))
            .expect_err("a string is not an Int");
        assert_eq!(err.path, "$.b.v");
        let err = check(
            "a.Pair<Int>",
            json!({"b": {"v": 1}, "list": [{"v": [1, "x"]}]}),
        )
        .expect_err("a string is not an Int");
        assert_eq!(err.path, "$.list[0].v[1]");
        // Arguments that grow at every level are checked at every level.
        assert!(
            check(
                "a.Grow<Int>",
                json!({"v": 1, "next": {"v": [2], "next": {"v": [[3]]}}})
            )
            .is_ok()
        );
        let err = check(
            "a.Grow<Int>",
            json!({"v": 1, "next": {"v": ["x", {"deep": true}]}}),
        )
        .expect_err("not an Int");
        assert_eq!(err.path, "$.next.v[0]");
    }

    #[test]
    fn deep_values_of_recursive_types_are_checked_to_the_end() {
        let mut value = json!({"value": 0});
        for i in 1..120 {
            value = json!({"value": i, "next": value});
        }
        assert!(check("a.Node", value.clone()).is_ok());
        let mut bad = json!({"value": "x"});
        for i in 1..120 {
            bad = json!({"value": i, "next": bad});
        }
        let err = check("a.Node", bad).expect_err("the innermost value is not an Int");
        assert!(err.path.ends_with(".next.value"), "{}", err.path);
    }
}
