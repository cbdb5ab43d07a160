//! The public keys of a pinned realm ([`pinned_keys`]): `[realm]
//! public-keys` and `retired-keys` of its `realm.toml` at the pinned
//! commit, read from the cache like its public API. A pin at commit C
//! trusts exactly the keys of C.

use anyhow::{Context as _, Result};

use super::cache::{ensure_commit, with_repo};
use super::read::read_remote;
use super::{Context, Pin, resolve_url};
use crate::git::Oid;
use crate::project::{Project, RealmKey};

/// The keys (public, then retired) the realm of `pin` publishes at the
/// pinned commit, fetching the commit when the cache lacks it (unless
/// offline). A repository without `ftl-project.toml`, without
/// `realm.toml` or without keys has none: an empty list. Project files
/// that do not read are an error naming the file.
pub fn pinned_keys(project: &Project, pin: &Pin, ctx: &Context) -> Result<Vec<RealmKey>> {
    Ok(pinned_signer(project, pin, ctx)?.1)
}

/// The realm of `pin` as it signs its calls: its own name at the pinned
/// commit (its `ftl-project.toml`: what its ingress sends as
/// `x-realm-caller`, whatever name the pin has here; the pin's name when
/// it has no project file) and [`pinned_keys`].
pub fn pinned_signer(
    project: &Project,
    pin: &Pin,
    ctx: &Context,
) -> Result<(String, Vec<RealmKey>)> {
    let url = resolve_url(&project.root, &pin.repo);
    let commit =
        Oid::from_str(&pin.commit).with_context(|| format!("invalid commit {}", pin.commit))?;
    with_repo(&ctx.cache, &url, |repo| {
        ensure_commit(repo, &pin.name, commit, pin.branch.as_deref(), ctx)?;
        Ok(read_remote(repo, &pin.name, commit)?.map_or_else(
            || (pin.name.clone(), Vec::new()),
            |remote| (remote.name, remote.keys),
        ))
    })
    .with_context(|| {
        format!(
            "cannot read the public keys of realm `{}` ({} at {})",
            pin.name,
            pin.repo,
            pin.short_commit()
        )
    })
}

/// A key a caller pin starts or stops trusting when it moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyChange {
    pub id: String,
    pub kind: KeyChangeKind,
}

/// What happens to a key when a caller pin moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChangeKind {
    /// A new public key: calls signed with it will be accepted.
    Added,
    /// Moved to `retired-keys`: calls signed with it will be refused.
    Retired,
    /// Gone from the realm's keys: calls signed with it will be refused.
    Removed,
}

impl KeyChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyChangeKind::Added => "added",
            KeyChangeKind::Retired => "retired",
            KeyChangeKind::Removed => "removed",
        }
    }
}

/// What moving a caller pin from `old` keys to `new` keys changes in what
/// is trusted, by key id (sorted: added, retired, removed).
pub fn key_changes(old: &[RealmKey], new: &[RealmKey]) -> Vec<KeyChange> {
    let active = |keys: &[RealmKey], id: &str| keys.iter().any(|k| k.id == id && !k.retired);
    let mut changes: Vec<KeyChange> = Vec::new();
    for key in new.iter().filter(|k| !k.retired) {
        if !active(old, &key.id) {
            changes.push(KeyChange {
                id: key.id.clone(),
                kind: KeyChangeKind::Added,
            });
        }
    }
    for key in old.iter().filter(|k| !k.retired) {
        if active(new, &key.id) {
            continue;
        }
        let kind = if new.iter().any(|k| k.id == key.id) {
            KeyChangeKind::Retired
        } else {
            KeyChangeKind::Removed
        };
        changes.push(KeyChange {
            id: key.id.clone(),
            kind,
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, retired: bool) -> RealmKey {
        RealmKey {
            id: id.into(),
            algorithm: "ed25519".into(),
            public: vec![0; 32],
            retired,
            pos: None,
        }
    }

    #[test]
    fn moving_a_caller_pin_says_which_keys_it_starts_and_stops_trusting() {
        let old = [key("a1", false), key("b2", false), key("c3", true)];
        let new = [key("b2", true), key("d4", false), key("c3", true)];
        let changes = key_changes(&old, &new);
        let shown: Vec<(&str, &str)> = changes
            .iter()
            .map(|c| (c.id.as_str(), c.kind.as_str()))
            .collect();
        assert_eq!(
            shown,
            [("d4", "added"), ("a1", "removed"), ("b2", "retired")]
        );
        assert!(key_changes(&new, &new).is_empty());
    }
}
