//! `realm man`: the manual pages, rendered from the command-line
//! definition (clap_mangen), so they always match `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;

/// Print the man page realm(1), or write a page per command with --output
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    realm man | man -l -\n  \
    realm man --output ~/.local/share/man/man1    # realm.1, realm-add.1, ...")]
pub struct Args {
    /// Write realm.1 and a page per command (realm-add.1, ...) to this directory
    #[arg(long, short, value_name = "DIR")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut command = super::Cli::command().disable_help_subcommand(true);
    command.build();
    let Some(dir) = args.output else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        super::output::write_stdout(&page)?;
        return Ok(ExitCode::SUCCESS);
    };
    realm::files::create_dir_all(&dir)?;
    let mut pages = Vec::new();
    collect(&command, &mut pages)?;
    for (name, page) in &pages {
        realm::files::write_atomic(&dir.join(name), page)?;
    }
    errln!(
        "Wrote {} man pages to {}",
        pages.len(),
        super::display_path(&dir)
    );
    Ok(ExitCode::SUCCESS)
}

/// The page of `command` and of each of its subcommands, with file names.
fn collect(command: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| format!("cannot render {}", man.get_filename()))?;
    pages.push((man.get_filename(), page));
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}
