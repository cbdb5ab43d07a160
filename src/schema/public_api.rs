//! The public API of a realm: what other realms may see and pin, as FTL's
//! `Schema.External()` publishes a realm (`common/schema/schema.go`,
//! `FilterByVisibility` in `common/schema/realm.go`).
//!
//! It holds every `export realm` declaration and everything they refer to,
//! transitively: the types they use and what their metadata names (`+calls`,
//! `+subscribe`, `+publish`, `+database uses`, `+retry ... catch`). So a
//! verb that an `export realm` verb calls is published even when it is only
//! `export` (FTL's closure rule); it is in the pinned schema, but only
//! `export realm` verbs are callable from other realms. In source order,
//! with doc comments and module metadata, as FTL keeps them. Left out, as
//! FTL leaves them out:
//! - config and secret declarations, and `+config` / `+secrets` metadata;
//! - the builtin module (every realm has it);
//!
//! and, realm's own rules:
//! - metadata references into other realms (`+calls x.y@bank`): a pinned
//!   realm refers to no third realm; a `+calls` or `+publish` left with
//!   none, or a `+subscribe` to another realm's topic, is dropped;
//! - source positions (a public API must not change when lines move).
//!
//! The result is the realm as FTL publishes it: internal (`realm`, not
//! `external realm`); whoever pins it marks it external.

use std::collections::VecDeque;

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use super::model::*;

/// Computes the public API of `realm`. The realm should be valid; references
/// that do not resolve are skipped.
pub fn public_api(realm: &Realm) -> Realm {
    let included = Closure::of(realm);
    let modules = realm
        .modules
        .par_iter()
        .enumerate()
        .filter(|(_, m)| !m.builtin)
        .filter_map(|(i, m)| {
            let decls: Vec<Decl> = m
                .decls
                .iter()
                .enumerate()
                .filter(|&(j, _)| included.keeps(i, j))
                .filter_map(|(_, d)| public_decl(d))
                .collect();
            (!decls.is_empty()).then(|| {
                let mut module = Module {
                    pos: None,
                    comments: m.comments.clone(),
                    builtin: false,
                    name: m.name.clone(),
                    metadata: public_metadata(&m.metadata),
                    decls,
                };
                strip_module(&mut module);
                module
            })
        })
        .collect();
    Realm {
        pos: None,
        comments: realm.comments.clone(),
        external: false,
        name: realm.name.clone(),
        modules,
    }
}

/// [`public_api`] of a realm that is not needed afterwards: the published
/// declarations are moved out of it, not cloned (`realm export` of the
/// 10,000-verb benchmark realm held the realm and a 31.6 MiB copy of half
/// of it at once). With it, what is left out (the declarations not
/// published, by module; builtin modules are dropped here), for the caller
/// to free when it suits it: a
/// command that exits next need not free them one by one (the benchmark
/// realm's 55,000 were 5 % of its export's instructions, `callgrind`).
pub fn into_public_api(realm: Realm) -> (Realm, Vec<Vec<Decl>>) {
    let included = Closure::of(&realm);
    let keep: Vec<Vec<bool>> = (0..realm.modules.len())
        .map(|i| {
            (0..realm.modules[i].decls.len())
                .map(|j| included.keeps(i, j))
                .collect()
        })
        .collect();
    drop(included);
    let Realm {
        comments,
        name,
        modules,
        ..
    } = realm;
    let (modules, left_out): (Vec<Option<Module>>, Vec<Vec<Decl>>) = modules
        .into_par_iter()
        .zip(keep)
        .filter(|(m, _)| !m.builtin)
        .map(|(m, keep)| {
            let mut decls = Vec::new();
            let mut left_out = Vec::new();
            for (decl, keep) in m.decls.into_iter().zip(keep) {
                if !keep {
                    left_out.push(decl);
                    continue;
                }
                if is_published(&decl) {
                    decls.push(into_public_decl(decl));
                } else {
                    left_out.push(decl);
                }
            }
            let module = (!decls.is_empty()).then(|| {
                let mut module = Module {
                    pos: None,
                    comments: m.comments,
                    builtin: false,
                    name: m.name,
                    metadata: m.metadata,
                    decls,
                };
                into_public_metadata(&mut module.metadata);
                strip_module(&mut module);
                module
            });
            (module, left_out)
        })
        .unzip();
    let api = Realm {
        pos: None,
        comments,
        external: false,
        name,
        modules: modules.into_iter().flatten().collect(),
    };
    (api, left_out)
}

/// The declarations of the public API: every `export realm` declaration
/// and, transitively, what it refers to (config and secrets aside), by
/// place (module, declaration) in the realm.
///
/// Each module's references are resolved to places on every core; the
/// walk over them is then a breadth-first search over numbers (it hashed
/// pairs of names for every reference of 30,000 declarations, a fifth of
/// `realm export`'s time on the benchmark realm).
struct Closure {
    /// By module, by declaration: in the public API.
    included: Vec<Vec<bool>>,
    /// By module, by declaration: the place of the first declaration of
    /// its name that is not a config or secret (the one a reference
    /// resolves to), or [`NOT_PUBLISHED`].
    first: Vec<Vec<u32>>,
}

/// A declaration's place: its module's and its own index.
type Place = (u32, u32);

/// [`Closure::first`] of a config or secret: never published.
const NOT_PUBLISHED: u32 = u32::MAX;

impl Closure {
    fn of(realm: &Realm) -> Closure {
        let index = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        // Modules by name (the first of a name), builtin ones left out:
        // nothing in them is published.
        let mut modules: HashMap<&str, usize> = HashMap::default();
        for (i, m) in realm.modules.iter().enumerate() {
            if !m.builtin {
                modules.entry(m.name.as_str()).or_insert(i);
            }
        }
        // Declarations by name, config and secrets left out (never
        // published): a config and a database may share a name, and
        // `+database uses m.db` means the database wherever the config is.
        let names: Vec<HashMap<&str, u32>> = realm
            .modules
            .par_iter()
            .map(|m| {
                let mut names = HashMap::default();
                for (j, d) in m.decls.iter().enumerate() {
                    if !matches!(d, Decl::Config(_) | Decl::Secret(_)) {
                        names.entry(d.name()).or_insert(index(j));
                    }
                }
                names
            })
            .collect();
        let resolve = |r: &Ref| -> Option<Place> {
            let Ref {
                realm: None,
                module: Some(module),
                name,
                ..
            } = r
            else {
                return None;
            };
            let &i = modules.get(module.as_str())?;
            let &j = names[i].get(name.as_str())?;
            Some((index(i), j))
        };
        // By module: each declaration's references, as places, and where
        // each declaration's list starts.
        let edges: Vec<(Vec<Place>, Vec<u32>)> = realm
            .modules
            .par_iter()
            .map(|m| {
                let mut out = Vec::new();
                let mut starts = Vec::with_capacity(m.decls.len() + 1);
                if !m.builtin {
                    for d in &m.decls {
                        starts.push(index(out.len()));
                        let mut follow = |r: &Ref| out.extend(resolve(r));
                        d.for_each_type(&mut |ty| {
                            if let Type::Ref(r) = ty {
                                follow(r);
                            }
                        });
                        d.for_each_metadata_ref(&mut follow);
                    }
                }
                starts.push(index(out.len()));
                (out, starts)
            })
            .collect();
        let first: Vec<Vec<u32>> = realm
            .modules
            .iter()
            .zip(&names)
            .map(|(m, names)| {
                m.decls
                    .iter()
                    .map(|d| names.get(d.name()).copied().unwrap_or(NOT_PUBLISHED))
                    .collect()
            })
            .collect();
        let mut included: Vec<Vec<bool>> = realm
            .modules
            .iter()
            .map(|m| vec![false; m.decls.len()])
            .collect();
        let mut queue: VecDeque<Place> = VecDeque::new();
        for (i, m) in realm.modules.iter().enumerate() {
            if m.builtin {
                continue;
            }
            for (j, d) in m.decls.iter().enumerate() {
                let (i, j) = (index(i), first[i][j]);
                if d.visibility() == Visibility::ExportRealm
                    && j != NOT_PUBLISHED
                    && !std::mem::replace(&mut included[i as usize][j as usize], true)
                {
                    queue.push_back((i, j));
                }
            }
        }
        while let Some((i, j)) = queue.pop_front() {
            let (out, starts) = &edges[i as usize];
            let (from, to) = (starts[j as usize] as usize, starts[j as usize + 1] as usize);
            for &(ti, tj) in &out[from..to] {
                if !std::mem::replace(&mut included[ti as usize][tj as usize], true) {
                    queue.push_back((ti, tj));
                }
            }
        }
        Closure { included, first }
    }

    /// Whether declaration `decl` of module `module` is published: a
    /// declaration is, when the first of its name in its module is.
    fn keeps(&self, module: usize, decl: usize) -> bool {
        let first = self.first[module][decl];
        first != NOT_PUBLISHED && self.included[module][first as usize]
    }
}

/// Whether a declaration the closure reaches is published: config and
/// secrets never are.
fn is_published(decl: &Decl) -> bool {
    !matches!(decl, Decl::Config(_) | Decl::Secret(_))
}

/// [`public_decl`] of a declaration that is not needed afterwards (one
/// [`is_published`]).
fn into_public_decl(mut decl: Decl) -> Decl {
    match &mut decl {
        Decl::Config(_) | Decl::Secret(_) => {}
        Decl::Data(data) => {
            into_public_metadata(&mut data.metadata);
            for field in &mut data.fields {
                into_public_metadata(&mut field.metadata);
            }
        }
        Decl::Verb(verb) => into_public_metadata(&mut verb.metadata),
        Decl::TypeAlias(alias) => into_public_metadata(&mut alias.metadata),
        Decl::Topic(topic) => into_public_metadata(&mut topic.metadata),
        Decl::Database(db) => into_public_metadata(&mut db.metadata),
        Decl::Enum(_) => {}
    }
    decl
}

/// The declaration as the public API shows it, or `None` when it has no
/// place there.
fn public_decl(decl: &Decl) -> Option<Decl> {
    Some(match decl {
        Decl::Config(_) | Decl::Secret(_) => return None,
        Decl::Data(data) => Decl::Data(Data {
            metadata: public_metadata(&data.metadata),
            fields: data
                .fields
                .iter()
                .map(|field| Field {
                    pos: None,
                    comments: field.comments.clone(),
                    name: field.name.clone(),
                    ty: field.ty.clone(),
                    metadata: public_metadata(&field.metadata),
                })
                .collect(),
            ..clone_head(data)
        }),
        // Field by field: `..verb.clone()` would clone the metadata only to
        // drop it (10,000 verbs in the benchmark realm).
        Decl::Verb(verb) => Decl::Verb(Verb {
            pos: None,
            comments: verb.comments.clone(),
            visibility: verb.visibility,
            name: verb.name.clone(),
            request: verb.request.clone(),
            response: verb.response.clone(),
            metadata: public_metadata(&verb.metadata),
        }),
        Decl::TypeAlias(alias) => Decl::TypeAlias(TypeAlias {
            metadata: public_metadata(&alias.metadata),
            ..alias.clone()
        }),
        Decl::Topic(topic) => Decl::Topic(Topic {
            metadata: public_metadata(&topic.metadata),
            ..topic.clone()
        }),
        Decl::Database(db) => Decl::Database(Database {
            metadata: public_metadata(&db.metadata),
            ..db.clone()
        }),
        Decl::Enum(_) => decl.clone(),
    })
}

/// Data without its fields and metadata (cloned separately).
fn clone_head(data: &Data) -> Data {
    Data {
        pos: None,
        comments: data.comments.clone(),
        visibility: data.visibility,
        name: data.name.clone(),
        type_params: data.type_params.clone(),
        metadata: ThinVec::new(),
        fields: Vec::new(),
    }
}

/// Metadata as published: without `+config` and `+secrets` (as FTL's
/// `filterExternalMetadata`), and without references into other realms.
fn public_metadata(metadata: &[Metadata]) -> ThinVec<Metadata> {
    let local =
        |refs: &[Ref]| -> Vec<Ref> { refs.iter().filter(|r| r.realm.is_none()).cloned().collect() };
    metadata
        .iter()
        .filter_map(|m| {
            let kind = match &m.kind {
                MetadataKind::ConfigUses(_) | MetadataKind::SecretsUses(_) => return None,
                MetadataKind::Calls(refs) => MetadataKind::Calls(local(refs)),
                MetadataKind::Publish(refs) => MetadataKind::Publish(local(refs)),
                MetadataKind::DatabaseUses(refs) => MetadataKind::DatabaseUses(local(refs)),
                MetadataKind::Subscribe { topic, .. } if topic.realm.is_some() => return None,
                MetadataKind::Retry {
                    count,
                    min_backoff,
                    max_backoff,
                    catch: Some(catch),
                } if catch.realm.is_some() => MetadataKind::Retry {
                    count: *count,
                    min_backoff: min_backoff.clone(),
                    max_backoff: max_backoff.clone(),
                    catch: None,
                },
                other => other.clone(),
            };
            let empty = matches!(
                &kind,
                MetadataKind::Calls(refs) | MetadataKind::Publish(refs) | MetadataKind::DatabaseUses(refs)
                    if refs.is_empty()
            );
            (!empty).then_some(Metadata { pos: None, kind })
        })
        .collect()
}

/// [`public_metadata`] in place, of metadata not needed afterwards: what
/// is published is kept where it is, nothing is cloned (the clones were 6
/// MiB at the peak of `realm export` of the benchmark realm, `heaptrack`).
fn into_public_metadata(metadata: &mut ThinVec<Metadata>) {
    let local = |refs: &mut Vec<Ref>| {
        refs.retain(|r| r.realm.is_none());
        !refs.is_empty()
    };
    metadata.retain_mut(|m| match &mut m.kind {
        MetadataKind::ConfigUses(_) | MetadataKind::SecretsUses(_) => false,
        MetadataKind::Calls(refs)
        | MetadataKind::Publish(refs)
        | MetadataKind::DatabaseUses(refs) => local(refs),
        MetadataKind::Subscribe { topic, .. } => topic.realm.is_none(),
        MetadataKind::Retry { catch, .. } => {
            if catch.as_ref().is_some_and(|c| c.realm.is_some()) {
                *catch = None;
            }
            true
        }
        _ => true,
    });
}

/// Removes every source position from a realm.
pub fn strip_positions(realm: &mut Realm) {
    realm.pos = None;
    realm.modules.iter_mut().for_each(strip_module);
}

fn strip_module(module: &mut Module) {
    module.pos = None;
    strip_metadata(&mut module.metadata);
    for decl in &mut module.decls {
        strip_decl(decl);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moved_public_api_is_the_cloned_one() {
        let text = "module a {\n  config url String\n  secret key String\n  database postgres db\n  export realm data D {\n    x Int +alias json \"y\"\n    e a.E\n  }\n  data E {\n    z String\n  }\n  data Unused {\n    q Int\n  }\n  export topic t a.D\n  // A verb.\n  export realm verb v(a.D) a.D\n    +calls a.w\n    +config a.url\n    +database uses a.db\n    +publish a.t\n    +retry 3 1s catch a.w\n  export realm verb far(a.D) Unit\n    +calls pay.charge@bank\n    +calls a.w, pay.refund@bank\n    +secrets a.key\n    +retry 2 1s catch pay.failed@bank\n  export realm verb heard(a.D) Unit\n    +subscribe pay.events@bank from=beginning\n  export verb w(a.D) Unit\n  verb hidden(a.D) Unit\n}\nmodule b {\n  data Alone {\n    x Int\n  }\n}\n";
        let file = crate::schema::parse_file("x.ftl", text).expect("parses");
        let realm = Realm {
            name: "r".into(),
            modules: file.modules,
            ..Realm::default()
        };
        let api = public_api(&realm);
        assert_eq!(api.modules.len(), 1);
        assert!(api.modules[0].decl("w").is_some() && api.modules[0].decl("hidden").is_none());
        // What refers into another realm is not published, in either.
        let Some(Decl::Verb(far)) = api.modules[0].decl("far") else {
            panic!("far is published")
        };
        assert_eq!(far.metadata.len(), 2, "{:?}", far.metadata);
        let Some(Decl::Verb(heard)) = api.modules[0].decl("heard") else {
            panic!("heard is published")
        };
        assert!(heard.metadata.is_empty(), "{:?}", heard.metadata);
        assert_eq!(into_public_api(realm).0, api);
    }

    /// A config and a database may share a name: `+database uses a.db`
    /// publishes the database whichever comes first.
    #[test]
    fn a_database_named_as_a_config_is_published() {
        for decls in [
            "  config db String\n  database postgres db\n",
            "  database postgres db\n  config db String\n",
        ] {
            let text = format!(
                "module a {{\n{decls}  export realm verb v(Unit) Unit\n    +database uses a.db\n}}\n"
            );
            let file = crate::schema::parse_file("x.ftl", &text).expect("parses");
            let realm = Realm {
                name: "r".into(),
                modules: file.modules,
                ..Realm::default()
            };
            let api = public_api(&realm);
            let kinds: Vec<&str> = api.modules[0]
                .decls
                .iter()
                .map(|d| d.kind().keyword())
                .collect();
            assert_eq!(kinds, ["database", "verb"], "{decls}");
            assert_eq!(into_public_api(realm).0, api);
        }
    }
}
