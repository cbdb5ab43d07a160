//! The GitHub format: GitHub Actions workflow commands
//! (`::error file=...,line=...::message`), so that each finding is shown on
//! its line of the pull request.
//!
//! Escaping is GitHub's own (`@actions/core`'s `toCommandValue` escaping):
//! in the message `%`, CR and LF become `%25`, `%0D`, `%0A`; in property
//! values `:` and `,` also become `%3A` and `%2C`. Nothing else is escaped:
//! the runner unescapes exactly these.

use std::fmt::Write;

use super::{Level, Outcome, Run};

/// A workflow command's message.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(run: &Run) -> String {
    let mut out = String::new();
    for (check, f) in run.findings() {
        let command = match f.level {
            Level::Warning => "warning",
            Level::Drift | Level::Error => "error",
        };
        let mut properties = Vec::new();
        if let Some(loc) = &f.location {
            properties.push(format!("file={}", escape_property(&loc.file)));
            if let Some(r) = &loc.region {
                properties.push(format!("line={}", r.line));
                properties.push(format!("col={}", r.column));
                properties.push(format!("endLine={}", r.end_line));
                properties.push(format!("endColumn={}", r.end_column));
            }
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("realm check {check}: {}", f.code))
        ));
        let mut message = f.message.clone();
        if let Some(help) = &f.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&message)
        );
    }
    for c in &run.checks {
        match &c.outcome {
            Outcome::Skipped(why) => {
                let _ = writeln!(
                    out,
                    "::notice title={}::{}",
                    escape_property(&format!("realm check {}", c.name)),
                    escape_data(&format!("skipped: {why}"))
                );
            }
            outcome => {
                let status = if *outcome == Outcome::Passed {
                    "passed"
                } else {
                    "failed"
                };
                let _ = writeln!(
                    out,
                    "realm check {}: {status} ({})",
                    c.name,
                    escape_data(&c.summary)
                );
            }
        }
    }
    out
}
