//! Pinning external realms to git commits: `add`, `update`, `list`,
//! `remove`, and reading a pinned realm's public API; the realms that call
//! this one pinned the same way (`callers.rs`).
//!
//! A realm's repository has `ftl-project.toml` at its root; its `name` is the
//! realm's name. The schema file holding the public API is the pin's
//! `git-path`, else the repository's `[realm] export` (in its `realm.toml`),
//! else FTL's `ftl-external-schema.json`, else `ftl-external-schema.txtpb`. Reading a pin means:
//! the commit from the cache (fetched when missing, unless offline), that
//! file at that commit — a regular file inside the repository, at most
//! [`MAX_SCHEMA_SIZE`] — decoded and validated as exactly one realm of
//! `export realm` declarations that stands on its own.
//!
//! Network and git go through `crate::git`; the project file through
//! `crate::project`. Nothing here prints. `read.rs` reads a public API at
//! a commit; `cache.rs` makes a commit available in the cache and repairs
//! the cache (a damaged entry fetched again, the entry of a failed add
//! removed); `keys.rs` reads a pinned realm's public keys at its commit;
//! `list.rs` describes every pin from the cache.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::git::{self, CachedRepo, Oid};
use crate::project::{Migrated, PinTable, Project, set_pin};
use crate::schema::diagnostic::{Diagnostic, Report};
use crate::schema::diff::{Change, Severity, diff};
use crate::schema::{Decl, Pos, Realm, Type};
use crate::sources;

mod cache;
mod callers;
mod keys;
mod list;
mod read;

use cache::{discard_new_entry_on_error, ensure_commit, with_repo};
use read::read_api;

pub use crate::git::{Cache, Transfer, default_cache_dir};
pub use crate::project::Pin;
pub use callers::{
    AddedCaller, CallerUsage, Committed, UsageState, add_caller, caller_usage, committed_export,
};
pub use keys::{KeyChange, KeyChangeKind, key_changes, pinned_keys, pinned_signer};
pub use list::{Listed, ListedStatus, Role, list};

/// The largest public-API file a pin may point at (32 MiB; the proto-text
/// of a 10,000-verb realm is 13 MiB).
pub const MAX_SCHEMA_SIZE: usize = 32 * 1024 * 1024;

/// How many repositories `update` fetches at once.
const CONCURRENT_FETCHES: usize = 8;

/// Told about fetch progress: the realm being fetched and how far it is.
pub type OnFetch<'a> = &'a (dyn Fn(&str, Transfer) + Sync);

/// What pin operations need from the environment.
pub struct Context<'a> {
    pub cache: Cache,
    /// Never touch the network: use what the cache has, or fail.
    pub offline: bool,
    /// Told about fetch progress, by realm name.
    pub progress: Option<OnFetch<'a>>,
    /// Validation warnings are errors (`--deny-warnings`): of the local
    /// schema, and of a public API being pinned (`add`, `update`).
    pub deny_warnings: bool,
}

impl Context<'_> {
    /// Runs `f` with a fetch-progress callback for `realm`, if progress is
    /// reported.
    fn with_progress<T>(&self, realm: &str, f: impl FnOnce(Option<git::OnProgress>) -> T) -> T {
        match self.progress {
            Some(progress) => {
                let callback = |t: Transfer| progress(realm, t);
                f(Some(&callback))
            }
            None => f(None),
        }
    }
}

/// The URL git uses for a pin's `git-repo`: relative paths are relative to
/// the project root.
pub fn resolve_url(root: &Path, repo: &str) -> String {
    if git::is_local(repo) && !repo.starts_with("file://") && Path::new(repo).is_relative() {
        root.join(repo).display().to_string()
    } else {
        repo.to_string()
    }
}

/// A public API read from a repository at a commit.
#[derive(Clone, Debug)]
pub struct PinnedApi {
    /// The realm's own name (from its `ftl-project.toml`, or the schema).
    pub name: String,
    /// The realm, marked external.
    pub realm: Realm,
    /// The schema file's path in the repository.
    pub path: String,
    /// The file is realm's older `realm.schema.v1` proto-text: read, but
    /// the realm should run `realm export` again (FTL cannot read it).
    pub legacy: bool,
}

impl PinnedApi {
    pub fn verbs(&self) -> usize {
        count_verbs(&self.realm)
    }
}

/// The verbs other realms can call (a published realm also holds the
/// verbs they call, FTL's closure).
fn count_verbs(realm: &Realm) -> usize {
    realm
        .decls()
        .filter(|(_, d)| matches!(d, Decl::Verb(v) if v.visibility == crate::schema::Visibility::ExportRealm))
        .count()
}

/// `bank@a1b2c3d:path`, how files of a pinned commit are named in errors.
fn label(name: &str, commit: Oid, path: &str) -> String {
    format!("{name}@{}:{path}", short(commit))
}

fn short(commit: Oid) -> String {
    crate::project::short_commit(&commit.to_string()).to_string()
}

/// Reads a pinned realm's public API from the cache, fetching the commit
/// when it is missing (unless offline). The realm is named as the pin is;
/// its own name (what its ingress answers to) is returned beside it.
pub fn load_pinned(project: &Project, pin: &Pin, ctx: &Context) -> Result<(Realm, String)> {
    let url = resolve_url(&project.root, &pin.repo);
    let commit =
        Oid::from_str(&pin.commit).with_context(|| format!("invalid commit {}", pin.commit))?;
    let api = with_repo(&ctx.cache, &url, |repo| {
        ensure_commit(repo, &pin.name, commit, pin.branch.as_deref(), ctx)?;
        // A pinned realm's warnings were accepted when it was pinned.
        read_api(repo, &pin.name, commit, pin.path.as_deref(), false)
    })
    .with_context(|| format!("cannot load pinned realm `{}`", pin.name))?;
    let own_name = api.name;
    let mut realm = api.realm;
    realm.name = pin.name.clone();
    Ok((realm, own_name))
}

// ---- add -------------------------------------------------------------------

/// What `realm add` is asked to pin.
#[derive(Clone, Debug, Default)]
pub struct AddRequest {
    pub repo: String,
    pub branch: Option<String>,
    pub path: Option<String>,
    /// The name to pin under, when not the realm's own name.
    pub name: Option<String>,
}

/// A pin that `add` recorded.
#[derive(Clone, Debug)]
pub struct Added {
    pub pin: Pin,
    pub api: PinnedApi,
}

/// Fetches the realm, reads and checks its public API at the branch's head
/// and records the pin in `ftl-project.toml`: in FTL's
/// `[external-realms.<name>]` with all four keys (`git-path` the schema file
/// read), or, in a file that uses the older `[realms.egress]`, there.
/// Nothing is written on error, and a cache entry this call created is
/// removed again.
pub fn add(root: &Path, request: &AddRequest, ctx: &Context) -> Result<Added> {
    if let Some(path) = &request.path {
        git::check_repo_path(path)?;
    }
    let project = Project::load(root)?;
    if let Some(name) = &request.name {
        check_new_name(&project, name)?;
    }
    git::check_scheme(&request.repo)?;
    let url = resolve_url(&project.root, &request.repo);
    discard_new_entry_on_error(&ctx.cache, &url, || add_to(root, &url, request, ctx))
}

fn add_to(root: &Path, url: &str, request: &AddRequest, ctx: &Context) -> Result<Added> {
    let hint_name = request
        .name
        .clone()
        .unwrap_or_else(|| repo_name(&request.repo));
    let (branch, commit, api) = with_repo(&ctx.cache, url, |repo| {
        let (branch, commit) = resolve_branch(repo, &hint_name, request.branch.as_deref(), ctx)?;
        let api = read_api(
            repo,
            &hint_name,
            commit,
            request.path.as_deref(),
            ctx.deny_warnings,
        )?;
        Ok((branch, commit, api))
    })?;
    let name = request.name.clone().unwrap_or_else(|| api.name.clone());
    let pin = Project::edit(root, |project, doc| {
        // Checked again under the lock: another run may have pinned it.
        check_new_name(project, &name)?;
        let table = project.new_pin_table();
        let pin = Pin {
            name: name.clone(),
            repo: request.repo.clone(),
            branch: Some(branch),
            commit: commit.to_string(),
            path: match table {
                // FTL reads `git-path` and has no default of its own here.
                PinTable::ExternalRealms => Some(api.path.clone()),
                PinTable::Egress | PinTable::CallerRealms => request.path.clone(),
            },
            table,
            pos: None,
        };
        set_pin(doc, &pin)?;
        Ok(pin)
    })?;
    Ok(Added { pin, api })
}

fn check_new_name(project: &Project, name: &str) -> Result<()> {
    if name == project.name {
        bail!(
            "realm `{name}` is this project's own realm\n\
             help: pin it under another name with --name"
        );
    }
    if let Some(pin) = project.pin(name) {
        bail!(
            "realm `{name}` is already pinned to {} ({} of {})\n\
             help: run `realm update {name}` to move the pin, or pin this one under another name with --name",
            pin.short_commit(),
            pin.branch.as_deref().unwrap_or("default branch"),
            pin.repo
        );
    }
    if !crate::schema::is_ident(name) {
        bail!("`{name}` is not a valid realm name: use letters, digits and `_`");
    }
    crate::generate::check_pin_name(
        name,
        project
            .pins
            .iter()
            .map(|p| p.name.as_str())
            .chain([project.name.as_str()]),
    )?;
    Ok(())
}

/// The last path segment of a URL, for messages before the realm's name is
/// known.
fn repo_name(url: &str) -> String {
    url.trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(url)
        .to_string()
}

/// The branch to follow (given, or the remote's HEAD branch) and its head,
/// fetched into the cache.
fn resolve_branch(
    repo: &CachedRepo,
    name: &str,
    branch: Option<&str>,
    ctx: &Context,
) -> Result<(String, Oid)> {
    if ctx.offline {
        let branch = branch.ok_or_else(|| {
            anyhow!("--offline needs --git-branch: the remote's default branch cannot be looked up offline")
        })?;
        let head = repo.cached_branch(branch).ok_or_else(|| {
            anyhow!(
                "branch `{branch}` of {} is not in the cache and --offline forbids fetching it",
                repo.url()
            )
        })?;
        return Ok((branch.to_string(), head));
    }
    let heads = repo.remote_heads()?;
    let branch = match branch {
        Some(b) => b.to_string(),
        None => heads.default_branch.clone().ok_or_else(|| {
            anyhow!(
                "{} has no default branch (HEAD)\nhelp: name the branch with --git-branch",
                repo.url()
            )
        })?,
    };
    if heads.branch(&branch).is_none() {
        let known = heads.names();
        bail!(
            "branch `{branch}` does not exist in {}\nhelp: {}",
            repo.url(),
            if known.is_empty() {
                "the repository has no branches; push a commit first".to_string()
            } else {
                format!("its branches are: {}", known.join(", "))
            }
        );
    }
    let head = ctx.with_progress(name, |progress| repo.fetch_branch(&branch, progress))?;
    Ok((branch, head))
}

// ---- update ----------------------------------------------------------------

/// Where one pin stands after looking at its branch.
#[derive(Clone, Debug)]
pub struct RealmUpdate {
    pub pin: Pin,
    /// The branch followed.
    pub branch: String,
    /// The branch's head (equal to the pin when up to date).
    pub head: String,
    /// What changed in the public API from the pin to the head; `None` when
    /// the pinned commit could not be read (gone after a force-push).
    pub changes: Option<Vec<Change>>,
    /// The public API at the head, when it moved (pins of realms called).
    pub api: Option<PinnedApi>,
    /// A caller pin's public keys (then retired ones) at the head, when it
    /// moved.
    pub keys: Option<Vec<crate::project::RealmKey>>,
    /// How a caller pin's trusted keys change when it moves: what moving
    /// it starts or stops trusting (empty when its keys stay).
    pub key_changes: Vec<KeyChange>,
}

impl RealmUpdate {
    pub fn moved(&self) -> bool {
        self.head != self.pin.commit
    }

    pub fn breaking(&self) -> usize {
        self.changes
            .iter()
            .flatten()
            .filter(|c| c.severity == Severity::Breaking)
            .count()
    }
}

/// Looks at the branch of every selected pin (all when `names` is empty):
/// reads the public API at each moved head and diffs it against the pinned
/// one. Fetches concurrently; writes nothing. Every failure is reported.
/// Caller pins are selected too (see [`plan_update_pins`]).
pub fn plan_update(project: &Project, names: &[String], ctx: &Context) -> Result<Vec<RealmUpdate>> {
    plan_update_pins(project, names, false, ctx)
}

/// [`plan_update`] of the pins of both tables, or of the caller pins only
/// (`only_callers`). A name selects every pin of that name: a realm pinned
/// both ways moves both ways. A moved caller pin has its keys read at the
/// head (no public API: a caller need not publish one).
pub fn plan_update_pins(
    project: &Project,
    names: &[String],
    only_callers: bool,
    ctx: &Context,
) -> Result<Vec<RealmUpdate>> {
    let candidates: Vec<&Pin> = if only_callers {
        project.callers.iter().collect()
    } else {
        project.pins.iter().chain(&project.callers).collect()
    };
    for name in names {
        if !candidates.iter().any(|p| &p.name == name) {
            let mut known: Vec<&str> = candidates.iter().map(|p| p.name.as_str()).collect();
            known.sort_unstable();
            known.dedup();
            let what = if only_callers {
                "pinned as a caller"
            } else {
                "pinned"
            };
            bail!(
                "realm `{name}` is not {what}\nhelp: {}",
                if known.is_empty() && only_callers {
                    "this project pins no callers; add one with `realm add --caller --git-repo <url>`"
                        .to_string()
                } else if known.is_empty() {
                    "this project pins no realms; add one with `realm add --git-repo <url>`"
                        .to_string()
                } else if only_callers {
                    format!("the callers pinned are: {}", known.join(", "))
                } else {
                    format!("the pinned realms are: {}", known.join(", "))
                }
            );
        }
    }
    let pins: Vec<&Pin> = candidates
        .into_iter()
        .filter(|p| names.is_empty() || names.contains(&p.name))
        .collect();
    let results: Vec<Mutex<Option<Result<RealmUpdate>>>> =
        pins.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..CONCURRENT_FETCHES.min(pins.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(pin) = pins.get(i) else { break };
                    let result = update_one(project, pin, ctx);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let mut updates = Vec::new();
    let mut failures = Vec::new();
    for (pin, slot) in pins.iter().zip(results) {
        match slot.into_inner().ok().flatten() {
            Some(Ok(update)) => updates.push(update),
            Some(Err(e)) => failures.push(format!("realm `{}`: {e:#}", pin.name)),
            None => failures.push(format!("realm `{}`: the update did not run", pin.name)),
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} realms could not be updated; nothing was changed:\n  {}",
            failures.len(),
            pins.len(),
            failures.join("\n  ")
        );
    }
    Ok(updates)
}

fn update_one(project: &Project, pin: &Pin, ctx: &Context) -> Result<RealmUpdate> {
    let url = resolve_url(&project.root, &pin.repo);
    let pinned = Oid::from_str(&pin.commit)?;
    with_repo(&ctx.cache, &url, |repo| {
        let (branch, head) = if ctx.offline {
            let branch = pin
                .branch
                .clone()
                .ok_or_else(|| anyhow!("--offline needs `git-branch` in the pin"))?;
            let head = repo.cached_branch(&branch).unwrap_or(pinned);
            (branch, head)
        } else {
            let heads = repo.remote_heads()?;
            let branch = match &pin.branch {
                Some(b) => b.clone(),
                None => heads.default_branch.clone().ok_or_else(|| {
                    anyhow!(
                        "{} has no default branch; set `git-branch` in the pin",
                        repo.url()
                    )
                })?,
            };
            let Some(head) = heads.branch(&branch) else {
                bail!(
                    "branch `{branch}` no longer exists in {}\nhelp: its branches are: {}; \
                     set `git-branch` of the pin, or `realm remove {}`",
                    repo.url(),
                    heads.names().join(", "),
                    pin.name
                );
            };
            (branch, head)
        };
        if head == pinned {
            return Ok(RealmUpdate {
                pin: pin.clone(),
                branch,
                head: head.to_string(),
                changes: Some(Vec::new()),
                api: None,
                keys: None,
                key_changes: Vec::new(),
            });
        }
        if !repo.has_commit(head) {
            ctx.with_progress(&pin.name, |progress| repo.fetch_branch(&branch, progress))?;
        }
        if pin.table.is_caller() {
            let keys = read::read_remote(repo, &pin.name, head)?
                .map_or_else(Vec::new, |remote| remote.keys);
            // What the pin trusts now, to say what moving it changes (none
            // known when the pinned commit is gone: then every key is new).
            let old =
                if repo.has_commit(pinned) || (!ctx.offline && repo.fetch_commit(pinned, None)) {
                    read::read_remote(repo, &pin.name, pinned)?.map_or_else(Vec::new, |r| r.keys)
                } else {
                    Vec::new()
                };
            return Ok(RealmUpdate {
                pin: pin.clone(),
                branch,
                head: head.to_string(),
                changes: Some(Vec::new()),
                api: None,
                key_changes: key_changes(&old, &keys),
                keys: Some(keys),
            });
        }
        let new = read_api(
            repo,
            &pin.name,
            head,
            pin.path.as_deref(),
            ctx.deny_warnings,
        )?;
        // The pinned commit may be gone after a force-push; then there is
        // nothing to diff against.
        let old = if repo.has_commit(pinned) || (!ctx.offline && repo.fetch_commit(pinned, None)) {
            Some(read_api(
                repo,
                &pin.name,
                pinned,
                pin.path.as_deref(),
                false,
            )?)
        } else {
            None
        };
        Ok(RealmUpdate {
            pin: pin.clone(),
            branch,
            head: head.to_string(),
            changes: old.map(|old| diff(&old.realm, &new.realm)),
            api: Some(new),
            keys: None,
            key_changes: Vec::new(),
        })
    })
}

/// Moves every moved pin to its head, in one write of each file that
/// changes (`ftl-project.toml` for pins of realms called, `realm.toml` for
/// caller pins), or none. Fails, writing nothing, when a pin changed since
/// it was read.
pub fn apply_update(root: &Path, updates: &[RealmUpdate]) -> Result<usize> {
    let moved: Vec<&RealmUpdate> = updates.iter().filter(|u| u.moved()).collect();
    if moved.is_empty() {
        return Ok(0);
    }
    Project::edit_pins(root, |project, doc, settings| {
        for update in &moved {
            let caller = update.pin.table.is_caller();
            let current = if caller {
                project.caller(&update.pin.name)
            } else {
                project.pin(&update.pin.name)
            };
            if current.map(|p| &p.commit) != Some(&update.pin.commit) {
                bail!(
                    "the pin of realm `{}` changed in {} while updating; run `realm update` again",
                    update.pin.name,
                    if caller {
                        crate::project::SETTINGS_FILE
                    } else {
                        crate::project::PROJECT_FILE
                    }
                );
            }
            let mut pin = update.pin.clone();
            pin.commit = update.head.clone();
            pin.branch = Some(update.branch.clone());
            set_pin(if caller { &mut *settings } else { &mut *doc }, &pin)?;
        }
        Ok(moved.len())
    })
}

// ---- migrate -----------------------------------------------------------------

/// `realm migrate`: moves what the older layout keeps in `ftl-project.toml`
/// (see [`crate::project::migrate`]). Pins without `git-path` get the
/// schema file they are read from at their commit (fetched when missing,
/// unless offline), since FTL reads that key.
pub fn migrate(root: &Path, ctx: &Context) -> Result<Migrated> {
    let project = Project::load(root)?;
    let mut paths = Vec::new();
    for pin in project.pins.iter().filter(|p| p.path.is_none()) {
        let url = resolve_url(&project.root, &pin.repo);
        let commit =
            Oid::from_str(&pin.commit).with_context(|| format!("invalid commit {}", pin.commit))?;
        let api = with_repo(&ctx.cache, &url, |repo| {
            ensure_commit(repo, &pin.name, commit, pin.branch.as_deref(), ctx)?;
            read_api(repo, &pin.name, commit, None, false)
        })
        .with_context(|| {
            format!(
                "cannot read pinned realm `{}` to find the `git-path` FTL needs; nothing was changed",
                pin.name
            )
        })?;
        paths.push((pin.name.clone(), api.path));
    }
    crate::project::migrate(root, &paths)
}

// ---- remove ----------------------------------------------------------------

/// A reference from the internal realm to a realm being removed.
#[derive(Clone, Debug)]
pub struct Reference {
    pub pos: Option<Pos>,
    /// The reference as written, e.g. `balance.withdraw@bank`.
    pub text: String,
}

/// Every reference of the project's own schema files to `@realm`.
pub fn references_to(project: &Project, realm: &str) -> Result<Vec<Reference>> {
    let local = sources::load(project)?;
    let mut out = Vec::new();
    let Some(internal) = local.schema.internal_realm() else {
        return Ok(out);
    };
    let mut visit = |r: &crate::schema::Ref| {
        if r.realm.as_deref() == Some(realm) {
            out.push(Reference {
                pos: r.pos.clone(),
                text: r.to_string(),
            });
        }
    };
    for module in &internal.modules {
        for decl in &module.decls {
            decl.for_each_type(&mut |t| {
                if let Type::Ref(r) = t {
                    visit(r);
                }
            });
            decl.for_each_metadata_ref(&mut visit);
        }
    }
    out.sort_by(|a, b| a.pos.cmp(&b.pos));
    Ok(out)
}

/// Drops the pin of `name` (of a realm called; else, when there is none,
/// the caller pin of that name). Unless `force`, refuses while the
/// project's own schema refers to `@name`, listing every reference.
pub fn remove(root: &Path, name: &str, force: bool) -> Result<Pin> {
    let project = Project::load(root)?;
    if project.pin(name).is_none() && project.caller(name).is_some() {
        return remove_caller(root, name);
    }
    let Some(pin) = project.pin(name).cloned() else {
        let known: Vec<&str> = project.pins.iter().map(|p| p.name.as_str()).collect();
        bail!(
            "realm `{name}` is not pinned{}",
            if known.is_empty() {
                String::new()
            } else {
                format!("\nhelp: the pinned realms are: {}", known.join(", "))
            }
        );
    };
    if !force {
        let references = references_to(&project, name)?;
        if !references.is_empty() {
            let diagnostics = references
                .iter()
                .map(|r| {
                    Diagnostic::new(
                        format!("`{}` refers to realm `{name}`", r.text),
                        r.pos.clone(),
                    )
                    .with_len(r.text.chars().count())
                })
                .collect();
            let local = sources::load(&project)?;
            return Err(
                anyhow::Error::from(Report::new(diagnostics, local.sources)).context(format!(
                    "realm `{name}` is still used: {} reference{} (listed below)\n\
                 help: remove the references first, or pass --force to drop the pin anyway",
                    references.len(),
                    if references.len() == 1 { "" } else { "s" }
                )),
            );
        }
    }
    Project::edit(root, |_, doc| {
        if !crate::project::remove_pin(doc, name) {
            bail!("realm `{name}` is not pinned (it was removed by another run)");
        }
        Ok(())
    })?;
    Ok(pin)
}

/// Drops the caller pin of `name` (`[caller-realms.<name>]` of
/// `realm.toml`). Its calls are no longer accepted once the ingress reads
/// the file again; nothing in this realm's schema refers to a caller.
pub fn remove_caller(root: &Path, name: &str) -> Result<Pin> {
    let project = Project::load(root)?;
    let Some(pin) = project.caller(name).cloned() else {
        let known: Vec<&str> = project.callers.iter().map(|p| p.name.as_str()).collect();
        bail!(
            "realm `{name}` is not pinned as a caller\nhelp: {}",
            if known.is_empty() {
                "this project pins no callers (`[caller-realms]` of realm.toml)".to_string()
            } else {
                format!("the callers pinned are: {}", known.join(", "))
            }
        );
    };
    Project::edit_settings(root, |_, doc| {
        if !crate::project::remove_caller_pin(doc, name) {
            bail!("caller `{name}` is not pinned (it was removed by another run)");
        }
        Ok(())
    })?;
    Ok(pin)
}
