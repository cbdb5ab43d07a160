//! `realm export --watch`: export the public API, then export it again
//! whenever a source of the project changes (a `.go` or `.ftl` file,
//! `ftl.toml`, `go.mod`, `ftl-project.toml`), as FTL's design regenerates
//! the file on every change. Changes are debounced (an editor's save or a
//! `git checkout` is one batch), and each re-export reports what changed
//! in the public API, breaking or compatible.
//!
//! Filesystem events come from `notify` (inotify, FSEvents, ...) through
//! `notify-debouncer-full`; nothing polls. This module knows nothing of
//! stdout: the caller gets [`WatchEvent`]s and decides what to print, and
//! stops the watch by returning [`ControlFlow::Break`].

use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use notify_debouncer_full::notify::event::ModifyKind;
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::export;
use crate::pins::Context;
use crate::project::Project;
use crate::schema::Realm;
use crate::schema::diff::{Change, diff};
use crate::workspace::Workspace;

/// How long the sources must be quiet before a re-export.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// What happened on one export.
#[derive(Debug)]
pub enum WatchEvent {
    /// The first export, when the watch starts.
    Started {
        /// Every export file.
        paths: Vec<PathBuf>,
        /// Whether a file on disk changed.
        written: bool,
        api: std::sync::Arc<Realm>,
    },
    /// A re-export after sources changed.
    Exported {
        /// Every export file.
        paths: Vec<PathBuf>,
        /// What changed in the public API since the last export (empty
        /// when only the file's bytes changed, e.g. doc comments).
        changes: Vec<Change>,
        /// Whether a file on disk changed.
        written: bool,
        /// The sources that changed, relative to the project root.
        sources: Vec<String>,
    },
    /// The sources do not load or validate; the file was left as it was
    /// and the watch goes on.
    Failed {
        error: anyhow::Error,
        sources: Vec<String>,
    },
}

/// Exports, then watches the project in `dir` and re-exports on every
/// change until `on_event` breaks. `output` overrides `[realm] export`.
pub fn run(
    dir: &Path,
    ctx: &Context,
    output: Option<&Path>,
    debounce: Duration,
    mut on_event: impl FnMut(WatchEvent) -> ControlFlow<()>,
) -> Result<()> {
    let project = Project::discover(dir)?;
    let root = project.root.clone();
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer =
        new_debouncer(debounce, None, tx).context("cannot watch the project's files")?;
    debouncer
        .watch(&root, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", root.display()))?;

    // The first export must succeed: a watch over a broken project would
    // have nothing to compare with.
    let ws = Workspace::load(dir, ctx)?;
    let first = export::prepare(&ws, output)?;
    let written = first.write()?;
    let export_paths = first.paths();
    let mut api = first.api.clone();
    if on_event(WatchEvent::Started {
        paths: first.paths(),
        written,
        api: first.api,
    })
    .is_break()
    {
        return Ok(());
    }

    for batch in rx {
        let sources = match batch {
            // Reading files (ours included) is not a change.
            Ok(events) => relevant(
                &root,
                &export_paths,
                events
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.event.kind,
                            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                        ) && !matches!(e.event.kind, EventKind::Modify(ModifyKind::Metadata(_)))
                    })
                    .flat_map(|e| &e.event.paths),
            ),
            Err(errors) => {
                let error = anyhow::anyhow!(
                    "watching the project failed: {}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                if on_event(WatchEvent::Failed {
                    error,
                    sources: Vec::new(),
                })
                .is_break()
                {
                    return Ok(());
                }
                continue;
            }
        };
        if sources.is_empty() {
            continue;
        }
        let event = match reexport(dir, ctx, output) {
            Ok((new, written)) => {
                let changes = diff(&api, &new.api);
                let paths = new.paths();
                api = new.api;
                WatchEvent::Exported {
                    paths,
                    changes,
                    written,
                    sources,
                }
            }
            Err(error) => WatchEvent::Failed { error, sources },
        };
        if on_event(event).is_break() {
            return Ok(());
        }
    }
    Ok(())
}

fn reexport(dir: &Path, ctx: &Context, output: Option<&Path>) -> Result<(export::Export, bool)> {
    let ws = Workspace::load(dir, ctx)?;
    let export = export::prepare(&ws, output)?;
    let written = export.write()?;
    Ok((export, written))
}

/// The changed paths that are sources: not the export files, not
/// inside hidden directories (`.git`, `.ftl`) and not hidden files (the
/// temporary files of atomic writes, editors' swap files). Relative to
/// the project root, sorted, without duplicates.
fn relevant<'p>(
    root: &Path,
    exports: &[PathBuf],
    paths: impl Iterator<Item = &'p PathBuf>,
) -> Vec<String> {
    let mut out: Vec<String> = paths
        .filter(|p| !exports.contains(p))
        .filter_map(|p| {
            let rel = p.strip_prefix(root).ok()?;
            let hidden = rel.components().any(|c| match c {
                Component::Normal(s) => s.to_string_lossy().starts_with('.'),
                _ => false,
            });
            let wanted = rel.extension().is_some_and(|e| e == "go" || e == "ftl")
                || rel.file_name().is_some_and(|n| {
                    n == "ftl.toml"
                        || n == "go.mod"
                        || n == crate::project::PROJECT_FILE
                        || n == crate::project::SETTINGS_FILE
                })
                // A directory appearing or vanishing (a module, a db/ dir).
                || rel.extension().is_none();
            (!hidden && wanted && !rel.as_os_str().is_empty())
                .then(|| crate::files::relative(p, root))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sources_trigger_an_export() {
        let root = Path::new("/p");
        let exports = [
            PathBuf::from("/p/ftl-external-schema.txtpb"),
            PathBuf::from("/p/ftl-external-schema.json"),
        ];
        let paths: Vec<PathBuf> = [
            "/p/modules/shop/shop.go",
            "/p/modules/shop/shop.go",
            "/p/ftl-external-schema.txtpb",
            "/p/ftl-external-schema.json",
            "/p/.git/index",
            "/p/modules/.shop.go.swp",
            "/p/.ftl-external-schema.txtpb.abc.tmp",
            "/p/modules/bank.ftl",
            "/p/modules/shop/ftl.toml",
            "/p/ftl-project.toml",
            "/p/realm.toml",
            "/p/README.md",
            "/p/modules/shop/db",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(
            relevant(root, &exports, paths.iter()),
            vec![
                "ftl-project.toml",
                "modules/bank.ftl",
                "modules/shop/db",
                "modules/shop/ftl.toml",
                "modules/shop/shop.go",
                "realm.toml",
            ]
        );
    }
}
