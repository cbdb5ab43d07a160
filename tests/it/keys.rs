//! `realm keys new`, `list` and `retire` with the real binary on temporary
//! projects: the private key's file (mode 0600, outside the project), the
//! public key in realm.toml (edited in place, comments kept),
//! ftl-project.toml untouched, and what the user sees.

use std::path::Path;

use crate::common::{TestProject, run_realm_with, snapshots};

const PROJECT: &str = "# shop's project\nname = \"shop\"\nmodule-dirs = [\"modules\"]\n";
const SETTINGS: &str = "# realm's settings\n[realm]\nexport = \"api.txtpb\" # where the API goes\n\n# the ingress\n[ingress]\nlisten = \"127.0.0.1:8871\"\n";

fn project() -> TestProject {
    let p = TestProject::new("shop");
    p.write("ftl-project.toml", PROJECT);
    p.write("realm.toml", SETTINGS);
    p
}

/// Key ids (16 hex digits) as `<key 1>`, `<key 2>`... padded to 16
/// characters (tables keep their columns), and `dir` as `<KEYS>`.
fn redact(text: &str, ids: &[&str], dir: &Path) -> String {
    let mut out = text.replace(&dir.display().to_string(), "<KEYS>");
    for (i, id) in ids.iter().enumerate() {
        out = out.replace(id, &format!("{:<16}", format!("<key {}>", i + 1)));
    }
    out
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("key file")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn new_list_a_second_key_and_retire() {
    let p = project();
    let keys = tempfile::tempdir().expect("tempdir");
    let k1 = keys.path().join("shop-1.key");
    let k2 = keys.path().join("nested/shop-2.key");

    let run = p
        .realm(&["keys", "new", "--key-file", k1.to_str().expect("utf-8")])
        .expect(0);
    let id1 = run.stdout.trim().to_string();
    assert_eq!(id1.len(), 16, "{}", run.stdout);
    assert!(id1.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    assert_eq!(mode(&k1), 0o600);
    assert!(
        std::fs::read_to_string(&k1)
            .expect("key")
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    snapshots(|| insta::assert_snapshot!("keys_new", redact(&run.stderr, &[&id1], keys.path())));

    // realm.toml: edited in place, the new entry appended; the project
    // file byte for byte as it was.
    let settings = p.read("realm.toml");
    assert!(
        settings.starts_with(SETTINGS.split("\n\n").next().expect("head")),
        "{settings}"
    );
    assert!(
        settings.contains("# the ingress\n[ingress]\nlisten = \"127.0.0.1:8871\"\n"),
        "{settings}"
    );
    assert!(
        settings.contains(&format!("public-keys = [\"ed25519:{id1}:")),
        "{settings}"
    );
    assert_eq!(p.read("ftl-project.toml"), PROJECT);

    // A second key, its file named by the variable (a directory made).
    let run = run_realm_with(
        p.path(),
        &["keys", "new"],
        &[
            ("REALM_SIGNING_KEY_FILE", &k2),
            ("REALM_CACHE_DIR", p.cache_dir()),
        ],
    )
    .expect(0);
    let id2 = run.stdout.trim().to_string();
    assert_ne!(id1, id2);
    #[cfg(unix)]
    assert_eq!(mode(&k2), 0o600);
    assert!(
        run.stderr.contains("(from REALM_SIGNING_KEY_FILE)"),
        "{}",
        run.stderr
    );

    let list = p
        .realm(&["keys", "list", "--key-file", k2.to_str().expect("utf-8")])
        .expect(0);
    snapshots(|| {
        insta::assert_snapshot!(
            "keys_list_two",
            redact(&list.stdout, &[&id1, &id2], keys.path())
        )
    });

    let run = p.realm(&["keys", "retire", &id1]).expect(0);
    snapshots(|| {
        insta::assert_snapshot!(
            "keys_retire",
            redact(&run.stderr, &[&id1, &id2], keys.path())
        )
    });
    let settings = p.read("realm.toml");
    assert!(
        settings.contains(&format!("public-keys = [\"ed25519:{id2}:")),
        "{settings}"
    );
    assert!(
        settings.contains(&format!("retired-keys = [\"ed25519:{id1}:")),
        "{settings}"
    );

    // `[ingress] signing-key-file` names the file when nothing else does.
    let with_file = settings.replace(
        "listen = \"127.0.0.1:8871\"\n",
        &format!(
            "listen = \"127.0.0.1:8871\"\nsigning-key-file = {:?}\n",
            k1.display().to_string()
        ),
    );
    p.write("realm.toml", &with_file);
    let list = p.realm(&["keys", "list"]).expect(0);
    snapshots(|| {
        insta::assert_snapshot!(
            "keys_list_retired",
            redact(&list.stdout, &[&id1, &id2], keys.path())
        )
    });
    assert_eq!(p.read("ftl-project.toml"), PROJECT);

    // Errors: retired twice, an unknown id.
    let again = p.realm(&["keys", "retire", &id1]).expect(1);
    let unknown = p.realm(&["keys", "retire", "0123456789abcdef"]).expect(1);
    snapshots(|| {
        insta::assert_snapshot!(
            "keys_retire_errors",
            redact(
                &format!("{}{}", again.stderr, unknown.stderr),
                &[&id1, &id2],
                keys.path()
            )
        )
    });
    assert_eq!(p.read("realm.toml"), with_file);
}

#[test]
fn a_key_file_inside_the_project_or_existing_is_refused_and_nothing_changes() {
    let p = project();
    let inside = p
        .realm(&["keys", "new", "--key-file", "secrets/shop.key"])
        .expect(1);
    snapshots(|| {
        insta::assert_snapshot!(
            "keys_new_inside_project",
            redact(&inside.stderr, &[], p.path())
        )
    });
    assert!(!p.exists("secrets/shop.key"));
    assert_eq!(p.read("realm.toml"), SETTINGS);

    let keys = tempfile::tempdir().expect("tempdir");
    let existing = keys.path().join("shop.key");
    std::fs::write(&existing, "not mine").expect("write");
    let run = p
        .realm(&[
            "keys",
            "new",
            "--key-file",
            existing.to_str().expect("utf-8"),
        ])
        .expect(1);
    snapshots(|| {
        insta::assert_snapshot!("keys_new_existing", redact(&run.stderr, &[], keys.path()))
    });
    assert_eq!(
        std::fs::read_to_string(&existing).expect("read"),
        "not mine"
    );

    let none = p.realm(&["keys", "new"]).expect(1);
    snapshots(|| insta::assert_snapshot!("keys_new_no_file", none.stderr));
    assert_eq!(p.read("realm.toml"), SETTINGS);
    assert_eq!(p.read("ftl-project.toml"), PROJECT);

    // No keys yet.
    let list = p.realm(&["keys", "list"]).expect(0);
    assert_eq!(list.stdout, "");
    assert!(
        list.stderr.contains("No keys in realm.toml"),
        "{}",
        list.stderr
    );
}

#[test]
fn a_project_without_realm_toml_gets_one_and_bad_entries_are_errors() {
    let p = TestProject::new("bank");
    let keys = tempfile::tempdir().expect("tempdir");
    let k = keys.path().join("bank.key");
    let run = p
        .realm(&["keys", "new", "--key-file", k.to_str().expect("utf-8")])
        .expect(0);
    let id = run.stdout.trim().to_string();
    let settings = p.read("realm.toml");
    assert!(
        settings.starts_with(&format!("[realm]\npublic-keys = [\"ed25519:{id}:")),
        "{settings}"
    );

    // An entry whose id is not its key's (RFC 9421's test key B.1.4).
    p.write(
        "realm.toml",
        "[realm]\npublic-keys = [\"ed25519:0000000000000000:JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\"]\n",
    );
    let run = p.realm(&["keys", "list"]).expect(1);
    snapshots(|| insta::assert_snapshot!("keys_wrong_id", run.stderr));
}
