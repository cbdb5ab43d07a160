//! The git boundary: a shared cache of bare repositories, one per remote
//! URL, and the few operations `realm` needs on them — list a remote's
//! branches, fetch one branch (shallow where the transport allows), fetch one
//! commit, and read a file at a commit with the checks a pinned schema needs.
//!
//! Everything git goes through here (git2/libgit2; no `git` binary). Remotes
//! may be https (credential helpers from git config), ssh (the agent),
//! `file://` URLs or plain paths.
//!
//! The cache lives under the user's cache directory (`--cache-dir` /
//! `REALM_CACHE_DIR` override it). Each repository is guarded by a lock file
//! while it is created or fetched into, so concurrent `realm` processes share
//! it safely. A repository that libgit2 cannot open or read is treated as
//! damaged: it is deleted and fetched again.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow, bail};
use git2::{
    AutotagOption, CredentialType, Direction, ErrorClass, ErrorCode, FetchOptions, ObjectType,
    Remote, RemoteCallbacks, Repository,
};

/// Seconds to wait for a remote to accept a connection, and for any read.
const CONNECT_TIMEOUT_MS: i32 = 30_000;
const READ_TIMEOUT_MS: i32 = 120_000;

/// Progress of a fetch: objects received out of the total.
#[derive(Clone, Copy, Debug)]
pub struct Transfer {
    pub received: usize,
    pub total: usize,
    pub bytes: usize,
}

/// Called while a fetch receives objects.
pub type OnProgress<'a> = &'a (dyn Fn(Transfer) + Sync);

/// The shared cache of bare repositories.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

/// The user's default cache directory for `realm`: `$XDG_CACHE_HOME/realm`
/// or the platform's equivalent.
pub fn default_cache_dir() -> Result<PathBuf> {
    dirs::cache_dir().map(|d| d.join("realm")).ok_or_else(|| {
        anyhow!("cannot find a cache directory; pass --cache-dir or set REALM_CACHE_DIR")
    })
}

impl Cache {
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, url: &str) -> PathBuf {
        self.dir.join("git").join(cache_name(url))
    }

    /// The cached repository of `url` if there is one; never creates or
    /// fetches.
    pub fn existing_repo(&self, url: &str) -> Option<CachedRepo> {
        let path = self.path(url);
        let repo = Repository::open_bare(&path).ok()?;
        Some(CachedRepo {
            repo,
            url: url.to_string(),
            path,
        })
    }

    /// Whether the cache has an entry (a repository or its lock file) for
    /// `url`.
    pub fn has_entry(&self, url: &str) -> bool {
        let path = self.path(url);
        path.symlink_metadata().is_ok() || path.with_extension("lock").symlink_metadata().is_ok()
    }

    /// Deletes the cache entry of `url` — the repository and its lock file —
    /// that a failed operation created: nothing of it is worth keeping.
    /// The lock is held while the repository goes; the lock file goes last.
    /// (A process already waiting on that lock file then holds a lock on a
    /// removed file; it re-creates the repository, as it would have.)
    pub fn remove_entry(&self, url: &str) -> Result<()> {
        let path = self.path(url);
        let lock_path = path.with_extension("lock");
        let lock = lock_file(&lock_path)?;
        if path.exists() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove cache {}", path.display()))?;
        }
        let removed = fs::remove_file(&lock_path);
        drop(lock);
        removed.with_context(|| format!("cannot remove lock file {}", lock_path.display()))
    }

    /// Deletes the cached repository of `url` (it is damaged).
    pub fn discard(&self, url: &str) -> Result<()> {
        let path = self.path(url);
        let _lock = lock_file(&path.with_extension("lock"))?;
        if path.exists() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove damaged cache {}", path.display()))?;
        }
        Ok(())
    }

    /// The cached repository of `url`, created empty when missing, re-created
    /// when damaged.
    pub fn repo(&self, url: &str) -> Result<CachedRepo> {
        let path = self.path(url);
        fs::create_dir_all(path.parent().unwrap_or(&self.dir))
            .with_context(|| format!("cannot create the cache directory {}", self.dir.display()))?;
        let _lock = lock_file(&path.with_extension("lock"))?;
        let repo = match Repository::open_bare(&path) {
            Ok(repo) if repo.find_remote("origin").is_ok() => repo,
            Ok(_) | Err(_) if path.exists() => {
                // Damaged: libgit2 cannot open it, or it lost its remote.
                fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove damaged cache {}", path.display()))?;
                init(&path, url)?
            }
            _ => init(&path, url)?,
        };
        Ok(CachedRepo {
            repo,
            url: url.to_string(),
            path,
        })
    }
}

fn init(path: &Path, url: &str) -> Result<Repository> {
    let repo = Repository::init_bare(path)
        .with_context(|| format!("cannot create cache repository {}", path.display()))?;
    repo.remote_with_fetch("origin", url, "+refs/heads/*:refs/remotes/origin/*")
        .with_context(|| format!("invalid git URL `{url}`"))?;
    Ok(repo)
}

/// A readable directory name for a URL: its last path segments plus a hash
/// of the whole URL (so different URLs never share a repository).
fn cache_name(url: &str) -> String {
    let readable: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':', '\\'])
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // FNV-1a: stable across runs and platforms.
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{readable}-{hash:016x}.git")
}

/// An exclusive lock held until dropped: a lock file next to what it guards.
pub struct FileLock {
    _file: fs::File,
}

/// Takes an exclusive lock on `path` (created if missing), waiting for
/// other holders.
pub fn lock_file(path: &Path) -> Result<FileLock> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(FileLock { _file: file })
}

/// A remote's branches and its HEAD branch, as `git ls-remote` shows them.
#[derive(Clone, Debug, Default)]
pub struct RemoteHeads {
    /// `main` for `refs/heads/main`, with the commit it points at.
    pub branches: Vec<(String, Oid)>,
    /// The branch the remote's HEAD points at.
    pub default_branch: Option<String>,
}

impl RemoteHeads {
    pub fn branch(&self, name: &str) -> Option<Oid> {
        self.branches
            .iter()
            .find(|(b, _)| b == name)
            .map(|(_, oid)| *oid)
    }

    pub fn names(&self) -> Vec<&str> {
        self.branches.iter().map(|(b, _)| b.as_str()).collect()
    }
}

/// The remote answered, and has no such branch.
#[derive(Debug, thiserror::Error)]
#[error("branch `{branch}` not found in {url}")]
pub struct BranchMissing {
    pub branch: String,
    pub url: String,
}

/// A commit id (git's object id), as `pins.rs` keeps it.
pub use git2::Oid;

/// Whether `cause` is a git error that means the cached repository is
/// damaged (its objects, packs or references), as opposed to a network or
/// user error: worth deleting the repository and fetching again.
pub fn is_damage(cause: &(dyn std::error::Error + 'static)) -> bool {
    let git =
        cause
            .downcast_ref::<git2::Error>()
            .or_else(|| match cause.downcast_ref::<ReadError>() {
                Some(ReadError::Git(g)) => Some(g),
                _ => None,
            });
    git.is_some_and(|g| {
        matches!(
            g.class(),
            ErrorClass::Odb
                | ErrorClass::Zlib
                | ErrorClass::Object
                | ErrorClass::Indexer
                | ErrorClass::Reference
                | ErrorClass::Repository
        )
    })
}

/// Why a file could not be read at a commit. The messages continue "`path`
/// ...".
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("does not exist")]
    NotFound { path: String },
    #[error("is a symbolic link; a schema file must be a regular file")]
    Symlink { path: String },
    #[error("is a directory, not a file")]
    NotAFile { path: String },
    #[error(
        "is {:.1} MiB, larger than the limit of {} MiB",
        *size as f64 / 1048576.0,
        limit / 1048576
    )]
    TooLarge {
        path: String,
        size: usize,
        limit: usize,
    },
    #[error("is not valid UTF-8")]
    NotUtf8 { path: String },
    #[error("cannot be read: commit {commit} is not in the cache")]
    MissingCommit { commit: Oid },
    #[error("cannot be read: {0}")]
    Git(#[from] git2::Error),
}

/// One cached bare repository.
pub struct CachedRepo {
    repo: Repository,
    url: String,
    path: PathBuf,
}

impl CachedRepo {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The repository's remote: every network operation starts here, so
    /// libgit2's timeouts are set here, not when the cache is made (setting
    /// them initializes libgit2 and OpenSSL, which reads the system's CA
    /// certificates: 20 ms and 1 MiB that `realm export` of a realm
    /// without pins did for nothing).
    fn remote(&self) -> Result<Remote<'_>, git2::Error> {
        static TIMEOUTS: Once = Once::new();
        TIMEOUTS.call_once(|| {
            // SAFETY: libgit2 global options, set once before any remote
            // operation of this process (they all take their `Remote` from
            // here, after `call_once` returns) and so never concurrently
            // with one.
            unsafe {
                let _ = git2::opts::set_server_connect_timeout_in_milliseconds(CONNECT_TIMEOUT_MS);
                let _ = git2::opts::set_server_timeout_in_milliseconds(READ_TIMEOUT_MS);
            }
        });
        self.repo.find_remote("origin")
    }

    /// Lists the remote's branches (`git ls-remote --heads` plus HEAD):
    /// one connection, no objects transferred.
    pub fn remote_heads(&self) -> Result<RemoteHeads> {
        let mut remote = self.remote()?;
        let config = git2::Config::open_default().ok();
        let callbacks = callbacks(config.as_ref(), None);
        let connection = remote
            .connect_auth(Direction::Fetch, Some(callbacks), None)
            .map_err(|e| remote_error(&self.url, e))?;
        let mut heads = RemoteHeads::default();
        for head in connection.list().map_err(|e| remote_error(&self.url, e))? {
            if let Some(branch) = head.name().strip_prefix("refs/heads/") {
                heads.branches.push((branch.to_string(), head.oid()));
            } else if head.name() == "HEAD"
                && let Some(target) = head.symref_target()
            {
                heads.default_branch = target.strip_prefix("refs/heads/").map(str::to_string);
            }
        }
        if heads.default_branch.is_none() {
            heads.default_branch = connection.default_branch().ok().and_then(|b| {
                b.as_str()
                    .ok()
                    .and_then(|s| s.strip_prefix("refs/heads/"))
                    .map(str::to_string)
            });
        }
        heads.branches.sort();
        Ok(heads)
    }

    /// Fetches one branch into the cache and returns the commit it points
    /// at. Shallow (depth 1) over network transports; libgit2's local
    /// transport copies objects directly and does not do shallow fetches.
    pub fn fetch_branch(&self, branch: &str, progress: Option<OnProgress>) -> Result<Oid> {
        let _lock = lock_file(&self.path.with_extension("lock"))?;
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        self.fetch(&[refspec.as_str()], progress)?;
        self.cached_branch(branch).ok_or_else(|| {
            anyhow::Error::from(BranchMissing {
                branch: branch.to_string(),
                url: self.url.clone(),
            })
        })
    }

    /// Fetches one commit by id (servers that allow it: file, git daemon,
    /// GitHub, GitLab). Returns whether the commit is now in the cache.
    pub fn fetch_commit(&self, commit: Oid, progress: Option<OnProgress>) -> bool {
        if self.has_commit(commit) {
            return true;
        }
        let Ok(_lock) = lock_file(&self.path.with_extension("lock")) else {
            return false;
        };
        let refspec = format!("+{commit}:refs/realm/fetched/{commit}");
        self.fetch(&[refspec.as_str()], progress).is_ok() && self.has_commit(commit)
    }

    fn fetch(&self, refspecs: &[&str], progress: Option<OnProgress>) -> Result<()> {
        let mut remote = self.remote()?;
        let config = git2::Config::open_default().ok();
        let shallow = !is_local(&self.url);
        let attempt = |depth: bool, remote: &mut Remote| {
            let mut options = FetchOptions::new();
            options
                .remote_callbacks(callbacks(config.as_ref(), progress))
                .download_tags(AutotagOption::None)
                .update_fetchhead(false);
            if depth {
                options.depth(1);
            }
            remote.fetch(refspecs, Some(&mut options), None)
        };
        let result = match attempt(shallow, &mut remote) {
            // Dumb transports and some servers refuse shallow fetches.
            Err(e) if shallow && e.class() != ErrorClass::Net => attempt(false, &mut remote),
            other => other,
        };
        result.map_err(|e| remote_error(&self.url, e))
    }

    /// The commit the cached copy of `branch` points at.
    pub fn cached_branch(&self, branch: &str) -> Option<Oid> {
        self.repo
            .refname_to_id(&format!("refs/remotes/origin/{branch}"))
            .ok()
    }

    /// Whether the commit is cached. Any other error than "not found"
    /// (a corrupt object, say) is returned: the cache may be damaged.
    pub fn lookup_commit(&self, commit: Oid) -> Result<bool, git2::Error> {
        match self.repo.find_commit(commit) {
            Ok(_) => Ok(true),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the commit is cached and readable.
    pub fn has_commit(&self, commit: Oid) -> bool {
        self.lookup_commit(commit).unwrap_or(false)
    }

    /// Reads the text file at `path` in `commit`: [`Self::read_bytes`],
    /// valid UTF-8.
    pub fn read_file(&self, commit: Oid, path: &str, limit: usize) -> Result<String, ReadError> {
        String::from_utf8(self.read_bytes(commit, path, limit)?).map_err(|_| ReadError::NotUtf8 {
            path: path.to_string(),
        })
    }

    /// Reads the file at `path` in `commit`: a regular file (no symlink) of
    /// at most `limit` bytes. `path` must already be checked to stay inside
    /// the repository.
    pub fn read_bytes(&self, commit: Oid, path: &str, limit: usize) -> Result<Vec<u8>, ReadError> {
        read_blob(&self.repo, commit, path, limit)
    }
}

/// The file at `path` in `commit` of `repo`: a regular file (no symlink)
/// of at most `limit` bytes.
fn read_blob(
    repo: &Repository,
    commit: Oid,
    path: &str,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    let commit_obj = match repo.find_commit(commit) {
        Ok(c) => c,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(ReadError::MissingCommit { commit });
        }
        Err(e) => return Err(e.into()),
    };
    let tree = commit_obj.tree()?;
    let entry = match tree.get_path(Path::new(path)) {
        Ok(entry) => entry,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(ReadError::NotFound {
                path: path.to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    match (entry.kind(), entry.filemode()) {
        (_, 0o120000) => {
            return Err(ReadError::Symlink {
                path: path.to_string(),
            });
        }
        (Some(ObjectType::Blob), _) => {}
        _ => {
            return Err(ReadError::NotAFile {
                path: path.to_string(),
            });
        }
    }
    let (size, _) = repo.odb()?.read_header(entry.id())?;
    if size > limit {
        return Err(ReadError::TooLarge {
            path: path.to_string(),
            size,
            limit,
        });
    }
    let blob = repo.find_blob(entry.id())?;
    Ok(blob.content().to_vec())
}

/// The git repository whose work tree holds the project (not a cached
/// one): for reading the project's own committed files at a revision.
pub struct WorkRepo {
    repo: Repository,
    workdir: PathBuf,
}

impl WorkRepo {
    /// The repository holding `dir` (searched upwards, as git does).
    pub fn discover(dir: &Path) -> Result<WorkRepo> {
        let repo = Repository::discover(dir).map_err(|_| {
            anyhow!(
                "{} is not in a git repository\n\
                 help: the base of the comparison is a committed file; commit the project to git, or run where it is committed",
                dir.display()
            )
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| anyhow!("the git repository of {} has no work tree", dir.display()))?;
        let workdir = workdir
            .canonicalize()
            .unwrap_or_else(|_| workdir.to_path_buf());
        Ok(WorkRepo { repo, workdir })
    }

    /// The commit `rev` names (`HEAD`, a branch, a tag, `origin/main`, an
    /// id, `HEAD~1`...).
    pub fn resolve(&self, rev: &str) -> Result<Oid> {
        let object = self.repo.revparse_single(rev).map_err(|e| {
            anyhow!(
                "`{rev}` names no commit of {}: {}\n\
                 help: pass --base a branch, tag or commit id of this repository (in a shallow CI clone, fetch it first: `git fetch origin main`)",
                self.workdir.display(),
                e.message()
            )
        })?;
        let commit = object
            .peel_to_commit()
            .map_err(|_| anyhow!("`{rev}` of {} is not a commit", self.workdir.display()))?;
        Ok(commit.id())
    }

    /// `path` (a file of the work tree) as a path in the repository,
    /// `/`-separated; `None` when it is outside the work tree.
    pub fn path_in_repo(&self, path: &Path) -> Option<String> {
        let parent = path.parent()?.canonicalize().ok()?;
        let rel = parent.strip_prefix(&self.workdir).ok()?;
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        parts.push(path.file_name()?.to_string_lossy().into_owned());
        Some(parts.join("/"))
    }

    /// The file at `path` in `commit`, as [`CachedRepo::read_bytes`] reads it.
    pub fn read_bytes(&self, commit: Oid, path: &str, limit: usize) -> Result<Vec<u8>, ReadError> {
        read_blob(&self.repo, commit, path, limit)
    }
}

/// Whether libgit2 uses its local transport for `url` (a path or file://).
/// Refuses a URL whose scheme git cannot fetch from (`ftp://`, a typo),
/// before anything is fetched: libgit2 would say only "invalid argument".
pub fn check_scheme(url: &str) -> Result<()> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Ok(());
    };
    if matches!(
        scheme.to_ascii_lowercase().as_str(),
        "http" | "https" | "ssh" | "git" | "file" | "git+ssh" | "ssh+git"
    ) {
        return Ok(());
    }
    bail!(
        "`{url}` uses {scheme}://, which git cannot fetch from\nhelp: use an https://, ssh://, git:// or file:// URL, git@host:path, or a path"
    )
}

pub fn is_local(url: &str) -> bool {
    url.starts_with("file://") || !url.contains("://") && !is_scp_like(url)
}

/// `git@host:path`, git's scp-like ssh syntax.
fn is_scp_like(url: &str) -> bool {
    match url.find(':') {
        Some(colon) => {
            let before = &url[..colon];
            !before.is_empty() && !before.contains('/') && before.len() > 1
        }
        None => false,
    }
}

fn callbacks<'a>(
    config: Option<&'a git2::Config>,
    progress: Option<OnProgress<'a>>,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let mut tried = CredentialType::empty();
    callbacks.credentials(move |url, username, allowed| {
        if allowed.contains(CredentialType::SSH_KEY) && !tried.contains(CredentialType::SSH_KEY) {
            tried |= CredentialType::SSH_KEY;
            return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && !tried.contains(CredentialType::USER_PASS_PLAINTEXT)
        {
            tried |= CredentialType::USER_PASS_PLAINTEXT;
            if let Some(config) = config
                && let Ok(cred) = git2::Cred::credential_helper(config, url, username)
            {
                return Ok(cred);
            }
        }
        if allowed.contains(CredentialType::DEFAULT) && !tried.contains(CredentialType::DEFAULT) {
            tried |= CredentialType::DEFAULT;
            return git2::Cred::default();
        }
        Err(git2::Error::from_str(
            "no credentials were accepted (tried the ssh agent and git's credential helpers)",
        ))
    });
    if let Some(progress) = progress {
        callbacks.transfer_progress(move |stats| {
            progress(Transfer {
                received: stats.received_objects(),
                total: stats.total_objects(),
                bytes: stats.received_bytes(),
            });
            true
        });
    }
    callbacks
}

/// A remote operation failed: say which remote and what to check.
fn remote_error(url: &str, e: git2::Error) -> anyhow::Error {
    if is_local(url) {
        let path = Path::new(url.strip_prefix("file://").unwrap_or(url));
        if !path.exists() {
            return anyhow!(
                "no git repository at {url}: the path does not exist\n\
                 help: check the path (a relative --git-repo is relative to the project root)"
            );
        }
    }
    let hint = match e.class() {
        ErrorClass::Net | ErrorClass::Os => "check the URL and that the host is reachable",
        ErrorClass::Ssh => "check that your ssh agent has a key this host accepts",
        ErrorClass::Http => "check the URL and your credentials (git credential helper)",
        _ if e.code() == ErrorCode::Auth => "check your credentials",
        _ => "check the URL: it must be a git repository",
    };
    anyhow!(
        "cannot fetch from {url}: {}\nhelp: {hint}",
        e.message().trim_end_matches('.')
    )
}

/// Fails unless `path` is relative and stays inside the repository.
pub fn check_repo_path(path: &str) -> Result<()> {
    if !crate::files::is_inside(path) {
        bail!(
            "schema path `{path}` leaves the repository\n\
             help: give a path relative to the repository root, without `..`"
        );
    }
    Ok(())
}
