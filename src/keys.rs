//! A realm's signing keys: making an Ed25519 key pair (`realm keys new`),
//! listing the keys `realm.toml` publishes and whether this machine holds
//! their private keys (`realm keys list`), retiring one (`realm keys
//! retire`).
//!
//! The private key is an RFC 8410 PKCS#8 v1 document (the 32-byte seed)
//! in PEM (`-----BEGIN PRIVATE KEY-----`, what
//! `openssl genpkey -algorithm ed25519` writes), in a file outside the
//! project and outside its git repository, mode 0600, created atomically
//! and never over an existing file. The public key goes to `realm.toml`
//! (`[realm] public-keys`, see [`crate::project`]'s `keys.rs`).
//!
//! Which file: `--key-file`, else `[ingress] signing-key-file` (relative to
//! the project root, `~/` the home directory), else
//! `$REALM_SIGNING_KEY_FILE`. This module reads no environment variable
//! and never prints or logs key bytes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::files;
use crate::project::{Project, SETTINGS_FILE, add_public_key, key_entry, key_id, retire_key};

/// The environment variable naming the signing key file.
pub const KEY_FILE_ENV: &str = "REALM_SIGNING_KEY_FILE";

/// The PEM label of a PKCS#8 private key.
const PEM_LABEL: &str = "PRIVATE KEY";

/// Where the signing key file is, and what said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFile {
    pub path: PathBuf,
    /// `--key-file`, `[ingress] signing-key-file` or the variable.
    pub source: &'static str,
}

/// The signing key file: `given` (a `--key-file`, relative to `cwd`),
/// else `[ingress] signing-key-file` (relative to the project root), else
/// `env` (the value of [`KEY_FILE_ENV`], relative to `cwd`).
pub fn key_file(
    project: &Project,
    given: Option<&Path>,
    env: Option<&Path>,
    cwd: &Path,
) -> Option<KeyFile> {
    if let Some(p) = given {
        return Some(KeyFile {
            path: cwd.join(expand_home(p)),
            source: "--key-file",
        });
    }
    if let Some(p) = &project.ingress.signing_key_file {
        return Some(KeyFile {
            path: project.root.join(expand_home(Path::new(p))),
            source: "[ingress] signing-key-file",
        });
    }
    env.map(|p| KeyFile {
        path: cwd.join(expand_home(p)),
        source: KEY_FILE_ENV,
    })
}

fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_path_buf(),
    }
}

/// A key `realm keys new` made.
#[derive(Clone, Debug)]
pub struct NewKey {
    pub id: String,
    /// Its `[realm] public-keys` entry.
    pub entry: String,
    /// Where the private key went.
    pub key_file: PathBuf,
}

/// Makes a key pair: the private key into `key_file` (which must not
/// exist and must lie outside the project and its git repository), the
/// public key appended to `[realm] public-keys` of `root`'s `realm.toml`.
/// When the project cannot be edited, the key file is removed again.
pub fn new_key(root: &Path, key_file: &Path) -> Result<NewKey> {
    let key_file = outside_project(root, key_file)?;
    if key_file.symlink_metadata().is_ok() {
        bail!(
            "{} already exists\nhelp: a new key goes to a new file: pass `--key-file PATH`; once callers pin the commit with the new key, point `[ingress] signing-key-file` at it",
            key_file.display()
        );
    }
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
    let der = pkcs8_v1(pkcs8.as_ref())?;
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
        .map_err(|_| anyhow::anyhow!("cannot read the generated key"))?;
    let public = pair.public_key().as_ref().to_vec();
    let entry = key_entry(&public);
    if let Some(dir) = key_file.parent() {
        files::create_dir_all(dir)?;
    }
    files::write_new_private(&key_file, pem(&der).as_bytes())?;
    let edited = Project::edit_settings(root, |_, doc| add_public_key(doc, &entry));
    if let Err(e) = edited {
        let _ = std::fs::remove_file(&key_file);
        return Err(e);
    }
    Ok(NewKey {
        id: key_id(&public),
        entry,
        key_file,
    })
}

/// `path` made absolute (its directory resolved through symbolic links),
/// or an error when it is inside the project or its git repository: a
/// private key must never be committed.
fn outside_project(root: &Path, path: &Path) -> Result<PathBuf> {
    let Some(name) = path.file_name() else {
        bail!("{} is not a file name", path.display());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The nearest existing ancestor, resolved: the rest is made below it.
    let mut existing = dir.as_path();
    let mut rest = Vec::new();
    while existing.canonicalize().is_err() {
        let (Some(parent), Some(last)) = (existing.parent(), existing.file_name()) else {
            break;
        };
        rest.push(last.to_os_string());
        existing = parent;
    }
    let mut real = existing
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    for part in rest.iter().rev() {
        real.push(part);
    }
    real.push(name);
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let repo = root
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf);
    for (inside, what) in [
        (Some(&root), "the project"),
        (repo.as_ref(), "its git repository"),
    ] {
        if let Some(inside) = inside
            && real.starts_with(inside)
        {
            bail!(
                "{} is inside {what} ({}): a private key must not be where it can be committed\nhelp: keep it outside, e.g. `--key-file ~/.config/realm/<realm>.key`, and set `[ingress] signing-key-file` or ${KEY_FILE_ENV} to that path",
                real.display(),
                inside.display()
            );
        }
    }
    Ok(real)
}

/// The RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key: SEQUENCE {
/// version 0, AlgorithmIdentifier { id-Ed25519 }, OCTET STRING { OCTET
/// STRING (32 bytes) } }; the 32-byte seed follows.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The PKCS#8 v2 document `ring` makes (version 1, with the public key),
/// rewritten as v1 (seed only): what OpenSSL and most tools read and
/// write (OpenSSL 3 refuses `ring`'s v2 form).
fn pkcs8_v1(v2: &[u8]) -> Result<Vec<u8>> {
    const V2_PREFIX: [u8; 16] = [
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    match v2.get(..16).zip(v2.get(16..48)) {
        Some((prefix, seed)) if prefix == V2_PREFIX => {
            let mut v1 = PKCS8_V1_PREFIX.to_vec();
            v1.extend_from_slice(seed);
            Ok(v1)
        }
        _ => bail!("internal error: unexpected PKCS#8 form of a generated key"),
    }
}

/// `der` as PEM.
fn pem(der: &[u8]) -> String {
    let text = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {PEM_LABEL}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    out
}

/// Reads a signing key file: one PKCS#8 `PRIVATE KEY` in PEM holding an
/// Ed25519 key. A file that others than its owner may read or write is
/// refused, as ssh refuses such a key.
pub fn load_private_key(path: &Path) -> Result<Ed25519KeyPair> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is accessible to others than its owner (mode {mode:o})\nhelp: `chmod 600 {}`: it holds this realm's private key",
                path.display(),
                path.display()
            );
        }
    }
    parse_private_key(path)
}

/// Reads a key file's key, whatever its mode.
fn parse_private_key(path: &Path) -> Result<Ed25519KeyPair> {
    let text = files::read_text(path)?;
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != format!("-----BEGIN {PEM_LABEL}-----"))
        .skip(1)
        .take_while(|l| *l != format!("-----END {PEM_LABEL}-----"))
        .collect();
    let der = STANDARD.decode(body.as_bytes()).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a PEM `{PEM_LABEL}` (PKCS#8) file",
            path.display()
        )
    })?;
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
        .map_err(|_| anyhow::anyhow!("{} does not hold an Ed25519 private key", path.display()))
}

/// A row of `realm keys list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    pub id: String,
    pub algorithm: String,
    /// This machine's key file holds its private key.
    pub held: bool,
    pub retired: bool,
}

/// The keys of `project` (public, then retired, in file order), each with
/// whether `key_file` holds its private key. A key file that is missing
/// or unreadable holds none.
pub fn list(project: &Project, key_file: Option<&Path>) -> Vec<KeyRow> {
    let held = key_file
        .and_then(|p| parse_private_key(p).ok())
        .map(|k| key_id(k.public_key().as_ref()));
    let mut rows: Vec<KeyRow> = project
        .keys
        .iter()
        .map(|k| KeyRow {
            id: k.id.clone(),
            algorithm: k.algorithm.clone(),
            held: held.as_deref() == Some(k.id.as_str()),
            retired: k.retired,
        })
        .collect();
    rows.sort_by_key(|r| r.retired);
    rows
}

/// Moves key `id` to `[realm] retired-keys`.
pub fn retire(root: &Path, id: &str) -> Result<()> {
    Project::edit_settings(root, |project, doc| {
        match project.keys.iter().find(|k| k.id == id) {
            None => {
                let known: Vec<&str> = project.keys.iter().map(|k| k.id.as_str()).collect();
                bail!(
                    "no key `{id}` in {SETTINGS_FILE}\nhelp: {}",
                    if known.is_empty() {
                        "this realm has no keys yet: `realm keys new` makes one".to_string()
                    } else {
                        format!(
                            "its keys are {}; `realm keys list` shows them",
                            known.join(", ")
                        )
                    }
                )
            }
            Some(k) if k.retired => bail!("key `{id}` is retired already"),
            Some(_) => retire_key(doc, id),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_pkcs8_v1_pem_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("p");
        std::fs::create_dir(&root).expect("mkdir");
        std::fs::write(root.join("ftl-project.toml"), "name = \"shop\"\n").expect("write");
        let file = dir.path().join("keys/shop.key");
        let key = new_key(&root, &file).expect("new key");
        let pair = load_private_key(&file).expect("load");
        assert_eq!(key_id(pair.public_key().as_ref()), key.id);
        let text = std::fs::read_to_string(&file).expect("read");
        // RFC 8410's form: 48 bytes, `MC4CAQAwBQYDK2VwBCIEI...`.
        assert!(
            text.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let e = load_private_key(&file).expect_err("readable by others");
            assert!(e.to_string().contains("mode 644"), "{e}");
            // `keys list` still says the key is here.
            let project = Project::load(&root).expect("project");
            assert!(list(&project, Some(&file))[0].held);
        }
        // Inside the project: refused, nothing written.
        let before = std::fs::read_to_string(root.join("realm.toml")).expect("realm.toml");
        assert!(new_key(&root, &root.join("sub/k.key")).is_err());
        assert!(!root.join("sub").exists());
        assert_eq!(
            std::fs::read_to_string(root.join("realm.toml")).expect("realm.toml"),
            before
        );
    }
}
