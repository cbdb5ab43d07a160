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
