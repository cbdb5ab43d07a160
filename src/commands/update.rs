//! `realm update`: move pins to their branches' heads, showing what changed.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use realm::pins::{self, RealmUpdate};
use realm::project::Project;
use serde_json::json;

use super::{DataFormat, EXIT_CHECK_FAILED};

/// Move pins to the heads of their branches; show each public API's changes, breaking ones flagged
#[derive(clap::Args, Debug)]
#[command(
    after_help = "A change is breaking when a caller written against the pinned API \
    can fail against the new one: a verb or type removed, a request or response changed, \
    a field removed or retyped, a request field made required, an enum variant removed. \
    Additions are compatible.\n\n\
    Caller pins ([caller-realms] of realm.toml) move too: their keys and usage are read at the \
    new commit. A NAME selects every pin of that name, so a realm pinned both ways moves both \
    ways; --caller selects caller pins only.\n\n\
    Examples:\n  \
    realm update                    # move every pin, print the changes\n  \
    realm update bank               # only bank\n  \
    realm update --caller           # only the callers\n  \
    realm update --check            # in CI: exit 3 when any pin is behind its branch\n  \
    realm update --deny-breaking    # move pins, but not across breaking changes (exit 3)"
)]
pub struct Args {
    /// Only these realms [default: all pinned realms]
    #[arg(value_name = "NAME", value_parser = super::realm_name)]
    names: Vec<String>,

    /// Only caller pins ([caller-realms] of realm.toml)
    #[arg(long)]
    caller: bool,

    /// Write nothing; exit 3 when any pin is behind its branch
    #[arg(long)]
    check: bool,

    /// Refuse to move any pin across a breaking change (exit 3, nothing written)
    #[arg(long)]
    deny_breaking: bool,

    /// How to print the changes: text or json
    #[arg(long, value_enum, default_value_t = DataFormat::Text)]
    format: DataFormat,

    /// With --check: how to report findings: text, json, github, sarif, junit (see `realm check --help`); other than text, the report is what stdout holds
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = super::ErrorFormat::Text, requires = "check")]
    error_format: super::ErrorFormat,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let project = Project::discover(&super::current_dir()?)?;
    if args.error_format != super::ErrorFormat::Text {
        let check = args
            .pinned
            .with_context(started_in, |ctx| {
                pins::plan_update_pins(&project, &args.names, args.caller, ctx)
            })
            .map_or_else(
                |e| realm::report::CheckResult::of_error("pins", &e),
                |updates| realm::check::pins_result(&updates),
            );
        return super::print_check(check, args.error_format.get());
    }
    super::print_project_warnings(&project);
    let updates = args.pinned.with_context(started_in, |ctx| {
        pins::plan_update_pins(&project, &args.names, args.caller, ctx)
    })?;
    let moved: Vec<&RealmUpdate> = updates.iter().filter(|u| u.moved()).collect();
    let breaking: Vec<&&RealmUpdate> = moved.iter().filter(|u| u.breaking() > 0).collect();

    let refuse = args.deny_breaking && !breaking.is_empty();
    let written = if args.check || refuse {
        0
    } else {
        pins::apply_update(&project.root, &updates)?
    };

    match args.format {
        DataFormat::Text => out!("{}", render_text(&updates))?,
        DataFormat::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&render_json(&updates, written))?
        )?,
    }

    let all_up_to_date = |n: usize| match n {
        0 => "No realms are pinned".to_string(),
        1 => "The pinned realm is up to date".to_string(),
        n => format!("All {n} pinned realms are up to date"),
    };
    if refuse {
        let names: Vec<String> = breaking
            .iter()
            .map(|u| format!("{} ({} breaking)", u.pin.name, u.breaking()))
            .collect();
        errln!(
            "error: refusing to move pins across breaking changes: {}; nothing was written\n\
             help: adapt this realm to the changes above, then run `realm update` without --deny-breaking",
            names.join(", ")
        );
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    if args.check {
        if moved.is_empty() {
            errln!("{}", all_up_to_date(updates.len()));
            return Ok(ExitCode::SUCCESS);
        }
        errln!(
            "error: {} {} behind {} branch{}\nhelp: run `realm update` and commit {}",
            moved.len(),
            if moved.len() == 1 {
                "realm is"
            } else {
                "realms are"
            },
            if moved.len() == 1 { "its" } else { "their" },
            if moved.len() == 1 { "" } else { "es" },
            files_of(&moved)
        );
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    if written == 0 {
        errln!("{}", all_up_to_date(updates.len()));
    } else {
        errln!(
            "Updated {} in {}",
            super::plural(written, "realm"),
            files_of(&moved)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The files the pins of `moved` are in.
fn files_of(moved: &[&RealmUpdate]) -> &'static str {
    let callers = moved.iter().filter(|u| u.pin.table.is_caller()).count();
    match (callers, moved.len() - callers) {
        (0, _) => "ftl-project.toml",
        (_, 0) => "realm.toml",
        _ => "ftl-project.toml and realm.toml",
    }
}

fn render_text(updates: &[RealmUpdate]) -> String {
    let shown = |u: &RealmUpdate| {
        if u.pin.table.is_caller() {
            format!("{} (caller)", u.pin.name)
        } else {
            u.pin.name.clone()
        }
    };
    let width = updates.iter().map(|u| shown(u).len()).max().unwrap_or(0);
    let mut out = String::new();
    for u in updates {
        let name = &shown(u);
        if !u.moved() {
            let _ = writeln!(
                out,
                "{name:<width$}  up to date at {} ({})",
                u.pin.short_commit(),
                u.branch
            );
            continue;
        }
        let summary = match (&u.keys, &u.changes) {
            (Some(keys), _) => {
                let public = keys.iter().filter(|k| !k.retired).count();
                format!(
                    "caller: {}{}",
                    super::plural(public, "public key"),
                    if public == 0 {
                        " (its calls cannot be verified by signature)"
                    } else {
                        ""
                    }
                )
            }
            (None, changes) => match changes {
                None => "the pinned commit is gone from the remote; no diff".to_string(),
                Some(changes) if changes.is_empty() => "public API unchanged".to_string(),
                Some(changes) => {
                    let breaking = u.breaking();
                    format!(
                        "{breaking} breaking, {} compatible",
                        changes.len() - breaking
                    )
                }
            },
        };
        let _ = writeln!(
            out,
            "{name:<width$}  {} -> {} ({})  {summary}",
            u.pin.short_commit(),
            realm::project::short_commit(&u.head),
            u.branch
        );
        for change in u.changes.iter().flatten() {
            let _ = writeln!(out, "  {:<10}  {change}", change.severity.to_string());
        }
        // What moving a caller pin starts or stops trusting.
        for change in &u.key_changes {
            let _ = writeln!(out, "  key {:<8}  {}", change.kind.as_str(), change.id);
        }
    }
    out
}

fn render_json(updates: &[RealmUpdate], written: usize) -> serde_json::Value {
    json!({
        "realms": updates.iter().map(|u| json!({
            "name": u.pin.name,
            "role": if u.pin.table.is_caller() { "caller" } else { "callee" },
            "repo": u.pin.repo,
            "branch": u.branch,
            "from": u.pin.commit,
            "to": u.head,
            "moved": u.moved(),
            "breaking": u.breaking(),
            "changes": u.changes.as_ref().map(|changes| changes.iter().map(|c| json!({
                "severity": c.severity.to_string(),
                "decl": c.decl,
                "message": c.message,
            })).collect::<Vec<_>>()),
            "keys": u.key_changes.iter().map(|k| json!({
                "id": k.id,
                "change": k.kind.as_str(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "written": written,
    })
}
