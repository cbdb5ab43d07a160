//! `realm serve` processes and a minimal HTTP/1.1 client for the ingress
//! tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Polls `probe` every 20 ms until it gives a value. Panics after a
/// minute with `what` and what `probe` last said: a loaded machine is
/// slow, never that slow.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => assert!(
                started.elapsed() < Duration::from_secs(60),
                "waited a minute for {what}; last: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `realm serve` process, killed on drop. Its log goes to a file.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    pub tls: bool,
}

impl Serve {
    /// `realm serve --listen 127.0.0.1:0 <args>` in `dir`; `addr` is the
    /// address it prints.
    pub fn start(dir: &Path, cache: &Path, args: &[&str]) -> Serve {
        Serve::start_with(dir, cache, args, &[], None)
    }

    /// Like [`Serve::start`], with environment variables and optionally a
    /// given address.
    pub fn start_with(
        dir: &Path,
        cache: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        addr: Option<SocketAddr>,
    ) -> Serve {
        // Port 0 unless an address is given: the process picks a free port
        // and prints it, so no other program or test can be listening
        // there (a port found free and then passed on can be taken in
        // between).
        let addr = addr.unwrap_or_else(|| "127.0.0.1:0".parse().expect("addr"));
        let log = tempfile::NamedTempFile::new()
            .expect("log")
            .into_temp_path()
            .keep()
            .expect("keep");
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("realm"));
        command
            .args(["serve", "--listen", &addr.to_string()])
            .args(args)
            .current_dir(dir)
            .env("REALM_CACHE_DIR", cache)
            .env_remove("REALM_KEYS_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start realm serve");
        let mut serve = Serve {
            child,
            addr,
            log,
            tls: false,
        };
        serve.wait_ready();
        serve
    }

    /// `realm fake <args> --listen 127.0.0.1:0` in `dir`, its address
    /// read from its start-up line (killed on drop, as `realm serve` is).
    pub fn fake(dir: &Path, cache: &Path, args: &[&str]) -> Serve {
        let log = tempfile::NamedTempFile::new()
            .expect("log")
            .into_temp_path()
            .keep()
            .expect("keep");
        let child = Command::new(assert_cmd::cargo::cargo_bin("realm"))
            .arg("fake")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .env("REALM_CACHE_DIR", cache)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start realm fake");
        let mut fake = Serve {
            child,
            addr: "127.0.0.1:0".parse().expect("addr"),
            log,
            tls: false,
        };
        fake.wait_ready();
        fake
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// `https://localhost:<port>`, for certificates made for `localhost`.
    pub fn tls_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 60 s) for a log line that satisfies `line`: the access
    /// log is written by a background thread, a little after the answer.
    /// Panics with the log when none comes.
    pub fn wait_log(&self, what: &str, line: impl Fn(&str) -> bool) {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.lines().any(&line) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no log line with {what}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the start-up line; panics with the log if the process
    /// exits or takes too long.
    pub fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            let log = self.log();
            // Only a whole line: the process may be half-way through it.
            let started_line = log
                .split_inclusive('\n')
                .find(|l| l.starts_with("Serving realm") && l.ends_with('\n'));
            if let Some(line) = started_line {
                self.tls = line.contains("https://");
                let printed = line
                    .rsplit("://")
                    .next()
                    .and_then(|a| a.trim().parse::<SocketAddr>().ok());
                match printed {
                    Some(printed) => self.addr = printed,
                    None => panic!("no address in the start-up line: {line}"),
                }
                if TcpStream::connect(self.addr).is_ok() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("realm serve exited with {status}:\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "realm serve did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the signal `name` (`TERM`, `HUP`, ...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Kills the process now (no draining) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Status, headers (lowercase names) and body of an HTTP answer.
pub type Answer = (u16, Vec<(String, String)>, String);

/// A minimal HTTP/1.1 exchange.
pub fn http(
    method: &str,
    addr: SocketAddr,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(parse_answer(&String::from_utf8_lossy(&response)))
}

/// Splits a raw HTTP/1.1 answer.
pub fn parse_answer(response: &str) -> Answer {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // Chunked bodies: keep only the chunks' data.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, headers, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n.min(rest.len())]);
        body = rest.get(n + 2..).unwrap_or("");
    }
    out
}

/// The value of header `name` in an answer.
pub fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .1
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// POSTs and parses the JSON answer.
pub fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = http("POST", addr, path, body, &[]).expect("HTTP call");
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    (status, json)
}

/// Error bodies without the request id, which differs per call.
pub fn stable(mut value: serde_json::Value) -> String {
    if let Some(error) = value.get_mut("error").and_then(|e| e.as_object_mut()) {
        error.remove("request_id");
    }
    serde_json::to_string_pretty(&value).expect("JSON")
}
