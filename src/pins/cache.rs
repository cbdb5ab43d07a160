//! The cache as pins need it: a commit made available ([`ensure_commit`]),
//! a damaged repository deleted and fetched again ([`with_repo`]), and the
//! entry a failed `realm add` created removed
//! ([`discard_new_entry_on_error`]).

use anyhow::{Result, anyhow, bail};

use super::{Cache, Context, short};
use crate::git::{self, CachedRepo, Oid};

/// Whether a git error means the cached repository is damaged (as opposed
/// to a network or user error): worth deleting it and fetching again.
fn is_damage(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|cause| cause.is::<CommitGone>() || git::is_damage(cause))
}

/// Runs `op` on the cached repository of `url`; when it fails because the
/// cache is damaged, deletes the repository and runs `op` once more on a
/// fresh one.
pub(super) fn with_repo<T>(
    cache: &Cache,
    url: &str,
    mut op: impl FnMut(&CachedRepo) -> Result<T>,
) -> Result<T> {
    let repo = cache.repo(url)?;
    match op(&repo) {
        Err(e) if is_damage(&e) => {
            drop(repo);
            cache.discard(url)?;
            let repo = cache.repo(url)?;
            op(&repo)
        }
        other => other,
    }
}

/// Makes `commit` available in the cache: fetches the branch (and, if the
/// commit is not on it, the commit itself). Errors say when the commit is
/// gone from the remote.
pub(super) fn ensure_commit(
    repo: &CachedRepo,
    name: &str,
    commit: Oid,
    branch: Option<&str>,
    ctx: &Context,
) -> Result<()> {
    if repo.lookup_commit(commit)? {
        return Ok(());
    }
    if ctx.offline {
        bail!(
            "realm `{name}` at {} is not in the cache and --offline forbids fetching it\n\
             help: run once without --offline to fetch it",
            short(commit)
        );
    }
    let branch = match branch {
        Some(b) => b.to_string(),
        None => repo
            .remote_heads()?
            .default_branch
            .ok_or_else(|| anyhow!("{} has no default branch", repo.url()))?,
    };
    // The branch may be gone; the commit may still be fetchable by id.
    let fetched = ctx.with_progress(name, |progress| {
        let fetched = repo.fetch_branch(&branch, progress);
        if !repo.has_commit(commit) {
            repo.fetch_commit(commit, progress);
        }
        fetched
    });
    // A corrupt object surfaces here as an error, not as "gone".
    if repo.lookup_commit(commit)? {
        return Ok(());
    }
    // The remote could not be reached (DNS, network, credentials): that is
    // the cause, not a force-push.
    if let Err(e) = fetched
        && !e.is::<git::BranchMissing>()
    {
        return Err(e.context(format!(
            "commit {} of realm `{name}` is not in the cache, and {} cannot be fetched\n\
             help: check the network and the repository's URL, then run again",
            short(commit),
            repo.url()
        )));
    }
    Err(CommitGone {
        commit,
        name: name.to_string(),
        url: repo.url().to_string(),
        branch,
    }
    .into())
}

/// A pinned commit that neither the branch nor a fetch by id brings back.
/// A damaged cache looks the same (git believes it has objects it cannot
/// read), so the cache is rebuilt once before this is believed.
#[derive(Debug, thiserror::Error)]
#[error(
    "commit {commit} of realm `{name}` is no longer in {url} (was branch `{branch}` force-pushed?)\n\
     help: run `realm update {name}` to pin the branch's current head"
)]
struct CommitGone {
    commit: Oid,
    name: String,
    url: String,
    branch: String,
}

/// Runs `op`, which may create the cache entry of `url`. When it fails and
/// the entry was not there before, the entry is removed again: what a
/// failed add fetched (an empty repository, at least) is litter; the
/// error is what matters.
pub(super) fn discard_new_entry_on_error<T>(
    cache: &Cache,
    url: &str,
    op: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let new_entry = !cache.has_entry(url);
    let result = op();
    if result.is_err() && new_entry && cache.has_entry(url) {
        let _ = cache.remove_entry(url);
    }
    result
}
