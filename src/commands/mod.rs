//! Command-line arguments (clap) and one module per subcommand. A command
//! parses its arguments, calls the library and renders the result; it holds
//! no behaviour of its own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

// First: its print macros are used by the commands below.
#[macro_use]
pub mod output;

mod add;
mod call;
mod check;
mod check_callers;
mod completions;
mod deliveries;
mod explain;
mod export;
mod fake;
mod generate;
mod import;
mod init;
mod keys;
mod list;
mod man;
mod migrate;
mod progress;
mod remove;
mod schema;
mod serve;
mod status;
mod table;
mod update;

/// An error: bad input, a failed fetch, an invalid schema.
pub const EXIT_ERROR: u8 = 1;
/// A check found drift or a breaking change (`--check`, `--deny-breaking`).
pub const EXIT_CHECK_FAILED: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "realm",
    version,
    about = "Schema federation between service clusters (realms)",
    after_help = "A realm pins the public API of other realms to git commits in ftl-project.toml \
        (FTL's [external-realms]; realm's own settings are in realm.toml beside it), \
        exports its own public API (every `export realm` declaration and what it uses) as \
        protobuf text format, and routes verb calls between realms.\n\n\
        Exit codes: 0 success, 1 error, 2 usage error, 3 a check found drift.\n\n\
        Examples:\n  realm init --name shop\n  realm add --git-repo https://git.example.com/bank/accounts.git\n  \
        realm update --check\n  realm schema\n  realm export --check\n  realm -C examples/bank export"
)]
pub struct Cli {
    /// Run as if realm was started in DIR
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The options of commands that read pinned realms (and may fetch them).
#[derive(clap::Args, Debug)]
pub struct PinnedRealms {
    /// Never use the network: read pinned realms from the cache, or fail
    #[arg(long)]
    offline: bool,

    #[command(flatten)]
    cache: CacheDir,

    /// Treat schema warnings (what FTL accepts but realm points out) as errors: for CI
    #[arg(long)]
    deny_warnings: bool,
}

/// `--cache-dir`, for commands that read the git cache.
#[derive(clap::Args, Debug)]
pub struct CacheDir {
    /// Where fetched repositories are cached [env: REALM_CACHE_DIR] [default: $XDG_CACHE_HOME/realm]
    // Not clap's `env`: clap would show `[env: REALM_CACHE_DIR=]`, and a
    // usage error's usage line would list `--cache-dir <DIR>` as if it were
    // required whenever the variable is set.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

impl CacheDir {
    /// The cache directory: `--cache-dir`, else `$REALM_CACHE_DIR`, else
    /// the user's cache directory. A relative path is relative to where
    /// realm was started, not to `-C`.
    fn resolve(&self, started_in: &Path) -> anyhow::Result<PathBuf> {
        match self
            .cache_dir
            .clone()
            .or_else(|| env_path("REALM_CACHE_DIR"))
        {
            Some(dir) => Ok(started_in.join(dir)),
            None => realm::pins::default_cache_dir(),
        }
    }

    /// The cache, for commands that only read it.
    fn open(&self, started_in: &Path) -> anyhow::Result<realm::pins::Cache> {
        Ok(realm::pins::Cache::new(self.resolve(started_in)?))
    }
}

impl PinnedRealms {
    /// The pin context: the cache, offline mode, and progress bars on
    /// stderr when it is a terminal.
    fn with_context<T>(
        &self,
        started_in: &Path,
        f: impl FnOnce(&realm::pins::Context) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let dir = self.cache.resolve(started_in)?;
        let bars = progress::Bars::for_stderr();
        let report = |realm: &str, t: realm::pins::Transfer| bars.update(realm, t);
        let ctx = realm::pins::Context {
            cache: realm::pins::Cache::new(dir),
            offline: self.offline,
            progress: bars
                .enabled()
                .then_some(&report as &(dyn Fn(&str, realm::pins::Transfer) + Sync)),
            deny_warnings: self.deny_warnings,
        };
        let out = f(&ctx);
        bars.finish();
        out
    }
}

/// A non-empty environment variable as a path.
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Init(init::Args),
    Add(add::Args),
    Update(update::Args),
    List(list::Args),
    Remove(remove::Args),
    Migrate(migrate::Args),
    Import(import::Args),
    Keys(keys::Args),
    Serve(serve::Args),
    Fake(fake::Args),
    Call(call::Args),
    Status(status::Args),
    Deliveries(deliveries::Args),
    Schema(schema::Args),
    Export(export::Args),
    Check(check::Args),
    CheckCallers(check_callers::Args),
    Explain(explain::Args),
    Generate(generate::Args),
    Completions(completions::Args),
    Man(man::Args),
}

/// How a schema is printed: schema text, or FTL's xyz.block.ftl.schema.v1.Schema as
/// protobuf JSON or text format. (The values carry no doc comments: clap
/// would then print a long `--help` for the commands that take one, unlike
/// the others.)
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Txtpb,
}

/// How data (lists, diffs) is printed: for people or for programs.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFormat {
    Text,
    Json,
}

/// How findings are reported: for people, or for CI (`--error-format`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorFormat {
    Text,
    Json,
    Github,
    Sarif,
    Junit,
}

/// `--error-format`, for the commands that report findings.
#[derive(clap::Args, Debug)]
pub struct ErrorFormatArg {
    /// How to report findings: text, json, github (workflow commands: annotations on the lines), sarif (2.1.0), junit (XML, a test case per check); other than text, the report is what stdout holds
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ErrorFormat::Text)]
    error_format: ErrorFormat,
}

impl ErrorFormatArg {
    fn get(&self) -> realm::report::ErrorFormat {
        self.error_format.get()
    }

    /// Whether findings go out in a format for programs (not text).
    fn is_report(&self) -> bool {
        self.error_format != ErrorFormat::Text
    }
}

impl ErrorFormat {
    fn get(self) -> realm::report::ErrorFormat {
        use realm::report::ErrorFormat as F;
        match self {
            ErrorFormat::Text => F::Text,
            ErrorFormat::Json => F::Json,
            ErrorFormat::Github => F::Github,
            ErrorFormat::Sarif => F::Sarif,
            ErrorFormat::Junit => F::Junit,
        }
    }
}

/// Prints one check's result in `format` on stdout; its exit code.
fn print_check(
    check: realm::report::CheckResult,
    format: realm::report::ErrorFormat,
) -> anyhow::Result<ExitCode> {
    print_run(
        &realm::report::Run {
            checks: vec![check],
        },
        format,
    )
}

/// Prints a run of checks in `format` on stdout; its exit code.
fn print_run(
    run: &realm::report::Run,
    format: realm::report::ErrorFormat,
) -> anyhow::Result<ExitCode> {
    output::write_stdout(run.render(format).as_bytes())?;
    Ok(ExitCode::from(run.exit_code()))
}

/// Runs `command`; `started_in` is the directory realm was started in
/// (before `-C`).
pub fn run(command: Command, started_in: &Path) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init(args) => init::run(args),
        Command::Add(args) => add::run(args, started_in),
        Command::Update(args) => update::run(args, started_in),
        Command::List(args) => list::run(args, started_in),
        Command::Remove(args) => remove::run(args),
        Command::Migrate(args) => migrate::run(args, started_in),
        Command::Import(args) => import::run(args),
        Command::Keys(args) => keys::run(args, started_in),
        Command::Serve(args) => serve::run(args, started_in),
        Command::Fake(args) => fake::run(args, started_in),
        Command::Call(args) => call::run(args),
        Command::Status(args) => status::run(args),
        Command::Deliveries(args) => deliveries::run(args),
        Command::Schema(args) => schema::run(args, started_in),
        Command::Export(args) => export::run(args, started_in),
        Command::Check(args) => check::run(args, started_in),
        Command::CheckCallers(args) => check_callers::run(args, started_in),
        Command::Explain(args) => explain::run(args),
        Command::Generate(args) => generate::run(args, started_in),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// A realm name given on the command line (`--name`): an identifier, or a
/// usage error (exit 2) that says what one is.
fn realm_name(text: &str) -> Result<String, String> {
    if realm::schema::is_ident(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a realm name: use letters, digits and `_`, starting with a letter or `_` (e.g. `bank` or `bank_eu`)"
        ))
    }
}

/// Prints the schema's warnings on stderr (they do not fail the command).
fn print_warnings(ws: &realm::workspace::Workspace) {
    if let Some(report) = ws.warnings_report() {
        errln!("{report}");
    }
}

/// Prints the project files' warnings on stderr (they do not fail the
/// command), for commands that do not load the whole workspace.
fn print_project_warnings(project: &realm::project::Project) {
    if let Some(report) = project.warnings_report() {
        errln!("{report}");
    }
}

/// A duration given on the command line (`--timeout`): more than zero,
/// or a usage error.
fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    match realm::duration::parse(text)? {
        d if d.is_zero() => Err(format!(
            "`{text}` is no time at all; give a duration such as 10s"
        )),
        d => Ok(d),
    }
}

/// `1 file`, `3 files`.
fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The current directory, where the project is looked for.
fn current_dir() -> anyhow::Result<PathBuf> {
    std::env::current_dir().map_err(|e| anyhow::anyhow!("cannot read the current directory: {e}"))
}

/// `path` as the user should see it: relative to the current directory when
/// it is below it.
fn display_path(path: &std::path::Path) -> String {
    match std::env::current_dir() {
        Ok(cwd) => realm::files::relative(path, &cwd.canonicalize().unwrap_or(cwd)),
        Err(_) => path.display().to_string(),
    }
}

/// The ingress to talk to: the given URL, `$REALM_ENDPOINT`, or this
/// project's own.
fn ingress_endpoint(given: Option<String>) -> anyhow::Result<String> {
    if let Some(url) = given.or_else(|| {
        std::env::var("REALM_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
    }) {
        return Ok(url);
    }
    let project = realm::project::Project::discover(&current_dir()?).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nhelp: pass --endpoint URL (or set REALM_ENDPOINT) to name the ingress"
        )
    })?;
    Ok(realm::ingress::config::own_url(&project))
}
