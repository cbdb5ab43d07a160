//! FTL projects written in Go (`tests/go/<name>`): the schema `realm`
//! extracts from the Go source (as FTL's Go extractor would) and the public
//! API `realm export` writes, snapshotted from the real binary; a realm of
//! two Go modules calling each other; `realm add` of a git repository
//! holding a Go FTL project; `realm export --watch`.

use crate::common::{GitRealm, TestProject, snapshots};

/// `realm schema` and `realm export` of `tests/go/<name>`, snapshotted;
/// `realm export --check` then passes.
fn extract(name: &str) -> (String, String) {
    let project = TestProject::go(name);
    let schema = project.realm(&["schema"]).expect(0);
    let export = project.realm(&["export"]).expect(0);
    assert!(
        export
            .stderr
            .starts_with(&format!("Exported realm `{name}` to ")),
        "{}",
        export.stderr
    );
    let path = std::fs::read_to_string(project.path().join("realm.toml"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("export = \"")
                .map(|p| p.trim_end_matches('"').to_string())
        })
        .unwrap_or_else(|| "ftl-external-schema.txtpb".to_string());
    let exported = project.read(&path);
    project.realm(&["export", "--check"]).expect(0);
    snapshots(|| {
        insta::assert_snapshot!(format!("go_{name}_schema"), schema.stdout);
        insta::assert_snapshot!(format!("go_{name}_export"), exported);
    });
    (schema.stdout, exported)
}

#[test]
fn shop_verbs_data_and_every_go_type() {
    let (schema, _) = extract("shop");
    // FTL's names: initialisms lose their capitals, json tags are aliases.
    assert!(schema.contains("customerId Int +alias json \"customer\""));
    assert!(schema.contains("httpSource String +alias json \"source\""));
    assert!(schema.contains("export realm verb place(shop.PlaceRequest) shop.PlaceResponse"));
}

#[test]
fn kinds_value_enums_type_enums_and_type_aliases() {
    let (schema, _) = extract("kinds");
    assert!(schema.contains("+typemap go \"github.com/shopspring/decimal.Decimal\""));
    assert!(
        !schema.contains("Ghost"),
        "a pointer receiver made a variant"
    );
}

#[test]
fn events_topics_subscriptions_cron_and_fixtures() {
    let (schema, exported) = extract("events");
    assert!(schema.contains("+subscribe events.signups from=beginning"));
    // What `export realm` verbs do not reach stays out of the public API:
    // subscribers, cron jobs, fixtures.
    for internal in ["subscriber {", "cron_job {", "fixture {"] {
        assert!(!exported.contains(internal), "{internal} was exported");
    }
    // What they reach is published, as FTL publishes it: the topics
    // `Register` publishes to.
    assert!(exported.contains("publisher {"), "{exported}");
    assert!(exported.contains("name: \"audits\""), "{exported}");
}

#[test]
fn ledger_resources_as_verb_parameters() {
    let (schema, exported) = extract("ledger");
    assert!(schema.contains("+calls ledger.balance, ledger.post"));
    assert!(schema.contains("database postgres books"));
    // The database an exported verb uses is published, as FTL publishes it.
    assert!(exported.contains("name: \"books\""), "{exported}");
}

#[test]
fn market_two_go_modules_call_each_other_through_a_verb_client() {
    let (schema, exported) = extract("market");
    assert!(schema.contains("+calls payments.charge, payments.refund"));
    // The module written as schema text sits beside the Go ones.
    assert!(schema.contains("module ledger {"));
    assert!(exported.contains("name: \"refund\""));
}

#[test]
fn reach_visibility_spreads_from_exported_verbs() {
    let (schema, _) = extract("reach");
    assert!(schema.contains("export realm data Item {"));
    assert!(schema.contains("\n    data Secret {"));
    assert!(schema.contains("export data Flagged {"));
}

#[test]
fn a_call_of_a_missing_verb_points_at_the_go_parameter() {
    let project = TestProject::go("market");
    let path = "modules/orders/orders.go";
    let text = project.read(path);
    project.write(
        path,
        &text.replace("payments.RefundClient", "payments.RefundsClient"),
    );
    let run = project.realm(&["export"]).expect(1);
    assert!(!project.exists("market.txtpb"), "export wrote a file");
    snapshots(|| insta::assert_snapshot!("go_market_missing_verb", run.stderr));
}

#[test]
fn add_pins_a_git_repository_holding_a_go_ftl_project() {
    let market = GitRealm::go("market");
    let consumer = TestProject::new("shop");
    consumer.write(
        "modules/shop.ftl",
        "module shop {\n  export verb buy(Unit) Unit\n    +calls orders.pay@market\n}\n",
    );
    let run = consumer
        .realm(&["add", "--git-repo", &market.url()])
        .expect(0);
    assert!(run.stderr.contains("market"), "{}", run.stderr);
    let schema = consumer.realm(&["schema", "--realm", "market"]).expect(0);
    snapshots(|| insta::assert_snapshot!("go_market_pinned", schema.stdout));
    assert!(schema.stdout.starts_with("external realm market {"));

    // The exporting realm changes its Go code; `update --check` sees it.
    let text = market.read("modules/payments/payments.go");
    market.write(
        "modules/payments/payments.go",
        &text.replace(
            "\tReceiptID string\n",
            "\tReceiptID string\n\tReason    string\n",
        ),
    );
    market.export();
    market.commit("refunds have a reason");
    let check = consumer.realm(&["update", "--check"]).expect(3);
    assert!(check.stdout.contains("reason"), "{}", check.stdout);
}

/// Lines of a running `realm export --watch`, from both streams.
struct Watching {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watching {
    fn start(project: &TestProject) -> Watching {
        use std::io::BufRead;
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("realm"))
            .args(["export", "--watch"])
            .current_dir(project.path())
            .env("REALM_CACHE_DIR", project.cache_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start realm export --watch");
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Watching {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (generously: the machine may be loaded) for a line containing
    /// `text`; returns the lines read up to it.
    fn wait_for(&mut self, text: &str) -> Vec<String> {
        self.wait_for_all(&[text])
    }

    /// Waits for a line containing each of `texts`, in any order: stdout
    /// and stderr are read by two threads, so lines of one may overtake
    /// lines of the other. Returns the lines read until all were seen.
    fn wait_for_all(&mut self, texts: &[&str]) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let mut missing = texts.to_vec();
        let mut got = Vec::new();
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    missing.retain(|text| !line.contains(text));
                    got.push(line);
                }
                Err(_) => panic!("no line with {missing:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
        got
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn export_watch_reexports_when_go_code_changes() {
    let project = TestProject::go("shop");
    let mut watch = Watching::start(&project);
    watch.wait_for("Watching for changes");
    let before = project.read("ftl-external-schema.txtpb");

    // A new required field in a request: breaking, printed as such.
    let path = "modules/shop/shop.go";
    let text = project.read(path);
    project.write(
        path,
        &text.replace(
            "type PlaceRequest struct {\n",
            "type PlaceRequest struct {\n\tCoupon string\n",
        ),
    );
    let lines = watch.wait_for_all(&["coupon", "modules/shop/shop.go changed; re-exported"]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("coupon") && l.contains("breaking")),
        "{lines:?}"
    );
    let after = project.read("ftl-external-schema.txtpb");
    assert_ne!(before, after);
    assert!(after.contains("name: \"coupon\""));

    // Broken code: reported, the file is left alone, the watch goes on.
    project.write(
        path,
        &text.replace(
            "type PlaceRequest struct {\n",
            "type PlaceRequest struct {\n\tCoupon int64\n",
        ),
    );
    let lines = watch.wait_for("unsupported type `int64`");
    assert!(
        lines.iter().any(|l| l.contains("not exported")),
        "{lines:?}"
    );
    assert_eq!(project.read("ftl-external-schema.txtpb"), after);

    // Fixed again: back to the old API, the field's removal printed as
    // the breaking change it is.
    project.write(path, &text);
    let lines = watch.wait_for("coupon");
    let change = lines
        .last()
        .map(|l| l.split_whitespace().collect::<Vec<_>>());
    assert_eq!(
        change.as_deref(),
        Some(
            &[
                "breaking",
                "shop.PlaceRequest:",
                "field",
                "`coupon`",
                "removed"
            ][..]
        ),
        "{lines:?}"
    );
    assert_eq!(project.read("ftl-external-schema.txtpb"), before);
}

#[test]
fn visibility_spreads_into_other_go_modules_of_the_realm() {
    let project = TestProject::new("spread");
    for module in ["a", "b"] {
        project.write(
            &format!("modules/{module}/ftl.toml"),
            &format!("module = \"{module}\"\nlanguage = \"go\"\n"),
        );
        project.write(
            &format!("modules/{module}/go.mod"),
            &format!("module ftl/{module}\n\ngo 1.24\n"),
        );
    }
    project.write(
        "modules/b/b.go",
        "package b\n\n\
         // Thing is exported to the module's users only.\n//\n//ftl:data export\n\
         type Thing struct {\n\tName string\n\tPart Part\n}\n\n\
         type Part struct {\n\tSize int\n}\n\n\
         //ftl:data export\ntype Other struct {\n\tX int\n}\n\n\
         //ftl:data\ntype Hidden struct {\n\tY int\n}\n",
    );
    project.write(
        "modules/a/a.go",
        "package a\n\nimport (\n\t\"context\"\n\n\t\"ftl/b\"\n)\n\n\
         type Req struct {\n\tB b.Thing\n}\n\n\
         //ftl:verb export:realm\nfunc Use(ctx context.Context, req Req) error {\n\treturn nil\n}\n",
    );
    // Schema text keeps its own rule, but what it uses of a Go module is
    // raised too.
    project.write(
        "modules/c.ftl",
        "module c {\n  export realm verb take(b.Other) Unit\n}\n",
    );
    let schema = project.realm(&["schema"]).expect(0);
    for line in [
        "export realm data Thing {",
        "export realm data Part {",
        "export realm data Other {",
        "export realm data Req {",
    ] {
        assert!(schema.stdout.contains(line), "{line}:\n{}", schema.stdout);
    }
    assert!(
        !schema.stdout.contains("export realm data Hidden"),
        "{}",
        schema.stdout
    );
    project.realm(&["export"]).expect(0);
    let exported = project.read("ftl-external-schema.txtpb");
    for name in ["Thing", "Part", "Other", "Req"] {
        assert!(
            exported.contains(&format!("name: \"{name}\"")),
            "{name}:\n{exported}"
        );
    }

    // A type the other module does not export stays private to it, and
    // the error says how a Go module exports it.
    project.write(
        "modules/a/a.go",
        "package a\n\nimport (\n\t\"context\"\n\n\t\"ftl/b\"\n)\n\n\
         //ftl:verb export:realm\nfunc Use(ctx context.Context, req b.Hidden) error {\n\treturn nil\n}\n",
    );
    let run = project.realm(&["export"]).expect(1);
    assert!(
        run.stderr
            .contains("data `b.Hidden` is private to module `b`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "export it from its Go module: put `//ftl:export` above it at modules/b/b.go:"
        ),
        "{}",
        run.stderr
    );
}
