//! `realm remove`: drop a pin.

use std::process::ExitCode;

use anyhow::Result;

/// Drop a pinned realm (refused while this realm's schema still refers to it)
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    realm remove bank           # fails, listing each `@bank` reference, while any remains\n  \
    realm remove bank --force   # drop the pin anyway")]
pub struct Args {
    /// The pinned realm
    #[arg(value_name = "NAME", value_parser = super::realm_name)]
    name: String,

    /// Drop the pin even though the schema still refers to the realm
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let project = realm::project::Project::discover(&super::current_dir()?)?;
    super::print_project_warnings(&project);
    let root = project.root;
    let pin = realm::pins::remove(&root, &args.name, args.force)?;
    errln!(
        "Removed realm `{}` (was pinned to {} of {})",
        pin.name,
        pin.short_commit(),
        pin.repo
    );
    Ok(ExitCode::SUCCESS)
}
