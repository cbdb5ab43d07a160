//! `realm list`: the pins, from the cache.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use realm::project::Project;

use super::DataFormat;

/// List the pinned realms: repository, branch, commit, exported verbs, and whether the cached branch is ahead (no network)
#[derive(clap::Args, Debug)]
#[command(
    after_help = "STATUS is `behind` when the cached head of the branch differs from \
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
    let listed = realm::pins::list(&project, &args.cache.open(started_in)?);
    let mut out = std::io::stdout().lock();
    match args.format {
        DataFormat::Json => {
            writeln!(out, "{}", serde_json::to_string_pretty(&listed)?)?;
        }
        DataFormat::Text if listed.is_empty() => {
            eprintln!("No realms are pinned. Pin one with `realm add --git-repo <url>`.");
        }
        DataFormat::Text => {
            let rows: Vec<[String; 6]> = listed
                .iter()
                .map(|l| {
                    [
                        l.name.clone(),
                        l.repo.clone(),
                        l.branch.clone().unwrap_or_else(|| "(default)".into()),
                        l.commit[..7].to_string(),
                        l.verbs.map_or_else(|| "?".into(), |v| v.to_string()),
                        match &l.cached_head {
                            Some(head) if l.status != "not cached" => {
                                format!("{} (cached head {})", l.status, &head[..7])
                            }
                            _ => l.status.to_string(),
                        },
                    ]
                })
                .collect();
            let header = ["NAME", "REPO", "BRANCH", "COMMIT", "VERBS", "STATUS"].map(String::from);
            write!(out, "{}", table(&header, &rows))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Left-aligned columns separated by two spaces; the last column unpadded.
pub fn table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
