//! The HTTP/1.1 fast path (`[ingress] fast-path`, `src/ingress/fast/`)
//! against hyper's path, differentially: the same `realm serve` project
//! twice, fast path on and off, each with a runner of its own on
//! 127.0.0.1:0 that records every byte it receives. Each case is written
//! to both on a new connection (in the given pieces, then the write side
//! is closed), and everything the client reads until the ingress closes,
//! and everything the runner received meanwhile, must be the same bytes,
//! refusals included. Normalised before comparing, as they differ by
//! nature: the values of `date`, `x-request-id` and `traceparent` header
//! lines and of `"request_id"` in JSON bodies (made per call unless the
//! client sends them), and the two runners' and ingresses' addresses.
//!
//! The cases: plain calls, pipelined calls, every split point of one and
//! of two pipelined calls, and a request-smuggling corpus (CL.TE, TE.CL,
//! TE.TE variants, duplicate and conflicting Content-Length, whitespace
//! before the colon, bare LF, NUL, obs-fold, over-long heads and bodies,
//! Expect, Upgrade, HTTP/1.0, truncated bodies), each followed by a plain
//! call on the same connection so that a desync shows.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::TestProject;
use crate::common::backends::Background;
use crate::common::serve::Serve;

const PAY: &str = r#"module pay {
  export realm data Charge {
    amount Int
    memo String?
  }

  export realm verb charge(pay.Charge) pay.Charge
}
"#;

const PATH: &str = "/realms/pay/pay/charge";

/// A runner that records the bytes it receives and answers each request
/// with its body (`content-length` requests only: what the ingress sends).
fn recording_runner(seen: Arc<Mutex<Vec<u8>>>) -> Background {
    Background::start(None, move |listener, mut stop| async move {
        loop {
            let (mut stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(_) => continue,
                },
                _ = &mut stop => return,
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = find(&buf, b"\r\n\r\n") else {
                        let mut chunk = [0u8; 8192];
                        match stream.read(&mut chunk).await {
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
                    assert!(!head.contains("transfer-encoding"), "{head}");
                    while buf.len() < end + 4 + len {
                        let mut chunk = [0u8; 8192];
                        match stream.read(&mut chunk).await {
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
                    if stream.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    })
}

fn find(bytes: &[u8], what: &[u8]) -> Option<usize> {
    bytes.windows(what.len()).position(|w| w == what)
}

/// One ingress of the comparison, with its runner.
struct Side {
    _project: TestProject,
    seen: Arc<Mutex<Vec<u8>>>,
    runner: Background,
    ingress: Serve,
}

impl Side {
    fn start(fast: bool) -> Side {
        Side::start_with(fast, "")
    }

    /// With more `[ingress]` settings.
    fn start_with(fast: bool, settings: &str) -> Side {
        let project = TestProject::new("pay");
        project.write("modules/pay.ftl", PAY);
        project.write(
            "realm.toml",
            &format!("[ingress]\nfast-path = {fast}\nmax-body-size = \"1KiB\"\nmax-header-size = \"8KiB\"\n{settings}"),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let runner = recording_runner(seen.clone());
        let ingress = Serve::start(
            project.path(),
            project.cache_dir(),
            &["--runner", &format!("pay={}", runner.url())],
        );
        Side {
            _project: project,
            seen,
            runner,
            ingress,
        }
    }

    /// Writes `pieces` on a new connection, then ends it as `end` says;
    /// reads until the ingress closes: what the client read and what the
    /// runner received meanwhile, normalised.
    fn exchange(&self, pieces: &[&[u8]], end: End) -> (String, String) {
        let before = self.seen.lock().expect("lock").len();
        let mut stream = TcpStream::connect(self.ingress.addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        // Only so that a hang fails instead of blocking the test run.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("read timeout");
        for piece in pieces {
            // The ingress may close before it has read all of a refused
            // request: the answer is read either way.
            let _ = stream.write_all(piece);
        }
        let mut got = Vec::new();
        match end {
            End::Eof => {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            End::AfterAnswers(n) => {
                // The answers first, so that the requests are answered
                // with nothing after them on the connection.
                while answers(&got) < n {
                    let mut buf = [0u8; 65536];
                    match stream.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) => panic!("reading the answers: {e}"),
                    }
                }
                let _ = stream.write_all(CLOSE);
            }
        }
        let mut buf = [0u8; 65536];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!(
                    "reading the answer: {e}; so far {:?}",
                    String::from_utf8_lossy(&got)
                ),
            }
        }
        let seen = self.seen.lock().expect("lock")[before..].to_vec();
        (self.normalise(&got), self.normalise(&seen))
    }

    fn normalise(&self, bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes)
            .replace(&self.runner.addr.to_string(), "RUNNER")
            .replace(&self.ingress.addr.to_string(), "INGRESS");
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
        // `"request_id":"..."` in refusals.
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

/// How a case's connection ends.
#[derive(Clone, Copy, Debug)]
enum End {
    /// The client closes its side after the bytes (hyper drops a call
    /// whose client did so before the answer).
    Eof,
    /// After reading so many whole answers, the client asks the ingress
    /// to close ([`CLOSE`]).
    AfterAnswers(usize),
}

/// A request after which the ingress closes the connection.
const CLOSE: &[u8] = b"GET /healthz HTTP/1.1\r\nconnection: close\r\n\r\n";

/// How many whole messages (`content-length` bodies) `bytes` holds, and
/// how long the first `most` of them are.
fn messages(bytes: &[u8], most: usize) -> (usize, usize) {
    let (mut n, mut at) = (0, 0);
    while n < most {
        let Some(end) = find(&bytes[at..], b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&bytes[at..at + end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if bytes.len() < at + end + 4 + len {
            break;
        }
        at += end + 4 + len;
        n += 1;
    }
    (n, at)
}

/// How many whole answers (`content-length` bodies) `bytes` holds.
fn answers(bytes: &[u8]) -> usize {
    messages(bytes, usize::MAX).0
}

/// How long the first `n` whole answers of `bytes` are.
fn answer_len(bytes: &[u8], n: usize) -> usize {
    messages(bytes, n).1
}

/// Both ingresses, fast path on and off.
struct Pair {
    fast: Side,
    hyper: Side,
}

impl Pair {
    fn start() -> Pair {
        Pair {
            fast: Side::start(true),
            hyper: Side::start(false),
        }
    }

    /// Sends `pieces` to both; they must agree. Returns what the client
    /// read.
    fn same(&self, what: &str, pieces: &[&[u8]], end: End) -> String {
        self.same_both(what, pieces, end).0
    }

    /// [`Pair::same`], returning what the runner received too.
    fn same_both(&self, what: &str, pieces: &[&[u8]], end: End) -> (String, String) {
        let fast = self.fast.exchange(pieces, end);
        let hyper = self.hyper.exchange(pieces, end);
        assert_eq!(fast.0, hyper.0, "{what}: the client read differently");
        assert_eq!(fast.1, hyper.1, "{what}: the runner received differently");
        fast
    }
}

fn call(body: &str, headers: &str) -> String {
    format!(
        "POST {PATH} HTTP/1.1\r\nhost: x\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn plain_and_pipelined_calls_and_every_split_point_are_answered_as_hyper_does() {
    let pair = Pair::start();
    let one = call(r#"{"amount":1}"#, "");
    let answered = pair.same("one call", &[one.as_bytes()], End::AfterAnswers(1));
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    assert!(answered.contains(r#"{"amount":1}"#), "{answered}");
    let with_ids = call(
        r#"{"amount":2,"memo":"m"}"#,
        "x-request-id: r-1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n",
    );
    pair.same(
        "ids of the caller",
        &[with_ids.as_bytes()],
        End::AfterAnswers(1),
    );
    let two = format!("{one}{with_ids}");
    pair.same("two pipelined", &[two.as_bytes()], End::AfterAnswers(2));
    // The end of the stream after two pipelined calls: hyper answers the
    // first (it looks for the end only once its buffer is empty), then
    // drops the second when it sees the end, which races with the second
    // call's forward (a pooled upstream connection is written by its own
    // task). So each side must give a whole-message prefix of what both
    // give when the answers come before the end: the first call and maybe
    // the second, byte for byte, and nothing else.
    let fast = pair.fast.exchange(&[two.as_bytes()], End::Eof);
    let hyper = pair.hyper.exchange(&[two.as_bytes()], End::Eof);
    let (all_read, all_seen) = pair.same_both(
        "two pipelined, answered before the end",
        &[two.as_bytes()],
        End::AfterAnswers(2),
    );
    for (side, (read, seen)) in [("fast", &fast), ("hyper", &hyper)] {
        let asked = answers(seen.as_bytes());
        let answered = answers(read.as_bytes());
        assert!(
            (1..=2).contains(&asked) && (1..=asked).contains(&answered),
            "two pipelined, then the end, {side}: {asked} calls forwarded, {answered} answered\n{read}\n{seen}"
        );
        assert_eq!(
            seen.as_str(),
            &all_seen[..messages(all_seen.as_bytes(), asked).1],
            "two pipelined, then the end, {side}: the runner received other than the calls sent"
        );
        assert_eq!(
            read.as_str(),
            &all_read[..answer_len(all_read.as_bytes(), answered)],
            "two pipelined, then the end, {side}: the client read other than the calls' answers"
        );
    }
    for at in 1..one.len() {
        let (a, b) = one.as_bytes().split_at(at);
        pair.same(
            &format!("one call split at {at}"),
            &[a, b],
            End::AfterAnswers(1),
        );
    }
    for at in 1..two.len() {
        let (a, b) = two.as_bytes().split_at(at);
        pair.same(
            &format!("two calls split at {at}"),
            &[a, b],
            End::AfterAnswers(2),
        );
    }
    pair.same(
        "two in separate writes",
        &[one.as_bytes(), with_ids.as_bytes()],
        End::AfterAnswers(2),
    );
}

/// The smuggling corpus: each case, then a plain call on the same
/// connection.
fn smuggling_cases() -> Vec<(&'static str, String)> {
    let body = r#"{"amount":3}"#;
    let n = body.len();
    let post = |headers: &str, rest: &str| {
        format!("POST {PATH} HTTP/1.1\r\nhost: x\r\n{headers}\r\n{rest}")
    };
    vec![
        (
            "CL.TE",
            post(
                "content-length: 6\r\ntransfer-encoding: chunked\r\n",
                "0\r\n\r\nG",
            ),
        ),
        (
            "TE.CL",
            post(
                "transfer-encoding: chunked\r\ncontent-length: 3\r\n",
                "8\r\nSMUGGLED\r\n0\r\n\r\n",
            ),
        ),
        (
            "TE.TE xchunked",
            post(
                "transfer-encoding: xchunked\r\n",
                &format!("{n:x}\r\n{body}\r\n0\r\n\r\n"),
            ),
        ),
        (
            "TE.TE space before colon",
            post("transfer-encoding : chunked\r\n", "0\r\n\r\n"),
        ),
        (
            "TE.TE two values",
            post(
                "transfer-encoding: chunked\r\ntransfer-encoding: x\r\n",
                "0\r\n\r\n",
            ),
        ),
        (
            "TE.TE tab",
            post(
                "transfer-encoding:\tchunked\r\n",
                &format!("{n:x}\r\n{body}\r\n0\r\n\r\n"),
            ),
        ),
        (
            "TE.TE identity",
            post("transfer-encoding: chunked, identity\r\n", "0\r\n\r\n"),
        ),
        (
            "TE.TE folded",
            post("x: y\r\n transfer-encoding: chunked\r\n", "0\r\n\r\n"),
        ),
        (
            "TE.TE bare LF",
            post("x: y\ntransfer-encoding: chunked\r\n", "0\r\n\r\n"),
        ),
        (
            "TE.TE upper case",
            post(
                "Transfer-Encoding: Chunked\r\n",
                &format!("{n:x}\r\n{body}\r\n0\r\n\r\n"),
            ),
        ),
        (
            "chunked",
            post(
                "transfer-encoding: chunked\r\n",
                &format!("{n:x}\r\n{body}\r\n0\r\n\r\n"),
            ),
        ),
        (
            "duplicate CL, same",
            post(
                &format!("content-length: {n}\r\ncontent-length: {n}\r\n"),
                body,
            ),
        ),
        (
            "duplicate CL, different",
            post(
                &format!("content-length: {n}\r\ncontent-length: 3\r\n"),
                body,
            ),
        ),
        (
            "CL list",
            post(&format!("content-length: {n}, {n}\r\n"), body),
        ),
        ("CL sign", post(&format!("content-length: +{n}\r\n"), body)),
        (
            "CL space before colon",
            post(&format!("content-length : {n}\r\n"), body),
        ),
        (
            "CL trailing space",
            post(&format!("content-length: {n} \r\n"), body),
        ),
        (
            "CL beyond max-body-size",
            post("content-length: 2000\r\n", &"x".repeat(2000)),
        ),
        ("CL short", post("content-length: 5\r\n", body)),
        (
            "CL huge",
            post("content-length: 18446744073709551614\r\n", ""),
        ),
        (
            "bare LF",
            format!("POST {PATH} HTTP/1.1\nhost: x\ncontent-length: {n}\n\n{body}"),
        ),
        (
            "NUL in a value",
            post(&format!("x: a\0b\r\ncontent-length: {n}\r\n"), body),
        ),
        (
            "NUL in the path",
            format!("POST {PATH}\0 HTTP/1.1\r\ncontent-length: {n}\r\n\r\n{body}"),
        ),
        (
            "obs-fold",
            post(&format!("x: a\r\n b\r\ncontent-length: {n}\r\n"), body),
        ),
        (
            "head beyond max-header-size",
            post(
                &format!("x: {}\r\ncontent-length: {n}\r\n", "a".repeat(9000)),
                body,
            ),
        ),
        (
            "head just within",
            post(
                &format!("x: {}\r\ncontent-length: {n}\r\n", "a".repeat(7900)),
                body,
            ),
        ),
        (
            "too many headers",
            post(
                &format!("{}content-length: {n}\r\n", "x: y\r\n".repeat(101)),
                body,
            ),
        ),
        (
            "expect",
            post(
                &format!("expect: 100-continue\r\ncontent-length: {n}\r\n"),
                body,
            ),
        ),
        (
            "connection close",
            post(
                &format!("connection: close\r\ncontent-length: {n}\r\n"),
                body,
            ),
        ),
        (
            "upgrade",
            post(
                &format!("upgrade: h2c\r\nconnection: upgrade\r\ncontent-length: {n}\r\n"),
                body,
            ),
        ),
        (
            "HTTP/1.0",
            format!("POST {PATH} HTTP/1.0\r\ncontent-length: {n}\r\n\r\n{body}"),
        ),
        (
            "leading CRLF",
            format!("\r\n{}", post(&format!("content-length: {n}\r\n"), body)),
        ),
        ("no content-length", post("", "")),
        ("not JSON", post("content-length: 3\r\n", "abc")),
        (
            "unknown verb",
            format!("POST /realms/pay/pay/refund HTTP/1.1\r\ncontent-length: {n}\r\n\r\n{body}"),
        ),
        (
            "escaped segment",
            format!("POST /realms/pay/pay/ch%61rge HTTP/1.1\r\ncontent-length: {n}\r\n\r\n{body}"),
        ),
        (
            "not UTF-8 segment",
            format!("POST /realms/pay/pay/%ff HTTP/1.1\r\ncontent-length: {n}\r\n\r\n{body}"),
        ),
        (
            "query",
            format!("POST {PATH}?a=b HTTP/1.1\r\ncontent-length: {n}\r\n\r\n{body}"),
        ),
        ("GET of a call", format!("GET {PATH} HTTP/1.1\r\n\r\n")),
        (
            "absolute form",
            format!("POST http://x{PATH} HTTP/1.1\r\ncontent-length: {n}\r\n\r\n{body}"),
        ),
        (
            "obs-text",
            post(&format!("x: caf\u{e9}\r\ncontent-length: {n}\r\n"), body),
        ),
        ("garbage", "GARBAGE\r\n\r\n".to_string()),
    ]
}

#[test]
fn the_smuggling_corpus_is_refused_or_forwarded_as_hyper_does() {
    let pair = Pair::start();
    let after = call(r#"{"amount":9}"#, "");
    for (name, case) in smuggling_cases() {
        pair.same(name, &[case.as_bytes(), CLOSE], End::AfterAnswers(0));
        pair.same(
            &format!("{name}, then a call"),
            &[format!("{case}{after}").as_bytes(), CLOSE],
            End::AfterAnswers(0),
        );
        pair.same(
            &format!("{name}, then a call, in two writes"),
            &[case.as_bytes(), after.as_bytes(), CLOSE],
            End::AfterAnswers(0),
        );
        // The end of the stream within the case.
        pair.same(
            &format!("{name}, truncated"),
            &[&case.as_bytes()[..case.len() / 2]],
            End::Eof,
        );
    }
}

/// The fast path keeps one idle timer a connection and puts it off when it
/// fires after calls came: a connection busy with calls for longer than
/// `idle-timeout` stays open, and one left idle is closed after it, not
/// before.
#[test]
fn a_busy_connection_outlives_idle_timeout_and_an_idle_one_is_closed() {
    let side = Side::start_with(true, "idle-timeout = \"2s\"\n");
    let mut stream = TcpStream::connect(side.ingress.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let request = call(r#"{"amount":1}"#, "");
    let started = Instant::now();
    let mut calls = 0;
    // Calls back to back for one and a half idle timeouts.
    while started.elapsed() < Duration::from_secs(3) {
        stream.write_all(request.as_bytes()).expect("write a call");
        let mut got = Vec::new();
        while answers(&got) == 0 {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).expect("read an answer");
            assert!(
                n > 0,
                "closed after {calls} calls in {:?}",
                started.elapsed()
            );
            got.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert_eq!(answer_len(&got, 1), got.len(), "{text}");
        calls += 1;
    }
    // Then idle: closed after idle-timeout.
    let idle = Instant::now();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("closed in time");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let waited = idle.elapsed();
    // (The answer was read after the ingress began to wait: a little less.)
    assert!(
        waited >= Duration::from_millis(1500),
        "closed after {waited:?}"
    );
    assert_eq!(answers(&side.seen.lock().expect("lock")), calls);
}
