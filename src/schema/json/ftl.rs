//! FTL's JSON: data (members by JSON name, type arguments substituted,
//! `+oneof` groups), value and type enums, map keys read as their type.

use std::collections::HashMap;

use serde_json::Value;

use super::{At, Checker, JsonError, MAX_CHECK_DEPTH, accepts_nothing, push_member};
use crate::schema::model::*;
use crate::schema::proto3_json::found;
use crate::schema::values::{self, MapKey};

impl Checker {
    pub(super) fn check_data(
        &self,
        data: &Data,
        r: &Ref,
        at: At,
        outer: &HashMap<&str, &Type>,
    ) -> Result<(), JsonError> {
        // A data type is a value: its members start again from depth 0.
        let At { value, path, .. } = at;
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
        let args: &[Type] = if outer.is_empty() {
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
                    self.check(
                        &field.ty,
                        At {
                            value: v,
                            path,
                            depth: 0,
                        },
                        &params,
                    )?;
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

    pub(super) fn check_enum(
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
                self.check(
                    ty,
                    At {
                        value: o.get("value").unwrap_or(&Value::Null),
                        path,
                        depth: 0,
                    },
                    params,
                )?;
                path.truncate(len);
                Ok(())
            }
        }
    }

    /// How the keys of a map with key type `ty` are read.
    pub(super) fn key_form<'a>(
        &'a self,
        mut ty: &'a Type,
        params: &HashMap<&str, &'a Type>,
    ) -> KeyForm<'a> {
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
pub(super) enum KeyForm<'a> {
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
    pub(super) fn read(&self, key: &str) -> Result<Option<MapKey>, String> {
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

/// `ty` with the type parameters `params` names replaced by their types.
fn substitute(ty: &Type, params: &HashMap<&str, &Type>) -> Type {
    match ty {
        Type::Ref(r) if r.module.is_none() => match params.get(r.name.as_str()) {
            Some(t) => (*t).clone(),
            None => ty.clone(),
        },
        Type::Ref(r) => Type::from(Ref {
            type_args: r.type_args.iter().map(|t| substitute(t, params)).collect(),
            ..(**r).clone()
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
