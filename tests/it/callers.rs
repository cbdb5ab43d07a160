//! Two-way pins: a realm pins the realms that call it
//! (`[caller-realms.<name>]` of realm.toml), for their public keys and
//! their usage files. Real git repositories in temporary directories.

use realm::pins::{Cache, Context, pinned_keys};
use realm::project::Project;

use std::cell::RefCell;

use crate::common::{GitRealm, Run, TestProject, run_realm_with, snapshots};

const KEY_1: &str = "ed25519:8750d5e81a71eb33:NqCxcraEFx/OVlpLyM1IxjrK3i64uzueoJQEIWlvai4=";
const KEY_2: &str = "ed25519:3da52b41e7b7a9ea:26/IS9jNLwfb+GRQabyMmXP2FcpYaARz50Nt0nsvhfE=";

/// `bank` with `shop` pinned as its caller at `commit`.
fn bank_called_by(shop: &GitRealm, commit: &str) -> TestProject {
    let bank = TestProject::example("bank");
    let settings = bank.read("realm.toml");
    bank.write(
        "realm.toml",
        &format!(
            "{settings}\n[caller-realms.shop]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{commit}\"\n",
            shop.url()
        ),
    );
    bank
}

fn keys_of_shop(bank: &TestProject) -> Vec<(String, bool)> {
    let project = Project::load(bank.path()).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(project.pins.is_empty(), "callers are not pins");
    let pin = project.caller("shop").expect("caller pin");
    let ctx = Context {
        cache: Cache::new(bank.cache_dir().to_path_buf()),
        offline: false,
        progress: None,
        deny_warnings: false,
    };
    pinned_keys(&project, pin, &ctx)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .into_iter()
        .map(|k| (k.id, k.retired))
        .collect()
}

#[test]
fn a_caller_pin_trusts_exactly_the_keys_of_its_commit() {
    let shop = GitRealm::example("shop");
    let none = shop.head();
    let settings = shop.read("realm.toml");
    let with_keys = |public: &[&str], retired: &[&str]| {
        let list = |keys: &[&str]| {
            keys.iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        settings.replacen(
            "[realm]\n",
            &format!(
                "[realm]\npublic-keys = [{}]\nretired-keys = [{}]\n",
                list(public),
                list(retired)
            ),
            1,
        )
    };
    shop.write("realm.toml", &with_keys(&[KEY_1], &[]));
    let one = shop.commit("key 1");
    shop.write("realm.toml", &with_keys(&[KEY_2], &[KEY_1]));
    let rotated = shop.commit("key 2, key 1 retired");
    std::fs::remove_file(shop.path().join("realm.toml")).expect("remove realm.toml");
    let no_settings = shop.commit("no realm.toml");

    assert_eq!(keys_of_shop(&bank_called_by(&shop, &none)), []);
    assert_eq!(
        keys_of_shop(&bank_called_by(&shop, &one)),
        [("8750d5e81a71eb33".to_string(), false)]
    );
    assert_eq!(
        keys_of_shop(&bank_called_by(&shop, &rotated)),
        [
            ("3da52b41e7b7a9ea".to_string(), false),
            ("8750d5e81a71eb33".to_string(), true)
        ]
    );
    assert_eq!(keys_of_shop(&bank_called_by(&shop, &no_settings)), []);
}

/// A bank and a shop in git repositories: the shop pins the bank (and
/// publishes what it uses of it), the bank pins the shop as its caller.
struct TwoWay {
    bank: GitRealm,
    shop: GitRealm,
    cache: tempfile::TempDir,
    /// Commit ids and how snapshots name them.
    commits: RefCell<Vec<(String, String)>>,
}

const BALANCE: &str = "modules/balance.ftl";

/// The bank's balance module as the shop pins it: the example's, with an
/// enum the shop reaches (`Currency`, through `WithdrawResponse`), one it
/// does not (`Tier`), and an optional field of a request it does not use.
fn base_balance() -> String {
    let text = std::fs::read_to_string(
        crate::common::repo_root()
            .join("examples/bank")
            .join(BALANCE),
    )
    .expect("balance.ftl");
    let edits = [
        (
            "  export realm data WithdrawResponse {\n    balance Int\n",
            "  export realm data WithdrawResponse {\n    balance Int\n    currency balance.Currency\n",
        ),
        (
            "    currency balance.Currency\n  }\n",
            "    currency balance.Currency\n    tier balance.Tier\n  }\n\n  export realm enum Tier: Int {\n    Basic = 0\n    Gold = 1\n  }\n",
        ),
        (
            "    id String\n  }\n\n  // Settles",
            "    id String\n    hint String?\n  }\n\n  // Settles",
        ),
    ];
    edits.iter().fold(text, |text, (from, to)| {
        assert!(text.contains(from), "balance.ftl has no {from:?}");
        text.replacen(from, to, 1)
    })
}

impl TwoWay {
    fn new() -> TwoWay {
        let bank = GitRealm::empty("main");
        crate::common::copy_dir(
            &crate::common::repo_root().join("examples/bank"),
            bank.path(),
        );
        bank.write(BALANCE, &base_balance());
        bank.export();
        let bank_commit = bank.commit("bank");
        let two = TwoWay {
            bank,
            shop: GitRealm::example("shop"),
            cache: tempfile::tempdir().expect("tempdir"),
            commits: RefCell::new(vec![(bank_commit, "bank1".to_string())]),
        };
        two.shop(&["add", "--git-repo", &two.bank.url()]).expect(0);
        two.shop(&["export"]).expect(0);
        let shop_commit = two.shop.commit("shop pins bank");
        two.named(shop_commit, "shop1");
        two
    }

    fn named(&self, commit: String, name: &str) {
        self.commits.borrow_mut().push((commit, name.to_string()));
    }

    fn bank(&self, args: &[&str]) -> Run {
        run_realm_with(
            self.bank.path(),
            args,
            &[("REALM_CACHE_DIR", self.cache.path())],
        )
    }

    fn shop(&self, args: &[&str]) -> Run {
        run_realm_with(
            self.shop.path(),
            args,
            &[("REALM_CACHE_DIR", self.cache.path())],
        )
    }

    /// `text` with the repositories' paths and commit ids named.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (realm, name) in [(&self.bank, "BANK"), (&self.shop, "SHOP")] {
            out = out.replace(&realm.url(), &format!("<{name}>"));
        }
        for (commit, name) in self.commits.borrow().iter() {
            out = out
                .replace(commit.as_str(), &format!("<{name}>"))
                .replace(&commit[..7], &format!("<{name}>"));
        }
        out
    }

    /// [`Self::redact`], the paths padded to their length (table columns
    /// stay aligned; the temporary directories' names are equally long).
    fn redact_aligned(&self, text: &str, others: &[(&GitRealm, &str)]) -> String {
        let mut out = text.to_string();
        for (realm, name) in [(&self.bank, "BANK"), (&self.shop, "SHOP")]
            .into_iter()
            .chain(others.iter().copied())
        {
            let url = realm.url();
            out = out.replace(&url, &format!("{:<1$}", format!("<{name}>"), url.len()));
        }
        self.redact(&out)
    }

    /// stdout and stderr of `run`, redacted, with its exit code.
    fn shown(&self, run: &Run) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            run.code,
            self.redact(&run.stdout),
            self.redact(&run.stderr)
        )
    }
}

#[test]
fn caller_pins_add_list_update_and_remove_both_ways() {
    let two = TwoWay::new();
    let shop = two.shop.url();
    let run = two
        .bank(&["add", "--caller", "--git-repo", &shop])
        .expect(0);
    snapshots(|| insta::assert_snapshot!("callers_add", two.redact(&run.stderr)));
    assert!(!two.bank.read("ftl-project.toml").contains("caller-realms"));
    assert!(two.bank.read("realm.toml").contains("[caller-realms.shop]"));
    let settings = two.bank.read("realm.toml");
    let run = two
        .bank(&["add", "--caller", "--git-repo", &shop])
        .expect(1);
    snapshots(|| insta::assert_snapshot!("callers_add_twice", two.redact(&run.stderr)));
    assert_eq!(
        two.bank.read("realm.toml"),
        settings,
        "a failed add writes nothing"
    );

    // The shop pinned the other way too, and a caller without keys or usage.
    two.bank(&["add", "--git-repo", &shop]).expect(0);
    let plain = GitRealm::example("shop");
    two.named(plain.head(), "cafe1");
    let run = two
        .bank(&[
            "add",
            "--caller",
            "--name",
            "cafe",
            "--git-repo",
            &plain.url(),
        ])
        .expect(0);
    snapshots(|| {
        insta::assert_snapshot!(
            "callers_add_without_keys_or_usage",
            two.redact(&run.stderr).replace(&plain.url(), "<CAFE>")
        )
    });
    let run = two.bank(&["list"]).expect(0);
    snapshots(|| {
        insta::assert_snapshot!(
            "callers_list",
            two.redact_aligned(&run.stdout, &[(&plain, "CAFE")])
        )
    });
    let json: serde_json::Value =
        serde_json::from_str(&two.bank(&["list", "--format", "json"]).expect(0).stdout)
            .expect("JSON");
    let roles: Vec<(&str, &str)> = json
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name"),
                p["role"].as_str().expect("role"),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [("shop", "callee"), ("shop", "caller"), ("cafe", "caller")]
    );

    // The shop publishes a key: `update --caller` moves the caller pins
    // only, and ftl-project.toml stays as it was.
    let settings = two.shop.read("realm.toml");
    two.shop.write(
        "realm.toml",
        &settings.replacen(
            "[realm]\n",
            &format!("[realm]\npublic-keys = [\"{KEY_1}\"]\n"),
            1,
        ),
    );
    let keyed = two.shop.commit("a key");
    two.named(keyed, "shop2");
    let project_file = two.bank.read("ftl-project.toml");
    let run = two.bank(&["update", "--caller", "shop"]).expect(0);
    snapshots(|| insta::assert_snapshot!("callers_update_caller_only", two.shown(&run)));
    assert_eq!(two.bank.read("ftl-project.toml"), project_file);
    assert!(two.bank.read("realm.toml").contains(&two.shop.head()));

    // `update shop` moves both pins of the shop.
    let text = two.shop.read("modules/checkout.ftl");
    two.shop.write(
        "modules/checkout.ftl",
        &text.replacen("    total Int\n", "    total Int\n    note String?\n", 1),
    );
    two.shop(&["export"]).expect(0);
    let moved = two.shop.commit("a note in the response");
    two.named(moved.clone(), "shop3");
    let run = two.bank(&["update", "shop"]).expect(0);
    snapshots(|| insta::assert_snapshot!("callers_update_both", two.shown(&run)));
    assert!(two.bank.read("ftl-project.toml").contains(&moved));
    assert!(two.bank.read("realm.toml").contains(&moved));

    // remove: NAME is the pin of the realm called; --caller the caller pin;
    // a caller-only NAME its caller pin.
    let run = two.bank(&["remove", "shop"]).expect(0);
    snapshots(|| insta::assert_snapshot!("callers_remove_both_ways", two.redact(&run.stderr)));
    assert!(
        !two.bank
            .read("ftl-project.toml")
            .contains("[external-realms.shop]")
    );
    assert!(two.bank.read("realm.toml").contains("[caller-realms.shop]"));
    let run = two.bank(&["remove", "--caller", "shop"]).expect(0);
    snapshots(|| insta::assert_snapshot!("callers_remove_caller", two.redact(&run.stderr)));
    assert!(!two.bank.read("realm.toml").contains("[caller-realms.shop]"));
    let run = two.bank(&["remove", "--caller", "shop"]).expect(1);
    snapshots(|| insta::assert_snapshot!("callers_remove_caller_not_pinned", run.stderr));
    let run = two.bank(&["remove", "cafe"]).expect(0);
    assert!(
        run.stderr.starts_with("Removed caller `cafe`"),
        "{}",
        run.stderr
    );
    assert!(!two.bank.read("realm.toml").contains("caller-realms"));
}

#[test]
fn caller_pins_in_the_wrong_file_or_broken_are_errors_with_positions() {
    let bank = TestProject::new("bank");
    let pin = "git-repo = \"../shop\"\ngit-commit = \"0123456789abcdef0123456789abcdef01234567\"\n";
    bank.write(
        "ftl-project.toml",
        &format!("name = \"bank\"\nmodule-dirs = [\"modules\"]\n\n[caller-realms.shop]\n{pin}"),
    );
    let run = bank.realm(&["list"]).expect(1);
    snapshots(|| insta::assert_snapshot!("callers_in_ftl_project_toml", run.stderr));

    bank.write(
        "ftl-project.toml",
        "name = \"bank\"\nmodule-dirs = [\"modules\"]\n",
    );
    bank.write(
        "realm.toml",
        &format!(
            "[caller-realms.shop]\ngit-repo = \"../shop\"\n\n[caller-realms.bank]\n{pin}\n[caller-realms.cafe]\ngit-repo = \"../cafe\"\ngit-commit = \"main\"\n"
        ),
    );
    let run = bank.realm(&["list"]).expect(1);
    snapshots(|| insta::assert_snapshot!("callers_broken_pins", run.stderr));
    let run = bank.realm(&["check-callers"]).expect(1);
    assert!(run.stderr.contains("has no `git-commit`"), "{}", run.stderr);
}

/// One change to the bank's committed balance.ftl.
struct Case {
    name: &'static str,
    from: &'static str,
    to: &'static str,
    /// Whether the shop uses what changes (exit 3) or not (exit 0).
    used: bool,
}

const MATRIX: &[Case] = &[
    Case {
        name: "verb_removed_used",
        from: "  export realm verb withdraw(balance.WithdrawRequest) balance.WithdrawResponse\n    +retry 3 1s 30s\n    +database uses balance.accounts\n    +calls audit.record\n",
        to: "",
        used: true,
    },
    Case {
        name: "verb_removed_unused",
        from: "  export realm verb account(balance.AccountRequest) balance.Account\n    +database uses balance.accounts\n",
        to: "",
        used: false,
    },
    Case {
        name: "verb_renamed_used",
        from: "verb withdraw(",
        to: "verb take(",
        used: true,
    },
    Case {
        name: "verb_renamed_unused",
        from: "verb account(",
        to: "verb lookup(",
        used: false,
    },
    Case {
        name: "verb_retyped_used",
        from: "withdraw(balance.WithdrawRequest) balance.WithdrawResponse",
        to: "withdraw(balance.WithdrawRequest) balance.Account",
        used: true,
    },
    Case {
        name: "verb_retyped_unused",
        from: "account(balance.AccountRequest)",
        to: "account(balance.WithdrawRequest)",
        used: false,
    },
    Case {
        name: "field_made_required_used",
        from: "memo String? +alias",
        to: "memo String +alias",
        used: true,
    },
    Case {
        name: "field_made_required_unused",
        from: "hint String?",
        to: "hint String",
        used: false,
    },
    Case {
        name: "variant_removed_used",
        from: "    Usd = \"USD\"\n",
        to: "",
        used: true,
    },
    Case {
        name: "variant_removed_unused",
        from: "    Gold = 1\n",
        to: "",
        used: false,
    },
];

#[test]
fn check_callers_fails_on_what_a_caller_uses_and_lists_the_rest_as_safe() {
    let two = TwoWay::new();
    two.bank(&["add", "--caller", "--git-repo", &two.shop.url()])
        .expect(0);
    let run = two.bank(&["check-callers"]).expect(0);
    snapshots(|| insta::assert_snapshot!("check_callers_unchanged", two.shown(&run)));

    let base = two.bank.read(BALANCE);
    for case in MATRIX {
        assert!(base.contains(case.from), "{}: {:?}", case.name, case.from);
        two.bank
            .write(BALANCE, &base.replacen(case.from, case.to, 1));
        let run = two
            .bank(&["check-callers"])
            .expect(if case.used { 3 } else { 0 });
        snapshots(|| {
            insta::assert_snapshot!(format!("check_callers_{}", case.name), two.shown(&run))
        });
        // Nothing is written.
        assert_eq!(two.bank.read(BALANCE), base.replacen(case.from, case.to, 1));
        if case.name == "verb_renamed_used" {
            let run = two.bank(&["check-callers", "--format", "json"]).expect(3);
            snapshots(|| insta::assert_snapshot!("check_callers_json", two.redact(&run.stdout)));
            // `realm export --check` runs the same check.
            let run = two.bank(&["export", "--check"]).expect(3);
            assert!(
                run.stderr.contains("breaks a caller: shop"),
                "{}",
                run.stderr
            );
        }
    }

    // Committed, the change is the base's: `--base` names the commit before.
    let used = &MATRIX[6];
    two.bank
        .write(BALANCE, &base.replacen(used.from, used.to, 1));
    two.bank.export();
    two.bank.commit("memo required");
    two.bank(&["check-callers"]).expect(0);
    let run = two.bank(&["check-callers", "--base", "HEAD~1"]).expect(3);
    assert!(
        run.stdout.contains(
            "field `memo` became required in a request — used by shop (modules/checkout.ftl:5:12)"
        ),
        "{}",
        run.stdout
    );
    two.bank(&["export", "--check"]).expect(0);
    two.bank(&["export", "--check", "--base", "HEAD~1"])
        .expect(3);
    let run = two.bank(&["check-callers", "--base", "nope"]).expect(1);
    assert!(
        run.stderr.contains("`nope` names no commit"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_callers_outside_git_or_without_callers_says_what_to_do() {
    let bank = TestProject::example("bank");
    let run = bank.realm(&["check-callers"]).expect(0);
    assert_eq!(
        run.stderr,
        "No callers are pinned: nothing to check.\nhelp: pin a realm that calls this one with `realm add --caller --git-repo <url>`\n"
    );
    let shop = GitRealm::example("shop");
    bank.realm(&["add", "--caller", "--git-repo", &shop.url()])
        .expect(0);
    let settings = bank.read("realm.toml");
    let run = bank.realm(&["check-callers"]).expect(1);
    let stderr = run
        .stderr
        .replace(&bank.path().display().to_string(), "<BANK>");
    snapshots(|| insta::assert_snapshot!("check_callers_not_in_git", stderr));
    assert_eq!(bank.read("realm.toml"), settings);
}

#[test]
fn a_caller_that_pins_this_realm_under_another_name_is_checked_too() {
    let two = TwoWay::new();
    two.bank(&["add", "--caller", "--git-repo", &two.shop.url()])
        .expect(0);
    // The cafe pins the bank as `ledger`: its usage file names `ledger`,
    // and the bank's own name, by which the bank finds what it uses.
    let cafe = GitRealm::example("shop");
    let text = cafe.read("modules/checkout.ftl");
    cafe.write("modules/checkout.ftl", &text.replace("@bank", "@ledger"));
    run_realm_with(
        cafe.path(),
        &["add", "--git-repo", &two.bank.url(), "--name", "ledger"],
        &[("REALM_CACHE_DIR", two.cache.path())],
    )
    .expect(0);
    run_realm_with(
        cafe.path(),
        &["export"],
        &[("REALM_CACHE_DIR", two.cache.path())],
    )
    .expect(0);
    assert!(
        cafe.read("ftl-realm-usage.json")
            .contains("\"realm\": \"ledger\",\n      \"own-name\": \"bank\"")
    );
    two.named(cafe.commit("cafe pins the bank as ledger"), "cafe1");
    let run = two
        .bank(&[
            "add",
            "--caller",
            "--name",
            "cafe",
            "--git-repo",
            &cafe.url(),
        ])
        .expect(0);
    snapshots(|| {
        insta::assert_snapshot!(
            "callers_add_usage_under_another_name",
            two.redact(&run.stderr).replace(&cafe.url(), "<CAFE>")
        )
    });
    let base = two.bank.read(BALANCE);
    two.bank
        .write(BALANCE, &base.replacen("verb withdraw(", "verb take(", 1));
    let run = two.bank(&["check-callers"]).expect(3);
    snapshots(|| insta::assert_snapshot!("check_callers_two_callers", two.shown(&run)));

    // A usage file that does not read: a warning when pinned, an error
    // (exit 1, nothing written) when checked.
    cafe.write("ftl-realm-usage.json", "{\"format\": \"realm-usage/9\"}\n");
    two.named(cafe.commit("a usage file from the future"), "cafe2");
    let run = two.bank(&["update", "--caller", "cafe"]).expect(0);
    assert!(run.stdout.contains("cafe (caller)"), "{}", run.stdout);
    let settings = two.bank.read("realm.toml");
    let run = two.bank(&["check-callers"]).expect(1);
    snapshots(|| {
        insta::assert_snapshot!(
            "check_callers_unreadable_usage",
            two.redact(&run.stderr).replace(&cafe.url(), "<CAFE>")
        )
    });
    assert_eq!(two.bank.read("realm.toml"), settings);
    let run = two
        .bank(&[
            "add",
            "--caller",
            "--name",
            "cafe_2",
            "--git-repo",
            &cafe.url(),
        ])
        .expect(0);
    assert!(
        run.stderr.contains(
            "warning: the usage file of caller `cafe_2` does not read: `ftl-realm-usage.json` of realm `shop`"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_caller_without_a_usage_file_is_not_counted_as_checked() {
    let two = TwoWay::new();
    two.bank(&["add", "--caller", "--git-repo", &two.shop.url()])
        .expect(0);
    // A caller whose pinned commit has no usage file.
    let plain = GitRealm::example("shop");
    two.bank(&[
        "add",
        "--caller",
        "--name",
        "cafe",
        "--git-repo",
        &plain.url(),
    ])
    .expect(0);
    let run = two.bank(&["check-callers"]).expect(0);
    assert!(
        run.stderr.contains("warning: caller `cafe`")
            && run.stderr.contains("1 caller checked (1 not checked)"),
        "{}",
        run.stderr
    );
    let base = two.bank.read(BALANCE);
    two.bank
        .write(BALANCE, &base.replacen("    Gold = 1\n", "", 1));
    let run = two.bank(&["check-callers"]).expect(0);
    assert!(
        run.stderr
            .contains("used by no caller: safe; 1 caller checked (1 not checked)"),
        "{}",
        run.stderr
    );
}
