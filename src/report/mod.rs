//! What a check found, as values, and the formats it is reported in.
//!
//! A [`Run`] is the checks of one command (`realm check` runs several, a
//! `--check` command one): each check passed, failed or was skipped, with
//! its [`Finding`]s. Every finding has a level, a rule code (`crate::rules`),
//! a message, a help line and, when it has one, a place (file, line,
//! column, end). The formats are one file each: `text.rs` (for people),
//! `json.rs`, `github.rs` (GitHub Actions workflow commands), `sarif.rs`
//! (SARIF 2.1.0) and `junit.rs` (JUnit XML). Pure: everything is returned
//! as a string; the command prints it.

mod github;
mod json;
mod junit;
mod sarif;
mod text;

use crate::rules;
use crate::schema::diagnostic::{Diagnostic, Report, Sources, render};

pub use github::{escape_data, escape_property};

/// How findings are printed (`--error-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorFormat {
    Text,
    Json,
    Github,
    Sarif,
    Junit,
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Shown, does not fail.
    Warning,
    /// Drift or a breaking change: exit 3.
    Drift,
    /// An error: exit 1.
    Error,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Drift => "drift",
            Level::Error => "error",
        }
    }
}

/// Where a finding is: a file, and in it a place when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Relative to the project root, `/`-separated.
    pub file: String,
    pub region: Option<Region>,
}

/// A place in a file: 1-based line and column (in characters), and the
/// last line and column the finding covers (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

/// One problem a check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// A code of `crate::rules`.
    pub code: &'static str,
    /// What is wrong, one line (where the schema has no position, the
    /// declaration path it is about is part of it).
    pub message: String,
    /// What to do.
    pub help: Option<String>,
    pub location: Option<Location>,
    /// The finding as the text format shows it (rustc-style with the source
    /// line, or with a diff); `None`: made from the fields above.
    pub rendered: Option<String>,
}

impl Finding {
    pub fn new(level: Level, code: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            level,
            code,
            message: message.into(),
            help: None,
            location: None,
            rendered: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    /// In `file` as a whole.
    pub fn in_file(mut self, file: impl Into<String>) -> Finding {
        self.location = Some(Location {
            file: file.into(),
            region: None,
        });
        self
    }

    /// At `line`:`column` of `file`.
    pub fn at(mut self, file: impl Into<String>, line: u32, column: u32) -> Finding {
        self.location = Some(Location {
            file: file.into(),
            region: Some(Region {
                line,
                column,
                end_line: line,
                end_column: column,
            }),
        });
        self
    }

    pub fn with_rendered(mut self, text: impl Into<String>) -> Finding {
        self.rendered = Some(text.into());
        self
    }

    /// A schema diagnostic as a finding; `sources` give the text format its
    /// source line.
    pub fn of_diagnostic(d: &Diagnostic, sources: &Sources) -> Finding {
        let level = if d.is_warning() {
            Level::Warning
        } else {
            Level::Error
        };
        let message = match (&d.pos, d.context()) {
            (None, Some(context)) => format!("{} (in {context})", d.message),
            _ => d.message.clone(),
        };
        let location = d.pos.as_ref().map(|pos| {
            let len = u32::try_from(d.span_len()).unwrap_or(u32::MAX).max(1);
            Location {
                file: pos.file.replace('\\', "/"),
                region: Some(Region {
                    line: pos.line,
                    column: pos.column,
                    end_line: pos.line,
                    end_column: pos.column.saturating_add(len - 1),
                }),
            }
        });
        Finding {
            level,
            code: d.code().unwrap_or(rules::SCHEMA_STRUCTURE),
            message,
            help: d.help().map(str::to_string),
            location,
            rendered: Some(render(std::slice::from_ref(d), sources)),
        }
    }
}

/// Whether a check ran and what it decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Ran; its findings (if any) are warnings.
    Passed,
    /// Ran and found errors or drift.
    Failed,
    /// Did not run, and why.
    Skipped(String),
}

/// One check: its name (`schema`, `export`, ...), outcome, findings and a
/// one-line summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub name: &'static str,
    pub outcome: Outcome,
    pub findings: Vec<Finding>,
    /// What was checked, one line (e.g. `2 export files up to date`).
    pub summary: String,
}

impl CheckResult {
    /// A check that ran: failed when a finding is more than a warning.
    pub fn ran(name: &'static str, findings: Vec<Finding>, summary: impl Into<String>) -> Self {
        let failed = findings.iter().any(|f| f.level > Level::Warning);
        CheckResult {
            name,
            outcome: if failed {
                Outcome::Failed
            } else {
                Outcome::Passed
            },
            findings,
            summary: summary.into(),
        }
    }

    pub fn skipped(name: &'static str, why: impl Into<String>) -> Self {
        let why = why.into();
        CheckResult {
            name,
            outcome: Outcome::Skipped(why.clone()),
            findings: Vec::new(),
            summary: why,
        }
    }

    /// A check that stopped with `err`: the diagnostics of a schema report,
    /// or one `realm::check-failed` finding with the error's chain.
    pub fn of_error(name: &'static str, err: &anyhow::Error) -> Self {
        if let Some(report) = err.chain().find_map(|c| c.downcast_ref::<Report>()) {
            let findings: Vec<Finding> = report
                .diagnostics
                .iter()
                .map(|d| Finding::of_diagnostic(d, &report.sources))
                .collect();
            let errors = findings.iter().filter(|f| f.level == Level::Error).count();
            let summary = format!("{errors} error{}", if errors == 1 { "" } else { "s" });
            return CheckResult::ran(name, findings, summary);
        }
        let message = err
            .chain()
            .map(|c| c.to_string().trim_end().to_string())
            .collect::<Vec<_>>()
            .join(": ");
        // A message's own `help:` line is its help.
        let (message, help) = match message.split_once("\nhelp: ") {
            Some((m, h)) => (m.to_string(), Some(h.to_string())),
            None => (message, None),
        };
        let mut finding = Finding::new(Level::Error, rules::CHECK_FAILED, message.clone());
        finding.help = help;
        CheckResult {
            name,
            outcome: Outcome::Failed,
            findings: vec![finding],
            summary: "could not run".to_string(),
        }
    }
}

/// The checks of one command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub checks: Vec<CheckResult>,
}

/// Exit code of an error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of drift or a breaking change.
pub const EXIT_DRIFT: u8 = 3;

impl Run {
    /// 1 when any finding is an error, else 3 when any is drift, else 0.
    pub fn exit_code(&self) -> u8 {
        match self.findings().map(|(_, f)| f.level).max() {
            Some(Level::Error) => EXIT_ERROR,
            Some(Level::Drift) => EXIT_DRIFT,
            _ => 0,
        }
    }

    /// Every finding with the name of its check.
    pub fn findings(&self) -> impl Iterator<Item = (&'static str, &Finding)> {
        self.checks
            .iter()
            .flat_map(|c| c.findings.iter().map(move |f| (c.name, f)))
    }

    /// The run in `format`.
    pub fn render(&self, format: ErrorFormat) -> String {
        match format {
            ErrorFormat::Text => text::render(self),
            ErrorFormat::Json => json::render(self),
            ErrorFormat::Github => github::render(self),
            ErrorFormat::Sarif => sarif::render(self),
            ErrorFormat::Junit => junit::render(self),
        }
    }
}
