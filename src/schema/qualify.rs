//! Bare references (`verb test(Request)`, `+retry 5s catch failed`) made
//! module-qualified, as FTL does when it validates a schema.
//!
//! FTL resolves a bare name in this order: a type parameter of the
//! enclosing data, a declaration of the builtin module, a declaration of
//! the module the name is written in. A name none of them declares stays
//! bare; the validator reports it as an unknown reference. [`bare_target`]
//! is that rule (the validator applies it too, so a schema validates the
//! same before and after [`qualify_realm`]); [`qualify_realm`] rewrites the
//! references so that everything after loading (the public API, the JSON
//! checker, the printer) sees `module.Name`.
//!
//! The parser keeps references as written, so printing a parsed schema
//! gives back its text. No I/O.

use rustc_hash::FxHashSet as HashSet;

use super::builtin::builtin_module;
use super::model::*;

/// The module a bare reference to `name` resolves to, written in `module`
/// inside a declaration with type parameters `type_params`: `None` for a
/// type parameter or a name nothing declares.
pub fn bare_target<'m>(
    name: &str,
    type_params: &[TypeParameter],
    module: &'m Module,
) -> Option<&'m str> {
    if type_params.iter().any(|p| p.name == name) {
        return None;
    }
    if builtin_module().decl(name).is_some() {
        return Some("builtin");
    }
    module.decl(name).map(|_| module.name.as_str())
}

/// Qualifies every bare reference of every module of `realm` that resolves
/// to a declaration.
pub fn qualify_realm(realm: &mut Realm) {
    // Each module on its own, on every core.
    use rayon::prelude::*;
    realm.modules.par_iter_mut().for_each(qualify_module);
}

/// Qualifies the bare references of one module.
pub fn qualify_module(module: &mut Module) {
    let declared: HashSet<String> = module.decls.iter().map(|d| d.name().to_string()).collect();
    let name = module.name.clone();
    let target = |r: &Ref, params: &[String]| -> Option<String> {
        if r.module.is_some() || r.realm.is_some() || params.contains(&r.name) {
            return None;
        }
        if builtin_module().decl(&r.name).is_some() {
            return Some("builtin".to_string());
        }
        declared.contains(&r.name).then(|| name.clone())
    };
    for decl in &mut module.decls {
        let params: Vec<String> = match decl {
            Decl::Data(d) => d.type_params.iter().map(|p| p.name.clone()).collect(),
            _ => Vec::new(),
        };
        for_each_ref_mut(decl, &mut |r| {
            if let Some(module) = target(r, &params) {
                r.module = Some(module);
            }
        });
    }
    for m in &mut module.metadata {
        metadata_refs_mut(&mut m.kind, &mut |r| {
            if let Some(module) = target(r, &[]) {
                r.module = Some(module);
            }
        });
    }
}

/// Qualifies the bare references of a type written in `module`, inside a
/// declaration with type parameters `type_params`.
pub fn qualify_type(ty: &mut Type, type_params: &[TypeParameter], module: &Module) {
    type_refs_mut(ty, &mut |r| {
        if r.module.is_none()
            && r.realm.is_none()
            && let Some(target) = bare_target(&r.name, type_params, module)
        {
            r.module = Some(target.to_string());
        }
    });
}

/// Calls `f` on every reference of a declaration, type arguments included.
fn for_each_ref_mut(decl: &mut Decl, f: &mut impl FnMut(&mut Ref)) {
    match decl {
        Decl::Data(d) => {
            for field in &mut d.fields {
                type_refs_mut(&mut field.ty, f);
            }
        }
        Decl::Verb(v) => {
            type_refs_mut(&mut v.request, f);
            type_refs_mut(&mut v.response, f);
        }
        Decl::Enum(e) => {
            if let Some(ty) = &mut e.ty {
                type_refs_mut(ty, f);
            }
            for variant in &mut e.variants {
                if let VariantValue::Type(ty) = &mut variant.value {
                    type_refs_mut(ty, f);
                }
            }
        }
        Decl::TypeAlias(t) => type_refs_mut(&mut t.ty, f),
        Decl::Config(c) => type_refs_mut(&mut c.ty, f),
        Decl::Secret(s) => type_refs_mut(&mut s.ty, f),
        Decl::Topic(t) => type_refs_mut(&mut t.event, f),
        Decl::Database(_) => {}
    }
    let (metadata, fields): (&mut ThinVec<Metadata>, Option<&mut Vec<Field>>) = match decl {
        Decl::Data(d) => (&mut d.metadata, Some(&mut d.fields)),
        Decl::Verb(v) => (&mut v.metadata, None),
        Decl::TypeAlias(t) => (&mut t.metadata, None),
        Decl::Database(d) => (&mut d.metadata, None),
        Decl::Topic(t) => (&mut t.metadata, None),
        Decl::Enum(_) | Decl::Config(_) | Decl::Secret(_) => return,
    };
    for m in metadata.iter_mut() {
        metadata_refs_mut(&mut m.kind, f);
    }
    for field in fields.into_iter().flatten() {
        for m in &mut field.metadata {
            metadata_refs_mut(&mut m.kind, f);
        }
    }
}

/// The references of a type, with those in their type arguments.
fn type_refs_mut(ty: &mut Type, f: &mut impl FnMut(&mut Ref)) {
    match ty {
        Type::List(t) | Type::Optional(t) => type_refs_mut(t, f),
        Type::Map(k, v) => {
            type_refs_mut(k, f);
            type_refs_mut(v, f);
        }
        Type::Ref(r) => {
            f(r);
            for arg in &mut r.type_args {
                type_refs_mut(arg, f);
            }
        }
        _ => {}
    }
}

/// The references of a metadata, with those in their type arguments.
fn metadata_refs_mut(kind: &mut MetadataKind, f: &mut impl FnMut(&mut Ref)) {
    let mut each = |r: &mut Ref| {
        f(r);
        for arg in &mut r.type_args {
            type_refs_mut(arg, f);
        }
    };
    match kind {
        MetadataKind::Calls(refs)
        | MetadataKind::Publish(refs)
        | MetadataKind::DatabaseUses(refs)
        | MetadataKind::ConfigUses(refs)
        | MetadataKind::SecretsUses(refs) => refs.iter_mut().for_each(each),
        MetadataKind::Subscribe { topic, .. } => each(topic),
        MetadataKind::Retry {
            catch: Some(catch), ..
        } => each(catch),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{parse_file, print_modules};

    fn qualified(text: &str) -> String {
        let mut file = parse_file("t.ftl", text).expect("parses");
        file.modules.iter_mut().for_each(qualify_module);
        print_modules(&file.modules)
    }

    #[test]
    fn bare_names_resolve_like_ftl() {
        let text = "module m {\n  data Page<T> {\n    items [T]\n    next Empty?\n    owner Owner\n  }\n\n  data Owner {\n  }\n\n  verb list(HttpRequest<Unit, Unit, Unit>) Page<Owner>\n    +calls list, other.verb\n    +retry 5s catch failed\n\n  verb failed(CatchRequest<Any>) Unit\n\n  verb lost(Nowhere) Unit\n}\n";
        let out = qualified(text);
        assert!(out.contains("    items [T]\n"), "{out}");
        assert!(out.contains("    next builtin.Empty?\n"), "{out}");
        assert!(out.contains("    owner m.Owner\n"), "{out}");
        assert!(
            out.contains("verb list(builtin.HttpRequest<Unit, Unit, Unit>) m.Page<m.Owner>"),
            "{out}"
        );
        assert!(out.contains("+calls m.list, other.verb"), "{out}");
        assert!(out.contains("+retry 5s catch m.failed"), "{out}");
        assert!(
            out.contains("verb failed(builtin.CatchRequest<Any>) Unit"),
            "{out}"
        );
        // Unknown: left for the validator to report.
        assert!(out.contains("verb lost(Nowhere) Unit"), "{out}");
    }

    #[test]
    fn a_type_parameter_wins_over_a_declaration() {
        let out =
            qualified("module m {\n  data T {\n  }\n\n  data Box<T> {\n    value T\n  }\n}\n");
        assert!(out.contains("    value T\n"), "{out}");
    }
}
