//! The keys shared with peer realms: from `REALM_KEY_<REALM>` variables
//! (passed in, never read here) and a JSON key file read through
//! [`crate::files`], each at least [`MIN_KEY_BYTES`] long; warnings for a
//! key file others may read.
//!
//! Never prints, logs or shows key bytes (`Debug` shows peers and origins).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};

use super::*;

/// One key: its bytes and where it came from.
#[derive(Clone)]
struct Key {
    bytes: Vec<u8>,
    /// Where the key came from, for messages (`$REALM_KEY_SHOP`,
    /// `/run/secrets/keys.json`).
    origin: String,
}

/// The keys shared with peer realms, by peer realm name, each with where it
/// came from (`$REALM_KEY_SHOP`, `/run/secrets/keys.json`) for messages.
///
/// `Debug` shows the peers and origins, never the key bytes.
#[derive(Clone)]
pub struct Keys {
    keys: BTreeMap<String, Key>,
    warnings: Vec<String>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a Key);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "<{} bytes from {}>", self.0.bytes.len(), self.0.origin)
            }
        }
        f.debug_struct("Keys")
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|(peer, key)| (peer, Redacted(key)))
                    .collect::<BTreeMap<_, _>>(),
            )
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl Keys {
    /// No keys: every signed call is refused as [`AuthError::UnknownPeer`].
    pub fn empty() -> Keys {
        Keys {
            keys: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Whether there are no keys at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key shared with realm `peer`.
    pub fn get(&self, peer: &str) -> Option<&[u8]> {
        self.keys.get(peer).map(|k| k.bytes.as_slice())
    }

    /// Where the key shared with realm `peer` came from (`$REALM_KEY_SHOP`,
    /// or the name of the key file).
    #[cfg(test)]
    pub(crate) fn origin(&self, peer: &str) -> Option<&str> {
        self.keys.get(peer).map(|k| k.origin.as_str())
    }

    /// The peer realms that have a key, in sorted order.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Keys from environment variables `REALM_KEY_<PEER>` (the peer realm is
    /// the suffix lowercased: `REALM_KEY_SHOP` is the key for `shop`) and from
    /// a key file, a JSON object `{"shop": "<base64 key>", ...}`.
    ///
    /// `env_vars` are all the environment variables (those without the
    /// `REALM_KEY_` prefix are ignored); prefer `std::env::vars_os()` with a
    /// lossy conversion to `std::env::vars()`, which panics on non-UTF-8
    /// values. `file` is the path to read and how to name it in messages.
    /// The environment wins over the file for the same peer. Every
    /// `REALM_KEY_*` variable is taken as a key: do not name other settings
    /// (such as the key file's path) with that prefix.
    ///
    /// Keys are standard base64 (padding optional) or base64url; surrounding
    /// whitespace is ignored. A key shorter than [`MIN_KEY_BYTES`] is an
    /// error. All errors are reported at once, each naming where the key came
    /// from (and, for JSON syntax errors, `file:line:col`); no error shows
    /// key material. On unix, a key file readable by group or others is not
    /// an error but a [`Keys::warnings`] entry.
    pub fn load(
        env_vars: impl IntoIterator<Item = (String, String)>,
        file: Option<(&Path, &str)>,
    ) -> Result<Keys> {
        let mut keys = Keys::empty();
        let mut errors = Vec::new();

        if let Some((path, name)) = file
            && let Err(e) = keys.load_file(path, name, &mut errors)
        {
            errors.push(format!("{e:#}"));
        }

        let mut vars: Vec<(String, String)> = env_vars
            .into_iter()
            .filter(|(var, _)| var.starts_with(KEY_VAR_PREFIX))
            .collect();
        vars.sort();
        for (var, value) in vars {
            let origin = format!("${var}");
            let suffix = &var[KEY_VAR_PREFIX.len()..];
            if suffix.is_empty() {
                errors.push(format!(
                    "{origin} names no realm: name the variable {KEY_VAR_PREFIX}<REALM>, \
                     e.g. {KEY_VAR_PREFIX}SHOP for the key shared with realm `shop`"
                ));
                continue;
            }
            let peer = suffix.to_ascii_lowercase();
            if !crate::schema::is_ident(&peer) {
                errors.push(format!(
                    "{origin}: `{peer}` is not a realm name (letters, digits and `_`, \
                     starting with a letter or `_`)"
                ));
                continue;
            }
            match decode_key(&value, &peer, &origin) {
                Ok(bytes) => {
                    keys.keys.insert(peer, Key { bytes, origin });
                }
                Err(e) => errors.push(e),
            }
        }

        if errors.is_empty() {
            Ok(keys)
        } else {
            Err(anyhow!("{}", errors.join("\n")))
        }
    }

    /// Reads the key file into `self`: errors about single keys go to
    /// `errors`, an unreadable or invalid file is the `Err`.
    fn load_file(&mut self, path: &Path, name: &str, errors: &mut Vec<String>) -> Result<()> {
        let (text, metadata) = crate::files::read_text_with_metadata(path)
            .with_context(|| format!("cannot read the key file {name}"))?;
        if let Some(warning) = permission_warning(&metadata, path, name) {
            self.warnings.push(warning);
        }

        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            anyhow!(
                "{name}:{}:{}: invalid JSON in the key file: {message}",
                e.line(),
                e.column()
            )
        })?;
        let serde_json::Value::Object(object) = json else {
            bail!(
                "{name}: the key file must be a JSON object {{\"<realm>\": \"<base64 key>\", ...}}, \
                 not {}",
                json_kind(&json)
            );
        };
        for (peer, value) in object {
            if !crate::schema::is_ident(&peer) {
                errors.push(format!(
                    "{name}: {peer:?} is not a realm name (letters, digits and `_`, \
                     starting with a letter or `_`)"
                ));
                continue;
            }
            let serde_json::Value::String(value) = value else {
                errors.push(format!(
                    "{name}: the key for realm `{peer}` is {}; expected a base64 string",
                    json_kind(&value)
                ));
                continue;
            };
            match decode_key(&value, &peer, name) {
                Ok(bytes) => {
                    self.keys.insert(
                        peer,
                        Key {
                            bytes,
                            origin: name.to_string(),
                        },
                    );
                }
                Err(e) => errors.push(e),
            }
        }
        Ok(())
    }

    /// Things worth telling the user that did not stop the keys from
    /// loading, such as a key file readable by others.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Keys given directly, for tests (origin `from_pairs`). No length
    /// check.
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (String, Vec<u8>)>) -> Keys {
        Keys {
            keys: pairs
                .into_iter()
                .map(|(peer, bytes)| {
                    (
                        peer,
                        Key {
                            bytes,
                            origin: "from_pairs".to_string(),
                        },
                    )
                })
                .collect(),
            warnings: Vec::new(),
        }
    }
}

/// Decodes a base64 key (standard or URL-safe alphabet, padding optional)
/// and checks its length. Errors never show the value.
fn decode_key(value: &str, peer: &str, origin: &str) -> std::result::Result<Vec<u8>, String> {
    let value = value.trim();
    let engine = if value.contains(['-', '_']) {
        &URL_SAFE_PAD_INDIFFERENT
    } else {
        &STANDARD_PAD_INDIFFERENT
    };
    let bytes = engine.decode(value).map_err(|e| {
        let what = match e {
            base64::DecodeError::InvalidByte(offset, _) => {
                format!("invalid character at offset {offset}")
            }
            base64::DecodeError::InvalidLength(_) => "truncated".to_string(),
            base64::DecodeError::InvalidLastSymbol { offset, .. } => {
                format!("invalid last character at offset {offset}")
            }
            base64::DecodeError::InvalidPadding => "invalid padding".to_string(),
        };
        format!(
            "the key for realm `{peer}` in {origin} is not base64 ({what}): \
             make one with `openssl rand -base64 32`"
        )
    })?;
    if bytes.len() < MIN_KEY_BYTES {
        return Err(format!(
            "key for realm `{peer}` in {origin} is {} bytes; use at least {MIN_KEY_BYTES} \
             random bytes, e.g. `openssl rand -base64 32`",
            bytes.len()
        ));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn permission_warning(metadata: &std::fs::Metadata, path: &Path, name: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then(|| {
        format!(
            "the key file {name} is readable by group or others (mode {mode:04o}): \
             run `chmod 600 {}`",
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_: &std::fs::Metadata, _: &Path, _: &str) -> Option<String> {
    None
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Vec<u8> {
        vec![byte; 32]
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn key_file(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
        let path = dir.path().join("keys.json");
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }

    #[test]
    fn keys_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file(
            &dir,
            &format!(
                r#"{{"shop": "{}", "crm": "{}"}}"#,
                b64(&key(1)),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfbu8; 40])
            ),
        );
        let keys = Keys::load(
            env(&[
                ("REALM_KEY_SHOP", &b64(&key(9))),
                (
                    "REALM_KEY_Bank",
                    &format!(" {}\n", b64(&key(3)).trim_end_matches('=')),
                ),
                ("PATH", "/bin"),
                ("REALM_KEYS", "x"),
            ]),
            Some((&path, "keys.json")),
        )
        .unwrap();
        assert_eq!(keys.peers().collect::<Vec<_>>(), ["bank", "crm", "shop"]);
        assert_eq!(keys.get("shop"), Some(key(9).as_slice()));
        assert_eq!(keys.origin("shop"), Some("$REALM_KEY_SHOP"));
        assert_eq!(keys.get("crm"), Some([0xfbu8; 40].as_slice()));
        assert_eq!(keys.origin("crm"), Some("keys.json"));
        assert_eq!(keys.get("bank"), Some(key(3).as_slice()));
        assert_eq!(keys.get("erp"), None);
        assert!(keys.warnings().is_empty(), "{:?}", keys.warnings());
        assert!(!keys.is_empty());
        // No key bytes in Debug.
        let debug = format!("{keys:?}");
        assert!(debug.contains("32 bytes from $REALM_KEY_SHOP"), "{debug}");
        assert!(!debug.contains("[9, 9"), "{debug}");

        let none = Keys::load(env(&[]), None).unwrap();
        assert!(none.is_empty());
        assert_eq!(none.peers().count(), 0);
    }

    #[test]
    fn key_errors() {
        let e = Keys::load(env(&[("REALM_KEY_SHOP", &b64(&[1; 12]))]), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key for realm `shop` in $REALM_KEY_SHOP is 12 bytes; use at least 32 random \
             bytes, e.g. `openssl rand -base64 32`"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = key_file(
            &dir,
            &format!(r#"{{"shop": "{}", "crm": 5, "a b": "x"}}"#, b64(&[1; 12])),
        );
        let e = Keys::load(
            env(&[("REALM_KEY_", "x"), ("REALM_KEY_BANK", "not base64!")]),
            Some((&path, "keys.json")),
        )
        .unwrap_err()
        .to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(
            lines,
            [
                "key for realm `shop` in keys.json is 12 bytes; use at least 32 random bytes, \
                 e.g. `openssl rand -base64 32`",
                "keys.json: the key for realm `crm` is a number; expected a base64 string",
                "keys.json: \"a b\" is not a realm name (letters, digits and `_`, starting \
                 with a letter or `_`)",
                "$REALM_KEY_ names no realm: name the variable REALM_KEY_<REALM>, e.g. \
                 REALM_KEY_SHOP for the key shared with realm `shop`",
                "the key for realm `bank` in $REALM_KEY_BANK is not base64 (invalid character \
                 at offset 3): make one with `openssl rand -base64 32`",
            ]
        );

        let path = key_file(&dir, "[1]");
        let e = Keys::load(env(&[]), Some((&path, "keys.json"))).unwrap_err();
        assert!(e.to_string().contains("must be a JSON object"), "{e}");

        let missing = dir.path().join("missing.json");
        let e = Keys::load(env(&[]), Some((&missing, "missing.json"))).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("cannot read the key file missing.json: "),
            "{e:#}"
        );
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file(&dir, "{\n  \"shop\": \"abc\",\n  \"crm\" \"x\"\n}\n");
        let e = Keys::load(env(&[]), Some((&path, "keys.json"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "keys.json:3:9: invalid JSON in the key file: expected `:`"
        );
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_file_warns() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = key_file(&dir, &format!(r#"{{"shop": "{}"}}"#, b64(&key(1))));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let keys = Keys::load(env(&[]), Some((&path, "keys.json"))).unwrap();
        assert_eq!(keys.get("shop"), Some(key(1).as_slice()));
        assert_eq!(
            keys.warnings(),
            [format!(
                "the key file keys.json is readable by group or others (mode 0644): \
                 run `chmod 600 {}`",
                path.display()
            )]
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        let keys = Keys::load(env(&[]), Some((&path, "keys.json"))).unwrap();
        assert!(keys.warnings().is_empty());
    }
}
