//! `realm add`: pin another realm's public API to a git commit.

use std::process::ExitCode;

use anyhow::Result;
use realm::pins::{self, AddRequest};

/// Pin an external realm: fetch it, read and check its public API at the branch's head, record the commit
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The realm's repository has ftl-project.toml at its root; its `name` names \
    the realm and its `[realm] export` the proto-text file that is read (or name the file with \
    --git-path). The pin goes to [realms.egress.<name>] in ftl-project.toml.\n\n\
    Examples:\n  \
    realm add --git-repo https://git.example.com/bank/accounts.git\n  \
    realm add --git-repo git@git.example.com:bank/accounts.git --git-branch release\n  \
    realm add --git-repo ../bank --name ledger"
)]
pub struct Args {
    /// The realm's repository: https or ssh URL, file:// URL or path (relative to the project root)
    #[arg(long, value_name = "URL")]
    git_repo: String,

    /// The branch to follow [default: the remote's HEAD branch]
    #[arg(long, value_name = "BRANCH")]
    git_branch: Option<String>,

    /// The schema file in the repository [default: its `[realm] export`]
    #[arg(long, value_name = "PATH")]
    git_path: Option<String>,

    /// Pin under this name instead of the realm's own
    #[arg(long, value_name = "NAME", value_parser = super::realm_name)]
    name: Option<String>,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let root = realm::project::Project::discover(&super::current_dir()?)?.root;
    let request = AddRequest {
        repo: args.git_repo,
        branch: args.git_branch,
        path: args.git_path,
        name: args.name,
    };
    let added = args
        .pinned
        .with_context(started_in, |ctx| pins::add(&root, &request, ctx))?;
    let verbs = added.api.verbs();
    eprintln!(
        "Pinned realm `{}` to {} ({} of {}): {} exported verb{}",
        added.pin.name,
        added.pin.short_commit(),
        added.pin.branch.as_deref().unwrap_or("default branch"),
        added.pin.repo,
        verbs,
        if verbs == 1 { "" } else { "s" }
    );
    if added.api.legacy {
        eprintln!(
            "note: `{}` is realm's older realm.schema.v1 proto-text, which FTL cannot read\n\
             help: in that repository, run `realm export` with this version of realm and commit the files",
            added.api.path
        );
    }
    Ok(ExitCode::SUCCESS)
}
