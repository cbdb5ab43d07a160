//! `realm init`: make a new project.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use realm::init::{self, Change};

/// Make a new realm project: ftl-project.toml, realm.toml, an example module, .gitignore lines
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Writes ftl-project.toml (FTL's project file, only keys FTL knows), \
    realm.toml (realm's own settings: export, ingress, TLS, keys), each with every key \
    described and those at their default commented out, modules/hello.ftl (an example module \
    with one `export realm` verb) and the .gitignore line for a git cache kept in the project. \
    Refuses, writing nothing, when the directory already has ftl-project.toml or realm.toml.\n\n\
    Examples:\n  \
    realm init                  # this directory, named after it\n  \
    realm init shop             # a new directory shop/\n  \
    realm init --name bank_eu   # this directory, as the realm bank_eu"
)]
pub struct Args {
    /// The project directory, created when missing [default: the current directory]
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,

    /// The realm's name [default: the directory's name, with `-` and `.` as `_`]
    #[arg(long, value_name = "NAME", value_parser = super::realm_name)]
    name: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let name = match args.name {
        Some(name) => name,
        None => {
            let absolute = dir
                .canonicalize()
                .or_else(|_| std::path::absolute(&dir))
                .unwrap_or_else(|_| dir.clone());
            init::name_for_dir(&absolute).ok_or_else(|| {
                anyhow!(
                    "the directory name `{}` is not a realm name\nhelp: pass --name NAME (letters, digits and `_`, starting with a letter or `_`)",
                    absolute
                        .file_name()
                        .map_or_else(|| absolute.display().to_string(), |n| n.to_string_lossy().into_owned())
                )
            })?
        }
    };
    let done = init::init(&dir, &name)?;
    let shown = done.dir.display().to_string();
    outln!("Created realm `{}` in {shown}:", done.name)?;
    for file in &done.files {
        let what = match file.change {
            Change::Created => "created",
            Change::Extended => "added the realm cache line",
            Change::Kept => "already ignores the realm cache",
        };
        outln!("  {:<18} {what}", file.path)?;
    }
    let cd = if shown == "." {
        String::new()
    } else {
        format!("cd {shown}\n  ")
    };
    outln!(
        "\nNext:\n  {cd}realm schema                      # check and print the schema\n  \
         realm export                      # write the public API other realms pin\n  \
         realm add --git-repo URL          # pin another realm's public API"
    )?;
    Ok(ExitCode::SUCCESS)
}
