//! `realm fake`: serve fakes of pinned realms from their pinned schemas.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use realm::fake::Options;
use realm::ingress;
use realm::workspace::Workspace;

/// Serve fakes of pinned realms: every `export realm` verb answered from the pinned schema
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each realm is served on the paths and protocols of its own ingress \
    (POST /realms/{realm}/{module}/{verb}, FTL's VerbService), and calls are checked as its \
    ingress checks them: a body the real realm refuses is refused the same way. Point this \
    project's ingress at it with --realm-endpoint NAME=URL (or NAME-realm-endpoint).\n\n\
    Replies: the first example of fakes/<realm>/<module>.<verb>.json that matches the request, \
    else a reply generated for the response type from --seed and the request (the same request \
    gets the same reply). Examples are checked against the pinned schema at start.\n\n\
    Examples:\n  \
    realm fake bank --listen 127.0.0.1:8872\n  \
    realm fake bank --seed 7 --latency 50ms --fail-rate 0.1"
)]
pub struct Args {
    /// The pinned realms to fake
    #[arg(required = true, value_name = "REALM", value_parser = super::realm_name)]
    realms: Vec<String>,

    /// Listen on this address (port 0: any free port); repeat once per realm, in order
    /// (realms without one listen on port 0 of the first address) [default: 127.0.0.1:0]
    #[arg(long, value_name = "ADDR", value_parser = address)]
    listen: Vec<std::net::SocketAddr>,

    /// Where every generated reply and injected failure starts: the same seed, the same answers
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,

    /// Wait this long before each answer (e.g. 50ms)
    #[arg(long, value_name = "DURATION", value_parser = realm::duration::parse)]
    latency: Option<std::time::Duration>,

    /// Answer this share of calls (0 to 1) with an injected failure (503 `fake_failure`),
    /// the same calls with the same seed
    #[arg(long, value_name = "RATE", value_parser = rate, default_value_t = 0.0)]
    fail_rate: f64,

    /// The directory of examples: <DIR>/<realm>/<module>.<verb>.json [default: fakes, in the project]
    #[arg(long, value_name = "DIR")]
    fakes: Option<PathBuf>,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

/// `--listen`: an IP address and a port, or a usage error.
fn address(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse::<std::net::SocketAddr>()
        .map_err(|_| format!("`{s}` is not an address; write an IP address and a port, e.g. 127.0.0.1:8872 or 0.0.0.0:0"))
}

/// `--fail-rate`: a number from 0 to 1.
fn rate(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("`{s}` is not a rate; give a number from 0 to 1, e.g. 0.1"))
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    crate::cli::allocator::huge_pages();
    let dir = super::current_dir()?;
    let ws = args
        .pinned
        .with_context(started_in, |ctx| Workspace::load(&dir, ctx))?;
    super::print_warnings(&ws);
    let fakes = match &args.fakes {
        Some(dir) => started_in.join(dir),
        None => ws.project.root.join("fakes"),
    };
    let options = Options {
        seed: args.seed,
        latency: args.latency.unwrap_or_default(),
        fail_rate: args.fail_rate,
    };
    let first: std::net::SocketAddr = args
        .listen
        .first()
        .copied()
        .unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
    let mut served = Vec::new();
    for (i, name) in args.realms.iter().enumerate() {
        let listen = args
            .listen
            .get(i)
            .copied()
            .unwrap_or_else(|| std::net::SocketAddr::new(first.ip(), 0));
        let ingress = realm::fake::ingress(&ws, name, listen, &fakes, options.clone())?;
        let listener = ingress::server::bind(listen)?;
        served.push((name, ingress, listener));
    }
    let _log = crate::cli::logging::init();
    for (name, ingress, listener) in &served {
        let local = listener.local_addr()?;
        errln!("Serving realm `{}` on http://{local}", ingress.realm());
        let pin = ws.project.pin(name);
        errln!(
            "  a fake of the realm pinned as `{name}`{}",
            pin.map_or(String::new(), |p| format!(" at {}", p.short_commit()))
        );
        for line in ingress.describe_routes() {
            errln!("  {line}");
        }
    }
    // Each realm on its own threads; the first on this one.
    let mut threads = Vec::new();
    let mut served = served.into_iter();
    let Some((_, first_ingress, first_listener)) = served.next() else {
        return Ok(ExitCode::SUCCESS);
    };
    for (_, ingress, listener) in served {
        threads.push(std::thread::spawn(move || serve(ingress, listener)));
    }
    let result = serve(first_ingress, first_listener);
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow!("a fake's server thread panicked"))??;
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Serves one fake until a signal stops it.
fn serve(ingress: std::sync::Arc<ingress::Ingress>, listener: std::net::TcpListener) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(on_idle)
        .build()?;
    runtime.block_on(async {
        let workers = ingress::server::Workers {
            count: ingress.config().limits.workers,
            on_idle: Some(on_idle),
        };
        let served = ingress::server::serve(
            ingress,
            listener,
            None,
            workers,
            ingress::server::shutdown_signal(),
        )
        .await;
        crate::cli::logging::flush();
        served.map_err(|e| anyhow!("the fake stopped: {e}"))
    })
}

fn on_idle() {
    crate::cli::logging::flush();
    crate::cli::allocator::on_idle();
}
