//! Caller pins (`[caller-realms.<name>]` of `realm.toml`): the realms that
//! call this one, pinned like the realms it calls. `add_caller` reads the
//! caller's repository at its branch's head (its name, its public keys, its
//! usage file) and records the pin; `caller_usage` reads what a caller uses
//! of this realm at its pinned commit; `committed_export` reads this
//! realm's own committed public API at a revision (the base of
//! `realm check-callers`).
//!
//! A caller's usage file is `git-path` of its pin when set, else its
//! `[realm] usage`, else `ftl-realm-usage.json`; it is read like a pinned
//! schema: a regular file inside the repository, at most
//! [`MAX_USAGE_BYTES`], at the pinned commit, never a branch.

use std::path::Path;

use anyhow::{Result, anyhow, bail};

use super::cache::{discard_new_entry_on_error, ensure_commit, with_repo};
use super::read::read_remote;
use super::{AddRequest, Context, MAX_SCHEMA_SIZE, Pin, repo_name, resolve_branch, resolve_url};
use crate::git::{self, CachedRepo, Oid, ReadError, WorkRepo};
use crate::project::{
    PROJECT_FILE, PinTable, Project, RealmKey, RemoteProject, set_pin, short_commit,
};
use crate::schema::usage::{MAX_USAGE_BYTES, Usage, UsageFile};

/// What a caller's usage file says about this realm.
#[derive(Clone, Debug)]
pub enum UsageState {
    /// The commit has no usage file: what the caller uses is unknown.
    Missing,
    /// The file does not mention this realm: the caller uses none of it.
    NotMentioned,
    /// What the caller uses of this realm.
    Uses(Usage),
    /// The file does not read (`realm add --caller` warns; the check
    /// fails): why.
    Unreadable(String),
}

/// A caller's usage file at a commit.
#[derive(Clone, Debug)]
pub struct CallerUsage {
    /// The caller's own realm name (its `ftl-project.toml`).
    pub own_name: String,
    /// The commit read.
    pub commit: String,
    /// The usage file's path in the caller's repository.
    pub path: String,
    pub state: UsageState,
}

/// A caller pin that `add_caller` recorded, and what its commit says.
#[derive(Clone, Debug)]
pub struct AddedCaller {
    pub pin: Pin,
    /// Its public keys (then retired ones) at the pinned commit.
    pub keys: Vec<RealmKey>,
    pub usage: CallerUsage,
}

/// Pins a realm that calls this one: fetches its repository, reads its
/// project files at the branch's head (a caller is a realm: it has an
/// `ftl-project.toml`), its keys and its usage file, and records
/// `[caller-realms.<name>]` in `realm.toml` under the project's lock.
/// Nothing is written on error, and a cache entry this call created is
/// removed again.
pub fn add_caller(root: &Path, request: &AddRequest, ctx: &Context) -> Result<AddedCaller> {
    if let Some(path) = &request.path {
        git::check_repo_path(path)?;
    }
    let project = Project::load(root)?;
    if let Some(name) = &request.name {
        check_new_caller(&project, name)?;
    }
    git::check_scheme(&request.repo)?;
    let url = resolve_url(&project.root, &request.repo);
    discard_new_entry_on_error(&ctx.cache, &url, || {
        let hint = request
            .name
            .clone()
            .unwrap_or_else(|| repo_name(&request.repo));
        let (branch, commit, remote, usage) = with_repo(&ctx.cache, &url, |repo| {
            let (branch, commit) = resolve_branch(repo, &hint, request.branch.as_deref(), ctx)?;
            let remote = remote_at(repo, &hint, commit)?;
            let usage = read_usage(
                repo,
                commit,
                &remote,
                request.path.as_deref(),
                &project.name,
            )
            .unwrap_or_else(|e| CallerUsage {
                own_name: remote.name.clone(),
                commit: commit.to_string(),
                path: usage_path(&remote, request.path.as_deref()).to_string(),
                state: UsageState::Unreadable(format!("{e:#}")),
            });
            Ok((branch, commit, remote, usage))
        })?;
        let name = request.name.clone().unwrap_or_else(|| remote.name.clone());
        let pin = Project::edit_settings(root, |project, doc| {
            // Checked again under the lock: another run may have pinned it.
            check_new_caller(project, &name)?;
            let pin = Pin {
                name: name.clone(),
                repo: request.repo.clone(),
                branch: Some(branch),
                commit: commit.to_string(),
                path: request.path.clone(),
                table: PinTable::CallerRealms,
                pos: None,
            };
            set_pin(doc, &pin)?;
            Ok(pin)
        })?;
        Ok(AddedCaller {
            pin,
            keys: remote.keys,
            usage,
        })
    })
}

fn check_new_caller(project: &Project, name: &str) -> Result<()> {
    if name == project.name {
        bail!(
            "realm `{name}` is this project's own realm and cannot be its caller\n\
             help: pin the caller under another name with --name"
        );
    }
    if let Some(pin) = project.caller(name) {
        bail!(
            "realm `{name}` is already pinned as a caller, to {} ({} of {})\n\
             help: run `realm update --caller {name}` to move the pin, or pin this one under another name with --name",
            pin.short_commit(),
            pin.branch.as_deref().unwrap_or("default branch"),
            pin.repo
        );
    }
    if !crate::schema::is_ident(name) {
        bail!("`{name}` is not a valid realm name: use letters, digits and `_`");
    }
    Ok(())
}

/// The caller's project files at `commit`; a repository without
/// `ftl-project.toml` is no realm.
fn remote_at(repo: &CachedRepo, name: &str, commit: Oid) -> Result<RemoteProject> {
    read_remote(repo, name, commit)?.ok_or_else(|| {
        anyhow!(
            "{} (commit {}) has no {PROJECT_FILE}: a caller is a realm, named by its project file\n\
             help: check --git-repo and --git-branch",
            repo.url(),
            short_commit(&commit.to_string())
        )
    })
}

fn usage_path<'a>(remote: &'a RemoteProject, git_path: Option<&'a str>) -> &'a str {
    git_path.unwrap_or_else(|| remote.usage_path())
}

/// The caller's usage file at `commit`, and what it says of the realm
/// named `realm`. A file that does not read is an error.
fn read_usage(
    repo: &CachedRepo,
    commit: Oid,
    remote: &RemoteProject,
    git_path: Option<&str>,
    realm: &str,
) -> Result<CallerUsage> {
    let path = usage_path(remote, git_path);
    git::check_repo_path(path)?;
    let at = || {
        format!(
            "`{path}` of realm `{}` ({} at {})",
            remote.name,
            repo.url(),
            short_commit(&commit.to_string())
        )
    };
    let state = match repo.read_file(commit, path, MAX_USAGE_BYTES) {
        Err(ReadError::NotFound { .. }) => UsageState::Missing,
        Err(e) => bail!("{} {e}", at()),
        Ok(text) => {
            let file = UsageFile::from_json(&text).map_err(|e| {
                let e = e.to_string();
                // The reader's own advice (a later format: update realm)
                // comes first.
                if e.contains("\nhelp: ") {
                    anyhow!("{} is not a usage file: {e}", at())
                } else {
                    anyhow!(
                        "{} is not a usage file: {e}\n\
                         help: in that repository, run `realm export` with this version of realm and commit {path}",
                        at()
                    )
                }
            })?;
            match file.realm(realm) {
                Some(usage) => UsageState::Uses(usage.clone()),
                None => UsageState::NotMentioned,
            }
        }
    };
    Ok(CallerUsage {
        own_name: remote.name.clone(),
        commit: commit.to_string(),
        path: path.to_string(),
        state,
    })
}

/// What the caller of `pin` uses of this realm (found by the project's
/// name) at the pinned commit, fetched when the cache lacks it (unless
/// offline). A usage file that does not read is an error.
pub fn caller_usage(project: &Project, pin: &Pin, ctx: &Context) -> Result<CallerUsage> {
    let url = resolve_url(&project.root, &pin.repo);
    let commit = Oid::from_str(&pin.commit)
        .map_err(|_| anyhow!("invalid commit {} of caller `{}`", pin.commit, pin.name))?;
    with_repo(&ctx.cache, &url, |repo| {
        ensure_commit(repo, &pin.name, commit, pin.branch.as_deref(), ctx)?;
        let remote = remote_at(repo, &pin.name, commit)?;
        read_usage(repo, commit, &remote, pin.path.as_deref(), &project.name)
    })
    .map_err(|e| e.context(format!("cannot read what caller `{}` uses", pin.name)))
}

/// A file of this realm's own repository at a revision.
#[derive(Clone, Debug)]
pub struct Committed {
    /// The commit `rev` named.
    pub commit: String,
    /// The file's path in the repository.
    pub path: String,
    /// Its bytes; `None` when the commit does not have it.
    pub bytes: Option<Vec<u8>>,
}

/// The export file `file` (a path in the project) as committed at `rev`
/// of the project's git repository: a regular file of at most
/// [`MAX_SCHEMA_SIZE`], as pinned schemas are read.
pub fn committed_export(project: &Project, rev: &str, file: &Path) -> Result<Committed> {
    let repo = WorkRepo::discover(&project.root)?;
    let commit = repo.resolve(rev)?;
    let path = repo.path_in_repo(file).ok_or_else(|| {
        anyhow!(
            "{} is outside the git repository of the project",
            file.display()
        )
    })?;
    let bytes = match repo.read_bytes(commit, &path, MAX_SCHEMA_SIZE) {
        Ok(bytes) => Some(bytes),
        Err(ReadError::NotFound { .. }) => None,
        Err(e) => bail!(
            "`{path}` at {rev} ({}) {e}",
            short_commit(&commit.to_string())
        ),
    };
    Ok(Committed {
        commit: commit.to_string(),
        path,
        bytes,
    })
}
