//! `realm check`: every check that applies to the project, in one pass,
//! as a [`Run`] of findings. Nothing is written (fetching into the git cache
//! is not writing the project).
//!
//! The checks, by name: `schema` (the schema loads and validates; warnings
//! count as errors under `--deny-warnings`), `export` (every export file,
//! and the usage file, match the sources), `callers` (no breaking change a
//! pinned caller uses), `pins` (no pin behind its branch: the one check
//! that needs the network, skipped offline), `generate` (clients that
//! `realm generate` wrote under `realms/` match the pinned realms). The
//! `*_result` functions turn what the library found into a check's result;
//! the `--check` commands use them for their `--error-format`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::check_callers::{self, CallerCheck};
use crate::clients::{self, Drift, Plan, Request};
use crate::export::{self, Contents, Export, Freshness};
use crate::files;
use crate::generate::{HEADER, Language};
use crate::pins::{self, Context, RealmUpdate};
use crate::project::{PROJECT_FILE, Project, SETTINGS_FILE};
use crate::report::{CheckResult, Finding, Level, Run};
use crate::rules;
use crate::workspace::Workspace;

/// The checks `realm check` runs, in order.
pub const CHECKS: &[&str] = &["schema", "export", "callers", "pins", "generate"];

/// Which checks to run, and against what.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only these checks (empty: all).
    pub only: Vec<String>,
    /// Not these.
    pub skip: Vec<String>,
    /// The revision the callers check compares with (default `HEAD`).
    pub base: Option<String>,
}

impl Options {
    fn selected(&self, name: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|n| n == name))
            && !self.skip.iter().any(|n| n == name)
    }
}

/// Runs the selected checks of the project at `dir`.
pub fn run(dir: &Path, ctx: &Context, options: &Options) -> Result<Run> {
    let project = Project::discover(dir)?;
    let mut run = Run::default();
    let wanted = |name: &str| options.selected(name);
    let needs_workspace = ["schema", "export", "callers", "generate"]
        .iter()
        .any(|n| wanted(n));
    let ws = needs_workspace.then(|| Workspace::load(dir, ctx));
    let ws = match ws {
        None => None,
        Some(Ok(ws)) => {
            if wanted("schema") {
                run.checks.push(schema_result(&ws));
            }
            Some(ws)
        }
        Some(Err(e)) => {
            if wanted("schema") {
                run.checks.push(CheckResult::of_error("schema", &e));
            } else {
                // The checks below need it: say why they did not run.
                let mut failed = CheckResult::of_error("schema", &e);
                failed.summary = "the schema does not load (`--only schema` shows why)".into();
                run.checks.push(failed);
            }
            None
        }
    };
    let no_schema = "the schema has errors";
    let prepared = ws
        .as_ref()
        .filter(|_| wanted("export") || wanted("callers"))
        .map(|ws| export::prepare(ws, None));
    if wanted("export") {
        run.checks.push(match &prepared {
            None => CheckResult::skipped("export", no_schema),
            Some(Err(e)) => CheckResult::of_error("export", e),
            Some(Ok(export)) => export_result(export, &project.root)
                .unwrap_or_else(|e| CheckResult::of_error("export", &e)),
        });
    }
    if wanted("callers") {
        run.checks.push(if project.callers.is_empty() {
            CheckResult::skipped(
                "callers",
                "no callers are pinned ([caller-realms] of realm.toml)",
            )
        } else {
            match &prepared {
                None => CheckResult::skipped("callers", no_schema),
                Some(Err(e)) => CheckResult::of_error("callers", e),
                Some(Ok(export)) => {
                    match check_callers::check(&project, export, options.base.as_deref(), ctx) {
                        Ok(check) => callers_result(&check, export, &project.root),
                        Err(e) => CheckResult::of_error("callers", &e),
                    }
                }
            }
        });
    }
    if wanted("pins") {
        run.checks.push(if ctx.offline {
            CheckResult::skipped(
                "pins",
                "--offline: whether pins are behind their branches needs the network",
            )
        } else if project.pins.is_empty() && project.callers.is_empty() {
            CheckResult::skipped("pins", "no realms are pinned")
        } else {
            match pins::plan_update_pins(&project, &[], false, ctx) {
                Ok(updates) => pins_result(&updates),
                Err(e) => CheckResult::of_error("pins", &e),
            }
        });
    }
    if wanted("generate") {
        run.checks.push(match &ws {
            None => CheckResult::skipped("generate", no_schema),
            Some(ws) => {
                generate_check(ws).unwrap_or_else(|e| CheckResult::of_error("generate", &e))
            }
        });
    }
    Ok(run)
}

/// The schema loaded: its warnings (the errors stopped the load).
pub fn schema_result(ws: &Workspace) -> CheckResult {
    let findings: Vec<Finding> = ws
        .warnings
        .iter()
        .map(|d| Finding::of_diagnostic(d, &ws.sources))
        .collect();
    let summary = format!(
        "{} schema file{} valid{}",
        ws.files,
        if ws.files == 1 { "" } else { "s" },
        match findings.len() {
            0 => String::new(),
            1 => ", 1 warning".to_string(),
            n => format!(", {n} warnings"),
        }
    );
    CheckResult::ran("schema", findings, summary)
}

/// Each export file against the disk.
pub fn export_result(export: &Export, root: &Path) -> Result<CheckResult> {
    let mut findings = Vec::new();
    for file in &export.files {
        let path = files::relative(&file.path, root);
        let help = format!("run `realm export` and commit {path}");
        match file.freshness()? {
            Freshness::UpToDate => {}
            Freshness::Missing => findings.push(
                Finding::new(
                    Level::Drift,
                    rules::EXPORT_MISSING,
                    format!("{path} does not exist"),
                )
                .with_help(&help)
                .in_file(&path),
            ),
            Freshness::Stale(diff) => {
                let realm = &export.api.name;
                let what = match file.contents {
                    Contents::PublicApi => format!("the public API of realm `{realm}`"),
                    Contents::Usage => format!("what realm `{realm}` uses of the realms it pins"),
                };
                let message = format!("{path} is stale: {what} has changed");
                findings.push(
                    Finding::new(Level::Drift, rules::EXPORT_STALE, &message)
                        .with_help(&help)
                        .in_file(&path)
                        .with_rendered(format!(
                            "{}error[{}]: {message}\n --> {path}\n  = help: {help}",
                            diff,
                            rules::EXPORT_STALE
                        )),
                );
            }
        }
    }
    let summary = match findings.len() {
        0 => format!("{} export files up to date", export.files.len()),
        n => format!(
            "{n} of {} export files stale or missing",
            export.files.len()
        ),
    };
    Ok(CheckResult::ran("export", findings, summary))
}

/// The breaking changes a caller uses; at the public API file.
pub fn callers_result(check: &CallerCheck, export: &Export, root: &Path) -> CheckResult {
    let api_file = export
        .files
        .iter()
        .find(|f| f.contents == Contents::PublicApi)
        .map(|f| files::relative(&f.path, root));
    let mut findings: Vec<Finding> = check
        .classified
        .used
        .iter()
        .map(|used| {
            let f = Finding::new(Level::Drift, rules::BREAKING_CHANGE, used.to_string())
                .with_help(
                    "keep what callers use (add the new beside the old), or change the callers first and move their pins with `realm update --caller`",
                );
            match &api_file {
                Some(file) => f.in_file(file),
                None => f,
            }
        })
        .collect();
    for c in check.unchecked() {
        findings.push(
            Finding::new(
                Level::Warning,
                rules::BREAKING_CHANGE,
                format!(
                    "caller `{}` has no usage file `{}` at its pinned commit: what it uses is unknown, so it was not checked",
                    c.pin.name, c.usage.path
                ),
            )
            .with_help(format!(
                "in its repository, run `realm export` and commit {}, then `realm update --caller {}`",
                c.usage.path, c.pin.name
            )),
        );
    }
    let summary = format!(
        "{} caller{} checked against {} ({}), {} breaking change{} used",
        check.callers.len(),
        if check.callers.len() == 1 { "" } else { "s" },
        check.base.rev,
        crate::project::short_commit(&check.base.commit),
        check.classified.used.len(),
        if check.classified.used.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    CheckResult::ran("callers", findings, summary)
}

/// The pins behind their branches, at their lines of the project files.
pub fn pins_result(updates: &[RealmUpdate]) -> CheckResult {
    let findings: Vec<Finding> = updates
        .iter()
        .filter(|u| u.moved())
        .map(|u| {
            let (file, role) = if u.pin.table.is_caller() {
                (SETTINGS_FILE, "caller pin")
            } else {
                (PROJECT_FILE, "pin")
            };
            let breaking = match u.breaking() {
                0 => String::new(),
                n => format!(" ({n} breaking change{})", if n == 1 { "" } else { "s" }),
            };
            let f = Finding::new(
                Level::Drift,
                rules::PIN_BEHIND,
                format!(
                    "{role} `{}` at {} is behind its branch {} at {}{breaking}",
                    u.pin.name,
                    u.pin.short_commit(),
                    u.branch,
                    crate::project::short_commit(&u.head)
                ),
            )
            .with_help(format!(
                "run `realm update {}` and commit {file}",
                u.pin.name
            ));
            match &u.pin.pos {
                Some(pos) => f.at(file, pos.line, pos.column),
                None => f.in_file(file),
            }
        })
        .collect();
    let summary = format!(
        "{} of {} pins behind their branches",
        findings.len(),
        updates.len()
    );
    CheckResult::ran("pins", findings, summary)
}

/// The generated clients of one plan against the disk.
pub fn generate_result(plan: &Plan, drift: &[Drift], root: &Path) -> CheckResult {
    let language = plan.language.name();
    let findings = drift
        .iter()
        .map(|d| {
            let (path, what, rendered) = match d {
                Drift::Missing(p) => (p, "is missing", None),
                Drift::Changed(p, diff) => (
                    p,
                    "differs from what the pinned realm generates",
                    Some(diff),
                ),
                Drift::Stale(p) => (p, "is no longer generated", None),
            };
            let path = files::relative(&plan.output.join(path), root);
            let message = format!("{language} client {path} {what}");
            let help = format!(
                "run `realm generate {}` and commit {path}",
                language.to_lowercase()
            );
            let f = Finding::new(Level::Drift, rules::CLIENT_STALE, &message)
                .with_help(&help)
                .in_file(&path);
            match rendered {
                Some(diff) => f.with_rendered(format!(
                    "{diff}error[{}]: {message}\n --> {path}\n  = help: {help}",
                    rules::CLIENT_STALE
                )),
                None => f,
            }
        })
        .collect::<Vec<_>>();
    let summary = format!(
        "{language} clients: {} of {} files stale",
        findings.len(),
        plan.files.len()
    );
    CheckResult::ran("generate", findings, summary)
}

/// Finds the clients `realm generate` wrote under `realms/` of the project
/// root (files that start with its header, by language and realm) and
/// checks them.
fn generate_check(ws: &Workspace) -> Result<CheckResult> {
    let root = &ws.project.root;
    let dir = root.join("realms");
    let pinned: Vec<&str> = ws.project.pins.iter().map(|p| p.name.as_str()).collect();
    let mut found: BTreeMap<&'static str, (Language, Vec<String>)> = BTreeMap::new();
    if dir.is_dir() {
        for language in [Language::Go, Language::TypeScript, Language::Rust] {
            for path in files::find_files(&dir, language.extension())? {
                let head = files::read_prefix(&path, 512)?;
                if !String::from_utf8_lossy(&head).contains(HEADER) {
                    continue;
                }
                let Ok(below) = path.strip_prefix(&dir) else {
                    continue;
                };
                let mut parts = below.components();
                let realm = parts.next().and_then(|c| c.as_os_str().to_str());
                let entry = found
                    .entry(language.name())
                    .or_insert_with(|| (language, Vec::new()));
                if let Some(realm) = realm
                    && parts.next().is_some()
                    && pinned.contains(&realm)
                    && !entry.1.iter().any(|r| r == realm)
                {
                    entry.1.push(realm.to_string());
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(CheckResult::skipped(
            "generate",
            "no clients generated by `realm generate` under realms/",
        ));
    }
    let mut findings = Vec::new();
    let mut summaries = Vec::new();
    for (language, realms) in found.into_values() {
        let request = Request {
            language,
            realms,
            output: root.clone(),
            go_import_path: None,
        };
        let plan = clients::plan(ws, &request)?;
        let drift = plan.drift()?;
        let result = generate_result(&plan, &drift, root);
        findings.extend(result.findings);
        summaries.push(result.summary);
    }
    Ok(CheckResult::ran("generate", findings, summaries.join("; ")))
}
