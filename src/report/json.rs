//! The JSON format: every check with its outcome and findings; one
//! document, for programs.

use serde_json::{Value, json};

use super::{Finding, Outcome, Run};

pub fn render(run: &Run) -> String {
    let checks: Vec<Value> = run
        .checks
        .iter()
        .map(|c| {
            let (status, reason) = match &c.outcome {
                Outcome::Passed => ("passed", None),
                Outcome::Failed => ("failed", None),
                Outcome::Skipped(why) => ("skipped", Some(why)),
            };
            json!({
                "name": c.name,
                "status": status,
                "skipped_because": reason,
                "summary": c.summary,
                "findings": c.findings.iter().map(finding).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "version": 1,
        "ok": run.exit_code() == 0,
        "exit_code": run.exit_code(),
        "checks": checks,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn finding(f: &Finding) -> Value {
    let region = f.location.as_ref().and_then(|l| l.region);
    json!({
        "severity": f.level.label(),
        "code": f.code,
        "message": f.message,
        "help": f.help,
        "file": f.location.as_ref().map(|l| &l.file),
        "line": region.map(|r| r.line),
        "column": region.map(|r| r.column),
        "end_line": region.map(|r| r.end_line),
        "end_column": region.map(|r| r.end_column),
    })
}
