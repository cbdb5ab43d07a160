//! A realm's public keys in `realm.toml`: their text form and the edits
//! that add and retire them.
//!
//! ```toml
//! [realm]
//! public-keys = ["ed25519:3f1c0a9be2d44c17:JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="]
//! retired-keys = ["ed25519:9d0e...:..."]
//! ```
//!
//! An entry is `<algorithm>:<key id>:<standard base64 of the raw public
//! key>`; the only algorithm is `ed25519` (32-byte keys). The key id is
//! the first 8 bytes of the SHA-256 of the raw public key, as 16
//! lowercase hex digits: derived, so it cannot disagree with the key (an
//! entry whose id is not its key's is refused); short enough to read in a
//! log line or an error; made of characters that need no escaping in TOML,
//! an RFC 8941 string (`keyid="..."`), a file name or a URL; 64 bits make
//! a collision among one realm's handful of keys negligible, and the id
//! only selects the key, the signature is checked with the whole key.
//!
//! Retiring a key moves its entry from `public-keys` to `retired-keys`
//! rather than deleting it: a verifier then refuses calls signed with it
//! by name ("retired") instead of as an unknown key, and `realm keys list`
//! still shows it. Rotation is a commit with two keys in `public-keys`;
//! once every caller's pin has that commit, the old key is retired.
//!
//! Only `realm.toml` is edited: FTL refuses keys it does not know in
//! `ftl-project.toml`. Edits hold the project's lock, re-read both files,
//! change `realm.toml` with `toml_edit` (every comment and unrelated line
//! kept), check the result reads, and replace the file atomically; on any
//! failure nothing is written.

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use toml_edit::DocumentMut;

use super::{Project, RealmKey, SETTINGS_FILE, lock_dir};
use crate::files;

/// The one key algorithm.
pub const KEY_ALGORITHM: &str = "ed25519";

/// The key id of a raw public key: the first 8 bytes of its SHA-256, as
/// lowercase hex.
pub fn key_id(public: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `ed25519:<key id>:<base64>` of a raw Ed25519 public key.
pub fn key_entry(public: &[u8]) -> String {
    format!(
        "{KEY_ALGORITHM}:{}:{}",
        key_id(public),
        STANDARD.encode(public)
    )
}

/// Reads an entry of `public-keys` (not retired, no position).
pub fn parse_key_entry(text: &str) -> Result<RealmKey, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(algorithm), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "{text:?} is not a key: expected \"ed25519:<key id>:<base64>\""
        ));
    };
    if algorithm != KEY_ALGORITHM {
        return Err(format!(
            "key algorithm {algorithm:?} is not supported: realm's keys are \"ed25519\""
        ));
    }
    let public = STANDARD
        .decode(key)
        .map_err(|_| format!("key `{id}` is not standard base64"))?;
    if public.len() != 32 {
        return Err(format!(
            "key `{id}` is {} bytes; an Ed25519 public key is 32",
            public.len()
        ));
    }
    let derived = key_id(&public);
    if id != derived {
        return Err(format!(
            "key id `{id}` is not its key's: the key's id is `{derived}` (the first 8 bytes of its SHA-256, hex)"
        ));
    }
    Ok(RealmKey {
        id: derived,
        algorithm: algorithm.to_string(),
        public,
        retired: false,
        pos: None,
    })
}

impl Project {
    /// Changes `realm.toml` (made when missing) under the project's lock:
    /// waits for other `realm` processes editing this project, re-reads
    /// the files, lets `change` edit the document, checks that the result
    /// reads, and writes it atomically if it differs. Nothing is written
    /// when `change` fails or the result does not read.
    pub fn edit_settings<T>(
        root: &Path,
        change: impl FnOnce(&Project, &mut DocumentMut) -> Result<T>,
    ) -> Result<T> {
        let _lock = lock_dir(root)?;
        let project = Project::load(root)?;
        let old = project.settings_text.clone().unwrap_or_default();
        let mut doc: DocumentMut = old
            .parse()
            .with_context(|| format!("cannot parse {SETTINGS_FILE}"))?;
        let out = change(&project, &mut doc)?;
        let text = doc.to_string();
        if project.settings_text.as_deref() != Some(text.as_str()) {
            Project::parse_with_settings(root, project.text.clone(), Some(text.clone())).map_err(
                |r| anyhow::anyhow!("internal error: an edit made {SETTINGS_FILE} invalid:\n{r}"),
            )?;
            files::write_atomic(&project.settings_path(), text.as_bytes())?;
        }
        Ok(out)
    }
}

/// Appends `entry` to `[realm] public-keys` (the table and the list made
/// when missing).
pub fn add_public_key(doc: &mut DocumentMut, entry: &str) -> Result<()> {
    let realm = realm_table(doc)?;
    let keys = realm
        .entry("public-keys")
        .or_insert_with(|| toml_edit::value(toml_edit::Array::new()));
    let Some(array) = keys.as_array_mut() else {
        bail!("`[realm] public-keys` in {SETTINGS_FILE} is not a list");
    };
    array.push(entry);
    Ok(())
}

/// Moves the key `id` from `[realm] public-keys` to `retired-keys`.
pub fn retire_key(doc: &mut DocumentMut, id: &str) -> Result<()> {
    let realm = realm_table(doc)?;
    let is_id = |v: &toml_edit::Value| v.as_str().is_some_and(|s| s.split(':').nth(1) == Some(id));
    let Some(array) = realm
        .get_mut("public-keys")
        .and_then(toml_edit::Item::as_array_mut)
    else {
        bail!("no key `{id}` in `[realm] public-keys`");
    };
    let Some(index) = array.iter().position(is_id) else {
        bail!("no key `{id}` in `[realm] public-keys`");
    };
    let Some(entry) = array
        .get(index)
        .and_then(|v| v.as_str())
        .map(str::to_string)
    else {
        bail!("no key `{id}` in `[realm] public-keys`");
    };
    // The entry after it takes its place, and the space before it (no
    // `[ "...` when the first goes).
    let prefix = array
        .get(index)
        .and_then(|v| v.decor().prefix())
        .and_then(|p| p.as_str())
        .map(str::to_string);
    array.remove(index);
    if let (Some(next), Some(prefix)) = (array.get_mut(index), prefix) {
        next.decor_mut().set_prefix(prefix);
    }
    let retired = realm
        .entry("retired-keys")
        .or_insert_with(|| toml_edit::value(toml_edit::Array::new()));
    let Some(retired) = retired.as_array_mut() else {
        bail!("`[realm] retired-keys` in {SETTINGS_FILE} is not a list");
    };
    retired.push(entry);
    Ok(())
}

fn realm_table(doc: &mut DocumentMut) -> Result<&mut dyn toml_edit::TableLike> {
    if doc.get("realm").is_none() {
        doc["realm"] = toml_edit::table();
    }
    doc.get_mut("realm")
        .and_then(toml_edit::Item::as_table_like_mut)
        .with_context(|| format!("`realm` in {SETTINGS_FILE} is not a table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const B14_PUBLIC: &str = "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";

    #[test]
    fn entries_round_trip_and_ids_are_derived() {
        let public = STANDARD.decode(B14_PUBLIC).expect("key");
        let entry = key_entry(&public);
        let id = key_id(&public);
        assert_eq!(id.len(), 16);
        assert_eq!(entry, format!("ed25519:{id}:{B14_PUBLIC}"));
        let key = parse_key_entry(&entry).expect("parses");
        assert_eq!(key.public, public);
        assert_eq!(key.id, id);
        for bad in [
            "ed25519",
            "rsa:00:AAAA",
            &format!("ed25519:0000000000000000:{B14_PUBLIC}"),
            &format!("ed25519:{id}:AAAA"),
            &format!("ed25519:{id}:not base64!"),
        ] {
            assert!(parse_key_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_read_with_the_project_and_a_pinned_realm() {
        let public = STANDARD.decode(B14_PUBLIC).expect("key");
        let entry = key_entry(&public);
        let settings = format!("[realm]\nretired-keys = [\"{entry}\"]\npublic-key = 1\n");
        let project = Project::parse_with_settings(
            Path::new("/p"),
            "name = \"a\"\n".into(),
            Some(settings.clone()),
        )
        .expect("project");
        assert_eq!(project.keys.len(), 1);
        assert!(project.keys[0].retired);
        assert_eq!(project.keys[0].public, public);
        // A misspelt key is a warning naming the right one.
        let warning = project.warnings[0].message.clone();
        assert!(warning.contains("unknown key `public-key`"), "{warning}");
        let remote = super::super::parse_remote(
            ("p", "name = \"a\"\n".into()),
            Some(("s", format!("[realm]\npublic-keys = [\"{entry}\"]\n"))),
        )
        .expect("remote");
        assert_eq!(remote.keys.len(), 1);
        assert!(!remote.keys[0].retired);
        // Listed twice, or in both lists: an error.
        let twice = format!("[realm]\npublic-keys = [\"{entry}\"]\nretired-keys = [\"{entry}\"]\n");
        assert!(
            Project::parse_with_settings(Path::new("/p"), "name = \"a\"\n".into(), Some(twice))
                .is_err()
        );
    }

    #[test]
    fn retiring_moves_the_entry_and_keeps_comments() {
        let public = STANDARD.decode(B14_PUBLIC).expect("key");
        let entry = key_entry(&public);
        let mut doc: DocumentMut = "# mine\n[realm]\nexport = \"x.txtpb\" # here\n"
            .parse()
            .expect("doc");
        add_public_key(&mut doc, &entry).expect("add");
        retire_key(&mut doc, &key_id(&public)).expect("retire");
        let text = doc.to_string();
        assert!(
            text.starts_with("# mine\n[realm]\nexport = \"x.txtpb\" # here\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("retired-keys = [\"{entry}\"]")),
            "{text}"
        );
        assert!(text.contains("public-keys = []"), "{text}");
        assert!(retire_key(&mut doc, "0000").is_err());
    }
}
