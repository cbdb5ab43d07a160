//! `realm check-callers` (and `realm export --check` when callers are
//! pinned): which breaking changes of this realm's public API break a
//! realm that calls it. The public API at a base revision (the export file
//! committed at `HEAD` unless told) is diffed against the workspace's
//! export now; each caller pin's usage file is read at its pinned commit
//! (`pins::caller_usage`), and `schema::callers::classify` splits the
//! breaking changes into those a caller uses and safe ones.
//!
//! Both public APIs are read from the same encoding (the first file of
//! `[realm] export`), the base through `pins` (git), the current one from
//! the export's bytes: what a caller pinned is what the file says.

use anyhow::{Context as _, Result, anyhow};

use crate::export::{Contents, Export};
use crate::pins::{self, CallerUsage, Context, Pin, UsageState};
use crate::project::Project;
use crate::schema::Realm;
use crate::schema::callers::{Caller, Classified, classify};
use crate::schema::diff::{Change, diff};
use crate::schema::txtpb;

/// The revision the base is read at unless told.
pub const DEFAULT_BASE: &str = "HEAD";

/// The base of the comparison: the export file committed at a revision.
#[derive(Clone, Debug)]
pub struct Base {
    /// As given (`HEAD`, `origin/main`, ...).
    pub rev: String,
    /// The commit it named.
    pub commit: String,
    /// The export file's path in the repository.
    pub path: String,
    /// Whether the commit has the file (a realm not yet exported there has
    /// no API to break).
    pub found: bool,
}

/// One caller and what its pinned commit says it uses.
#[derive(Clone, Debug)]
pub struct CheckedCaller {
    pub pin: Pin,
    pub usage: CallerUsage,
}

/// What the check found.
#[derive(Clone, Debug)]
pub struct CallerCheck {
    /// This realm's name (how callers' usage files name it).
    pub realm: String,
    pub base: Base,
    pub callers: Vec<CheckedCaller>,
    /// Every change from the base to now, compatible ones too.
    pub changes: Vec<Change>,
    /// The breaking changes, used by a caller or safe.
    pub classified: Classified,
}

impl CallerCheck {
    /// A breaking change breaks a caller: the check fails.
    pub fn failed(&self) -> bool {
        self.classified.breaks_a_caller()
    }

    /// Callers whose usage is unknown (no usage file at the pinned commit).
    pub fn unchecked(&self) -> impl Iterator<Item = &CheckedCaller> {
        self.callers
            .iter()
            .filter(|c| matches!(c.usage.state, UsageState::Missing))
    }
}

/// Checks `export` (the workspace's export now) against the base at `rev`
/// ([`DEFAULT_BASE`] when `None`) and every caller pin of `project`.
/// Callers' commits are fetched when the cache lacks them (unless
/// offline). Errors: no git repository, a revision that names no commit,
/// a base or usage file that does not read.
pub fn check(
    project: &Project,
    export: &Export,
    rev: Option<&str>,
    ctx: &Context,
) -> Result<CallerCheck> {
    let rev = rev.unwrap_or(DEFAULT_BASE);
    let file = export
        .files
        .iter()
        .find(|f| f.contents == Contents::PublicApi)
        .ok_or_else(|| anyhow!("internal error: an export without a public API file"))?;
    let committed = pins::committed_export(project, rev, &file.path)?;
    let now = decode(
        &format!("{} (now)", committed.path),
        &committed.path,
        &file.bytes(),
    )?;
    let base = committed
        .bytes
        .as_deref()
        .map(|bytes| {
            decode(
                &format!("{}@{rev}", committed.path),
                &committed.path,
                bytes,
            )
        })
        .transpose()
        .with_context(|| {
            format!(
                "the public API committed at {rev} does not read; pass --base with a revision whose `{}` does",
                committed.path
            )
        })?;
    let mut callers = Vec::new();
    for pin in &project.callers {
        let usage = pins::caller_usage(project, pin, ctx)?;
        callers.push(CheckedCaller {
            pin: pin.clone(),
            usage,
        });
    }
    let changes = base.as_ref().map_or_else(Vec::new, |b| diff(b, &now));
    let using: Vec<Caller> = callers
        .iter()
        .filter_map(|c| match &c.usage.state {
            UsageState::Uses(usage) => Some(Caller {
                name: &c.pin.name,
                usage,
            }),
            _ => None,
        })
        .collect();
    let classified = classify(&changes, &using);
    Ok(CallerCheck {
        realm: project.name.clone(),
        base: Base {
            rev: rev.to_string(),
            commit: committed.commit,
            path: committed.path,
            found: base.is_some(),
        },
        callers,
        changes,
        classified,
    })
}

/// A public API file's realm, builtin modules left out (as pins read it).
fn decode(label: &str, path: &str, bytes: &[u8]) -> Result<Realm> {
    let decoded = txtpb::decode_published(label, path, bytes)
        .map_err(|d| anyhow!("{label} is not a public API: {}", d.message))?;
    let mut realms = decoded.schema.realms;
    if realms.len() != 1 {
        return Err(anyhow!(
            "{label} holds {} realms; a public API is exactly one",
            realms.len()
        ));
    }
    let mut realm = realms.remove(0);
    realm.modules.retain(|m| !m.builtin);
    Ok(realm)
}
