//! `realm add`: pin another realm's public API to a git commit.

use std::process::ExitCode;

use anyhow::Result;
use realm::pins::{self, AddRequest, UsageState};

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
    With --caller, the realm pinned is one that calls this realm: the pin goes to \
    [caller-realms.<name>] in realm.toml (same keys), and its commit says which public keys \
    sign its calls (its `[realm] public-keys`) and what it uses of this realm (its usage file: \
    --git-path, else its `[realm] usage`, else ftl-realm-usage.json), which `realm check-callers` \
    checks breaking changes against. A realm may be pinned both ways.\n\n\
    Examples:\n  \
    realm add --git-repo https://git.example.com/bank/accounts.git\n  \
    realm add --git-repo git@git.example.com:bank/accounts.git --git-branch release\n  \
    realm add --git-repo ../bank --name ledger\n  \
    realm add --caller --git-repo https://git.example.com/shop/shop.git"
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

    /// Pin a realm that calls this one (in realm.toml's [caller-realms]), for its keys and usage
    #[arg(long)]
    caller: bool,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let project = realm::project::Project::discover(&super::current_dir()?)?;
    super::print_project_warnings(&project);
    let root = project.root.clone();
    let request = AddRequest {
        repo: args.git_repo,
        branch: args.git_branch,
        path: args.git_path,
        name: args.name,
    };
    if args.caller {
        let added = args
            .pinned
            .with_context(started_in, |ctx| pins::add_caller(&root, &request, ctx))?;
        print_added_caller(&added, &project.name);
        return Ok(ExitCode::SUCCESS);
    }
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

/// What `realm add --caller` pinned, and what the caller's commit lacks.
fn print_added_caller(added: &pins::AddedCaller, realm: &str) {
    let pin = &added.pin;
    let name = &pin.name;
    let public: Vec<&str> = added
        .keys
        .iter()
        .filter(|k| !k.retired)
        .map(|k| k.id.as_str())
        .collect();
    let usage = &added.usage;
    let uses = match &usage.state {
        UsageState::Uses(u) => format!(
            "; it uses {} of `{realm}` ({})",
            super::plural(u.declarations.len(), "declaration"),
            usage.path
        ),
        _ => String::new(),
    };
    errln!(
        "Pinned caller `{name}` to {} ({} of {}) in realm.toml: {}{}{uses}",
        pin.short_commit(),
        pin.branch.as_deref().unwrap_or("default branch"),
        pin.repo,
        super::plural(public.len(), "public key"),
        if public.is_empty() {
            String::new()
        } else {
            format!(" ({})", public.join(", "))
        },
    );
    let update = format!("then `realm update --caller {name}`");
    if public.is_empty() {
        errln!(
            "warning: caller `{name}` publishes no public keys at {}: its calls cannot be verified by signature\n\
             help: in its repository, run `realm keys new` and commit realm.toml, {update}",
            pin.short_commit()
        );
    }
    match &usage.state {
        UsageState::Uses(_) => {}
        UsageState::Missing => errln!(
            "warning: caller `{name}` has no usage file `{}` at {}: `realm check-callers` cannot tell what it uses of `{realm}`\n\
             help: in its repository, run `realm export` and commit {}, {update}",
            usage.path,
            pin.short_commit(),
            usage.path
        ),
        UsageState::NotMentioned => errln!(
            "warning: the usage file `{}` of caller `{name}` at {} does not mention realm `{realm}`: as of that commit it uses nothing of this realm",
            usage.path,
            pin.short_commit()
        ),
        UsageState::Unreadable(why) => errln!(
            "warning: the usage file of caller `{name}` does not read: {why}\n\
             help: `realm check-callers` fails until the pinned commit has a usable one; {update}"
        ),
    }
}
