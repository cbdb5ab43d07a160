//! `realm list`: every pin (the realms called, then the callers) as the
//! cache knows it; no network.

use super::read::read_api;
use super::{Cache, PinnedApi, resolve_url};
use crate::git::Oid;
use crate::project::Project;

/// A pin as `realm list` shows it, from the cache only.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub repo: String,
    pub branch: Option<String>,
    pub commit: String,
    /// Exported verbs at the pinned commit; `None` when not cached.
    pub verbs: Option<usize>,
    /// The cached head of the branch, when it differs from the pin.
    pub cached_head: Option<String>,
    pub status: ListedStatus,
    /// Which way the calls go.
    pub role: Role,
}

/// Which way the calls of a pinned realm go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    /// This realm calls it (`[external-realms]` of ftl-project.toml): its
    /// public API is pinned.
    #[serde(rename = "callee")]
    Callee,
    /// It calls this realm (`[caller-realms]` of realm.toml): its keys and
    /// usage are pinned.
    #[serde(rename = "caller")]
    Caller,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Callee => "callee",
            Role::Caller => "caller",
        })
    }
}

/// How a pin stands against the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ListedStatus {
    /// The pinned commit is the cached head of its branch.
    #[serde(rename = "up to date")]
    UpToDate,
    /// The cached head of the branch differs from the pin: `realm update`
    /// would move it.
    #[serde(rename = "behind")]
    Behind,
    /// The pinned commit has not been fetched on this machine.
    #[serde(rename = "not cached")]
    NotCached,
}

impl std::fmt::Display for ListedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ListedStatus::UpToDate => "up to date",
            ListedStatus::Behind => "behind",
            ListedStatus::NotCached => "not cached",
        })
    }
}

/// Describes every pin from the cache, the realms called then the
/// callers; no network.
pub fn list(project: &Project, cache: &Cache) -> Vec<Listed> {
    project
        .pins
        .iter()
        .chain(&project.callers)
        .map(|pin| {
            let url = resolve_url(&project.root, &pin.repo);
            let commit = Oid::from_str(&pin.commit).ok();
            let repo = cache.existing_repo(&url);
            let cached = match (&repo, commit) {
                (Some(repo), Some(commit)) => repo.has_commit(commit),
                _ => false,
            };
            let caller = pin.table.is_caller();
            let api = match (&repo, commit) {
                (Some(repo), Some(commit)) if cached && !caller => {
                    read_api(repo, &pin.name, commit, pin.path.as_deref(), false).ok()
                }
                _ => None,
            };
            let head = repo
                .as_ref()
                .zip(pin.branch.as_deref())
                .and_then(|(r, branch)| r.cached_branch(branch));
            let readable = if caller { cached } else { api.is_some() };
            let status = match (readable, head) {
                (false, _) => ListedStatus::NotCached,
                (true, Some(head)) if Some(head) != commit => ListedStatus::Behind,
                _ => ListedStatus::UpToDate,
            };
            Listed {
                name: pin.name.clone(),
                repo: pin.repo.clone(),
                branch: pin.branch.clone(),
                commit: pin.commit.clone(),
                verbs: api.as_ref().map(PinnedApi::verbs),
                cached_head: head.filter(|h| Some(*h) != commit).map(|h| h.to_string()),
                status,
                role: if caller { Role::Caller } else { Role::Callee },
            }
        })
        .collect()
}
