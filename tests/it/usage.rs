//! Issue 27, items 4 and 5: what a realm uses of the realms it pins (the
//! usage file) and the callee's breaking changes judged against it, from
//! real projects: the shop pins the bank from a git repository.

use std::path::Path;

use realm::schema::callers::{Caller, classify};
use realm::schema::diff::diff;
use realm::schema::usage::{UsageFile, usage};
use realm::schema::{Realm, public_api};
use realm::workspace::Workspace;

use crate::common::{GitRealm, TestProject, snapshots};

fn load(dir: &Path, cache: &Path) -> Workspace {
    let ctx = realm::pins::Context {
        cache: realm::pins::Cache::new(cache.to_path_buf()),
        offline: true,
        progress: None,
        deny_warnings: false,
    };
    Workspace::load(dir, &ctx).expect("load the workspace")
}

/// The shop with the bank pinned.
fn shop_pinning_bank() -> (TestProject, GitRealm) {
    let (shop, bank) = (TestProject::example("shop"), GitRealm::example("bank"));
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    (shop, bank)
}

/// The bank's public API as its work tree has it now.
fn bank_api(bank: &GitRealm) -> Realm {
    let cache = tempfile::tempdir().expect("create a temporary directory");
    public_api(load(bank.path(), cache.path()).internal_realm())
}

#[test]
fn the_shop_uses_the_verb_it_calls_and_the_types_it_reaches() {
    let (shop, _bank) = shop_pinning_bank();
    let ws = load(shop.path(), shop.cache_dir());
    let file = usage(&ws.schema);
    let text = file.to_json();
    snapshots(|| insta::assert_snapshot!("usage_shop_of_bank", text));
    assert_eq!(UsageFile::from_json(&text).expect("read back"), file);
    let bank = file.realm("bank").expect("the shop uses the bank");
    // Called: `+calls balance.withdraw@bank` (line 5); referred to: the
    // private `Receipt`'s field (line 29).
    let withdraw = bank.decl("balance.withdraw").expect("withdraw is used");
    assert_eq!(
        withdraw
            .uses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["modules/checkout.ftl:5:12"]
    );
    // Not called by the shop.
    assert!(bank.decl("balance.account").is_none());
    assert!(bank.decl("audit.record").is_none());
}

#[test]
fn a_breaking_change_the_shop_uses_names_it_one_nobody_uses_is_safe() {
    let (shop, bank) = shop_pinning_bank();
    let ws = load(shop.path(), shop.cache_dir());
    let file = usage(&ws.schema);
    let callers = [Caller {
        name: &file.caller,
        usage: file.realm("bank").expect("the shop uses the bank"),
    }];
    let before = bank_api(&bank);

    // `account` is not called by the shop: removing it breaks nobody.
    let balance = bank.read("modules/balance.ftl");
    let without_account = balance.replacen(
        "export realm verb account(balance.AccountRequest) balance.Account",
        "verb account(balance.AccountRequest) balance.Account",
        1,
    );
    bank.write("modules/balance.ftl", &without_account);
    let classified = classify(&diff(&before, &bank_api(&bank)), &callers);
    assert!(!classified.breaks_a_caller(), "{classified:?}");
    let safe: Vec<String> = classified.safe.iter().map(ToString::to_string).collect();
    assert!(
        safe.contains(&"balance.account: verb removed".to_string()),
        "{safe:?}"
    );

    // A new required request field of `withdraw` breaks the shop, at its
    // `+calls` line.
    let required = balance.replacen("    amount Int\n", "    amount Int\n    branch String\n", 1);
    bank.write("modules/balance.ftl", &required);
    let classified = classify(&diff(&before, &bank_api(&bank)), &callers);
    let used: Vec<String> = classified.used.iter().map(ToString::to_string).collect();
    assert_eq!(
        used,
        [
            "balance.WithdrawRequest: required field `branch` added to a request — used by shop (modules/checkout.ftl:5:12)"
        ]
    );
}

// ---- realm export ------------------------------------------------------------

#[test]
fn export_writes_the_usage_file_and_check_covers_it() {
    let (shop, _bank) = shop_pinning_bank();
    // Pinning the bank made the shop a caller: the usage file is missing.
    let check = shop.realm(&["export", "--check"]).expect(3);
    assert!(
        check.stderr.contains(
            "error: ftl-realm-usage.json does not exist\nhelp: run `realm export` and commit ftl-realm-usage.json"
        ),
        "{}",
        check.stderr
    );
    let run = shop.realm(&["export"]).expect(0);
    assert!(
        run.stderr.contains("ftl-realm-usage.json"),
        "{}",
        run.stderr
    );
    let written = shop.read("ftl-realm-usage.json");
    // What the library computes (snapshot: `usage_shop_of_bank`).
    let ws = load(shop.path(), shop.cache_dir());
    assert_eq!(written, usage(&ws.schema).to_json());
    shop.realm(&["export", "--check"]).expect(0);

    // A new call into the bank: the file is stale, with a diff.
    let checkout = shop.read("modules/checkout.ftl");
    shop.write(
        "modules/checkout.ftl",
        &checkout.replacen(
            "    +calls balance.withdraw@bank\n",
            "    +calls balance.withdraw@bank, balance.account@bank\n",
            1,
        ),
    );
    let stale = shop.realm(&["export", "--check"]).expect(3);
    assert!(
        stale.stderr.contains(
            "error: ftl-realm-usage.json is stale: what realm `shop` uses of the realms it pins has changed"
        ),
        "{}",
        stale.stderr
    );
    assert!(
        stale
            .stdout
            .contains("+          \"name\": \"balance.account\","),
        "{}",
        stale.stdout
    );
    assert_eq!(shop.read("ftl-realm-usage.json"), written, "--check wrote");
}

#[test]
fn the_usage_file_goes_where_realm_toml_says_and_not_with_output() {
    let (shop, _bank) = shop_pinning_bank();
    let settings = shop.read("realm.toml");
    shop.write(
        "realm.toml",
        &settings.replacen("[realm]\n", "[realm]\nusage = \"api/uses.json\"\n", 1),
    );
    std::fs::create_dir_all(shop.path().join("api")).expect("create api/");
    shop.realm(&["export"]).expect(0);
    assert!(shop.exists("api/uses.json"));
    assert!(!shop.exists("ftl-realm-usage.json"));
    // `--output` writes that one file only.
    std::fs::remove_file(shop.path().join("api/uses.json")).expect("remove");
    shop.realm(&["export", "--output", "one.txtpb"]).expect(0);
    assert!(!shop.exists("api/uses.json"));

    shop.write(
        "realm.toml",
        &settings.replacen("[realm]\n", "[realm]\nusage = \"../uses.json\"\n", 1),
    );
    let refused = shop.realm(&["export"]).expect(1);
    assert!(
        refused
            .stderr
            .contains("`[realm] usage` \"../uses.json\" is not a path inside the project"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_realm_that_pins_nothing_gets_no_usage_file() {
    let bank = TestProject::example("bank");
    bank.realm(&["export"]).expect(0);
    assert!(!bank.exists("ftl-realm-usage.json"));
    bank.realm(&["export", "--check"]).expect(0);
}
