//! `realm check`: every check that applies, for CI; exit 1 on an error,
//! 3 on drift or a breaking change, 0 when clean.

use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;
use realm::check::{self, Options};

/// Run every check that applies (schema, export, callers, pins, generated clients), for CI
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The checks: schema (the schema loads and validates; warnings fail \
    with --deny-warnings), export (every export file and the usage file match the sources), \
    callers (no breaking change a pinned caller uses, against --base), pins (no pin behind its \
    branch; needs the network: skipped with --offline), generate (clients that `realm generate` \
    wrote under realms/ match the pinned realms). A check that does not apply is skipped and says \
    why. Nothing is written.\n\n\
    Exit codes: 0 clean, 1 an error (the most severe), 3 drift or a breaking change.\n\n\
    Each finding has a rule code; `realm explain <code>` says what it means and how to fix it.\n\n\
    Examples:\n  \
    realm check                               # everything, for people\n  \
    realm check --error-format github         # in GitHub Actions: findings on their lines\n  \
    realm check --error-format sarif > realm.sarif\n  \
    realm check --error-format junit > realm.xml\n  \
    realm check --skip pins --offline         # no network"
)]
pub struct Args {
    /// Run only these checks (repeatable, or comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CHECK")]
    only: Vec<CheckName>,

    /// Do not run these checks (repeatable, or comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CHECK")]
    skip: Vec<CheckName>,

    /// The git revision whose committed export the callers check compares with [default: HEAD]
    #[arg(long, value_name = "REV")]
    base: Option<String>,

    #[command(flatten)]
    error_format: super::ErrorFormatArg,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CheckName {
    Schema,
    Export,
    Callers,
    Pins,
    Generate,
}

fn names(checks: &[CheckName]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|c| c.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect()
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let dir = super::current_dir()?;
    let options = Options {
        only: names(&args.only),
        skip: names(&args.skip),
        base: args.base,
    };
    debug_assert!(
        options
            .only
            .iter()
            .all(|n| check::CHECKS.contains(&n.as_str()))
    );
    let run = args
        .pinned
        .with_context(started_in, |ctx| check::run(&dir, ctx, &options));
    match run {
        Ok(run) => super::print_run(&run, args.error_format.get()),
        // No project: a report all the same, for the CI that reads it.
        Err(e) if args.error_format.is_report() => super::print_check(
            realm::report::CheckResult::of_error("schema", &e),
            args.error_format.get(),
        ),
        Err(e) => Err(e),
    }
}
