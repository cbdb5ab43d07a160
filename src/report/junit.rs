//! The JUnit XML format, as GitLab, Jenkins and Buildkite read test
//! reports: one test case per check; a check that found errors or drift
//! fails (one `<failure>` listing its findings), one that could not run is
//! an `<error>`, a skipped one `<skipped>`; warnings go to `<system-out>`.

use std::fmt::Write;

use super::{Finding, Level, Outcome, Run};
use crate::rules;

pub fn render(run: &Run) -> String {
    let tests = run.checks.len();
    let errored = |c: &&super::CheckResult| {
        c.outcome == Outcome::Failed && c.findings.iter().any(|f| f.code == rules::CHECK_FAILED)
    };
    let errors = run.checks.iter().filter(errored).count();
    let failures = run
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Failed)
        .count()
        - errors;
    let skipped = run
        .checks
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
        .count();
    let counts =
        format!(r#"tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}""#);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, r#"<testsuites name="realm check" {counts}>"#);
    let _ = writeln!(out, r#"  <testsuite name="realm check" {counts}>"#);
    for c in &run.checks {
        let _ = write!(
            out,
            r#"    <testcase name="{}" classname="realm.check""#,
            escape(c.name)
        );
        let problems: Vec<&Finding> = c
            .findings
            .iter()
            .filter(|f| f.level > Level::Warning)
            .collect();
        let warnings: Vec<&Finding> = c
            .findings
            .iter()
            .filter(|f| f.level == Level::Warning)
            .collect();
        if problems.is_empty() && warnings.is_empty() && !matches!(c.outcome, Outcome::Skipped(_)) {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if let Outcome::Skipped(why) = &c.outcome {
            let _ = writeln!(out, r#"      <skipped message="{}"/>"#, escape(why));
        }
        if let Some(first) = problems.first() {
            let element = if errored(&c) { "error" } else { "failure" };
            let message = if problems.len() == 1 {
                first.message.clone()
            } else {
                format!("{} (and {} more)", first.message, problems.len() - 1)
            };
            let _ = writeln!(
                out,
                r#"      <{element} message="{}" type="{}">{}</{element}>"#,
                escape(&message),
                escape(first.code),
                escape_text(&listing(&problems))
            );
        }
        if !warnings.is_empty() {
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                escape_text(&listing(&warnings))
            );
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// One block per finding: `file:line:col: level[code]: message`, help.
fn listing(findings: &[&Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        if let Some(loc) = &f.location {
            out.push_str(&loc.file);
            if let Some(r) = &loc.region {
                let _ = write!(out, ":{}:{}", r.line, r.column);
            }
            out.push_str(": ");
        }
        let _ = writeln!(out, "{}[{}]: {}", f.level.label(), f.code, f.message);
        if let Some(help) = &f.help {
            let _ = writeln!(out, "  help: {help}");
        }
    }
    out
}

/// Text as XML 1.0 character data: as [`escape`], line breaks kept.
fn escape_text(text: &str) -> String {
    escape(text)
        .replace("&#10;", "\n")
        .replace("&#13;", "\r")
        .replace("&#9;", "\t")
}

/// Text as XML 1.0 character data or attribute value: markup characters as
/// entities, line breaks in attributes as character references, characters
/// XML 1.0 cannot hold as U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
