//! The last steps of extracting a module, as FTL's extractor takes them:
//! visibility spreading (whatever an exported declaration uses in its own
//! module becomes at least as visible, so a data type used by an
//! `export:realm` verb is `export realm`), checking that names are schema
//! identifiers, and FTL's declaration order (config, secret, database,
//! topic, typealias, enum, data, verb; by name within a kind).
//!
//! Pure, and bounded: spreading is a worklist over declarations, each
//! raised at most twice.

use std::collections::HashMap;

use crate::schema::{Decl, Diagnostic, Type, Visibility};

use super::naming::is_schema_ident;

/// Raises the visibility of every declaration an exported declaration of
/// `module` uses (types only, not metadata such as `+calls`), transitively.
pub fn spread_visibility(module: &str, decls: &mut [Decl]) {
    let index: HashMap<String, usize> = decls
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name().to_string(), i))
        .collect();
    let mut work: Vec<usize> = (0..decls.len())
        .filter(|&i| decls[i].visibility() != Visibility::Private)
        .collect();
    while let Some(i) = work.pop() {
        let vis = decls[i].visibility();
        let mut used = Vec::new();
        decls[i].for_each_type(&mut |t| {
            if let Type::Ref(r) = t
                && r.realm.is_none()
                && r.module.as_deref() == Some(module)
                && let Some(&j) = index.get(&r.name)
            {
                used.push(j);
            }
        });
        for j in used {
            if decls[j].visibility() < vis && raise(&mut decls[j], vis) {
                work.push(j);
            }
        }
    }
}

fn raise(decl: &mut Decl, to: Visibility) -> bool {
    match decl {
        Decl::Data(d) => d.visibility = to,
        Decl::Enum(d) => d.visibility = to,
        Decl::TypeAlias(d) => d.visibility = to,
        Decl::Topic(d) => d.visibility = to,
        Decl::Verb(d) => d.visibility = to,
        Decl::Config(_) | Decl::Secret(_) | Decl::Database(_) => return false,
    }
    true
}

/// FTL's order of declarations in a module.
pub fn sort(decls: &mut [Decl]) {
    decls.sort_by(|a, b| (priority(a), a.name()).cmp(&(priority(b), b.name())));
}

fn priority(d: &Decl) -> u8 {
    match d {
        Decl::Config(_) => 1,
        Decl::Secret(_) => 2,
        Decl::Database(_) => 3,
        Decl::Topic(_) => 4,
        Decl::TypeAlias(_) => 5,
        Decl::Enum(_) => 6,
        Decl::Data(_) => 7,
        Decl::Verb(_) => 8,
    }
}

/// Names FTL derives from Go identifiers must be schema identifiers
/// (ASCII): Go allows `Größe`, schema text does not.
pub fn check_names(decls: &[Decl], out: &mut Vec<Diagnostic>) {
    let mut check = |name: &str, pos: Option<&crate::schema::Pos>| {
        if !is_schema_ident(name) {
            out.push(
                Diagnostic::new(format!("`{name}` is not a schema name"), pos.cloned())
                    .with_len(name.chars().count())
                    .with_help(
                        "FTL names are ASCII letters, digits and `_`: rename the Go identifier",
                    ),
            );
        }
    };
    for d in decls {
        check(d.name(), d.pos());
        match d {
            Decl::Data(data) => {
                for f in &data.fields {
                    check(&f.name, f.pos.as_ref());
                }
            }
            Decl::Enum(e) => {
                for v in &e.variants {
                    check(&v.name, v.pos.as_ref());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Data, Field, Ref, Verb};

    fn data(name: &str, vis: Visibility, fields: Vec<(&str, Type)>) -> Decl {
        Decl::Data(Data {
            visibility: vis,
            name: name.into(),
            fields: fields
                .into_iter()
                .map(|(n, ty)| Field {
                    pos: None,
                    comments: vec![],
                    name: n.into(),
                    ty,
                    metadata: vec![],
                })
                .collect(),
            ..Data::default()
        })
    }

    #[test]
    fn visibility_spreads_through_types_and_cycles() {
        let mut decls = vec![
            Decl::Verb(Verb {
                pos: None,
                comments: vec![],
                visibility: Visibility::ExportRealm,
                name: "pay".into(),
                request: Type::Ref(Ref::new("shop", "Order")),
                response: Type::Unit,
                metadata: vec![],
            }),
            data(
                "Order",
                Visibility::Private,
                vec![
                    (
                        "next",
                        Type::Optional(Box::new(Type::Ref(Ref::new("shop", "Order")))),
                    ),
                    (
                        "item",
                        Type::List(Box::new(Type::Ref(Ref::new("shop", "Item")))),
                    ),
                ],
            ),
            data("Item", Visibility::Export, vec![]),
            data("Other", Visibility::Private, vec![]),
            data(
                "Elsewhere",
                Visibility::Private,
                vec![("x", Type::Ref(Ref::new("two", "Other")))],
            ),
        ];
        spread_visibility("shop", &mut decls);
        let vis: Vec<Visibility> = decls.iter().map(Decl::visibility).collect();
        assert_eq!(
            vis,
            vec![
                Visibility::ExportRealm,
                Visibility::ExportRealm,
                Visibility::ExportRealm,
                Visibility::Private,
                Visibility::Private
            ]
        );
    }
}
