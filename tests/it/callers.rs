//! Two-way pins: a realm pins the realms that call it
//! (`[caller-realms.<name>]` of realm.toml), for their public keys and
//! their usage files. Real git repositories in temporary directories.

use realm::pins::{Cache, Context, pinned_keys};
use realm::project::Project;

use crate::common::{GitRealm, TestProject};

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
