//! Enums: variants unique, value enums of one scalar type with distinct
//! values, type enums whose variants are types.

use crate::rules;
use rustc_hash::FxHashMap as HashMap;

use super::names::same_scalar;
use super::{Site, Validator, head_len};
use crate::schema::model::*;

impl<'a> Validator<'a> {
    pub(super) fn check_enum(&mut self, site: &Site<'a>, e: &'a Enum) {
        let name = format!("{}.{}", site.module.name, e.name);
        self.check_unique(
            site,
            "variant",
            e.variants.iter().map(|v| (v.name.as_str(), v.pos.as_ref())),
        );
        let Some(ty) = &e.ty else {
            // A type enum.
            if e.variants.is_empty() {
                let d = self
                    .at(
                        e.pos.as_ref(),
                        site,
                        format!("enum `{name}` must have at least one variant"),
                    )
                    .with_len(site.decl.map_or(1, head_len))
                    .with_help("a type enum holds one of its variants' types: declare one, or give the enum a type (`enum E: String { ... }`)");
                self.report(d.or_code(rules::ENUM));
            }
            for variant in &e.variants {
                match &variant.value {
                    VariantValue::Type(ty) => self.check_type(site, ty),
                    _ => {
                        let d = self
                            .at(
                                variant.pos.as_ref(),
                                site,
                                format!(
                                    "variant `{}` has a value, but enum `{name}` has no type",
                                    variant.name
                                ),
                            )
                            .with_len(variant.name.len())
                            .with_help(format!("declare the enum's type: `enum {}: String {{` or `enum {}: Int {{`", e.name, e.name));
                        self.report(d.or_code(rules::ENUM));
                    }
                }
            }
            return;
        };
        // A value enum: its type (through aliases) is Int or String.
        self.check_type(site, ty);
        let base = self.unalias(*site, ty).1;
        let is_int = match base {
            Type::Int => Some(true),
            Type::String => Some(false),
            _ => None,
        };
        if is_int.is_none() && e.variants.is_empty() {
            let d = self
                .at(
                    e.pos.as_ref(),
                    site,
                    format!(
                        "value enum `{name}` has type `{ty}`; value enums are `Int` or `String`"
                    ),
                )
                .with_help("use `Int` or `String`, or drop the type to declare a type enum");
            self.warn(d.or_code(rules::ENUM));
        }
        let mut values: HashMap<String, &str> = HashMap::default();
        for variant in &e.variants {
            let value = match (&variant.value, is_int) {
                (VariantValue::Int(n), Some(true)) => n.to_string(),
                (VariantValue::String(s), Some(false)) => format!("{s:?}"),
                (VariantValue::Type(vt), _) => {
                    // FTL compares the variant's type with the enum's: the
                    // same is accepted (a warning here), another refused.
                    let same = same_scalar(self.unalias(*site, vt).1, base);
                    let d = self
                        .at(
                            variant.pos.as_ref(),
                            site,
                            format!(
                                "variant `{}` of value enum `{name}` is a type",
                                variant.name
                            ),
                        )
                        .with_len(variant.name.len())
                        .with_help(format!(
                            "write `{} = <value>`, or drop `: {ty}` to make `{name}` a type enum",
                            variant.name
                        ));
                    self.report_or_warn(!same, d.or_code(rules::ENUM));
                    continue;
                }
                (value, _) => {
                    let value_type = if matches!(value, VariantValue::Int(_)) {
                        "Int"
                    } else {
                        "String"
                    };
                    let d = self
                        .at(
                            variant.pos.as_ref(),
                            site,
                            format!(
                                "enum variant `{}` of type `{ty}` cannot have a value of type `{value_type}`",
                                variant.name,
                            ),
                        )
                        .with_len(variant.name.len())
                        .with_help(match is_int {
                            Some(true) => format!("every value of `{name}` is an integer"),
                            Some(false) => format!("every value of `{name}` is a string"),
                            None => "value enums are `Int` or `String`".to_string(),
                        });
                    self.report(d.or_code(rules::ENUM));
                    continue;
                }
            };
            if let Some(first) = values.get(&value) {
                let d = self
                    .at(
                        variant.pos.as_ref(),
                        site,
                        format!(
                            "variants `{first}` and `{}` of enum `{name}` have the same value {value}",
                            variant.name
                        ),
                    )
                    .with_len(variant.name.len())
                    .with_help("give every variant its own value");
                self.warn(d.or_code(rules::ENUM));
            } else {
                values.insert(value, &variant.name);
            }
        }
    }
}
