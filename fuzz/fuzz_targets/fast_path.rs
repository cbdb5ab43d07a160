//! The ingress's HTTP/1.1 fast path against hyper's path, in one process:
//! two ingresses of the same project (`[ingress] fast-path` on and off)
//! on 127.0.0.1:0, each with a runner of its own that records the bytes
//! it receives. Each input is a client's byte stream (its first byte says
//! where the stream is split into two writes); it is written to both, the
//! write side closed, and what the client reads until the ingress closes
//! and what the runner received meanwhile must be the same bytes, after
//! normalising what differs by nature (the values of `date`,
//! `x-request-id` and `traceparent` lines and of `"request_id"` in JSON
//! bodies, and the addresses). A difference is retried twice before it
//! counts (the end of the stream racing a call in flight is timing, on
//! both paths); a difference every time is a finding. One difference is
//! not: a refusal one client got and the other did not, the runners
//! having received the same bytes (hyper drops an answer not yet written
//! when the client has closed its side; the first runs found only such).
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
    fn exchange(&self, pieces: &[&[u8]]) -> (String, String) {
        let before = self.seen.lock().expect("lock").len();
        let mut stream = TcpStream::connect(self.ingress).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        for piece in pieces {
            let _ = stream.write_all(piece);
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
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
            extra.starts_with("HTTP/1.1 4") || extra.starts_with("HTTP/1.1 5")
        })
}

/// Whether `more` differs from `less` only in the last call of the stream:
/// the client ends its side right after its bytes, and hyper, which looks
/// for the end of the stream once its buffer is empty, drops the call in
/// flight then; that races with the call's forward (a pooled upstream
/// connection is written by its own task) and with the runner's reading
/// it. So one side's runner may have got one more call than the other's,
/// and its client that call's answer. The fuzzer found this with both
/// sides on hyper's path (a first request the fast path handed over), on a
/// loaded machine. Anything else that differs is still a finding: the
/// runners agree on every call before it, and the extra is one request.
fn only_the_last_call_raced(more: &(String, String), less: &(String, String)) -> bool {
    more.0.starts_with(less.0.as_str())
        && more.1.strip_prefix(less.1.as_str()).is_some_and(|extra| {
            extra.starts_with("POST ") && extra.matches(" HTTP/1.1\r\n").count() == 1
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
    let mut tries = 0;
    loop {
        let a = fast.exchange(&pieces);
        let b = hyper.exchange(&pieces);
        if a == b
            || only_a_dropped_refusal(&a, &b)
            || only_a_dropped_refusal(&b, &a)
            || only_the_last_call_raced(&a, &b)
            || only_the_last_call_raced(&b, &a)
        {
            return;
        }
        tries += 1;
        if tries == 3 {
            panic!(
                "the fast path and hyper differ on {:?}\nfast:  client {:?}\n       runner {:?}\nhyper: client {:?}\n       runner {:?}",
                String::from_utf8_lossy(stream),
                a.0,
                a.1,
                b.0,
                b.1
            );
        }
    }
});
