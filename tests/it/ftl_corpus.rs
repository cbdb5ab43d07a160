//! A corpus of schema texts written the way FTL's printer (`ftl schema
//! get`) and FTL's own tests write them (`tests/ftl-corpus/`):
//!
//! - `ok/*.ftl` cover every node and metadata form of FTL's grammar. Each
//!   parses, validates without errors or warnings, prints to canonical
//!   text (snapshotted: what FTL's text becomes in realm), and the printed
//!   text parses and prints to the same bytes, before and after bare
//!   references are qualified.
//! - `errors/*.ftl` each hold one kind of error FTL reports (its first line
//!   says which); the rendered errors, with file:line:col, are
//!   snapshotted.

use std::path::PathBuf;

use crate::common::{repo_root, snapshots};
use realm::schema::diagnostic::{Report, Sources, render};
use realm::schema::qualify::qualify_realm;
use realm::schema::validate::validate_with_warnings;
use realm::schema::*;

fn corpus(dir: &str) -> Vec<(String, String)> {
    let dir: PathBuf = repo_root().join("tests/ftl-corpus").join(dir);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a file name")
                .to_string();
            let text = std::fs::read_to_string(&path).expect("read a corpus file");
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// A file of the corpus as a schema: its realms (a leading builtin module
/// goes to the internal one), or its bare modules in a realm of their own
/// (as a project's files are).
fn load(name: &str, text: &str) -> Result<Schema, Diagnostic> {
    let file = format!("{name}.ftl");
    let parsed = parse_file(&file, text)?;
    if !parsed.realms.is_empty() {
        return parse_schema(&file, text);
    }
    Ok(Schema {
        realms: vec![Realm {
            name: "corpus".into(),
            modules: parsed.modules,
            ..Realm::default()
        }],
    })
}

fn printed(schema: &Schema) -> String {
    print_schema(schema)
}

#[test]
fn the_corpus_has_at_least_25_texts_of_each_kind() {
    assert!(corpus("ok").len() >= 25, "{}", corpus("ok").len());
    assert!(corpus("errors").len() >= 25, "{}", corpus("errors").len());
}

#[test]
fn ftl_texts_parse_validate_print_and_round_trip() {
    for (name, text) in corpus("ok") {
        let file = format!("{name}.ftl");
        let sources: Sources = [(file.clone(), text.clone())].into();
        let mut schema =
            load(&name, &text).unwrap_or_else(|d| panic!("{}", render(&[d], &sources)));
        let problems = validate_with_warnings(&schema);
        assert!(
            problems.is_empty(),
            "{name}:\n{}",
            Report::new(problems, sources.clone())
        );

        // Printed, parsed and printed again: the same bytes.
        let canonical = printed(&schema);
        let again = load(&name, &canonical)
            .unwrap_or_else(|d| panic!("{name}: printed text does not parse: {d}\n{canonical}"));
        assert_eq!(printed(&again), canonical, "{name}");
        assert!(validate_with_warnings(&again).is_empty(), "{name}");

        // As FTL does when it validates: references qualified. Still valid,
        // still round-trips.
        schema.realms.iter_mut().for_each(qualify_realm);
        assert!(validate_with_warnings(&schema).is_empty(), "{name}");
        let qualified = printed(&schema);
        let again = load(&name, &qualified).unwrap_or_else(|d| panic!("{name}: {d}"));
        assert_eq!(printed(&again), qualified, "{name}");

        snapshots(|| insta::assert_snapshot!(format!("ftl_corpus_{name}"), qualified));
    }
}

#[test]
fn ftl_error_texts_report_errors_with_positions() {
    for (name, text) in corpus("errors") {
        let file = format!("{name}.ftl");
        let sources: Sources = [(file.clone(), text.clone())].into();
        let diagnostics = match load(&name, &text) {
            Err(d) => vec![d],
            Ok(schema) => validate_with_warnings(&schema),
        };
        assert!(
            diagnostics.iter().any(|d| !d.is_warning()),
            "{name} holds no error"
        );
        assert!(
            diagnostics
                .iter()
                .all(|d| d.pos.as_ref().is_some_and(|p| *p.file == *file)),
            "{name}: every error has a position"
        );
        let what = text.lines().next().unwrap_or_default().to_string();
        let rendered = render(&diagnostics, &sources);
        snapshots(|| {
            insta::with_settings!({ description => what }, {
                insta::assert_snapshot!(format!("ftl_error_{name}"), rendered);
            })
        });
    }
}

/// A whole `ftl schema get` dump (realm block, builtin module, blank lines
/// of blanks, trailing blanks) is a project's schema as it is: `realm
/// schema` loads it without a word, drops the builtin module (realm has
/// its own), and what it prints loads to the same text again.
#[test]
fn an_ftl_schema_dump_is_a_project_schema() {
    let dump = corpus("ok")
        .into_iter()
        .find(|(name, _)| name == "01-schema-dump")
        .expect("the dump is in the corpus")
        .1;
    let project = crate::common::TestProject::new("library");
    project.write("modules/schema.ftl", &dump);
    // Another dump's builtin module, leading its realm block: the same
    // declarations again are no duplicates.
    project.write(
        "modules/zz-more.ftl",
        "builtin module builtin {\n  export data Empty {\n  }\n}\n\nrealm library {\n  module shelf {\n    verb dust(builtin.Empty) Unit\n  }\n}\n",
    );
    let first = project.realm(&["schema"]).expect(0);
    assert_eq!(first.stderr, "", "no warnings");
    assert!(!first.stdout.contains("builtin module"), "{}", first.stdout);
    assert!(
        first
            .stdout
            .starts_with("realm library {\n  module catalog {\n"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("\n  module shelf {\n"));

    std::fs::remove_file(project.path().join("modules/zz-more.ftl")).expect("remove");
    project.write("modules/schema.ftl", &first.stdout);
    let second = project.realm(&["schema"]).expect(0);
    assert_eq!(second.stdout, first.stdout);

    let export = project.realm(&["export", "--deny-warnings"]).expect(0);
    assert!(
        export.stderr.starts_with("Exported realm `library`"),
        "{}",
        export.stderr
    );
}
