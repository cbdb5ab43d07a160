//! Property tests: generated schemas, covering every construct of the
//! language, round-trip through schema text, proto-text and JSON.
//!
//! The generator is not limited to valid schemas: round-tripping is a
//! property of the syntax and the encodings, not of validation.

use proptest::prelude::*;
use realm::schema::public_api::strip_positions;
use realm::schema::*;

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-zA-Z0-9_]{0,6}"
}

/// A name that is not a builtin scalar type (so a bare one parses as a ref).
fn type_name() -> impl Strategy<Value = String> {
    "[A-Z][a-zA-Z0-9]{0,6}".prop_filter("not a builtin type", |s| Type::scalar(s).is_none())
}

fn comments() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        "[a-zA-Z0-9 ,.:;!?/@#(){}\"'`*+=é-]{0,24}".prop_map(|s| s.trim_end().to_string()),
        0..3,
    )
}

fn duration() -> impl Strategy<Value = String> {
    "([1-9][0-9]{0,2}(ms|s|m|h|d)){1,2}"
}

fn reference(inner: Option<BoxedStrategy<Type>>) -> BoxedStrategy<Ref> {
    let args = match inner {
        Some(inner) => prop::collection::vec(inner, 0..3).boxed(),
        None => Just(Vec::new()).boxed(),
    };
    (
        prop::option::of(ident()),
        prop::option::of(ident()),
        type_name(),
        args,
    )
        .prop_map(|(realm, module, name, type_args)| Ref {
            pos: None,
            realm,
            module,
            name,
            type_args: type_args.into(),
        })
        .boxed()
}

fn qualified_ref() -> BoxedStrategy<Ref> {
    (prop::option::of(ident()), ident(), ident())
        .prop_map(|(realm, module, name)| Ref {
            pos: None,
            realm,
            module: Some(module),
            name,
            type_args: ThinVec::new(),
        })
        .boxed()
}

fn ty() -> BoxedStrategy<Type> {
    let leaf = prop_oneof![
        Just(Type::Int),
        Just(Type::Float),
        Just(Type::String),
        Just(Type::Bytes),
        Just(Type::Bool),
        Just(Type::Time),
        Just(Type::Any),
        Just(Type::Unit),
        reference(None).prop_map(Type::from),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::List(Box::new(t))),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| Type::Map(Box::new(k), Box::new(v))),
            inner.clone().prop_map(|t| match t {
                Type::Optional(_) => t,
                t => Type::Optional(Box::new(t)),
            }),
            reference(Some(inner.boxed())).prop_map(Type::from),
        ]
    })
    .boxed()
}

/// An ingress path as FTL's grammar has it: literal and `{parameter}`
/// segments.
fn ingress_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof!["[a-z0-9._-]{1,6}", "\\{[a-z][a-zA-Z0-9]{0,4}\\}"],
        0..4,
    )
    .prop_map(|segments| format!("/{}", segments.join("/")))
}

fn metadata_kind(inline: bool) -> BoxedStrategy<MetadataKind> {
    // Long enough lists to be continued on the next lines.
    let refs = || prop::collection::vec(qualified_ref(), 1..8);
    let mut kinds = vec![
        refs().prop_map(MetadataKind::Calls).boxed(),
        (
            prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
            ingress_path(),
        )
            .prop_map(|(method, path)| MetadataKind::Ingress {
                kind: "http".into(),
                method: method.into(),
                path,
            })
            .boxed(),
        (
            prop::option::of(0i64..100),
            // No minimum backoff (then no maximum), a minimum, or both.
            prop::option::of((duration(), prop::option::of(duration()))),
            prop::option::of(qualified_ref()),
        )
            .prop_map(|(count, backoffs, catch)| {
                let (min_backoff, max_backoff) = backoffs.unwrap_or_default();
                MetadataKind::Retry {
                    count,
                    min_backoff,
                    max_backoff,
                    catch: catch.map(Box::new),
                }
            })
            .boxed(),
        (
            qualified_ref(),
            prop::option::of(prop::sample::select(vec![
                SubscribeFrom::Beginning,
                SubscribeFrom::Latest,
            ])),
            any::<bool>(),
        )
            .prop_map(|(topic, from, dead_letter)| MetadataKind::Subscribe {
                topic: Box::new(topic),
                from,
                dead_letter,
            })
            .boxed(),
        refs().prop_map(MetadataKind::Publish).boxed(),
        (
            prop::sample::select(vec!["go", "kotlin", "java"]),
            any::<String>(),
        )
            .prop_map(|(runtime, native_name)| MetadataKind::TypeMap {
                runtime: runtime.into(),
                native_name,
            })
            .boxed(),
        any::<String>()
            .prop_map(|alias| MetadataKind::Alias {
                kind: "json".into(),
                alias,
            })
            .boxed(),
        any::<bool>()
            .prop_map(|lenient| MetadataKind::Encoding {
                kind: "json".into(),
                lenient,
            })
            .boxed(),
        refs().prop_map(MetadataKind::DatabaseUses).boxed(),
        refs().prop_map(MetadataKind::ConfigUses).boxed(),
        refs().prop_map(MetadataKind::SecretsUses).boxed(),
        (0i64..64).prop_map(MetadataKind::Partitions).boxed(),
        prop::collection::vec(any::<String>(), 1..3)
            .prop_map(MetadataKind::Egress)
            .boxed(),
        Just(MetadataKind::Generated).boxed(),
        Just(MetadataKind::Transaction).boxed(),
        any::<bool>()
            .prop_map(|manual| MetadataKind::Fixture { manual })
            .boxed(),
        (ident(), any::<String>())
            .prop_map(|(command, query)| MetadataKind::SqlQuery { command, query })
            .boxed(),
        // Names that are not identifiers are quoted.
        ("[a-z_][a-z0-9 ._\"-]{0,7}", "[a-zA-Z0-9 _]{1,8}")
            .prop_map(|(table, name)| MetadataKind::SqlColumn { table, name })
            .boxed(),
        "[0-9a-f]{64}"
            .prop_map(|hash| MetadataKind::Migration(format!("sha256:{hash}")))
            .boxed(),
        (any::<String>(), any::<String>(), any::<bool>())
            .prop_map(|(path, digest, executable)| MetadataKind::Artefact {
                path,
                digest,
                executable,
            })
            .boxed(),
        (any::<String>(), any::<String>(), any::<bool>())
            .prop_map(|(repository, commit, dirty)| MetadataKind::Git {
                repository,
                commit,
                dirty,
            })
            .boxed(),
        (any::<String>(), any::<String>())
            .prop_map(|(image, digest)| MetadataKind::Image { image, digest })
            .boxed(),
        any::<String>().prop_map(MetadataKind::Grpc).boxed(),
        ident().prop_map(MetadataKind::Oneof).boxed(),
    ];
    if !inline {
        // `+cron` runs to the end of its line, so it never stands inline.
        kinds.push(
            "[0-9*/,-]{1,5}( [0-9*/,-]{1,5}){0,4}"
                .prop_map(MetadataKind::Cron)
                .boxed(),
        );
    }
    prop::strategy::Union::new(kinds).boxed()
}

fn metadata(inline: bool) -> impl Strategy<Value = Vec<Metadata>> {
    prop::collection::vec(metadata_kind(inline).prop_map(Metadata::from), 0..3)
}

fn visibility() -> impl Strategy<Value = Visibility> {
    prop::sample::select(vec![
        Visibility::Private,
        Visibility::Export,
        Visibility::ExportRealm,
    ])
}

fn decl() -> BoxedStrategy<Decl> {
    let field =
        (comments(), ident(), ty(), metadata(true)).prop_map(|(comments, name, ty, metadata)| {
            Field {
                pos: None,
                comments: comments.into(),
                name,
                ty,
                metadata: metadata.into(),
            }
        });
    let data = (
        comments(),
        visibility(),
        type_name(),
        prop::collection::vec("[A-Z][0-9]?", 0..3),
        metadata(false),
        prop::collection::vec(field, 0..4),
    )
        .prop_map(|(comments, visibility, name, params, metadata, fields)| {
            Decl::Data(Data {
                pos: None,
                comments: comments.into(),
                visibility,
                name,
                type_params: params
                    .into_iter()
                    .map(|name| TypeParameter { pos: None, name })
                    .collect(),
                metadata: metadata.into(),
                fields,
            })
        });
    let verb = (
        comments(),
        visibility(),
        ident(),
        ty(),
        ty(),
        metadata(false),
    )
        .prop_map(
            |(comments, visibility, name, request, response, metadata)| {
                Decl::Verb(Verb {
                    pos: None,
                    comments: comments.into(),
                    visibility,
                    name,
                    request,
                    response,
                    metadata: metadata.into(),
                })
            },
        );
    let variant_value = prop_oneof![
        any::<i64>().prop_map(VariantValue::Int),
        any::<String>().prop_map(VariantValue::String),
        ty().prop_map(VariantValue::Type),
    ];
    let variant =
        (comments(), type_name(), variant_value).prop_map(|(comments, name, value)| EnumVariant {
            pos: None,
            comments: comments.into(),
            name,
            value,
        });
    let enumeration = (
        comments(),
        visibility(),
        type_name(),
        prop::option::of(ty()),
        prop::collection::vec(variant, 0..4),
    )
        .prop_map(|(comments, visibility, name, ty, variants)| {
            Decl::Enum(Enum {
                pos: None,
                comments: comments.into(),
                visibility,
                name,
                ty,
                variants,
            })
        });
    let alias = (comments(), visibility(), type_name(), ty(), metadata(false)).prop_map(
        |(comments, visibility, name, ty, metadata)| {
            Decl::TypeAlias(TypeAlias {
                pos: None,
                comments: comments.into(),
                visibility,
                name,
                ty,
                metadata: metadata.into(),
            })
        },
    );
    let config = (comments(), ident(), ty()).prop_map(|(comments, name, ty)| {
        Decl::Config(Config {
            pos: None,
            comments: comments.into(),
            name,
            ty,
        })
    });
    let secret = (comments(), ident(), ty()).prop_map(|(comments, name, ty)| {
        Decl::Secret(Secret {
            pos: None,
            comments: comments.into(),
            name,
            ty,
        })
    });
    let database = (
        comments(),
        prop::sample::select(vec![DatabaseEngine::Postgres, DatabaseEngine::Mysql]),
        ident(),
        metadata(false),
    )
        .prop_map(|(comments, engine, name, metadata)| {
            Decl::Database(Database {
                pos: None,
                comments: comments.into(),
                engine,
                name,
                metadata: metadata.into(),
            })
        });
    let topic = (comments(), visibility(), ident(), ty(), metadata(false)).prop_map(
        |(comments, visibility, name, event, metadata)| {
            Decl::Topic(Topic {
                pos: None,
                comments: comments.into(),
                visibility,
                name,
                event,
                metadata: metadata.into(),
            })
        },
    );
    prop_oneof![
        data,
        verb,
        enumeration,
        alias,
        config,
        secret,
        database,
        topic
    ]
    .boxed()
}

fn module() -> impl Strategy<Value = Module> {
    (
        comments(),
        any::<bool>(),
        ident(),
        metadata(false),
        prop::collection::vec(decl(), 0..6),
    )
        .prop_map(|(comments, builtin, name, metadata, decls)| Module {
            pos: None,
            comments: comments.into(),
            builtin,
            name,
            metadata: metadata.into(),
            decls,
        })
}

fn schema() -> impl Strategy<Value = Schema> {
    let realm = (
        comments(),
        any::<bool>(),
        ident(),
        prop::collection::vec(module(), 0..3),
    )
        .prop_map(|(comments, external, name, modules)| Realm {
            pos: None,
            comments: comments.into(),
            external,
            name,
            modules,
        });
    prop::collection::vec(realm, 0..3).prop_map(|realms| Schema { realms })
}

fn without_positions(mut schema: Schema) -> Schema {
    schema.realms.iter_mut().for_each(strip_positions);
    schema
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// print → parse gives the same schema, and printing it again gives the
    /// same bytes.
    #[test]
    fn text_round_trip(schema in schema()) {
        let text = print_schema(&schema);
        let parsed = match parse_schema("gen.ftl", &text) {
            Ok(parsed) => parsed,
            Err(d) => panic!("{}\n--- text\n{text}", realm::schema::diagnostic::render(&[d], &[("gen.ftl".to_string(), text.clone())].into())),
        };
        prop_assert_eq!(print_schema(&parsed), text.clone());
        prop_assert_eq!(without_positions(parsed), schema);
    }

    /// Bare modules (a file without realm blocks) round-trip too.
    #[test]
    fn bare_modules_round_trip(modules in prop::collection::vec(module(), 0..3)) {
        let text = print_modules(&modules);
        let parsed = parse_file("gen.ftl", &text).map_err(|d| TestCaseError::fail(format!("{d}\n{text}")))?;
        prop_assert!(parsed.realms.is_empty());
        prop_assert_eq!(print_modules(&parsed.modules), text);
    }

    /// Parsed schemas, positions included, survive FTL's schema as
    /// proto-text, protojson and binary (all but realms' doc comments, which
    /// FTL's `Realm` has no field for), and the encodings are deterministic.
    /// realm's older `realm.schema.v1` proto-text still reads, comments
    /// included.
    #[test]
    fn proto_text_and_json_round_trip(schema in schema()) {
        let text = print_schema(&schema);
        let parsed = parse_schema("gen.ftl", &text).map_err(|d| TestCaseError::fail(d.to_string()))?;
        let mut expected = parsed.clone();
        for realm in &mut expected.realms {
            realm.comments.clear();
        }

        let txtpb = txtpb::to_text(&parsed);
        let decoded = txtpb::from_text("gen.txtpb", &txtpb).map_err(|d| TestCaseError::fail(format!("{d}\n{txtpb}")))?;
        prop_assert_eq!(&decoded, &expected);
        prop_assert_eq!(txtpb::to_text(&decoded), txtpb);

        let json = txtpb::to_json(&parsed);
        let decoded = txtpb::from_json("gen.json", &json).map_err(|d| TestCaseError::fail(format!("{d}\n{json}")))?;
        prop_assert_eq!(&decoded, &expected);
        prop_assert_eq!(txtpb::to_json(&decoded), json);

        let binary = txtpb::to_binary(&parsed);
        let decoded = txtpb::from_binary("gen.binpb", &binary).map_err(|d| TestCaseError::fail(d.to_string()))?;
        prop_assert_eq!(&decoded, &expected);

        let legacy = txtpb::to_legacy_text(&parsed);
        prop_assert!(txtpb::is_legacy(&legacy));
        let decoded = txtpb::from_text("old.txtpb", &legacy).map_err(|d| TestCaseError::fail(format!("{d}\n{legacy}")))?;
        prop_assert_eq!(&decoded, &parsed);
    }
}
