//! What a newcomer reads first: `--help` of every command (snapshots),
//! options shown only where they apply, the same help for `-h` and
//! `--help`, and usage errors (exit 2) that say what is wrong.

use std::path::Path;

use crate::common::{TestProject, snapshots};

/// `realm <args>` in `dir` with a fixed terminal width and the variables
/// realm reads set as given (others removed).
fn realm(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> crate::common::Run {
    let mut cmd = assert_cmd::Command::cargo_bin("realm").expect("the realm binary is built");
    cmd.current_dir(dir)
        .args(args)
        .env("COLUMNS", "100")
        .env_remove("REALM_CACHE_DIR")
        .env_remove("REALM_ENDPOINT");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run realm");
    crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The subcommands a help text lists under `Commands:` (`help` left out).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command path: `[]`, `["add"]`, ..., `["import", "grpc"]`, ...
fn every_command(dir: &Path) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = realm(dir, &args, &[]).expect(0).stdout;
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        all.push(path);
    }
    all.sort();
    all
}

#[test]
fn help_of_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let commands = every_command(dir.path());
    let names: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
    assert_eq!(
        names,
        [
            "",
            "add",
            "call",
            "check",
            "check-callers",
            "completions",
            "deliveries",
            "deliveries drop",
            "deliveries list",
            "deliveries retry",
            "deliveries show",
            "explain",
            "export",
            "fake",
            "generate",
            "import",
            "import descriptor-set",
            "import grpc",
            "import proto",
            "init",
            "keys",
            "keys list",
            "keys new",
            "keys retire",
            "list",
            "man",
            "migrate",
            "remove",
            "schema",
            "serve",
            "status",
            "update",
        ]
    );
    // Options that concern the git cache only where a command reads it.
    let reads_cache = [
        "add",
        "update",
        "list",
        "schema",
        "export",
        "generate",
        "serve",
        "migrate",
        "check-callers",
        "check",
        "fake",
    ];
    let may_fetch = [
        "add",
        "update",
        "schema",
        "export",
        "generate",
        "serve",
        "migrate",
        "check-callers",
        "check",
        "fake",
    ];
    for command in &commands {
        let name = command.join(" ");
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        args.push("--help");
        // With both variables set: help shows neither value.
        let env = [
            ("REALM_CACHE_DIR", "/somewhere/cache"),
            ("REALM_ENDPOINT", "http://somewhere:1"),
        ];
        let long = realm(dir.path(), &args, &env).expect(0).stdout;
        args.pop();
        args.push("-h");
        let short = realm(dir.path(), &args, &env).expect(0).stdout;
        assert_eq!(long, short, "`realm {name} --help` and `-h` differ");
        assert!(
            !long.contains("=]"),
            "an empty env value in `realm {name} --help`"
        );
        assert!(
            !long.contains("somewhere"),
            "an env value in `realm {name} --help`"
        );
        assert_eq!(
            long.contains("--cache-dir"),
            reads_cache.contains(&name.as_str()),
            "--cache-dir in `realm {name} --help`"
        );
        assert_eq!(
            long.contains("--offline"),
            may_fetch.contains(&name.as_str()),
            "--offline in `realm {name} --help`"
        );
        assert_eq!(
            long.contains("--deny-warnings"),
            may_fetch.contains(&name.as_str()),
            "--deny-warnings in `realm {name} --help`"
        );
        if !name.is_empty() && name != "import" {
            assert!(
                long.contains("Examples:"),
                "`realm {name} --help` has no examples"
            );
        }
        let snapshot = if name.is_empty() {
            "help_realm".to_string()
        } else {
            format!("help_{}", name.replace([' ', '-'], "_"))
        };
        snapshots(|| insta::assert_snapshot!(snapshot, long));
    }
}

/// A usage error: exit 2 and what clap (or a value parser) says.
fn usage_error(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let run = realm(dir, args, env).expect(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    run.stderr
}

#[test]
fn usage_errors_exit_2_and_say_what_to_write() {
    let shop = TestProject::example("shop");
    let dir = shop.path();
    let cases: &[(&str, &[&str])] = &[
        ("usage_call_bad_ref", &["call", "not a ref"]),
        ("usage_call_no_module", &["call", "withdraw"]),
        (
            "usage_call_type_arguments",
            &["call", "balance.withdraw<Int>"],
        ),
        (
            "usage_call_bad_json",
            &["call", "balance.withdraw@bank", "{amount: 5}"],
        ),
        (
            "usage_add_bad_name",
            &["add", "--git-repo", "../bank", "--name", "../x"],
        ),
        ("usage_init_bad_name", &["init", "--name", "my shop"]),
        ("usage_remove_bad_name", &["remove", "bank-eu"]),
        (
            "usage_import_bad_name",
            &["import", "proto", "x.proto", "--name", "a.b"],
        ),
        ("usage_completions_bad_shell", &["completions", "tcsh"]),
        (
            "usage_offline_on_call",
            &["call", "balance.withdraw@bank", "--offline"],
        ),
    ];
    for (snapshot, args) in cases {
        let stderr = usage_error(dir, args, &[]);
        snapshots(|| insta::assert_snapshot!(*snapshot, stderr));
    }
    // Nothing was written by any of them.
    assert!(!dir.join("x.proto").exists());
    assert_eq!(
        shop.read("ftl-project.toml"),
        std::fs::read_to_string(crate::common::repo_root().join("examples/shop/ftl-project.toml"))
            .expect("read")
    );
}

#[test]
fn the_usage_line_never_shows_an_option_set_by_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("REALM_CACHE_DIR", "/tmp/realm-cache"),
        ("REALM_ENDPOINT", "http://127.0.0.1:1"),
    ];
    let add = usage_error(dir.path(), &["add"], &env);
    assert!(add.contains("Usage: realm add --git-repo <URL>\n"), "{add}");
    let call = usage_error(dir.path(), &["call"], &env);
    assert!(call.contains("Usage: realm call <REF> [JSON]\n"), "{call}");
    snapshots(|| insta::assert_snapshot!("usage_add_missing_repo_with_env", add));
}

#[test]
fn a_relative_cache_dir_is_relative_to_where_realm_started() {
    let bank = crate::common::GitRealm::example("bank");
    let outside = tempfile::tempdir().expect("tempdir");
    // -C does not move a cache named relative to where realm started, be
    // it by --cache-dir or by REALM_CACHE_DIR.
    for (cache, args, env) in [
        ("flag-cache", vec!["--cache-dir", "flag-cache"], vec![]),
        ("env-cache", vec![], vec![("REALM_CACHE_DIR", "env-cache")]),
    ] {
        let shop = TestProject::example("shop");
        let project = shop.path().display().to_string();
        let repo = bank.url();
        let mut all = vec!["-C", project.as_str(), "add", "--git-repo", repo.as_str()];
        all.extend(args);
        realm(outside.path(), &all, &env).expect(0);
        assert!(outside.path().join(cache).join("git").is_dir(), "{cache}");
        assert!(!shop.path().join(cache).exists(), "{cache}");
    }
}
