//! The last steps of extracting a module, as FTL's extractor takes them:
//! visibility spreading (whatever an exported declaration uses in its own
//! module becomes at least as visible, so a data type used by an
//! `export:realm` verb is `export realm`), checking that names are schema
//! identifiers, and FTL's declaration order (config, secret, database,
//! topic, typealias, enum, data, verb; by name within a kind).
//!
//! Once every module of the realm is known ([`across_modules`]), what FTL
//! decides with the other modules' types at hand: visibility spreads into
//! other Go modules (an `export:realm` verb of `a` taking `b.Thing` exports
//! `b.Thing` to the realm, as FTL's realm export includes what exported
//! declarations refer to), and a verb parameter of another module's topic
//! is refused as FTL refuses it.
//!
//! Pure, and bounded: spreading is a worklist over declarations, each
//! raised at most twice.

use std::collections::{HashMap, HashSet};

use crate::schema::{Decl, Diagnostic, Module, Type, Visibility};

use super::extract::ExternalParam;
use super::naming::{is_schema_ident, lower_camel};

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

/// The realm-wide steps, after every module is extracted and qualified:
/// `go_modules` names the modules extracted from Go. Returns the errors
/// found.
///
/// Visibility spreads from every exported declaration (of any module)
/// through the types it uses into Go modules: within a Go module to any
/// declaration, across modules to declarations their module exports
/// (`export` becomes `export realm` when an `export realm` declaration
/// uses it). A private declaration of another module stays private: FTL's
/// Go code cannot use it, and the validator says so. Declarations of
/// schema-text modules keep the visibility written.
pub fn across_modules(
    modules: &mut [Module],
    go_modules: &HashSet<String>,
    external_params: &[ExternalParam],
) -> Vec<Diagnostic> {
    spread_across(modules, go_modules);
    let mut errors = Vec::new();
    let topic = |module: &str, type_name: &str| {
        let m = modules.iter().find(|m| m.name == module)?;
        if m.decl(type_name).is_some() {
            return None;
        }
        let name = lower_camel(type_name);
        matches!(m.decl(&name), Some(Decl::Topic(_))).then(|| format!("{module}.{name}"))
    };
    let refused = |topic: &str, pos, len| {
        Diagnostic::new(
            format!(
                "could not inject external topic \"{topic}\" because publishing directly to external topics is not allowed"
            ),
            pos,
        )
        .with_len(len)
        .with_help(format!(
            "a module publishes to its own topics only: call a verb of module `{}` that publishes",
            topic.split('.').next().unwrap_or(topic)
        ))
    };
    for p in external_params {
        match topic(&p.module, &p.type_name) {
            Some(t) => errors.push(refused(&t, Some(p.span.pos.clone()), p.span.len)),
            // Another module's data type is a fine request.
            None if p.request => {}
            None => errors.push(
                Diagnostic::new(
                    format!(
                        "unsupported verb parameter type `{}` in verb `{}` at parameter {}",
                        p.text, p.verb, p.index
                    ),
                    Some(p.span.pos.clone()),
                )
                .with_len(p.span.len)
                .with_label("not a verb client, config, secret, topic or database handle")
                .with_help(
                    "verbs have the signature func(context.Context, Request?, Resources...) (Response?, error)",
                ),
            ),
        }
    }
    errors
}

/// [`across_modules`]' spreading.
fn spread_across(modules: &mut [Module], go_modules: &HashSet<String>) {
    // Only references into Go modules raise anything: a realm of schema
    // text alone needs no index of every declaration (6 MiB of cloned
    // names for the 10,000-verb benchmark realm, at `realm export`'s peak).
    if go_modules.is_empty() {
        return;
    }
    let index: HashMap<(String, String), (usize, usize)> = modules
        .iter()
        .enumerate()
        .flat_map(|(mi, m)| {
            m.decls
                .iter()
                .enumerate()
                .map(move |(di, d)| ((m.name.clone(), d.name().to_string()), (mi, di)))
        })
        .collect();
    let mut work: Vec<(usize, usize)> = index
        .values()
        .copied()
        .filter(|&(mi, di)| modules[mi].decls[di].visibility() != Visibility::Private)
        .collect();
    work.sort_unstable();
    while let Some((mi, di)) = work.pop() {
        let vis = modules[mi].decls[di].visibility();
        let mut used = Vec::new();
        modules[mi].decls[di].for_each_type(&mut |t| {
            if let Type::Ref(r) = t
                && r.realm.is_none()
                && let Some(module) = &r.module
                && go_modules.contains(module)
                && let Some(&target) = index.get(&(module.clone(), r.name.clone()))
            {
                used.push(target);
            }
        });
        for (tm, td) in used {
            let target = modules[tm].decls[td].visibility();
            let allowed = tm == mi || target >= Visibility::Export;
            if allowed && target < vis && raise(&mut modules[tm].decls[td], vis) {
                work.push((tm, td));
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
    use crate::schema::{Data, Field, Ref, ThinVec, Verb};

    fn data(name: &str, vis: Visibility, fields: Vec<(&str, Type)>) -> Decl {
        Decl::Data(Data {
            visibility: vis,
            name: name.into(),
            fields: fields
                .into_iter()
                .map(|(n, ty)| Field {
                    pos: None,
                    comments: ThinVec::new(),
                    name: n.into(),
                    ty,
                    metadata: ThinVec::new(),
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
                comments: ThinVec::new(),
                visibility: Visibility::ExportRealm,
                name: "pay".into(),
                request: Type::from(Ref::new("shop", "Order")),
                response: Type::Unit,
                metadata: ThinVec::new(),
            }),
            data(
                "Order",
                Visibility::Private,
                vec![
                    (
                        "next",
                        Type::Optional(Box::new(Type::from(Ref::new("shop", "Order")))),
                    ),
                    (
                        "item",
                        Type::List(Box::new(Type::from(Ref::new("shop", "Item")))),
                    ),
                ],
            ),
            data("Item", Visibility::Export, vec![]),
            data("Other", Visibility::Private, vec![]),
            data(
                "Elsewhere",
                Visibility::Private,
                vec![("x", Type::from(Ref::new("two", "Other")))],
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
