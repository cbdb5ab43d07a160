//! The command line under hostile conditions, with the real binary:
//!
//! - `realm generate` refuses every name collision before it writes
//!   anything (a realm named after the runtime's file, Go fields that
//!   export to one name, realms that differ only in case, names too long
//!   for a file system), and `realm add` refuses the names that would
//!   collide later;
//! - closed and broken pipes: a command whose stdout or stderr is closed
//!   ends with its usual exit code and no panic; a reader that stops
//!   reading (`realm list | head -0`) ends it quietly.

use std::path::Path;

use crate::common::{GitRealm, TestProject, files_under};

/// A realm repository whose one module is `text`, exported and committed.
fn realm_repo(name: &str, text: &str) -> GitRealm {
    let realm = GitRealm::empty("main");
    realm.write(
        "ftl-project.toml",
        &format!("name = \"{name}\"\nmodule-dirs = [\"modules\"]\n"),
    );
    realm.write("modules/m.ftl", text);
    realm.export();
    realm.commit(&format!("{name} realm"));
    realm
}

/// A consumer project pinning `realm` as `name`, with a go.mod for Go.
fn consumer(realm: &GitRealm, name: &str) -> TestProject {
    let project = TestProject::new("shop");
    project.write("modules/shop.ftl", "module shop {\n}\n");
    project.write("go.mod", "module example.com/shop\n\ngo 1.19\n");
    project
        .realm(&["add", "--git-repo", &realm.url(), "--name", name])
        .expect(0);
    project
}

/// The files under `realms/`, relative to it.
fn generated(project: &TestProject) -> Vec<String> {
    let dir = project.path().join("realms");
    files_under(&dir)
        .iter()
        .filter_map(|p| p.strip_prefix(&dir).ok())
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn a_realm_named_after_the_rust_runtime_file_is_refused_before_writing() {
    let bank = GitRealm::example("bank");
    let project = consumer(&bank, "mod");
    let run = project.realm(&["generate", "rust"]).expect(1);
    assert!(
        run.stderr
            .contains("two generated files would both be written to `realms/mod.rs`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("help: "), "{}", run.stderr);
    assert_eq!(generated(&project), Vec::<String>::new());
    // --check says the same, rather than drift forever.
    project.realm(&["generate", "rust", "--check"]).expect(1);
    // The other languages keep the realm apart from their runtime.
    project.realm(&["generate", "typescript"]).expect(0);
}

#[test]
fn go_fields_that_export_to_one_name_are_refused_before_writing() {
    for (a, b) in [("foo", "Foo"), ("self", "Self"), ("string", "String")] {
        let realm = realm_repo(
            "pay",
            &format!(
                "module m {{\n  export realm data Req {{\n    {a} String\n    {b} Int\n  }}\n\n  export realm verb take(m.Req) Unit\n}}\n"
            ),
        );
        let project = consumer(&realm, "pay");
        let run = project.realm(&["generate", "go"]).expect(1);
        assert!(
            run.stderr.contains(&format!(
                "field `{a}` and field `{b}` would both be named `{}` in the Go struct Req",
                common_upper(a)
            )),
            "{}",
            run.stderr
        );
        assert_eq!(generated(&project), Vec::<String>::new());
    }
}

fn common_upper(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[test]
fn realm_names_are_unique_without_case_and_bounded_in_length() {
    let bank = GitRealm::example("bank");
    let project = consumer(&bank, "bank");
    let before = project.read("ftl-project.toml");
    let run = project
        .realm(&["add", "--git-repo", &bank.url(), "--name", "Bank"])
        .expect(1);
    assert!(
        run.stderr
            .contains("realm `Bank` and realm `bank` differ only in case"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("$BANK_REALM_ENDPOINT"),
        "{}",
        run.stderr
    );
    let long = "b".repeat(300);
    let run = project
        .realm(&["add", "--git-repo", &bank.url(), "--name", &long])
        .expect(1);
    assert!(
        run.stderr
            .contains("is 300 bytes long; realm names are at most 63 bytes"),
        "{}",
        run.stderr
    );
    assert_eq!(project.read("ftl-project.toml"), before);
    // 63 bytes are fine, and their clients are written.
    let fine = "b".repeat(63);
    project
        .realm(&["add", "--git-repo", &bank.url(), "--name", &fine])
        .expect(0);
    project.realm(&["generate", "go"]).expect(0);
    assert!(project.path().join("realms").join(&fine).is_dir());
}

#[test]
fn a_generate_that_fails_part_way_writes_nothing() {
    let bank = GitRealm::example("bank");
    let project = consumer(&bank, "bank");
    project
        .realm(&["add", "--git-repo", &bank.url(), "--name", "zz"])
        .expect(0);
    // A file where the directory of the last realm's client must go
    // (`realms/zz/`, after `realms/bank/` and `realms/realms.go`): that
    // write fails, and the files before it must not be there either.
    std::fs::create_dir_all(project.path().join("realms")).expect("mkdir");
    std::fs::write(project.path().join("realms/zz"), "in the way").expect("write");
    let run = project.realm(&["generate", "go"]).expect(1);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("realms/zz"), "{}", run.stderr);
    assert_eq!(generated(&project), ["zz"], "files were written");
    assert!(!Path::new(&project.path().join("realms/bank")).exists());
}

/// How `realm args` in `dir` ends when its stdout or stderr is a pipe
/// whose reader is gone: exit code, and the other stream's text.
fn with_broken(dir: &Path, args: &[&str], stream: Stream) -> (i32, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("realm"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("REALM_CACHE_DIR");
    let out = match stream {
        Stream::Stdout => cmd.stdout(writer).stderr(std::process::Stdio::piped()),
        Stream::Stderr => cmd.stderr(writer).stdout(std::process::Stdio::piped()),
    }
    .output()
    .expect("run realm");
    let other = match stream {
        Stream::Stdout => out.stderr,
        Stream::Stderr => out.stdout,
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&other).into_owned(),
    )
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

#[test]
fn closed_pipes_end_commands_with_their_usual_exit_code() {
    let bank = GitRealm::example("bank");
    let project = consumer(&bank, "bank");
    project.realm(&["generate", "rust"]).expect(0);
    let client = project.read("realms/bank.rs");
    project.write("realms/bank.rs", &format!("{client}// edited\n"));
    // `--check` finds drift (3) and a stale or missing export (3); the
    // pins are up to date (0); list and schema succeed (0).
    for (args, code) in [
        (&["generate", "rust", "--check"][..], 3),
        (&["export", "--check"], 3),
        (&["update", "--check"], 0),
        (&["list"], 0),
        (&["schema"], 0),
    ] {
        project.realm(args).expect(code);
        let (stdout_gone, stderr) = with_broken(project.path(), args, Stream::Stdout);
        assert_eq!(
            stdout_gone, code,
            "{args:?} with stdout's reader gone: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        let (stderr_gone, stdout) = with_broken(project.path(), args, Stream::Stderr);
        assert_eq!(
            stderr_gone, code,
            "{args:?} with stderr's reader gone: {stdout}"
        );
    }
    // `realm list | head -0`: quiet.
    let (code, stderr) = with_broken(project.path(), &["list"], Stream::Stdout);
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn remote_text_reaches_a_terminal_escaped() {
    use crate::common::echo::{Echo, LEDGER, echo_runner};
    let have_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_script {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "script is missing, and CI=true (.ci/run installs bsdutils)"
        );
        eprintln!(
            "skipped: `script` (a pseudo-terminal) is not installed (apt-get install bsdutils)"
        );
        return;
    }
    let project = TestProject::new("pay");
    project.write("modules/ledger.ftl", LEDGER);
    let echo = std::sync::Arc::new(Echo::default());
    let runner = echo_runner(echo, None);
    let ingress = crate::common::serve::Serve::start(
        project.path(),
        project.cache_dir(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    let endpoint = format!("http://{}", ingress.addr);
    // CSI (a C1 control, which JSON carries as it is) and an OSC that sets
    // the terminal's title, in the reply the runner sends back.
    let body = r#"{"text":"\u009b2J\u001b]0;owned\u0007 \u202eok"}"#;
    let piped = project
        .realm(&["call", "ledger.echo", body, "--endpoint", &endpoint])
        .expect(0);
    assert!(
        piped.stdout.contains('\u{9b}'),
        "a pipe gets the bytes: {}",
        piped.stdout
    );
    let bin = assert_cmd::cargo::cargo_bin("realm");
    let command = format!(
        "{} call ledger.echo '{body}' --endpoint {endpoint}",
        bin.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(project.path())
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r"\u{9b}2J"), "{text:?}");
    assert!(text.contains(r"\u{202e}ok"), "{text:?}");
    assert!(
        !text.contains('\u{9b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_schema_file_is_passed_over_with_a_warning() {
    let project = TestProject::new("shop");
    project.write("modules/shop.ftl", "module shop {\n}\n");
    project.write(
        "elsewhere/other.ftl",
        "module other {\n  data X {\n    a Int\n  }\n}\n",
    );
    std::os::unix::fs::symlink(
        "../elsewhere/other.ftl",
        project.path().join("modules/other.ftl"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink("../elsewhere", project.path().join("modules/more"))
        .expect("symlink");
    let run = project.realm(&["schema"]).expect(0);
    assert!(!run.stdout.contains("module other"), "{}", run.stdout);
    for link in ["modules/other.ftl", "modules/more"] {
        assert!(
            run.stderr.contains(&format!(
                "warning: `{link}` is a symbolic link, and schema files are not read through links"
            )),
            "{}",
            run.stderr
        );
    }
    project.realm(&["schema", "--deny-warnings"]).expect(1);
}
