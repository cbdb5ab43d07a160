//! What the user sees for FTL Go code that FTL would refuse: one snapshot
//! per kind of error, from the real binary, each with the Go file, line and
//! column, the Go line with a caret, and what to do. Every case also checks
//! that `realm schema` and `realm export` fail alike (exit 1) and that
//! nothing was written.

use crate::common::{TestProject, snapshots};
use realm::schema::MAX_TYPE_DEPTH;

const HEAD: &str = "package shop\n\nimport (\n\t\"context\"\n\n\t\"github.com/block/ftl/go-runtime/ftl\"\n)\n\nvar _ = ftl.Unit{}\n\n";

/// A project with one Go module `shop` whose `shop.go` is `HEAD` + `body`,
/// plus `extra` files.
fn project(body: &str, extra: &[(&str, &str)]) -> TestProject {
    let project = TestProject::new("shop");
    project.write(
        "modules/shop/ftl.toml",
        "module = \"shop\"\nlanguage = \"go\"\n",
    );
    project.write("modules/shop/go.mod", "module ftl/shop\n\ngo 1.24\n");
    project.write("modules/shop/shop.go", &format!("{HEAD}{body}"));
    for (path, text) in extra {
        project.write(path, text);
    }
    project
}

fn check_project(name: &str, project: &TestProject) -> String {
    let schema = project.realm(&["schema"]).expect(1);
    assert!(
        schema.stdout.is_empty(),
        "schema printed: {}",
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
    snapshots(|| insta::assert_snapshot!(name, schema.stderr));
    schema.stderr
}

fn check(name: &str, body: &str) -> String {
    check_project(name, &project(body, &[]))
}

#[test]
fn unknown_directive() {
    check(
        "go_unknown_directive",
        "//ftl:verv\nfunc Ping(ctx context.Context) error { return nil }\n",
    );
}

#[test]
fn bad_verb_visibility() {
    check(
        "go_bad_verb_visibility",
        "//ftl:verb exported\nfunc Ping(ctx context.Context) error { return nil }\n",
    );
}

#[test]
fn int64_field() {
    check(
        "go_int64_field",
        "type Order struct {\n\tCount int64\n}\n\n//ftl:verb\nfunc Place(ctx context.Context, o Order) error { return nil }\n",
    );
}

#[test]
fn pointer_field() {
    check(
        "go_pointer_field",
        "type Order struct {\n\tNext *Order\n}\n\n//ftl:verb\nfunc Place(ctx context.Context, o Order) error { return nil }\n",
    );
}

#[test]
fn external_type_field() {
    let body = "type Order struct {\n\tAt sql.NullTime\n}\n\n//ftl:verb\nfunc Place(ctx context.Context, o Order) error { return nil }\n";
    let text = format!(
        "{}{body}",
        HEAD.replace("\"context\"\n", "\"context\"\n\t\"database/sql\"\n")
    );
    let p = project("", &[]);
    p.write("modules/shop/shop.go", &text);
    check_project("go_external_type_field", &p);
}

#[test]
fn first_parameter_is_not_a_context() {
    check(
        "go_first_parameter_not_context",
        "//ftl:verb\nfunc Ping(name string) error { return nil }\n",
    );
}

#[test]
fn verb_without_an_error_result() {
    check(
        "go_verb_without_error",
        "//ftl:verb\nfunc Ping(ctx context.Context) string { return \"\" }\n",
    );
}

#[test]
fn unit_request_parameter() {
    check(
        "go_unit_request",
        "//ftl:verb\nfunc Ping(ctx context.Context, req ftl.Unit) error { return nil }\n",
    );
}

#[test]
fn unsupported_verb_parameter() {
    check(
        "go_unsupported_verb_parameter",
        "//ftl:verb\nfunc Ping(ctx context.Context, req string, extra int) error { return nil }\n",
    );
}

#[test]
fn unexported_struct_field() {
    check(
        "go_unexported_field",
        "type Order struct {\n\tid string\n}\n\n//ftl:verb\nfunc Place(ctx context.Context, o Order) error { return nil }\n",
    );
}

#[test]
fn direct_verb_call() {
    check(
        "go_direct_verb_call",
        "//ftl:verb\nfunc Ping(ctx context.Context) error { return nil }\n\n\
         //ftl:verb\nfunc Twice(ctx context.Context) error {\n\t_ = Ping(ctx)\n\treturn Ping(ctx)\n}\n",
    );
}

#[test]
fn direct_verb_calls_are_found_by_what_the_name_means() {
    let body = "//ftl:verb\nfunc Ping(ctx context.Context) error { return nil }\n\n\
                // A parameter named like a verb is not the verb.\n\
                func Retry(ctx context.Context, Ping func(context.Context) error) error {\n\treturn Ping(ctx)\n}\n\n\
                //ftl:verb\nfunc Twice(ctx context.Context) error {\n\treturn sub.Pong(ctx)\n}\n";
    let text = format!(
        "{}{body}",
        HEAD.replace("\"context\"\n", "\"context\"\n\t\"ftl/shop/sub\"\n")
    );
    let p = project(
        "",
        &[(
            "modules/shop/sub/sub.go",
            "package sub\n\nimport \"context\"\n\n//ftl:verb\nfunc Pong(ctx context.Context) error { return nil }\n",
        )],
    );
    p.write("modules/shop/shop.go", &text);
    let stderr = check_project("go_direct_verb_call_in_a_subpackage", &p);
    assert_eq!(
        stderr.matches("direct verb calls are not allowed").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn optional_of_an_optional() {
    check(
        "go_optional_of_an_optional",
        "type Order struct {\n\tNote ftl.Option[ftl.Option[string]]\n}\n\n//ftl:verb\nfunc Place(ctx context.Context, o Order) error { return nil }\n",
    );
}

#[test]
fn publishing_to_another_modules_topic() {
    let p = project(
        "",
        &[
            (
                "modules/news/ftl.toml",
                "module = \"news\"\nlanguage = \"go\"\n",
            ),
            ("modules/news/go.mod", "module ftl/news\n\ngo 1.24\n"),
            (
                "modules/news/news.go",
                "package news\n\nimport \"github.com/block/ftl/go-runtime/ftl\"\n\n\
                 //ftl:data export\ntype Story struct {\n\tTitle string\n}\n\n\
                 //ftl:export\ntype Headlines = ftl.TopicHandle[Story, ftl.SinglePartitionMap[Story]]\n",
            ),
        ],
    );
    p.write(
        "modules/shop/shop.go",
        &format!(
            "{}//ftl:verb\nfunc Announce(ctx context.Context, topic news.Headlines) error {{ return nil }}\n\n\
             //ftl:verb\nfunc Sell(ctx context.Context, story news.Story, topic news.Headlines) error {{ return nil }}\n",
            HEAD.replace("\"context\"\n", "\"context\"\n\t\"ftl/news\"\n")
        ),
    );
    let stderr = check_project("go_external_topic", &p);
    assert_eq!(
        stderr
            .matches("could not inject external topic \"news.headlines\" because publishing directly to external topics is not allowed")
            .count(),
        2,
        "{stderr}"
    );
}

#[test]
fn type_enum_with_an_exported_method() {
    check(
        "go_type_enum_exported_method",
        "//ftl:enum\ntype Shape interface{ Area() float64 }\n",
    );
}

#[test]
fn cron_on_an_exported_verb() {
    check(
        "go_cron_exported",
        "//ftl:verb export\n//ftl:cron 1h\nfunc Tick(ctx context.Context) error { return nil }\n",
    );
}

#[test]
fn invalid_cron_expression() {
    check(
        "go_invalid_cron",
        "//ftl:cron 0 0 0 0 0\nfunc Tick(ctx context.Context) error { return nil }\n",
    );
}

#[test]
fn typemap_does_not_match() {
    let body = "//ftl:typealias\n//ftl:typemap go \"example.com/money.Amount\"\ntype Money decimal.Decimal\n";
    let text = format!(
        "{}{body}",
        HEAD.replace(
            "\"context\"\n",
            "\"context\"\n\tdecimal \"github.com/shopspring/decimal\"\n"
        )
    );
    let p = project("", &[]);
    p.write("modules/shop/shop.go", &text);
    check_project("go_typemap_mismatch", &p);
}

#[test]
fn go_syntax_error() {
    check(
        "go_syntax_error",
        "//ftl:verb\nfunc Ping(ctx context.Context error { return nil }\n",
    );
}

fn nested(levels: usize) -> String {
    format!(
        "type Order struct {{\n\tItems {}string\n}}\n\n//ftl:verb\nfunc Place(ctx context.Context, o Order) error {{ return nil }}\n",
        "[]".repeat(levels)
    )
}

#[test]
fn types_nested_too_deep_are_an_error() {
    let stderr = check_project(
        "go_types_too_deep",
        &project(&nested(MAX_TYPE_DEPTH + 2), &[]),
    );
    assert!(stderr.contains(&format!("nest more than {MAX_TYPE_DEPTH} deep")));
    // MAX_TYPE_DEPTH types (the innermost `string` is one) are fine.
    let ok = project(&nested(MAX_TYPE_DEPTH - 1), &[]);
    ok.realm(&["schema"]).expect(0);
}

#[test]
fn hostile_nesting_does_not_crash() {
    let p = project(&nested(100_000), &[]);
    let run = p.realm(&["schema"]).expect(1);
    assert!(
        run.stderr
            .contains(&format!("nest more than {MAX_TYPE_DEPTH} deep")),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
}

#[test]
fn every_error_of_a_module_in_one_run() {
    let stderr = check(
        "go_all_errors_at_once",
        "type Order struct {\n\tCount uint64\n\tnote string\n}\n\n\
         //ftl:verb export\n//ftl:fixture\nfunc Seed(ctx context.Context) error { return nil }\n\n\
         //ftl:verb\nfunc place(ctx context.Context, o Order) error { return nil }\n\n\
         //ftl:verb\nfunc Ship(ctx context.Context, o Order) (Order, int, error) { return o, 0, nil }\n",
    );
    assert!(stderr.contains("errors\n"), "{stderr}");
}

#[test]
fn module_in_another_language() {
    let p = TestProject::new("shop");
    p.write(
        "modules/billing/ftl.toml",
        "module = \"billing\"\nlanguage = \"kotlin\"\n",
    );
    check_project("go_module_in_kotlin", &p);
}

#[test]
fn go_mod_with_the_wrong_module_path() {
    let p = project("", &[]);
    p.write(
        "modules/shop/go.mod",
        "module github.com/acme/shop\n\ngo 1.24\n",
    );
    check_project("go_wrong_go_mod", &p);
}

#[test]
fn data_directive_on_a_string_type() {
    check("go_data_not_a_struct", "//ftl:data\ntype Name string\n");
}

#[test]
fn enum_variant_names_clash_across_packages() {
    let p = project(
        "//ftl:enum\ntype Color string\n\nconst Red Color = \"red\"\n",
        &[(
            "modules/shop/alarm/alarm.go",
            "package alarm\n\n//ftl:enum\ntype Alarm int\n\nconst (\n\tGreen Alarm = iota\n\tRed\n)\n",
        )],
    );
    check_project("go_enum_variant_clash", &p);
}
