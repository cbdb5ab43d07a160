//! Proto3 JSON, for data marked `+protobuf "pkg.Message"`: members by
//! JSON or `.proto` name, fields at their defaults left out or `null`, each
//! field in the JSON form of its `+protobuf` type, well-known types and
//! `google.protobuf.Any`.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::{At, Checker, JsonError, MAX_CHECK_DEPTH, push_member};
use crate::schema::model::*;
use crate::schema::proto3_json::{self, found};
use crate::schema::protobuf::{JsonForm, ProtoKind, ProtoType};

impl Checker {
    /// A protobuf message (data marked `+protobuf "pkg.Message"`), read as
    /// proto3 JSON: members named by JSON or `.proto` name (not both),
    /// fields without presence may be left out, `null` means "not set"
    /// (except for google.protobuf.Value and NullValue), each field's
    /// value in the JSON form of its `+protobuf` type.
    pub(super) fn check_message(&self, data: &Data, r: &Ref, at: At) -> Result<(), JsonError> {
        let At { value, path, depth } = at;
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
                Some(proto) => self.check_proto_field(
                    &field.ty,
                    proto,
                    At {
                        value: member,
                        path,
                        depth: 0,
                    },
                )?,
                None => self.check(
                    &field.ty,
                    At {
                        value: member,
                        path,
                        depth: 0,
                    },
                    &HashMap::new(),
                )?,
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
    fn check_proto_field(&self, ty: &Type, proto: ProtoType, at: At) -> Result<(), JsonError> {
        let At { value, path, depth } = at;
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
                    self.check_proto_value(
                        element,
                        proto.value,
                        At {
                            value: item,
                            path,
                            depth: 0,
                        },
                    )?;
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
                    self.check_proto_value(
                        val,
                        proto.value,
                        At {
                            value: v,
                            path,
                            depth: 0,
                        },
                    )?;
                    path.truncate(len);
                }
                Ok(())
            }
            (single, _) => self.check_proto_value(single, proto.value, At { value, path, depth }),
        }
    }

    /// One value of protobuf kind `kind` (realm type `ty`).
    fn check_proto_value(&self, ty: &Type, kind: ProtoKind, at: At) -> Result<(), JsonError> {
        let At { value, path, depth } = at;
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
            JsonForm::Any => self.check_any(At { value, path, depth }),
            JsonForm::Enum => {
                let enumeration = match resolve_alias(self, ty).reference() {
                    Some(Ref {
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
                    return self.check(ty, At { value, path, depth }, &HashMap::new());
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
            JsonForm::Message => self.check(ty, At { value, path, depth }, &HashMap::new()),
        }
    }

    /// A google.protobuf.Any: `{"@type": "type.googleapis.com/pkg.Message",
    /// ...the message's fields}`, or `"value"` holding a well-known type's
    /// JSON. The type must be a message of this realm or a well-known type.
    fn check_any(&self, at: At) -> Result<(), JsonError> {
        let At { value, path, depth } = at;
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
                self.check_proto_value(
                    &ty,
                    kind,
                    At {
                        value: inner,
                        path,
                        depth: depth + 1,
                    },
                )?;
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
        self.check_message(
            data,
            &r,
            At {
                value: &Value::Object(rest),
                path,
                depth: depth + 1,
            },
        )
    }
}

fn resolve_alias<'t>(checker: &'t Checker, ty: &'t Type) -> &'t Type {
    if let Some(Ref {
        module: Some(m),
        name,
        ..
    }) = ty.reference()
        && let Some(Decl::TypeAlias(alias)) = checker.decl(m, name)
    {
        return &alias.ty;
    }
    ty
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
