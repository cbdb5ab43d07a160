//! `realm explain`: what a rule code means, why, and how to fix it.

use std::process::ExitCode;

use anyhow::{Result, bail};
use realm::rules::{RULES, rule};

/// Explain a rule code of a finding (e.g. `realm::unexported-type`): what it means, why, how to fix it
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    realm explain realm::unexported-type\n  \
    realm explain --list                 # every code")]
pub struct Args {
    /// The rule code, as findings show it
    #[arg(value_name = "CODE", required_unless_present = "list")]
    code: Option<String>,

    /// List every rule code with its summary
    #[arg(long, conflicts_with = "code")]
    list: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.list {
        let width = RULES.iter().map(|r| r.code.len()).max().unwrap_or(0);
        for r in RULES {
            outln!("{:<width$}  {}", r.code, r.summary)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let code = args.code.unwrap_or_default();
    let Some(rule) = rule(&code) else {
        let close = RULES
            .iter()
            .map(|r| (strsim::jaro_winkler(&code, r.code), r.code))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        bail!(
            "no rule has the code `{code}`\nhelp: {close}`realm explain --list` lists every code"
        );
    };
    out!("{}", rule.explanation())?;
    Ok(ExitCode::SUCCESS)
}
