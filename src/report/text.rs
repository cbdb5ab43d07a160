//! The text format: each finding as rustc shows it (with the source line,
//! or a diff), then one line per check and the verdict.

use std::fmt::Write;

use super::{Finding, Outcome, Run};

pub fn render(run: &Run) -> String {
    let mut out = String::new();
    for (_, f) in run.findings() {
        match &f.rendered {
            Some(text) => out.push_str(text.trim_end()),
            None => plain(&mut out, f),
        }
        out.push('\n');
        out.push('\n');
    }
    let width = run.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &run.checks {
        let status = match &c.outcome {
            Outcome::Passed => "ok",
            Outcome::Failed => "FAILED",
            Outcome::Skipped(_) => "skipped",
        };
        let _ = writeln!(out, "check {:<width$}  {status:<7}  {}", c.name, c.summary);
    }
    let _ = writeln!(
        out,
        "{}",
        match run.exit_code() {
            0 => "All checks passed",
            super::EXIT_DRIFT => "Checks failed: drift or breaking changes (exit 3)",
            _ => "Checks failed: errors (exit 1)",
        }
    );
    out
}

/// `error[code]: message`, where, and help.
fn plain(out: &mut String, f: &Finding) {
    let level = match f.level {
        super::Level::Warning => "warning",
        _ => "error",
    };
    let _ = writeln!(out, "{level}[{}]: {}", f.code, f.message);
    if let Some(loc) = &f.location {
        match &loc.region {
            Some(r) => {
                let _ = writeln!(out, " --> {}:{}:{}", loc.file, r.line, r.column);
            }
            None => {
                let _ = writeln!(out, " --> {}", loc.file);
            }
        }
    }
    if let Some(help) = &f.help {
        let _ = writeln!(out, "  = help: {help}");
    }
}
