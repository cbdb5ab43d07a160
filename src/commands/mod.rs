//! Command-line arguments (clap) and one module per subcommand. A command
//! parses its arguments, calls the library and renders the result; it holds
//! no behaviour of its own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod export;
mod schema;

/// An error: bad input, a failed fetch, an invalid schema.
pub const EXIT_ERROR: u8 = 1;
/// A check found drift or a breaking change (`--check`, `--deny-breaking`).
pub const EXIT_CHECK_FAILED: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "realm",
    version,
    about = "Schema federation between service clusters (realms)",
    long_about = "Schema federation between service clusters (realms).\n\n\
        A realm pins the public API of other realms to git commits in ftl-project.toml, \
        exports its own public API (every `export realm` declaration and what it uses) as \
        protobuf text format, and routes verb calls between realms.",
    after_help = "Exit codes: 0 success, 1 error, 2 usage error, 3 a check found drift.\n\n\
        Examples:\n  realm schema\n  realm export --check\n  realm -C examples/bank export"
)]
pub struct Cli {
    /// Run as if realm was started in DIR
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Schema(schema::Args),
    Export(export::Args),
}

/// How data is printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Schema text
    Text,
    /// Protobuf JSON mapping of realm.schema.v1.Schema
    Json,
    /// Protobuf text format of realm.schema.v1.Schema
    Txtpb,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Schema(args) => schema::run(args),
        Command::Export(args) => export::run(args),
    }
}

/// The current directory, where the project is looked for.
fn current_dir() -> anyhow::Result<PathBuf> {
    std::env::current_dir().map_err(|e| anyhow::anyhow!("cannot read the current directory: {e}"))
}

/// `path` as the user should see it: relative to the current directory when
/// it is below it.
fn display_path(path: &std::path::Path) -> String {
    match std::env::current_dir() {
        Ok(cwd) => realm::files::relative(path, &cwd.canonicalize().unwrap_or(cwd)),
        Err(_) => path.display().to_string(),
    }
}
