//! The ingress against nginx, in one run: the same checked JSON call
//! (`balance.account` of the example bank, a small request and reply) sent
//! by wrk (64 connections) straight to the runner, through `realm serve`
//! (one hop), and through nginx doing the same hop (one worker,
//! `proxy_pass` with upstream keepalive 64, access log off, adding the
//! `x-request-id` and `traceparent` headers realm adds). The runner is
//! nginx too (one worker, `return 200` with the reply). `realm` runs
//! without its access log too (`REALM_LOG=warn`), but in the `logged`
//! case, the fast path writing its access log line a call (to a file).
//!
//! Rounds are interleaved (direct, realm, nginx, three times) and the
//! median round is reported: req/s counting 2xx replies only, p50/p99, and
//! the proxy's CPU seconds per 100k calls (user + system of its processes,
//! from /proc/<pid>/stat), with the ratios realm/nginx and realm/direct;
//! then the latency each proxy adds to one call on one unloaded
//! connection. `realm` is this build with `[ingress] fast-path = true`
//! (plain HTTP/1.1 calls served by its own HTTP/1.1 code), `hyper` the
//! same binary with `fast-path = false` (every request through hyper), in
//! the same rounds; both are reported against nginx and against each
//! other. The same is measured for two hops over TLS: realm signing
//! and verifying calls (shop ingress → bank ingress over TLS) against
//! nginx → nginx over TLS.
//!
//! Needs nginx and wrk: installed with apt-get when missing and running as
//! root (said so), otherwise the bench says what is missing and stops.
//! Run with `cargo bench --bench proxy`; `-- --seconds N` sets the length
//! of each measurement (default 5); `-- --baseline PATH` adds another
//! `realm` binary (e.g. a release build of the last commit) to the one-hop
//! rounds, interleaved with the others, and reports this build against it.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::tls::Tls;
use support::tools::{copy_dir, free_port};

const CONNECTIONS: usize = 64;
const ROUNDS: usize = 3;
const REQUEST: &str = r#"{"id":"a1"}"#;
const REPLY: &str = r#"{"id":"a1","owner":"ada","balance":1200,"currency":"EUR"}"#;
const PATH: &str = "/realms/bank/balance/account";

struct Proc {
    child: Child,
    /// Every process whose CPU counts (nginx: master and worker).
    pids: Vec<u32>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // nginx's workers outlive a killed master: every process goes.
        for pid in &self.pids {
            if let Ok(pid) = libc::pid_t::try_from(*pid) {
                // SAFETY: sends a signal to a process this bench started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let option = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let seconds: u64 = option("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let baseline = option("--baseline").map(|path| baseline_binary(&path));
    if let Err(missing) = tools() {
        println!("proxy bench skipped: {missing}");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");

    // The bank, and a shop that pins it (for the two-hop path).
    let cache = support::tools::bank_and_shop(dir.path());
    let (bank, shop) = (dir.path().join("bank"), dir.path().join("shop"));
    let tls = Tls::new(dir.path());

    let runner = nginx(
        dir.path(),
        "runner",
        &format!("location / {{ default_type application/json; return 200 '{REPLY}'; }}"),
        None,
    );
    let nginx_proxy = nginx(dir.path(), "proxy", &proxy_location(runner.1, false), None);
    let runner_arg = [format!("--runner=balance=http://{}", runner.1)];
    let bank_fast = dir.path().join("bank-fast");
    copy_dir(&bank, &bank_fast);
    fast_path(&bank_fast, true);
    let bank_hyper = dir.path().join("bank-hyper");
    copy_dir(&bank, &bank_hyper);
    fast_path(&bank_hyper, false);
    let bank_logged = dir.path().join("bank-logged");
    copy_dir(&bank, &bank_logged);
    fast_path(&bank_logged, true);
    // Without the access log, as nginx runs here (`access_log off`); the
    // `logged` case is the fast path with it (a line a call, to a file).
    let quiet = [("REALM_LOG", "warn")];
    let realm = serve(realm_binary(), &bank_fast, &cache, &runner_arg, &quiet);
    let hyper = serve(realm_binary(), &bank_hyper, &cache, &runner_arg, &quiet);
    let logged = serve(realm_binary(), &bank_logged, &cache, &runner_arg, &[]);
    let base = baseline.map(|binary| {
        println!("baseline: {}", binary.display());
        serve(&binary, &bank, &cache, &runner_arg, &quiet)
    });

    println!(
        "one hop: wrk, {CONNECTIONS} connections, {seconds} s per case, {ROUNDS} interleaved rounds (median)"
    );
    let mut cases: Vec<(&str, SocketAddr, Vec<&Proc>)> = vec![
        ("direct", runner.1, vec![]),
        ("realm", realm.1, vec![&realm.0]),
        ("nginx", nginx_proxy.1, vec![&nginx_proxy.0]),
        ("hyper", hyper.1, vec![&hyper.0]),
        ("logged", logged.1, vec![&logged.0]),
    ];
    if let Some((proc_, addr)) = &base {
        cases.push(("baseline", *addr, vec![proc_]));
    }
    let one_hop = measure(&cases, seconds);
    report(&one_hop);

    // Two hops over TLS: realm signs (shop) and verifies (bank).
    let key = "c2hvcC1iYW5rLWJlbmNobWFyay1rZXktMzItYnl0ZXMhIQ==";
    let bank_tls = dir.path().join("bank-tls");
    copy_dir(&bank, &bank_tls);
    tls.install_server(&bank_tls);
    let shop_tls = dir.path().join("shop-tls");
    copy_dir(&shop, &shop_tls);
    tls.install_ca(&shop_tls);
    let keys = [
        ("REALM_KEY_SHOP", key),
        ("REALM_KEY_BANK", key),
        ("REALM_LOG", "warn"),
    ];
    let realm_bank = serve(
        realm_binary(),
        &bank_tls,
        &cache,
        &[format!("--runner=balance=http://{}", runner.1)],
        &keys,
    );
    let realm_shop = serve(
        realm_binary(),
        &shop_tls,
        &cache,
        &[format!(
            "--realm-endpoint=bank=https://127.0.0.1:{}",
            realm_bank.1.port()
        )],
        &keys,
    );
    let nginx_bank = nginx(
        dir.path(),
        "bank-tls",
        &proxy_location(runner.1, false),
        Some(&tls),
    );
    let nginx_shop = nginx(
        dir.path(),
        "shop-tls",
        &proxy_location(nginx_bank.1, true),
        None,
    );
    println!();
    println!(
        "two hops over TLS (realm: shop -> bank, signed; nginx: proxy -> proxy); CPU of both proxies"
    );
    let two_hops = measure(
        &[
            ("direct", runner.1, vec![]),
            ("realm", realm_shop.1, vec![&realm_shop.0, &realm_bank.0]),
            ("nginx", nginx_shop.1, vec![&nginx_shop.0, &nginx_bank.0]),
        ],
        seconds,
    );
    report(&two_hops);
    drop((realm_bank, nginx_bank));
}

/// What one case measured in one round.
#[derive(Clone, Debug, Default)]
struct Run {
    ok_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_per_100k: Option<f64>,
    errors: u64,
}

struct Results {
    names: Vec<&'static str>,
    /// Median round per case, and the unloaded p50 per case.
    loaded: Vec<Run>,
    unloaded_p50_us: Vec<f64>,
}

fn measure(cases: &[(&'static str, SocketAddr, Vec<&Proc>)], seconds: u64) -> Results {
    // Warm-up: pools filled, caches warm.
    for (_, addr, _) in cases {
        wrk(*addr, CONNECTIONS, 1);
    }
    let mut rounds: Vec<Vec<Run>> = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, addr, procs)) in cases.iter().enumerate() {
            let pids: Vec<u32> = procs.iter().flat_map(|p| p.pids.iter().copied()).collect();
            let cpu_before = cpu_seconds(&pids);
            let mut run = wrk(*addr, CONNECTIONS, seconds);
            if !pids.is_empty() {
                let used = cpu_seconds(&pids) - cpu_before;
                let calls = run.ok_per_sec * seconds as f64;
                run.cpu_per_100k = (calls > 0.0).then(|| used / calls * 100_000.0);
            }
            rounds[i].push(run);
        }
    }
    let loaded = rounds
        .into_iter()
        .map(|mut runs| {
            runs.sort_by(|a, b| a.ok_per_sec.total_cmp(&b.ok_per_sec));
            runs[runs.len() / 2].clone()
        })
        .collect();
    let unloaded_p50_us = cases
        .iter()
        .map(|(_, addr, _)| wrk(*addr, 1, 2).p50_us)
        .collect();
    Results {
        names: cases.iter().map(|(n, _, _)| *n).collect(),
        loaded,
        unloaded_p50_us,
    }
}

fn report(r: &Results) {
    println!(
        "{:<8} {:>10} {:>9} {:>9} {:>14} {:>12} {:>8}",
        "case", "2xx req/s", "p50 µs", "p99 µs", "CPU-s/100k", "1 conn p50", "errors"
    );
    for (i, name) in r.names.iter().enumerate() {
        let run = &r.loaded[i];
        println!(
            "{:<8} {:>10.0} {:>9.0} {:>9.0} {:>14} {:>9.0} µs {:>8}",
            name,
            run.ok_per_sec,
            run.p50_us,
            run.p99_us,
            run.cpu_per_100k
                .map_or("-".to_string(), |c| format!("{c:.2}")),
            r.unloaded_p50_us[i],
            run.errors
        );
    }
    let (direct, realm, nginx) = (&r.loaded[0], &r.loaded[1], &r.loaded[2]);
    println!(
        "realm/nginx: throughput {:.2}x, CPU per call {}, added p50 (1 conn) {:+.0} µs vs {:+.0} µs",
        realm.ok_per_sec / nginx.ok_per_sec,
        match (realm.cpu_per_100k, nginx.cpu_per_100k) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b),
            _ => "-".to_string(),
        },
        r.unloaded_p50_us[1] - r.unloaded_p50_us[0],
        r.unloaded_p50_us[2] - r.unloaded_p50_us[0],
    );
    println!(
        "realm/direct: throughput {:.2}x",
        realm.ok_per_sec / direct.ok_per_sec
    );
    let ratio = |a: &Run, b: &Run| match (a.cpu_per_100k, b.cpu_per_100k) {
        (Some(a), Some(b)) => format!("{:.2}x", a / b),
        _ => "-".to_string(),
    };
    for (i, name) in r.names.iter().enumerate().skip(3) {
        let other = &r.loaded[i];
        if *name == "hyper" {
            println!(
                "hyper/nginx: throughput {:.2}x, CPU per call {}",
                other.ok_per_sec / nginx.ok_per_sec,
                ratio(other, nginx),
            );
        }
        println!(
            "realm/{name}: throughput {:.2}x, CPU per call {}",
            realm.ok_per_sec / other.ok_per_sec,
            ratio(realm, other),
        );
    }
}

/// Sets `[ingress] fast-path` in the project at `dir`.
fn fast_path(dir: &Path, on: bool) {
    let path = dir.join("realm.toml");
    let text = std::fs::read_to_string(&path).expect("realm.toml");
    let text = text.replacen("[ingress]\n", &format!("[ingress]\nfast-path = {on}\n"), 1);
    assert!(
        text.contains("fast-path"),
        "no [ingress] in {}",
        path.display()
    );
    std::fs::write(&path, text).expect("write realm.toml");
}

/// The `--baseline` binary as an absolute path (`realm serve` runs in the
/// project's directory, where a relative path would not be found); this
/// build's own binary is refused, as it would be compared with itself.
fn baseline_binary(path: &str) -> PathBuf {
    let binary = std::fs::canonicalize(path).unwrap_or_else(|e| {
        panic!("--baseline {path}: {e}; pass the path of another realm binary")
    });
    let own = std::fs::canonicalize(realm_binary()).unwrap_or_else(|_| realm_binary().into());
    assert!(
        binary != own,
        "--baseline {path} is this build's own binary; copy a build of another commit elsewhere and pass that"
    );
    binary
}

/// The `realm` binary this bench was built with.
fn realm_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_realm"))
}

/// wrk against `addr` for `seconds`: 2xx replies per second, latency.
fn wrk(addr: SocketAddr, connections: usize, seconds: u64) -> Run {
    let script = std::env::temp_dir().join(format!("realm-proxy-bench-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{REQUEST}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
        ),
    )
    .expect("write wrk script");
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("http://{addr}{PATH}"))
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text, seconds).unwrap_or_else(|| panic!("unexpected wrk output:\n{text}"))
}

fn parse_wrk(text: &str, seconds: u64) -> Option<Run> {
    let number = |s: &str| s.trim().parse::<f64>().ok();
    let duration_us = |s: &str| {
        let s = s.trim();
        if let Some(v) = s.strip_suffix("us") {
            number(v)
        } else if let Some(v) = s.strip_suffix("ms") {
            number(v).map(|v| v * 1e3)
        } else {
            s.strip_suffix('s').and_then(number).map(|v| v * 1e6)
        }
    };
    let mut requests = None;
    let mut non_2xx = 0.0;
    let mut errors = 0u64;
    let mut p50 = None;
    let mut p99 = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("50%") {
            p50 = duration_us(rest);
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = duration_us(rest);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = number(rest)?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            errors += rest
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        } else if line.contains(" requests in ") {
            requests = line.split_whitespace().next().and_then(number);
        }
    }
    let ok = requests? - non_2xx;
    Some(Run {
        ok_per_sec: ok / seconds as f64,
        p50_us: p50?,
        p99_us: p99?,
        cpu_per_100k: None,
        errors: errors + non_2xx as u64,
    })
}

/// Whether nginx and wrk are here, installing them when we can.
fn tools() -> Result<(), String> {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let missing: Vec<&str> = ["nginx", "wrk"].into_iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root || !have("apt-get") {
        return Err(format!(
            "{} not installed (install the Debian packages nginx and wrk)",
            missing.join(" and ")
        ));
    }
    println!("installing {} with apt-get", missing.join(" and "));
    let ok = Command::new("sh")
        .args(["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk"])
        .status()
        .is_ok_and(|s| s.success());
    if ok && ["nginx", "wrk"].iter().all(|t| have(t)) {
        Ok(())
    } else {
        Err("apt-get could not install nginx and wrk".into())
    }
}

/// The nginx `location` of a proxy to `upstream`, as realm's hop does it:
/// keep-alive upstream connections, the request id and trace context
/// added.
fn proxy_location(upstream: SocketAddr, tls_upstream: bool) -> String {
    let scheme = if tls_upstream { "https" } else { "http" };
    format!(
        "location / {{\n  proxy_pass {scheme}://backend;\n  proxy_http_version 1.1;\n  proxy_set_header Connection \"\";\n  \
         proxy_set_header x-request-id $request_id;\n  proxy_set_header traceparent \"00-${{request_id}}-00f067aa0ba902b7-01\";\n  \
         proxy_ssl_verify off;\n  proxy_ssl_session_reuse on;\n}}\nupstream_marker {upstream}"
    )
}

/// An nginx with one worker serving `location` on a free port (TLS when
/// `tls` is given); returns it with its address.
fn nginx(dir: &Path, name: &str, location: &str, tls: Option<&Tls>) -> (Proc, SocketAddr) {
    let prefix = dir.join(format!("nginx-{name}"));
    std::fs::create_dir_all(prefix.join("logs")).expect("nginx dir");
    // `upstream_marker` carries the backend of a proxy location.
    let (location, upstream) = match location.split_once("\nupstream_marker ") {
        Some((loc, up)) => (
            loc.to_string(),
            format!("upstream backend {{ server {up}; keepalive 64; }}\n"),
        ),
        None => (location.to_string(), String::new()),
    };
    // nginx cannot be handed a bound socket here: take a free port and
    // check that nginx got it, trying again when another program took it.
    for _ in 0..5 {
        let port = free_port();
        let listen = match tls {
            Some(tls) => format!(
                "listen 127.0.0.1:{port} ssl;\n    ssl_certificate {};\n    ssl_certificate_key {};",
                tls.cert.display(),
                tls.key.display()
            ),
            None => format!("listen 127.0.0.1:{port};"),
        };
        let conf = format!(
            "worker_processes 1;\ndaemon off;\npid {pid};\nerror_log {log} warn;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path {tmp};\n  proxy_temp_path {tmp};\n  \
             {upstream}  server {{\n    {listen}\n    {location}\n  }}\n}}\n",
            pid = prefix.join("nginx.pid").display(),
            log = prefix.join("logs/error.log").display(),
            tmp = prefix.join("tmp").display(),
        );
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let child = Command::new("nginx")
            .arg("-e")
            .arg(prefix.join("logs/error.log"))
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut proc_ = Proc {
            child,
            pids: Vec::new(),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = proc_.child.try_wait() {
                break; // the port was taken: try another
            }
            if TcpStream::connect(addr).is_ok() {
                let master = proc_.child.id();
                proc_.pids = children(master);
                proc_.pids.push(master);
                return (proc_, addr);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default();
        println!(
            "nginx {name} could not listen on port {port}, trying another: {}",
            log.lines().last().unwrap_or("")
        );
    }
    panic!("nginx {name} did not start");
}

/// `realm serve` on a free port of its own choosing, read from its log.
fn serve(
    binary: &Path,
    dir: &Path,
    cache: &Path,
    args: &[String],
    env: &[(&str, &str)],
) -> (Proc, SocketAddr) {
    let log = dir.join(format!(
        "serve-{}.log",
        binary.to_string_lossy().replace('/', "_")
    ));
    let mut command = Command::new(binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env("REALM_CACHE_DIR", cache)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("realm serve");
    let pid = child.id();
    let proc_ = Proc {
        child,
        pids: vec![pid],
    };
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(addr) = text.lines().find_map(|l| {
            let rest = l.strip_prefix("Serving realm `")?;
            let url = rest.split_once(" on ")?.1;
            url.trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim()
                .parse()
                .ok()
        }) {
            return (proc_, addr);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "realm serve did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The children of a process (nginx's worker).
fn children(pid: u32) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let list =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let pids: Vec<u32> = list
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if !pids.is_empty() || started.elapsed() > Duration::from_secs(5) {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// User + system CPU seconds of the processes, from /proc/<pid>/stat.
fn cpu_seconds(pids: &[u32]) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command name (which may hold spaces).
            let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            (utime + stime) / ticks
        })
        .sum()
}
