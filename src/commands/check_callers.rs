//! `realm check-callers`: the breaking changes of this realm's public API
//! that a pinned caller uses (exit 3), and those nobody uses (safe).

use std::process::ExitCode;

use anyhow::Result;
use realm::check_callers::{self, CallerCheck};
use realm::pins::UsageState;
use realm::schema::diff::{Change, Member};
use realm::workspace::Workspace;
use serde_json::json;

use super::{DataFormat, EXIT_CHECK_FAILED};

/// Check this realm's breaking changes against what each pinned caller uses: exit 3 when one breaks a caller
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The public API now (the workspace's export) is compared with the export \
    file committed at --base (default HEAD: what you have not committed yet). Each caller pin \
    ([caller-realms] of realm.toml, `realm add --caller`) is read at its pinned commit: its \
    usage file (`realm export` writes it in that repository) says which declarations, fields \
    and variants of this realm it uses, and where. A breaking change to something a caller \
    uses fails (exit 3), naming the caller, the declaration and the caller's file:line:col; \
    breaking changes nobody uses are listed as safe (exit 0). A caller whose pinned commit has \
    no usage file is not checked (a warning). `realm export --check` runs the same check when \
    callers are pinned.\n\n\
    Examples:\n  \
    realm check-callers                        # before committing: what would break\n  \
    realm check-callers --base origin/main     # in CI, on a branch: against the main branch\n  \
    realm check-callers --format json"
)]
pub struct Args {
    /// The git revision whose committed export is the base [default: HEAD]
    #[arg(long, value_name = "REV")]
    base: Option<String>,

    /// How to print: text or json
    #[arg(long, value_enum, default_value_t = DataFormat::Text)]
    format: DataFormat,

    #[command(flatten)]
    error_format: super::ErrorFormatArg,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let dir = super::current_dir()?;
    let project = realm::project::Project::discover(&dir)?;
    if args.error_format.is_report() {
        let format = args.error_format.get();
        if project.callers.is_empty() {
            return super::print_check(
                realm::report::CheckResult::skipped("callers", "no callers are pinned"),
                format,
            );
        }
        let result = args.pinned.with_context(started_in, |ctx| {
            let ws = Workspace::load(&dir, ctx)?;
            let project = ws.project.clone();
            let export = realm::export::prepare_owned(ws, None)?.0;
            let check = check_callers::check(&project, &export, args.base.as_deref(), ctx)?;
            Ok(realm::check::callers_result(&check, &export, &project.root))
        });
        let check = result.unwrap_or_else(|e| realm::report::CheckResult::of_error("callers", &e));
        return super::print_check(check, format);
    }
    if project.callers.is_empty() {
        super::print_project_warnings(&project);
        match args.format {
            DataFormat::Json => outln!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "realm": project.name,
                    "callers": [],
                    "breaking": [],
                    "safe": [],
                    "ok": true,
                }))?
            )?,
            DataFormat::Text => errln!(
                "No callers are pinned: nothing to check.\n\
                 help: pin a realm that calls this one with `realm add --caller --git-repo <url>`"
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let check = args.pinned.with_context(started_in, |ctx| {
        let ws = Workspace::load(&dir, ctx)?;
        super::print_warnings(&ws);
        let project = ws.project.clone();
        let export = realm::export::prepare_owned(ws, None)?.0;
        check_callers::check(&project, &export, args.base.as_deref(), ctx)
    })?;
    match args.format {
        DataFormat::Text => print_text(&check)?,
        DataFormat::Json => outln!("{}", serde_json::to_string_pretty(&to_json(&check))?)?,
    }
    Ok(if check.failed() {
        ExitCode::from(EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The check as text: what each caller uses on stderr, the breaking
/// changes on stdout, the verdict on stderr.
pub(super) fn print_text(check: &CallerCheck) -> Result<()> {
    let realm = &check.realm;
    let base = &check.base;
    let short = realm::project::short_commit(&base.commit);
    if !base.found {
        errln!(
            "note: {} ({short}) has no `{}`: no public API was committed there, so no change can break a caller",
            base.rev,
            base.path
        );
    }
    for c in &check.callers {
        let at = realm::project::short_commit(&c.usage.commit);
        let name = &c.pin.name;
        let path = &c.usage.path;
        match &c.usage.state {
            UsageState::Uses(u) => errln!(
                "caller `{name}` at {at} uses {} of `{realm}` ({path})",
                super::plural(u.declarations.len(), "declaration")
            ),
            UsageState::NotMentioned => errln!(
                "caller `{name}` at {at} uses nothing of `{realm}`: its usage file {path} does not mention realm `{realm}`"
            ),
            UsageState::Missing | UsageState::Unreadable(_) => errln!(
                "warning: caller `{name}` at {at} has no usage file `{path}`: what it uses of `{realm}` is unknown, so it was not checked\n\
                 help: in its repository, run `realm export` and commit {path}, then `realm update --caller {name}`"
            ),
        }
    }
    for used in &check.classified.used {
        outln!("breaking  {used}")?;
    }
    for safe in &check.classified.safe {
        outln!("safe      {safe} — no caller uses it")?;
    }
    let breaking = check.classified.used.len() + check.classified.safe.len();
    let compatible = check.changes.len() - breaking;
    let since = format!("since {} ({short})", base.rev);
    // Callers whose usage is unknown were not checked: not counted as such.
    let unchecked = check.unchecked().count();
    let checked = format!(
        "{} checked{}",
        super::plural(check.callers.len() - unchecked, "caller"),
        if unchecked == 0 {
            String::new()
        } else {
            format!(" ({unchecked} not checked)")
        }
    );
    if check.failed() {
        let mut names: Vec<&str> = check
            .classified
            .used
            .iter()
            .flat_map(|u| u.callers.iter().map(|c| c.caller.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        errln!(
            "error: {} of realm `{realm}` {since} {} {}: {}\n\
             help: keep what callers use (add the new beside the old; remove the old once no caller's pinned commit uses it), \
             or change the callers first and move their pins with `realm update --caller`",
            super::plural(check.classified.used.len(), "breaking change"),
            if check.classified.used.len() == 1 {
                "breaks"
            } else {
                "break"
            },
            if names.len() == 1 {
                "a caller"
            } else {
                "callers"
            },
            names.join(", ")
        );
    } else if breaking > 0 {
        errln!(
            "{} of realm `{realm}` {since} {} used by no caller: safe; {checked}, {}",
            super::plural(breaking, "breaking change"),
            if breaking == 1 { "is" } else { "are" },
            super::plural(compatible, "compatible change")
        );
    } else {
        errln!(
            "No breaking change to realm `{realm}` {since}: {checked}, {}",
            super::plural(compatible, "compatible change")
        );
    }
    Ok(())
}

fn member(change: &Change) -> serde_json::Value {
    match &change.member {
        None => serde_json::Value::Null,
        Some(Member::Field(f) | Member::NewField(f) | Member::Required(f)) => {
            json!({ "field": f })
        }
        Some(Member::Variant(v)) => json!({ "variant": v }),
    }
}

fn to_json(check: &CallerCheck) -> serde_json::Value {
    json!({
        "realm": check.realm,
        "base": {
            "rev": check.base.rev,
            "commit": check.base.commit,
            "path": check.base.path,
            "found": check.base.found,
        },
        "callers": check.callers.iter().map(|c| json!({
            "name": c.pin.name,
            "repo": c.pin.repo,
            "commit": c.pin.commit,
            "usage": c.usage.path,
            "uses": match &c.usage.state {
                UsageState::Uses(_) => "this realm",
                UsageState::NotMentioned => "nothing",
                UsageState::Missing | UsageState::Unreadable(_) => "unknown",
            },
        })).collect::<Vec<_>>(),
        "breaking": check.classified.used.iter().map(|u| json!({
            "decl": u.change.decl,
            "member": member(&u.change),
            "message": u.change.message,
            "used_by": u.callers.iter().map(|c| json!({
                "caller": c.caller,
                "uses": c.positions,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "safe": check.classified.safe.iter().map(|c| json!({
            "decl": c.decl,
            "member": member(c),
            "message": c.message,
        })).collect::<Vec<_>>(),
        "compatible": check.changes.len() - check.classified.used.len() - check.classified.safe.len(),
        "ok": !check.failed(),
    })
}
