//! What changed between two versions of a realm's public API, and whether
//! each change can break the realms that call it.
//!
//! A change is **breaking** when a caller written against the old API can
//! fail against the new one:
//! - a declaration is removed, or changes kind or type parameters;
//! - a verb's request or response becomes another type;
//! - a field is removed, renamed on the wire (`+alias json`) or retyped;
//! - a field of a request becomes required (`T?` → `T`), or a new required
//!   field appears in a request;
//! - a field of a response becomes optional (`T` → `T?`);
//! - an enum variant is removed or its value changes;
//! - a type alias or a topic's event changes type.
//!
//! Additions (declarations, variants, optional request fields, response
//! fields) and a request field becoming optional are **compatible**.
//!
//! Whether a data type is a request or a response is read off the verbs:
//! types reachable from a verb's request are inputs, from its response
//! outputs; a type that is both, or neither (a standalone type), is judged
//! by the stricter rule. Doc comments and metadata other than `+alias` are
//! not compared.

use std::collections::HashSet;
use std::fmt;

use super::model::*;

/// Whether a change can break callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Compatible,
    Breaking,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Compatible => "compatible",
            Severity::Breaking => "breaking",
        })
    }
}

/// One change to the public API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub severity: Severity,
    /// `module.Name` of the declaration that changed.
    pub decl: String,
    /// What changed, e.g. "field `amount` changed type from Int to Float".
    pub message: String,
    /// The field or variant the change is about, when it is about one
    /// (for [`super::callers`]: whether a caller uses what changed).
    pub member: Option<Member>,
}

/// The part of a declaration a change is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    /// A field the old API has (removed, renamed on the wire, retyped,
    /// optional or required now).
    Field(String),
    /// A field only the new API has (a required field added to a request).
    NewField(String),
    /// A field of a request that must now be sent (it became required, or
    /// was retyped to a required type): it breaks a caller whether or not
    /// the caller's version has it (one that lacks it never sends it).
    Required(String),
    /// An enum variant the old API has (removed or changed value).
    Variant(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.decl, self.message)
    }
}

/// The changes from `old` to `new`, in the order of `new`'s declarations
/// (removals in the order of `old`'s), breaking and compatible mixed.
pub fn diff(old: &Realm, new: &Realm) -> Vec<Change> {
    let roles_old = Roles::of(old);
    let roles_new = Roles::of(new);
    let mut changes = Vec::new();
    for (module, decl) in old.decls() {
        if new
            .module(&module.name)
            .and_then(|m| m.decl(decl.name()))
            .is_none()
        {
            changes.push(Change {
                severity: Severity::Breaking,
                decl: format!("{}.{}", module.name, decl.name()),
                message: format!("{} removed", decl.kind()),
                member: None,
            });
        }
    }
    for (module, decl) in new.decls() {
        let name = format!("{}.{}", module.name, decl.name());
        let Some(before) = old.module(&module.name).and_then(|m| m.decl(decl.name())) else {
            changes.push(Change {
                severity: Severity::Compatible,
                decl: name,
                message: format!("{} added", decl.kind()),
                member: None,
            });
            continue;
        };
        let role = roles_old
            .role(&module.name, decl.name())
            .stricter(roles_new.role(&module.name, decl.name()));
        let mut out = Out {
            decl: &name,
            changes: &mut changes,
        };
        compare_decl(&mut out, before, decl, role);
    }
    changes
}

struct Out<'a> {
    decl: &'a str,
    changes: &'a mut Vec<Change>,
}

impl Out<'_> {
    fn push(&mut self, severity: Severity, message: String) {
        self.push_member(severity, message, None);
    }

    fn push_member(&mut self, severity: Severity, message: String, member: Option<Member>) {
        self.changes.push(Change {
            severity,
            decl: self.decl.to_string(),
            message,
            member,
        });
    }
}

/// How a data type is used by the verbs of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Input,
    Output,
    /// Both, or neither: judged by the stricter rule.
    Both,
}

impl Role {
    fn stricter(self, other: Role) -> Role {
        if self == other { self } else { Role::Both }
    }
}

struct Roles {
    inputs: HashSet<(String, String)>,
    outputs: HashSet<(String, String)>,
}

impl Roles {
    fn of(realm: &Realm) -> Roles {
        let mut inputs = HashSet::new();
        let mut outputs = HashSet::new();
        for (_, decl) in realm.decls() {
            if let Decl::Verb(verb) = decl {
                reach(realm, &verb.request, &mut inputs);
                reach(realm, &verb.response, &mut outputs);
            }
        }
        Roles { inputs, outputs }
    }

    fn role(&self, module: &str, name: &str) -> Role {
        let key = (module.to_string(), name.to_string());
        match (self.inputs.contains(&key), self.outputs.contains(&key)) {
            (true, false) => Role::Input,
            (false, true) => Role::Output,
            _ => Role::Both,
        }
    }
}

/// Adds every declaration of `realm` reachable from `ty` to `seen`.
fn reach<'a>(realm: &'a Realm, ty: &'a Type, seen: &mut HashSet<(String, String)>) {
    let mut stack = Vec::new();
    ty.walk(&mut |t| stack.extend(local_ref(t)));
    while let Some((module, name)) = stack.pop() {
        if !seen.insert((module.to_string(), name.to_string())) {
            continue;
        }
        if let Some(decl) = realm.module(module).and_then(|m| m.decl(name)) {
            decl.for_each_type(&mut |t| stack.extend(local_ref(t)));
        }
    }
}

/// The module and name of a reference to a declaration of the same realm.
fn local_ref(ty: &Type) -> Option<(&str, &str)> {
    match ty.reference() {
        Some(Ref {
            realm: None,
            module: Some(module),
            name,
            ..
        }) => Some((module, name)),
        _ => None,
    }
}

fn compare_decl(out: &mut Out, old: &Decl, new: &Decl, role: Role) {
    use Severity::*;
    match (old, new) {
        (Decl::Data(a), Decl::Data(b)) => {
            let params = |d: &Data| {
                d.type_params
                    .iter()
                    .map(|p| p.name.clone())
                    .collect::<Vec<_>>()
            };
            if params(a) != params(b) {
                out.push(
                    Breaking,
                    format!(
                        "type parameters changed from <{}> to <{}>",
                        params(a).join(", "),
                        params(b).join(", ")
                    ),
                );
            }
            compare_fields(out, a, b, role);
        }
        (Decl::Verb(a), Decl::Verb(b)) => {
            if !same_type(&a.request, &b.request) {
                out.push(
                    Breaking,
                    format!("request changed from {} to {}", a.request, b.request),
                );
            }
            if !same_type(&a.response, &b.response) {
                out.push(
                    Breaking,
                    format!("response changed from {} to {}", a.response, b.response),
                );
            }
        }
        (Decl::Enum(a), Decl::Enum(b)) => {
            match (&a.ty, &b.ty) {
                (Some(x), Some(y)) if !same_type(x, y) => {
                    out.push(Breaking, format!("type changed from {x} to {y}"));
                }
                (Some(_), None) | (None, Some(_)) => {
                    out.push(
                        Breaking,
                        "changed between a value enum and a type enum".into(),
                    );
                }
                _ => {}
            }
            for variant in &a.variants {
                match b.variants.iter().find(|v| v.name == variant.name) {
                    None => out.push_member(
                        Breaking,
                        format!("variant `{}` removed", variant.name),
                        Some(Member::Variant(variant.name.clone())),
                    ),
                    Some(now) if !same_value(&variant.value, &now.value) => out.push_member(
                        Breaking,
                        format!(
                            "variant `{}` changed from {} to {}",
                            variant.name,
                            show_value(&variant.value),
                            show_value(&now.value)
                        ),
                        Some(Member::Variant(variant.name.clone())),
                    ),
                    Some(_) => {}
                }
            }
            for variant in &b.variants {
                if !a.variants.iter().any(|v| v.name == variant.name) {
                    out.push(Compatible, format!("variant `{}` added", variant.name));
                }
            }
        }
        (Decl::TypeAlias(a), Decl::TypeAlias(b)) => {
            if !same_type(&a.ty, &b.ty) {
                out.push(Breaking, format!("type changed from {} to {}", a.ty, b.ty));
            }
        }
        (Decl::Topic(a), Decl::Topic(b)) => {
            if !same_type(&a.event, &b.event) {
                out.push(
                    Breaking,
                    format!("event type changed from {} to {}", a.event, b.event),
                );
            }
        }
        (Decl::Config(_), Decl::Config(_))
        | (Decl::Secret(_), Decl::Secret(_))
        | (Decl::Database(_), Decl::Database(_)) => {}
        (a, b) => out.push(
            Breaking,
            format!("changed from {} to {}", a.kind(), b.kind()),
        ),
    }
}

fn compare_fields(out: &mut Out, old: &Data, new: &Data, role: Role) {
    use Severity::*;
    for field in &old.fields {
        let Some(now) = new.fields.iter().find(|f| f.name == field.name) else {
            out.push_member(
                Breaking,
                format!("field `{}` removed", field.name),
                Some(Member::Field(field.name.clone())),
            );
            continue;
        };
        if field.json_name() != now.json_name() {
            out.push_member(
                Breaking,
                format!(
                    "field `{}` is now sent as \"{}\" instead of \"{}\"",
                    field.name,
                    now.json_name(),
                    field.json_name()
                ),
                Some(Member::Field(field.name.clone())),
            );
        }
        if same_type(&field.ty, &now.ty) {
            continue;
        }
        let became_optional =
            matches!(&now.ty, Type::Optional(inner) if same_type(inner, &field.ty));
        let became_required =
            matches!(&field.ty, Type::Optional(inner) if same_type(inner, &now.ty));
        let (severity, message) = match (became_optional, became_required, role) {
            (true, _, Role::Input) => (
                Compatible,
                format!("field `{}` became optional", field.name),
            ),
            (true, _, _) => (
                Breaking,
                format!("field `{}` became optional in a response", field.name),
            ),
            (_, true, Role::Output) => (
                Compatible,
                format!("field `{}` became required", field.name),
            ),
            (_, true, _) => (
                Breaking,
                format!("field `{}` became required in a request", field.name),
            ),
            _ => (
                Breaking,
                format!(
                    "field `{}` changed type from {} to {}",
                    field.name, field.ty, now.ty
                ),
            ),
        };
        let must_send = role != Role::Output && !matches!(now.ty, Type::Optional(_));
        let member = if severity == Breaking && must_send {
            Member::Required(field.name.clone())
        } else {
            Member::Field(field.name.clone())
        };
        out.push_member(severity, message, Some(member));
    }
    for field in &new.fields {
        if old.fields.iter().any(|f| f.name == field.name) {
            continue;
        }
        let optional = matches!(field.ty, Type::Optional(_));
        if optional || role == Role::Output {
            out.push_member(
                Compatible,
                format!("field `{}` added", field.name),
                Some(Member::NewField(field.name.clone())),
            );
        } else {
            out.push_member(
                Breaking,
                format!("required field `{}` added to a request", field.name),
                Some(Member::NewField(field.name.clone())),
            );
        }
    }
}

/// Structural equality of types, ignoring positions.
pub fn same_type(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::List(x), Type::List(y)) | (Type::Optional(x), Type::Optional(y)) => same_type(x, y),
        (Type::Map(k1, v1), Type::Map(k2, v2)) => same_type(k1, k2) && same_type(v1, v2),
        (Type::Ref(x), Type::Ref(y)) => {
            x.realm == y.realm
                && x.module == y.module
                && x.name == y.name
                && x.type_args.len() == y.type_args.len()
                && x.type_args
                    .iter()
                    .zip(&y.type_args)
                    .all(|(a, b)| same_type(a, b))
        }
        (a, b) => {
            std::mem::discriminant(a) == std::mem::discriminant(b) && !matches!(a, Type::Ref(_))
        }
    }
}

fn same_value(a: &VariantValue, b: &VariantValue) -> bool {
    match (a, b) {
        (VariantValue::Type(x), VariantValue::Type(y)) => same_type(x, y),
        (a, b) => a == b,
    }
}

fn show_value(v: &VariantValue) -> String {
    match v {
        VariantValue::Int(n) => n.to_string(),
        VariantValue::String(s) => format!("{s:?}"),
        VariantValue::Type(t) => t.to_string(),
    }
}
