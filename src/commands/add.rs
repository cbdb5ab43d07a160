//! `realm add`: pin another realm's public API to a git commit.

use std::process::ExitCode;

use anyhow::Result;
use realm::pins::{self, AddRequest};

/// Pin an external realm: fetch it, read and check its public API at the branch's head, record the commit
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The realm's repository has ftl-project.toml at its root; its `name` names \
    the realm. The schema file read is --git-path, else the repository's `[realm] export` \
    (realm.toml), else ftl-external-schema.json (what FTL's `ftl realm add` reads) when the \
    commit has it, else ftl-external-schema.txtpb. The pin goes to \
    [external-realms.<name>] in ftl-project.toml (FTL's table: git-repo, git-branch, \
    git-commit, git-path), after the last pin; a file that uses the older \
    [realms.egress.<name>] gets it there.\n\n\
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

    /// The schema file in the repository [default: its `[realm] export`, else ftl-external-schema.json, else ftl-external-schema.txtpb]
    #[arg(long, value_name = "PATH")]
    git_path: Option<String>,

    /// Pin under this name instead of the realm's own
    #[arg(long, value_name = "NAME", value_parser = super::realm_name)]
    name: Option<String>,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let project = realm::project::Project::discover(&super::current_dir()?)?;
    super::print_project_warnings(&project);
    let root = project.root;
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
    errln!(
        "Pinned realm `{}` to {} ({} of {}): {} exported verb{}",
        added.pin.name,
        added.pin.short_commit(),
        added.pin.branch.as_deref().unwrap_or("default branch"),
        added.pin.repo,
        verbs,
        if verbs == 1 { "" } else { "s" }
    );
    if added.api.legacy {
        errln!(
            "note: `{}` is realm's older realm.schema.v1 proto-text, which FTL cannot read\n\
             help: in that repository, run `realm export` with this version of realm and commit the files",
            added.api.path
        );
    }
    Ok(ExitCode::SUCCESS)
}
