//! `realm serve`: run this realm's ingress.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use realm::ingress::{self, Overrides};
use realm::workspace::Workspace;

/// Run the ingress of this realm: route verb calls to its runners and to other realms
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Calls are POST /realms/{realm}/{module}/{verb} with a JSON body; \
    GET /.well-known/realm answers this realm's public schema (JSON with Accept: application/json).\n\n\
    Runners (where this realm's modules are served): --runner MODULE=URL, then \
    $REALM_RUNNER_<MODULE>, then [ingress.runners] in realm.toml (`default` may use ${module}).\n\
    Other realms' ingresses (the config value <name>-realm-endpoint): --realm-endpoint NAME=URL, \
    then $<NAME>_REALM_ENDPOINT, then the config provider file.\n\
    Logs (one line per call) go to stderr; set REALM_LOG (e.g. warn, debug) to change the level.\n\
    SIGTERM, SIGHUP and Ctrl-C: calls in flight finish (up to 30 s), then it exits (no reload).\n\n\
    Examples:\n  \
    realm serve\n  \
    realm serve --listen 0.0.0.0:8871 --runner checkout=http://127.0.0.1:9001\n  \
    realm serve --realm-endpoint bank=https://ingress.bank.example.com\n  \
    realm serve --record fakes/"
)]
pub struct Args {
    /// Listen on this address (port 0: any free port) [default: [ingress] listen, or 127.0.0.1:8871]
    #[arg(long, value_name = "ADDR", value_parser = address)]
    listen: Option<String>,

    /// The runner of a module: MODULE=URL (repeatable)
    #[arg(long = "runner", value_name = "MODULE=URL", value_parser = pair)]
    runners: Vec<(String, String)>,

    /// The ingress of a pinned realm: NAME=URL (repeatable)
    #[arg(long = "realm-endpoint", value_name = "NAME=URL", value_parser = pair)]
    realm_endpoints: Vec<(String, String)>,

    /// An FTL cluster's verb service, for modules without a runner
    /// [default: $FTL_ENDPOINT, or [ingress] ftl-endpoint]
    #[arg(long = "ftl-endpoint", value_name = "URL")]
    ftl_endpoint: Option<String>,

    /// Keep the calls that cross to other realms as examples for `realm fake`:
    /// DIR/<realm>/<module>.<verb>.json (bodies only, no headers)
    #[arg(long, value_name = "DIR")]
    record: Option<std::path::PathBuf>,

    /// With --record: leave out the member at this path of bodies (e.g. $.card.number;
    /// repeatable)
    #[arg(long = "record-redact", value_name = "PATH", requires = "record", value_parser = realm::fake::record::Redacted::parse)]
    record_redact: Vec<realm::fake::record::Redacted>,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

/// `--listen`: an IP address and a port, or a usage error.
fn address(s: &str) -> Result<String, String> {
    s.parse::<std::net::SocketAddr>()
        .map(|_| s.to_string())
        .map_err(|_| format!("`{s}` is not an address; write an IP address and a port, e.g. 127.0.0.1:8871 or 0.0.0.0:0"))
}

fn pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("`{s}` is not NAME=URL"))
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    crate::cli::allocator::huge_pages();
    let dir = super::current_dir()?;
    let (ws, callers) = args.pinned.with_context(started_in, |ctx| {
        let ws = Workspace::load(&dir, ctx)?;
        let callers = ingress::pinned_callers(&ws.project, ctx)?;
        Ok((ws, callers))
    })?;
    super::print_warnings(&ws);
    // The first worker of the ingress (see `ingress::server`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(on_idle)
        .build()?;
    runtime.block_on(async {
        let overrides = Overrides {
            listen: args.listen,
            runners: args.runners,
            realm_endpoints: args.realm_endpoints,
            ftl_endpoint: args.ftl_endpoint,
        };
        let _log = crate::cli::logging::init();
        let ingress = ingress::from_workspace(&ws, &overrides, callers)?;
        for warning in ingress.warnings() {
            errln!("warning: {warning}");
        }
        let tls = ingress::server_tls(ingress.config())?;
        let addr = ingress.config().listen;
        let listener = ingress::server::bind(addr)?;
        let local = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        errln!("Serving realm `{}` on {scheme}://{local}", ingress.realm());
        for line in ingress.describe_routes() {
            errln!("  {line}");
        }
        if let Some(dir) = &args.record {
            let dir = started_in.join(dir);
            let redact = args.record_redact.clone();
            ingress.record_to(realm::fake::recorder(&ws, dir.clone(), redact)?);
            errln!(
                "  records the calls that cross to other realms in {} (bodies only{})",
                super::display_path(&dir),
                if args.record_redact.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} redacted",
                        super::plural(args.record_redact.len(), "path")
                    )
                }
            );
        }
        // Queued calls and idempotency keys: the project's store, unless
        // another ingress of this project holds it.
        match ingress.open_queue(&ws.project)? {
            ingress::QueueOpened::Open { store } => {
                errln!("  queues calls that ask `Prefer: respond-async` ({store})");
            }
            ingress::QueueOpened::NotOpened { why } => {
                let shared = ws.project.ingress.store.as_deref().is_some_and(|s| s.starts_with("nats://"));
                errln!(
                    "warning: {why}; calls are not queued, idempotency keys not kept{}",
                    if shared {
                        ", and a signed call is checked against this replica's replay cache only, not the one the replicas share"
                    } else {
                        ""
                    }
                )
            }
        }
        let workers = ingress::server::Workers {
            count: ingress.config().limits.workers,
            on_idle: Some(on_idle),
        };
        let served =
            ingress::server::serve(ingress, listener, tls, workers, shutdown_signal()).await;
        // This thread's last lines, before the log's writer stops.
        crate::cli::logging::flush();
        served.map_err(|e| anyhow!("the ingress stopped: {e}"))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What an ingress worker does before it sleeps: hand over its log lines,
/// give freed memory back.
fn on_idle() {
    crate::cli::logging::flush();
    crate::cli::allocator::on_idle();
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP ([`ingress::server::shutdown_signal`]),
/// saying so.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let signal = ingress::server::shutdown_signal();
    async move {
        signal.await;
        errln!("Shutting down: finishing calls in flight");
    }
}
