//! `realm list`: the pins, from the cache.

use std::process::ExitCode;

use anyhow::Result;
use realm::pins::{ListedStatus, Role};
use realm::project::Project;

use super::DataFormat;

/// List the pinned realms, called and calling: role, repository, branch, commit, exported verbs, and whether the cached branch is ahead (no network)
#[derive(clap::Args, Debug)]
#[command(
    after_help = "ROLE is `callee` for a realm this realm calls ([external-realms] of \
    ftl-project.toml: its public API is pinned) and `caller` for a realm that calls this one \
    ([caller-realms] of realm.toml: its keys and usage are pinned; VERBS is `-`). \
    STATUS is `behind` when the cached head of the branch differs from \
    the pin (`realm update` would move it; the cache is as fresh as the last fetch), \
    `not cached` when the pinned commit has not been fetched on this machine.\n\n\
    Examples:\n  realm list\n  realm list --format json"
)]
pub struct Args {
    /// How to print: text (a table) or json
    #[arg(long, value_enum, default_value_t = DataFormat::Text)]
    format: DataFormat,

    #[command(flatten)]
    cache: super::CacheDir,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let project = Project::discover(&super::current_dir()?)?;
    super::print_project_warnings(&project);
    let listed = realm::pins::list(&project, &args.cache.open(started_in)?);
    match args.format {
        DataFormat::Json => {
            outln!("{}", serde_json::to_string_pretty(&listed)?)?;
        }
        DataFormat::Text if listed.is_empty() => {
            errln!(
                "No realms are pinned. Pin one with `realm add --git-repo <url>` (`--caller` for a realm that calls this one)."
            );
        }
        DataFormat::Text => {
            let rows: Vec<[String; 7]> = listed
                .iter()
                .map(|l| {
                    [
                        l.name.clone(),
                        l.role.to_string(),
                        l.repo.clone(),
                        l.branch.clone().unwrap_or_else(|| "(default)".into()),
                        realm::project::short_commit(&l.commit).to_string(),
                        match (l.role, l.verbs) {
                            (Role::Caller, _) => "-".into(),
                            (Role::Callee, Some(v)) => v.to_string(),
                            (Role::Callee, None) => "?".into(),
                        },
                        match &l.cached_head {
                            Some(head) if l.status != ListedStatus::NotCached => format!(
                                "{} (cached head {})",
                                l.status,
                                realm::project::short_commit(head)
                            ),
                            _ => l.status.to_string(),
                        },
                    ]
                })
                .collect();
            let header = [
                "NAME", "ROLE", "REPO", "BRANCH", "COMMIT", "VERBS", "STATUS",
            ];
            out!("{}", super::table::table(&header, &rows))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
