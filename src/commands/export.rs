//! `realm export`: write the public API as proto-text, or check it.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use realm::export::{self, Freshness};
use realm::schema::{Decl, Realm};
use realm::watch::{self, WatchEvent};
use realm::workspace::Workspace;

use super::{EXIT_CHECK_FAILED, display_path};

/// Export the public API (every `export realm` declaration and what it uses) as proto-text
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The file is written to `[realm] export` in realm.toml (beside ftl-project.toml) \
    (default ftl-external-schema.txtpb). Commit it: other realms pin it.\n\n\
    Examples:\n  \
    realm export                  # write the file\n  \
    realm export --check          # in CI: exit 3 with a diff when the file is stale\n  \
    realm export --watch          # re-export on every change of the sources"
)]
pub struct Args {
    /// Write here instead of the project's `[realm] export` path
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,

    /// Write nothing; exit 3 with a diff when the file is missing or stale
    #[arg(long, conflicts_with = "watch")]
    check: bool,

    /// Keep running: re-export whenever a source file changes (debounced),
    /// printing what changed in the public API
    #[arg(long)]
    watch: bool,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let dir = super::current_dir()?;
    if args.watch {
        args.pinned.with_context(started_in, |ctx| {
            watch::run(
                &dir,
                ctx,
                args.output.as_deref(),
                watch::DEBOUNCE,
                |event| {
                    print_watch_event(event);
                    ControlFlow::Continue(())
                },
            )
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let ws = args
        .pinned
        .with_context(started_in, |ctx| Workspace::load(&dir, ctx))?;
    super::print_warnings(&ws);
    let export = export::prepare(&ws, args.output.as_deref())?;
    let path = display_path(&export.path);
    if args.check {
        return Ok(match export.freshness()? {
            Freshness::UpToDate => {
                errln!("{path} is up to date");
                ExitCode::SUCCESS
            }
            Freshness::Missing => {
                errln!("error: {path} does not exist\nhelp: run `realm export` and commit {path}");
                ExitCode::from(EXIT_CHECK_FAILED)
            }
            Freshness::Stale(diff) => {
                out!("{diff}")?;
                errln!(
                    "error: {path} is stale: the public API of realm `{}` has changed\n\
                     help: run `realm export` and commit {path}",
                    export.api.name
                );
                ExitCode::from(EXIT_CHECK_FAILED)
            }
        });
    }
    let changed = export.write()?;
    let summary = summary(&export.api);
    if changed {
        errln!("Exported realm `{}` to {path} ({summary})", export.api.name);
    } else {
        errln!("{path} is up to date ({summary})");
    }
    Ok(ExitCode::SUCCESS)
}

/// One watch event on stderr (changes of the API on stdout).
fn print_watch_event(event: WatchEvent) {
    match event {
        WatchEvent::Started { path, written, api } => {
            let path = display_path(&path);
            let summary = summary(&api);
            if written {
                errln!("Exported realm `{}` to {path} ({summary})", api.name);
            } else {
                errln!("{path} is up to date ({summary})");
            }
            errln!("Watching for changes (Ctrl-C to stop)");
        }
        WatchEvent::Exported {
            path,
            changes,
            written,
            sources,
        } => {
            let path = display_path(&path);
            let sources = sources.join(", ");
            match (written, changes.is_empty()) {
                (false, _) => errln!("{sources} changed; the public API did not"),
                (true, true) => {
                    errln!("{sources} changed; re-exported {path} (doc comments or order only)")
                }
                (true, false) => {
                    errln!("{sources} changed; re-exported {path}:");
                    for change in changes {
                        // A watch goes on when stdout fails.
                        let _ = outln!("  {:<10}  {change}", change.severity.to_string());
                    }
                }
            }
        }
        WatchEvent::Failed { error, sources } => {
            if !sources.is_empty() {
                errln!("{} changed; not exported:", sources.join(", "));
            }
            crate::print_error(&error);
        }
    }
}

/// "2 modules, 3 verbs, 5 types"
fn summary(api: &Realm) -> String {
    let verbs = api
        .decls()
        .filter(|(_, d)| matches!(d, Decl::Verb(_)))
        .count();
    let types = api.decls().filter(|(_, d)| d.kind().is_type()).count();
    format!(
        "{}, {}, {}",
        super::plural(api.modules.len(), "module"),
        super::plural(verbs, "verb"),
        super::plural(types, "type")
    )
}
