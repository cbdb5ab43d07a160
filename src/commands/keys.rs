//! `realm keys`: this realm's signing keys (`new`, `list`, `retire`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use realm::keys::{KEY_FILE_ENV, KeyFile};
use realm::project::{Project, SETTINGS_FILE};

/// Manage this realm's signing keys: Ed25519 key pairs whose public keys realm.toml publishes
#[derive(clap::Args, Debug)]
#[command(
    after_help = "A realm's public keys are published in `[realm] public-keys` of its \
    realm.toml and pinned with it: a realm that pins commit C sees exactly the keys of C. \
    `realm serve` signs the calls it sends to other realms with the private key (RFC 9421, \
    ed25519), and a realm that pins this one as a caller (`realm add --caller`) checks them \
    with these public keys: no shared secret. The private key stays in a file outside \
    the repository: `--key-file`, \
    else `[ingress] signing-key-file` in realm.toml, else $REALM_SIGNING_KEY_FILE.\n\n\
    Rotation: `realm keys new --key-file NEW` and commit (two keys); once the realms you call \
    pin that commit, point signing-key-file at NEW, then `realm keys retire OLD` and commit.\n\n\
    Examples:\n  realm keys new --key-file ~/.config/realm/shop.key\n  realm keys list\n  \
    realm keys retire 3f1c0a9be2d44c17"
)]
pub struct Args {
    #[command(subcommand)]
    command: Keys,
}

#[derive(Subcommand, Debug)]
enum Keys {
    /// Make a key pair: the private key into the key file, the public key into realm.toml
    #[command(
        after_help = "The private key file is created with mode 0600 and never replaces a \
        file; a path inside the project or its git repository is refused. The public key is \
        appended to [realm] public-keys in realm.toml as \"ed25519:<key id>:<base64>\", the key \
        id being the first 8 bytes of its SHA-256 in hex; the key id is printed on stdout.\n\n\
        Examples:\n  realm keys new --key-file ~/.config/realm/shop.key\n  \
        REALM_SIGNING_KEY_FILE=/etc/realm/shop.key realm keys new"
    )]
    New {
        #[command(flatten)]
        file: FileArg,
    },
    /// List the keys realm.toml publishes, and which this machine holds
    #[command(
        after_help = "PRIVATE KEY HERE is yes for the key whose private key is in the \
        key file.\n\n\
        Examples:\n  realm keys list\n  realm keys list --key-file ~/.config/realm/shop-2.key"
    )]
    List {
        #[command(flatten)]
        file: FileArg,
    },
    /// Retire a key: calls signed with it are refused once callees pin the commit
    #[command(
        after_help = "Moves the key from [realm] public-keys to [realm] retired-keys in \
        realm.toml (kept, so that calls signed with it are refused as retired, by name).\n\n\
        Examples:\n  realm keys retire 3f1c0a9be2d44c17"
    )]
    Retire {
        /// The key id (`realm keys list` shows it)
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(clap::Args, Debug)]
struct FileArg {
    /// The private key file, outside the repository [default: [ingress] signing-key-file, else $REALM_SIGNING_KEY_FILE]
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
}

impl FileArg {
    fn resolve(&self, project: &Project, started_in: &Path) -> Option<KeyFile> {
        let env = super::env_path(KEY_FILE_ENV);
        realm::keys::key_file(
            project,
            self.key_file.as_deref(),
            env.as_deref(),
            started_in,
        )
    }
}

pub fn run(args: Args, started_in: &Path) -> Result<ExitCode> {
    let project = Project::discover(&super::current_dir()?)?;
    super::print_project_warnings(&project);
    match args.command {
        Keys::New { file } => {
            let Some(key_file) = file.resolve(&project, started_in) else {
                anyhow::bail!(
                    "no key file given\nhelp: pass `--key-file PATH` (outside the repository), or set `[ingress] signing-key-file` in {SETTINGS_FILE} or ${KEY_FILE_ENV}"
                );
            };
            let key = realm::keys::new_key(&project.root, &key_file.path)?;
            errln!(
                "Made key `{}`: private key in {} (from {}), public key added to [realm] public-keys in {SETTINGS_FILE}",
                key.id,
                key.key_file.display(),
                key_file.source
            );
            errln!(
                "Commit {SETTINGS_FILE}: a realm that pins this one sees exactly the keys of the commit it pins"
            );
            outln!("{}", key.id)?;
        }
        Keys::List { file } => {
            let key_file = file.resolve(&project, started_in);
            let rows = realm::keys::list(&project, key_file.as_ref().map(|k| k.path.as_path()));
            if rows.is_empty() {
                errln!("No keys in {SETTINGS_FILE}: `realm keys new` makes one");
                return Ok(ExitCode::SUCCESS);
            }
            let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
            let rows: Vec<[String; 4]> = rows
                .into_iter()
                .map(|r| [r.id, r.algorithm, yes_no(r.held), yes_no(r.retired)])
                .collect();
            out!(
                "{}",
                super::table::table(&["ID", "ALGORITHM", "PRIVATE KEY HERE", "RETIRED"], &rows)
            )?;
        }
        Keys::Retire { id } => {
            realm::keys::retire(&project.root, &id)?;
            errln!(
                "Retired key `{id}`: moved to [realm] retired-keys in {SETTINGS_FILE}; commit it"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
