//! Queued acceptance against direct calls, in one run: the same checked
//! JSON call (`balance.account` of the example bank) sent to the bank's
//! ingress directly (through to the runner and back) and with
//! `Prefer: respond-async` (checked, committed to the embedded store,
//! answered 202; the delivery worker sends it on in the background, on
//! the same machine). `CONNECTIONS` keep-alive connections, each making
//! `CALLS` calls one after another; the cases are interleaved, three
//! rounds, the median round reported: calls/s, p50/p99 latency, and the
//! ingress's CPU time per call (user + system, read from `/proc` as
//! `getrusage` would count it), from the first call until the last is
//! answered. For queued calls, acceptance alone is the process's CPU less
//! its delivery thread's (`realm-delivery`, which sends the calls on and
//! moves them from the store's journal into its tables) over that time;
//! what the process spent after, while the queue drained, and the total
//! with every thread's until it was empty, are shown too, and each
//! thread's share while the calls were answered. Each round waits until
//! the queue is empty (`/status`) before the next. (Until this split, the
//! acceptance figure also held what other threads spent while the queue
//! drained: the bench's own `/status` polls, which read every pending
//! entry.)
//!
//! Run with `cargo bench --bench queue` (a release build). The runner runs
//! in this process; the ingress is a `realm serve` process.

#[path = "support/runner.rs"]
mod runner;

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use support::tools::{cpu_split, free_port};

const CONNECTIONS: usize = 8;
const CALLS: usize = 1000;
const ROUNDS: usize = 3;
const BODY: &str = r#"{"id": "a1"}"#;
const PATH: &str = "/realms/bank/balance/account";

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
    let bank = dir.path().join("bank");

    let runner = runner::bank_runner();

    let port = free_port();
    let _ingress = Proc(
        Command::new(env!("CARGO_BIN_EXE_realm"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg(format!("--runner=balance=http://{runner}"))
            .current_dir(&bank)
            .env("REALM_CACHE_DIR", &cache)
            .env("REALM_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("realm serve"),
    );
    let pid = _ingress.0.id();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "no ingress");
        std::thread::sleep(Duration::from_millis(25));
    }
    // Warm-up: both paths once.
    run(addr, pid, false, 20);
    run(addr, pid, true, 20);

    let mut direct = Vec::new();
    let mut queued = Vec::new();
    for _ in 0..ROUNDS {
        direct.push(run(addr, pid, false, CALLS));
        queued.push(run(addr, pid, true, CALLS));
    }
    let median = |rounds: &mut Vec<Round>| {
        rounds.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        rounds.swap_remove(rounds.len() / 2)
    };
    let (direct, queued) = (median(&mut direct), median(&mut queued));
    println!("{CONNECTIONS} connections x {CALLS} calls, median of {ROUNDS} interleaved rounds");
    for (name, r) in [("direct (200)", &direct), ("queued (202)", &queued)] {
        println!(
            "{name:<14} {:>8.0} calls/s  p50 {:>6} us  p99 {:>6} us  CPU {:>5.0} us/call ({:.0} system, {:.0} committing; then {:.0} while the queue drained; all threads {:.0})",
            r.per_second,
            r.p50,
            r.p99,
            r.cpu_us,
            r.system_us,
            r.commit_us,
            r.drain_us,
            r.cpu_all_us
        );
    }
    for (name, r) in [("direct", &direct), ("queued", &queued)] {
        let threads: Vec<String> = r
            .threads
            .iter()
            .map(|(thread, us)| format!("{thread} {us:.0}"))
            .collect();
        println!(
            "  {name}, us/call by thread while calls were answered: {}",
            threads.join(", ")
        );
    }
    println!(
        "queued/direct: {:.2}x the calls/s, {:.2}x the ingress's CPU per call to accept (goal: at most 2x)",
        queued.per_second / direct.per_second,
        queued.cpu_us / direct.cpu_us
    );
}

struct Round {
    per_second: f64,
    p50: u64,
    p99: u64,
    /// The ingress's CPU per call, µs: for queued calls without the
    /// delivery thread's.
    cpu_us: f64,
    /// Of which in the kernel (system time).
    system_us: f64,
    /// Of which on the queue's committing thread (`realm-queue-commit`).
    commit_us: f64,
    /// Outside the delivery thread, after the last call was answered,
    /// until the queue was empty (`/status` polled; what the delivery
    /// worker's calls cost other threads).
    drain_us: f64,
    /// With every thread's, until the queue was empty.
    cpu_all_us: f64,
    /// Every thread's CPU per call, µs, by name (numbers left off).
    threads: Vec<(String, f64)>,
}

/// User + system CPU of each thread of `pid` so far, seconds, by name
/// (`realm-worker-1` and `realm-worker-2` as `realm-worker-`).
fn by_thread(pid: u32) -> std::collections::BTreeMap<String, f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut threads = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let read = |file: &str| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
        let name = read("comm")
            .trim_end()
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string();
        let stat = read("stat");
        let fields: Vec<f64> = stat
            .rsplit_once(") ")
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0.0))
            .collect();
        let spent = fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0);
        *threads.entry(name).or_insert(0.0) += spent / ticks;
    }
    threads
}

/// Waits until the ingress has no queued call left (its `/status`).
fn drained(addr: SocketAddr) {
    let started = Instant::now();
    loop {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .write_all(b"GET /status HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let status: serde_json::Value = serde_json::from_str(body).expect("a /status body");
        let targets = status["queue"]["targets"].as_array().map_or(0, Vec::len);
        if targets == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the queue did not drain: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `CONNECTIONS` threads, each making `calls` calls on one keep-alive
/// connection; then waits for the queue to drain, and reads the CPU the
/// ingress (`pid`) spent while the calls were made and answered (the
/// acceptance), and after, while the queue drained.
fn run(addr: SocketAddr, pid: u32, queued: bool, calls: usize) -> Round {
    let cpu = || {
        (
            cpu_split(pid, None),
            cpu_split(pid, Some("realm-delivery")),
            cpu_split(pid, Some("realm-queue-commit")),
            by_thread(pid),
        )
    };
    let before = cpu();
    let started = Instant::now();
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| std::thread::spawn(move || connection(addr, queued, calls)))
        .collect();
    let mut all = Histogram::<u64>::new(3).expect("histogram");
    for t in threads {
        all.add(t.join().expect("client")).expect("add");
    }
    let elapsed = started.elapsed();
    let answered = cpu();
    drained(addr);
    let after = cpu();
    let n = (CONNECTIONS * calls) as f64;
    let spent = |(u1, s1): (Duration, Duration), (u0, s0): (Duration, Duration)| {
        ((u1 - u0).as_secs_f64(), (s1 - s0).as_secs_f64())
    };
    let (all_user, all_system) = spent(answered.0, before.0);
    let (delivery_user, delivery_system) = spent(answered.1, before.1);
    let (commit_user, commit_system) = spent(answered.2, before.2);
    let (drain_user, drain_system) = spent(after.0, answered.0);
    let (drain_delivery_user, drain_delivery_system) = spent(after.1, answered.1);
    let (total_user, total_system) = spent(after.0, before.0);
    let per_call = |seconds: f64| seconds * 1e6 / n;
    Round {
        per_second: n / elapsed.as_secs_f64(),
        p50: all.value_at_quantile(0.5),
        p99: all.value_at_quantile(0.99),
        cpu_us: per_call(all_user + all_system - delivery_user - delivery_system),
        system_us: per_call(all_system - delivery_system),
        commit_us: per_call(commit_user + commit_system),
        drain_us: per_call(drain_user + drain_system - drain_delivery_user - drain_delivery_system),
        cpu_all_us: per_call(total_user + total_system),
        threads: answered
            .3
            .iter()
            .map(|(name, now)| {
                let then = before.3.get(name).copied().unwrap_or(0.0);
                (name.clone(), per_call(now - then))
            })
            .filter(|(_, us)| *us > 0.0)
            .collect(),
    }
}

fn connection(addr: SocketAddr, queued: bool, calls: usize) -> Histogram<u64> {
    let mut latencies = Histogram::<u64>::new(3).expect("histogram");
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let prefer = if queued {
        "Prefer: respond-async\r\n"
    } else {
        ""
    };
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{prefer}Content-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let expected = if queued { 202 } else { 200 };
    for _ in 0..calls {
        let at = Instant::now();
        writer.write_all(request.as_bytes()).expect("send");
        let status = read_reply(&mut reader);
        assert_eq!(status, expected, "the ingress answered {status}");
        latencies
            .record(at.elapsed().as_micros() as u64)
            .expect("record");
    }
    latencies
}

/// Reads one HTTP/1.1 reply with a Content-Length; its status.
fn read_reply(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    status
}
