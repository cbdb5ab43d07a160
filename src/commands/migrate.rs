//! `realm migrate`: move realm's settings out of ftl-project.toml.

use std::process::ExitCode;

use anyhow::Result;
use realm::project::{PROJECT_FILE, Project, SETTINGS_FILE};

/// Move realm's own settings out of ftl-project.toml, which FTL refuses with them, to realm.toml
#[derive(clap::Args, Debug)]
#[command(
    after_help = "FTL refuses any key of ftl-project.toml it does not know (\"unknown \
    configuration keys\"). Earlier versions of realm kept [realm] and [ingress...] there, and \
    pins in [realms.egress.<name>]. This moves [realm] and [ingress...] to realm.toml beside it \
    (with the comments above each table and those right below the last), turns \
    [realms.egress.<name>] into FTL's [external-realms.<name>] where it stands, and gives pins \
    without git-path the schema file they are read from (FTL reads git-path). Everything else is \
    left byte for byte.\n\n\
    Examples:\n  realm migrate\n  realm migrate --offline"
)]
pub struct Args {
    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let root = Project::discover(&super::current_dir()?)?.root;
    let migrated = args
        .pinned
        .with_context(started_in, |ctx| realm::pins::migrate(&root, ctx))?;
    if migrated.is_empty() {
        errln!("Nothing to migrate: {PROJECT_FILE} holds only keys FTL knows");
        return Ok(ExitCode::SUCCESS);
    }
    if !migrated.moved.is_empty() {
        let tables: Vec<String> = migrated.moved.iter().map(|t| format!("[{t}]")).collect();
        errln!(
            "Moved {} from {PROJECT_FILE} to {SETTINGS_FILE}{}",
            tables.join(" and "),
            if migrated.created_settings {
                " (created)"
            } else {
                ""
            }
        );
    }
    for name in &migrated.pins {
        errln!("Moved the pin of `{name}` to [external-realms.{name}]");
    }
    for name in &migrated.paths {
        errln!("Recorded the git-path of `{name}`");
    }
    Ok(ExitCode::SUCCESS)
}
