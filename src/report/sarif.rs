//! The SARIF 2.1.0 format (OASIS), for GitHub code scanning and other
//! viewers: one run of the tool `realm`, its rules from `crate::rules`,
//! one result per finding. Checked in tests against the official schema.

use serde_json::{Value, json};

use super::{Level, Outcome, Run};
use crate::project::PROJECT_FILE;
use crate::rules::RULES;

pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub fn render(run: &Run) -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.what },
                "help": {
                    "text": format!("{}\n\nWhy: {}\n\nHow to fix it: {}", r.what, r.why, r.fix),
                },
            })
        })
        .collect();
    let results: Vec<Value> = run
        .findings()
        .map(|(check, f)| {
            let mut text = f.message.clone();
            if let Some(help) = &f.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let mut result = json!({
                "ruleId": f.code,
                "level": match f.level {
                    Level::Warning => "warning",
                    Level::Drift | Level::Error => "error",
                },
                "message": { "text": text },
                "properties": { "check": check },
            });
            if let Some(index) = RULES.iter().position(|r| r.code == f.code) {
                result["ruleIndex"] = json!(index);
            }
            // GitHub code scanning refuses a result without a location: a
            // finding about no file in particular is about the project file,
            // and one about a whole file about its first line.
            let file = f
                .location
                .as_ref()
                .map_or(PROJECT_FILE, |loc| loc.file.as_str());
            let region = match f.location.as_ref().and_then(|loc| loc.region) {
                Some(r) => json!({
                    "startLine": r.line,
                    "startColumn": r.column,
                    "endLine": r.end_line,
                    // SARIF's end column is one past the last character.
                    "endColumn": r.end_column + 1,
                }),
                None => json!({ "startLine": 1 }),
            };
            result["locations"] = json!([{
                "physicalLocation": {
                    "artifactLocation": { "uri": uri(file) },
                    "region": region,
                },
            }]);
            result
        })
        .collect();
    let notifications: Vec<Value> = run
        .checks
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Skipped(why) => Some(json!({
                "level": "note",
                "message": { "text": format!("check {} skipped: {why}", c.name) },
            })),
            _ => None,
        })
        .collect();
    let exit_code = run.exit_code();
    let mut invocation = json!({
        "executionSuccessful": true,
        "exitCode": exit_code,
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "realm",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                },
            },
            "invocations": [invocation],
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// A relative path as a URI reference: every byte but unreserved characters
/// and `/` percent-encoded (a `:` in the first segment would read as a
/// scheme).
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
