//! Signed requests between realms, two ways:
//!
//! - **Ed25519 key pairs (RFC 9421).** A realm signs the calls it sends
//!   with its own private key ([`Signer`], `signer.rs`); the callee checks
//!   them with the public keys the caller's `realm.toml` publishes at the
//!   commit the callee pinned it at (`[caller-realms.*]`, [`PinnedKeys`],
//!   `pinned.rs`; `signed.rs` checks a call, `httpsig.rs` is the RFC's
//!   signature base and headers). No secret is shared.
//! - **Shared keys (HMAC).** The scheme below, kept so that existing setups
//!   do not break. A call to a realm this one shares a key with is signed
//!   with that key; a call carrying `x-realm-signature` is checked with it.
//!
//! Both use one replay window and one nonce cache ([`Verifier`]).
//!
//! An HMAC-signed call carries one header,
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
//!
//! The rooms: `keys.rs` loads the shared keys (environment, key file),
//! `format.rs` writes and reads the HMAC header and the signed string,
//! `verify.rs` is the [`Verifier`] with its nonce cache, `httpsig.rs`
//! RFC 9421, `signer.rs` signing with this realm's key, `pinned.rs` the
//! callers' public keys, `signed.rs` checking an RFC 9421 call; this file
//! holds the constants and the errors they share.

mod format;
pub mod httpsig;
mod keys;
mod pinned;
mod signed;
mod signer;
mod verify;

pub use format::{Request, sign};
pub use keys::Keys;
pub use pinned::{PinnedKey, PinnedKeys, PinnedRealm};
pub use signed::{Incoming, Proven, is_signed};
pub use signer::{Relayed, Signer, Stamp, target_uri};
pub use verify::{SharedTake, Verifier};

/// A fresh random nonce for an RFC 9421 signature: 32 lowercase hex.
pub fn new_nonce_hex() -> String {
    format!("{:032x}", format::new_nonce())
}

/// The header that carries the signature of a call between realms.
pub const SIGNATURE: http::HeaderName = http::HeaderName::from_static("x-realm-signature");

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
    /// A key id no pinned caller published, from a pinned caller.
    #[error(
        "the call names realm `{caller}` as its caller but is signed with key `{keyid}`, which is not among the keys of `{caller}` pinned at {commit}\nhelp: if `{caller}` published a new key, `realm update {caller}` pins the commit that has it"
    )]
    UnknownKey {
        caller: String,
        keyid: String,
        commit: String,
    },
    /// A signed call from a realm that is not pinned as a caller.
    #[error(
        "the call is signed by realm `{caller}` (key `{keyid}`), which is not pinned as a caller of this realm\nhelp: `realm add --caller --git-repo <{caller}'s repository>` trusts the keys it publishes"
    )]
    NotPinned { caller: String, keyid: String },
    /// Signed with the key of another realm than the one it names.
    #[error(
        "the call names realm `{caller}` as its caller but is signed with key `{keyid}` of realm `{owner}`"
    )]
    OtherRealmsKey {
        caller: String,
        keyid: String,
        owner: String,
    },
    /// An RFC 9421 signature of a pinned caller that does not hold.
    #[error("{}", signature_message(caller, error))]
    Signature {
        caller: String,
        error: httpsig::Error,
    },
    /// Too many nonces inside the window to remember them all.
    #[error(
        "too many signed calls within the replay window to remember them all (the replay \
         cache is full): retry in a moment"
    )]
    ReplayCacheFull,
    /// The replay cache shared by the replicas (their NATS store) could
    /// not be asked: the call is refused rather than maybe replayed.
    #[error(
        "the replay cache this ingress shares with its replicas could not be asked ({0}): retry in a moment"
    )]
    ReplayCacheUnavailable(String),
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

fn signature_message(caller: &str, error: &httpsig::Error) -> String {
    let help = match error {
        httpsig::Error::Expired { .. }
        | httpsig::Error::TooOld { .. }
        | httpsig::Error::Future { .. }
        | httpsig::Error::TooLongLived { .. } => "\nhelp: check the clocks of both realms (NTP)",
        httpsig::Error::RetiredKey { .. } => {
            "\nhelp: the caller retired this key; it must sign with a key in its `[realm] public-keys` (`realm keys list`)"
        }
        httpsig::Error::Mismatch { .. }
        | httpsig::Error::Digest { .. }
        | httpsig::Error::OtherTarget { .. } => {
            "\nhelp: the request was changed on the way, or signed for another URL (a proxy that rewrites the Host or the scheme breaks `@target-uri`)"
        }
        _ => "",
    };
    format!("the signature of realm `{caller}` was refused: {error}{help}")
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
            AuthError::ReplayCacheUnavailable(_) => "replay_cache_unavailable",
            AuthError::UnknownKey { .. } => "unknown_key",
            AuthError::NotPinned { .. } => "caller_not_pinned",
            AuthError::OtherRealmsKey { .. } => "key_of_other_realm",
            AuthError::Signature { error, .. } => match error {
                httpsig::Error::Expired { .. }
                | httpsig::Error::TooOld { .. }
                | httpsig::Error::Future { .. }
                | httpsig::Error::TooLongLived { .. } => "expired",
                httpsig::Error::RetiredKey { .. } => "retired_key",
                httpsig::Error::UnknownKey { .. } => "unknown_key",
                httpsig::Error::Mismatch { .. } | httpsig::Error::OtherTarget { .. } => {
                    "bad_signature"
                }
                httpsig::Error::Digest { .. } => "bad_digest",
                httpsig::Error::Unsigned => "unsigned",
                _ => "malformed_signature",
            },
        }
    }

    /// The HTTP status to answer with: 503 when the replay cache is full
    /// (the call may succeed later), 401 otherwise.
    pub fn status(&self) -> http::StatusCode {
        match self {
            AuthError::ReplayCacheFull | AuthError::ReplayCacheUnavailable(_) => {
                http::StatusCode::SERVICE_UNAVAILABLE
            }
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}
