//! HTTP/1.1 request heads hyper would refuse on its own, over raw TCP
//! against `realm serve`: each class is answered with the ingress's JSON
//! refusal, byte for byte as the ingress writes it (status line, headers,
//! body), after the answers to the requests before it on the connection;
//! and requests hyper reads reach the runner as they were sent. The
//! ingress checks these heads before hyper reads them
//! (`src/ingress/conn/head_check.rs`): a hyper that parsed differently, or
//! answered differently, fails here.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use crate::common::TestProject;
use crate::common::backends::Background;
use crate::common::echo::{Echo, echo_runner};
use crate::common::serve::Serve;

const PAY: &str = r#"module pay {
  export realm data Charge {
    amount Int
    memo String?
  }

  export realm verb charge(pay.Charge) pay.Charge
}
"#;

const BAD_REQUEST: &str = "the request is not well-formed HTTP/1.1: check the request line, the header syntax, Content-Length (one, a number) and Transfer-Encoding (chunked only)";
const TOO_LARGE: &str =
    "the request line and headers are larger than the ingress reads (`[ingress] max-header-size`)";

/// The `pay` realm with an echo runner (it answers each call with its
/// body).
struct Pay {
    _project: TestProject,
    echo: Arc<Echo>,
    _runner: Background,
    ingress: Serve,
}

impl Pay {
    fn start(settings: &str) -> Pay {
        let project = TestProject::new("pay");
        project.write("modules/pay.ftl", PAY);
        project.write("realm.toml", &format!("[ingress]\n{settings}"));
        let echo = Arc::new(Echo::default());
        let runner = echo_runner(echo.clone(), None);
        let ingress = Serve::start(
            project.path(),
            project.cache_dir(),
            &["--runner", &format!("pay={}", runner.url())],
        );
        Pay {
            _project: project,
            echo,
            _runner: runner,
            ingress,
        }
    }

    /// Writes `bytes` on a new connection and reads until the ingress
    /// closes it.
    fn exchange(&self, bytes: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.ingress.addr).expect("connect");
        // Only so that a hang fails instead of blocking the test run.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("read timeout");
        // The ingress may close before it has read all of a refused
        // request: the answer is read either way.
        let _ = stream.write_all(bytes);
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
                Err(e) => panic!(
                    "reading the answer: {e}; so far {:?}",
                    String::from_utf8_lossy(&got)
                ),
            }
        }
    }
}

/// One answer off the front of `bytes` (a `content-length` body).
fn next_answer(bytes: &mut &[u8]) -> (String, String) {
    let text = std::str::from_utf8(bytes).expect("UTF-8 answers");
    let (head, rest) = text.split_once("\r\n\r\n").expect("a whole head");
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().expect("a length"))
        .expect("a content-length");
    let body = rest[..length].to_string();
    *bytes = &bytes[head.len() + 4 + length..];
    (head.to_string(), body)
}

/// Checks that `head` and `body` are exactly the ingress's refusal with
/// `status`, `code` and `message`: what it wrote before hyper's own
/// refusals were replaced, less nothing and plus only hyper's `date`.
fn assert_refusal(head: &str, body: &str, status: &str, code: &str, message: &str) {
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap_or_else(|| panic!("no request id: {head}"));
    assert_eq!(
        body,
        format!(
            r#"{{"error":{{"code":"{code}","message":"{}","realm":"pay","request_id":"{id}"}}}}"#,
            message.replace('"', "\\\"")
        ),
        "{head}"
    );
    let lines: Vec<&str> = head.lines().filter(|l| !l.starts_with("date: ")).collect();
    assert_eq!(
        lines,
        [
            format!("HTTP/1.1 {status}").as_str(),
            "content-type: application/json",
            &format!("x-request-id: {id}"),
            "connection: close",
            &format!("content-length: {}", body.len()),
        ],
        "{head}"
    );
    assert_eq!(
        head.lines().filter(|l| l.starts_with("date: ")).count(),
        1,
        "{head}"
    );
}

#[test]
fn every_head_hyper_would_refuse_is_refused_in_json() {
    // A read buffer of 80 KiB: a target over hyper's 65,534 bytes fits.
    let pay = Pay::start("max-header-size = \"40KiB\"\n");
    let path = "/realms/pay/pay/charge";
    let post = |headers: &str| format!("POST {path} HTTP/1.1\r\nhost: x\r\n{headers}\r\n");
    let bad = "400 Bad Request";
    let large = "431 Request Header Fields Too Large";
    let cases = [
        ("GARBAGE\r\n\r\n".to_string(), bad),
        ("GET /a b c HTTP/1.1\r\n\r\n".to_string(), bad),
        ("GET / HTTP/2.0\r\n\r\n".to_string(), bad),
        ("GET http://[::1 HTTP/1.1\r\n\r\n".to_string(), bad),
        (post("no colon\r\n"), bad),
        (post("x: a\x01b\r\n"), bad),
        (post("content-length: 5\r\ncontent-length: 6\r\n"), bad),
        (post("content-length: five\r\n"), bad),
        (post("content-length: 99999999999999999999\r\n"), bad),
        (post("transfer-encoding: gzip\r\n"), bad),
        (post("transfer-encoding: chunked, gzip\r\n"), bad),
        (
            format!("POST {path} HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n"),
            bad,
        ),
        (post("content-length: 18446744073709551614\r\n"), large),
        (post(&"x: y\r\n".repeat(100)), large),
        (post(&format!("x-big: {}\r\n", "b".repeat(100_000))), large),
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(65_534)),
            "414 URI Too Long",
        ),
    ];
    for (request, status) in cases {
        let got = pay.exchange(request.as_bytes());
        let mut rest = &got[..];
        let (head, body) = next_answer(&mut rest);
        let (code, message) = match status {
            "400 Bad Request" => ("malformed_request", BAD_REQUEST),
            "414 URI Too Long" => ("uri_too_long", "the request's URI is too long"),
            _ => ("headers_too_large", TOO_LARGE),
        };
        let first = request.lines().next().unwrap_or("");
        let first = &first[..first.len().min(60)];
        assert_refusal(&head, &body, status, code, message);
        assert!(rest.is_empty(), "{first}: more after the refusal: {rest:?}");
    }
    assert_eq!(pay.echo.count(), 0);
}

#[test]
fn kept_alive_requests_reach_the_runner_as_sent_and_a_bad_head_after_them_is_refused_last() {
    let pay = Pay::start("");
    let path = "/realms/pay/pay/charge";
    // A body with what looks like a head in it (JSON allows the line
    // breaks between members).
    let tricky = "{\"amount\":1,\r\n\r\n\"memo\":\"GARBAGE / HTTP/1.1\"}";
    let chunked = r#"{"amount":2,"memo":"chunks"}"#;
    let mut requests = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{tricky}",
        tricky.len()
    );
    requests.push_str(&format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\n{}\r\n{:x}\r\n{}\r\n0\r\nx-trailer: t\r\n\r\n",
        &chunked[..5],
        chunked.len() - 5,
        &chunked[5..]
    ));
    let good = requests.clone();
    requests.push_str(&format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"
    ));
    // All at once, and again one byte per write.
    for pieces in [requests.len(), 1] {
        let mut stream = TcpStream::connect(pay.ingress.addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("read timeout");
        for piece in requests.as_bytes().chunks(pieces) {
            stream.write_all(piece).expect("write");
        }
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got);
        let mut rest = &got[..];
        for sent in [tricky, chunked] {
            let (head, body) = next_answer(&mut rest);
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}\n{body}");
            assert_eq!(body, sent, "the runner got other bytes than were sent");
        }
        let (head, body) = next_answer(&mut rest);
        assert_refusal(
            &head,
            &body,
            "400 Bad Request",
            "malformed_request",
            BAD_REQUEST,
        );
        assert!(rest.is_empty(), "more after the refusal: {rest:?}");
    }
    assert_eq!(pay.echo.count(), 4);

    // The same good requests, closed by the client: all answered.
    let got = pay
        .exchange(format!("{good}GET /healthz HTTP/1.1\r\nconnection: close\r\n\r\n").as_bytes());
    let mut rest = &got[..];
    for _ in 0..2 {
        let (head, _) = next_answer(&mut rest);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    }
    let (head, body) = next_answer(&mut rest);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body, "ok\n");
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn a_request_of_the_stand_ins_method_is_an_ordinary_request() {
    let pay = Pay::start("");
    let got = pay.exchange(b"REALM-REFUSED / HTTP/1.1\r\nconnection: close\r\n\r\n");
    let mut rest = &got[..];
    let (head, body) = next_answer(&mut rest);
    assert!(
        head.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{head}\n{body}"
    );
    assert!(body.contains("\"code\":\"not_found\""), "{body}");
}

/// Review: a client's own `REALM-REFUSED` request pipelined before a head
/// that is refused is still an ordinary request (404), and the requests
/// between it and the refused head are answered; only the bad head gets
/// the 400. `Refused` is set when `CheckedHeads` reads ahead, before hyper
/// has parsed the earlier requests, so the client's own request is taken
/// for the stand-in.
#[test]
fn a_pipelined_request_of_the_stand_ins_method_before_a_bad_head_is_ordinary() {
    let pay = Pay::start("");
    let got = pay.exchange(
        b"REALM-REFUSED / HTTP/1.1\r\nhost: x\r\n\r\nGET /healthz HTTP/1.1\r\nhost: x\r\n\r\nPOST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
    );
    let mut rest = &got[..];
    let (head, body) = next_answer(&mut rest);
    assert!(
        head.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "the client's own REALM-REFUSED request was answered as the refused head:\n{head}\n{body}"
    );
    let (head, _) = next_answer(&mut rest);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let (head, body) = next_answer(&mut rest);
    assert_refusal(
        &head,
        &body,
        "400 Bad Request",
        "malformed_request",
        BAD_REQUEST,
    );
}
