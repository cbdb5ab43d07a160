//! `realm remove`: drop a pin.

use std::process::ExitCode;

use anyhow::Result;

/// Drop a pinned realm (refused while this realm's schema still refers to it), or a caller pin
#[derive(clap::Args, Debug)]
#[command(
    after_help = "NAME is the pin of a realm this realm calls ([external-realms]); when \
    there is none, the caller pin of that name ([caller-realms] of realm.toml). A realm pinned \
    both ways: NAME drops the pin of the realm called, --caller the caller pin.\n\n\
    Examples:\n  \
    realm remove bank           # fails, listing each `@bank` reference, while any remains\n  \
    realm remove bank --force   # drop the pin anyway\n  \
    realm remove --caller shop  # shop's calls are no longer pinned"
)]
pub struct Args {
    /// The pinned realm
    #[arg(value_name = "NAME", value_parser = super::realm_name)]
    name: String,

    /// Drop the pin even though the schema still refers to the realm
    #[arg(long)]
    force: bool,

    /// Drop the caller pin of NAME ([caller-realms] of realm.toml)
    #[arg(long, conflicts_with = "force")]
    caller: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let project = realm::project::Project::discover(&super::current_dir()?)?;
    super::print_project_warnings(&project);
    let root = &project.root;
    let pin = if args.caller {
        realm::pins::remove_caller(root, &args.name)?
    } else {
        realm::pins::remove(root, &args.name, args.force)?
    };
    let caller = pin.table.is_caller();
    errln!(
        "Removed {} `{}` (was pinned to {} of {}{})",
        if caller { "caller" } else { "realm" },
        pin.name,
        pin.short_commit(),
        pin.repo,
        if caller { ", in realm.toml" } else { "" }
    );
    if !caller && project.caller(&args.name).is_some() {
        errln!(
            "note: `{}` is also pinned as a caller; `realm remove --caller {}` drops that pin",
            args.name,
            args.name
        );
    }
    Ok(ExitCode::SUCCESS)
}
