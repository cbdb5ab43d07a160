//! The ingress's HTTP/1.1 fast path against hyper's path, in one process:
//! two ingresses of the same project (`[ingress] fast-path` on and off)
//! on 127.0.0.1:0, each with a runner of its own that records the bytes
//! it receives. Each input is a client's byte stream (its first byte says
//! where the stream is split into two writes); it is written to both, the
//! write side closed, and what the client reads until the ingress closes
//! and what the runner received meanwhile must be the same bytes, after
//! normalising what differs by nature (the values of `date`,
//! `x-request-id` and `traceparent` lines and of `"request_id"` in JSON
//! bodies, and the addresses). The end of the stream racing a call in
//! flight is timing, on both paths: a difference is exchanged again three
//! times with the end held back until both ingresses have been quiet for
//! 200 ms, 500 ms and 2 s; a difference every time is a finding. One
//! difference is not: a refusal one client got and the other did not, the
//! runners having received the same bytes (hyper drops an answer not yet
//! written when the client has closed its side).
#![no_main]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use realm::ingress::{self, Overrides};
use realm::pins::{Cache, Context};
use realm::workspace::Workspace;

const PAY: &str = r#"module pay {
  export realm data Charge {
    amount Int
    memo String?
  }

  export realm verb charge(pay.Charge) pay.Charge
}
"#;

/// One ingress with its recording runner.
struct Side {
    ingress: SocketAddr,
    runner: SocketAddr,
    seen: Arc<Mutex<Vec<u8>>>,
}

fn find(bytes: &[u8], what: &[u8]) -> Option<usize> {
    bytes.windows(what.len()).position(|w| w == what)
}

/// A runner answering each request with its body; records every byte.
fn runner(seen: Arc<Mutex<Vec<u8>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a runner");
    let addr = listener.local_addr().expect("the runner's address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Some(end) = find(&buf, b"\r\n\r\n") else {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let message: Vec<u8> = buf.drain(..end + 4 + len).collect();
                    seen.lock().expect("lock").extend_from_slice(&message);
                    let body = &message[end + 4..];
                    let mut answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    answer.extend_from_slice(body);
                    if stream.write_all(&answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn start(fast: bool) -> Side {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("realm-fuzz-fast-path-{}-{fast}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("modules")).expect("a project directory");
    std::fs::write(
        dir.join("ftl-project.toml"),
        "name = \"pay\"\nmodule-dirs = [\"modules\"]\n",
    )
    .expect("write");
    std::fs::write(dir.join("modules/pay.ftl"), PAY).expect("write");
    std::fs::write(
        dir.join("realm.toml"),
        format!(
            "[ingress]\nfast-path = {fast}\nmax-body-size = \"1KiB\"\nmax-header-size = \"8KiB\"\nheader-timeout = \"2s\"\nrequest-timeout = \"2s\"\nworkers = 1\n"
        ),
    )
    .expect("write");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let runner = runner(seen.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ctx = Context {
            cache: Cache::new(dir.join(".cache")),
            offline: true,
            progress: None,
            deny_warnings: false,
        };
        let ws = Workspace::load(&dir, &ctx).expect("the project loads");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let overrides = Overrides {
                listen: Some("127.0.0.1:0".to_string()),
                runners: vec![("pay".to_string(), format!("http://{runner}"))],
                ..Overrides::default()
            };
            let ingress =
                ingress::from_workspace(&ws, &overrides, Vec::new()).expect("an ingress");
            let listener = ingress::server::bind(ingress.config().listen).expect("bind");
            tx.send(listener.local_addr().expect("address")).expect("send");
            let workers = ingress::server::Workers {
                count: 1,
                on_idle: None,
            };
            let _ = ingress::server::serve(
                ingress,
                listener,
                None,
                workers,
                std::future::pending::<()>(),
            )
            .await;
        });
    });
    let ingress = rx.recv().expect("the ingress starts");
    Side {
        ingress,
        runner,
        seen,
    }
}

impl Side {
    /// Sends `pieces`, ends the stream and reads to its end: what the
    /// client read and what the runner received, normalised. With `quiet`,
    /// the stream is ended only once neither the client nor the runner has
    /// received anything for that long.
    fn exchange(&self, pieces: &[&[u8]], quiet: Option<Duration>) -> (String, String) {
        let before = self.seen.lock().expect("lock").len();
        let mut stream = TcpStream::connect(self.ingress).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        for piece in pieces {
            let _ = stream.write_all(piece);
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        let mut ended = false;
        if let Some(quiet) = quiet {
            stream.set_read_timeout(Some(quiet)).expect("timeout");
            let mut seen = self.seen.lock().expect("lock").len();
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        ended = true;
                        break;
                    }
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        let now = self.seen.lock().expect("lock").len();
                        if now == seen {
                            break;
                        }
                        seen = now;
                    }
                    Err(_) => {
                        ended = true;
                        break;
                    }
                }
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        while !ended {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => ended = true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let seen = self.seen.lock().expect("lock")[before..].to_vec();
        (self.normalise(&got), self.normalise(&seen))
    }

    fn normalise(&self, bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes)
            .replace(&self.runner.to_string(), "RUNNER")
            .replace(&self.ingress.to_string(), "INGRESS");
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            let lower = line.to_ascii_lowercase();
            match ["date:", "x-request-id:", "traceparent:"]
                .iter()
                .find(|name| lower.starts_with(*name))
            {
                Some(name) => {
                    out.push_str(name);
                    out.push_str(" *\r\n");
                }
                None => out.push_str(line),
            }
        }
        let key = "\"request_id\":\"";
        let mut rest = out.as_str();
        let mut done = String::new();
        while let Some(at) = rest.find(key) {
            done.push_str(&rest[..at + key.len()]);
            rest = &rest[at + key.len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            done.push('*');
            rest = &rest[end..];
        }
        done.push_str(rest);
        done
    }
}

/// Whether two exchanges differ only in a refusal one side's client got
/// and the other's did not: hyper drops an answer not yet written when
/// the client has closed its side, and whether the answer or the end of
/// the stream comes first is timing. The runners must have received the
/// same bytes (what reaches a runner is where smuggling lives), and the
/// extra answer must be a refusal (4xx or 5xx), after the same bytes.
fn only_a_dropped_refusal(more: &(String, String), less: &(String, String)) -> bool {
    more.1 == less.1
        && more.0.strip_prefix(less.0.as_str()).is_some_and(|extra| {
            ["HTTP/1.1 4", "HTTP/1.1 5", "HTTP/1.0 4", "HTTP/1.0 5"]
                .iter()
                .any(|status| extra.starts_with(status))
        })
}

fn sides() -> &'static (Side, Side) {
    static SIDES: OnceLock<(Side, Side)> = OnceLock::new();
    SIDES.get_or_init(|| {
        // libFuzzer's main is not Rust's, which ignores SIGPIPE: without
        // this, hyper's `writev` to a client that has gone killed the
        // fuzzer (`realm` itself runs with Rust's setting).
        // SAFETY: setting a signal's disposition to SIG_IGN, before any
        // thread of the target starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        (start(true), start(false))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    if stream.len() > 16 << 10 {
        return;
    }
    let at = if stream.is_empty() {
        0
    } else {
        split as usize % (stream.len() + 1)
    };
    let pieces = [&stream[..at], &stream[at..]];
    let (fast, hyper) = sides();
    let agree = |a: &(String, String), b: &(String, String)| {
        a == b || only_a_dropped_refusal(a, b) || only_a_dropped_refusal(b, a)
    };
    let a = fast.exchange(&pieces, None);
    let b = hyper.exchange(&pieces, None);
    if agree(&a, &b) {
        return;
    }
    // Ending the stream races with the last call: hyper looks for the end
    // once its buffer is empty and drops the call in flight then, before
    // or after its forward (found with both sides on hyper's path, on a
    // loaded machine). Exchanged again with the end held back until both
    // ingresses have gone quiet, the two must agree: a request one side
    // frames differently from the other shows here as it did before.
    let mut last = (a, b);
    for quiet in [200, 500, 2000] {
        let quiet = Some(Duration::from_millis(quiet));
        let a = fast.exchange(&pieces, quiet);
        let b = hyper.exchange(&pieces, quiet);
        if agree(&a, &b) {
            return;
        }
        last = (a, b);
    }
    let (a, b) = last;
    panic!(
        "the fast path and hyper differ on {:?}\nfast:  client {:?}\n       runner {:?}\nhyper: client {:?}\n       runner {:?}",
        String::from_utf8_lossy(stream),
        a.0,
        a.1,
        b.0,
        b.1
    );
});
