//! Checking signed calls: the [`Verifier`] with the peers' keys, the
//! replay window and the nonce cache (sharded, bounded, pruned as the
//! window moves on).
//!
//! Never grows without bound: a full cache refuses calls.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;
use ring::hmac;

use super::format::{parse, signed_string};
use super::pinned::PinnedKeys;
use super::*;

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
    /// The Ed25519 keys of the pinned callers (RFC 9421 signatures).
    pub(super) pinned: PinnedKeys,
    pub(super) window_secs: u64,
    pub(super) cache: NonceCache,
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
    pub(crate) fn with_capacity(keys: Keys, window: Duration, max_nonces: usize) -> Verifier {
        let peers = (0u32..)
            .zip(keys.peers())
            .filter_map(|(id, name)| {
                let key = hmac::Key::new(hmac::HMAC_SHA256, keys.get(name)?);
                Some((name.to_string(), Peer { id, key }))
            })
            .collect();
        Verifier {
            keys,
            peers,
            pinned: PinnedKeys::default(),
            window_secs: window.as_secs(),
            cache: NonceCache::new(max_nonces),
        }
    }

    /// This verifier, checking RFC 9421 signatures with `pinned`.
    pub fn with_pinned(mut self, pinned: PinnedKeys) -> Verifier {
        self.pinned = pinned;
        self
    }

    /// The keys this verifier checks with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Refuses, from now on, nonces the other replicas of this ingress
    /// took too (their shared store's replay cache); `false` when it does
    /// already.
    pub fn share_nonces(&self, shared: std::sync::Arc<dyn crate::queue::Nonces>) -> bool {
        self.cache.share(shared)
    }

    /// The Ed25519 keys of the pinned callers.
    pub fn pinned(&self) -> &PinnedKeys {
        &self.pinned
    }

    /// The replay window.
    #[cfg(test)]
    fn window(&self) -> Duration {
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
        let (realm, shared) = self.verify_deferred(header, request, now)?;
        if let Some(shared) = shared {
            shared.take()?;
        }
        Ok(realm)
    }

    /// [`Verifier::verify`], leaving the nonce's take in the cache shared
    /// with other replicas to the caller (`Some` when there is one).
    pub fn verify_deferred(
        &self,
        header: Option<&[u8]>,
        request: &Request<'_>,
        now: u64,
    ) -> Result<(String, Option<SharedTake>), AuthError> {
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
            Insert::Fresh => Ok((
                parsed.realm.to_string(),
                self.cache.to_share(
                    parsed.nonce,
                    &format!("hmac:{}", parsed.realm),
                    parsed.realm,
                    (parsed.t, now, self.window_secs),
                ),
            )),
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

    pub(super) fn expired(&self, peer: &str, t: u64, now: u64) -> AuthError {
        let skew = i128::from(now) - i128::from(t);
        AuthError::Expired {
            peer: peer.to_string(),
            skew_secs: i64::try_from(skew).unwrap_or(if skew < 0 { i64::MIN } else { i64::MAX }),
            window_secs: self.window_secs,
        }
    }
}

/// A nonce new in this replica's cache, still to be taken in the cache
/// the replicas share ([`SharedTake::take`], a round trip to their store:
/// not on a thread that serves calls).
#[derive(Clone)]
pub struct SharedTake {
    nonces: std::sync::Arc<dyn crate::queue::Nonces>,
    key: String,
    until: u64,
    now: u64,
    peer: String,
}

impl std::fmt::Debug for SharedTake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTake")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl SharedTake {
    /// Takes the nonce for every replica: refused as a replay when another
    /// replica took it, or when the shared cache cannot be asked.
    pub fn take(self) -> Result<(), AuthError> {
        match self.nonces.take(&self.key, self.until, self.now) {
            Ok(true) => Ok(()),
            Ok(false) => Err(AuthError::Replayed { peer: self.peer }),
            Err(e) => Err(AuthError::ReplayCacheUnavailable(e.to_string())),
        }
    }
}

/// The outcome of remembering a nonce.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Insert {
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
pub(super) struct NonceCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    /// The nonces the replicas of this ingress share (`[ingress] store =
    /// "nats://..."`): a nonce new here is taken there too, so that a
    /// signature another replica accepted is refused.
    shared: std::sync::OnceLock<std::sync::Arc<dyn crate::queue::Nonces>>,
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
            shared: std::sync::OnceLock::new(),
        }
    }

    /// Shares the nonces with other replicas through `shared` from now on;
    /// `false` when they are shared already.
    pub(super) fn share(&self, shared: std::sync::Arc<dyn crate::queue::Nonces>) -> bool {
        self.shared.set(shared).is_ok()
    }

    /// Remembers a nonce here (`peer` numbers the signer among this
    /// replica's keys). Taking it in the cache shared with other replicas
    /// is a round trip to their store: [`NonceCache::to_share`] says what
    /// to take, for the caller to take off the serving thread.
    pub(super) fn insert(&self, nonce: u128, peer: u32, t: u64, now: u64, window: u64) -> Insert {
        self.insert_here(nonce, peer, t, now, window)
    }

    /// What a nonce new here still has to take in the cache shared with
    /// other replicas; `None` when there is none. `signer` names the
    /// signer the same on every replica (`hmac:<realm>`, `key:<key id>`),
    /// `peer` as refusals name it.
    pub(super) fn to_share(
        &self,
        nonce: u128,
        signer: &str,
        peer: &str,
        (t, now, window): (u64, u64, u64),
    ) -> Option<SharedTake> {
        let nonces = self.shared.get()?.clone();
        // Hex: a key id may hold characters NATS keys may not.
        let signer: String = signer.bytes().map(|b| format!("{b:02x}")).collect();
        Some(SharedTake {
            nonces,
            key: format!("{nonce:032x}.{signer}"),
            // Until the timestamp can no longer pass the window.
            until: t.saturating_add(window),
            now,
            peer: peer.to_string(),
        })
    }

    fn max_nonces(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    fn insert_here(&self, nonce: u128, peer: u32, t: u64, now: u64, window: u64) -> Insert {
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
    use crate::ingress::auth::format::sign_with_nonce;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
