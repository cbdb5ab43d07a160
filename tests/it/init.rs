//! `realm init`, `realm completions` and `realm man` with the real binary:
//! a new project that validates, exports and pins; nothing replaced; the
//! documented example and the written project file are one text.

use crate::common::{GitRealm, run_realm, run_realm_with, snapshots};

#[test]
fn init_makes_a_project_that_validates_exports_and_pins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_realm(dir.path(), &["init", "my-shop"]).expect(0);
    snapshots(|| insta::assert_snapshot!("init_output", run.stdout));
    let project = dir.path().join("my-shop");
    let toml = std::fs::read_to_string(project.join("ftl-project.toml")).expect("project file");
    // The documented example is the template, with the name filled in.
    let example =
        std::fs::read_to_string(crate::common::repo_root().join("ftl-project.toml.example"))
            .expect("example");
    assert_eq!(
        toml,
        example.replacen("\nname = \"shop\"\n", "\nname = \"my_shop\"\n", 1)
    );
    // realm's own settings: realm.toml.example as it is.
    assert_eq!(
        std::fs::read_to_string(project.join("realm.toml")).expect("realm.toml"),
        std::fs::read_to_string(crate::common::repo_root().join("realm.toml.example"))
            .expect("realm.toml.example")
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".gitignore")).expect(".gitignore"),
        "# realm's git cache, when a job keeps it in the project (REALM_CACHE_DIR=.realm-cache);\n\
         # by default it lives in the user's cache directory (~/.cache/realm).\n\
         /.realm-cache/\n\
         # realm serve's store of queued calls and idempotency keys ([ingress] store).\n\
         /.realm/\n"
    );
    let schema = run_realm(&project, &["schema"]).expect(0);
    snapshots(|| insta::assert_snapshot!("init_schema", schema.stdout));
    assert!(schema.stderr.is_empty(), "warnings: {}", schema.stderr);
    run_realm(&project, &["export", "--deny-warnings"]).expect(0);
    run_realm(&project, &["export", "--check"]).expect(0);

    // The new realm is something another realm can pin.
    let cache = tempfile::tempdir().expect("cache");
    let realm = GitRealm::empty("main");
    crate::common::copy_dir(&project, realm.path());
    realm.commit("my_shop realm");
    let other = tempfile::tempdir().expect("tempdir");
    run_realm(other.path(), &["init", "--name", "buyer"]).expect(0);
    let added = run_realm_with(
        other.path(),
        &["add", "--git-repo", &realm.url()],
        &[("REALM_CACHE_DIR", cache.path())],
    )
    .expect(0);
    assert!(
        added.stderr.starts_with("Pinned realm `my_shop` to "),
        "{}",
        added.stderr
    );
    // The pin went right below the commented-out example pin (its comment
    // lines stay with it), and the file still reads as a project.
    let text = std::fs::read_to_string(other.path().join("ftl-project.toml")).expect("read");
    assert!(
        text.contains(&format!(
            "# git-path = \"ftl-external-schema.json\"\n\n[external-realms.my_shop]\ngit-repo = \"{}\"\n",
            realm.url()
        )),
        "{text}"
    );
    assert!(
        text.ends_with("git-path = \"ftl-external-schema.json\"\n"),
        "{text}"
    );
    run_realm_with(
        other.path(),
        &["schema", "--offline"],
        &[("REALM_CACHE_DIR", cache.path())],
    )
    .expect(0);
}

/// The example with every commented-out key uncommented, and how many.
fn uncommented(file: &str) -> (String, usize) {
    let example = std::fs::read_to_string(crate::common::repo_root().join(file)).expect("example");
    let mut uncommented = String::new();
    let mut keys = 0;
    for line in example.lines() {
        let code = line.strip_prefix("# ").filter(|rest| {
            rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        });
        match code {
            Some(code) => {
                keys += 1;
                uncommented.push_str(code);
            }
            None => uncommented.push_str(line),
        }
        uncommented.push('\n');
    }
    (uncommented, keys)
}

#[test]
fn every_key_of_the_examples_is_one_realm_reads() {
    // Uncommenting every commented-out key of the examples gives a project
    // that parses without a warning: the documentation shows keys and
    // values realm accepts, each in the file it belongs in.
    let (project_file, project_keys) = uncommented("ftl-project.toml.example");
    let (settings_file, settings_keys) = uncommented("realm.toml.example");
    assert!(
        project_keys + settings_keys > 25,
        "only {project_keys} + {settings_keys} commented-out keys found"
    );
    let project = realm::project::Project::parse_with_settings(
        std::path::Path::new("/p"),
        project_file.clone(),
        Some(settings_file.clone()),
    )
    .unwrap_or_else(|r| panic!("{r}\n{project_file}\n{settings_file}"));
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);
    assert_eq!(project.pins.len(), 1);
    assert_eq!(
        project.pins[0].path.as_deref(),
        Some("ftl-external-schema.json")
    );
    assert_eq!(project.callers.len(), 1);
    assert_eq!(project.callers[0].name, "web");
    assert_eq!(
        project.callers[0].table,
        realm::project::PinTable::CallerRealms
    );
    assert_eq!(project.ingress.listen.as_deref(), Some("127.0.0.1:8871"));
    assert_eq!(project.ingress.runners.len(), 2);
    assert_eq!(project.ingress.hub.as_deref(), Some("hub"));
    assert_eq!(project.ingress.tls.peers.len(), 1);
    assert_eq!(project.descriptor_set.as_deref(), Some("descriptors.binpb"));
    assert_eq!(
        project.config_file.as_deref(),
        Some(".ftl/configuration.json")
    );
}

#[test]
fn init_refuses_to_replace_anything_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ftl-project.toml"), "name = \"mine\"\n").expect("write");
    let run = run_realm(dir.path(), &["init", "--name", "shop"]).expect(1);
    snapshots(|| insta::assert_snapshot!("init_refused_project_exists", run.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ftl-project.toml")).expect("read"),
        "name = \"mine\"\n"
    );
    assert!(!dir.path().join("modules").exists());
    assert!(!dir.path().join(".gitignore").exists());

    // The example module's file is there: refused, nothing else written.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("modules")).expect("mkdir");
    std::fs::write(dir.path().join("modules/hello.ftl"), "// mine\n").expect("write");
    let run = run_realm(dir.path(), &["init", "--name", "shop"]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: modules/hello.ftl already exists; nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("ftl-project.toml").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("modules/hello.ftl")).expect("read"),
        "// mine\n"
    );

    // realm.toml is there: refused, nothing written.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("realm.toml"), "# mine\n").expect("write");
    let run = run_realm(dir.path(), &["init", "--name", "shop"]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: realm.toml already exists; nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("ftl-project.toml").exists());
    assert!(!dir.path().join("modules").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("realm.toml")).expect("read"),
        "# mine\n"
    );

    // A directory whose name is not a realm name needs --name.
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_realm(dir.path(), &["init", "2fast"]).expect(1);
    assert!(
        run.stderr.starts_with(
            "error: the directory name `2fast` is not a realm name\nhelp: pass --name NAME"
        ),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("2fast").exists());
}

#[test]
fn init_adds_the_cache_line_to_an_existing_gitignore_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".gitignore"), "/target").expect("write");
    let run = run_realm(dir.path(), &["init", "--name", "shop"]).expect(0);
    assert!(
        run.stdout
            .contains(".gitignore         added the realm cache line"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(dir.path().join(".gitignore")).expect("read");
    assert!(text.starts_with("/target\n\n# realm's git cache"), "{text}");
    assert!(text.ends_with("/.realm-cache/\n# realm serve's store of queued calls and idempotency keys ([ingress] store).\n/.realm/\n"), "{text}");

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".gitignore"), ".realm-cache/\n").expect("write");
    let run = run_realm(dir.path(), &["init", "--name", "shop"]).expect(0);
    assert!(
        run.stdout.contains("already ignores the realm cache"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitignore")).expect("read"),
        ".realm-cache/\n"
    );
}

#[test]
fn a_symlinked_gitignore_stays_a_link_and_its_file_is_extended() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("shared-ignore"), "/target\n").expect("write");
    std::os::unix::fs::symlink("shared-ignore", dir.path().join(".gitignore")).expect("link");
    run_realm(dir.path(), &["init", "--name", "shop"]).expect(0);
    let link = dir.path().join(".gitignore");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("stat")
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    let text = std::fs::read_to_string(dir.path().join("shared-ignore")).expect("read");
    assert!(text.ends_with("/.realm-cache/\n# realm serve's store of queued calls and idempotency keys ([ingress] store).\n/.realm/\n"), "{text}");
}

#[test]
fn no_project_here_points_to_realm_init() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_realm(dir.path(), &["export"]).expect(1);
    assert!(
        run.stderr.contains("`realm init` makes a new project here"),
        "{}",
        run.stderr
    );
}

#[test]
fn completions_for_every_shell_name_the_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = run_realm(dir.path(), &["completions", shell]).expect(0);
        for word in [
            "init",
            "generate",
            "completions",
            "git-repo",
            "deny-warnings",
        ] {
            assert!(
                run.stdout.contains(word),
                "no {word} in the {shell} completions"
            );
        }
    }
    // bash loads the script and completes a command with it.
    let script = run_realm(dir.path(), &["completions", "bash"])
        .expect(0)
        .stdout;
    std::fs::write(dir.path().join("realm.bash"), script).expect("write");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            "source ./realm.bash && COMP_WORDS=(realm ini) COMP_CWORD=1 && _realm realm ini realm \
             && echo \"${COMPREPLY[@]}\"",
        )
        .current_dir(dir.path())
        .output()
        .expect("bash");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "init",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A path outside the current directory is printed as it is, not with a
/// doubled root (`//tmp/...`, what a new user saw).
#[test]
fn paths_outside_the_current_directory_are_printed_as_they_are() {
    let here = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = elsewhere
        .path()
        .canonicalize()
        .expect("canonical")
        .join("man1");
    let out_text = out.display().to_string();
    let run = run_realm(here.path(), &["man", "--output", &out_text]).expect(0);
    let shown = run.stderr.replace(&out_text, "<DIR>");
    assert!(shown.contains("<DIR>"), "{}", run.stderr);
    assert!(!run.stderr.contains("//"), "{}", run.stderr);
}

#[test]
fn man_pages_render_from_the_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = run_realm(dir.path(), &["man"]).expect(0).stdout;
    assert!(page.contains(".TH realm 1"), "{page}");
    assert!(page.contains("Exit codes: 0 success"), "{page}");
    let run = run_realm(dir.path(), &["man", "--output", "man1"]).expect(0);
    assert!(run.stderr.starts_with("Wrote "), "{}", run.stderr);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path().join("man1"))
        .expect("man1")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(pages.contains(&"realm.1".to_string()), "{pages:?}");
    assert!(pages.contains(&"realm-init.1".to_string()), "{pages:?}");
    assert!(
        pages.contains(&"realm-import-grpc.1".to_string()),
        "{pages:?}"
    );
}
