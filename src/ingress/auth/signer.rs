//! Signing the calls this realm sends to other realms with its Ed25519 key
//! (RFC 9421, the profile of [`super::httpsig`]): the body's
//! `Content-Digest`, then one `Signature-Input`/`Signature` member over the
//! request as sent. A hub relaying a call signed by its caller passes the
//! caller's member on beside its own ([`Relayed`]), with the URL the caller
//! signed in [`httpsig::ORIGIN_URI_HEADER`], which its own member covers.
//!
//! Never reads files or the clock (the caller passes `now`); the private
//! key never appears in a `Debug` output or an error.

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};
use ring::signature::{Ed25519KeyPair, KeyPair};

use super::httpsig::{self, Message, SignatureInput, Signing};

/// `Signature-Input` (RFC 9421).
pub const SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
/// `Signature` (RFC 9421).
pub const SIGNATURE: HeaderName = HeaderName::from_static("signature");
/// `Content-Digest` (RFC 9530).
pub const CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");
/// [`httpsig::ORIGIN_URI_HEADER`].
pub const ORIGIN_URI: HeaderName = HeaderName::from_static(httpsig::ORIGIN_URI_HEADER);

/// The label of the member of the realm that sends a request.
pub const LABEL: &str = "realm";
/// The label a hub gives the member of the caller it relays.
pub const ORIGIN_LABEL: &str = "origin";

/// This realm's signing key and its id (`[realm] public-keys`).
pub struct Signer {
    key: Ed25519KeyPair,
    id: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("id", &self.id).finish()
    }
}

/// When a signature is made, how long it holds, and its nonce.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    /// Unix seconds: `created`.
    pub now: i64,
    /// Seconds from `created` to `expires` (the replay window).
    pub lifetime: i64,
    /// Fresh for every signature ([`super::new_nonce_hex`]).
    pub nonce: &'a str,
}

/// The signature of the realm a call started in, verified by a hub, to be
/// passed on with the hub's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// Its member of `Signature-Input` (any label).
    pub input: SignatureInput,
    /// Its signature bytes.
    pub signature: Vec<u8>,
    /// The `@target-uri` it signed: the hub's URL as the caller called it.
    pub target_uri: String,
}

impl Signer {
    /// A signer with `key`, whose id is [`crate::project::key_id`] of its
    /// public key.
    pub fn new(key: Ed25519KeyPair) -> Signer {
        let id = crate::project::key_id(key.public_key().as_ref());
        Signer { key, id }
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Signs a `POST` to `target_uri` with `body`: sets `Content-Digest`,
    /// `Signature-Input` and `Signature` (and, with `relayed`, the
    /// caller's member and [`ORIGIN_URI`]). `headers` must already carry
    /// `x-realm-via` and `x-realm-caller`.
    pub fn sign(
        &self,
        headers: &mut HeaderMap,
        target_uri: &str,
        body: &[u8],
        stamp: &Stamp<'_>,
        relayed: Option<&Relayed>,
    ) -> Result<(), httpsig::Error> {
        let Stamp {
            now,
            lifetime,
            nonce,
        } = *stamp;
        let digest = httpsig::content_digest(body);
        headers.insert(CONTENT_DIGEST, header_value(&digest)?);
        if let Some(relayed) = relayed {
            headers.insert(ORIGIN_URI, header_value(&relayed.target_uri)?);
        } else {
            headers.remove(ORIGIN_URI);
        }
        let mut fields: Vec<(&str, &str)> = Vec::with_capacity(4);
        for name in [
            "content-digest",
            "x-realm-via",
            httpsig::CALLER_HEADER,
            httpsig::ORIGIN_URI_HEADER,
        ] {
            if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
                fields.push((name, value));
            }
        }
        let msg = Message {
            method: "POST",
            target_uri,
            fields: &fields,
        };
        let signing = Signing {
            label: LABEL,
            keyid: &self.id,
            created: now,
            expires: now.saturating_add(lifetime.max(1)),
            nonce,
        };
        let extra: &[&str] = if relayed.is_some() {
            &[httpsig::ORIGIN_URI_HEADER]
        } else {
            &[]
        };
        let own = httpsig::sign_covering(&msg, &self.key, &signing, extra)?;
        let (input, signature) = match relayed {
            None => (own.input, own.signature),
            Some(relayed) => {
                let mut origin = relayed.input.clone();
                ORIGIN_LABEL.clone_into(&mut origin.label);
                let origin_sig = format!(
                    "{ORIGIN_LABEL}=:{}:",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        &relayed.signature
                    )
                );
                (
                    httpsig::append_member(Some(&origin.serialize()), &own.input),
                    httpsig::append_member(Some(&origin_sig), &own.signature),
                )
            }
        };
        headers.insert(SIGNATURE_INPUT, header_value(&input)?);
        headers.insert(SIGNATURE, header_value(&signature)?);
        Ok(())
    }
}

/// The `@target-uri` of a request to `uri` as the callee sees it: the
/// scheme, the host, and the port unless it is the scheme's default (the
/// `Host` header this realm's HTTP client sends, from which the callee
/// rebuilds it; never user information), then the path and query.
pub fn target_uri(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let default = if scheme == "https" { 443 } else { 80 };
    let authority = match uri.authority() {
        None => String::new(),
        Some(a) => match a.port_u16() {
            Some(port) if port != default => format!("{}:{port}", a.host()),
            _ => a.host().to_string(),
        },
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{authority}{path}")
}

fn header_value(text: &str) -> Result<HeaderValue, httpsig::Error> {
    HeaderValue::from_str(text).map_err(|_| httpsig::Error::Syntax {
        header: "signature-input",
        reason: format!("{text:?} cannot be sent as a header value"),
    })
}

#[cfg(test)]
mod tests {
    use super::target_uri;

    #[test]
    fn the_target_uri_is_the_url_as_the_callee_rebuilds_it() {
        let t = |url: &str| target_uri(&url.parse().expect("url"));
        // The callee rebuilds it from the Host header the client sends,
        // which leaves out a default port and user information.
        assert_eq!(
            t("http://bank:80/realms/bank/a/b"),
            "http://bank/realms/bank/a/b"
        );
        assert_eq!(
            t("https://bank:443/realms/bank/a/b"),
            "https://bank/realms/bank/a/b"
        );
        assert_eq!(
            t("http://u:p@bank:8080/realms/b/a/b?x=1"),
            "http://bank:8080/realms/b/a/b?x=1"
        );
        assert_eq!(t("https://bank:80/r"), "https://bank:80/r");
        assert_eq!(t("http://[::1]:8080/r"), "http://[::1]:8080/r");
    }
}
