//! The ingress's memory under a burst of large bodies, and after it.
//!
//! 150 connections each send a 4 MiB call (`max-body-size`) to one
//! `realm serve` process, all at once: every body is sent but its last
//! byte, so that the ingress holds what it accepted; then the last bytes go
//! and the answers are read. The resident memory of the ingress (VmRSS) is
//! printed before, while the bodies are held, and 1 s and 5 s after, for
//! two bursts in a row, with how many calls were answered 200 and how many
//! 503 (`max-buffered`, 256 MiB by default, refuses the rest).
//!
//! Then the same with large replies: 16 connections each make a small
//! call whose reply is 6 MB, to an ingress with `max-buffered = "32MiB"`,
//! and read their replies only a second later, so that the ingress holds
//! what it took (the budget full). The resident memory is printed before,
//! at its peak (sampled every 5 ms), while the replies are held, and 1 s
//! and 5 s after, with how many calls got their reply (200) and how many
//! were refused because the budget was full (503 `reply_busy`).
//!
//! Run with `cargo bench --bench memory`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CALLS: usize = 150;
const BODY_SIZE: usize = 4_000_000;
const REPLY_CALLS: usize = 16;
const REPLY_SIZE: usize = 6_000_000;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PAY: &str = "module pay {\n  export realm data Charge {\n    amount Int\n    memo String?\n  }\n\n  export realm verb charge(pay.Charge) pay.Charge\n}\n";

fn main() {
    large_bodies();
    println!();
    large_replies();
}

/// A `realm serve` of the `pay` realm with `settings` in `[ingress]` and
/// its runner answering `reply` to every call; the process and its
/// address.
fn serve(dir: &std::path::Path, settings: &str, reply: Vec<u8>) -> (Proc, SocketAddr) {
    std::fs::create_dir_all(dir.join("modules")).expect("mkdir");
    std::fs::write(dir.join("modules/pay.ftl"), PAY).expect("write");
    std::fs::write(
        dir.join("ftl-project.toml"),
        "name = \"pay\"\nmodule-dirs = [\"modules\"]\n",
    )
    .expect("write");
    std::fs::write(dir.join("realm.toml"), format!("[ingress]\n{settings}\n")).expect("write");
    let runner = runner(std::sync::Arc::new(reply));
    let log = dir.join("serve.log");
    let serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_realm"))
            .args(["serve", "--listen", "127.0.0.1:0", "--runner"])
            .arg(format!("pay=http://{runner}"))
            .current_dir(dir)
            .env("REALM_CACHE_DIR", dir.join("cache"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("realm serve"),
    );
    let addr = listening_on(&log);
    (serve, addr)
}

fn large_replies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memo = "m".repeat(REPLY_SIZE - 30);
    let reply = format!(r#"{{"amount":1,"memo":"{memo}"}}"#).into_bytes();
    let (serve, addr) = serve(
        dir.path(),
        "request-timeout = \"120s\"\nmax-buffered = \"32MiB\"",
        reply,
    );
    let pid = serve.0.id();
    println!(
        "{REPLY_CALLS} concurrent calls with replies of {:.1} MB each, max-buffered = 32 MiB",
        REPLY_SIZE as f64 / 1e6
    );
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>6} {:>6}",
        "burst", "before", "peak", "held", "after 1s", "after 5s", "200", "503"
    );
    for burst in 1..=2 {
        let before = rss_mib(pid);
        let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sampler = {
            let sampling = sampling.clone();
            std::thread::spawn(move || {
                let mut peak = 0;
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(rss_mib(pid));
                    std::thread::sleep(Duration::from_millis(5));
                }
                peak
            })
        };
        let callers: Vec<_> = (0..REPLY_CALLS)
            .map(|_| {
                std::thread::spawn(move || {
                    let body = r#"{"amount":1}"#;
                    let mut stream = TcpStream::connect(addr).ok()?;
                    let head = format!(
                        "POST /realms/pay/pay/charge HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(head.as_bytes()).ok()?;
                    // The reply waits in the ingress meanwhile.
                    std::thread::sleep(Duration::from_millis(1500));
                    let mut answer = Vec::new();
                    let _ = stream.read_to_end(&mut answer);
                    Some(answer.get(9..12).map(<[u8]>::to_vec))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1000));
        let held = rss_mib(pid);
        let (mut ok, mut busy) = (0, 0);
        for caller in callers {
            match caller.join().ok().flatten().flatten().as_deref() {
                Some(b"200") => ok += 1,
                Some(b"503") => busy += 1,
                _ => {}
            }
        }
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.join().unwrap_or(0);
        std::thread::sleep(Duration::from_secs(1));
        let after_1 = rss_mib(pid);
        std::thread::sleep(Duration::from_secs(4));
        let after_5 = rss_mib(pid);
        println!(
            "{burst:<8} {before:>7} MiB {peak:>6} MiB {held:>6} MiB {after_1:>6} MiB {after_5:>6} MiB {ok:>6} {busy:>6}"
        );
    }
}

fn large_bodies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (serve, addr) = serve(
        dir.path(),
        "request-timeout = \"120s\"",
        br#"{"amount":1}"#.to_vec(),
    );
    let pid = serve.0.id();
    println!(
        "{CALLS} concurrent calls of {:.1} MB each",
        BODY_SIZE as f64 / 1e6
    );
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>10} {:>6} {:>6}",
        "burst", "before", "during", "after 1s", "after 5s", "200", "503"
    );
    for burst in 1..=2 {
        let before = rss_mib(pid);
        let (during, ok, busy) = burst_of_calls(addr, pid);
        std::thread::sleep(Duration::from_secs(1));
        let after_1 = rss_mib(pid);
        std::thread::sleep(Duration::from_secs(4));
        let after_5 = rss_mib(pid);
        println!(
            "{burst:<8} {before:>7} MiB {during:>6} MiB {after_1:>6} MiB {after_5:>6} MiB {ok:>6} {busy:>6}"
        );
    }
}

/// Sends every call but its last byte, measures, then finishes them.
fn burst_of_calls(addr: SocketAddr, pid: u32) -> (u64, usize, usize) {
    let memo = "m".repeat(BODY_SIZE - 40);
    let body = format!(r#"{{"amount":1,"memo":"{memo}"}}"#);
    let head = format!(
        "POST /realms/pay/pay/charge HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let body = std::sync::Arc::new(body);
    let senders: Vec<_> = (0..CALLS)
        .map(|_| {
            let body = body.clone();
            let head = head.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).ok()?;
                stream.write_all(head.as_bytes()).ok()?;
                // A refused call is answered and closed before its body
                // is all sent.
                let _ = stream.write_all(&body.as_bytes()[..body.len() - 1]);
                Some(stream)
            })
        })
        .collect();
    let streams: Vec<Option<TcpStream>> = senders
        .into_iter()
        .map(|s| s.join().ok().flatten())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_mib(pid);
    let (mut ok, mut busy) = (0, 0);
    for mut stream in streams.into_iter().flatten() {
        let _ = stream.write_all(&body.as_bytes()[body.len() - 1..]);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        match answer.get(9..12) {
            Some(b"200") => ok += 1,
            Some(b"503") => busy += 1,
            _ => {}
        }
    }
    (during, ok, busy)
}

/// A runner that reads each call and answers `reply` (JSON).
fn runner(reply: std::sync::Arc<Vec<u8>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let reply = reply.clone();
            std::thread::spawn(move || serve_runner(stream, &reply));
        }
    });
    addr
}

fn serve_runner(mut stream: TcpStream, reply: &[u8]) {
    let mut buf = vec![0u8; 1 << 16];
    let mut data = Vec::new();
    loop {
        // Read a head, then the body its Content-Length names.
        let head_end = loop {
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while data.len() < head_end + length {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        data.drain(..head_end + length);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(reply).is_err() {
            return;
        }
    }
}

/// The address `realm serve` printed it listens on.
fn listening_on(log: &std::path::Path) -> SocketAddr {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.strip_prefix("Serving realm `pay` on http://"))
            .and_then(|a| a.trim().parse().ok())
        {
            return addr;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "realm serve did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}
