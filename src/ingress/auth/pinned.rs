//! The public keys of the realms this one trusts to sign calls: its pinned
//! callers (`[caller-realms.*]`), each with the keys its `realm.toml`
//! published at the pinned commit. A key id names one key of one realm;
//! [`PinnedKeys::find`] says whose it is and whether it is retired.
//!
//! Plain data, built once at start (`build.rs` reads the pins); no I/O.

use std::collections::HashMap;

use super::httpsig::KeyStatus;

/// One realm's keys, as pinned.
#[derive(Clone, Debug)]
pub struct PinnedRealm {
    /// The realm's own name (its `ftl-project.toml` at the pinned commit),
    /// which its calls carry in `x-realm-caller`; the pin may name it
    /// otherwise (`realm add --caller --name`).
    pub name: String,
    /// The pinned commit, for messages.
    pub commit: String,
    /// Its keys: id, raw Ed25519 public key, retired.
    pub keys: Vec<PinnedKey>,
}

/// One published key.
#[derive(Clone, Debug)]
pub struct PinnedKey {
    pub id: String,
    pub public: Vec<u8>,
    pub retired: bool,
}

/// Whose a key id is.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'k> {
    /// The realm that published it.
    pub realm: &'k str,
    /// A small number per key, for the nonce cache.
    pub index: u32,
    pub public: &'k [u8],
    pub retired: bool,
}

impl Owner<'_> {
    /// The key as the signature check sees it.
    pub fn status(&self) -> KeyStatus<'_> {
        if self.retired {
            KeyStatus::Retired
        } else {
            KeyStatus::Active(self.public)
        }
    }
}

/// The keys of every pinned caller, by key id.
#[derive(Clone, Debug, Default)]
pub struct PinnedKeys {
    realms: Vec<PinnedRealm>,
    /// Key id → (realm index, key index).
    by_id: HashMap<String, (usize, usize)>,
}

impl PinnedKeys {
    /// The keys of `realms`. A key id two realms both publish belongs to
    /// neither: it is refused as unknown (and reported by
    /// [`PinnedKeys::shared_ids`]), so one realm cannot speak as another.
    pub fn new(realms: Vec<PinnedRealm>) -> PinnedKeys {
        let mut by_id: HashMap<String, (usize, usize)> = HashMap::new();
        let mut shared = Vec::new();
        for (r, realm) in realms.iter().enumerate() {
            for (k, key) in realm.keys.iter().enumerate() {
                match by_id.get(&key.id) {
                    Some((other, _)) if *other != r => shared.push(key.id.clone()),
                    Some(_) => {}
                    None => {
                        by_id.insert(key.id.clone(), (r, k));
                    }
                }
            }
        }
        for id in shared {
            by_id.remove(&id);
        }
        PinnedKeys { realms, by_id }
    }

    /// No realm pinned as a caller.
    pub fn is_empty(&self) -> bool {
        self.realms.is_empty()
    }

    /// The pinned callers.
    pub fn realms(&self) -> &[PinnedRealm] {
        &self.realms
    }

    /// Whether `realm` is a pinned caller.
    pub fn is_pinned(&self, realm: &str) -> bool {
        self.realms.iter().any(|r| r.name == realm)
    }

    /// Key ids published by more than one pinned realm (trusted for none).
    pub fn shared_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .realms
            .iter()
            .flat_map(|r| r.keys.iter().map(|k| k.id.as_str()))
            .filter(|id| !self.by_id.contains_key(*id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The realm and key of `id`.
    pub fn find(&self, id: &str) -> Option<Owner<'_>> {
        let (r, k) = *self.by_id.get(id)?;
        let realm = &self.realms[r];
        let key = &realm.keys[k];
        // At most a few hundred keys: the index fits (ids of HMAC peers
        // are below 2^31; these are above).
        let index = (1u32 << 31) | u32::try_from(r * 64 + k).unwrap_or(u32::MAX >> 1);
        Some(Owner {
            realm: &realm.name,
            index,
            public: &key.public,
            retired: key.retired,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm(name: &str, ids: &[(&str, bool)]) -> PinnedRealm {
        PinnedRealm {
            name: name.into(),
            commit: "c".repeat(40),
            keys: ids
                .iter()
                .map(|(id, retired)| PinnedKey {
                    id: id.to_string(),
                    public: vec![7; 32],
                    retired: *retired,
                })
                .collect(),
        }
    }

    #[test]
    fn a_key_id_names_its_realm_and_whether_it_is_retired() {
        let keys = PinnedKeys::new(vec![
            realm("shop", &[("aa", false), ("bb", true)]),
            realm("hub", &[("cc", false)]),
        ]);
        let aa = keys.find("aa").expect("aa");
        assert_eq!((aa.realm, aa.retired), ("shop", false));
        assert!(matches!(aa.status(), KeyStatus::Active(_)));
        assert!(matches!(
            keys.find("bb").expect("bb").status(),
            KeyStatus::Retired
        ));
        assert_eq!(keys.find("cc").expect("cc").realm, "hub");
        assert!(keys.find("dd").is_none());
        assert!(keys.is_pinned("hub") && !keys.is_pinned("bank"));
        assert_ne!(aa.index, keys.find("cc").expect("cc").index);
        assert!(aa.index >= 1 << 31);
    }

    #[test]
    fn a_key_two_realms_publish_is_trusted_for_neither() {
        let keys = PinnedKeys::new(vec![
            realm("shop", &[("aa", false)]),
            realm("evil", &[("aa", false), ("ee", false)]),
        ]);
        assert!(keys.find("aa").is_none());
        assert_eq!(keys.shared_ids(), vec!["aa"]);
        assert_eq!(keys.find("ee").expect("ee").realm, "evil");
    }
}
