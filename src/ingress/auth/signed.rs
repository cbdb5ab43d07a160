//! Checking a call signed with a realm's Ed25519 key (RFC 9421, the
//! profile of [`super::httpsig`]) against the keys of the pinned callers
//! ([`super::pinned`]): who signed (by key id), whether that realm is the
//! one the call names (`x-realm-caller`), the signature over the request as
//! this ingress received it, the body's digest, and the nonce, in the same
//! replay cache as HMAC signatures.
//!
//! A call a hub relays carries two realm members: the hub's, over the
//! request as received, and the caller's, over the request the caller sent
//! the hub (its URL in [`httpsig::ORIGIN_URI_HEADER`], covered by the
//! hub's member; its `x-realm-via` the realms before the hub). Both must
//! verify. A relayed call without the caller's member, or with the member
//! of a caller this realm does not pin, is taken on the hub's word, as an
//! HMAC-signed relay is.

use http::HeaderMap;

use super::httpsig::{self, Message, Policy, SignatureInput};
use super::pinned::Owner;
use super::signer::{CONTENT_DIGEST, LABEL, ORIGIN_URI, Relayed, SIGNATURE, SIGNATURE_INPUT};
use super::verify::{Insert, SharedTake};
use super::{AuthError, Verifier};

/// The longest validity (`expires - created`) accepted, in seconds.
const MAX_LIFETIME: i64 = 24 * 60 * 60;

/// A request signed with RFC 9421, as this ingress received it.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    /// `scheme://authority/path?query` as this ingress was called.
    pub target_uri: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The realms named in `x-realm-via` before the sender (the sender is
    /// the last).
    pub earlier: &'a [String],
}

/// What a verified call proved.
#[derive(Clone, Debug)]
pub struct Proven {
    /// The realm that sent the call (its key, its `x-realm-caller`).
    pub sender: String,
    /// The realm the call started in, when a hub relayed it with the
    /// caller's own signature, verified too.
    pub origin: Option<String>,
    /// The sender's member, for this ingress to pass on if it relays the
    /// call.
    pub member: Relayed,
    /// The nonces still to be taken in the cache shared with other
    /// replicas ([`Verifier::verify_signed_deferred`]; empty otherwise).
    pub shared: Vec<SharedTake>,
}

/// The path and query of `uri` (`None` when it is not an absolute URI).
fn path_of(uri: &str) -> Option<String> {
    let uri: http::Uri = uri.parse().ok()?;
    uri.authority()?;
    Some(uri.path_and_query().map_or("/", |p| p.as_str()).to_string())
}

/// Whether the headers carry a realm's RFC 9421 signature: a
/// `Signature-Input` (then the call is checked as one).
pub fn is_signed(headers: &HeaderMap) -> bool {
    headers.contains_key(SIGNATURE_INPUT)
}

impl Verifier {
    /// Verifies a call signed by RFC 9421 at `now` (unix seconds).
    pub fn verify_signed(&self, call: &Incoming<'_>, now: u64) -> Result<Proven, AuthError> {
        let mut proven = self.verify_signed_deferred(call, now)?;
        for shared in std::mem::take(&mut proven.shared) {
            shared.take()?;
        }
        Ok(proven)
    }

    /// [`Verifier::verify_signed`], leaving the nonces' take in the cache
    /// shared with other replicas to the caller (`Proven::shared`).
    pub fn verify_signed_deferred(
        &self,
        call: &Incoming<'_>,
        now: u64,
    ) -> Result<Proven, AuthError> {
        let text = |name: &http::HeaderName| -> Result<Option<&str>, AuthError> {
            let mut values = call.headers.get_all(name).iter();
            let Some(first) = values.next() else {
                return Ok(None);
            };
            if values.next().is_some() {
                return Err(AuthError::Malformed(format!(
                    "the `{name}` header is given more than once"
                )));
            }
            first.to_str().map(Some).map_err(|_| {
                AuthError::Malformed(format!("the `{name}` header is not visible ASCII"))
            })
        };
        let caller = text(&http::HeaderName::from_static(httpsig::CALLER_HEADER))?
            .ok_or_else(|| {
                AuthError::Malformed(format!(
                    "a signed call must name its realm in `{}`",
                    httpsig::CALLER_HEADER
                ))
            })?
            .to_string();
        let fail = |error: httpsig::Error| AuthError::Signature {
            caller: caller.clone(),
            error,
        };
        let inputs = httpsig::parse_signature_input(text(&SIGNATURE_INPUT)?.unwrap_or_default())
            .map_err(fail)?;
        let signatures =
            httpsig::parse_signature(text(&SIGNATURE)?.unwrap_or_default()).map_err(fail)?;
        let members: Vec<&SignatureInput> =
            inputs.iter().filter(|i| httpsig::is_realm(i)).collect();
        if members.is_empty() {
            return Err(fail(httpsig::Error::Unsigned));
        }
        if members.len() > 2 {
            return Err(AuthError::Malformed(format!(
                "the call carries {} realm signatures; a call carries its sender's and, relayed by a hub, its caller's",
                members.len()
            )));
        }
        // Whose each member is, by key id. A key no pinned realm published
        // is the sender's when no member is the sender's; beside the
        // sender's, it is a relayed caller this realm does not pin, whose
        // word the sender's is (as for a relay without the caller's member).
        let mut owned: Vec<(&SignatureInput, Owner<'_>)> = Vec::with_capacity(2);
        let mut unknown: Option<&str> = None;
        for member in &members {
            let keyid = member.str("keyid").unwrap_or_default();
            match self.pinned.find(keyid) {
                Some(owner) => owned.push((member, owner)),
                // The sender's member is labelled `realm` when its
                // ingress signed it (a relayed one, `origin`).
                None if member.label == LABEL => unknown = Some(keyid),
                None => unknown = unknown.or(Some(keyid)),
            }
        }
        let Some(sender_at) = owned.iter().position(|(_, o)| o.realm == caller) else {
            if let Some(keyid) = unknown {
                return Err(self.unknown_key(&caller, keyid));
            }
            let (member, owner) = &owned[0];
            return Err(AuthError::OtherRealmsKey {
                caller,
                keyid: member.str("keyid").unwrap_or_default().to_string(),
                owner: owner.realm.to_string(),
            });
        };
        let (sender_input, sender) = owned.remove(sender_at);

        let policy = Policy {
            now: i64::try_from(now).unwrap_or(i64::MAX),
            skew: i64::try_from(self.window_secs).unwrap_or(i64::MAX),
            max_age: i64::try_from(self.window_secs).unwrap_or(i64::MAX),
            // The signer's replay window may be longer than ours; `max_age`
            // bounds what we accept. A day at most, all the same.
            max_lifetime: MAX_LIFETIME,
        };
        let mut fields: Vec<(&str, &str)> = Vec::with_capacity(4);
        for name in [
            "content-digest",
            "x-realm-via",
            httpsig::CALLER_HEADER,
            httpsig::ORIGIN_URI_HEADER,
        ] {
            if let Some(value) = text(&http::HeaderName::from_static(name))? {
                fields.push((name, value));
            }
        }
        let msg = Message {
            method: "POST",
            target_uri: call.target_uri,
            fields: &fields,
        };
        let key = |_: &str| sender.status();
        let verified =
            httpsig::verify_member(&msg, sender_input, &signatures, key, &policy).map_err(fail)?;
        httpsig::check_message_digest(&msg, call.body).map_err(fail)?;

        // The caller's member, on a call a hub relayed.
        let mut origin = None;
        let mut origin_nonce = None;
        if let Some((origin_input, owner)) = owned.pop() {
            let [first] = call.earlier else {
                return Err(AuthError::Malformed(format!(
                    "the call carries a second realm signature (of realm `{}`) but did not come through exactly one realm before `{caller}`",
                    owner.realm
                )));
            };
            if owner.realm != first {
                return Err(AuthError::OtherRealmsKey {
                    caller: first.clone(),
                    keyid: origin_input.str("keyid").unwrap_or_default().to_string(),
                    owner: owner.realm.to_string(),
                });
            }
            if !sender_input
                .components
                .iter()
                .any(|c| c == httpsig::ORIGIN_URI_HEADER)
            {
                return Err(fail(httpsig::Error::NotCovered {
                    label: sender_input.label.clone(),
                    component: httpsig::ORIGIN_URI_HEADER.into(),
                }));
            }
            let Some(origin_uri) = text(&ORIGIN_URI)? else {
                return Err(fail(httpsig::Error::Missing {
                    label: sender_input.label.clone(),
                    component: httpsig::ORIGIN_URI_HEADER.into(),
                }));
            };
            // The caller signed a call to this very verb (through the
            // relay): its URL's path is this call's. Otherwise a realm the
            // caller called could pass the caller's signature of a call to
            // itself on as one to any verb of this realm.
            let same = path_of(origin_uri).is_some_and(|p| Some(p) == path_of(call.target_uri));
            if !same {
                return Err(AuthError::Signature {
                    caller: first.clone(),
                    error: httpsig::Error::OtherTarget {
                        label: origin_input.label.clone(),
                        signed: origin_uri.to_string(),
                        called: call.target_uri.to_string(),
                    },
                });
            }
            let digest = text(&CONTENT_DIGEST)?.unwrap_or_default();
            let origin_fields = [
                ("content-digest", digest),
                ("x-realm-via", first.as_str()),
                (httpsig::CALLER_HEADER, first.as_str()),
            ];
            let origin_msg = Message {
                method: "POST",
                target_uri: origin_uri,
                fields: &origin_fields,
            };
            let key = |_: &str| owner.status();
            let checked =
                httpsig::verify_member(&origin_msg, origin_input, &signatures, key, &policy)
                    .map_err(|error| AuthError::Signature {
                        caller: first.clone(),
                        error,
                    })?;
            origin = Some(first.clone());
            origin_nonce = Some((checked, owner.index, first.clone()));
        }

        // Only valid signatures use up nonces.
        let mut shared = Vec::new();
        shared.extend(self.remember(&verified, sender.index, &caller, now)?);
        if let Some((checked, index, realm)) = origin_nonce {
            shared.extend(self.remember(&checked, index, &realm, now)?);
        }
        let signature = signatures
            .iter()
            .find(|(label, _)| *label == sender_input.label)
            .map(|(_, sig)| sig.clone())
            .unwrap_or_default();
        Ok(Proven {
            sender: caller,
            origin,
            member: Relayed {
                input: sender_input.clone(),
                signature,
                target_uri: call.target_uri.to_string(),
            },
            shared,
        })
    }

    /// Records a verified signature's nonce (by key), refusing a replay.
    fn remember(
        &self,
        verified: &httpsig::Verified,
        key_index: u32,
        realm: &str,
        now: u64,
    ) -> Result<Option<SharedTake>, AuthError> {
        let digest = ring::digest::digest(&ring::digest::SHA256, verified.nonce.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest.as_ref()[..16]);
        let nonce = u128::from_be_bytes(first);
        let created = u64::try_from(verified.created).unwrap_or(0);
        match self
            .cache
            .insert(nonce, key_index, created, now, self.window_secs)
        {
            Insert::Fresh => Ok(self.cache.to_share(
                nonce,
                &format!("key:{}", verified.keyid),
                realm,
                (created, now, self.window_secs),
            )),
            Insert::Replayed => Err(AuthError::Replayed {
                peer: realm.to_string(),
            }),
            Insert::Full => Err(AuthError::ReplayCacheFull),
            Insert::Forgotten { clock } => Err(self.expired(realm, created, clock)),
        }
    }

    /// The refusal of a key id no pinned caller published.
    fn unknown_key(&self, caller: &str, keyid: &str) -> AuthError {
        match self.pinned.realms().iter().find(|r| r.name == caller) {
            Some(realm) => AuthError::UnknownKey {
                caller: caller.to_string(),
                keyid: keyid.to_string(),
                commit: realm.commit.get(..7).unwrap_or(&realm.commit).to_string(),
            },
            None => AuthError::NotPinned {
                caller: caller.to_string(),
                keyid: keyid.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderMap, HeaderValue};
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::super::pinned::{PinnedKey, PinnedKeys, PinnedRealm};
    use super::super::{Keys, Relayed, Signer};
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const BODY: &[u8] = br#"{"amount":5}"#;
    const BANK: &str = "http://bank.test:8080/realms/bank/accounts/withdraw";

    fn pair() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key")
    }

    fn pinned(name: &str, key: &Ed25519KeyPair, retired: bool) -> PinnedRealm {
        let public = key.public_key().as_ref().to_vec();
        PinnedRealm {
            name: name.into(),
            commit: "abcdef0123456789abcdef0123456789abcdef01".into(),
            keys: vec![PinnedKey {
                id: crate::project::key_id(&public),
                public,
                retired,
            }],
        }
    }

    fn verifier(realms: Vec<PinnedRealm>) -> Verifier {
        Verifier::new(Keys::empty(), Duration::from_secs(60)).with_pinned(PinnedKeys::new(realms))
    }

    /// The headers `caller` sends to `uri`, via `via`, signed at `at`.
    fn signed(
        signer: &Signer,
        caller: &str,
        via: &str,
        uri: &str,
        at: u64,
        relayed: Option<&Relayed>,
    ) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-realm-via", HeaderValue::from_str(via).expect("via"));
        headers.insert("x-realm-caller", HeaderValue::from_str(caller).expect("c"));
        let nonce = super::super::new_nonce_hex();
        let stamp = super::super::Stamp {
            now: at as i64,
            lifetime: 60,
            nonce: &nonce,
        };
        signer
            .sign(&mut headers, uri, BODY, &stamp, relayed)
            .expect("sign");
        headers
    }

    fn check(
        v: &Verifier,
        headers: &HeaderMap,
        uri: &str,
        earlier: &[String],
    ) -> Result<Proven, AuthError> {
        v.verify_signed(
            &Incoming {
                target_uri: uri,
                headers,
                body: BODY,
                earlier,
            },
            NOW,
        )
    }

    #[test]
    fn a_pinned_callers_signature_verifies_once() {
        let key = pair();
        let v = verifier(vec![pinned("shop", &key, false)]);
        let shop = Signer::new(key);
        let headers = signed(&shop, "shop", "shop", BANK, NOW, None);
        let proven = check(&v, &headers, BANK, &[]).expect("verifies");
        assert_eq!((proven.sender.as_str(), proven.origin), ("shop", None));
        assert_eq!(proven.member.target_uri, BANK);
        // The same request again is a replay.
        let again = check(&v, &headers, BANK, &[]).expect_err("replayed");
        assert_eq!(again.code(), "replayed");
    }

    #[test]
    fn every_forgery_is_refused_with_its_code() {
        let (key, other) = (pair(), pair());
        let v = verifier(vec![
            pinned("shop", &key, false),
            pinned("mall", &other, false),
        ]);
        let shop = Signer::new(key);
        let ok = || signed(&shop, "shop", "shop", BANK, NOW, None);

        // Another URL than the one signed.
        let e = check(
            &v,
            &ok(),
            "http://evil.test/realms/bank/accounts/withdraw",
            &[],
        );
        assert_eq!(e.expect_err("uri").code(), "bad_signature");
        // A changed body: the digest no longer matches.
        let e = v.verify_signed(
            &Incoming {
                target_uri: BANK,
                headers: &ok(),
                body: br#"{"amount":5000}"#,
                earlier: &[],
            },
            NOW,
        );
        assert_eq!(e.expect_err("body").code(), "bad_digest");
        // A changed via.
        let mut h = ok();
        h.insert("x-realm-via", HeaderValue::from_static("mall"));
        assert_eq!(
            check(&v, &h, BANK, &[]).expect_err("via").code(),
            "bad_signature"
        );
        // Claiming to be another pinned realm with one's own key.
        let mut h = ok();
        h.insert("x-realm-caller", HeaderValue::from_static("mall"));
        let e = check(&v, &h, BANK, &[]).expect_err("other realm");
        assert_eq!(e.code(), "key_of_other_realm");
        assert!(e.to_string().contains("`mall`") && e.to_string().contains("of realm `shop`"));
        // Valid for longer than this realm's window (the signer's window is
        // 10 minutes): accepted while it is within ours, refused after.
        let long = |at: u64| {
            let mut headers = HeaderMap::new();
            headers.insert("x-realm-via", HeaderValue::from_static("shop"));
            headers.insert("x-realm-caller", HeaderValue::from_static("shop"));
            let nonce = super::super::new_nonce_hex();
            let stamp = super::super::Stamp {
                now: at as i64,
                lifetime: 600,
                nonce: &nonce,
            };
            shop.sign(&mut headers, BANK, BODY, &stamp, None)
                .expect("sign");
            headers
        };
        check(&v, &long(NOW - 30), BANK, &[]).expect("within our window");
        let e = check(&v, &long(NOW - 120), BANK, &[]).expect_err("older than our window");
        assert_eq!(e.code(), "expired");
        assert!(e.to_string().contains("60s replay window"), "{e}");
        // Too old, and from the future.
        let old = signed(&shop, "shop", "shop", BANK, NOW - 120, None);
        assert_eq!(
            check(&v, &old, BANK, &[]).expect_err("old").code(),
            "expired"
        );
        let future = signed(&shop, "shop", "shop", BANK, NOW + 600, None);
        assert_eq!(
            check(&v, &future, BANK, &[]).expect_err("future").code(),
            "expired"
        );
        // No caller header.
        let mut h = ok();
        h.remove("x-realm-caller");
        assert_eq!(
            check(&v, &h, BANK, &[]).expect_err("no caller").code(),
            "malformed_signature"
        );
    }

    #[test]
    fn unknown_retired_and_unpinned_keys_name_the_caller_and_the_key() {
        let (key, stranger, old) = (pair(), pair(), pair());
        let v = verifier(vec![
            pinned("shop", &key, false),
            pinned("mall", &old, true),
        ]);
        // A key shop did not publish at its pinned commit.
        let s = Signer::new(stranger);
        let e = check(&v, &signed(&s, "shop", "shop", BANK, NOW, None), BANK, &[])
            .expect_err("unknown");
        assert_eq!(e.code(), "unknown_key");
        let text = e.to_string();
        assert!(
            text.contains("`shop`") && text.contains(s.id()) && text.contains("abcdef0"),
            "{text}"
        );
        // A realm not pinned at all.
        let e = check(&v, &signed(&s, "evil", "evil", BANK, NOW, None), BANK, &[])
            .expect_err("unpinned");
        assert_eq!(e.code(), "caller_not_pinned");
        assert!(e.to_string().contains("`evil`") && e.to_string().contains(s.id()));
        // A retired key.
        let m = Signer::new(old);
        let e = check(&v, &signed(&m, "mall", "mall", BANK, NOW, None), BANK, &[])
            .expect_err("retired");
        assert_eq!(e.code(), "retired_key");
        assert!(e.to_string().contains(m.id()));
    }

    #[test]
    fn a_relayed_call_carries_both_signatures_and_both_are_checked() {
        let (shop_key, hub_key) = (pair(), pair());
        const HUB: &str = "http://hub.test/realms/bank/accounts/withdraw";
        let hub_verifier = verifier(vec![pinned("shop", &shop_key, false)]);
        let bank = verifier(vec![
            pinned("shop", &shop_key, false),
            pinned("hub", &hub_key, false),
        ]);
        let (shop, hub) = (Signer::new(shop_key), Signer::new(hub_key));
        // Shop calls the hub; the hub checks it and passes its member on.
        let to_hub = signed(&shop, "shop", "shop", HUB, NOW, None);
        let at_hub = check(&hub_verifier, &to_hub, HUB, &[]).expect("hub verifies shop");
        let to_bank = signed(&hub, "hub", "shop, hub", BANK, NOW, Some(&at_hub.member));
        let earlier = vec!["shop".to_string()];
        let proven = check(&bank, &to_bank, BANK, &earlier).expect("bank verifies both");
        assert_eq!(
            (proven.sender.as_str(), proven.origin.as_deref()),
            ("hub", Some("shop"))
        );

        // The hub cannot change what shop signed: another origin URL...
        let mut forged = at_hub.member.clone();
        forged.target_uri = "http://hub.test/realms/bank/accounts/close".into();
        let h = signed(&hub, "hub", "shop, hub", BANK, NOW, Some(&forged));
        let e = check(&bank, &h, BANK, &earlier).expect_err("origin uri");
        assert_eq!(e.code(), "bad_signature");
        assert!(e.to_string().contains("`shop`"), "{e}");
        // ...or another origin realm.
        let h = signed(&hub, "hub", "mall, hub", BANK, NOW, Some(&at_hub.member));
        let e = check(&bank, &h, BANK, &["mall".to_string()]).expect_err("origin realm");
        assert_eq!(e.code(), "key_of_other_realm");
    }

    #[test]
    fn a_relayed_caller_this_realm_does_not_pin_is_left_to_the_hub() {
        let (shop_key, hub_key) = (pair(), pair());
        const HUB: &str = "http://hub.test/realms/bank/accounts/withdraw";
        let hub_verifier = verifier(vec![pinned("shop", &shop_key, false)]);
        // The bank pins only its hub: the hub vouches for the realms behind it.
        let bank = verifier(vec![pinned("hub", &hub_key, false)]);
        let (shop, hub) = (Signer::new(shop_key), Signer::new(hub_key));
        let to_hub = signed(&shop, "shop", "shop", HUB, NOW, None);
        let at_hub = check(&hub_verifier, &to_hub, HUB, &[]).expect("hub verifies shop");
        let to_bank = signed(&hub, "hub", "shop, hub", BANK, NOW, Some(&at_hub.member));
        let proven = check(&bank, &to_bank, BANK, &["shop".to_string()])
            .expect("the hub's signature holds; shop's cannot be checked here");
        assert_eq!((proven.sender.as_str(), proven.origin), ("hub", None));
        // The sender's own key must be known all the same.
        let bank = verifier(vec![pinned("shop", &pair(), false)]);
        let e = check(&bank, &to_bank, BANK, &["shop".to_string()]).expect_err("hub unknown");
        assert_eq!(e.code(), "caller_not_pinned", "{e}");
        assert!(
            e.to_string().contains("`hub`") && e.to_string().contains(hub.id()),
            "{e}"
        );
    }

    #[test]
    fn a_relay_cannot_turn_a_call_to_itself_into_a_call_to_another_verb() {
        let (shop_key, mall_key) = (pair(), pair());
        let mall_verifier = verifier(vec![pinned("shop", &shop_key, false)]);
        let bank = verifier(vec![
            pinned("shop", &shop_key, false),
            pinned("mall", &mall_key, false),
        ]);
        let (shop, mall) = (Signer::new(shop_key), Signer::new(mall_key));
        // Shop calls one of mall's own verbs (same body as a withdrawal)...
        const MALL: &str = "http://mall.test/realms/mall/shelf/browse";
        let to_mall = signed(&shop, "shop", "shop", MALL, NOW, None);
        let at_mall = check(&mall_verifier, &to_mall, MALL, &[]).expect("mall verifies shop");
        // ...and mall passes shop's signature on to bank's withdrawal, as if
        // shop had asked it to relay that call: shop never signed for it.
        let h = signed(
            &mall,
            "mall",
            "shop, mall",
            BANK,
            NOW,
            Some(&at_mall.member),
        );
        let e = check(&bank, &h, BANK, &["shop".to_string()]).expect_err("another verb");
        assert_eq!(e.code(), "bad_signature", "{e}");
        assert!(e.to_string().contains("`shop`"), "{e}");
        // A call shop sent through the relay to the same verb still goes.
        const HUB: &str = "http://mall.test/realms/bank/accounts/withdraw";
        let to_hub = signed(&shop, "shop", "shop", HUB, NOW, None);
        let at_hub = check(&mall_verifier, &to_hub, HUB, &[]).expect("mall verifies shop");
        let h = signed(&mall, "mall", "shop, mall", BANK, NOW, Some(&at_hub.member));
        check(&bank, &h, BANK, &["shop".to_string()]).expect("same verb");
    }
}
