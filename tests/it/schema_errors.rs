//! What the user sees for malformed schema text and project files: one
//! snapshot per kind of error, from the real binary. Every case also checks
//! that the command failed with exit code 1 and wrote nothing. Warnings
//! (what FTL accepts but realm points out) are snapshotted too: printed,
//! exit 0, and refused under `--deny-warnings`.

use crate::common::{TestProject, snapshots};

/// Runs `realm schema` and `realm export` on a project holding `files` and
/// snapshots the error output.
fn check(name: &str, files: &[(&str, &str)]) {
    let project = TestProject::new("shop");
    for (path, text) in files {
        project.write(path, text);
    }
    let schema = project.realm(&["schema"]).expect(1);
    assert!(
        schema.stdout.is_empty(),
        "schema printed output: {}",
        schema.stdout
    );
    let export = project.realm(&["export"]).expect(1);
    assert_eq!(
        schema.stderr, export.stderr,
        "schema and export report differently"
    );
    assert!(
        !project.exists("ftl-external-schema.txtpb"),
        "export wrote a file"
    );
    let stderr = schema
        .stderr
        .replace(&project.path().display().to_string(), "[PROJECT]");
    snapshots(|| insta::assert_snapshot!(name, stderr));
}

/// Runs `realm schema` and `realm export` on a project holding `files`,
/// which validates with warnings: both succeed and print the same
/// warnings (snapshotted); with `--deny-warnings` both fail, and export
/// writes nothing.
fn check_warns(name: &str, files: &[(&str, &str)]) {
    let project = TestProject::new("shop");
    for (path, text) in files {
        project.write(path, text);
    }
    let schema = project.realm(&["schema"]).expect(0);
    assert!(!schema.stdout.is_empty(), "schema printed nothing");
    assert!(schema.stderr.contains("warning: "), "{}", schema.stderr);
    let denied = project.realm(&["schema", "--deny-warnings"]).expect(1);
    assert!(
        denied.stdout.is_empty(),
        "schema printed output: {}",
        denied.stdout
    );
    assert_eq!(
        denied.stderr,
        schema
            .stderr
            .replace("warning: ", "error: ")
            .replace(" warnings\n", " errors\n")
            .replace("1 warning\n", "1 error\n"),
        "--deny-warnings reports the warnings as errors"
    );
    let export = project.realm(&["export", "--deny-warnings"]).expect(1);
    assert_eq!(export.stderr, denied.stderr);
    assert!(
        !project.exists("ftl-external-schema.txtpb"),
        "export wrote a file"
    );
    let export = project.realm(&["export"]).expect(0);
    assert!(
        export.stderr.starts_with(&schema.stderr),
        "{}",
        export.stderr
    );
    assert!(project.exists("ftl-external-schema.txtpb"));
    snapshots(|| insta::assert_snapshot!(name, schema.stderr));
}

fn module(body: &str) -> String {
    format!("module shop {{\n{body}}}\n")
}

// ---- parse errors ------------------------------------------------------

#[test]
fn parse_missing_type() {
    check(
        "parse_missing_type",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    amount\n  }\n"),
        )],
    );
}

#[test]
fn parse_unknown_declaration() {
    check(
        "parse_unknown_declaration",
        &[("modules/shop.ftl", &module("  struct Order {\n  }\n"))],
    );
}

#[test]
fn parse_unknown_metadata() {
    check(
        "parse_unknown_metadata",
        &[(
            "modules/shop.ftl",
            &module("  verb ping(Unit) Unit\n    +frobnicate 3\n"),
        )],
    );
}

#[test]
fn parse_unterminated_string() {
    check(
        "parse_unterminated_string",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    id String +alias json \"orderId\n  }\n"),
        )],
    );
}

#[test]
fn parse_unknown_escape() {
    check(
        "parse_unknown_escape",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    id String +alias json \"a\\qb\"\n  }\n"),
        )],
    );
}

#[test]
fn parse_comment_after_code() {
    check(
        "parse_comment_after_code",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    amount Int // in cents\n  }\n"),
        )],
    );
}

#[test]
fn parse_dangling_comment() {
    check(
        "parse_dangling_comment",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    amount Int\n    // TODO: currency\n  }\n"),
        )],
    );
}

#[test]
fn parse_invalid_duration() {
    check(
        "parse_invalid_duration",
        &[(
            "modules/shop.ftl",
            &module("  verb ping(Unit) Unit\n    +retry 3 5x\n"),
        )],
    );
}

#[test]
fn parse_unclosed_module() {
    check(
        "parse_unclosed_module",
        &[("modules/shop.ftl", "module shop {\n  data Order {\n  }\n")],
    );
}

/// A data block missing its `}` is reported where it opened, not at the
/// next block's `{`.
#[test]
fn parse_unclosed_data_before_the_next_block() {
    check(
        "parse_unclosed_data_before_the_next_block",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    amount Int\n\n  data Item {\n    sku String\n  }\n"),
        )],
    );
}

/// A field named like a keyword is still a field: `data Page<Item>` and
/// `data {String: Int}` open nothing.
#[test]
fn fields_named_like_keywords_are_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ftl-project.toml"),
        "name = \"shop\"\nmodule-dirs = [\"modules\"]\n",
    )
    .expect("write");
    std::fs::create_dir_all(dir.path().join("modules")).expect("mkdir");
    std::fs::write(
        dir.path().join("modules/shop.ftl"),
        "module shop {\n  data Page<T> {\n    items [T]\n  }\n\n  data Item {\n    data shop.Page<String>\n    enum {String: Int}\n  }\n}\n",
    )
    .expect("write");
    let run = crate::common::run_realm(dir.path(), &["schema"]).expect(0);
    assert!(
        run.stdout.contains("data shop.Page<String>"),
        "{}",
        run.stdout
    );
}

#[test]
fn parse_exported_config() {
    check(
        "parse_exported_config",
        &[(
            "modules/shop.ftl",
            &module("  export config currency String\n"),
        )],
    );
}

#[test]
fn parse_realm_after_bare_module() {
    check(
        "parse_realm_after_bare_module",
        &[("modules/shop.ftl", "module shop {\n}\n\nrealm shop {\n}\n")],
    );
}

#[test]
fn parse_double_optional() {
    check(
        "parse_double_optional",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    note String??\n  }\n"),
        )],
    );
}

#[test]
fn parse_unknown_http_method() {
    check(
        "parse_unknown_http_method",
        &[(
            "modules/shop.ftl",
            &module("  verb ping(Unit) Unit\n    +ingress http FETCH /ping\n"),
        )],
    );
}

/// A bare name resolves in its own module (FTL's rule); an unknown one is
/// an unknown reference.
#[test]
fn validate_unknown_bare_reference() {
    check(
        "validate_unknown_bare_reference",
        &[(
            "modules/shop.ftl",
            &module("  verb ping(Unit) Unit\n    +calls pong\n"),
        )],
    );
}

#[test]
fn parse_enum_variant_without_value() {
    check(
        "parse_enum_variant_without_value",
        &[(
            "modules/shop.ftl",
            &module("  enum Color: String {\n    Red\n  }\n"),
        )],
    );
}

#[test]
fn parse_unknown_database_engine() {
    check(
        "parse_unknown_database_engine",
        &[("modules/shop.ftl", &module("  database oracle orders\n"))],
    );
}

#[test]
fn parse_junk_after_metadata() {
    check(
        "parse_junk_after_metadata",
        &[(
            "modules/shop.ftl",
            &module("  topic orders shop.Order\n    +partitions 8 9\n\n  data Order {\n  }\n"),
        )],
    );
}

// ---- validation errors ---------------------------------------------------

#[test]
fn validate_unknown_module() {
    check(
        "validate_unknown_module",
        &[
            (
                "modules/shop.ftl",
                &module("  data Order {\n    item catalg.Item\n  }\n"),
            ),
            (
                "modules/catalog.ftl",
                "module catalog {\n  export data Item {\n  }\n}\n",
            ),
        ],
    );
}

#[test]
fn validate_unknown_declaration() {
    check(
        "validate_unknown_declaration",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    line shop.OrderLin\n  }\n\n  data OrderLine {\n  }\n"),
        )],
    );
}

#[test]
fn validate_private_across_modules() {
    check(
        "validate_private_across_modules",
        &[
            (
                "modules/shop.ftl",
                &module("  data Order {\n    item catalog.Item\n  }\n"),
            ),
            (
                "modules/catalog.ftl",
                "module catalog {\n  data Item {\n  }\n}\n",
            ),
        ],
    );
}

#[test]
fn validate_visibility_rule() {
    check(
        "validate_visibility_rule",
        &[(
            "modules/shop.ftl",
            &module(
                "  export realm verb pay(shop.PayRequest) Unit\n\n  export data PayRequest {\n    amount Int\n  }\n",
            ),
        )],
    );
}

#[test]
fn validate_public_api_exposes_external_type() {
    check(
        "validate_public_api_exposes_external_type",
        &[
            (
                "modules/shop.ftl",
                &module("  export realm data Payment {\n    account balance.Account@bank\n  }\n"),
            ),
            (
                "modules/bank.ftl",
                "external realm bank {\n  module balance {\n    export realm data Account {\n      id String\n    }\n  }\n}\n",
            ),
        ],
    );
}

#[test]
fn validate_unknown_realm() {
    check(
        "validate_unknown_realm",
        &[(
            "modules/shop.ftl",
            &module("  verb pay(Unit) Unit\n    +calls balance.withdraw@bank\n"),
        )],
    );
}

#[test]
fn validate_not_exported_by_realm() {
    check(
        "validate_not_exported_by_realm",
        &[
            (
                "modules/shop.ftl",
                &module("  verb pay(Unit) Unit\n    +calls balance.withdraw@bank\n"),
            ),
            (
                "modules/bank.ftl",
                "external realm bank {\n  module balance {\n    export verb withdraw(Unit) Unit\n  }\n}\n",
            ),
        ],
    );
}

/// FTL: "duplicate data ..., first defined at ...".
#[test]
fn validate_duplicate_declaration() {
    check(
        "validate_duplicate_declaration",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n  }\n\n  data Order {\n    id String\n  }\n"),
        )],
    );
}

/// FTL keys duplicates by kind and name: a data and a verb may share one.
#[test]
fn warn_same_name_two_kinds() {
    check_warns(
        "warn_same_name_two_kinds",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n  }\n\n  verb Order(Unit) Unit\n"),
        )],
    );
}

/// FTL does not check fields for duplicates.
#[test]
fn warn_duplicate_field() {
    check_warns(
        "warn_duplicate_field",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    id String\n    id Int\n  }\n"),
        )],
    );
}

#[test]
fn validate_type_argument_arity() {
    check(
        "validate_type_argument_arity",
        &[(
            "modules/shop.ftl",
            &module(
                "  data Page<T> {\n    items [T]\n  }\n\n  data Orders {\n    page shop.Page<String, Int>\n  }\n",
            ),
        )],
    );
}

#[test]
fn validate_wrong_kind_in_metadata() {
    check(
        "validate_wrong_kind_in_metadata",
        &[(
            "modules/shop.ftl",
            &module("  verb pay(Unit) Unit\n    +calls shop.Order\n\n  data Order {\n  }\n"),
        )],
    );
}

/// FTL does not check that a type reference names a type.
#[test]
fn warn_verb_used_as_type() {
    check_warns(
        "warn_verb_used_as_type",
        &[(
            "modules/shop.ftl",
            &module("  verb pay(shop.ping) Unit\n\n  verb ping(Unit) Unit\n"),
        )],
    );
}

/// FTL: "metadata ... is not valid on data structures".
#[test]
fn validate_misplaced_metadata() {
    check(
        "validate_misplaced_metadata",
        &[(
            "modules/shop.ftl",
            &module("  data Order {\n    +calls shop.pay\n  }\n\n  verb pay(Unit) Unit\n"),
        )],
    );
}

/// FTL accepts `+alias` on a verb, where it does nothing.
#[test]
fn warn_metadata_without_effect() {
    check_warns(
        "warn_metadata_without_effect",
        &[(
            "modules/shop.ftl",
            &module("  verb pay(Unit) Unit\n    +alias json \"p\"\n"),
        )],
    );
}

#[test]
fn validate_repeated_metadata() {
    check(
        "validate_repeated_metadata",
        &[(
            "modules/shop.ftl",
            &module("  verb pay(Unit) Unit\n    +retry 3 1s\n    +retry 5 1s\n"),
        )],
    );
}

#[test]
fn validate_shadows_builtin_type() {
    check(
        "validate_shadows_builtin_type",
        &[("modules/shop.ftl", &module("  data String {\n  }\n"))],
    );
}

#[test]
fn validate_enum_values() {
    check(
        "validate_enum_values",
        &[(
            "modules/shop.ftl",
            &module(
                "  enum Status: Int {\n    Open = 1\n    Closed = \"closed\"\n    Done = 1\n  }\n",
            ),
        )],
    );
}

#[test]
fn validate_reference_to_own_realm() {
    check(
        "validate_reference_to_own_realm",
        &[(
            "modules/shop.ftl",
            &module(
                "  data Order {\n    line shop.OrderLine@shop\n  }\n\n  data OrderLine {\n  }\n",
            ),
        )],
    );
}

#[test]
fn validate_external_realm_with_private_declaration() {
    check(
        "validate_external_realm_with_private_declaration",
        &[(
            "modules/bank.ftl",
            "external realm bank {\n  module balance {\n    data Ledger {\n    }\n  }\n}\n",
        )],
    );
}

#[test]
fn validate_realm_name_mismatch() {
    check(
        "validate_realm_name_mismatch",
        &[(
            "modules/shop.ftl",
            "realm store {\n  module shop {\n  }\n}\n",
        )],
    );
}

/// FTL replaces a module named `builtin` with its own.
#[test]
fn warn_reserved_builtin_module() {
    check_warns(
        "warn_reserved_builtin_module",
        &[("modules/shop.ftl", "module builtin {\n}\n")],
    );
}

#[test]
fn validate_all_errors_of_all_files_at_once() {
    check(
        "validate_all_errors_of_all_files_at_once",
        &[
            (
                "modules/shop.ftl",
                &module(
                    "  export realm verb pay(shop.Req) Unit\n\n  data Req {\n    x catalog.Item\n    y shop.Nope\n  }\n",
                ),
            ),
            (
                "modules/catalog.ftl",
                "module catalog {\n  data Item {\n    price Moneys\n  }\n}\n",
            ),
        ],
    );
}

#[test]
fn parse_errors_of_all_files_at_once() {
    check(
        "parse_errors_of_all_files_at_once",
        &[
            ("modules/a.ftl", "module a {\n  data A {\n    x\n  }\n}\n"),
            ("modules/b.ftl", "module b {\n  verb v(Unit)\n}\n"),
        ],
    );
}

// ---- project file errors ---------------------------------------------------

#[test]
fn project_invalid_toml() {
    check(
        "project_invalid_toml",
        &[(
            "ftl-project.toml",
            "name = \"shop\"\nmodule-dirs = [\"modules\"\n",
        )],
    );
}

#[test]
fn project_wrong_types() {
    check(
        "project_wrong_types",
        &[(
            "ftl-project.toml",
            "name = 42\nmodule-dirs = \"modules\"\n\n[realm]\nexport = \"../outside.txtpb\"\n",
        )],
    );
}

#[test]
fn project_missing_module_dir() {
    check(
        "project_missing_module_dir",
        &[(
            "ftl-project.toml",
            "name = \"shop\"\nmodule-dirs = [\"services\"]\n",
        )],
    );
}

#[test]
fn validate_oneof_member_not_optional() {
    check(
        "validate_oneof_member_not_optional",
        &[(
            "modules/shop.ftl",
            &module(
                "  data Payment {\n    card String +oneof method\n    iban String? +oneof method\n  }\n",
            ),
        )],
    );
}

/// A 40,000-character line shows as a window around the error, with the
/// caret under the offending text.
#[test]
fn parse_error_on_a_huge_line() {
    let padding = "a.Item, ".repeat(2_500);
    check(
        "parse_error_on_a_huge_line",
        &[(
            "modules/shop.ftl",
            &module(&format!(
                "  verb pay(Unit) Unit\n    +calls {padding}shop.pay ? {padding}shop.pay\n"
            )),
        )],
    );
}

/// `realm add` pins a public API with warnings (they are the other realm's
/// to see); under `--deny-warnings` it refuses it and writes nothing.
#[test]
fn deny_warnings_refuses_to_pin_a_public_api_with_warnings() {
    let bank = crate::common::GitRealm::empty("main");
    bank.write(
        "ftl-project.toml",
        "name = \"bank\"\n\n[realm]\nexport = \"api.txtpb\"\n",
    );
    bank.write(
        "api.txtpb",
        "realms {\n  name: \"bank\"\n  modules {\n    name: \"m\"\n    decls {\n      data {\n        visibility: VISIBILITY_SCOPE_REALM\n        name: \"D\"\n        fields { name: \"a\" type { int {} } }\n        fields { name: \"a\" type { string {} } }\n      }\n    }\n  }\n}\n",
    );
    bank.commit("a field twice");
    let shop = TestProject::new("shop");
    let before = shop.read("ftl-project.toml");
    let run = shop
        .realm(&["add", "--deny-warnings", "--git-repo", &bank.url()])
        .expect(1);
    assert!(
        run.stderr
            .contains("error: field `a` is declared twice in data `m.D`"),
        "{}",
        run.stderr
    );
    assert_eq!(shop.read("ftl-project.toml"), before, "add wrote the pin");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    assert_ne!(shop.read("ftl-project.toml"), before);
    // The shop's own schema has no warnings: nothing printed.
    let schema = shop.realm(&["schema", "--deny-warnings"]).expect(0);
    assert_eq!(schema.stderr, "");
}

#[test]
fn a_lower_case_builtin_suggests_the_builtin() {
    let project = TestProject::new("shop");
    project.write(
        "modules/qty.ftl",
        "module qty {\n  export data Order {\n    qty int\n    price double\n  }\n}\n",
    );
    let run = project.realm(&["schema"]).expect(1);
    snapshots(|| insta::assert_snapshot!("schema_errors_lower_case_builtin", run.stderr));
}
