//! Ingress throughput and latency, in one run: the same call
//! (`balance.account`, a small JSON request and reply) made directly to the
//! bank's HTTP runner, through the bank's ingress (one hop), and through
//! the shop's ingress and then the bank's (two hops: egress + ingress), by
//! 64 concurrent keep-alive connections.
//!
//! The shop→bank hop is also measured signed (HMAC), over TLS, and both,
//! each as a ratio to the plain two-hop path.
//!
//! Run with `cargo bench --bench ingress`. The runner and the load generator
//! run in this process (separate runtimes); each ingress is a `realm serve`
//! process. Everything shares this machine's cores, so ratios are the
//! meaningful figures.
//!
//! `cargo bench --bench ingress -- --soak [SECONDS]` instead runs a soak
//! (default 60 s) through the signed TLS two-hop path and reports errors
//! and the resident memory of both ingresses at the start and the end.

#[path = "support/runner.rs"]
mod runner;

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use support::tls::Tls;
use support::tools::{copy_dir, free_port};

const CONNECTIONS: usize = 64;
const WARMUP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);
/// Cases run interleaved, this many times each; the median round counts,
/// so that a noisy neighbour slows every case alike.
const ROUNDS: usize = 3;
const BODY: &str = r#"{"id": "a1"}"#;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = support::tools::bank_and_shop(dir.path());
    let (bank, shop) = (dir.path().join("bank"), dir.path().join("shop"));
    let realm = env!("CARGO_BIN_EXE_realm");

    // The bank's runner, in this process on a runtime of its own.
    let runner = runner::bank_runner();

    // The bank over TLS (a CA and a certificate for 127.0.0.1 made here),
    // and a shop that trusts that CA.
    let tls = Tls::new(dir.path());
    let bank_tls = dir.path().join("bank-tls");
    copy_dir(&bank, &bank_tls);
    tls.install_server(&bank_tls);
    let shop_tls = dir.path().join("shop-tls");
    copy_dir(&shop, &shop_tls);
    tls.install_ca(&shop_tls);
    let key = "c2hvcC1iYW5rLWJlbmNobWFyay1rZXktMzItYnl0ZXMhIQ==";
    let args: Vec<String> = std::env::args().collect();
    let soak_seconds = args
        .iter()
        .position(|a| a == "--soak")
        .map(|i| args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(60));
    if soak_seconds.is_some() {
        // The nonce cache holds what arrived within two replay windows; a
        // 10 s window lets it reach its steady size during the warm-up.
        let toml = bank_tls.join("realm.toml");
        let text = std::fs::read_to_string(&toml).expect("read");
        let text = text.replacen("[ingress]\n", "[ingress]\nreplay-window = \"10s\"\n", 1);
        std::fs::write(&toml, text).expect("write");
    }

    let bank_port = free_port();
    let shop_port = free_port();
    let serve_with = |dir: &Path, port: u16, args: &[String], log: &str, env: &[(&str, &str)]| {
        let mut command = Command::new(realm);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .current_dir(dir)
            .env("REALM_CACHE_DIR", &cache)
            .env("REALM_LOG", log)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        Proc(command.spawn().expect("realm serve"))
    };
    let serve =
        |dir: &Path, port: u16, args: &[String], log: &str| serve_with(dir, port, args, log, &[]);
    let _bank_ingress = serve(
        &bank,
        bank_port,
        &[format!("--runner=balance=http://{runner}")],
        "warn",
    );
    let _shop_ingress = serve(
        &shop,
        shop_port,
        &[format!(
            "--realm-endpoint=bank=http://127.0.0.1:{bank_port}"
        )],
        "warn",
    );
    let logged_port = free_port();
    let _logged_ingress = serve(
        &bank,
        logged_port,
        &[format!("--runner=balance=http://{runner}")],
        "info",
    );

    // The same two hops, signed, over TLS, and both.
    let runner_arg = format!("--runner=balance=http://{runner}");
    let mut variants = Vec::new();
    for (signed, tls) in [(true, false), (false, true), (true, true)] {
        let bank_port = free_port();
        let shop_port = free_port();
        let env: &[(&str, &str)] = if signed {
            &[("REALM_KEY_SHOP", key), ("REALM_KEY_BANK", key)]
        } else {
            &[]
        };
        let (bank_dir, shop_dir, scheme) = if tls {
            (&bank_tls, &shop_tls, "https")
        } else {
            (&bank, &shop, "http")
        };
        let bank_proc = serve_with(
            bank_dir,
            bank_port,
            std::slice::from_ref(&runner_arg),
            "warn",
            env,
        );
        let shop_proc = serve_with(
            shop_dir,
            shop_port,
            &[format!(
                "--realm-endpoint=bank={scheme}://127.0.0.1:{bank_port}"
            )],
            "warn",
            env,
        );
        variants.push((signed, tls, shop_port, bank_proc, shop_proc));
    }

    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = |port: u16| -> SocketAddr { format!("127.0.0.1:{port}").parse().expect("addr") };
    for port in [bank_port, shop_port, logged_port] {
        load.block_on(wait_ready(addr(port)));
    }
    for (_, _, port, _, _) in &variants {
        load.block_on(wait_ready(addr(*port)));
    }
    // The TLS ingresses listen before they are ready to answer calls.
    std::thread::sleep(Duration::from_millis(300));

    if let Some(seconds) = soak_seconds {
        let (_, _, port, bank_proc, shop_proc) = &variants[2];
        soak(
            &load,
            addr(*port),
            seconds,
            &[("shop", shop_proc.0.id()), ("bank", bank_proc.0.id())],
        );
        return;
    }

    let cases = [
        (
            "direct to the HTTP runner",
            runner,
            "/balance/account".to_string(),
        ),
        (
            "1 hop: bank ingress",
            addr(bank_port),
            "/realms/bank/balance/account".to_string(),
        ),
        (
            "2 hops: shop egress + bank ingress",
            addr(shop_port),
            "/realms/bank/balance/account".to_string(),
        ),
        (
            "1 hop, access log at info",
            addr(logged_port),
            "/realms/bank/balance/account".to_string(),
        ),
        (
            "2 hops, signed",
            addr(variants[0].2),
            "/realms/bank/balance/account".to_string(),
        ),
        (
            "2 hops, TLS",
            addr(variants[1].2),
            "/realms/bank/balance/account".to_string(),
        ),
        (
            "2 hops, signed + TLS",
            addr(variants[2].2),
            "/realms/bank/balance/account".to_string(),
        ),
    ];
    let mut rounds: Vec<Vec<Outcome>> = (0..cases.len()).map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for (i, (_, target, path)) in cases.iter().enumerate() {
            rounds[i].push(load.block_on(run(*target, path, CONNECTIONS)));
        }
    }
    let median = |outcomes: &mut Vec<Outcome>| {
        outcomes.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        outcomes.remove(outcomes.len() / 2)
    };
    let results: Vec<(&str, Outcome)> = cases
        .iter()
        .zip(rounds.iter_mut())
        .map(|((name, _, _), outcomes)| (*name, median(outcomes)))
        .collect();
    // Unloaded: one connection, calls back to back: what a hop adds to a
    // single call.
    let unloaded: Vec<Outcome> = cases
        .iter()
        .map(|(_, target, path)| load.block_on(run(*target, path, 1)))
        .collect();

    let (_, direct) = &results[0];
    println!(
        "{CONNECTIONS} connections, {ROUNDS} interleaved rounds of {}s (median round), POST {{\"id\": \"a1\"}} -> Account JSON",
        MEASURE.as_secs(),
    );
    println!(
        "{:<36} {:>9} {:>8} {:>8} {:>10} {:>9} | {:>11} {:>11}",
        "case", "req/s", "p50 µs", "p99 µs", "vs direct", "+p50 µs", "1 conn p50", "+p50 µs"
    );
    for ((name, r), u) in results.iter().zip(&unloaded) {
        println!(
            "{name:<36} {:>9.0} {:>8} {:>8} {:>9.0}% {:>9} | {:>11} {:>11}",
            r.rps,
            r.p50,
            r.p99,
            100.0 * r.rps / direct.rps,
            r.p50 as i64 - direct.p50 as i64,
            u.p50,
            u.p50 as i64 - unloaded[0].p50 as i64
        );
    }
    let (_, plain) = &results[2];
    println!(
        "cost of each on the shop -> bank hop, against plain 2 hops ({:.0} req/s, 1 conn p50 {} µs):",
        plain.rps, unloaded[2].p50
    );
    for i in 4..results.len() {
        let (name, r) = &results[i];
        println!(
            "  {name:<22} throughput {:.2}x   1 conn p50 {:+} µs",
            r.rps / plain.rps,
            unloaded[i].p50 as i64 - unloaded[2].p50 as i64
        );
    }
    println!(
        "(errors: {}; \"1 conn\": a single connection, unloaded; +p50: added to the direct call)",
        results.iter().map(|(_, r)| r.errors).sum::<u64>()
            + unloaded.iter().map(|u| u.errors).sum::<u64>()
    );
}

/// Load through `target` for `seconds`, 64 connections; errors and RSS of
/// the given processes at the start (after a warm-up) and the end.
fn soak(load: &tokio::runtime::Runtime, target: SocketAddr, seconds: u64, procs: &[(&str, u32)]) {
    let path = "/realms/bank/balance/account";
    // Warm-up, longer than two replay windows: pools filled, the nonce
    // cache at its steady size.
    let warm_until = Instant::now() + Duration::from_secs(25);
    while Instant::now() < warm_until {
        load.block_on(run(target, path, CONNECTIONS));
    }
    let start: Vec<u64> = procs.iter().map(|(_, pid)| rss_kib(*pid)).collect();
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut calls = 0u64;
    let mut errors = 0u64;
    let mut samples = Vec::new();
    while Instant::now() < until {
        let r = load.block_on(run(target, path, CONNECTIONS));
        calls += (r.rps * MEASURE.as_secs_f64()) as u64;
        errors += r.errors;
        samples.push(
            procs
                .iter()
                .map(|(_, pid)| rss_kib(*pid))
                .collect::<Vec<_>>(),
        );
        println!(
            "  {:>4.0}s {:>7.0} req/s, p99 {} µs, errors {}, RSS {:?} KiB",
            seconds as f64
                - until
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64(),
            r.rps,
            r.p99,
            r.errors,
            samples.last()
        );
    }
    let end: Vec<u64> = procs.iter().map(|(_, pid)| rss_kib(*pid)).collect();
    println!(
        "soak: {seconds} s after a 25 s warm-up, through shop -> bank (signed, TLS, replay window 10 s), {CONNECTIONS} connections: {calls} calls, {errors} errors"
    );
    for (i, (name, _)) in procs.iter().enumerate() {
        let peak = samples.iter().map(|s| s[i]).max().unwrap_or(0);
        println!(
            "  {name} ingress RSS: start {} KiB, end {} KiB ({:+.1}%), peak {} KiB",
            start[i],
            end[i],
            100.0 * (end[i] as f64 - start[i] as f64) / start[i].max(1) as f64,
            peak
        );
    }
}

/// Resident memory of a process, from /proc.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

struct Outcome {
    rps: f64,
    p50: u64,
    p99: u64,
    errors: u64,
}

async fn run(target: SocketAddr, path: &str, connections: usize) -> Outcome {
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let until = measure_from + MEASURE;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let path = path.to_string();
            tokio::spawn(async move { connection(target, path, measure_from, until).await })
        })
        .collect();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut errors = 0;
    for task in tasks {
        let (h, e) = task.await.expect("connection task");
        histogram.add(h).expect("merge");
        errors += e;
    }
    Outcome {
        rps: histogram.len() as f64 / MEASURE.as_secs_f64(),
        p50: histogram.value_at_quantile(0.50),
        p99: histogram.value_at_quantile(0.99),
        errors,
    }
}

/// One keep-alive connection sending calls back to back; latencies (µs)
/// of the calls that start inside the measured window.
async fn connection(
    target: SocketAddr,
    path: String,
    measure_from: Instant,
    until: Instant,
) -> (Histogram<u64>, u64) {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut errors = 0;
    let stream = tokio::net::TcpStream::connect(target)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let body = Bytes::from_static(BODY.as_bytes());
    loop {
        let now = Instant::now();
        if now >= until {
            break;
        }
        let request = http::Request::post(path.as_str())
            .header(http::header::HOST, target.to_string())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))
            .expect("request");
        if sender.ready().await.is_err() {
            errors += 1;
            break;
        }
        match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status().is_success();
                let _ = response.into_body().collect().await;
                if !ok {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
        if now >= measure_from {
            let _ = histogram.record(now.elapsed().as_micros().max(1) as u64);
        }
    }
    (histogram, errors)
}

async fn wait_ready(addr: SocketAddr) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing listens on {addr}");
}
