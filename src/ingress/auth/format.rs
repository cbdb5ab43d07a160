//! The signature format: the string that is signed, the [`SIGNATURE`]
//! header written ([`sign`]) and read back (`parse`), strictly and with
//! bounded lengths.
//!
//! Pure apart from the nonce's randomness: no keys are kept, no clock read.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SecureRandom as _;
use ring::{digest, hmac};

use super::*;

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

pub(super) fn sign_with_nonce(
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
pub(super) fn signed_string(request: &Request<'_>, t: &str, nonce: &str, signer: &str) -> Vec<u8> {
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
pub(super) fn new_nonce() -> u128 {
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

/// A parsed header.
pub(super) struct Parsed<'a> {
    pub(super) realm: &'a str,
    pub(super) t: u64,
    pub(super) t_text: &'a str,
    pub(super) nonce: u128,
    pub(super) nonce_text: &'a str,
    pub(super) sig: Vec<u8>,
}

/// A value from the header, quoted and shortened, for messages.
pub(super) fn shown(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}...", &s[..i]),
        None => format!("{s:?}"),
    }
}

pub(super) fn parse(header: &[u8]) -> Result<Parsed<'_>, AuthError> {
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
