//! FTL can still load a project `realm` manages: `ftl-project.toml` holds
//! only keys FTL's `projectconfig.Load` accepts (realm's own settings are in
//! `realm.toml`), pins are FTL's `[external-realms.<name>]` tables in every
//! form FTL reads and writes (header tables, an `[external-realms]` of
//! inline tables, the indented tables FTL's own `Save` writes), the older
//! layout is still read (with warnings) and `realm migrate` moves it, and a
//! failed `realm add` leaves nothing in the cache.

use std::path::Path;

use crate::common::{GitRealm, Run, TestProject, run_realm, run_realm_with, snapshots};

/// The keys FTL's project file knows: `Config` of FTL's
/// `internal/projectconfig/projectconfig.go` (its toml tags). FTL's loader
/// refuses any other ("unknown configuration keys: ..."). `*` is one key
/// of any name.
const FTL_KEYS: &[&str] = &[
    "name",
    "secrets-provider",
    "config-provider",
    "module-dirs",
    "commands.startup",
    "ftl-min-version",
    "hermit",
    "no-git",
    "disable-ide-integration",
    "disable-vscode-integration",
    "disable-intellij-integration",
    "external-realms.*.git-repo",
    "external-realms.*.git-branch",
    "external-realms.*.git-commit",
    "external-realms.*.git-path",
    "global.configuration.*",
    "global.secrets.*",
    "modules.*.configuration.*",
    "modules.*.secrets.*",
];

/// The keys of `text` (a project file) FTL's loader would refuse, as dotted
/// paths.
fn unknown_to_ftl(text: &str) -> Vec<String> {
    fn walk(item: &toml_edit::Item, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match item.as_table_like() {
            Some(table) => {
                for (key, child) in table.iter() {
                    path.push(key.to_string());
                    walk(child, path, out);
                    path.pop();
                }
            }
            None => out.push(path.clone()),
        }
    }
    let doc: toml_edit::DocumentMut = text.parse().expect("the project file is TOML");
    let mut leaves = Vec::new();
    walk(doc.as_item(), &mut Vec::new(), &mut leaves);
    leaves
        .into_iter()
        .filter(|path| {
            !FTL_KEYS.iter().any(|known| {
                let known: Vec<&str> = known.split('.').collect();
                known.len() == path.len()
                    && known.iter().zip(path).all(|(k, p)| *k == "*" || k == p)
            })
        })
        .map(|path| path.join("."))
        .collect()
}

/// Fails unless FTL's loader would accept the project file in `dir`.
fn assert_ftl_loads(dir: &Path, after: &str) {
    let text = std::fs::read_to_string(dir.join("ftl-project.toml")).expect("ftl-project.toml");
    let unknown = unknown_to_ftl(&text);
    assert!(
        unknown.is_empty(),
        "after {after}, FTL refuses ftl-project.toml: unknown configuration keys: {}\n{text}",
        unknown.join(", ")
    );
}

#[test]
fn the_key_check_refuses_what_ftl_refuses() {
    assert!(unknown_to_ftl("name = \"a\"\n[external-realms.b]\ngit-repo = \"r\"\ngit-path = \"p\"\n[modules.m.configuration]\nk = \"v\"\n").is_empty());
    assert_eq!(
        unknown_to_ftl(
            "name = \"a\"\n[realm]\nexport = \"x\"\n[realms.egress.b]\ngit-repo = \"r\"\n[external-realms.c]\ngit-sha = \"s\"\n"
        ),
        [
            "realm.export",
            "realms.egress.b.git-repo",
            "external-realms.c.git-sha"
        ]
    );
}

#[test]
fn every_file_realm_writes_holds_only_keys_ftl_knows() {
    let cache = tempfile::tempdir().expect("cache");
    let env = [("REALM_CACHE_DIR", cache.path())];
    let dir = tempfile::tempdir().expect("tempdir");
    run_realm(dir.path(), &["init", "--name", "shop"]).expect(0);
    assert_ftl_loads(dir.path(), "realm init");

    let bank = GitRealm::example("bank");
    run_realm_with(dir.path(), &["add", "--git-repo", &bank.url()], &env).expect(0);
    assert_ftl_loads(dir.path(), "realm add");
    let ledger = GitRealm::example("bank");
    run_realm_with(
        dir.path(),
        &["add", "--git-repo", &ledger.url(), "--name", "ledger"],
        &env,
    )
    .expect(0);
    assert_ftl_loads(dir.path(), "a second realm add");
    bank.change(
        "modules/balance.ftl",
        "AccountRequest {\n    id String\n",
        "AccountRequest {\n    id String\n    label String?\n",
        "label",
    );
    run_realm_with(dir.path(), &["update"], &env).expect(0);
    assert_ftl_loads(dir.path(), "realm update");
    run_realm_with(dir.path(), &["remove", "bank"], &env).expect(0);
    assert_ftl_loads(dir.path(), "realm remove");

    // realm import writes realm's settings to realm.toml.
    let out = tempfile::tempdir().expect("tempdir");
    let protos = crate::common::repo_root().join("examples/grpc-bank/protos");
    run_realm(
        out.path(),
        &[
            "import",
            "proto",
            &protos
                .join("acme/bank/v1/accounts.proto")
                .display()
                .to_string(),
            "-I",
            &protos.display().to_string(),
            "--name",
            "bank",
            "--output",
            ".",
        ],
    )
    .expect(0);
    assert_ftl_loads(out.path(), "realm import");
    let settings = std::fs::read_to_string(out.path().join("realm.toml")).expect("realm.toml");
    assert!(
        settings.contains("[realm]\nexport = \"ftl-external-schema.txtpb\"\ndescriptor-set = \"descriptors.binpb\"\n"),
        "{settings}"
    );
    run_realm(out.path(), &["export", "--check"]).expect(0);
}

/// Replaces temporary paths and commit ids in output with stable names.
fn redact(text: &str, realms: &[(&GitRealm, &str)]) -> String {
    let mut out = text.to_string();
    for (realm, name) in realms {
        out = out.replace(&realm.url(), &format!("[{name}]"));
    }
    out
}

fn head_of(realm: &GitRealm) -> String {
    realm.head()
}

// ---- FTL's layouts ------------------------------------------------------------

/// `ftl-project.toml` of the shop with `pins` after FTL's keys.
fn shop_with(pins: &str) -> TestProject {
    let shop = TestProject::example("shop");
    shop.write(
        "ftl-project.toml",
        &format!(
            "name = \"shop\"\nmodule-dirs = [\"modules\"]\nconfig-provider = \"file:.ftl/configuration.json\"\n{pins}"
        ),
    );
    shop
}

fn add_label(bank: &GitRealm) -> String {
    bank.change(
        "modules/balance.ftl",
        "AccountRequest {\n    id String\n",
        "AccountRequest {\n    id String\n    label String?\n",
        "label",
    )
}

#[test]
fn ftls_inline_tables_are_read_updated_in_place_added_to_and_removed() {
    let bank = GitRealm::example("bank");
    let ledger = GitRealm::example("bank");
    let first = head_of(&bank);
    let original = format!(
        "\n# Written by ftl realm add.\n[external-realms]\nbank = {{ git-repo = \"{}\", git-branch = \"main\", git-commit = \"{first}\", git-path = \"ftl-external-schema.txtpb\" }}\n",
        bank.url()
    );
    let shop = shop_with(&original);
    let before = shop.read("ftl-project.toml");
    shop.realm(&["schema", "--realm", "bank"]).expect(0);

    let second = add_label(&bank);
    shop.realm(&["update"]).expect(0);
    assert_eq!(
        shop.read("ftl-project.toml"),
        before.replace(&first, &second)
    );

    let run = shop
        .realm(&["add", "--git-repo", &ledger.url(), "--name", "ledger"])
        .expect(0);
    assert!(
        run.stderr.starts_with("Pinned realm `ledger` to "),
        "{}",
        run.stderr
    );
    let added = shop.read("ftl-project.toml");
    assert_ftl_loads(shop.path(), "add to inline tables");
    let text = redact(&added, &[(&bank, "BANK"), (&ledger, "LEDGER")]);
    snapshots(|| insta::assert_snapshot!("ftl_layout_inline_add", text));

    let list = shop.realm(&["list"]).expect(0);
    let stdout = redact(&list.stdout, &[(&bank, "BANK"), (&ledger, "LEDGER")]);
    snapshots(|| insta::assert_snapshot!("ftl_layout_inline_list", stdout));

    shop.realm(&["remove", "ledger"]).expect(0);
    assert_eq!(
        shop.read("ftl-project.toml"),
        before.replace(&first, &second)
    );
    shop.realm(&["remove", "bank", "--force"]).expect(0);
    let text = shop.read("ftl-project.toml");
    assert!(!text.contains("external-realms"), "{text}");
}

#[test]
fn errors_in_ftls_forms_point_into_them() {
    let shop = shop_with(
        "\n[external-realms]\nbank = { git-repo = \"../bank\", git-branch = \"main\", git-commit = \"abc123\", git-path = \"ftl-external-schema.json\" }\n  [external-realms.crm]\n    git-branch = \"main\"\n    git-commit = \"0123456789abcdef0123456789abcdef01234567\"\n",
    );
    let before = shop.read("ftl-project.toml");
    let run = shop.realm(&["list"]).expect(1);
    snapshots(|| insta::assert_snapshot!("ftl_layout_errors_in_ftls_forms", run.stderr));
    let run = shop
        .realm(&["add", "--git-repo", "../elsewhere", "--name", "other"])
        .expect(1);
    assert!(
        run.stderr.contains("is not a full commit id"),
        "{}",
        run.stderr
    );
    assert_eq!(shop.read("ftl-project.toml"), before);
}

#[test]
fn ftls_indented_tables_are_read_updated_in_place_added_to_and_removed() {
    // What FTL's own `Save` (BurntSushi's encoder) writes.
    let bank = GitRealm::example("bank");
    let ledger = GitRealm::example("bank");
    let first = head_of(&bank);
    let original = format!(
        "\n[external-realms]\n  [external-realms.bank]\n    git-repo = \"{}\"\n    git-branch = \"main\"\n    git-commit = \"{first}\"\n    git-path = \"ftl-external-schema.txtpb\"\n",
        bank.url()
    );
    let shop = shop_with(&original);
    let before = shop.read("ftl-project.toml");
    shop.realm(&["schema", "--realm", "bank"]).expect(0);
    let second = add_label(&bank);
    shop.realm(&["update", "bank"]).expect(0);
    assert_eq!(
        shop.read("ftl-project.toml"),
        before.replace(&first, &second)
    );

    shop.realm(&["add", "--git-repo", &ledger.url(), "--name", "ledger"])
        .expect(0);
    assert_ftl_loads(shop.path(), "add to indented tables");
    let text = redact(
        &shop.read("ftl-project.toml"),
        &[(&bank, "BANK"), (&ledger, "LEDGER")],
    );
    snapshots(|| insta::assert_snapshot!("ftl_layout_indented_add", text));
    shop.realm(&["schema", "--realm", "ledger"]).expect(0);

    shop.realm(&["remove", "ledger"]).expect(0);
    assert_eq!(
        shop.read("ftl-project.toml"),
        before.replace(&first, &second)
    );
    shop.realm(&["remove", "bank", "--force"]).expect(0);
    let text = shop.read("ftl-project.toml");
    assert!(!text.contains("external-realms"), "{text}");
}

#[test]
fn a_new_pin_goes_after_the_last_pin_never_between_a_table_and_its_comments() {
    let bank = GitRealm::example("bank");
    let ledger = GitRealm::example("bank");
    let head = head_of(&bank);
    let pins = format!(
        "\n[external-realms.bank]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{head}\"\ngit-path = \"ftl-external-schema.txtpb\"\n# git-branch = \"release\"\n\n# Commands FTL runs when it starts.\n[commands]\nstartup = [\"echo hello\"]\n# startup = [\"make\"]\n",
        bank.url()
    );
    let shop = shop_with(&pins);
    shop.realm(&["add", "--git-repo", &ledger.url(), "--name", "ledger"])
        .expect(0);
    let text = shop.read("ftl-project.toml");
    let expected = format!(
        "# git-branch = \"release\"\n\n[external-realms.ledger]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{}\"\ngit-path = \"ftl-external-schema.json\"\n\n# Commands FTL runs when it starts.\n[commands]\nstartup = [\"echo hello\"]\n# startup = [\"make\"]\n",
        ledger.url(),
        head_of(&ledger)
    );
    assert!(text.ends_with(&expected), "{text}");
    assert_ftl_loads(shop.path(), "add after the last pin");

    // No pin yet: after everything, the comments of the last table
    // included.
    let shop = shop_with("\n[commands]\nstartup = [\"echo hello\"]\n# startup = [\"make\"]\n");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let text = shop.read("ftl-project.toml");
    assert!(
        text.contains("# startup = [\"make\"]\n\n[external-realms.bank]\n"),
        "{text}"
    );
}

// ---- which schema file a pin reads ----------------------------------------------

/// A copy of the bank example whose export is at `path` (and nowhere else),
/// with `settings` as its realm.toml (none when empty) and `legacy` added
/// to its ftl-project.toml.
fn bank_exporting(path: &str, settings: &str, legacy: &str) -> GitRealm {
    let bank = GitRealm::empty("main");
    crate::common::copy_dir(
        &crate::common::repo_root().join("examples/bank"),
        bank.path(),
    );
    let api = bank.read("ftl-external-schema.txtpb");
    std::fs::remove_file(bank.path().join("ftl-external-schema.txtpb")).expect("rm");
    std::fs::remove_file(bank.path().join("realm.toml")).expect("rm");
    bank.write(path, &api);
    if !settings.is_empty() {
        bank.write("realm.toml", settings);
    }
    let project = bank.read("ftl-project.toml");
    bank.write("ftl-project.toml", &format!("{project}{legacy}"));
    bank.commit("bank");
    bank
}

fn pinned_path(shop: &TestProject) -> String {
    shop.read("ftl-project.toml")
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("git-path = \""))
        .map(|p| p.trim_end_matches('"').to_string())
        .unwrap_or_default()
}

#[test]
fn add_reads_the_repositorys_export_else_ftls_default_else_the_txtpb() {
    // realm.toml's [realm] export.
    let bank = bank_exporting(
        "api/bank.txtpb",
        "[realm]\nexport = \"api/bank.txtpb\"\n",
        "",
    );
    let shop = TestProject::example("shop");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    assert_eq!(pinned_path(&shop), "api/bank.txtpb");
    shop.realm(&["schema", "--realm", "bank"]).expect(0);

    // The older layout's [realm] export in ftl-project.toml.
    let bank = bank_exporting(
        "old/bank.txtpb",
        "",
        "\n[realm]\nexport = \"old/bank.txtpb\"\n",
    );
    let shop = TestProject::example("shop");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    assert_eq!(pinned_path(&shop), "old/bank.txtpb");

    // No export setting: FTL's default file when the commit has it...
    let bank = bank_exporting("ftl-external-schema.txtpb", "", "");
    bank.write("ftl-external-schema.json", "{not json");
    bank.commit("FTL's file");
    let shop = TestProject::example("shop");
    let run = shop.realm(&["add", "--git-repo", &bank.url()]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: the public API in `ftl-external-schema.json` of "),
        "{}",
        run.stderr
    );
    // ...else the proto-text.
    std::fs::remove_file(bank.path().join("ftl-external-schema.json")).expect("rm");
    bank.commit("no FTL file");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    assert_eq!(pinned_path(&shop), "ftl-external-schema.txtpb");

    // A list: its first .json, what FTL reads.
    let bank = bank_exporting(
        "api/bank.txtpb",
        "[realm]\nexport = [\"api/bank.txtpb\", \"api/bank.json\"]\n",
        "",
    );
    bank.write("api/bank.json", "{not json");
    bank.commit("both");
    let shop = TestProject::example("shop");
    let run = shop.realm(&["add", "--git-repo", &bank.url()]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: the public API in `api/bank.json` of "),
        "{}",
        run.stderr
    );
    // --git-path wins, and is what the pin records.
    shop.realm(&[
        "add",
        "--git-repo",
        &bank.url(),
        "--git-path",
        "api/bank.txtpb",
    ])
    .expect(0);
    assert_eq!(pinned_path(&shop), "api/bank.txtpb");

    // Neither file, and no project file saying where: what to do.
    let empty = GitRealm::empty("main");
    empty.write("README", "nothing here\n");
    empty.commit("readme");
    let run = shop
        .realm(&["add", "--git-repo", &empty.url(), "--name", "nothing"])
        .expect(1);
    let stderr = redact(&run.stderr, &[(&empty, "REPO")]);
    snapshots(|| insta::assert_snapshot!("ftl_layout_no_schema_file", stderr));
}

// ---- the older layout, and realm migrate ------------------------------------------

/// A project in the layout of earlier versions: realm's settings and pins
/// in ftl-project.toml, with comments.
fn legacy_shop(bank: &GitRealm) -> TestProject {
    let shop = TestProject::example("shop");
    std::fs::remove_file(shop.path().join("realm.toml")).expect("rm realm.toml");
    shop.write(
        "ftl-project.toml",
        &format!(
            "# The shop realm.\nname = \"shop\"\nmodule-dirs = [\"modules\"]\nconfig-provider = \"file:.ftl/configuration.json\"\n\n\
             # Where the public API goes.\n[realm]\nexport = \"ftl-external-schema.txtpb\"\n\n\
             # The pinned bank.\n[realms.egress.bank]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{}\"\n\n\
             # How the ingress runs.\n[ingress]\nlisten = \"127.0.0.1:8891\" # the shop's port\n\n\
             [ingress.runners]\ncheckout = \"http://127.0.0.1:9102\"\n# default = \"http://${{module}}:8892\"\n\n\
             # FTL's own settings.\n[modules.checkout.configuration]\nurl = \"http://localhost\"\n",
            bank.url(),
            head_of(bank)
        ),
    );
    shop
}

#[test]
fn the_older_layout_is_read_with_warnings_and_realm_migrate_moves_it() {
    let bank = GitRealm::example("bank");
    let shop = legacy_shop(&bank);
    let run = shop.realm(&["schema", "--realm", "bank"]).expect(0);
    let stderr = redact(&run.stderr, &[(&bank, "BANK")]);
    snapshots(|| insta::assert_snapshot!("ftl_layout_older_layout_warnings", stderr));

    // realm add keeps the older pin table in a file that uses it.
    let ledger = GitRealm::example("bank");
    shop.realm(&["add", "--git-repo", &ledger.url(), "--name", "ledger"])
        .expect(0);
    let text = shop.read("ftl-project.toml");
    assert!(
        text.contains(&format!(
            "git-commit = \"{}\"\n\n[realms.egress.ledger]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{}\"\n\n# How the ingress runs.",
            head_of(&bank),
            ledger.url(),
            head_of(&ledger)
        )),
        "{text}"
    );

    // A key in both files is an error naming both.
    shop.write("realm.toml", "[ingress]\nlisten = \"127.0.0.1:9999\"\n");
    let run = shop.realm(&["list"]).expect(1);
    snapshots(|| insta::assert_snapshot!("ftl_layout_key_in_both_files", run.stderr));
    std::fs::remove_file(shop.path().join("realm.toml")).expect("rm");

    let run = shop.realm(&["migrate"]).expect(0);
    snapshots(|| insta::assert_snapshot!("ftl_layout_migrate_output", run.stderr));
    assert_ftl_loads(shop.path(), "realm migrate");
    let project = redact(
        &shop.read("ftl-project.toml"),
        &[(&bank, "BANK"), (&ledger, "LEDGER")],
    );
    let settings = shop.read("realm.toml");
    snapshots(|| {
        insta::assert_snapshot!("ftl_layout_migrated_project", project);
        insta::assert_snapshot!("ftl_layout_migrated_settings", settings);
    });
    // No warnings left; the same schema; a second run has nothing to do.
    let run = shop.realm(&["schema", "--realm", "bank"]).expect(0);
    assert_eq!(run.stderr, "");
    let run = shop.realm(&["migrate"]).expect(0);
    assert_eq!(
        run.stderr,
        "Nothing to migrate: ftl-project.toml holds only keys FTL knows\n"
    );
    // And the ingress reads its settings from realm.toml.
    let project = realm::project::Project::load(shop.path()).expect("load");
    assert_eq!(project.ingress.listen.as_deref(), Some("127.0.0.1:8891"));
    assert_eq!(project.ingress_file, "realm.toml");
    assert_eq!(project.ingress.runners.len(), 1);
}

#[test]
fn migrate_splits_what_an_earlier_realm_init_wrote() {
    // ftl-project.toml as `realm init` wrote it before realm.toml: every
    // key of realm's described in it, most commented out.
    let old = std::fs::read_to_string(
        crate::common::repo_root().join("tests/ftl-layout/old-init-ftl-project.toml"),
    )
    .expect("fixture");
    let shop = TestProject::example("shop");
    std::fs::remove_file(shop.path().join("realm.toml")).expect("rm realm.toml");
    shop.write("ftl-project.toml", &old);
    shop.realm(&["migrate", "--offline"]).expect(0);
    assert_ftl_loads(shop.path(), "realm migrate of an earlier init");
    let project = shop.read("ftl-project.toml");
    let settings = shop.read("realm.toml");
    // Each comment went with what it describes.
    for (text, file, here) in [
        ("# config-provider = ", &project, true),
        ("# [external-realms.crm]", &project, true),
        ("# [realms.egress.bank]", &project, true),
        ("# descriptor-set = ", &settings, true),
        ("# max-hops = 8", &settings, true),
        ("# bank = \"certs/bank-ca.pem\"", &settings, true),
        ("\n[ingress", &project, false),
        ("\n[realm]", &project, false),
    ] {
        assert_eq!(file.contains(text), here, "{text}:\n{file}");
    }
    assert!(!project.contains("\n\n\n") && !settings.contains("\n\n\n"));
    let run = shop.realm(&["schema", "--offline"]).expect(1);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    // A pin added now goes below the commented-out example of FTL's table.
    let bank = GitRealm::example("bank");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let project = shop.read("ftl-project.toml");
    assert!(
        project.ends_with(&format!(
            "# git-commit = \"0123456789abcdef0123456789abcdef01234567\"\n\n[external-realms.bank]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{}\"\ngit-path = \"ftl-external-schema.json\"\n",
            bank.url(),
            head_of(&bank)
        )),
        "{project}"
    );
    shop.realm(&["schema"]).expect(0);
}

#[test]
fn one_name_in_both_pin_tables_is_an_error() {
    let bank = GitRealm::example("bank");
    let head = head_of(&bank);
    let shop = shop_with(&format!(
        "\n[realms.egress.bank]\ngit-repo = \"{0}\"\ngit-commit = \"{head}\"\n\n[external-realms.bank]\ngit-repo = \"{0}\"\ngit-commit = \"{head}\"\n",
        bank.url()
    ));
    let run = shop.realm(&["list"]).expect(1);
    snapshots(|| insta::assert_snapshot!("ftl_layout_pinned_in_both_tables", run.stderr));
}

#[test]
fn unknown_keys_in_realms_tables_are_warnings_naming_key_table_and_place() {
    let bank = GitRealm::example("bank");
    let shop = shop_with(&format!(
        "\n[external-realms.bank]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{}\"\ngit-sha = \"abc\"\n",
        bank.url(),
        head_of(&bank)
    ));
    shop.write(
        "realm.toml",
        "colour = \"blue\"\n\n[realm]\nexport = \"ftl-external-schema.txtpb\"\nexprot = \"x\"\n\n[ingress]\nlisten = \"127.0.0.1:8891\"\nlisten-port = 1\n\n[ingress.tls]\nflavour = \"mild\"\n",
    );
    let run: Run = shop.realm(&["list"]).expect(0);
    let stderr = redact(&run.stderr, &[(&bank, "BANK")]);
    snapshots(|| insta::assert_snapshot!("ftl_layout_unknown_keys", stderr));
    // The commands that load the whole project print them too.
    let run = shop.realm(&["schema", "--realm", "bank"]).expect(0);
    assert!(
        run.stderr
            .contains("unknown key `git-sha` in `[external-realms.bank]` of ftl-project.toml"),
        "{}",
        run.stderr
    );
}

// ---- the cache after a failed add ---------------------------------------------------

fn cache_entries(shop: &TestProject) -> Vec<String> {
    match std::fs::read_dir(shop.cache_dir().join("git")) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_failed_add_leaves_nothing_in_the_cache() {
    let shop = TestProject::example("shop");
    shop.realm(&["add", "--git-repo", "/nonexistent/bank"])
        .expect(1);
    shop.realm(&["add", "--git-repo", "http://127.0.0.1:1/bank.git"])
        .expect(1);
    let bank = GitRealm::example("bank");
    shop.realm(&["add", "--git-repo", &bank.url(), "--git-branch", "nope"])
        .expect(1);
    shop.realm(&["add", "--git-repo", &bank.url(), "--git-path", "nope.txtpb"])
        .expect(1);
    assert_eq!(cache_entries(&shop), Vec::<String>::new());

    // What a successful add fetched stays, also when a later add of the
    // same repository fails.
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let cached = cache_entries(&shop);
    assert_eq!(cached.len(), 2, "{cached:?}");
    shop.realm(&[
        "add",
        "--git-repo",
        &bank.url(),
        "--name",
        "again",
        "--git-path",
        "nope.txtpb",
    ])
    .expect(1);
    assert_eq!(cache_entries(&shop), cached);
}
