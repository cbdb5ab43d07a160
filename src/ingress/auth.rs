//! Signed requests between realms: HMAC-SHA256 over the request with a key
//! shared by each pair of realms, keys per peer realm, replay protection.
//!
//! Every call from one realm's ingress to another's carries one header,
//! [`SIGNATURE`] (`x-realm-signature`):
//!
//! ```text
//! v1; realm=<signer realm>; t=<unix seconds>; nonce=<32 lowercase hex>; sig=<base64url, no padding>
//! ```
//!
//! `sig` is the HMAC-SHA256, with the key the two realms share, of these
//! lines joined with `\n` (no trailing newline):
//!
//! ```text
//! realm-signature-v1
//! <METHOD, uppercase>
//! <path and query exactly as sent>
//! <t>
//! <nonce>
//! <signer realm>
//! <value of the x-realm-via header, or empty>
//! <lowercase hex SHA-256 of the body>
//! ```
//!
//! [`sign`] makes the header; a [`Verifier`] checks it: the key of the
//! signer must be known, `t` must be within the replay window of the
//! receiver's clock, the HMAC must match (compared in constant time), and
//! the nonce must not have been seen from that realm within the window.
//! Nonces are remembered only for as long as a signature with their
//! timestamp can pass the window check, so memory is bounded by the call
//! rate times the window, and capped: a full cache refuses calls rather than
//! grow.
//!
//! This module must never do network I/O, log or print keys, or put key
//! bytes in an error message or a `Debug` output. The only file it reads is
//! the key file given to [`Keys::load`]; it reads no environment variables
//! itself (the caller passes them in).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{
    STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD, URL_SAFE_PAD_INDIFFERENT,
};
use ring::rand::SecureRandom as _;
use ring::{digest, hmac};

/// The header that carries the signature of a call between realms.
pub const SIGNATURE: &str = "x-realm-signature";

/// The prefix of the environment variables that hold keys: `REALM_KEY_SHOP`
/// holds the key shared with realm `shop`.
pub const KEY_VAR_PREFIX: &str = "REALM_KEY_";

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The nonce cache capacity of [`Verifier::new`].
pub const DEFAULT_MAX_NONCES: usize = 4_000_000;

/// The first line of the signed string: the version of the format.
const CONTEXT: &str = "realm-signature-v1";

/// The longest realm name accepted in a header.
const MAX_REALM_NAME: usize = 128;

/// The header format, for messages.
const FORMAT: &str =
    "v1; realm=<realm>; t=<unix seconds>; nonce=<32 lowercase hex>; sig=<base64url>";

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
    pub fn origin(&self, peer: &str) -> Option<&str> {
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
        use std::io::Read as _;

        let mut file = std::fs::File::open(path)
            .with_context(|| format!("cannot open the key file {name}"))?;
        let metadata = file
            .metadata()
            .with_context(|| format!("cannot read the key file {name}"))?;
        if let Some(warning) = permission_warning(&metadata, path, name) {
            self.warnings.push(warning);
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("cannot read the key file {name}"))?;

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

    /// Keys given directly, for tests and benches (origin `from_pairs`). No
    /// length check.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, Vec<u8>)>) -> Keys {
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

/// Everything that is signed besides the key.
///
/// None of the fields may contain a line break (values from `http::Method`,
/// `http::Uri` and `http::HeaderValue` never do); the verifier refuses
/// requests whose fields do.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The HTTP method; signed uppercase.
    pub method: &'a str,
    /// The path and query exactly as sent, e.g. `/realms/bank/balance/withdraw`.
    pub path: &'a str,
    /// The value of the `x-realm-via` header, or empty.
    pub via: &'a str,
    /// The body bytes.
    pub body: &'a [u8],
}

/// Makes the [`SIGNATURE`] header value for a call from realm `signer`,
/// signed with `key`, at `now` (unix seconds), with a fresh random nonce.
///
/// `signer` must be a realm name (letters, digits and `_`), as the project
/// guarantees for its own name; a header for any other name is refused by
/// the receiver (as malformed, or as a bad signature).
pub fn sign(key: &[u8], signer: &str, request: &Request<'_>, now: u64) -> http::HeaderValue {
    sign_with_nonce(key, signer, request, now, new_nonce())
}

fn sign_with_nonce(
    key: &[u8],
    signer: &str,
    request: &Request<'_>,
    now: u64,
    nonce: u128,
) -> http::HeaderValue {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let t = now.to_string();
    let nonce = format!("{nonce:032x}");
    let message = signed_string(request, &t, &nonce, signer);
    let tag = hmac::sign(&key, &message);
    let sig = URL_SAFE_NO_PAD.encode(tag.as_ref());
    let text = format!("v1; realm={signer}; t={t}; nonce={nonce}; sig={sig}");
    // Only a signer name with control characters makes this fail; send a
    // header that the receiver refuses as malformed, saying why.
    http::HeaderValue::from_str(&text).unwrap_or(http::HeaderValue::from_static(
        "v1; invalid-signer-realm-name",
    ))
}

/// The string that is signed: see the module documentation.
fn signed_string(request: &Request<'_>, t: &str, nonce: &str, signer: &str) -> Vec<u8> {
    let body_hash = digest::digest(&digest::SHA256, request.body);
    let mut out = Vec::with_capacity(
        CONTEXT.len()
            + request.method.len()
            + request.path.len()
            + t.len()
            + nonce.len()
            + signer.len()
            + request.via.len()
            + 64
            + 7,
    );
    out.extend_from_slice(CONTEXT.as_bytes());
    out.push(b'\n');
    out.extend(request.method.bytes().map(|b| b.to_ascii_uppercase()));
    for line in [request.path, t, nonce, signer, request.via] {
        out.push(b'\n');
        out.extend_from_slice(line.as_bytes());
    }
    out.push(b'\n');
    push_hex(&mut out, body_hash.as_ref());
    out
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// 128 random bits from the system generator. Should that ever fail (it
/// does not on supported systems), a nonce that is still unique: the SHA-256
/// of a process-wide counter, the time and the process id. Nonces only need
/// to be unique: the HMAC, not the nonce, makes signatures unforgeable.
fn new_nonce() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        ctx.update(&nanos.to_le_bytes());
        ctx.update(&std::process::id().to_le_bytes());
        let hash = ctx.finish();
        bytes.copy_from_slice(&hash.as_ref()[..16]);
    }
    u128::from_be_bytes(bytes)
}

/// Why a call between realms was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No [`SIGNATURE`] header.
    #[error(
        "the call has no {SIGNATURE} header: calls from other realms must be signed \
         with the key this realm shares with the caller"
    )]
    Unsigned,
    /// The header does not parse; says what part is wrong.
    #[error("malformed {SIGNATURE} header: {0} (expected `{FORMAT}`)")]
    Malformed(String),
    /// No key for the realm that signed.
    #[error("{}", unknown_peer_message(.0))]
    UnknownPeer(String),
    /// The HMAC does not match.
    #[error(
        "the signature of realm `{peer}` does not match the request: either the request \
         was changed on the way, or the two realms do not have the same key for each other \
         (check the key for `{peer}` here and the key for this realm in `{peer}`)"
    )]
    BadSignature {
        /// The realm named in the header.
        peer: String,
    },
    /// The timestamp is outside the replay window.
    #[error("{}", expired_message(peer, *skew_secs, *window_secs))]
    Expired {
        /// The realm that signed.
        peer: String,
        /// Receiver's clock minus the signature's timestamp: positive when
        /// the signature is in the past, negative when in the future.
        skew_secs: i64,
        /// The replay window.
        window_secs: u64,
    },
    /// The nonce was already used by that realm within the window.
    #[error(
        "the signature of realm `{peer}` was already used (its nonce was seen within the \
         replay window): this is a replayed request, or `{peer}` sent the same signed \
         request twice; each call must be signed anew"
    )]
    Replayed {
        /// The realm that signed.
        peer: String,
    },
    /// Too many nonces inside the window to remember them all.
    #[error(
        "too many signed calls within the replay window to remember them all (the replay \
         cache is full): retry in a moment"
    )]
    ReplayCacheFull,
}

fn unknown_peer_message(peer: &str) -> String {
    if peer.bytes().any(|b| b.is_ascii_uppercase()) {
        format!(
            "no key for realm `{peer}`: add it to the key file (${KEY_VAR_PREFIX}<REALM> \
             variables name lowercase realms only)"
        )
    } else {
        format!(
            "no key for realm `{peer}`: set ${KEY_VAR_PREFIX}{} or add it to the key file",
            peer.to_ascii_uppercase()
        )
    }
}

fn expired_message(peer: &str, skew: i64, window: u64) -> String {
    let when = if skew >= 0 {
        format!("is {skew} s old")
    } else {
        format!("is dated {} s in the future", skew.unsigned_abs())
    };
    format!(
        "the signature of realm `{peer}` {when}, outside the {window} s replay window: \
         check the clocks of both realms (NTP)"
    )
}

impl AuthError {
    /// A short stable code for error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unsigned => "unsigned",
            AuthError::Malformed(_) => "malformed_signature",
            AuthError::UnknownPeer(_) => "unknown_peer",
            AuthError::BadSignature { .. } => "bad_signature",
            AuthError::Expired { .. } => "expired",
            AuthError::Replayed { .. } => "replayed",
            AuthError::ReplayCacheFull => "replay_cache_full",
        }
    }

    /// The HTTP status to answer with: 503 when the replay cache is full
    /// (the call may succeed later), 401 otherwise.
    pub fn status(&self) -> http::StatusCode {
        match self {
            AuthError::ReplayCacheFull => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// A parsed header.
struct Parsed<'a> {
    realm: &'a str,
    t: u64,
    t_text: &'a str,
    nonce: u128,
    nonce_text: &'a str,
    sig: Vec<u8>,
}

/// A value from the header, quoted and shortened, for messages.
fn shown(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}...", &s[..i]),
        None => format!("{s:?}"),
    }
}

fn parse(header: &[u8]) -> Result<Parsed<'_>, AuthError> {
    let malformed = |s: String| Err(AuthError::Malformed(s));
    if !header
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return malformed("it has characters other than printable ASCII".into());
    }
    let Ok(text) = std::str::from_utf8(header) else {
        return malformed("it has characters other than printable ASCII".into());
    };
    let mut parts = text.split(';').map(str::trim);
    match parts.next() {
        Some("v1") => {}
        Some("") | None => return malformed("it is empty".into()),
        Some(v) if !v.contains('=') => {
            return malformed(format!(
                "unsupported version {}: this realm understands `v1`",
                shown(v)
            ));
        }
        Some(_) => return malformed("it does not start with the version `v1`".into()),
    }
    let (mut realm, mut t, mut nonce, mut sig) = (None, None, None, None);
    for part in parts.filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return malformed(format!("part {} is not `name=value`", shown(part)));
        };
        let (name, value) = (name.trim(), value.trim());
        let slot = match name {
            "realm" => &mut realm,
            "t" => &mut t,
            "nonce" => &mut nonce,
            "sig" => &mut sig,
            _ => return malformed(format!("unknown part {}", shown(name))),
        };
        if slot.replace(value).is_some() {
            return malformed(format!("`{name}=` appears twice"));
        }
    }
    let missing: Vec<&str> = [
        ("realm=", realm.is_none()),
        ("t=", t.is_none()),
        ("nonce=", nonce.is_none()),
        ("sig=", sig.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, missing)| missing.then_some(name))
    .collect();
    let (Some(realm), Some(t_text), Some(nonce_text), Some(sig_text)) = (realm, t, nonce, sig)
    else {
        return malformed(format!("missing `{}`", missing.join("`, `")));
    };

    if realm.len() > MAX_REALM_NAME || !crate::schema::is_ident(realm) {
        return malformed(format!(
            "realm {} is not a realm name (letters, digits and `_`)",
            shown(realm)
        ));
    }
    let t = match t_text.parse::<u64>() {
        Ok(t) if t_text.bytes().all(|b| b.is_ascii_digit()) => t,
        _ => {
            return malformed(format!("t {} is not a time in unix seconds", shown(t_text)));
        }
    };
    if nonce_text.len() != 32
        || !nonce_text
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return malformed(format!(
            "nonce {} is not 32 lowercase hex digits",
            shown(nonce_text)
        ));
    }
    let Ok(nonce) = u128::from_str_radix(nonce_text, 16) else {
        return malformed(format!(
            "nonce {} is not 32 lowercase hex digits",
            shown(nonce_text)
        ));
    };
    let sig = match URL_SAFE_NO_PAD.decode(sig_text) {
        Ok(sig) if sig.len() == 32 => sig,
        Ok(sig) => {
            return malformed(format!(
                "sig is {} bytes; an HMAC-SHA256 is 32 bytes",
                sig.len()
            ));
        }
        Err(_) => {
            return malformed(format!(
                "sig {} is not base64url without padding",
                shown(sig_text)
            ));
        }
    };
    Ok(Parsed {
        realm,
        t,
        t_text,
        nonce,
        nonce_text,
        sig,
    })
}

/// The key of a peer realm, ready for HMAC, and its id in the nonce cache.
struct Peer {
    id: u32,
    key: hmac::Key,
}

/// Checks signed calls: keys, replay window, and the nonces seen within it.
///
/// Shared by all tasks of the ingress (`&self` everywhere; it is `Sync`).
pub struct Verifier {
    keys: Keys,
    peers: std::collections::HashMap<String, Peer>,
    window_secs: u64,
    cache: NonceCache,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("window_secs", &self.window_secs)
            .field("max_nonces", &self.cache.max_nonces())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with the replay window `window` (whole seconds; the
    /// ingress uses 60 s) and room for [`DEFAULT_MAX_NONCES`] nonces.
    pub fn new(keys: Keys, window: Duration) -> Verifier {
        Verifier::with_capacity(keys, window, DEFAULT_MAX_NONCES)
    }

    /// A verifier that remembers at most about `max_nonces` nonces at once
    /// (at least 1); past that, calls are refused with
    /// [`AuthError::ReplayCacheFull`] until old nonces leave the window.
    pub fn with_capacity(keys: Keys, window: Duration, max_nonces: usize) -> Verifier {
        let peers = (0u32..)
            .zip(keys.keys.iter())
            .map(|(id, (name, key))| {
                (
                    name.clone(),
                    Peer {
                        id,
                        key: hmac::Key::new(hmac::HMAC_SHA256, &key.bytes),
                    },
                )
            })
            .collect();
        Verifier {
            keys,
            peers,
            window_secs: window.as_secs(),
            cache: NonceCache::new(max_nonces),
        }
    }

    /// The keys this verifier checks with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The replay window.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    /// Verifies `header` (the [`SIGNATURE`] value; `None` = unsigned) for
    /// `request` at `now` (unix seconds) and returns the verified signer
    /// realm.
    ///
    /// In order: parse, key lookup, window check, HMAC check, nonce check;
    /// only a valid signature may use up a nonce.
    pub fn verify(
        &self,
        header: Option<&[u8]>,
        request: &Request<'_>,
        now: u64,
    ) -> Result<String, AuthError> {
        let header = header.ok_or(AuthError::Unsigned)?;
        let parsed = parse(header)?;
        for (what, value) in [
            ("method", request.method),
            ("path", request.path),
            ("x-realm-via header", request.via),
        ] {
            if value.contains(['\n', '\r']) {
                return Err(AuthError::Malformed(format!(
                    "the request's {what} has a line break, which cannot be signed"
                )));
            }
        }
        let peer = self
            .peers
            .get(parsed.realm)
            .ok_or_else(|| AuthError::UnknownPeer(parsed.realm.to_string()))?;
        self.check_window(parsed.realm, parsed.t, now)?;
        let message = signed_string(request, parsed.t_text, parsed.nonce_text, parsed.realm);
        hmac::verify(&peer.key, &message, &parsed.sig).map_err(|_| AuthError::BadSignature {
            peer: parsed.realm.to_string(),
        })?;
        match self
            .cache
            .insert(parsed.nonce, peer.id, parsed.t, now, self.window_secs)
        {
            Insert::Fresh => Ok(parsed.realm.to_string()),
            Insert::Replayed => Err(AuthError::Replayed {
                peer: parsed.realm.to_string(),
            }),
            Insert::Full => Err(AuthError::ReplayCacheFull),
            Insert::Forgotten { clock } => Err(self.expired(parsed.realm, parsed.t, clock)),
        }
    }

    fn check_window(&self, peer: &str, t: u64, now: u64) -> Result<(), AuthError> {
        let skew = i128::from(now) - i128::from(t);
        if skew.unsigned_abs() > u128::from(self.window_secs) {
            return Err(self.expired(peer, t, now));
        }
        Ok(())
    }

    fn expired(&self, peer: &str, t: u64, now: u64) -> AuthError {
        let skew = i128::from(now) - i128::from(t);
        AuthError::Expired {
            peer: peer.to_string(),
            skew_secs: i64::try_from(skew).unwrap_or(if skew < 0 { i64::MIN } else { i64::MAX }),
            window_secs: self.window_secs,
        }
    }
}

/// The outcome of remembering a nonce.
#[derive(Debug, PartialEq, Eq)]
enum Insert {
    Fresh,
    Replayed,
    Full,
    /// Nonces with this timestamp may already have been forgotten: a call
    /// with a later clock (`clock`) pruned them while this one was on its
    /// way. Refused as expired.
    Forgotten {
        clock: u64,
    },
}

/// The nonces seen within the window, sharded by nonce bits so that
/// concurrent calls rarely wait on the same lock.
struct NonceCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

/// A remembered nonce.
struct Entry {
    nonce: u128,
    peer: u32,
    /// The last second at which a signature with this nonce's timestamp
    /// passes the window check (`t + window`).
    last: u64,
}

#[derive(Default)]
struct Shard {
    seen: HashSet<(u128, u32)>,
    /// In insertion order.
    order: VecDeque<Entry>,
    /// The largest `last` of the entries forgotten so far. Signatures whose
    /// `last` is not after it are refused, so that a forgotten nonce can
    /// never be accepted again, even by a call that read an earlier clock
    /// than the call that forgot it.
    forgotten: u64,
}

impl NonceCache {
    const SHARDS: usize = 16;

    fn new(max_nonces: usize) -> NonceCache {
        let max_nonces = max_nonces.max(1);
        // Small caches (tests) get one shard, so that their capacity is exact.
        let shards = if max_nonces >= Self::SHARDS * 64 {
            Self::SHARDS
        } else {
            1
        };
        NonceCache {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_nonces.div_ceil(shards),
        }
    }

    fn max_nonces(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    fn insert(&self, nonce: u128, peer: u32, t: u64, now: u64, window: u64) -> Insert {
        // The low bits of the nonce pick the shard (`shards.len()` is a
        // power of two); the truncating cast keeps exactly those bits.
        let index = (nonce as usize) & (self.shards.len() - 1);
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *shard;
        // Forget the nonces whose timestamps can no longer pass the window.
        // Entries are in insertion order, which is their timestamp order
        // give or take the clock skew, so a few expired entries may wait
        // behind a live one: memory stays below rate × 2 windows.
        while let Some(front) = shard.order.front() {
            if front.last >= now {
                break;
            }
            shard.forgotten = shard.forgotten.max(front.last);
            shard.seen.remove(&(front.nonce, front.peer));
            shard.order.pop_front();
        }
        let last = t.saturating_add(window);
        if last <= shard.forgotten {
            return Insert::Forgotten {
                clock: shard.forgotten.saturating_add(1),
            };
        }
        if shard.seen.contains(&(nonce, peer)) {
            return Insert::Replayed;
        }
        if shard.order.len() >= self.per_shard {
            return Insert::Full;
        }
        shard.seen.insert((nonce, peer));
        shard.order.push_back(Entry { nonce, peer, last });
        // Give memory back after a burst.
        if shard.seen.capacity() > 4096 && shard.seen.len() < shard.seen.capacity() / 4 {
            let len = shard.seen.len();
            shard.seen.shrink_to(len * 2);
            shard.order.shrink_to(len * 2);
        }
        Insert::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const WINDOW: Duration = Duration::from_secs(60);

    fn key(byte: u8) -> Vec<u8> {
        vec![byte; 32]
    }

    fn keys() -> Keys {
        Keys::from_pairs([
            ("shop".to_string(), key(1)),
            ("crm".to_string(), key(2)),
            ("bank".to_string(), key(3)),
        ])
    }

    fn request() -> Request<'static> {
        Request {
            method: "POST",
            path: "/realms/bank/balance/withdraw",
            via: "",
            body: br#"{"amount":5}"#,
        }
    }

    fn verifier() -> Verifier {
        Verifier::new(keys(), WINDOW)
    }

    fn verify(
        v: &Verifier,
        header: &http::HeaderValue,
        r: &Request<'_>,
    ) -> Result<String, AuthError> {
        v.verify(Some(header.as_bytes()), r, NOW)
    }

    #[test]
    fn known_answer() {
        let header = sign_with_nonce(
            b"0123456789abcdef0123456789abcdef",
            "shop",
            &Request {
                method: "post",
                path: "/realms/bank/balance/withdraw?dry=1",
                via: "crm",
                body: br#"{"amount":5}"#,
            },
            NOW,
            0x000102030405060708090a0b0c0d0e0f,
        );
        assert_eq!(
            header.to_str().unwrap(),
            "v1; realm=shop; t=1700000000; nonce=000102030405060708090a0b0c0d0e0f; \
             sig=Mnn_69HesjvMpV3YQdxA2t0qLHzl9PRO8fBV8NeHfF4"
        );
    }

    #[test]
    fn signed_string_format() {
        let s = signed_string(&request(), "17", "00ff", "shop");
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "realm-signature-v1\nPOST\n/realms/bank/balance/withdraw\n17\n00ff\nshop\n\n\
             7e84cbf0f7a7c92c037058665d66152f8eb8580ab2534e52c877bccceb9cc7bf"
        );
    }

    #[test]
    fn round_trip() {
        let v = verifier();
        let header = sign(&key(1), "shop", &request(), NOW);
        assert_eq!(verify(&v, &header, &request()), Ok("shop".to_string()));
        let text = header.to_str().unwrap();
        assert!(
            text.starts_with("v1; realm=shop; t=1700000000; nonce="),
            "{text}"
        );
        // Lowercase methods sign the same.
        let header = sign(
            &key(1),
            "shop",
            &Request {
                method: "post",
                ..request()
            },
            NOW,
        );
        assert_eq!(verify(&v, &header, &request()), Ok("shop".to_string()));
        // Within the window either way.
        let header = sign(&key(2), "crm", &request(), NOW - 60);
        assert_eq!(verify(&v, &header, &request()), Ok("crm".to_string()));
        let header = sign(&key(2), "crm", &request(), NOW + 60);
        assert_eq!(verify(&v, &header, &request()), Ok("crm".to_string()));
    }

    #[test]
    fn nonces_are_fresh() {
        let a = sign(&key(1), "shop", &request(), NOW);
        let b = sign(&key(1), "shop", &request(), NOW);
        assert_ne!(a, b);
    }

    #[test]
    fn unsigned() {
        let v = verifier();
        let e = v.verify(None, &request(), NOW).unwrap_err();
        assert_eq!(e, AuthError::Unsigned);
        assert_eq!(e.code(), "unsigned");
        assert!(e.to_string().contains("x-realm-signature"), "{e}");
    }

    fn bad(peer: &str) -> AuthError {
        AuthError::BadSignature {
            peer: peer.to_string(),
        }
    }

    #[test]
    fn tampered_request() {
        let v = verifier();
        let header = sign(&key(1), "shop", &request(), NOW);
        let cases = [
            Request {
                method: "PUT",
                ..request()
            },
            Request {
                path: "/realms/bank/balance/deposit",
                ..request()
            },
            Request {
                path: "/realms/bank/balance/withdraw?x=1",
                ..request()
            },
            Request {
                via: "crm",
                ..request()
            },
            Request {
                body: br#"{"amount":500}"#,
                ..request()
            },
            Request {
                body: b"",
                ..request()
            },
        ];
        for r in cases {
            assert_eq!(verify(&v, &header, &r), Err(bad("shop")), "{r:?}");
        }
        // Still unused: the failures did not consume the nonce.
        assert_eq!(verify(&v, &header, &request()), Ok("shop".to_string()));
    }

    /// The header with one `name=value` part replaced.
    fn with_part(header: &http::HeaderValue, name: &str, value: &str) -> http::HeaderValue {
        let text = header.to_str().unwrap();
        let parts: Vec<String> = text
            .split("; ")
            .map(|p| match p.split_once('=') {
                Some((n, _)) if n == name => format!("{n}={value}"),
                _ => p.to_string(),
            })
            .collect();
        http::HeaderValue::from_str(&parts.join("; ")).unwrap()
    }

    fn part<'a>(header: &'a http::HeaderValue, name: &str) -> &'a str {
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .unwrap()
    }

    #[test]
    fn tampered_header() {
        let v = verifier();
        let header = sign(&key(1), "shop", &request(), NOW);
        let t = with_part(&header, "t", &(NOW - 1).to_string());
        assert_eq!(verify(&v, &t, &request()), Err(bad("shop")));
        let t = with_part(&header, "t", &format!("0{NOW}"));
        assert_eq!(verify(&v, &t, &request()), Err(bad("shop")));
        let nonce = part(&header, "nonce");
        let other = format!(
            "{}{}",
            &nonce[..31],
            if nonce.ends_with('0') { '1' } else { '0' }
        );
        let n = with_part(&header, "nonce", &other);
        assert_eq!(verify(&v, &n, &request()), Err(bad("shop")));
        // Claiming to be another realm: that realm's key does not match.
        let r = with_part(&header, "realm", "crm");
        assert_eq!(verify(&v, &r, &request()), Err(bad("crm")));
        // A signature of other bytes.
        let s = with_part(&header, "sig", &URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert_eq!(verify(&v, &s, &request()), Err(bad("shop")));
        let e = verify(&v, &s, &request()).unwrap_err();
        assert_eq!(e.code(), "bad_signature");
        // Signed with a key of another pair.
        let wrong = sign(&key(2), "shop", &request(), NOW);
        assert_eq!(verify(&v, &wrong, &request()), Err(bad("shop")));
        assert_eq!(verify(&v, &header, &request()), Ok("shop".to_string()));
    }

    #[test]
    fn unknown_peer() {
        let v = verifier();
        let header = sign(&key(1), "erp", &request(), NOW);
        let e = verify(&v, &header, &request()).unwrap_err();
        assert_eq!(e, AuthError::UnknownPeer("erp".to_string()));
        assert_eq!(e.code(), "unknown_peer");
        assert_eq!(
            e.to_string(),
            "no key for realm `erp`: set $REALM_KEY_ERP or add it to the key file"
        );
        let e = AuthError::UnknownPeer("Erp".to_string());
        assert!(e.to_string().contains("add it to the key file"), "{e}");
        // Unknown peers are refused before the window is checked.
        let header = sign(&key(1), "erp", &request(), 0);
        assert_eq!(
            verify(&v, &header, &request()),
            Err(AuthError::UnknownPeer("erp".to_string()))
        );
        let e = Verifier::new(Keys::empty(), WINDOW)
            .verify(Some(header.as_bytes()), &request(), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "unknown_peer");
    }

    #[test]
    fn expired() {
        let v = verifier();
        let old = sign(&key(1), "shop", &request(), NOW - 412);
        let e = verify(&v, &old, &request()).unwrap_err();
        assert_eq!(
            e,
            AuthError::Expired {
                peer: "shop".to_string(),
                skew_secs: 412,
                window_secs: 60
            }
        );
        assert_eq!(e.code(), "expired");
        assert_eq!(
            e.to_string(),
            "the signature of realm `shop` is 412 s old, outside the 60 s replay window: \
             check the clocks of both realms (NTP)"
        );
        let future = sign(&key(1), "shop", &request(), NOW + 61);
        let e = verify(&v, &future, &request()).unwrap_err();
        assert_eq!(
            e,
            AuthError::Expired {
                peer: "shop".to_string(),
                skew_secs: -61,
                window_secs: 60
            }
        );
        assert_eq!(
            e.to_string(),
            "the signature of realm `shop` is dated 61 s in the future, outside the 60 s \
             replay window: check the clocks of both realms (NTP)"
        );
        // The window is checked before the HMAC: a tampered old signature
        // is still just expired.
        let tampered = with_part(&old, "sig", &URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert_eq!(
            verify(&v, &tampered, &request()).unwrap_err().code(),
            "expired"
        );
        // Extreme timestamps do not overflow.
        let far = sign(&key(1), "shop", &request(), u64::MAX);
        assert_eq!(
            v.verify(Some(far.as_bytes()), &request(), 0),
            Err(AuthError::Expired {
                peer: "shop".to_string(),
                skew_secs: i64::MIN,
                window_secs: 60
            })
        );
    }

    #[test]
    fn replayed() {
        let v = verifier();
        let header = sign(&key(1), "shop", &request(), NOW);
        assert_eq!(verify(&v, &header, &request()), Ok("shop".to_string()));
        let e = verify(&v, &header, &request()).unwrap_err();
        assert_eq!(
            e,
            AuthError::Replayed {
                peer: "shop".to_string()
            }
        );
        assert_eq!(e.code(), "replayed");
        // Still refused at the edge of the window.
        assert_eq!(
            v.verify(Some(header.as_bytes()), &request(), NOW + 60)
                .unwrap_err()
                .code(),
            "replayed"
        );
        // And expired after it.
        assert_eq!(
            v.verify(Some(header.as_bytes()), &request(), NOW + 61)
                .unwrap_err()
                .code(),
            "expired"
        );

        // The same nonce from another realm is another nonce.
        let nonce = u128::from_str_radix(part(&header, "nonce"), 16).unwrap();
        let crm = sign_with_nonce(&key(2), "crm", &request(), NOW, nonce);
        assert_eq!(part(&crm, "nonce"), part(&header, "nonce"));
        let v = verifier();
        assert_eq!(verify(&v, &header, &request()), Ok("shop".to_string()));
        assert_eq!(verify(&v, &crm, &request()), Ok("crm".to_string()));
        assert_eq!(verify(&v, &crm, &request()).unwrap_err().code(), "replayed");
    }

    #[test]
    fn forgotten_nonces_stay_refused() {
        // A call with a later clock forgets a nonce; a racing call with an
        // earlier clock must not then accept its replay.
        // One shard, so that both nonces land in it.
        let v = Verifier::with_capacity(keys(), WINDOW, 100);
        let header = sign(&key(1), "shop", &request(), NOW);
        assert_eq!(verify(&v, &header, &request()), Ok("shop".to_string()));
        let later = sign(&key(1), "shop", &request(), NOW + 61);
        assert_eq!(
            v.verify(Some(later.as_bytes()), &request(), NOW + 61),
            Ok("shop".to_string())
        );
        assert_eq!(
            v.verify(Some(header.as_bytes()), &request(), NOW + 59),
            Err(AuthError::Expired {
                peer: "shop".to_string(),
                skew_secs: 61,
                window_secs: 60
            })
        );
    }

    fn malformed(v: &Verifier, header: &str) -> String {
        match v.verify(Some(header.as_bytes()), &request(), NOW) {
            Err(AuthError::Malformed(m)) => m,
            other => panic!("{header:?}: {other:?}"),
        }
    }

    #[test]
    fn malformed_headers() {
        let v = verifier();
        let good = sign(&key(1), "shop", &request(), NOW);
        let good = good.to_str().unwrap();
        let sig = part_str(good, "sig");
        let nonce = part_str(good, "nonce");

        assert_eq!(malformed(&v, ""), "it is empty");
        assert!(malformed(&v, "v2; realm=shop").contains("unsupported version \"v2\""));
        assert!(malformed(&v, "realm=shop; v1").contains("does not start with the version"));
        assert_eq!(
            malformed(&v, "v1; realm=shop; t=1"),
            "missing `nonce=`, `sig=`"
        );
        assert_eq!(
            malformed(&v, "v1"),
            "missing `realm=`, `t=`, `nonce=`, `sig=`"
        );
        assert!(malformed(&v, &format!("{good}; extra=1")).contains("unknown part \"extra\""));
        assert!(malformed(&v, &format!("{good}; realm=shop")).contains("`realm=` appears twice"));
        assert!(malformed(&v, &format!("{good}; oops")).contains("not `name=value`"));
        assert!(
            malformed(&v, &good.replace(nonce, &nonce.to_uppercase()))
                .contains("not 32 lowercase hex")
        );
        assert!(
            malformed(&v, &good.replace(nonce, &format!("{}g", &nonce[..31])))
                .contains("not 32 lowercase hex")
        );
        assert!(malformed(&v, &good.replace(nonce, &nonce[..30])).contains("not 32 lowercase hex"));
        assert!(
            malformed(&v, &good.replace(sig, &format!("{}=", &sig[..42])))
                .contains("not base64url")
        );
        assert!(malformed(&v, &good.replace(sig, &format!("{sig}="))).contains("not base64url"));
        assert!(malformed(&v, &good.replace(sig, "!!!!")).contains("not base64url"));
        assert!(
            malformed(&v, &good.replace(sig, &URL_SAFE_NO_PAD.encode([1u8; 20])))
                .contains("sig is 20 bytes")
        );
        assert!(malformed(&v, &good.replace("t=", "t=-")).contains("not a time"));
        assert!(malformed(&v, &good.replace("t=", "t=+")).contains("not a time"));
        assert!(
            malformed(&v, &good.replace("t=", "t=99999999999999999999")).contains("not a time")
        );
        assert!(
            malformed(&v, &good.replace("realm=shop", "realm=sh-op")).contains("not a realm name")
        );
        assert!(malformed(&v, &good.replace("realm=shop", "realm=")).contains("not a realm name"));
        assert!(malformed(&v, "v1; realm=shop\u{1}").contains("printable ASCII"));
        assert!(
            v.verify(Some(b"v1; realm=sh\xc3\xa9"), &request(), NOW)
                .unwrap_err()
                .to_string()
                .contains("printable ASCII")
        );
        // Long values are shortened in messages.
        let m = malformed(&v, &format!("v1; {}=1", "x".repeat(1000)));
        assert!(m.len() < 100, "{m}");
        // The error message tells the expected format.
        let e = AuthError::Malformed("it is empty".into());
        assert_eq!(e.code(), "malformed_signature");
        assert!(e.to_string().contains("expected `v1; realm=<realm>"), "{e}");

        // Spaces, order and empty parts are tolerated.
        let t = part_str(good, "t");
        let shuffled = format!("  v1 ;sig = {sig};nonce={nonce} ;; t= {t}  ;realm =shop;");
        assert_eq!(
            v.verify(Some(shuffled.as_bytes()), &request(), NOW),
            Ok("shop".to_string())
        );
    }

    fn part_str<'a>(header: &'a str, name: &str) -> &'a str {
        header
            .split("; ")
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .unwrap()
    }

    #[test]
    fn invalid_signer_name_is_refused_by_the_receiver() {
        let v = verifier();
        for signer in ["sh op", "shop;", "sh\u{1}op", ""] {
            let header = sign(&key(1), signer, &request(), NOW);
            assert!(
                matches!(
                    verify(&v, &header, &request()),
                    Err(AuthError::Malformed(_) | AuthError::BadSignature { .. })
                ),
                "{signer:?}"
            );
        }
    }

    #[test]
    fn line_breaks_refused() {
        let v = verifier();
        let r = Request {
            path: "/a\nb",
            ..request()
        };
        let header = sign(&key(1), "shop", &r, NOW);
        assert!(matches!(
            verify(&v, &header, &r),
            Err(AuthError::Malformed(m)) if m.contains("path has a line break")
        ));
    }

    #[test]
    fn cache_full_then_pruned() {
        let v = Verifier::with_capacity(keys(), WINDOW, 3);
        for _ in 0..3 {
            let h = sign(&key(1), "shop", &request(), NOW);
            assert_eq!(verify(&v, &h, &request()), Ok("shop".to_string()));
        }
        let h = sign(&key(1), "shop", &request(), NOW);
        let e = verify(&v, &h, &request()).unwrap_err();
        assert_eq!(e, AuthError::ReplayCacheFull);
        assert_eq!(e.code(), "replay_cache_full");
        assert_eq!(e.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        // Still full at the edge of the window.
        let h = sign(&key(1), "shop", &request(), NOW + 60);
        assert_eq!(
            v.verify(Some(h.as_bytes()), &request(), NOW + 60),
            Err(AuthError::ReplayCacheFull)
        );
        // Once the first three are out of the window, there is room again.
        for _ in 0..3 {
            let h = sign(&key(1), "shop", &request(), NOW + 61);
            assert_eq!(
                v.verify(Some(h.as_bytes()), &request(), NOW + 61),
                Ok("shop".to_string())
            );
        }
        let h = sign(&key(1), "shop", &request(), NOW + 61);
        assert_eq!(
            v.verify(Some(h.as_bytes()), &request(), NOW + 61),
            Err(AuthError::ReplayCacheFull)
        );
    }

    #[test]
    fn sharded_cache() {
        let cache = NonceCache::new(DEFAULT_MAX_NONCES);
        assert_eq!(cache.shards.len(), NonceCache::SHARDS);
        assert_eq!(cache.max_nonces(), DEFAULT_MAX_NONCES);
        for nonce in 0..1000u128 {
            assert_eq!(cache.insert(nonce, 0, NOW, NOW, 60), Insert::Fresh);
        }
        for nonce in 0..1000u128 {
            assert_eq!(cache.insert(nonce, 0, NOW, NOW, 60), Insert::Replayed);
            assert_eq!(cache.insert(nonce, 1, NOW, NOW, 60), Insert::Fresh);
        }
        // All pruned once out of the window.
        assert_eq!(cache.insert(5000, 0, NOW + 61, NOW + 61, 60), Insert::Fresh);
        let total: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().unwrap().order.len())
            .sum();
        assert!(total <= 2000, "{total}");
        for nonce in 0..1000u128 {
            assert_eq!(
                cache.insert(nonce, 0, NOW + 61, NOW + 61, 60),
                Insert::Fresh
            );
        }
    }

    #[test]
    fn shrinks_after_burst() {
        let cache = NonceCache::new(100_000);
        for nonce in 0..100_000u128 {
            assert_eq!(cache.insert(nonce, 0, NOW, NOW, 60), Insert::Fresh);
        }
        for nonce in 0..100u128 {
            assert_eq!(
                cache.insert(1_000_000 + nonce * 16, 0, NOW + 61, NOW + 61, 60),
                Insert::Fresh
            );
        }
        let shard = cache.shards[0].lock().unwrap();
        assert_eq!(shard.order.len(), 100);
        assert!(shard.seen.capacity() < 10_000, "{}", shard.seen.capacity());
    }

    #[test]
    fn concurrent_verify() {
        let v = verifier();
        let headers: Vec<_> = (0..8 * 200)
            .map(|_| sign(&key(1), "shop", &request(), NOW))
            .collect();
        std::thread::scope(|s| {
            for chunk in headers.chunks(200) {
                let v = &v;
                s.spawn(move || {
                    for h in chunk {
                        assert_eq!(verify(v, h, &request()), Ok("shop".to_string()));
                    }
                });
            }
        });

        let shared = sign(&key(2), "crm", &request(), NOW);
        let results: Vec<Result<String, AuthError>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| s.spawn(|| verify(&v, &shared, &request())))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert_eq!(
            results
                .iter()
                .filter(|r| **r
                    == Err(AuthError::Replayed {
                        peer: "crm".to_string()
                    }))
                .count(),
            7
        );
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
            format!("{e:#}").starts_with("cannot open the key file missing.json: "),
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

    #[test]
    fn verifier_is_shareable() {
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<Verifier>();
        let v = verifier();
        assert_eq!(v.keys().peers().count(), 3);
        assert_eq!(v.window(), WINDOW);
        assert!(!format!("{v:?}").contains("[1, 1"));
    }
}
