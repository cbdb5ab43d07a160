//! `realm check` and `--error-format`: every format for a project with one
//! finding of each kind (snapshots), the SARIF validated against the
//! official SARIF 2.1.0 schema (`tests/sarif/`, source in `tests/sarif/SOURCE`),
//! GitHub's workflow-command escaping, the exit code of each combination of
//! findings, and `realm explain`. Real binary, real git repositories.

use realm::report::{CheckResult, ErrorFormat, Finding, Level, Run, escape_data, escape_property};
use realm::rules::RULES;
use serde_json::Value;

use crate::common::{GitRealm, Run as Out, TestProject, repo_root, run_realm_with, snapshots};

/// `shop` pinning `bank` (at its first commit), exported, with TypeScript
/// clients generated: clean.
fn clean_shop() -> (GitRealm, TestProject) {
    let bank = GitRealm::example("bank");
    let shop = TestProject::example("shop");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    shop.realm(&["export"]).expect(0);
    shop.realm(&["generate", "typescript"]).expect(0);
    (bank, shop)
}

/// A schema warning (a field declared twice: FTL accepts it).
fn add_warning(shop: &TestProject) {
    shop.write(
        "modules/extra.ftl",
        "module extra {\n  data Twice {\n    a Int\n    a Int\n  }\n}\n",
    );
}

/// A schema error (a reference to nothing).
fn add_error(shop: &TestProject) {
    shop.write(
        "modules/broken.ftl",
        "module broken {\n  data Broken {\n    a broken.Missing\n  }\n}\n",
    );
}

/// The export file edited by hand: stale.
fn stale_export(shop: &TestProject) {
    let text = shop.read("ftl-external-schema.txtpb");
    shop.write("ftl-external-schema.txtpb", &format!("{text}# edited\n"));
}

/// A generated client edited by hand: stale.
fn stale_client(shop: &TestProject) {
    let path = "realms/bank/balance.ts";
    let text = shop.read(path);
    shop.write(path, &format!("{text}// edited\n"));
}

/// bank's branch moves on: the pin is behind.
fn bank_moves(bank: &GitRealm) {
    bank.change(
        "modules/balance.ftl",
        "module balance {",
        "module balance {\n  export realm data Added {\n    a Int\n  }\n",
        "bank adds a type",
    );
}

fn check(shop: &TestProject, args: &[&str]) -> Out {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    shop.realm(&all)
}

/// One finding of each kind: a warning, a stale export, a pin behind, a
/// stale client.
fn every_kind() -> (GitRealm, TestProject) {
    let (bank, shop) = clean_shop();
    add_warning(&shop);
    stale_export(&shop);
    stale_client(&shop);
    bank_moves(&bank);
    (bank, shop)
}

fn sarif_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("tests/sarif/sarif-schema-2.1.0.json"))
        .expect("the vendored SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON schema")
}

fn assert_valid_sarif(text: &str) {
    let doc: Value = serde_json::from_str(text).expect("SARIF is JSON");
    let validator = sarif_schema();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid SARIF:\n{}\n{text}",
        errors.join("\n")
    );
}

#[test]
fn every_format_of_one_finding_of_each_kind() {
    let (_bank, shop) = every_kind();
    for (format, ext) in [
        ("text", "txt"),
        ("json", "json"),
        ("github", "github"),
        ("sarif", "sarif"),
        ("junit", "xml"),
    ] {
        let out = check(&shop, &["--error-format", format]).expect(3);
        if format == "sarif" {
            assert_valid_sarif(&out.stdout);
        }
        if format == "json" {
            let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
            assert_eq!(doc["exit_code"], 3);
        }
        let _ = ext;
        snapshots(|| insta::assert_snapshot!(format!("check_every_kind_{format}"), out.stdout));
    }
    // Nothing was written.
    assert!(
        shop.read("ftl-external-schema.txtpb")
            .ends_with("# edited\n")
    );
    assert!(shop.read("realms/bank/balance.ts").ends_with("// edited\n"));
}

#[test]
fn sarif_of_schema_errors_is_valid_and_has_positions() {
    let (_bank, shop) = clean_shop();
    add_error(&shop);
    let out = shop.realm(&["schema", "--error-format", "sarif"]).expect(1);
    assert_valid_sarif(&out.stdout);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "ftl::unresolved-reference");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "modules/broken.ftl");
    assert_eq!(location["region"]["startLine"], 3);
    // Every rule of the table is in the metadata, at its index.
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert_eq!(rules.len(), RULES.len());
    let index = result["ruleIndex"].as_u64().expect("a rule index") as usize;
    assert_eq!(rules[index]["id"], "ftl::unresolved-reference");
}

#[test]
fn exit_codes_of_each_combination_of_findings() {
    // (warning, error, drift, --deny-warnings) → exit code
    let cases: &[(bool, bool, bool, bool, i32)] = &[
        (false, false, false, false, 0),
        (true, false, false, false, 0),
        (true, false, false, true, 1),
        (false, false, true, false, 3),
        (true, false, true, false, 3),
        (true, false, true, true, 1),
        (false, true, false, false, 1),
        (false, true, true, false, 1),
    ];
    for &(warning, error, drift, deny, code) in cases {
        let (bank, shop) = clean_shop();
        if warning {
            add_warning(&shop);
        }
        if error {
            add_error(&shop);
        }
        if drift {
            bank_moves(&bank);
        }
        let mut args = vec!["--error-format", "json"];
        if deny {
            args.push("--deny-warnings");
        }
        let out = check(&shop, &args);
        assert_eq!(
            out.code, code,
            "warning {warning}, error {error}, drift {drift}, deny {deny}\n{}\n{}",
            out.stdout, out.stderr
        );
        let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
        assert_eq!(doc["exit_code"], code);
    }
}

#[test]
fn offline_skips_the_pins_check_and_says_so() {
    let (bank, shop) = clean_shop();
    bank_moves(&bank);
    let out = check(&shop, &["--offline"]).expect(0);
    assert!(
        out.stdout.contains("check pins      skipped  --offline"),
        "{}",
        out.stdout
    );
    let out = check(&shop, &["--offline", "--error-format", "github"]).expect(0);
    assert!(
        out.stdout
            .contains("::notice title=realm check pins::skipped: --offline"),
        "{}",
        out.stdout
    );
    let out = check(&shop, &["--offline", "--error-format", "junit"]).expect(0);
    assert!(
        out.stdout.contains("<skipped message=\"--offline"),
        "{}",
        out.stdout
    );
}

#[test]
fn only_and_skip_select_checks_by_name() {
    let (bank, shop) = clean_shop();
    bank_moves(&bank);
    stale_export(&shop);
    let names = |out: &Out| -> Vec<String> {
        let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
        doc["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let out = check(&shop, &["--only", "pins", "--error-format", "json"]).expect(3);
    assert_eq!(names(&out), ["pins"]);
    let out = check(&shop, &["--skip", "pins,export", "--error-format", "json"]).expect(0);
    assert_eq!(names(&out), ["schema", "callers", "generate"]);
    let out = check(&shop, &["--only", "nothing"]).expect(2);
    assert!(
        out.stderr.contains("invalid value 'nothing'"),
        "{}",
        out.stderr
    );
}

#[test]
fn github_annotations_escape_as_github_requires() {
    assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
    assert_eq!(escape_data("a::b, c: d"), "a::b, c: d");
    assert_eq!(escape_property("dir:a,b/%x\ny"), "dir%3Aa%2Cb/%25x%0Ay");
    let mut finding = Finding::new(
        Level::Error,
        "ftl::syntax",
        "50% of `::error::` lines\nsecond line",
    )
    .at("modules/a,b:c.ftl", 2, 5)
    .with_help("fix it: now");
    finding.rendered = None;
    let run = Run {
        checks: vec![CheckResult::ran("schema", vec![finding], "1 error")],
    };
    let out = run.render(ErrorFormat::Github);
    assert_eq!(
        out.lines().next(),
        Some(
            "::error file=modules/a%2Cb%3Ac.ftl,line=2,col=5,endLine=2,endColumn=5,title=realm check schema%3A ftl%3A%3Asyntax::50%25 of `::error::` lines%0Asecond line%0Ahelp: fix it: now"
        ),
        "{out}"
    );
}

#[test]
fn github_annotations_of_a_file_with_commas_and_colons_in_its_name() {
    let (_bank, shop) = clean_shop();
    shop.write(
        "modules/a,b:c.ftl",
        "module weird {\n  data X {\n    a %\n  }\n}\n",
    );
    let out = shop
        .realm(&["schema", "--error-format", "github"])
        .expect(1);
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("::error file=modules/a%2Cb%3Ac.ftl,line=3,col="),
        "{}",
        out.stdout
    );
    assert!(
        first.contains("title=realm check schema%3A ftl%3A%3Asyntax::"),
        "{first}"
    );
    assert!(!first.contains('\n') && !first.contains('\r'));
    let out = shop.realm(&["schema", "--error-format", "sarif"]).expect(1);
    assert_valid_sarif(&out.stdout);
    assert!(
        out.stdout.contains("\"uri\": \"modules/a%2Cb%3Ac.ftl\""),
        "{}",
        out.stdout
    );
}

#[test]
fn junit_escapes_xml() {
    let finding =
        Finding::new(Level::Drift, "realm::export-stale", "<a & \"b\">\u{1}").in_file("x.txtpb");
    let run = Run {
        checks: vec![CheckResult::ran("export", vec![finding], "stale")],
    };
    let out = run.render(ErrorFormat::Junit);
    assert!(
        out.contains("message=\"&lt;a &amp; &quot;b&quot;&gt;\u{FFFD}\""),
        "{out}"
    );
    assert!(out.contains("failures=\"1\""), "{out}");
}

#[test]
fn the_check_commands_take_error_format() {
    let (bank, shop) = clean_shop();
    stale_export(&shop);
    stale_client(&shop);
    bank_moves(&bank);
    let code = |out: &Out| -> Vec<String> {
        let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
        doc["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .flat_map(|c| c["findings"].as_array().cloned().unwrap_or_default())
            .map(|f| f["code"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let out = shop
        .realm(&["export", "--check", "--error-format", "json"])
        .expect(3);
    assert_eq!(code(&out), ["realm::export-stale"]);
    let out = shop
        .realm(&["update", "--check", "--error-format", "json"])
        .expect(3);
    assert_eq!(code(&out), ["realm::pin-behind"]);
    let out = shop
        .realm(&[
            "generate",
            "typescript",
            "--check",
            "--error-format",
            "json",
        ])
        .expect(3);
    assert_eq!(code(&out), ["realm::client-stale"]);
    let out = shop
        .realm(&["check-callers", "--error-format", "json"])
        .expect(0);
    assert!(code(&out).is_empty());
    let out = shop.realm(&["schema", "--error-format", "junit"]).expect(0);
    assert!(
        out.stdout.contains("<testcase name=\"schema\""),
        "{}",
        out.stdout
    );
    // Text stays as it was.
    let out = shop.realm(&["export", "--check"]).expect(3);
    assert!(out.stderr.contains("is stale"), "{}", out.stderr);
}

#[test]
fn explain_prints_a_rule_and_refuses_an_unknown_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out =
        crate::common::run_realm(dir.path(), &["explain", "realm::unexported-type"]).expect(0);
    snapshots(|| insta::assert_snapshot!("check_explain_unexported_type", out.stdout));
    let out = crate::common::run_realm(dir.path(), &["explain", "realm::unexported-typ"]).expect(1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("no rule has the code `realm::unexported-typ`")
            && out
                .stderr
                .contains("did you mean `realm::unexported-type`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_rule_has_an_explanation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = crate::common::run_realm(dir.path(), &["explain", "--list"]).expect(0);
    for rule in RULES {
        for (part, text) in [
            ("summary", rule.summary),
            ("what", rule.what),
            ("why", rule.why),
            ("fix", rule.fix),
        ] {
            assert!(text.len() > 10, "{}: no {part}", rule.code);
        }
        assert!(list.stdout.contains(rule.code), "{} not listed", rule.code);
        let out = crate::common::run_realm(dir.path(), &["explain", rule.code]).expect(0);
        assert!(out.stdout.contains(rule.why), "{}", rule.code);
        assert!(out.stdout.contains(rule.fix), "{}", rule.code);
    }
}

/// `bank` (a git repository) with `shop` pinned as its caller; `shop`
/// pins `bank` and calls `balance.withdraw`.
fn bank_called_by_shop() -> (GitRealm, GitRealm, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("tempdir");
    let env = [("REALM_CACHE_DIR", cache.path())];
    let bank = GitRealm::example("bank");
    let shop = GitRealm::example("shop");
    run_realm_with(shop.path(), &["add", "--git-repo", &bank.url()], &env).expect(0);
    run_realm_with(shop.path(), &["export"], &env).expect(0);
    shop.commit("shop pins bank");
    run_realm_with(
        bank.path(),
        &["add", "--caller", "--git-repo", &shop.url()],
        &env,
    )
    .expect(0);
    bank.commit("bank pins its caller");
    (bank, shop, cache)
}

#[test]
fn a_breaking_change_a_caller_uses_is_a_finding() {
    let (bank, _shop, cache) = bank_called_by_shop();
    let env = [("REALM_CACHE_DIR", cache.path())];
    run_realm_with(bank.path(), &["check"], &env).expect(0);
    let text = bank.read("modules/balance.ftl");
    bank.write(
        "modules/balance.ftl",
        &text.replacen("verb withdraw(", "verb take(", 1),
    );
    let out = run_realm_with(bank.path(), &["check", "--error-format", "json"], &env).expect(3);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let callers = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "callers")
        .expect("the callers check")
        .clone();
    assert_eq!(callers["status"], "failed", "{}", out.stdout);
    assert_eq!(callers["findings"][0]["code"], "realm::breaking-change");
    assert!(
        callers["findings"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("used by shop"),
        "{}",
        out.stdout
    );
    let out = run_realm_with(
        bank.path(),
        &["check", "--only", "callers", "--error-format", "github"],
        &env,
    )
    .expect(3);
    // The base commit holds the temporary path of the caller's repository.
    let shown = match out.stdout.find("HEAD (") {
        Some(at) => format!(
            "{}HEAD (<base>{}",
            &out.stdout[..at],
            &out.stdout[at + 13..]
        ),
        None => out.stdout.clone(),
    };
    snapshots(|| insta::assert_snapshot!("check_breaking_change_github", shown));
    let out = run_realm_with(bank.path(), &["check", "--error-format", "sarif"], &env).expect(3);
    assert_valid_sarif(&out.stdout);
    let out = run_realm_with(
        bank.path(),
        &["check", "--only", "callers", "--error-format", "junit"],
        &env,
    )
    .expect(3);
    assert!(
        out.stdout.contains("type=\"realm::breaking-change\""),
        "{}",
        out.stdout
    );
    // check-callers reports the same.
    let out = run_realm_with(
        bank.path(),
        &["check-callers", "--error-format", "json"],
        &env,
    )
    .expect(3);
    assert!(
        out.stdout.contains("realm::breaking-change"),
        "{}",
        out.stdout
    );
}

/// Every diagnostic the validator gives on FTL's error corpus (and on the
/// realm-own rules of `ftl_rules`) carries a code of the table.
#[test]
fn every_validation_diagnostic_has_a_code_of_the_table() {
    let dir = repo_root().join("tests/ftl-corpus/errors");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
        .collect();
    paths.sort();
    let mut seen = std::collections::BTreeSet::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("a corpus file");
        let Ok(schema) = realm::schema::parse_schema("t.ftl", &text) else {
            continue;
        };
        for d in realm::schema::validate::validate_with_warnings(&schema) {
            let code = d
                .code()
                .unwrap_or_else(|| panic!("{}: no code: {d}", path.display()));
            assert!(
                realm::rules::rule(code).is_some(),
                "{}: {code} is not in the table",
                path.display()
            );
            seen.insert(code);
        }
    }
    // The corpus reaches FTL's rules of several kinds.
    for code in [
        "ftl::unresolved-reference",
        "ftl::name",
        "ftl::metadata-placement",
        "ftl::ingress",
        "ftl::verb-events",
    ] {
        assert!(seen.contains(code), "{code} not reached: {seen:?}");
    }
}

#[test]
fn no_project_is_still_a_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crate::common::run_realm(dir.path(), &["check", "--error-format", "sarif"]).expect(1);
    assert_valid_sarif(&out.stdout);
    assert!(
        out.stdout.contains("\"ruleId\": \"realm::check-failed\""),
        "{}",
        out.stdout
    );
    // Every result has a location: GitHub code scanning refuses one without.
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    for result in doc["runs"][0]["results"].as_array().expect("results") {
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "ftl-project.toml"
        );
    }
    let out = crate::common::run_realm(dir.path(), &["check"]).expect(1);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
}
