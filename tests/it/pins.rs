//! `realm add / update / list / remove` and pinned realms in `schema` and
//! `export`, against real git repositories made by the tests (and one
//! served by `git daemon` on loopback). Every failure case checks that
//! ftl-project.toml is left byte for byte as it was.

use std::path::Path;

use crate::common::{GitRealm, Run, TestProject, snapshots};

/// Replaces temporary paths in output with stable names.
fn redact(text: &str, paths: &[(&Path, &str)]) -> String {
    let mut out = text.to_string();
    for (path, name) in paths {
        out = out.replace(&path.display().to_string(), name);
    }
    out
}

/// The shop example with its comments, and the bank example in a git
/// repository.
fn shop_and_bank() -> (TestProject, GitRealm) {
    (TestProject::example("shop"), GitRealm::example("bank"))
}

fn add(shop: &TestProject, bank: &GitRealm) -> Run {
    shop.realm(&["add", "--git-repo", &bank.url()])
}

/// Runs a failing command and checks that it exited 1 and changed nothing.
fn fails(project: &TestProject, args: &[&str]) -> Run {
    let before = project.read("ftl-project.toml");
    let run = project.realm(args).expect(1);
    assert_eq!(
        project.read("ftl-project.toml"),
        before,
        "a failing command changed ftl-project.toml"
    );
    run
}

// ---- add ---------------------------------------------------------------------

#[test]
fn add_pins_the_branch_head_and_keeps_the_file_as_it_was() {
    let (shop, bank) = shop_and_bank();
    let before = shop.read("ftl-project.toml");
    let run = add(&shop, &bank).expect(0);
    assert_eq!(
        run.stderr,
        format!(
            "Pinned realm `bank` to {} (main of {}): 2 exported verbs\n",
            &bank.head()[..7],
            bank.url()
        )
    );
    let after = shop.read("ftl-project.toml");
    assert!(
        after.starts_with(&before),
        "the existing text changed:\n{after}"
    );
    let added = redact(&after[before.len()..], &[(bank.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_add_table", added));

    // The shop now validates against the pinned bank.
    let schema = shop.realm(&["schema"]).expect(0);
    snapshots(|| insta::assert_snapshot!("pins_schema_with_pinned_bank", schema.stdout));
    // And the shop's committed export is current; what it uses of the bank
    // is new: the usage file is to be written (issue 27).
    let check = shop.realm(&["export", "--check"]).expect(3);
    assert_eq!(
        check.stderr,
        "ftl-external-schema.txtpb is up to date\n\
         ftl-external-schema.json is up to date\n\
         error: ftl-realm-usage.json does not exist\n\
         help: run `realm export` and commit ftl-realm-usage.json\n"
    );
}

#[test]
fn add_keeps_comments_unrelated_tables_and_formatting_byte_for_byte() {
    let bank = GitRealm::example("bank");
    let shop = TestProject::example("shop");
    let original = "# Shop project.\nname   =   \"shop\"   # the realm\n\n\
        # where modules live\nmodule-dirs = [ \"modules\" ]\n\n[global]\n  # odd indent\n  key = 1\n\n\
        [modules.checkout.configuration]\nurl = \"http://localhost\" # trailing\n";
    shop.write("ftl-project.toml", original);
    add(&shop, &bank).expect(0);
    let after = shop.read("ftl-project.toml");
    assert!(after.starts_with(original), "{after}");
    assert!(after.contains(&format!(
        "\n[external-realms.bank]\ngit-repo = \"{}\"\n",
        bank.url()
    )));

    // update and remove touch only the pin's table.
    let pinned = after.clone();
    bank.change(
        "modules/balance.ftl",
        "    balance Int\n  }\n\n  // Looks",
        "    balance Int\n    note String?\n  }\n\n  // Looks",
        "note",
    );
    shop.realm(&["update"]).expect(0);
    let updated = shop.read("ftl-project.toml");
    let pinned_commit = pinned
        .split("git-commit = \"")
        .nth(1)
        .and_then(|rest| rest.get(..40))
        .expect("the pinned commit");
    assert_eq!(
        updated.replace(&bank.head(), "X"),
        pinned.replace(pinned_commit, "X")
    );
    shop.realm(&["remove", "bank", "--force"]).expect(0);
    assert_eq!(
        shop.read("ftl-project.toml").trim_end(),
        original.trim_end()
    );
}

#[test]
fn add_follows_the_remote_head_branch_or_the_named_one() {
    let bank = GitRealm::empty("trunk");
    crate::common::copy_dir(
        &crate::common::repo_root().join("examples/bank"),
        bank.path(),
    );
    let trunk = bank.commit("bank on trunk");
    let shop = TestProject::example("shop");
    let run = add(&shop, &bank).expect(0);
    assert!(run.stderr.contains("(trunk of "), "{}", run.stderr);
    assert!(
        shop.read("ftl-project.toml")
            .contains(&format!("git-branch = \"trunk\"\ngit-commit = \"{trunk}\""))
    );

    // A second branch, pinned by name under another name.
    bank.git(&["checkout", "-q", "-b", "release"]);
    let release = bank.change(
        "modules/balance.ftl",
        "AccountRequest {\n    id String\n",
        "AccountRequest {\n    id String\n    // Branch.\n    branch String?\n",
        "release",
    );
    shop.realm(&[
        "add",
        "--git-repo",
        &bank.url(),
        "--git-branch",
        "release",
        "--name",
        "bank2",
    ])
    .expect(0);
    let project = shop.read("ftl-project.toml");
    assert!(project.contains(&format!("[external-realms.bank2]\ngit-repo = \"{}\"\ngit-branch = \"release\"\ngit-commit = \"{release}\"\ngit-path = \"ftl-external-schema.json\"\n", bank.url())));
    // Both are usable as realms of their own.
    let schema = shop.realm(&["schema", "--realm", "bank2"]).expect(0);
    assert!(
        schema.stdout.starts_with("external realm bank2 {"),
        "{}",
        schema.stdout
    );
}

#[test]
fn add_a_relative_path_is_relative_to_the_project_root() {
    let parent = tempfile::tempdir().expect("tempdir");
    let bank = GitRealm::example("bank");
    crate::common::copy_dir(bank.path(), &parent.path().join("bank"));
    let shop_dir = parent.path().join("shop");
    crate::common::copy_dir(&crate::common::repo_root().join("examples/shop"), &shop_dir);
    std::fs::create_dir_all(shop_dir.join("modules/sub")).expect("mkdir");
    let cache = tempfile::tempdir().expect("tempdir");
    let env = [("REALM_CACHE_DIR", cache.path())];
    // Run from a subdirectory: `../bank` still means next to the project.
    crate::common::run_realm_with(
        &shop_dir.join("modules/sub"),
        &["add", "--git-repo", "../bank"],
        &env,
    )
    .expect(0);
    let text = std::fs::read_to_string(shop_dir.join("ftl-project.toml")).expect("read");
    assert!(text.contains("git-repo = \"../bank\""), "{text}");
    crate::common::run_realm_with(&shop_dir, &["schema", "--realm", "bank"], &env).expect(0);
}

#[test]
fn add_with_git_path_reads_a_schema_file_without_a_project_file() {
    let exported = GitRealm::example("bank");
    let api = exported.read("ftl-external-schema.txtpb");
    let repo = GitRealm::empty("main");
    repo.write("api/bank.txtpb", &api);
    repo.commit("just the API");
    let shop = TestProject::example("shop");
    shop.realm(&[
        "add",
        "--git-repo",
        &repo.url(),
        "--git-path",
        "api/bank.txtpb",
    ])
    .expect(0);
    assert!(
        shop.read("ftl-project.toml")
            .contains("git-path = \"api/bank.txtpb\"")
    );
    shop.realm(&["schema"]).expect(0);
}

#[test]
fn add_refuses_a_name_already_pinned_and_the_projects_own_name() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    let run = fails(&shop, &["add", "--git-repo", &bank.url()]);
    let stderr =
        redact(&run.stderr, &[(bank.path(), "[BANK]")]).replace(&bank.head()[..7], "[HEAD]");
    snapshots(|| insta::assert_snapshot!("pins_add_already_pinned", stderr));

    let run = fails(&shop, &["add", "--git-repo", &bank.url(), "--name", "shop"]);
    assert!(
        run.stderr
            .starts_with("error: realm `shop` is this project's own realm\n"),
        "{}",
        run.stderr
    );

    // A repository whose realm is named like this project.
    let other = GitRealm::example("shop");
    let run = fails(&shop, &["add", "--git-repo", &other.url()]);
    assert!(
        run.stderr
            .contains("realm `shop` is this project's own realm"),
        "{}",
        run.stderr
    );
}

// ---- add: errors -------------------------------------------------------------

#[test]
fn add_an_unreachable_repository() {
    let shop = TestProject::example("shop");
    let run = fails(&shop, &["add", "--git-repo", "/nonexistent/bank"]);
    snapshots(|| insta::assert_snapshot!("pins_unreachable_path", run.stderr));
    // Nothing listens on port 1.
    let run = fails(&shop, &["add", "--git-repo", "http://127.0.0.1:1/bank.git"]);
    snapshots(|| insta::assert_snapshot!("pins_unreachable_http", run.stderr));
}

#[test]
fn add_an_unknown_branch() {
    let (shop, bank) = shop_and_bank();
    let run = fails(
        &shop,
        &["add", "--git-repo", &bank.url(), "--git-branch", "nope"],
    );
    let stderr = redact(&run.stderr, &[(bank.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_unknown_branch", stderr));
}

#[test]
fn add_a_repository_without_a_project_file() {
    let repo = GitRealm::empty("main");
    repo.write("README", "not a realm\n");
    repo.commit("readme");
    let shop = TestProject::example("shop");
    let run = fails(&shop, &["add", "--git-repo", &repo.url()]);
    let stderr = redact(&run.stderr, &[(repo.path(), "[REPO]")]);
    snapshots(|| insta::assert_snapshot!("pins_no_project_file", stderr));
}

/// The bank example publishing its proto-text only (the tests below damage
/// that file; a published JSON beside it would be pinned instead).
fn txtpb_only(bank: &GitRealm) {
    let settings = bank.read("realm.toml").replace(
        "export = [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]",
        "export = \"ftl-external-schema.txtpb\"",
    );
    bank.write("realm.toml", &settings);
    std::fs::remove_file(bank.path().join("ftl-external-schema.json")).expect("rm the JSON");
}

#[test]
fn add_a_repository_without_its_schema_file() {
    let repo = GitRealm::example("bank");
    txtpb_only(&repo);
    std::fs::remove_file(repo.path().join("ftl-external-schema.txtpb")).expect("rm");
    repo.commit("forgot the export");
    let shop = TestProject::example("shop");
    let run = fails(&shop, &["add", "--git-repo", &repo.url()]);
    let stderr = redact(&run.stderr, &[(repo.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_missing_schema_file", stderr));
}

#[test]
fn add_a_schema_path_leaving_the_repository() {
    let (shop, bank) = shop_and_bank();
    let run = fails(
        &shop,
        &[
            "add",
            "--git-repo",
            &bank.url(),
            "--git-path",
            "../secrets.txtpb",
        ],
    );
    snapshots(|| insta::assert_snapshot!("pins_path_leaves_repo", run.stderr));
    // Also when the repository's own realm.toml points outside.
    let project = bank.read("realm.toml").replace(
        "export = [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]",
        "export = \"/etc/passwd\"",
    );
    bank.write("realm.toml", &project);
    bank.commit("escape");
    let run = fails(&shop, &["add", "--git-repo", &bank.url()]);
    assert!(
        run.stderr.contains("is not a path inside the project"),
        "{}",
        run.stderr
    );
}

#[test]
fn add_a_schema_file_that_is_a_symlink() {
    let bank = GitRealm::example("bank");
    txtpb_only(&bank);
    std::fs::rename(
        bank.path().join("ftl-external-schema.txtpb"),
        bank.path().join("real.txtpb"),
    )
    .expect("mv");
    std::os::unix::fs::symlink("real.txtpb", bank.path().join("ftl-external-schema.txtpb"))
        .expect("symlink");
    bank.commit("symlinked export");
    let shop = TestProject::example("shop");
    let run = fails(&shop, &["add", "--git-repo", &bank.url()]);
    let stderr = redact(&run.stderr, &[(bank.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_symlink", stderr));
}

#[test]
fn add_an_oversized_schema_file() {
    let bank = GitRealm::example("bank");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let big = line.repeat(33 * 1024 * 1024 / line.len() + 1);
    bank.write("big.txtpb", &big);
    bank.commit("huge");
    let shop = TestProject::example("shop");
    let run = fails(
        &shop,
        &["add", "--git-repo", &bank.url(), "--git-path", "big.txtpb"],
    );
    let stderr = redact(&run.stderr, &[(bank.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_oversized", stderr));
}

#[test]
fn add_a_malformed_schema_names_position_and_commit() {
    let bank = GitRealm::example("bank");
    txtpb_only(&bank);
    let text = bank.read("ftl-external-schema.txtpb").replacen(
        "name: \"bank\"",
        "name: \"bank\"\n  bogus_field: 1",
        1,
    );
    bank.write("ftl-external-schema.txtpb", &text);
    bank.commit("broken export");
    let shop = TestProject::example("shop");
    let run = fails(&shop, &["add", "--git-repo", &bank.url()]);
    let stderr = redact(&run.stderr, &[(bank.path(), "[BANK]")]);
    assert!(
        stderr.contains(&format!(
            "bank@{}:ftl-external-schema.txtpb:6:3",
            &bank.head()[..7]
        )),
        "{stderr}"
    );
    snapshots(|| insta::assert_snapshot!("pins_malformed_schema", stderr));
}

#[test]
fn add_a_schema_that_is_not_a_public_api() {
    let bank = GitRealm::example("bank");
    txtpb_only(&bank);
    // A declaration that is only `export`, not `export realm`.
    let text = bank.read("ftl-external-schema.txtpb").replacen(
        "visibility: VISIBILITY_SCOPE_REALM",
        "visibility: VISIBILITY_SCOPE_MODULE",
        1,
    );
    bank.write("ftl-external-schema.txtpb", &text);
    bank.commit("not public");
    let shop = TestProject::example("shop");
    let run = fails(&shop, &["add", "--git-repo", &bank.url()]);
    let stderr = redact(&run.stderr, &[(bank.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_not_a_public_api", stderr));

    // A schema whose realm is not the one its ftl-project.toml names.
    let other = GitRealm::example("bank");
    txtpb_only(&other);
    other.change(
        "ftl-project.toml",
        "name = \"bank\"",
        "name = \"ledger\"",
        "rename",
    );
    let text = other
        .read("ftl-external-schema.txtpb")
        .replace("name: \"ledger\"", "name: \"bank\"");
    other.write("ftl-external-schema.txtpb", &text);
    other.commit("stale export");
    let run = fails(&shop, &["add", "--git-repo", &other.url()]);
    assert!(
        run.stderr.contains(
            "is the public API of realm `bank`, but its ftl-project.toml names the realm `ledger`"
        ),
        "{}",
        run.stderr
    );
}

// ---- loading pins: schema, export, offline, damage, force-push ----------------

#[test]
fn schema_fetches_a_missing_pin_and_offline_refuses_to() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    // Another machine: same project file, empty cache.
    let fresh = tempfile::tempdir().expect("tempdir");
    let env = [("REALM_CACHE_DIR", fresh.path())];
    let run = crate::common::run_realm_with(shop.path(), &["schema", "--offline"], &env).expect(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot load pinned realm `bank`\n  caused by: realm `bank` at {} is not in the cache and --offline forbids fetching it\nhelp: run once without --offline to fetch it\n",
            &bank.head()[..7]
        )
    );
    crate::common::run_realm_with(shop.path(), &["schema"], &env).expect(0);
    // Now cached: offline works, even with the repository gone.
    std::fs::rename(bank.path(), bank.path().with_extension("moved")).expect("move repo");
    crate::common::run_realm_with(shop.path(), &["schema", "--offline"], &env).expect(0);
    std::fs::rename(bank.path().with_extension("moved"), bank.path()).expect("move back");
}

#[test]
fn a_damaged_cache_is_fetched_again() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    let repos: Vec<_> = std::fs::read_dir(shop.cache_dir().join("git"))
        .expect("cache")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "git"))
        .map(|e| e.path())
        .collect();
    assert_eq!(repos.len(), 1);
    let repo = &repos[0];

    // Objects overwritten with garbage.
    for entry in crate::common::files_under(&repo.join("objects")) {
        std::fs::write(&entry, b"garbage").expect("corrupt object");
    }
    shop.realm(&["schema"]).expect(0);

    // The repository itself unreadable.
    std::fs::write(repo.join("HEAD"), b"garbage").expect("corrupt HEAD");
    std::fs::write(repo.join("config"), b"[[[").expect("corrupt config");
    shop.realm(&["schema"]).expect(0);
    shop.realm(&["update", "--check"]).expect(0);
}

#[test]
fn a_pinned_commit_gone_after_a_force_push() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    let pinned = bank.head();
    // Rewrite main without the pinned commit, and collect its objects.
    bank.git(&["checkout", "-q", "--orphan", "rewritten"]);
    bank.commit("history rewritten");
    bank.git(&["branch", "-q", "-M", "rewritten", "main"]);
    bank.git(&["reflog", "expire", "--expire=now", "--all"]);
    bank.git(&["gc", "-q", "--prune=now"]);

    let fresh = tempfile::tempdir().expect("tempdir");
    let env = [("REALM_CACHE_DIR", fresh.path())];
    let run = crate::common::run_realm_with(shop.path(), &["schema"], &env).expect(1);
    let stderr = redact(&run.stderr, &[(bank.path(), "[BANK]")]).replace(&pinned, "[PINNED]");
    snapshots(|| insta::assert_snapshot!("pins_commit_gone", stderr));

    // `realm update` moves the pin; there is nothing to diff against.
    let run = crate::common::run_realm_with(shop.path(), &["update"], &env).expect(0);
    assert!(
        run.stdout
            .contains("the pinned commit is gone from the remote; no diff"),
        "{}",
        run.stdout
    );
    crate::common::run_realm_with(shop.path(), &["schema"], &env).expect(0);
}

#[test]
fn invalid_pins_in_the_project_file_have_positions() {
    let shop = TestProject::example("shop");
    let text = shop.read("ftl-project.toml")
        + "\n[realms.egress.bank]\ngit-repo = \"../bank\"\ngit-commit = \"abc123\"\n\n[external-realms.crm]\ngit-commit = \"0123456789012345678901234567890123456789\"\n";
    shop.write("ftl-project.toml", &text);
    let run = fails(&shop, &["list"]);
    snapshots(|| insta::assert_snapshot!("pins_invalid_pin_tables", run.stderr));
}

// ---- the FTL layout -------------------------------------------------------------

#[test]
fn ftls_external_realms_layout_is_read_updated_in_place_and_removed() {
    let (shop, bank) = shop_and_bank();
    let first = bank.head();
    let original = format!(
        "{}\n# Written by ftl realm add.\n[external-realms.bank]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{first}\"\n",
        shop.read("ftl-project.toml"),
        bank.url()
    );
    shop.write("ftl-project.toml", &original);
    shop.realm(&["schema", "--realm", "bank"]).expect(0);
    let second = bank.change(
        "modules/balance.ftl",
        "AccountRequest {\n    id String\n",
        "AccountRequest {\n    id String\n    label String?\n",
        "label",
    );
    shop.realm(&["update"]).expect(0);
    assert_eq!(
        shop.read("ftl-project.toml"),
        original.replace(&first, &second)
    );
    shop.realm(&["remove", "bank", "--force"]).expect(0);
    let text = shop.read("ftl-project.toml");
    assert!(
        !text.contains("external-realms") && !text.contains("git-commit"),
        "{text}"
    );
}

// ---- update ----------------------------------------------------------------------

fn breaking_change(bank: &GitRealm) -> String {
    let text = bank
        .read("modules/balance.ftl")
        .replace(
            "    amount Int\n",
            "    amount Float\n    reference String\n",
        )
        .replace(
            "    memo String? +alias json \"note\"",
            "    memo String? +alias json \"memo\"",
        )
        .replace(
            "  export realm data WithdrawResponse {\n    balance Int\n",
            "  export realm data WithdrawResponse {\n    balance Int?\n    bookedAt Time\n",
        )
        .replace("    Usd = \"USD\"\n", "    Gbp = \"GBP\"\n");
    bank.write("modules/balance.ftl", &text);
    bank.export();
    bank.commit("breaking")
}

#[test]
fn update_check_exits_3_with_the_diff_and_writes_nothing() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    let pinned = shop.read("ftl-project.toml");
    shop.realm(&["update", "--check"]).expect(0);

    let old = bank.head();
    let new = breaking_change(&bank);
    let run = shop.realm(&["update", "--check"]).expect(3);
    assert_eq!(shop.read("ftl-project.toml"), pinned);
    snapshots(|| insta::assert_snapshot!("pins_update_diff", run.stdout));
    assert_eq!(
        run.stderr,
        "error: 1 realm is behind its branch\nhelp: run `realm update` and commit ftl-project.toml\n"
    );
    assert!(
        run.stdout
            .starts_with(&format!("bank  {} -> {} (main)", &old[..7], &new[..7]))
    );

    // --deny-breaking refuses, writing nothing.
    let run = shop.realm(&["update", "--deny-breaking"]).expect(3);
    assert!(run.stderr.starts_with("error: refusing to move pins across breaking changes: bank (5 breaking); nothing was written"), "{}", run.stderr);
    assert_eq!(shop.read("ftl-project.toml"), pinned);

    // A plain update moves the pin.
    let run = shop.realm(&["update"]).expect(0);
    assert_eq!(run.stderr, "Updated 1 realm in ftl-project.toml\n");
    assert_eq!(shop.read("ftl-project.toml"), pinned.replace(&old, &new));
    let run = shop.realm(&["update", "--check"]).expect(0);
    assert_eq!(run.stderr, "The pinned realm is up to date\n");
}

#[test]
fn update_deny_breaking_lets_compatible_changes_through() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    let new = bank.change(
        "modules/balance.ftl",
        "    memo String? +alias json \"note\"\n",
        "    memo String? +alias json \"note\"\n    // Optional: compatible.\n    channel String?\n",
        "compatible",
    );
    let run = shop.realm(&["update", "--deny-breaking"]).expect(0);
    assert!(
        run.stdout.contains("0 breaking, 1 compatible"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("compatible  balance.WithdrawRequest: field `channel` added"),
        "{}",
        run.stdout
    );
    assert!(shop.read("ftl-project.toml").contains(&new));
}

#[test]
fn update_json_output() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    let old = bank.head();
    let new = breaking_change(&bank);
    let run = shop
        .realm(&["update", "--check", "--format", "json"])
        .expect(3);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["realms"][0]["from"], old);
    assert_eq!(value["realms"][0]["to"], new);
    assert_eq!(value["realms"][0]["breaking"], 5);
    assert_eq!(value["written"], 0);
    let stdout = redact(&run.stdout, &[(bank.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_update_json", stdout));
}

#[test]
fn update_only_the_named_realms() {
    let shop = TestProject::example("shop");
    let bank = GitRealm::example("bank");
    let ledger = GitRealm::example("bank");
    add(&shop, &bank).expect(0);
    shop.realm(&["add", "--git-repo", &ledger.url(), "--name", "ledger"])
        .expect(0);
    let bank_new = breaking_change(&bank);
    let ledger_new = ledger.change(
        "modules/balance.ftl",
        "AccountRequest {\n    id String\n",
        "AccountRequest {\n    id String\n    label String?\n",
        "label",
    );
    shop.realm(&["update", "ledger"]).expect(0);
    let text = shop.read("ftl-project.toml");
    assert!(
        text.contains(&ledger_new) && !text.contains(&bank_new),
        "{text}"
    );
    let run = fails(&shop, &["update", "nope"]);
    assert_eq!(
        run.stderr,
        "error: realm `nope` is not pinned\nhelp: the pinned realms are: bank, ledger\n"
    );
}

#[test]
fn update_when_the_branch_vanished() {
    let (shop, bank) = shop_and_bank();
    bank.git(&["branch", "-q", "release"]);
    shop.realm(&["add", "--git-repo", &bank.url(), "--git-branch", "release"])
        .expect(0);
    bank.git(&["branch", "-q", "-D", "release"]);
    let run = fails(&shop, &["update"]);
    let stderr = redact(&run.stderr, &[(bank.path(), "[BANK]")]);
    snapshots(|| insta::assert_snapshot!("pins_branch_vanished", stderr));
}

// ---- list --------------------------------------------------------------------------

#[test]
fn list_shows_pins_from_the_cache() {
    let shop = TestProject::example("shop");
    let run = shop.realm(&["list"]).expect(0);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "No realms are pinned. Pin one with `realm add --git-repo <url>` (`--caller` for a realm that calls this one).\n"
    );

    let bank = GitRealm::example("bank");
    let ledger = GitRealm::example("bank");
    add(&shop, &bank).expect(0);
    shop.realm(&["add", "--git-repo", &ledger.url(), "--name", "ledger"])
        .expect(0);
    breaking_change(&ledger);
    // `update --check` fetched ledger's new head into the cache.
    shop.realm(&["update", "--check"]).expect(3);
    let run = shop.realm(&["list"]).expect(0);
    let stdout = redact(
        &run.stdout,
        &[(bank.path(), "[BANK]"), (ledger.path(), "[LEDGER]")],
    );
    snapshots(|| insta::assert_snapshot!("pins_list", stdout));

    let json = shop.realm(&["list", "--format", "json"]).expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(value[0]["name"], "bank");
    assert_eq!(value[0]["verbs"], 2);
    assert_eq!(value[1]["status"], "behind");

    // Another machine: nothing cached, and list does not fetch.
    let fresh = tempfile::tempdir().expect("tempdir");
    let run =
        crate::common::run_realm_with(shop.path(), &["list"], &[("REALM_CACHE_DIR", fresh.path())])
            .expect(0);
    assert!(run.stdout.contains("?      not cached"), "{}", run.stdout);
    assert!(
        std::fs::read_dir(fresh.path())
            .expect("cache")
            .next()
            .is_none(),
        "list wrote to the cache"
    );
}

// ---- remove --------------------------------------------------------------------------

#[test]
fn remove_refuses_while_referenced_and_lists_each_reference() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    let run = fails(&shop, &["remove", "bank"]);
    snapshots(|| insta::assert_snapshot!("pins_remove_referenced", run.stderr));

    let run = shop.realm(&["remove", "bank", "--force"]).expect(0);
    assert!(
        run.stderr
            .starts_with("Removed realm `bank` (was pinned to "),
        "{}",
        run.stderr
    );
    assert!(
        !shop
            .read("ftl-project.toml")
            .contains("[external-realms.bank]")
    );
    let run = fails(&shop, &["remove", "bank"]);
    assert_eq!(run.stderr, "error: realm `bank` is not pinned\n");
}

#[test]
fn remove_an_unreferenced_pin() {
    let (shop, bank) = shop_and_bank();
    add(&shop, &bank).expect(0);
    shop.realm(&["add", "--git-repo", &bank.url(), "--name", "spare"])
        .expect(0);
    shop.realm(&["remove", "spare"]).expect(0);
    let text = shop.read("ftl-project.toml");
    assert!(
        text.contains("[external-realms.bank]") && !text.contains("spare"),
        "{text}"
    );
}

// ---- concurrency ------------------------------------------------------------------------

#[test]
fn ten_concurrent_adds_all_land() {
    let shop = TestProject::example("shop");
    let header = "# Shop project: keep this comment.\n";
    let original = format!("{header}{}", shop.read("ftl-project.toml"));
    shop.write("ftl-project.toml", &original);
    let realms: Vec<GitRealm> = (0..10)
        .map(|i| {
            let realm = GitRealm::empty("main");
            realm.write(
                "ftl-project.toml",
                &format!("name = \"r{i}\"\nmodule-dirs = [\"modules\"]\n"),
            );
            realm.write(
                "modules/m.ftl",
                &format!("module m{i} {{\n  export realm verb ping(Unit) Unit\n}}\n"),
            );
            realm.export();
            realm.commit("realm");
            realm
        })
        .collect();
    let binary = assert_cmd::cargo::cargo_bin("realm");
    let children: Vec<_> = realms
        .iter()
        .map(|realm| {
            std::process::Command::new(&binary)
                .args(["add", "--git-repo", &realm.url()])
                .current_dir(shop.path())
                .env("REALM_CACHE_DIR", shop.cache_dir())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn realm add")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = shop.read("ftl-project.toml");
    assert!(text.starts_with(&original), "{text}");
    for i in 0..10 {
        assert!(
            text.contains(&format!("[external-realms.r{i}]")),
            "r{i} missing:\n{text}"
        );
    }
    let listed = shop.realm(&["list", "--format", "json"]).expect(0);
    let value: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(value.as_array().map(Vec::len), Some(10));
}

// ---- a real network transport: git daemon on loopback ----------------------------------

/// `git daemon` on a port this test holds from start to end: the test
/// keeps the listening socket (port 0, never handed on) and runs
/// `git-daemon --inetd` for each connection, so no other program can take
/// the port in between and nothing waits for a server to come up.
struct GitDaemon {
    port: u16,
    base: tempfile::TempDir,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl GitDaemon {
    fn start() -> GitDaemon {
        use std::sync::atomic::Ordering;
        let base = tempfile::tempdir().expect("tempdir");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let exec_path = std::process::Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path");
        let daemon =
            Path::new(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
        let root = base.path().to_path_buf();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let accept = std::thread::spawn(move || {
            let mut children = Vec::new();
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let Ok(input) = stream.try_clone() else {
                    continue;
                };
                let child = std::process::Command::new(&daemon)
                    .args([
                        "--inetd",
                        "--export-all",
                        &format!("--base-path={}", root.display()),
                        &root.display().to_string(),
                    ])
                    .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(input)))
                    .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                        stream,
                    )))
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("start git-daemon --inetd");
                children.push(child);
            }
            for mut child in children {
                let _ = child.kill();
                let _ = child.wait();
            }
        });
        GitDaemon {
            port,
            base,
            stop,
            accept: Some(accept),
        }
    }

    /// Serves a bare copy of `realm` as `name.git`; returns its URL.
    fn serve(&self, realm: &GitRealm, name: &str) -> String {
        let bare = self.base.path().join(format!("{name}.git"));
        realm.git(&[
            "clone",
            "-q",
            "--bare",
            &realm.url(),
            &bare.display().to_string(),
        ]);
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }

    fn push(&self, realm: &GitRealm, name: &str) {
        let bare = self.base.path().join(format!("{name}.git"));
        realm.git(&["push", "-q", "--force", &bare.display().to_string(), "main"]);
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wakes the accept loop, which sees `stop`.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

#[test]
fn pins_over_the_git_protocol_on_loopback() {
    let daemon = GitDaemon::start();
    let bank = GitRealm::example("bank");
    let url = daemon.serve(&bank, "bank");
    let shop = TestProject::example("shop");
    let run = shop.realm(&["add", "--git-repo", &url]).expect(0);
    assert!(
        run.stderr.contains(&format!("(main of {url})")),
        "{}",
        run.stderr
    );
    shop.realm(&["schema"]).expect(0);

    let new = breaking_change(&bank);
    daemon.push(&bank, "bank");
    let run = shop.realm(&["update", "--check"]).expect(3);
    assert!(
        run.stdout.contains("5 breaking, 2 compatible"),
        "{}",
        run.stdout
    );
    shop.realm(&["update"]).expect(0);
    assert!(shop.read("ftl-project.toml").contains(&new));

    // A fresh machine fetches the pinned commit over the network.
    let fresh = tempfile::tempdir().expect("tempdir");
    crate::common::run_realm_with(
        shop.path(),
        &["schema"],
        &[("REALM_CACHE_DIR", fresh.path())],
    )
    .expect(0);
}

#[test]
fn an_unreachable_repository_is_reported_as_such_not_as_a_force_push() {
    let shop = TestProject::example("shop");
    let gone = tempfile::tempdir().expect("tempdir");
    let url = gone.path().join("bank.git").display().to_string();
    shop.write(
        "ftl-project.toml",
        &format!(
            "{}\n[external-realms.bank]\ngit-repo = \"{url}\"\ngit-branch = \"main\"\ngit-commit = \"0123456789abcdef0123456789abcdef01234567\"\ngit-path = \"ftl-external-schema.json\"\n",
            shop.read("ftl-project.toml")
        ),
    );
    let run = shop.realm(&["schema"]).expect(1);
    assert!(!run.stderr.contains("force-pushed"), "{}", run.stderr);
    let stderr = redact(&run.stderr, &[(gone.path(), "[GONE]")]);
    snapshots(|| insta::assert_snapshot!("pins_unreachable_repository", stderr));
}

#[test]
fn a_repository_url_git_cannot_fetch_is_refused_with_what_to_write() {
    let shop = TestProject::example("shop");
    let before = shop.read("ftl-project.toml");
    let run = fails(&shop, &["add", "--git-repo", "ftp://example.com/bank.git"]);
    snapshots(|| insta::assert_snapshot!("pins_unfetchable_scheme", run.stderr));
    assert_eq!(shop.read("ftl-project.toml"), before);
}
