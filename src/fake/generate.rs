//! Values generated for a schema type: what a fake realm answers when no
//! example matches. Every value fits its type as the ingress checks it
//! ([`Checker`]): optional fields set or left out, value enums one of
//! their values, type enums `{"name", "value"}`, maps keyed as their key
//! type reads (distinct keys), `Time` as RFC 3339, type arguments
//! substituted, aliases followed, members named by `+alias json`; data
//! marked `+protobuf` as proto3 JSON (a field kept only when the message
//! with it still fits).
//!
//! Bounded: lists and maps hold at most 3 entries; past [`MAX_DEPTH`]
//! levels or [`MAX_VALUES`] values, optionals are left out, lists and maps
//! are empty and a type enum takes its variant that ends soonest, so a
//! recursive type ends. Pure and deterministic: the same seed gives the
//! same value.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value};

use super::seed::Rng;
use crate::schema::json::Checker;
use crate::schema::{Data, Decl, Enum, Ref, Type, VariantValue};

/// Levels of data, lists and maps before values are cut short.
pub const MAX_DEPTH: usize = 5;
/// Values in one reply before values are cut short.
pub const MAX_VALUES: usize = 400;
/// Levels past which nothing is generated at all (`null`): only a type
/// the validator refuses (no value satisfies it) gets there.
const HARD_DEPTH: usize = 64;

/// Type parameters and what they stand for (with no parameters left in
/// them).
type Params = HashMap<String, Type>;

/// Generates values of the types of one realm.
#[derive(Debug)]
pub struct Generator {
    checker: Checker,
    /// Per declaration (`module.Name`), how many levels of data its
    /// smallest value needs: how a type enum past the depth bound picks
    /// the variant that ends soonest.
    costs: HashMap<(String, String), u32>,
}

const UNREACHABLE: u32 = u32::MAX / 4;

impl Generator {
    pub fn new(checker: Checker) -> Generator {
        let costs = costs(&checker);
        Generator { checker, costs }
    }

    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// A value of `ty`, from `seed`.
    pub fn value(&self, ty: &Type, seed: u64) -> Value {
        let mut walk = Walk {
            generator: self,
            rng: Rng::new(seed),
            values: 0,
        };
        walk.value(ty, &Params::new(), 0)
    }

    fn cost(&self, ty: &Type) -> u32 {
        match ty {
            Type::Ref(r) => match &r.module {
                Some(m) => self
                    .costs
                    .get(&(m.clone(), r.name.clone()))
                    .copied()
                    .unwrap_or(0),
                None => 0,
            },
            _ => 0,
        }
    }
}

/// The smallest depth of a value of each declaration, found by iterating
/// to a fixed point (type arguments count as nothing).
fn costs(checker: &Checker) -> HashMap<(String, String), u32> {
    let mut costs: HashMap<(String, String), u32> = HashMap::new();
    let decls: Vec<(String, String, &Decl)> = checker
        .realm()
        .modules
        .iter()
        .flat_map(|m| {
            m.decls
                .iter()
                .map(move |d| (m.name.clone(), d.name().to_string(), d))
        })
        .collect();
    let cost_of = |ty: &Type, costs: &HashMap<(String, String), u32>| -> u32 {
        fn walk(ty: &Type, costs: &HashMap<(String, String), u32>) -> u32 {
            match ty.reference() {
                Some(Ref {
                    module: Some(m),
                    name,
                    ..
                }) => costs
                    .get(&(m.clone(), name.clone()))
                    .copied()
                    .unwrap_or(UNREACHABLE),
                _ => 0,
            }
        }
        walk(ty, costs)
    };
    // Each round settles at least one more declaration; a declaration
    // never settled is one no value reaches (refused by the validator).
    for _ in 0..=decls.len() {
        let mut changed = false;
        for (module, name, decl) in &decls {
            let cost = match decl {
                Decl::Data(data) => data
                    .fields
                    .iter()
                    .filter(|f| !matches!(f.ty, Type::Optional(_)))
                    .map(|f| cost_of(&f.ty, &costs))
                    .max()
                    .unwrap_or(0)
                    .saturating_add(1),
                Decl::Enum(e) if e.ty.is_none() => e
                    .variants
                    .iter()
                    .map(|v| match &v.value {
                        VariantValue::Type(ty) => cost_of(ty, &costs),
                        _ => 0,
                    })
                    .min()
                    .unwrap_or(0)
                    .saturating_add(1),
                Decl::TypeAlias(alias) => cost_of(&alias.ty, &costs),
                _ => 0,
            }
            .min(UNREACHABLE);
            let key = (module.clone(), name.clone());
            if costs.get(&key) != Some(&cost) {
                costs.insert(key, cost);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    costs
}

/// One value being generated: its random numbers and how many values it
/// holds so far.
struct Walk<'g> {
    generator: &'g Generator,
    rng: Rng,
    values: usize,
}

const WORDS: [&str; 16] = [
    "amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper",
    "lumen", "maple", "nova", "onyx", "quartz", "river",
];

impl<'g> Walk<'g> {
    /// Whether values are cut short here: optionals left out, lists and
    /// maps empty.
    fn short(&self, depth: usize) -> bool {
        depth >= MAX_DEPTH || self.values >= MAX_VALUES
    }

    fn value(&mut self, ty: &Type, params: &Params, depth: usize) -> Value {
        if depth > HARD_DEPTH {
            return Value::Null;
        }
        self.values += 1;
        match ty {
            Type::Any => Value::String(self.word()),
            Type::Unit => Value::Object(Map::new()),
            Type::Int => Value::from(self.rng.below(10_000)),
            Type::Float => Value::from(self.rng.below(1_000_000) as f64 / 100.0),
            Type::String => Value::String(self.word()),
            Type::Bool => Value::Bool(self.rng.one_in(2)),
            Type::Bytes => {
                let len = self.rng.below(12) as usize;
                let bytes: Vec<u8> = (0..len).map(|_| self.rng.below(256) as u8).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Type::Time => Value::String(self.time()),
            Type::Optional(inner) => {
                if self.short(depth) || self.rng.one_in(4) {
                    Value::Null
                } else {
                    self.value(inner, params, depth)
                }
            }
            Type::List(element) => {
                let n = if self.short(depth) {
                    0
                } else {
                    self.rng.below(4)
                };
                Value::Array(
                    (0..n)
                        .map(|_| self.value(element, params, depth + 1))
                        .collect(),
                )
            }
            Type::Map(key, val) => self.map(key, val, params, depth),
            Type::Ref(r) => self.reference(r, params, depth),
        }
    }

    fn word(&mut self) -> String {
        let word = WORDS[self.rng.below(WORDS.len() as u64) as usize];
        format!("{word}-{}", self.rng.below(1000))
    }

    /// An RFC 3339 time in 2020-2029.
    fn time(&mut self) -> String {
        let year = 2020 + self.rng.below(10);
        let month = 1 + self.rng.below(12);
        let day = 1 + self.rng.below(28);
        let hour = self.rng.below(24);
        let minute = self.rng.below(60);
        let second = self.rng.below(60);
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }

    fn reference(&mut self, r: &Ref, params: &Params, depth: usize) -> Value {
        let Some(module) = &r.module else {
            // A type parameter: its argument, or (unbound) anything.
            return match params.get(&r.name) {
                Some(ty) => {
                    let ty = ty.clone();
                    self.value(&ty, &Params::new(), depth)
                }
                None => Value::String(self.word()),
            };
        };
        let generator = self.generator;
        match generator.checker.decl(module, &r.name) {
            Some(Decl::Data(data)) if data.protobuf_message().is_some() => {
                self.message(data, r, depth)
            }
            Some(Decl::Data(data)) => self.data(data, r, params, depth),
            Some(Decl::Enum(e)) => self.enumeration(e, params, depth),
            Some(Decl::TypeAlias(alias)) => self.value(&alias.ty, params, depth),
            _ => Value::Null,
        }
    }

    fn data(&mut self, data: &Data, r: &Ref, outer: &Params, depth: usize) -> Value {
        let params: Params = data
            .type_params
            .iter()
            .zip(&r.type_args)
            .map(|(p, arg)| (p.name.clone(), substitute(arg, outer)))
            .collect();
        let mut members = Map::new();
        let mut oneofs: Vec<&str> = Vec::new();
        for field in &data.fields {
            let group = field.oneof();
            let ty = match &field.ty {
                Type::Optional(inner) => {
                    let taken = group.is_some_and(|g| oneofs.contains(&g));
                    if taken || self.short(depth + 1) || self.rng.one_in(3) {
                        continue;
                    }
                    inner.as_ref()
                }
                ty => ty,
            };
            let value = self.value(ty, &params, depth + 1);
            if let Some(group) = group
                && !value.is_null()
            {
                oneofs.push(group);
            }
            members.insert(field.json_name().to_string(), value);
        }
        Value::Object(members)
    }

    /// A protobuf message, as proto3 JSON: each field generated and kept
    /// only when the message with it still fits (proto3 JSON's forms of
    /// integers, durations and well-known types differ from FTL's).
    fn message(&mut self, data: &Data, r: &Ref, depth: usize) -> Value {
        let mut members = Map::new();
        let ty = Type::from(r.clone());
        for field in &data.fields {
            if self.short(depth + 1) || self.rng.one_in(3) {
                continue;
            }
            let inner = match &field.ty {
                Type::Optional(inner) => inner.as_ref(),
                ty => ty,
            };
            let value = self.value(inner, &Params::new(), depth + 1);
            let name = field.json_name().to_string();
            members.insert(name.clone(), value);
            let message = Value::Object(members);
            let fits = self
                .generator
                .checker
                .check_body(&ty, Some(&message))
                .is_ok();
            let Value::Object(back) = message else {
                unreachable!("an object stays one");
            };
            members = back;
            if !fits {
                members.shift_remove(&name);
            }
        }
        Value::Object(members)
    }

    fn enumeration(&mut self, e: &Enum, params: &Params, depth: usize) -> Value {
        if e.variants.is_empty() {
            return Value::Null;
        }
        let variant = if e.ty.is_none() && self.short(depth) {
            // The variant whose value ends soonest.
            let generator = self.generator;
            e.variants
                .iter()
                .min_by_key(|v| match &v.value {
                    VariantValue::Type(ty) => generator.cost(ty),
                    _ => 0,
                })
                .unwrap_or(&e.variants[0])
        } else {
            &e.variants[self.rng.below(e.variants.len() as u64) as usize]
        };
        match &variant.value {
            VariantValue::Int(n) => Value::from(*n),
            VariantValue::String(s) => Value::String(s.clone()),
            VariantValue::Type(ty) => {
                let value = self.value(ty, params, depth + 1);
                let mut members = Map::new();
                members.insert("name".into(), Value::String(variant.name.clone()));
                members.insert("value".into(), value);
                Value::Object(members)
            }
        }
    }

    fn map(&mut self, key: &Type, val: &Type, params: &Params, depth: usize) -> Value {
        let form = self.key_form(key, params);
        let wanted = if self.short(depth) {
            0
        } else {
            self.rng.below(4)
        };
        let n = match &form {
            KeyForm::Bool => wanted.min(2),
            KeyForm::Enum(e) => wanted.min(e.variants.len() as u64),
            _ => wanted,
        };
        let start = self.rng.below(1000);
        let mut entries = Map::new();
        for i in 0..n {
            let key = match &form {
                KeyForm::Text => format!("{}-{i}", self.word()),
                KeyForm::Int => (start + i * 1000).to_string(),
                KeyForm::Float => format!("{}.5", start + i * 1000),
                KeyForm::Bool => (i == 0).to_string(),
                KeyForm::Time => format!(
                    "2024-{:02}-{:02}T{:02}:00:00Z",
                    1 + i,
                    1 + start % 28,
                    start % 24
                ),
                KeyForm::Enum(e) => {
                    let v = &e.variants[((start + i) % e.variants.len() as u64) as usize];
                    match &v.value {
                        VariantValue::Int(n) => n.to_string(),
                        VariantValue::String(s) => s.clone(),
                        VariantValue::Type(_) => v.name.clone(),
                    }
                }
            };
            let value = self.value(val, params, depth + 1);
            entries.insert(key, value);
        }
        Value::Object(entries)
    }

    /// How keys of type `ty` are written (as the checker reads them).
    fn key_form<'a>(&self, ty: &'a Type, params: &'a Params) -> KeyForm<'a>
    where
        'g: 'a,
    {
        let generator = self.generator;
        let mut ty = ty;
        for _ in 0..HARD_DEPTH {
            ty = match ty {
                Type::Optional(inner) => inner,
                Type::Int => return KeyForm::Int,
                Type::Float => return KeyForm::Float,
                Type::Bool => return KeyForm::Bool,
                Type::Time => return KeyForm::Time,
                Type::Ref(r) => match &r.module {
                    None => match params.get(&r.name) {
                        Some(t) => t,
                        None => return KeyForm::Text,
                    },
                    Some(m) => match generator.checker.decl(m, &r.name) {
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

/// How a map's keys are written.
enum KeyForm<'a> {
    Text,
    Int,
    Float,
    Bool,
    Time,
    Enum(&'a Enum),
}

/// `ty` with the type parameters in `params` replaced by their types.
pub(super) fn substitute(ty: &Type, params: &Params) -> Type {
    match ty {
        Type::Ref(r) if r.module.is_none() => match params.get(&r.name) {
            Some(t) => t.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;

    const SCHEMA: &str = "realm r {
  module m {
    data Keys {
      ints {Int: String}
      floats {Float: String}
      bools {Bool: String}
      times {Time: String}
      kinds {m.Kind: String}
      colors {m.Color: m.Color}
      aliased {m.Id: [m.Id]}
      generic m.Box<Int>?
      note String? +alias json \"memo\"
      card String? +oneof method
      iban String? +oneof method
    }

    data Box<K> {
      map {K: K}
      list [m.Box<[K]>]?
    }

    typealias Id Int

    enum Kind: Int {
      KIND_A = 1
      KIND_B = 2
    }

    enum Color: String {
      Red = \"red\"
    }

    enum Expr {
      Add m.Pair
      Neg m.Expr
      Lit Int
    }

    data Pair {
      left m.Expr
      right m.Expr
    }

    data Node {
      children [m.Node]
      next m.Node?
      tags {String: m.Node}
    }

    data Req {
      +protobuf \"acme.v1.Req\"
      pageSize Int +protobuf int32 \"page_size\"
      ids [Int] +protobuf int64
      byId {Int: String} +protobuf map<uint32,string> \"by_id\"
      note String? +protobuf google.protobuf.StringValue
      wait String +protobuf google.protobuf.Duration
      card String? +oneof method +protobuf string
      iban String? +oneof method +protobuf string
    }
  }
}
";

    fn generator() -> Generator {
        let schema = parse_schema("g.ftl", SCHEMA).unwrap_or_else(|d| panic!("{d}"));
        let problems: Vec<_> = crate::schema::validate(&schema)
            .into_iter()
            .filter(|d| !d.is_warning())
            .collect();
        assert!(problems.is_empty(), "{problems:?}");
        Generator::new(Checker::new(&schema.realms[0]))
    }

    #[test]
    fn every_value_fits_and_recursive_types_end() {
        let generator = generator();
        for name in ["Keys", "Expr", "Node", "Req", "Pair"] {
            let ty = Type::from(Ref::new("m", name));
            let mut sizes = Vec::new();
            for seed in 0..500 {
                let value = generator.value(&ty, seed);
                if let Err(e) = generator.checker().check_body(&ty, Some(&value)) {
                    panic!("{name} seed {seed}: {value}: {e}");
                }
                sizes.push(value.to_string().len());
            }
            // Bounded, and not always the same.
            assert!(sizes.iter().all(|&n| n < 200_000), "{name}: {sizes:?}");
            sizes.dedup();
            assert!(sizes.len() > 1, "{name}");
        }
    }

    #[test]
    fn aliases_json_names_and_oneofs_are_honoured() {
        let generator = generator();
        let ty = Type::from(Ref::new("m", "Keys"));
        let values: Vec<Value> = (0..200).map(|seed| generator.value(&ty, seed)).collect();
        assert!(values.iter().any(|v| v.get("memo").is_some()));
        assert!(values.iter().all(|v| v.get("note").is_none()));
        assert!(values.iter().any(|v| v.get("generic").is_none()));
        assert!(values.iter().any(|v| v.get("card").is_some()));
        assert!(
            values
                .iter()
                .all(|v| !(v.get("card").is_some() && v.get("iban").is_some()))
        );
        // Protobuf messages: fields set in their proto3 JSON forms.
        let req = Type::from(Ref::new("m", "Req"));
        assert!(
            (0..200).any(|seed| generator.value(&req, seed).get("ids").is_some()),
            "some message has ids"
        );
    }
}
