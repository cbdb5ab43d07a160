//! `realm export`: write the public API to every export file, or check them.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use realm::export::{self, Contents, Freshness};
use realm::schema::{Decl, Realm, Visibility};
use realm::watch::{self, WatchEvent};
use realm::workspace::Workspace;

use super::{EXIT_CHECK_FAILED, display_path};

/// Export the public API (every `export realm` declaration and what it uses) as FTL publishes a realm
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Every file of `[realm] export` in realm.toml (beside ftl-project.toml) is written \
    (a path or a list of paths; default ftl-external-schema.txtpb), as FTL's \
    xyz.block.ftl.schema.v1.Schema: proto-text for .txtpb, protojson for .json, binary for .binpb. \
    Commit them: other realms pin them. What this realm uses of the realms it pins (the verbs it \
    calls, the types they reach, with file:line) goes to `[realm] usage` (default \
    ftl-realm-usage.json): commit it too, so the realms it calls can check their changes against it.\n\n\
    Examples:\n  \
    realm export                  # write the file\n  \
    realm export --check          # in CI: exit 3 when a file is stale or a pinned caller breaks\n  \
    realm export --watch          # re-export on every change of the sources"
)]
pub struct Args {
    /// Write only this file instead of the project's `[realm] export` files
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,

    /// Write nothing; exit 3 with a diff when a file is missing or stale, or when a change breaks a pinned caller
    #[arg(long, conflicts_with = "watch")]
    check: bool,

    /// With --check and pinned callers: the git revision whose committed export their check compares with (as `realm check-callers --base`) [default: HEAD]
    #[arg(long, value_name = "REV", requires = "check")]
    base: Option<String>,

    /// Keep running: re-export whenever a source file changes (debounced),
    /// printing what changed in the public API
    #[arg(long)]
    watch: bool,

    /// With --check: how to report findings: text, json, github, sarif, junit (see `realm check --help`); other than text, the report is what stdout holds
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = super::ErrorFormat::Text, requires = "check")]
    error_format: super::ErrorFormat,

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
    if args.error_format != super::ErrorFormat::Text {
        let run = args.pinned.with_context(started_in, |ctx| {
            Ok(check_run(
                &dir,
                args.output.as_deref(),
                args.base.as_deref(),
                ctx,
            ))
        })?;
        return super::print_run(&run, args.error_format.get());
    }
    let ws = args
        .pinned
        .with_context(started_in, |ctx| Workspace::load(&dir, ctx))?;
    super::print_warnings(&ws);
    // `--check` checks the callers too, when any are pinned.
    let project = (args.check && args.output.is_none() && !ws.project.callers.is_empty())
        .then(|| ws.project.clone());
    let (export, left_out) = export::prepare_owned(ws, args.output.as_deref())?;
    if args.check {
        drop(left_out);
        let mut failed = false;
        for file in &export.files {
            let path = display_path(&file.path);
            match file.freshness()? {
                Freshness::UpToDate => errln!("{path} is up to date"),
                Freshness::Missing => {
                    failed = true;
                    errln!(
                        "error: {path} does not exist\nhelp: run `realm export` and commit {path}"
                    );
                }
                Freshness::Stale(diff) => {
                    failed = true;
                    out!("{diff}")?;
                    let realm = &export.api.name;
                    let what = match file.contents {
                        Contents::PublicApi => format!("the public API of realm `{realm}`"),
                        Contents::Usage => {
                            format!("what realm `{realm}` uses of the realms it pins")
                        }
                    };
                    errln!(
                        "error: {path} is stale: {what} has changed\n\
                         help: run `realm export` and commit {path}"
                    );
                }
            }
        }
        if let Some(project) = &project {
            let check = args.pinned.with_context(started_in, |ctx| {
                realm::check_callers::check(project, &export, args.base.as_deref(), ctx)
            })?;
            super::check_callers::print_text(&check)?;
            failed |= check.failed();
        }
        return Ok(if failed {
            ExitCode::from(EXIT_CHECK_FAILED)
        } else {
            ExitCode::SUCCESS
        });
    }
    let changed = export.write()?;
    print_result(&export.paths(), changed, &export.api);
    // The process exits next, which frees it all at once: dropping the
    // public API value by value first was 3 % of a large export (`perf`),
    // what it left out 5 % (`callgrind`).
    std::mem::forget(export);
    std::mem::forget(left_out);
    Ok(ExitCode::SUCCESS)
}

/// "Exported realm `x` to a, b (summary)" or "a is up to date (summary)".
fn print_result(paths: &[PathBuf], changed: bool, api: &Realm) {
    let shown = paths
        .iter()
        .map(|p| display_path(p))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = summary(api);
    if changed {
        errln!("Exported realm `{}` to {shown} ({summary})", api.name);
    } else if paths.len() == 1 {
        errln!("{shown} is up to date ({summary})");
    } else {
        errln!("{shown} are up to date ({summary})");
    }
}

/// One watch event on stderr (changes of the API on stdout).
fn print_watch_event(event: WatchEvent) {
    match event {
        WatchEvent::Started {
            paths,
            written,
            api,
        } => {
            print_result(&paths, written, &api);
            errln!("Watching for changes (Ctrl-C to stop)");
        }
        WatchEvent::Exported {
            paths,
            changes,
            written,
            sources,
        } => {
            let path = paths
                .iter()
                .map(|p| display_path(p))
                .collect::<Vec<_>>()
                .join(", ");
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
    // Verbs other realms can call; the verbs they call are published too.
    let verbs = api
        .decls()
        .filter(|(_, d)| matches!(d, Decl::Verb(v) if v.visibility == Visibility::ExportRealm))
        .count();
    let types = api.decls().filter(|(_, d)| d.kind().is_type()).count();
    format!(
        "{}, {}, {}",
        super::plural(api.modules.len(), "module"),
        super::plural(verbs, "verb"),
        super::plural(types, "type")
    )
}

/// `--check` as a run of checks: the schema, the export files, and the
/// callers when any are pinned.
fn check_run(
    dir: &std::path::Path,
    output: Option<&std::path::Path>,
    base: Option<&str>,
    ctx: &realm::pins::Context,
) -> realm::report::Run {
    use realm::report::{CheckResult, Run};
    let mut run = Run::default();
    let ws = match Workspace::load(dir, ctx) {
        Ok(ws) => ws,
        Err(e) => {
            run.checks.push(CheckResult::of_error("schema", &e));
            return run;
        }
    };
    run.checks.push(realm::check::schema_result(&ws));
    let project = ws.project.clone();
    let export = match export::prepare_owned(ws, output) {
        Ok((export, _)) => export,
        Err(e) => {
            run.checks.push(CheckResult::of_error("export", &e));
            return run;
        }
    };
    run.checks.push(
        realm::check::export_result(&export, &project.root)
            .unwrap_or_else(|e| CheckResult::of_error("export", &e)),
    );
    if output.is_none() && !project.callers.is_empty() {
        run.checks.push(
            match realm::check_callers::check(&project, &export, base, ctx) {
                Ok(check) => realm::check::callers_result(&check, &export, &project.root),
                Err(e) => CheckResult::of_error("callers", &e),
            },
        );
    }
    run
}
