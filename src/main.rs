//! The `realm` command: argument parsing, rendering and exit codes. The work
//! is done by the `realm` library.

mod cli;
#[macro_use]
mod commands;

use std::process::ExitCode;

use clap::Parser;
use realm::schema::Report;

fn main() -> ExitCode {
    cli::allocator::init();
    let cli = commands::Cli::parse();
    // Paths given on the command line (--cache-dir) are relative to where
    // realm was started, not to -C.
    let started_in = std::env::current_dir().unwrap_or_default();
    if let Some(dir) = &cli.directory
        && let Err(e) = std::env::set_current_dir(dir)
    {
        errln!("error: cannot change to directory {}: {e}", dir.display());
        return ExitCode::from(commands::EXIT_ERROR);
    }
    match commands::run(cli.command, &started_in) {
        Ok(code) => code,
        Err(err) => {
            print_error(&err);
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}

/// Prints an error and its causes. Schema diagnostics render themselves
/// with the offending source lines. The text ends with exactly one line
/// break, whatever the messages end with (a message may end in one of its
/// own, a rendered report in none), so that what follows starts on a line
/// of its own.
fn print_error(err: &anyhow::Error) {
    let text = error_text(err);
    errln!("{}", text.trim_end());
}

fn error_text(err: &anyhow::Error) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut first = true;
    for cause in err.chain() {
        if let Some(report) = cause.downcast_ref::<Report>() {
            let _ = writeln!(out, "{report}");
            break;
        }
        let text = cause.to_string();
        let _ = if first {
            writeln!(out, "error: {}", text.trim_end())
        } else {
            writeln!(out, "  caused by: {}", text.trim_end())
        };
        first = false;
    }
    out
}
