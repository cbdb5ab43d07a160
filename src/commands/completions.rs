//! `realm completions`: a shell completion script (clap_complete).

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

/// Print a shell completion script: bash, zsh, fish, powershell or elvish
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    realm completions bash > ~/.local/share/bash-completion/completions/realm\n  \
    realm completions zsh > ~/.zfunc/_realm        # with fpath+=(~/.zfunc) in ~/.zshrc\n  \
    realm completions fish > ~/.config/fish/completions/realm.fish\n  \
    realm completions powershell >> $PROFILE\n  \
    realm completions elvish >> ~/.config/elvish/rc.elv")]
pub struct Args {
    /// The shell
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "realm", &mut script);
    super::output::write_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}
