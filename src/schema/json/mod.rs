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
//! Errors name the JSON path of the offending value (`$.items[2].sku`).

use std::collections::HashMap;
use std::fmt;

use rustc_hash::FxHashMap;

use serde_json::Value;

use super::builtin::builtin_module;
use super::model::*;
use super::proto3_json;
use super::protobuf::{JsonForm, ProtoKind, ProtoType};
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
            Some(value) => self.check(ty, value, &mut path, &HashMap::new(), 0),
        }
    }

    /// `depth` counts the steps taken through types without descending
    /// into the value — optionals, aliases, type parameters, references —
    /// bounded so that no schema can make a check go round without end;
    /// descending into a member, an element or an entry starts again from
    /// 0 (the value's own depth is bounded by serde_json's recursion
    /// limit).
    fn check(
        &self,
        ty: &Type,
        value: &Value,
        path: &mut String,
        params: &HashMap<&str, &Type>,
        depth: usize,
    ) -> Result<(), JsonError> {
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
                _ => self.check(inner, value, path, params, depth),
            },
            Type::List(element) => {
                let Value::Array(items) = value else {
                    return fail(path, &format!("an array ({ty})"));
                };
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.check(element, item, path, params, 0)?;
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
                    self.check(val, v, path, params, 0)?;
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
                        Some(t) => self.check(t, value, path, &HashMap::new(), depth),
                        None => Ok(()),
                    };
                };
                let Some(decl) = self.decl(module, &r.name) else {
                    // Unresolvable in a validated schema: accept.
                    return Ok(());
                };
                match decl {
                    Decl::Data(data) if data.protobuf_message().is_some() => {
                        self.check_message(data, r, value, path, depth)
                    }
                    Decl::Data(data) => self.check_data(data, r, value, path, params),
                    Decl::Enum(e) => self.check_enum(e, value, path, params),
                    Decl::TypeAlias(alias) => self.check(&alias.ty, value, path, params, depth),
                    _ => Ok(()),
                }
            }
        }
    }

    fn check_data(
        &self,
        data: &Data,
        r: &Ref,
        value: &Value,
        path: &mut String,
        outer: &HashMap<&str, &Type>,
    ) -> Result<(), JsonError> {
        let Value::Object(members) = value else {
            return Err(JsonError {
                path: path.clone(),
                message: format!("expected an object ({r}), found {}", found(value)),
            });
        };
        // The type arguments, with the parameters of the data type this
        // one is used in replaced by what they stand for (`Box<U>` inside
        // `Pair<Int>` is `Box<Int>`).
        let args: Vec<Type> = if outer.is_empty() {
            Vec::new()
        } else {
            r.type_args.iter().map(|t| substitute(t, outer)).collect()
        };
        let args = if outer.is_empty() {
            &r.type_args
        } else {
            &args
        };
        let params: HashMap<&str, &Type> = data
            .type_params
            .iter()
            .map(|p| p.name.as_str())
            .zip(args.iter())
            .collect();
        // Unknown members first: a typo is the likeliest mistake.
        for key in members.keys() {
            if !data.fields.iter().any(|f| f.json_name() == key) {
                let len = path.len();
                push_member(path, key);
                let known: Vec<&str> = data.fields.iter().map(Field::json_name).collect();
                let err = JsonError {
                    path: path.clone(),
                    message: format!(
                        "unknown field `{key}` of {r}; the fields are: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                };
                path.truncate(len);
                return Err(err);
            }
        }
        let mut oneofs: HashMap<&str, &str> = HashMap::new();
        for field in &data.fields {
            let name = field.json_name();
            let len = path.len();
            push_member(path, name);
            match members.get(name) {
                None | Some(Value::Null)
                    if accepts_nothing(&field.ty) || matches!(field.ty, Type::Optional(_)) => {}
                None => {
                    let err = JsonError {
                        path: path.clone(),
                        message: format!("missing required field `{name}` ({})", field.ty),
                    };
                    return Err(err);
                }
                Some(v) => {
                    self.check(&field.ty, v, path, &params, 0)?;
                    if !v.is_null()
                        && let Some(group) = field.oneof()
                        && let Some(other) = oneofs.insert(group, name)
                    {
                        return Err(JsonError {
                            path: path.clone(),
                            message: format!(
                                "`{other}` and `{name}` are both set, but at most one field of oneof `{group}` may be"
                            ),
                        });
                    }
                }
            }
            path.truncate(len);
        }
        Ok(())
    }

    /// A protobuf message (data marked `+protobuf "pkg.Message"`), read as
    /// proto3 JSON: members named by JSON or `.proto` name (not both),
    /// fields without presence may be left out, `null` means "not set"
    /// (except for google.protobuf.Value and NullValue), each field's
    /// value in the JSON form of its `+protobuf` type.
    fn check_message(
        &self,
        data: &Data,
        r: &Ref,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), JsonError> {
        if depth > MAX_CHECK_DEPTH {
            return Err(JsonError {
                path: path.clone(),
                message: format!(
                    "the schema's types lead here through more than {MAX_CHECK_DEPTH} messages without reaching a value; it cannot be checked"
                ),
            });
        }
        let Value::Object(members) = value else {
            return Err(JsonError {
                path: path.clone(),
                message: format!(
                    "expected an object ({r}, protobuf message {}), found {}",
                    data.protobuf_message().unwrap_or_default(),
                    found(value)
                ),
            });
        };
        let mut seen: Vec<Option<&str>> = vec![None; data.fields.len()];
        let mut oneofs: HashMap<&str, &str> = HashMap::new();
        for (key, member) in members {
            let len = path.len();
            push_member(path, key);
            let Some(i) = data
                .fields
                .iter()
                .position(|f| f.json_name() == key)
                .or_else(|| data.fields.iter().position(|f| proto_name(f) == key))
            else {
                let known: Vec<&str> = data.fields.iter().map(Field::json_name).collect();
                return Err(JsonError {
                    path: path.clone(),
                    message: format!(
                        "unknown field `{key}` of {r}; the fields are: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                });
            };
            let field = &data.fields[i];
            if let Some(other) = seen[i].replace(key) {
                return Err(JsonError {
                    path: path.clone(),
                    message: format!(
                        "`{other}` and `{key}` both set field `{}`; use one of its names",
                        field.json_name()
                    ),
                });
            }
            let proto = field.protobuf().map(|(ty, _)| ty);
            let kind = proto.map_or(ProtoKind::Message, |t| t.value);
            let single = !matches!(strip_optional(&field.ty), Type::List(_) | Type::Map(..));
            if member.is_null() && !(single && kind.null_is_a_value()) {
                // Not set: the default, an empty list or map, or no value.
                path.truncate(len);
                continue;
            }
            match proto {
                Some(proto) => self.check_proto_field(&field.ty, proto, member, path, 0)?,
                None => self.check(&field.ty, member, path, &HashMap::new(), 0)?,
            }
            if let Some(group) = field.oneof()
                && let Some(other) = oneofs.insert(group, field.json_name())
            {
                return Err(JsonError {
                    path: path.clone(),
                    message: format!(
                        "`{other}` and `{}` are both set, but at most one field of oneof `{group}` may be",
                        field.json_name()
                    ),
                });
            }
            path.truncate(len);
        }
        Ok(())
    }

    /// A field's value (not `null`) in the JSON form of its `+protobuf`
    /// type: a list or map of such values, or one.
    fn check_proto_field(
        &self,
        ty: &Type,
        proto: ProtoType,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), JsonError> {
        let fail = |path: &str, expected: String| {
            Err(JsonError {
                path: path.to_string(),
                message: format!("expected {expected}, found {}", found(value)),
            })
        };
        match (strip_optional(ty), proto.key) {
            (Type::List(element), None) => {
                let Value::Array(items) = value else {
                    return fail(path, format!("an array ({ty}, repeated {})", proto.value));
                };
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    if item.is_null() && !proto.value.null_is_a_value() {
                        return Err(JsonError {
                            path: path.clone(),
                            message: format!(
                                "expected {} ({}), found null: a list cannot hold null",
                                element, proto.value
                            ),
                        });
                    }
                    self.check_proto_value(element, proto.value, item, path, 0)?;
                    path.truncate(len);
                }
                Ok(())
            }
            (Type::Map(_, val), Some(key_kind)) => {
                let Value::Object(entries) = value else {
                    return fail(path, format!("an object ({ty}, {proto})"));
                };
                // Integer keys by value, and the member that named each
                // first: protojson refuses "duplicate map key" `"5"` and
                // `"05"` (bool and string keys cannot repeat: `json_read`
                // refuses a repeated member).
                let mut seen: FxHashMap<i128, &str> = FxHashMap::default();
                for (k, v) in entries {
                    let len = path.len();
                    push_member(path, k);
                    let key = match key_kind.json_form() {
                        JsonForm::Int(range) => {
                            proto3_json::int_key(k, range, key_kind.name()).map(Some)
                        }
                        JsonForm::Bool if k != "true" && k != "false" => Err(format!(
                            "expected a key that is true or false (bool), found {k:?}"
                        )),
                        _ => Ok(None),
                    };
                    let key = key.map_err(|message| JsonError {
                        path: path.clone(),
                        message,
                    })?;
                    if let Some(key) = key
                        && let Some(first) = seen.insert(key, k)
                    {
                        return Err(JsonError {
                            path: path.clone(),
                            message: format!(
                                "the keys {first:?} and {k:?} are one key ({key}) of {proto}, and protojson refuses a duplicate map key; send each key once"
                            ),
                        });
                    }
                    if v.is_null() && !proto.value.null_is_a_value() {
                        return Err(JsonError {
                            path: path.clone(),
                            message: format!(
                                "expected {val} ({}), found null: a map cannot hold null",
                                proto.value
                            ),
                        });
                    }
                    self.check_proto_value(val, proto.value, v, path, 0)?;
                    path.truncate(len);
                }
                Ok(())
            }
            (single, _) => self.check_proto_value(single, proto.value, value, path, depth),
        }
    }

    /// One value of protobuf kind `kind` (realm type `ty`).
    fn check_proto_value(
        &self,
        ty: &Type,
        kind: ProtoKind,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), JsonError> {
        let at = |path: &str, r: Result<(), String>| {
            r.map_err(|message| JsonError {
                path: path.to_string(),
                message,
            })
        };
        let fail = |path: &str, expected: &str| {
            Err(JsonError {
                path: path.to_string(),
                message: format!("expected {expected}, found {}", found(value)),
            })
        };
        match kind.json_form() {
            JsonForm::Int(range) => at(path, proto3_json::int(value, range, kind.name())),
            JsonForm::Float { bits32 } => at(path, proto3_json::float(value, bits32, kind.name())),
            JsonForm::Bool => match value {
                Value::Bool(_) => Ok(()),
                _ => fail(path, &format!("true or false ({kind})")),
            },
            JsonForm::String => match value {
                Value::String(_) => Ok(()),
                _ => fail(path, &format!("a string ({kind})")),
            },
            JsonForm::Bytes => at(path, proto3_json::bytes(value)),
            JsonForm::Timestamp => at(path, proto3_json::timestamp(value)),
            JsonForm::Duration => at(path, proto3_json::duration(value)),
            JsonForm::FieldMask => at(path, proto3_json::field_mask(value)),
            JsonForm::NullValue => at(path, proto3_json::null_value(value)),
            JsonForm::Value => Ok(()),
            JsonForm::Struct => match value {
                Value::Object(_) => Ok(()),
                _ => fail(path, "an object (google.protobuf.Struct)"),
            },
            JsonForm::ListValue => match value {
                Value::Array(_) => Ok(()),
                _ => fail(path, "an array (google.protobuf.ListValue)"),
            },
            JsonForm::Empty => match value {
                Value::Object(o) if o.is_empty() => Ok(()),
                _ => fail(path, "{} (google.protobuf.Empty)"),
            },
            JsonForm::Any => self.check_any(value, path, depth),
            JsonForm::Enum => {
                let enumeration = match resolve_alias(self, ty) {
                    Type::Ref(Ref {
                        module: Some(m),
                        name,
                        ..
                    }) => match self.decl(m, name) {
                        Some(Decl::Enum(e)) => Some(e),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(e) = enumeration else {
                    return self.check(ty, value, path, &HashMap::new(), depth);
                };
                match value {
                    Value::String(s) if e.variants.iter().any(|v| &v.name == s) => Ok(()),
                    // Open enums (proto3): any 32-bit number is a value.
                    Value::Number(n) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => {
                        Ok(())
                    }
                    _ => {
                        let names: Vec<&str> = e.variants.iter().map(|v| v.name.as_str()).collect();
                        Err(JsonError {
                            path: path.clone(),
                            message: format!(
                                "{} is not a value of enum {}; the values are: {} (or a 32-bit number)",
                                found(value),
                                e.name,
                                names.join(", ")
                            ),
                        })
                    }
                }
            }
            JsonForm::Message => self.check(ty, value, path, &HashMap::new(), depth),
        }
    }

    /// A google.protobuf.Any: `{"@type": "type.googleapis.com/pkg.Message",
    /// ...the message's fields}`, or `"value"` holding a well-known type's
    /// JSON. The type must be a message of this realm or a well-known type.
    fn check_any(&self, value: &Value, path: &mut String, depth: usize) -> Result<(), JsonError> {
        let Value::Object(members) = value else {
            return Err(JsonError {
                path: path.clone(),
                message: format!(
                    "expected an object with \"@type\" (google.protobuf.Any), found {}",
                    found(value)
                ),
            });
        };
        let len = path.len();
        path.push_str("[\"@type\"]");
        let type_url = match members.get("@type") {
            Some(Value::String(url)) => url,
            Some(other) => {
                return Err(JsonError {
                    path: path.clone(),
                    message: format!(
                        "expected a type URL such as \"type.googleapis.com/acme.v1.Item\", found {}",
                        found(other)
                    ),
                });
            }
            None => {
                return Err(JsonError {
                    path: path.clone(),
                    message: "missing \"@type\": a google.protobuf.Any names the type of its value, e.g. \"type.googleapis.com/acme.v1.Item\"".into(),
                });
            }
        };
        let name = type_url.rsplit_once('/').map_or("", |(_, name)| name);
        let mut rest = members.clone();
        rest.remove("@type");
        if let Some(kind) = ProtoKind::well_known(name) {
            path.truncate(len);
            if rest.keys().any(|k| k != "value") || !rest.contains_key("value") {
                return Err(JsonError {
                    path: path.clone(),
                    message: format!(
                        "expected {{\"@type\": {type_url:?}, \"value\": ...}}: an Any holding {name} has its JSON in \"value\""
                    ),
                });
            }
            path.push_str(".value");
            let inner = &rest["value"];
            let ty = well_known_type(kind);
            if !inner.is_null() || kind.null_is_a_value() {
                self.check_proto_value(&ty, kind, inner, path, depth + 1)?;
            }
            path.truncate(len);
            return Ok(());
        }
        let Some(&(m, d)) = self.messages.get(name) else {
            let mut known: Vec<&str> = self.messages.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(JsonError {
                path: path.clone(),
                message: format!(
                    "unknown message type {type_url:?}: an Any here may hold a message of this realm ({}) or a well-known type",
                    known.join(", ")
                ),
            });
        };
        path.truncate(len);
        let module = &self.realm.modules[m];
        let Decl::Data(data) = &module.decls[d] else {
            return Ok(());
        };
        let r = Ref::new(&module.name, &data.name);
        self.check_message(data, &r, &Value::Object(rest), path, depth + 1)
    }

    fn check_enum(
        &self,
        e: &Enum,
        value: &Value,
        path: &mut String,
        params: &HashMap<&str, &Type>,
    ) -> Result<(), JsonError> {
        match &e.ty {
            Some(_) => {
                let ok = e.variants.iter().any(|v| match (&v.value, value) {
                    (VariantValue::Int(n), Value::Number(m)) => m.as_i64() == Some(*n),
                    (VariantValue::Int(_), Value::String(s)) => &v.name == s,
                    (VariantValue::String(s), Value::String(t)) => s == t,
                    _ => false,
                });
                if ok {
                    return Ok(());
                }
                let allowed: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| match &v.value {
                        VariantValue::Int(n) => format!("{} ({n})", v.name),
                        VariantValue::String(s) => format!("{s:?}"),
                        VariantValue::Type(_) => v.name.clone(),
                    })
                    .collect();
                Err(JsonError {
                    path: path.clone(),
                    message: format!(
                        "{} is not a value of enum {}; the values are: {}",
                        found(value),
                        e.name,
                        allowed.join(", ")
                    ),
                })
            }
            None => {
                let Value::Object(o) = value else {
                    return Err(JsonError {
                        path: path.clone(),
                        message: format!(
                            "expected {{\"name\": <variant>, \"value\": ...}} (enum {}), found {}",
                            e.name,
                            found(value)
                        ),
                    });
                };
                let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                let Some(variant) = e.variants.iter().find(|v| v.name == name) else {
                    let names: Vec<&str> = e.variants.iter().map(|v| v.name.as_str()).collect();
                    return Err(JsonError {
                        path: format!("{path}.name"),
                        message: format!("expected one of {} (enum {})", names.join(", "), e.name),
                    });
                };
                let VariantValue::Type(ty) = &variant.value else {
                    return Ok(());
                };
                let len = path.len();
                path.push_str(".value");
                self.check(ty, o.get("value").unwrap_or(&Value::Null), path, params, 0)?;
                path.truncate(len);
                Ok(())
            }
        }
    }
}

impl Checker {
    /// How the keys of a map with key type `ty` are read.
    fn key_form<'a>(&'a self, mut ty: &'a Type, params: &HashMap<&str, &'a Type>) -> KeyForm<'a> {
        // Each step follows an optional, a type parameter or an alias; the
        // validator refuses alias cycles, the bound is for safety alone.
        for _ in 0..MAX_CHECK_DEPTH {
            ty = match ty {
                Type::Optional(inner) => inner,
                Type::Int => return KeyForm::Int,
                Type::Float => return KeyForm::Float,
                Type::Bool => return KeyForm::Bool,
                Type::Time => return KeyForm::Time,
                Type::Ref(r) => match &r.module {
                    None => match params.get(r.name.as_str()) {
                        Some(t) => t,
                        None => return KeyForm::Text,
                    },
                    Some(m) => match self.decl(m, &r.name) {
                        Some(Decl::TypeAlias(alias)) => &alias.ty,
                        Some(Decl::Enum(e)) if e.ty.is_some() => return KeyForm::Enum(e),
                        _ => return KeyForm::Text,
                    },
                },
                _ => return KeyForm::Text,
            };
        }
        KeyForm::Text
    }
}

/// How a map's keys are read: each as its type, to a canonical value
/// ([`MapKey`]) when several texts name one value.
enum KeyForm<'a> {
    /// Any string names itself (`String`, and key types no JSON key can
    /// stand for).
    Text,
    Int,
    Float,
    Bool,
    Time,
    /// A value enum: a value of a `String` enum; for an `Int` enum a
    /// variant's number as an `Int` key or its name.
    Enum(&'a Enum),
}

impl KeyForm<'_> {
    fn read(&self, key: &str) -> Result<Option<MapKey>, String> {
        match self {
            KeyForm::Text => Ok(None),
            KeyForm::Int => values::int_key(key).map(Some),
            KeyForm::Float => values::float_key(key).map(Some),
            KeyForm::Bool => values::bool_key(key).map(Some),
            KeyForm::Time => values::time_key(key).map(Some),
            KeyForm::Enum(e) => {
                let number = values::parse_int(key, i64::MIN.into(), i64::MAX.into());
                for v in &e.variants {
                    match &v.value {
                        VariantValue::String(s) if s == key => return Ok(None),
                        VariantValue::Int(n) if v.name == key || number == Some(i128::from(*n)) => {
                            return Ok(Some(MapKey::Int((*n).into())));
                        }
                        _ => {}
                    }
                }
                let allowed: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| match &v.value {
                        VariantValue::Int(n) => format!("{} ({n})", v.name),
                        VariantValue::String(s) => format!("{s:?}"),
                        VariantValue::Type(_) => v.name.clone(),
                    })
                    .collect();
                Err(format!(
                    "the key {key:?} is not a value of enum {}; the values are: {}",
                    e.name,
                    allowed.join(", ")
                ))
            }
        }
    }
}

fn resolve_alias<'t>(checker: &'t Checker, ty: &'t Type) -> &'t Type {
    if let Type::Ref(Ref {
        module: Some(m),
        name,
        ..
    }) = ty
        && let Some(Decl::TypeAlias(alias)) = checker.decl(m, name)
    {
        return &alias.ty;
    }
    ty
}

/// How many steps through types a check may take without descending into
/// the value: far more than any schema needs (the validator refuses alias
/// chains longer than 256 and cycles), few enough to stop at once.
const MAX_CHECK_DEPTH: usize = 1024;

/// 2^63: the first whole float an `Int` cannot hold (serde_json reads an
/// integer beyond 64 bits as the nearest float).
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// `ty` with the type parameters `params` names replaced by their types.
fn substitute(ty: &Type, params: &HashMap<&str, &Type>) -> Type {
    match ty {
        Type::Ref(r) if r.module.is_none() => match params.get(r.name.as_str()) {
            Some(t) => (*t).clone(),
            None => ty.clone(),
        },
        Type::Ref(r) => Type::Ref(Ref {
            type_args: r.type_args.iter().map(|t| substitute(t, params)).collect(),
            ..r.clone()
        }),
        Type::List(t) => Type::List(Box::new(substitute(t, params))),
        Type::Optional(t) => Type::Optional(Box::new(substitute(t, params))),
        Type::Map(k, v) => Type::Map(
            Box::new(substitute(k, params)),
            Box::new(substitute(v, params)),
        ),
        _ => ty.clone(),
    }
}

/// A type whose value may be left out entirely.
fn accepts_nothing(ty: &Type) -> bool {
    matches!(ty, Type::Unit | Type::Optional(_) | Type::Any)
        || matches!(ty, Type::Ref(r) if r.module.as_deref() == Some("builtin") && r.name == "Empty")
}

/// A field's `.proto` name: the `+protobuf` name, or its JSON name.
fn proto_name(field: &Field) -> &str {
    field
        .protobuf()
        .and_then(|(_, name)| name)
        .unwrap_or_else(|| field.json_name())
}

fn strip_optional(ty: &Type) -> &Type {
    match ty {
        Type::Optional(inner) => inner,
        other => other,
    }
}

/// The realm type of a well-known type (as `realm import` maps them).
fn well_known_type(kind: ProtoKind) -> Type {
    match kind.json_form() {
        JsonForm::Int(_) => Type::Int,
        JsonForm::Float { .. } => Type::Float,
        JsonForm::Bool => Type::Bool,
        JsonForm::Bytes => Type::Bytes,
        JsonForm::Timestamp => Type::Time,
        JsonForm::Empty => Type::Unit,
        JsonForm::String | JsonForm::Duration | JsonForm::FieldMask => Type::String,
        _ => Type::Any,
    }
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

use super::proto3_json::found;

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
            .check_body(&Type::Ref(Ref::new("m", "Req")), Some(&value))
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
                .check_body(&Type::Ref(Ref::new("m", "Item")), None)
                .map_err(|e| e.to_string()),
            Err("$: the body is empty, but a value of type m.Item is expected".into())
        );
        assert!(
            checker
                .check_body(&Type::Ref(Ref::new("builtin", "Empty")), None)
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
            .check_body(&Type::Ref(Ref::new("m", "Req")), Some(&value))
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
                .check_body(&Type::Ref(Ref::new("m", "Keys")), Some(&value))
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
