//! `realm generate`: write typed clients of pinned realms, or check them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;
use realm::clients::{self, Drift, Request};
use realm::generate::Language;
use realm::workspace::Workspace;

use super::{EXIT_CHECK_FAILED, display_path};

/// Generate typed clients of pinned realms (Go, TypeScript, Rust)
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Code for every `export realm` data, enum, type alias and verb of each pinned \
    realm, in a package path that carries the realm: Go packages \
    <import path>/realms/<realm>/<module>, TypeScript modules realms/<realm>/<module>.ts, \
    Rust modules realms::<realm>::<module>. Each verb calls POST /realms/<realm>/<module>/<verb> \
    on the local ingress (`realm serve`), whose URL the caller passes or REALM_ENDPOINT gives.\n\n\
    Go: the import path of the output directory comes from the nearest go.mod at or above it \
    (its module path, plus the way down to the directory), or --go-import-path.\n\n\
    Examples:\n  \
    realm generate go                          # realms/ in the project root\n  \
    realm generate typescript --output web/src\n  \
    realm generate rust --realm bank --output src\n  \
    realm generate go --check                  # in CI: exit 3 with a diff when stale"
)]
pub struct Args {
    /// The language to generate
    #[arg(value_enum, value_name = "LANGUAGE")]
    language: Lang,

    /// Only this pinned realm (repeatable) [default: every pinned realm]
    #[arg(long = "realm", value_name = "NAME", value_parser = super::realm_name)]
    realms: Vec<String>,

    /// The directory `realms/` is written in [default: the project root]
    #[arg(long, short, value_name = "DIR")]
    output: Option<PathBuf>,

    /// Go: the import path of the output directory [default: from go.mod]
    #[arg(long, value_name = "PATH")]
    go_import_path: Option<String>,

    /// Write nothing; exit 3 with a diff when the files on disk are stale
    #[arg(long)]
    check: bool,

    /// With --check: how to report findings: text, json, github, sarif, junit (see `realm check --help`); other than text, the report is what stdout holds
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = super::ErrorFormat::Text, requires = "check")]
    error_format: super::ErrorFormat,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    Go,
    #[value(alias = "ts")]
    Typescript,
    #[value(alias = "rs")]
    Rust,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let dir = super::current_dir()?;
    let loaded = args
        .pinned
        .with_context(started_in, |ctx| Ok(Workspace::load(&dir, ctx)))?;
    let ws = match loaded {
        Ok(ws) => ws,
        Err(e) if args.error_format != super::ErrorFormat::Text => {
            return super::print_check(
                realm::report::CheckResult::of_error("schema", &e),
                args.error_format.get(),
            );
        }
        Err(e) => return Err(e),
    };
    let language = match args.language {
        Lang::Go => Language::Go,
        Lang::Typescript => Language::TypeScript,
        Lang::Rust => Language::Rust,
    };
    let request = Request {
        language,
        realms: args.realms,
        output: args.output.unwrap_or_else(|| ws.project.root.clone()),
        go_import_path: args.go_import_path,
    };
    if args.error_format != super::ErrorFormat::Text {
        let root = ws.project.root.clone();
        let check = clients::plan(&ws, &request)
            .and_then(|plan| {
                let drift = plan.drift()?;
                Ok(realm::check::generate_result(&plan, &drift, &root))
            })
            .unwrap_or_else(|e| realm::report::CheckResult::of_error("generate", &e));
        return super::print_check(check, args.error_format.get());
    }
    let plan = clients::plan(&ws, &request)?;
    let realms_dir = display_path(&plan.output.join("realms"));
    let names: Vec<String> = plan
        .realms
        .iter()
        .map(|(name, commit)| format!("{name}@{}", &commit[..commit.len().min(7)]))
        .collect();
    if args.check {
        let drift = plan.drift()?;
        if drift.is_empty() {
            errln!(
                "The {} clients in {realms_dir} are up to date ({})",
                language.name(),
                names.join(", ")
            );
            return Ok(ExitCode::SUCCESS);
        }
        for d in &drift {
            match d {
                Drift::Changed(_, diff) => out!("{diff}")?,
                Drift::Missing(path) => errln!("missing: {}", display_path(path)),
                Drift::Stale(path) => errln!("no longer generated: {}", display_path(path)),
            }
        }
        errln!(
            "error: the {} clients in {realms_dir} are stale: {} of {} files differ{}\n\
             help: run `realm generate {}` and commit {realms_dir}",
            language.name(),
            drift
                .iter()
                .filter(|d| !matches!(d, Drift::Stale(_)))
                .count(),
            plan.files.len(),
            match drift
                .iter()
                .filter(|d| matches!(d, Drift::Stale(_)))
                .count()
            {
                0 => String::new(),
                n => format!(", {n} to remove"),
            },
            args.language
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        );
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    let written = plan.write()?;
    errln!(
        "Generated {} clients of {} in {realms_dir}: {} written, {} unchanged{}",
        language.name(),
        names.join(", "),
        super::plural(written.written, "file"),
        written.unchanged,
        match written.removed {
            0 => String::new(),
            n => format!(", {} removed", super::plural(n, "stale file")),
        }
    );
    Ok(ExitCode::SUCCESS)
}
