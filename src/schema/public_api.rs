//! The public API of a realm: what other realms may see and pin.
//!
//! It holds every `export realm` declaration and every declaration they use
//! (by the visibility rule those are `export realm` too in a valid schema),
//! in source order, with their doc comments. Left out:
//! - config, secret and database declarations;
//! - metadata that names or configures the realm's internals: `+calls`,
//!   `+ingress`, `+cron`, `+subscribe`, `+publish`, `+database uses`,
//!   `+config`, `+secrets`, `+egress`, `+transaction`, `+fixture`,
//!   `+sql ...`, `+migration`, module metadata, and the `catch` verb of
//!   `+retry`;
//! - the builtin module (every realm has it);
//! - source positions (a public API must not change when lines move).
//!
//! Kept metadata is what a caller needs: `+retry` (the ingress retries
//! connection failures of such verbs), `+encoding`, `+grpc`, `+typemap`,
//! `+alias` (JSON field names), `+oneof`, `+partitions`, `+generated`.
//!
//! The result is an `external realm`: the realm as seen from outside.

use std::collections::VecDeque;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::model::*;

/// Computes the public API of `realm`. The realm should be valid; references
/// that do not resolve are skipped.
pub fn public_api(realm: &Realm) -> Realm {
    let decls: HashMap<(&str, &str), &Decl> = realm
        .decls()
        .map(|(m, d)| ((m.name.as_str(), d.name()), d))
        .collect();

    // The closure over type references, starting from `export realm`.
    let mut included: HashSet<(&str, &str)> = HashSet::default();
    let mut queue: VecDeque<(&str, &str)> = VecDeque::new();
    for (module, decl) in realm.decls() {
        if decl.visibility() == Visibility::ExportRealm && !module.builtin {
            let key = (module.name.as_str(), decl.name());
            if included.insert(key) {
                queue.push_back(key);
            }
        }
    }
    while let Some(key) = queue.pop_front() {
        let Some(decl) = decls.get(&key) else {
            continue;
        };
        decl.for_each_type(&mut |ty| {
            if let Type::Ref(Ref {
                realm: None,
                module: Some(module),
                name,
                ..
            }) = ty
            {
                let target = (module.as_str(), name.as_str());
                if module != "builtin" && decls.contains_key(&target) && included.insert(target) {
                    queue.push_back(target);
                }
            }
        });
    }

    let modules = realm
        .modules
        .iter()
        .filter(|m| !m.builtin)
        .filter_map(|m| {
            let decls: Vec<Decl> = m
                .decls
                .iter()
                .filter(|d| included.contains(&(m.name.as_str(), d.name())))
                .filter_map(public_decl)
                .collect();
            (!decls.is_empty()).then(|| Module {
                pos: None,
                comments: m.comments.clone(),
                builtin: false,
                name: m.name.clone(),
                metadata: Vec::new(),
                decls,
            })
        })
        .collect();
    let mut api = Realm {
        pos: None,
        comments: realm.comments.clone(),
        external: true,
        name: realm.name.clone(),
        modules,
    };
    strip_positions(&mut api);
    api
}

/// The declaration as the public API shows it, or `None` when it has no
/// place there.
fn public_decl(decl: &Decl) -> Option<Decl> {
    let mut decl = decl.clone();
    match &mut decl {
        Decl::Config(_) | Decl::Secret(_) | Decl::Database(_) => return None,
        Decl::Data(data) => {
            data.metadata.retain(public_metadata);
            for field in &mut data.fields {
                field.metadata.retain(public_metadata);
            }
        }
        Decl::Verb(verb) => {
            verb.metadata.retain(public_metadata);
            for m in &mut verb.metadata {
                if let MetadataKind::Retry { catch, .. } = &mut m.kind {
                    *catch = None;
                }
            }
        }
        Decl::TypeAlias(alias) => alias.metadata.retain(public_metadata),
        Decl::Topic(topic) => topic.metadata.retain(public_metadata),
        Decl::Enum(_) => {}
    }
    Some(decl)
}

fn public_metadata(m: &Metadata) -> bool {
    matches!(
        m.kind,
        MetadataKind::Retry { .. }
            | MetadataKind::Encoding { .. }
            | MetadataKind::Grpc(_)
            | MetadataKind::Oneof(_)
            | MetadataKind::ProtobufMessage(_)
            | MetadataKind::ProtobufField { .. }
            | MetadataKind::TypeMap { .. }
            | MetadataKind::Alias { .. }
            | MetadataKind::Partitions(_)
            | MetadataKind::Generated
    )
}

/// Removes every source position from a realm.
pub fn strip_positions(realm: &mut Realm) {
    realm.pos = None;
    for module in &mut realm.modules {
        module.pos = None;
        strip_metadata(&mut module.metadata);
        for decl in &mut module.decls {
            strip_decl(decl);
        }
    }
}

fn strip_metadata(metadata: &mut [Metadata]) {
    for m in metadata {
        m.pos = None;
        match &mut m.kind {
            MetadataKind::Calls(refs)
            | MetadataKind::Publish(refs)
            | MetadataKind::DatabaseUses(refs)
            | MetadataKind::ConfigUses(refs)
            | MetadataKind::SecretsUses(refs) => refs.iter_mut().for_each(strip_ref),
            MetadataKind::Subscribe { topic, .. } => strip_ref(topic),
            MetadataKind::Retry {
                catch: Some(catch), ..
            } => strip_ref(catch),
            _ => {}
        }
    }
}

fn strip_ref(r: &mut Ref) {
    r.pos = None;
    r.type_args.iter_mut().for_each(strip_type);
}

fn strip_type(ty: &mut Type) {
    match ty {
        Type::List(t) | Type::Optional(t) => strip_type(t),
        Type::Map(k, v) => {
            strip_type(k);
            strip_type(v);
        }
        Type::Ref(r) => strip_ref(r),
        _ => {}
    }
}

fn strip_decl(decl: &mut Decl) {
    match decl {
        Decl::Data(d) => {
            d.pos = None;
            d.type_params.iter_mut().for_each(|p| p.pos = None);
            strip_metadata(&mut d.metadata);
            for f in &mut d.fields {
                f.pos = None;
                strip_type(&mut f.ty);
                strip_metadata(&mut f.metadata);
            }
        }
        Decl::Verb(v) => {
            v.pos = None;
            strip_type(&mut v.request);
            strip_type(&mut v.response);
            strip_metadata(&mut v.metadata);
        }
        Decl::Enum(e) => {
            e.pos = None;
            if let Some(t) = &mut e.ty {
                strip_type(t);
            }
            for v in &mut e.variants {
                v.pos = None;
                if let VariantValue::Type(t) = &mut v.value {
                    strip_type(t);
                }
            }
        }
        Decl::TypeAlias(t) => {
            t.pos = None;
            strip_type(&mut t.ty);
            strip_metadata(&mut t.metadata);
        }
        Decl::Config(c) => {
            c.pos = None;
            strip_type(&mut c.ty);
        }
        Decl::Secret(s) => {
            s.pos = None;
            strip_type(&mut s.ty);
        }
        Decl::Database(d) => {
            d.pos = None;
            strip_metadata(&mut d.metadata);
        }
        Decl::Topic(t) => {
            t.pos = None;
            strip_type(&mut t.event);
            strip_metadata(&mut t.metadata);
        }
    }
}
