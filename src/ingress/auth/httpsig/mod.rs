//! HTTP Message Signatures (RFC 9421) with `ed25519`, as realms sign the
//! calls they make to each other: the signature base, the `Signature-Input`
//! and `Signature` header values (RFC 8941 structured fields), parsing them
//! back, verifying against a realm's public keys, and the body's
//! `Content-Digest` (RFC 9530, `sha-256`).
//!
//! Pure: no I/O, no clock (the caller passes `now`), no logging; key bytes
//! never appear in an error or a `Debug` output. Replay protection (the
//! nonce cache) is the caller's: [`Verified`] hands back the nonce and the
//! times to check it with.
//!
//! # The profile
//!
//! A realm signs every call with one member, tagged `tag="realm"`, covering
//! exactly [`COVERED`] in that order:
//!
//! ```text
//! Signature-Input: <label>=("@method" "@target-uri" "content-digest" "x-realm-via" "x-realm-caller");created=<unix s>;expires=<unix s>;nonce="<hex>";keyid="<key id>";alg="ed25519";tag="realm"
//! Signature: <label>=:<base64 of the 64-byte Ed25519 signature>:
//! ```
//!
//! A hub that relays a call appends its own member (another label) to both
//! dictionaries, so the callee sees both signatures. Members without
//! `tag="realm"` are ignored (they belong to someone else); a realm member
//! that is malformed or does not verify fails the whole message.
//!
//! # Why not the `httpsig` crate
//!
//! `httpsig` 0.0.26 (crates.io, RFC 9421) was evaluated first. Its
//! dependencies bring a second crypto stack beside `ring`, which realm
//! already uses for TLS and keys: `ed25519-compact`, `ecdsa`, `p256`,
//! `p384`, `sha2`, `hmac`, `pkcs8`, `spki`, `sec1` and `sfv` 0.15, none of
//! them in realm's `Cargo.lock` today, and only RSA (`rsa`, a release
//! candidate) can be left out by a feature. `sfv` alone (0.16, for the
//! structured fields) needs Rust 1.95 while realm
//! builds with 1.89. The profile above needs five components, six
//! parameters and one algorithm, so the signature base is written here by
//! the RFC (section 2.5) with a strict parser for the subset of RFC 8941
//! the two headers use, checked against RFC 9421's own test vector (B.2.6,
//! key B.1.4) and against an independent implementation (Python's
//! `http-message-signatures`, `tests/it/httpsig.rs`), both ways.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};

mod sfv;

pub use sfv::is_key;
use sfv::{Item, Parser};

/// The components a realm signs, in order.
pub const COVERED: [&str; 5] = [
    "@method",
    "@target-uri",
    "content-digest",
    "x-realm-via",
    "x-realm-caller",
];

/// `tag` of a realm's signatures.
pub const TAG: &str = "realm";

/// `alg` of a realm's signatures.
pub const ALG: &str = "ed25519";

/// The header naming the calling realm.
pub const CALLER_HEADER: &str = "x-realm-caller";

/// The header a hub adds when it relays a signed call: the `@target-uri`
/// the original caller signed (the hub's own URL), so that the callee can
/// check the caller's signature too. The hub's signature covers it.
pub const ORIGIN_URI_HEADER: &str = "x-realm-origin-uri";

/// Bytes of a `Signature-Input`, `Signature` or `Content-Digest` value
/// this module parses; longer values are refused before parsing.
pub const MAX_HEADER: usize = 4096;

/// Members of one dictionary (signatures on one message).
pub const MAX_MEMBERS: usize = 8;

/// Components one signature may cover.
const MAX_COMPONENTS: usize = 16;

/// Bytes of one string parameter (`nonce`, `keyid`, ...).
const MAX_STRING: usize = 256;

/// Why a message's signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("the `{header}` header is {len} bytes, more than the {MAX_HEADER} allowed")]
    TooLong { header: &'static str, len: usize },
    #[error("the `{header}` header is not valid: {reason}")]
    Syntax {
        header: &'static str,
        reason: String,
    },
    #[error("no signature tagged \"realm\"")]
    Unsigned,
    #[error("signature `{label}` has a `Signature-Input` but no `Signature`")]
    NoSignature { label: String },
    #[error("signature `{label}` does not cover `{component}`")]
    NotCovered { label: String, component: String },
    #[error("signature `{label}` covers `{component}`, which the message does not have")]
    Missing { label: String, component: String },
    #[error("signature `{label}` has no `{param}` parameter")]
    NoParam { label: String, param: &'static str },
    #[error("signature `{label}` uses algorithm {alg:?}; realm signs with \"ed25519\"")]
    Algorithm { label: String, alg: String },
    #[error("signature `{label}` expired at {expires} (now {now})")]
    Expired {
        label: String,
        expires: i64,
        now: i64,
    },
    #[error(
        "signature `{label}` was created at {created}, more than the {max_age}s replay window before now ({now})"
    )]
    TooOld {
        label: String,
        created: i64,
        now: i64,
        max_age: i64,
    },
    #[error("signature `{label}` was created at {created}, in the future (now {now})")]
    Future {
        label: String,
        created: i64,
        now: i64,
    },
    #[error("signature `{label}` is valid for {secs}s, longer than the {max}s allowed")]
    TooLongLived { label: String, secs: i64, max: i64 },
    #[error("signature `{label}` is signed with key `{keyid}`, which is not known")]
    UnknownKey { label: String, keyid: String },
    #[error("signature `{label}` is signed with key `{keyid}`, which is retired")]
    RetiredKey { label: String, keyid: String },
    #[error("signature `{label}` (key `{keyid}`) does not match the message")]
    Mismatch { label: String, keyid: String },
    #[error("the body does not match its `content-digest` ({reason})")]
    Digest { reason: String },
    #[error("signature `{label}` was made for a call to {signed}, not for this call to {called}")]
    OtherTarget {
        label: String,
        signed: String,
        called: String,
    },
}

/// What a verifier knows of a key id.
pub enum KeyStatus<'k> {
    /// A trusted key: its 32 raw Ed25519 public key bytes.
    Active(&'k [u8]),
    /// A key its realm retired: refused.
    Retired,
    /// No such key.
    Unknown,
}

/// A request as the signature sees it.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    /// The method, as sent (`POST`).
    pub method: &'a str,
    /// The full target URI (`https://bank.example:8443/call/bank.echo?x=1`).
    pub target_uri: &'a str,
    /// Header fields: lowercase names and their values (a name given twice
    /// is combined as RFC 9421 section 2.1 says: values joined by `, `).
    pub fields: &'a [(&'a str, &'a str)],
}

impl Message<'_> {
    /// The value of a component, `None` when the message has none.
    fn component(&self, name: &str) -> Option<String> {
        match name {
            "@method" => Some(self.method.to_string()),
            "@target-uri" => Some(self.target_uri.to_string()),
            "@authority" | "@scheme" | "@path" | "@query" | "@request-target" => {
                let uri: http::Uri = self.target_uri.parse().ok()?;
                Some(match name {
                    "@authority" => uri.authority()?.as_str().to_ascii_lowercase(),
                    "@scheme" => uri.scheme_str()?.to_ascii_lowercase(),
                    "@path" => match uri.path() {
                        "" => "/".to_string(),
                        p => p.to_string(),
                    },
                    "@query" => format!("?{}", uri.query().unwrap_or("")),
                    _ => uri.path_and_query()?.as_str().to_string(),
                })
            }
            _ if name.starts_with('@') => None,
            _ => {
                let values: Vec<&str> = self
                    .fields
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim_matches([' ', '\t']))
                    .collect();
                (!values.is_empty()).then(|| values.join(", "))
            }
        }
    }
}

/// A parameter value: an integer or a string (the only kinds RFC 9421's
/// signature parameters have).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    Int(i64),
    Str(String),
}

/// One member of `Signature-Input`: the label, the covered components and
/// the parameters in the order they were written (the order is signed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureInput {
    pub label: String,
    pub components: Vec<String>,
    pub params: Vec<(String, Param)>,
}

impl SignatureInput {
    /// `(...);created=...` as RFC 8941 serializes it: the value of the
    /// member, and of the `@signature-params` line.
    pub fn serialize_value(&self) -> String {
        let mut out = String::from("(");
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            write_string(&mut out, c);
        }
        out.push(')');
        for (name, value) in &self.params {
            out.push(';');
            out.push_str(name);
            out.push('=');
            match value {
                Param::Int(n) => {
                    let _ = write!(out, "{n}");
                }
                Param::Str(s) => write_string(&mut out, s),
            }
        }
        out
    }

    /// `label=(...);...`: this member as a `Signature-Input` dictionary
    /// member.
    pub fn serialize(&self) -> String {
        format!("{}={}", self.label, self.serialize_value())
    }

    /// The integer parameter `name`.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.params.iter().find_map(|(n, v)| match v {
            Param::Int(i) if n == name => Some(*i),
            _ => None,
        })
    }

    /// The string parameter `name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.params.iter().find_map(|(n, v)| match v {
            Param::Str(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The signature base (RFC 9421 section 2.5) of `msg` for `input`: one
/// line per covered component, then `"@signature-params"`.
pub fn signature_base(msg: &Message, input: &SignatureInput) -> Result<String, Error> {
    let mut base = String::new();
    for name in &input.components {
        let value = msg.component(name).ok_or_else(|| Error::Missing {
            label: input.label.clone(),
            component: name.clone(),
        })?;
        if value.contains(['\n', '\r']) {
            return Err(Error::Missing {
                label: input.label.clone(),
                component: name.clone(),
            });
        }
        let _ = writeln!(base, "\"{name}\": {value}");
    }
    let _ = write!(base, "\"@signature-params\": {}", input.serialize_value());
    Ok(base)
}

/// `sha-256=:<base64>:`: the `Content-Digest` of `body` (RFC 9530).
pub fn content_digest(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    format!("sha-256=:{}:", STANDARD.encode(digest.as_ref()))
}

/// Checks a `Content-Digest` value against `body`: its `sha-256` member
/// must be there and match (other algorithms are ignored).
pub fn check_content_digest(value: &str, body: &[u8]) -> Result<(), Error> {
    const H: &str = "content-digest";
    check_len(H, value)?;
    let members = Parser::new(H, value).dictionary()?;
    let Some((_, item)) = members.iter().find(|(k, _)| k == "sha-256") else {
        return Err(Error::Digest {
            reason: "no sha-256 member".into(),
        });
    };
    let Item::Bytes(expected) = item else {
        return Err(Error::Digest {
            reason: "sha-256 is not a byte sequence".into(),
        });
    };
    let actual = ring::digest::digest(&ring::digest::SHA256, body);
    if actual.as_ref() != expected.as_slice() {
        return Err(Error::Digest {
            reason: "sha-256 differs".into(),
        });
    }
    Ok(())
}

/// What a realm puts in a signature.
#[derive(Clone, Debug)]
pub struct Signing<'a> {
    /// The dictionary label (a lowercase RFC 8941 key, e.g. `realm` or
    /// the hub's name lowercased); unique on the message.
    pub label: &'a str,
    /// The id of the signing key (`[realm] public-keys`).
    pub keyid: &'a str,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds, after `created`.
    pub expires: i64,
    /// A fresh random value, for the receiver's replay cache.
    pub nonce: &'a str,
}

/// The two members a signature adds: to `Signature-Input` and to
/// `Signature` (append each to the header with [`append_member`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub input: String,
    pub signature: String,
}

/// Signs `msg` (which must carry `content-digest`, `x-realm-via` and
/// `x-realm-caller`) with `key` as a realm does: [`COVERED`], the
/// parameters of `signing`, `alg="ed25519"`, `tag="realm"`.
pub fn sign(msg: &Message, key: &Ed25519KeyPair, signing: &Signing) -> Result<Signed, Error> {
    sign_covering(msg, key, signing, &[])
}

/// [`sign`], covering `extra` components after [`COVERED`] (a hub covers
/// [`ORIGIN_URI_HEADER`]).
pub fn sign_covering(
    msg: &Message,
    key: &Ed25519KeyPair,
    signing: &Signing,
    extra: &[&str],
) -> Result<Signed, Error> {
    let input = SignatureInput {
        label: signing.label.to_string(),
        components: COVERED.iter().chain(extra).map(|c| c.to_string()).collect(),
        params: vec![
            ("created".into(), Param::Int(signing.created)),
            ("expires".into(), Param::Int(signing.expires)),
            ("nonce".into(), Param::Str(signing.nonce.into())),
            ("keyid".into(), Param::Str(signing.keyid.into())),
            ("alg".into(), Param::Str(ALG.into())),
            ("tag".into(), Param::Str(TAG.into())),
        ],
    };
    sign_input(msg, key, &input)
}

/// Signs `msg` for any `input` (no profile checks).
pub fn sign_input(
    msg: &Message,
    key: &Ed25519KeyPair,
    input: &SignatureInput,
) -> Result<Signed, Error> {
    if !is_key(&input.label) {
        return Err(Error::Syntax {
            header: "signature-input",
            reason: format!("label {:?} is not a lowercase key", input.label),
        });
    }
    for (_, value) in &input.params {
        if let Param::Str(s) = value
            && !s.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(Error::Syntax {
                header: "signature-input",
                reason: "a string parameter has a character RFC 8941 strings cannot hold".into(),
            });
        }
    }
    let base = signature_base(msg, input)?;
    let sig = key.sign(base.as_bytes());
    Ok(Signed {
        input: input.serialize(),
        signature: format!("{}=:{}:", input.label, STANDARD.encode(sig.as_ref())),
    })
}

/// `existing` with `member` appended (a dictionary of one when there is
/// none).
pub fn append_member(existing: Option<&str>, member: &str) -> String {
    match existing.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => format!("{e}, {member}"),
        None => member.to_string(),
    }
}

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub label: String,
    pub keyid: String,
    pub created: i64,
    pub expires: i64,
    pub nonce: String,
}

/// What a verifier allows.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Unix seconds now.
    pub now: i64,
    /// Seconds `created` may be ahead of `now` (clock skew).
    pub skew: i64,
    /// Seconds `created` may be behind `now` (the replay window), however
    /// long the signer made it valid: a nonce is remembered that long.
    pub max_age: i64,
    /// Seconds from `created` to `expires` at most.
    pub max_lifetime: i64,
}

/// Parses `Signature-Input`: every member, strictly.
pub fn parse_signature_input(value: &str) -> Result<Vec<SignatureInput>, Error> {
    const H: &str = "signature-input";
    check_len(H, value)?;
    let members = Parser::new(H, value).dictionary()?;
    members
        .into_iter()
        .map(|(label, item)| match item {
            Item::Inner(components, params) => Ok(SignatureInput {
                label,
                components,
                params,
            }),
            _ => Err(Error::Syntax {
                header: H,
                reason: format!("member `{label}` is not an inner list"),
            }),
        })
        .collect()
}

/// Parses `Signature`: label → signature bytes.
pub fn parse_signature(value: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    const H: &str = "signature";
    check_len(H, value)?;
    let members = Parser::new(H, value).dictionary()?;
    members
        .into_iter()
        .map(|(label, item)| match item {
            Item::Bytes(b) => Ok((label, b)),
            _ => Err(Error::Syntax {
                header: H,
                reason: format!("member `{label}` is not a byte sequence"),
            }),
        })
        .collect()
}

/// Verifies every realm signature of a message (members tagged
/// `tag="realm"`), in header order, each by [`verify_member`] against the
/// same `msg`; the body must match `content-digest`. At least one realm
/// signature is required.
pub fn verify<'k>(
    msg: &Message,
    body: &[u8],
    signature_input: &str,
    signature: &str,
    keys: impl Fn(&str) -> KeyStatus<'k>,
    policy: &Policy,
) -> Result<Vec<Verified>, Error> {
    let inputs = parse_signature_input(signature_input)?;
    let signatures = parse_signature(signature)?;
    let verified = inputs
        .iter()
        .filter(|i| is_realm(i))
        .map(|input| verify_member(msg, input, &signatures, &keys, policy))
        .collect::<Result<Vec<_>, _>>()?;
    if verified.is_empty() {
        return Err(Error::Unsigned);
    }
    check_message_digest(msg, body)?;
    Ok(verified)
}

/// Whether a member is a realm's (`tag="realm"`).
pub fn is_realm(input: &SignatureInput) -> bool {
    input.str("tag") == Some(TAG)
}

/// The body against the message's `content-digest` header.
pub fn check_message_digest(msg: &Message, body: &[u8]) -> Result<(), Error> {
    let digest = msg
        .component("content-digest")
        .ok_or_else(|| Error::Digest {
            reason: "no content-digest header".into(),
        })?;
    check_content_digest(&digest, body)
}

/// Verifies one realm member (of [`parse_signature_input`]) over `msg`,
/// with its signature among `signatures` ([`parse_signature`]): it must
/// cover [`COVERED`], carry `created`, `expires`, `nonce` and `keyid` (and
/// `alg`, if given, must be `ed25519`), be current by `policy`, be signed
/// by a key `keys` says is active, and match. The body's digest is not
/// checked here ([`check_message_digest`]).
///
/// A relayed call carries the original caller's member beside the hub's:
/// the hub's verifies against the request as received, the caller's
/// against the request as the caller sent it (its `@target-uri` and
/// `x-realm-via`), which is why the message is per member.
pub fn verify_member<'k>(
    msg: &Message,
    input: &SignatureInput,
    signatures: &[(String, Vec<u8>)],
    keys: impl Fn(&str) -> KeyStatus<'k>,
    policy: &Policy,
) -> Result<Verified, Error> {
    let label = || input.label.clone();
    for component in COVERED {
        if !input.components.iter().any(|c| c == component) {
            return Err(Error::NotCovered {
                label: label(),
                component: component.into(),
            });
        }
    }
    let need_int = |param: &'static str| {
        input.int(param).ok_or(Error::NoParam {
            label: label(),
            param,
        })
    };
    let need_str = |param: &'static str| {
        input.str(param).ok_or(Error::NoParam {
            label: label(),
            param,
        })
    };
    let created = need_int("created")?;
    let expires = need_int("expires")?;
    let nonce = need_str("nonce")?;
    let keyid = need_str("keyid")?;
    if let Some(alg) = input.str("alg")
        && alg != ALG
    {
        return Err(Error::Algorithm {
            label: label(),
            alg: alg.into(),
        });
    }
    if expires <= policy.now {
        return Err(Error::Expired {
            label: label(),
            expires,
            now: policy.now,
        });
    }
    if policy.now.saturating_sub(created) > policy.max_age {
        return Err(Error::TooOld {
            label: label(),
            created,
            now: policy.now,
            max_age: policy.max_age,
        });
    }
    if created > policy.now.saturating_add(policy.skew) {
        return Err(Error::Future {
            label: label(),
            created,
            now: policy.now,
        });
    }
    if expires.saturating_sub(created) > policy.max_lifetime {
        return Err(Error::TooLongLived {
            label: label(),
            secs: expires.saturating_sub(created),
            max: policy.max_lifetime,
        });
    }
    let public = match keys(keyid) {
        KeyStatus::Active(k) => k,
        KeyStatus::Retired => {
            return Err(Error::RetiredKey {
                label: label(),
                keyid: keyid.into(),
            });
        }
        KeyStatus::Unknown => {
            return Err(Error::UnknownKey {
                label: label(),
                keyid: keyid.into(),
            });
        }
    };
    let Some((_, sig)) = signatures.iter().find(|(l, _)| *l == input.label) else {
        return Err(Error::NoSignature { label: label() });
    };
    let base = signature_base(msg, input)?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(base.as_bytes(), sig)
        .map_err(|_| Error::Mismatch {
            label: label(),
            keyid: keyid.into(),
        })?;
    Ok(Verified {
        label: label(),
        keyid: keyid.into(),
        created,
        expires,
        nonce: nonce.into(),
    })
}

/// Verifies one signature of `input` over `msg` with a raw Ed25519 public
/// key, no profile (for RFC 9421's test vectors and other profiles).
pub fn verify_input(
    msg: &Message,
    input: &SignatureInput,
    signature: &[u8],
    public: &[u8],
) -> Result<(), Error> {
    let base = signature_base(msg, input)?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(base.as_bytes(), signature)
        .map_err(|_| Error::Mismatch {
            label: input.label.clone(),
            keyid: input.str("keyid").unwrap_or_default().into(),
        })
}

fn check_len(header: &'static str, value: &str) -> Result<(), Error> {
    if value.len() > MAX_HEADER {
        return Err(Error::TooLong {
            header,
            len: value.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair;

    /// RFC 9421 B.1.4 (test-key-ed25519): the private key (the seed of
    /// its PKCS#8 `PRIVATE KEY`) and the public key, raw.
    const B14_SEED: &str = "n4Ni+HpISpVObnQMW0wOhCKROaIKqKtW/2ZYb2p9KcU=";
    const B14_PUBLIC: &str = "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";

    fn b14() -> Ed25519KeyPair {
        let seed = STANDARD.decode(B14_SEED).expect("seed");
        let public = STANDARD.decode(B14_PUBLIC).expect("public");
        Ed25519KeyPair::from_seed_and_public_key(&seed, &public).expect("B.1.4 key")
    }

    /// RFC 9421 B.2: the test request's fields.
    const REQUEST_FIELDS: &[(&str, &str)] = &[
        ("host", "example.com"),
        ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("content-type", "application/json"),
        (
            "content-digest",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        ),
        ("content-length", "18"),
    ];

    fn request() -> Message<'static> {
        Message {
            method: "POST",
            target_uri: "https://example.com/foo?param=Value&Pet=dog",
            fields: REQUEST_FIELDS,
        }
    }

    /// RFC 9421 B.2.6, "Signing a Request Using ed25519": the signature
    /// base and the signature value, byte for byte.
    #[test]
    fn rfc9421_b26_ed25519() {
        let input_value = "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
        let expected_base = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\
\"@method\": POST\n\
\"@path\": /foo\n\
\"@authority\": example.com\n\
\"content-type\": application/json\n\
\"content-length\": 18\n\
\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
        let expected_sig = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";

        let inputs = parse_signature_input(input_value).expect("parse");
        assert_eq!(inputs.len(), 1);
        let input = &inputs[0];
        assert_eq!(input.serialize(), input_value, "re-serialized");
        assert_eq!(
            signature_base(&request(), input).expect("base"),
            expected_base
        );
        // Ed25519 is deterministic: our signature is the RFC's.
        let signed = sign_input(&request(), &b14(), input).expect("sign");
        assert_eq!(signed.signature, expected_sig);
        assert_eq!(signed.input, input_value);
        // And the RFC's verifies with the B.1.4 public key.
        let sigs = parse_signature(expected_sig).expect("parse signature");
        let public = STANDARD.decode(B14_PUBLIC).expect("public");
        verify_input(&request(), input, &sigs[0].1, &public).expect("verifies");
        let mut other = sigs[0].1.clone();
        other[0] ^= 1;
        assert!(verify_input(&request(), input, &other, &public).is_err());
    }

    /// RFC 9530's example: `{"hello": "world"}`.
    #[test]
    fn rfc9530_content_digest() {
        let body = b"{\"hello\": \"world\"}";
        let d = content_digest(body);
        assert_eq!(d, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
        check_content_digest(&d, body).expect("matches");
        // Other algorithms beside it are ignored.
        check_content_digest(&format!("sha-512=:AAAA:, {d}"), body).expect("with sha-512 beside");
        assert!(check_content_digest(&d, b"{\"hello\": \"world!\"}").is_err());
        assert!(check_content_digest("sha-512=:AAAA:", body).is_err());
        assert!(check_content_digest("sha-256=:not base64!:", body).is_err());
        // The empty body's digest (RFC 9530 section 2, sha-256 of nothing).
        assert_eq!(
            content_digest(b""),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    const BODY: &[u8] = b"{\"amount\":1}";

    fn realm_fields(digest: &str) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("content-digest", digest.into()),
            ("x-realm-via", "shop".into()),
            ("x-realm-caller", "shop".into()),
        ]
    }

    fn signing() -> Signing<'static> {
        Signing {
            label: "realm",
            keyid: "k1",
            created: 1_000,
            expires: 1_060,
            nonce: "0123abcd",
        }
    }

    const POLICY: Policy = Policy {
        now: 1_010,
        skew: 5,
        max_age: 300,
        max_lifetime: 300,
    };

    /// Signs BODY's request with `key`, then verifies the request (with
    /// `fields` changed by `tweak`) against `keys` at `policy`.
    fn round(
        key: &Ed25519KeyPair,
        signing: &Signing,
        tweak: impl FnOnce(&mut Vec<(&'static str, String)>, &mut String, &mut String),
        body: &[u8],
        policy: &Policy,
    ) -> Result<Vec<Verified>, Error> {
        let digest = content_digest(BODY);
        let fields = realm_fields(&digest);
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let msg = Message {
            method: "POST",
            target_uri: "http://127.0.0.1:8871/call/bank.echo",
            fields: &borrowed,
        };
        let signed = sign(&msg, key, signing).expect("sign");
        let mut fields = fields.clone();
        let (mut input, mut sig) = (signed.input, signed.signature);
        tweak(&mut fields, &mut input, &mut sig);
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let msg = Message {
            fields: &borrowed,
            ..msg
        };
        let public = key.public_key().as_ref().to_vec();
        verify(
            &msg,
            body,
            &input,
            &sig,
            |id| match id {
                "k1" => KeyStatus::Active(&public),
                "old" => KeyStatus::Retired,
                _ => KeyStatus::Unknown,
            },
            policy,
        )
    }

    #[test]
    fn a_realm_signature_round_trips() {
        let v = round(&b14(), &signing(), |_, _, _| {}, BODY, &POLICY).expect("verifies");
        assert_eq!(
            v,
            [Verified {
                label: "realm".into(),
                keyid: "k1".into(),
                created: 1_000,
                expires: 1_060,
                nonce: "0123abcd".into(),
            }]
        );
    }

    #[test]
    fn a_relay_adds_its_own_signature() {
        let v = round(
            &b14(),
            &signing(),
            |_, input, sig| {
                let digest = content_digest(BODY);
                let fields = realm_fields(&digest);
                let borrowed: Vec<(&str, &str)> =
                    fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let msg = Message {
                    method: "POST",
                    target_uri: "http://127.0.0.1:8871/call/bank.echo",
                    fields: &borrowed,
                };
                let hub = sign(
                    &msg,
                    &b14(),
                    &Signing {
                        label: "hub",
                        nonce: "ffff",
                        ..signing()
                    },
                )
                .expect("hub signs");
                *input = append_member(Some(input), &hub.input);
                *sig = append_member(Some(sig), &hub.signature);
            },
            BODY,
            &POLICY,
        )
        .expect("both verify");
        assert_eq!(
            v.iter().map(|v| v.label.as_str()).collect::<Vec<_>>(),
            ["realm", "hub"]
        );
    }

    /// Through a hub the URI and `x-realm-via` change: the caller's member
    /// verifies against the request as the caller sent it, the hub's
    /// against the request as received; neither against the other's.
    #[test]
    fn relayed_members_verify_against_their_own_message() {
        let caller = Ed25519KeyPair::from_seed_unchecked(&[1; 32]).expect("key");
        let hub = Ed25519KeyPair::from_seed_unchecked(&[2; 32]).expect("key");
        let digest = content_digest(BODY);
        let sent = [
            ("content-digest", digest.as_str()),
            ("x-realm-via", "shop"),
            ("x-realm-caller", "shop"),
        ];
        let relayed = [
            ("content-digest", digest.as_str()),
            ("x-realm-via", "shop,hub"),
            ("x-realm-caller", "shop"),
        ];
        let sent = Message {
            method: "POST",
            target_uri: "http://hub:8871/call/bank.echo",
            fields: &sent,
        };
        let relayed = Message {
            method: "POST",
            target_uri: "http://bank:8871/call/bank.echo",
            fields: &relayed,
        };
        let first = sign(&sent, &caller, &signing()).expect("caller signs");
        let second = sign(
            &relayed,
            &hub,
            &Signing {
                label: "hub",
                keyid: "h1",
                ..signing()
            },
        )
        .expect("hub signs");
        let inputs = parse_signature_input(&append_member(Some(&first.input), &second.input))
            .expect("inputs");
        let sigs = parse_signature(&append_member(Some(&first.signature), &second.signature))
            .expect("signatures");
        let (cp, hp) = (caller.public_key().as_ref(), hub.public_key().as_ref());
        let keys = |id: &str| match id {
            "k1" => KeyStatus::Active(cp),
            "h1" => KeyStatus::Active(hp),
            _ => KeyStatus::Unknown,
        };
        assert!(inputs.iter().all(is_realm));
        verify_member(&sent, &inputs[0], &sigs, keys, &POLICY).expect("caller's");
        verify_member(&relayed, &inputs[1], &sigs, keys, &POLICY).expect("hub's");
        assert!(verify_member(&relayed, &inputs[0], &sigs, keys, &POLICY).is_err());
        assert!(verify_member(&sent, &inputs[1], &sigs, keys, &POLICY).is_err());
        check_message_digest(&relayed, BODY).expect("digest");
    }

    #[test]
    fn refusals() {
        let k = b14();
        let s = signing();
        let none = |_: &mut Vec<(&'static str, String)>, _: &mut String, _: &mut String| {};
        // A changed body, a changed header.
        assert!(matches!(
            round(&k, &s, none, b"{\"amount\":100}", &POLICY),
            Err(Error::Digest { .. })
        ));
        assert!(matches!(
            round(&k, &s, |f, _, _| f[2].1 = "hub".into(), BODY, &POLICY),
            Err(Error::Mismatch { .. })
        ));
        // A missing component.
        assert!(matches!(
            round(&k, &s, |f, _, _| { f.remove(3); }, BODY, &POLICY),
            Err(Error::Missing { component, .. }) if component == "x-realm-caller"
        ));
        // Another key's signature.
        let other = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("key");
        assert!(matches!(
            round(
                &k,
                &s,
                |_, _, sig| {
                    let digest = content_digest(BODY);
                    let fields = realm_fields(&digest);
                    let b: Vec<(&str, &str)> =
                        fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
                    let msg = Message {
                        method: "POST",
                        target_uri: "http://127.0.0.1:8871/call/bank.echo",
                        fields: &b,
                    };
                    *sig = sign(&msg, &other, &signing()).expect("sign").signature;
                },
                BODY,
                &POLICY
            ),
            Err(Error::Mismatch { .. })
        ));
        // Unknown and retired keys.
        assert!(matches!(
            round(&k, &Signing { keyid: "k9", ..signing() }, none, BODY, &POLICY),
            Err(Error::UnknownKey { keyid, .. }) if keyid == "k9"
        ));
        assert!(matches!(
            round(
                &k,
                &Signing {
                    keyid: "old",
                    ..signing()
                },
                none,
                BODY,
                &POLICY
            ),
            Err(Error::RetiredKey { .. })
        ));
        // Expired, from the future, too long-lived.
        assert!(matches!(
            round(
                &k,
                &s,
                none,
                BODY,
                &Policy {
                    now: 1_060,
                    ..POLICY
                }
            ),
            Err(Error::Expired { .. })
        ));
        assert!(matches!(
            round(&k, &s, none, BODY, &Policy { now: 990, ..POLICY }),
            Err(Error::Future { .. })
        ));
        assert!(matches!(
            round(
                &k,
                &Signing {
                    expires: 5_000,
                    ..signing()
                },
                none,
                BODY,
                &POLICY
            ),
            Err(Error::TooLongLived { .. })
        ));
        // Bad base64, a truncated signature, oversized headers.
        assert!(matches!(
            round(
                &k,
                &s,
                |_, _, sig| *sig = "realm=:!!!!:".into(),
                BODY,
                &POLICY
            ),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(
            round(
                &k,
                &s,
                |_, _, sig| *sig = "realm=:AAAA:".into(),
                BODY,
                &POLICY
            ),
            Err(Error::Mismatch { .. })
        ));
        assert!(matches!(
            round(
                &k,
                &s,
                |_, input, _| input.push_str(&" ".repeat(MAX_HEADER)),
                BODY,
                &POLICY
            ),
            Err(Error::TooLong { .. })
        ));
        // No realm member, a signature-input without its signature.
        assert!(matches!(
            round(
                &k,
                &s,
                |_, input, _| *input = input.replace("tag=\"realm\"", "tag=\"other\""),
                BODY,
                &POLICY
            ),
            Err(Error::Unsigned)
        ));
        assert!(matches!(
            round(
                &k,
                &s,
                |_, _, sig| *sig = sig.replace("realm=", "other="),
                BODY,
                &POLICY
            ),
            Err(Error::NoSignature { .. })
        ));
        // A component left out of the signature, another algorithm.
        assert!(matches!(
            round(&k, &s, |_, input, _| *input = input.replace(" \"x-realm-via\"", ""), BODY, &POLICY),
            Err(Error::NotCovered { component, .. }) if component == "x-realm-via"
        ));
        assert!(matches!(
            round(
                &k,
                &s,
                |_, input, _| *input = input.replace("\"ed25519\"", "\"hmac-sha256\""),
                BODY,
                &POLICY
            ),
            Err(Error::Algorithm { .. })
        ));
    }

    #[test]
    fn the_parser_is_strict() {
        for bad in [
            "",
            "Realm=(\"@method\")",
            "realm=(\"@method\";sf)",
            "realm=(\"@method\"\"x\")",
            "realm=(\"@method\");created=1.5",
            "realm=(\"@method\");created=1234567890123456",
            "realm=(\"@method\");created",
            "realm=(\"@method\");created=1;created=2",
            "realm=(\"a\"), realm=(\"b\")",
            "realm=(\"a\"),",
            "realm=(\"a\") x",
            "realm=(\"unterminated)",
            "realm=(\"bad\\n escape\")",
            "realm=:AAAA:",
        ] {
            assert!(parse_signature_input(bad).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("s{i}=(\"a\")")).collect();
        assert!(parse_signature_input(&many.join(", ")).is_err());
        let long = format!("realm=(\"a\");nonce=\"{}\"", "n".repeat(MAX_STRING + 1));
        assert!(parse_signature_input(&long).is_err());
        assert!(parse_signature("realm=:AAAA:;x=1").is_err());
        assert!(parse_signature("realm=(\"a\")").is_err());
        let ok = parse_signature_input("a=(\"x\" \"y\");keyid=\"q\\\"\\\\\", b=()").expect("ok");
        assert_eq!(ok[0].str("keyid"), Some("q\"\\"));
        assert_eq!(ok[0].serialize(), "a=(\"x\" \"y\");keyid=\"q\\\"\\\\\"");
        assert!(ok[1].components.is_empty());
    }
}
