//! The `realm` binary on example projects copied into temporary directories:
//! `schema`, `export`, `export --check`, `-C`, exit codes.

use crate::common::{TestProject, repo_root, run_realm, snapshots};

#[test]
fn schema_prints_the_bank_realm_as_text() {
    let bank = TestProject::example("bank");
    let run = bank.realm(&["schema"]).expect(0);
    snapshots(|| insta::assert_snapshot!("cli_schema_bank_text", run.stdout));
}

#[test]
fn schema_prints_json_and_txtpb_with_positions() {
    let bank = TestProject::example("bank");
    let json = bank.realm(&["schema", "--format", "json"]).expect(0);
    snapshots(|| insta::assert_snapshot!("cli_schema_bank_json", json.stdout));
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    assert_eq!(value["realms"][0]["name"], "bank");

    let txtpb = bank.realm(&["schema", "--format", "txtpb"]).expect(0);
    assert!(
        txtpb
            .stdout
            .starts_with("# proto-file: xyz/block/ftl/schema/v1/schema.proto\n")
    );
    assert!(txtpb.stdout.contains("filename: \"modules/balance.ftl\""));
    // The same message in both forms.
    let from_json = realm::schema::txtpb::from_json("json", &json.stdout).expect("json");
    let from_text = realm::schema::txtpb::from_text("txtpb", &txtpb.stdout).expect("txtpb");
    assert_eq!(from_json, from_text);
}

#[test]
fn schema_of_one_realm_and_an_unknown_realm() {
    let bank = TestProject::example("bank");
    let run = bank.realm(&["schema", "--realm", "bank"]).expect(0);
    assert!(run.stdout.starts_with("realm bank {\n"));
    let run = bank.realm(&["schema", "--realm", "nope"]).expect(1);
    assert_eq!(
        run.stderr,
        "error: no realm `nope` in this project; the realms are: bank\n"
    );
}

#[test]
fn export_writes_the_public_api_as_proto_text() {
    let bank = TestProject::example("bank");
    std::fs::remove_file(bank.path().join("ftl-external-schema.txtpb")).expect("remove export");
    std::fs::remove_file(bank.path().join("ftl-external-schema.json")).expect("remove export");
    let run = bank.realm(&["export"]).expect(0);
    assert_eq!(
        run.stderr,
        "Exported realm `bank` to ftl-external-schema.txtpb, ftl-external-schema.json (2 modules, 2 verbs, 6 types)\n"
    );
    let exported = bank.read("ftl-external-schema.txtpb");
    snapshots(|| insta::assert_snapshot!("cli_export_bank_txtpb", exported));
    // Nothing unreachable from `export realm`, no config or secrets, no
    // positions.
    for hidden in [
        "name: \"settle\"",
        "name: \"ledgerToken\"",
        "name: \"currency\"\n      }",
        "config",
        "secrets",
        "cron",
        "pos {",
        "filename",
    ] {
        assert!(!exported.contains(hidden), "the export leaks {hidden}");
    }
    // FTL's closure: what an `export realm` verb calls is published, with
    // its own visibility (not callable from other realms).
    assert!(
        exported.contains("visibility: VISIBILITY_SCOPE_MODULE\n        name: \"record\""),
        "{exported}"
    );

    // A second run changes nothing.
    let run = bank.realm(&["export"]).expect(0);
    assert_eq!(
        run.stderr,
        "ftl-external-schema.txtpb, ftl-external-schema.json are up to date (2 modules, 2 verbs, 6 types)\n"
    );
    assert_eq!(bank.read("ftl-external-schema.txtpb"), exported);
}

#[test]
fn the_committed_bank_export_is_up_to_date() {
    // (The shop's is checked in tests/pins.rs: it needs bank pinned.)
    let dir = repo_root().join("examples").join("bank");
    let run = run_realm(&dir, &["export", "--check"]);
    assert_eq!(run.code, 0, "examples/bank: {}{}", run.stdout, run.stderr);
}

#[test]
fn export_check_fails_with_a_diff_when_stale_and_writes_nothing() {
    let bank = TestProject::example("bank");
    bank.realm(&["export", "--check"]).expect(0);
    let before = bank.read("ftl-external-schema.txtpb");

    // A new exported field changes the public API.
    let balance = bank.read("modules/balance.ftl").replace(
        "  export realm data WithdrawResponse {\n    balance Int\n",
        "  export realm data WithdrawResponse {\n    balance Int\n    // When the withdrawal was booked.\n    bookedAt Time\n",
    );
    bank.write("modules/balance.ftl", &balance);
    let run = bank.realm(&["export", "--check"]).expect(3);
    snapshots(|| insta::assert_snapshot!("cli_export_check_stale_diff", run.stdout));
    assert_eq!(
        run.stderr,
        "error: ftl-external-schema.txtpb is stale: the public API of realm `bank` has changed\n\
         help: run `realm export` and commit ftl-external-schema.txtpb\n\
         error: ftl-external-schema.json is stale: the public API of realm `bank` has changed\n\
         help: run `realm export` and commit ftl-external-schema.json\n"
    );
    assert_eq!(
        bank.read("ftl-external-schema.txtpb"),
        before,
        "--check wrote the file"
    );

    // A private change is not a change of the public API.
    let bank2 = TestProject::example("bank");
    let balance = bank2.read("modules/balance.ftl").replace(
        "verb settle(Unit) Unit",
        "verb settle(Unit) Unit\n    +fixture manual",
    );
    bank2.write("modules/balance.ftl", &balance);
    bank2.realm(&["export", "--check"]).expect(0);
}

#[test]
fn export_check_fails_when_the_file_is_missing() {
    let bank = TestProject::example("bank");
    std::fs::remove_file(bank.path().join("ftl-external-schema.txtpb")).expect("remove export");
    let run = bank.realm(&["export", "--check"]).expect(3);
    assert_eq!(
        run.stderr,
        "error: ftl-external-schema.txtpb does not exist\n\
         help: run `realm export` and commit ftl-external-schema.txtpb\n\
         ftl-external-schema.json is up to date\n"
    );
    assert!(!bank.exists("ftl-external-schema.txtpb"));
}

#[test]
fn a_failing_export_leaves_the_existing_file_as_it_was() {
    let bank = TestProject::example("bank");
    let before = bank.read("ftl-external-schema.txtpb");
    bank.write(
        "modules/broken.ftl",
        "module broken {\n  data X {\n    y broken.Nope\n  }\n}\n",
    );
    let run = bank.realm(&["export"]).expect(1);
    assert!(
        run.stderr
            .contains("module `broken` has no declaration `Nope`"),
        "{}",
        run.stderr
    );
    assert_eq!(bank.read("ftl-external-schema.txtpb"), before);
    let leftovers: Vec<_> = std::fs::read_dir(bank.path())
        .expect("list project")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn export_to_another_path_and_the_export_key() {
    let bank = TestProject::example("bank");
    bank.realm(&["export", "--output", "out/api.txtpb"])
        .expect(1);
    std::fs::create_dir(bank.path().join("out")).expect("mkdir");
    let run = bank.realm(&["export", "-o", "out/api.txtpb"]).expect(0);
    assert!(run.stderr.contains("to out/api.txtpb"), "{}", run.stderr);
    assert_eq!(
        bank.read("out/api.txtpb"),
        bank.read("ftl-external-schema.txtpb")
    );

    let project = bank.read("realm.toml").replace(
        "export = [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]",
        "export = \"api/public.txtpb\"",
    );
    bank.write("realm.toml", &project);
    std::fs::create_dir(bank.path().join("api")).expect("mkdir");
    bank.realm(&["export"]).expect(0);
    assert_eq!(
        bank.read("api/public.txtpb"),
        bank.read("ftl-external-schema.txtpb")
    );
}

#[test]
fn export_is_deterministic() {
    let a = TestProject::example("bank");
    let b = TestProject::example("bank");
    // The same modules in files with other names and in another order.
    let balance = b.read("modules/balance.ftl");
    let audit = b.read("modules/audit.ftl");
    std::fs::remove_file(b.path().join("modules/balance.ftl")).expect("rm");
    std::fs::remove_file(b.path().join("modules/audit.ftl")).expect("rm");
    b.write("modules/z/first.ftl", &balance);
    b.write("modules/a/second.ftl", &audit);
    a.realm(&["export", "-o", "x.txtpb"]).expect(0);
    b.realm(&["export", "-o", "x.txtpb"]).expect(0);
    assert_eq!(a.read("x.txtpb"), b.read("x.txtpb"));
}

#[test]
fn dash_c_and_discovery_from_a_subdirectory() {
    let bank = TestProject::example("bank");
    let outside = tempfile::tempdir().expect("tempdir");
    let dir = bank.path().display().to_string();
    let run = run_realm(outside.path(), &["-C", &dir, "schema", "--realm", "bank"]).expect(0);
    assert!(run.stdout.starts_with("realm bank {"));
    let run = run_realm(&bank.path().join("modules"), &["schema"]).expect(0);
    assert!(run.stdout.starts_with("realm bank {"));
    let run = run_realm(outside.path(), &["-C", "/nonexistent/dir", "schema"]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: cannot change to directory /nonexistent/dir")
    );
}

#[test]
fn no_project_is_an_error_with_help() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_realm(dir.path(), &["schema"]).expect(1);
    let stderr = run.stderr.replace(
        &dir.path()
            .canonicalize()
            .expect("canonical")
            .display()
            .to_string(),
        "[DIR]",
    );
    snapshots(|| insta::assert_snapshot!("cli_no_project", stderr));
}

#[test]
fn usage_errors_exit_2() {
    let bank = TestProject::example("bank");
    let run = bank.realm(&["export", "--frobnicate"]).expect(2);
    assert!(run.stderr.contains("unexpected argument '--frobnicate'"));
    bank.realm(&["schema", "--format", "yaml"]).expect(2);
    bank.realm(&[]).expect(2);
}

#[test]
fn help_shows_examples() {
    let bank = TestProject::example("bank");
    for command in ["schema", "export"] {
        let run = bank.realm(&[command, "--help"]).expect(0);
        assert!(
            run.stdout.contains("Examples:"),
            "{command} --help has no examples"
        );
    }
}

#[test]
fn an_error_ends_with_one_line_break() {
    let project = TestProject::new("shop");
    // A schema error (a rendered report), a plain error with a help line,
    // an error with a cause, a project file that does not parse.
    project.write(
        "modules/shop.ftl",
        "module shop {\n  verb buy(shop.Nope) Unit\n}\n",
    );
    let schema = project.realm(&["schema"]).expect(1);
    let realm = project.realm(&["schema", "--realm", "nope"]).expect(1);
    let generate = project.realm(&["generate", "rust"]).expect(1);
    project.write("modules/shop.ftl", "module shop {\n}\n");
    project.write(
        "ftl-project.toml",
        "name = \"shop\nmodule-dirs = [\"modules\"]\n",
    );
    let toml = project.realm(&["schema"]).expect(1);
    for run in [schema, realm, generate, toml] {
        assert!(
            run.stderr.ends_with('\n') && !run.stderr.ends_with("\n\n"),
            "{:?}",
            run.stderr
        );
        assert!(run.stderr.starts_with("error: "), "{:?}", run.stderr);
    }
}

#[test]
fn serve_on_a_busy_port_says_what_to_do() {
    let bank = TestProject::example("bank");
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("address").port();
    let run = run_realm(
        bank.path(),
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
    )
    .expect(1);
    let stderr = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("error:"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&port.to_string(), "[PORT]");
    snapshots(|| insta::assert_snapshot!("cli_serve_busy_port", stderr));
    drop(held);
}

#[test]
fn an_endpoint_without_a_scheme_says_what_to_write() {
    let bank = TestProject::example("bank");
    let run = run_realm(bank.path(), &["status", "--endpoint", "localhost:9"]).expect(1);
    snapshots(|| insta::assert_snapshot!("cli_endpoint_without_scheme", run.stderr));
}

/// Every command runs without transparent huge pages, from before its
/// first allocation (each 2 MiB page mimalloc touched was zeroed and
/// resident whole: a one-verb export took 22 MiB instead of 18); the
/// long-running servers ask for them again. Read from the kernel's own
/// account of each process (`THP_enabled` in `/proc/<pid>/status`).
#[cfg(target_os = "linux")]
#[test]
fn commands_run_on_small_pages_and_servers_on_huge_ones() {
    use std::io::BufRead;
    let thp_enabled = |pid: u32| -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(|v| v.trim().to_string())
    };
    // Without huge pages in the kernel (or with them disabled for this
    // test by whoever started it) there is nothing to tell apart; CI's
    // machine has them.
    if thp_enabled(std::process::id()).as_deref() != Some("1") {
        let why = "this process may not use transparent huge pages (THP_enabled in /proc/self/status is not 1; Linux 5.0 or later reports it)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let project = TestProject::new("shop");
    project.write(
        "modules/pay.ftl",
        "module pay {\n  export realm verb ping(Unit) Unit\n}\n",
    );
    // `export --watch` stays up after its first export, and says so on
    // stderr.
    let mut watch = std::process::Command::new(assert_cmd::cargo::cargo_bin("realm"))
        .args(["export", "--watch"])
        .current_dir(project.path())
        .env("REALM_CACHE_DIR", project.cache_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start realm export --watch");
    let mut stderr = std::io::BufReader::new(watch.stderr.take().expect("stderr"));
    let lines: Vec<String> = (&mut stderr)
        .lines()
        .map_while(Result::ok)
        .take_while(|line| !line.starts_with("Watching for changes"))
        .collect();
    let exporting = thp_enabled(watch.id());
    // Not a single huge page, not even one touched before `main`.
    let huge = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", watch.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("AnonHugePages:"))
                .map(|v| v.trim().to_string())
        });
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("Exported realm `shop`")),
        "{lines:?}"
    );
    assert_eq!(exporting.as_deref(), Some("0"), "realm export --watch");
    assert_eq!(huge.as_deref(), Some("0 kB"), "realm export --watch");
    drop(stderr);
    let serve = crate::common::serve::Serve::start(project.path(), project.cache_dir(), &[]);
    assert_eq!(
        thp_enabled(serve.child.id()).as_deref(),
        Some("1"),
        "realm serve"
    );
}
