//! Hostile input, end to end: what a user, a pinned repository or a caller
//! sends that once crashed, hung or slipped through `realm` — each case
//! with the real binary, real git repositories and a real ingress. (Schema
//! text nested too deep and cycles of types are in `hostile_schema.rs`.)

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::echo::{Echo, call, code, echo_runner, json, message};
use crate::common::serve::{Serve, header, http};
use crate::common::{GitRealm, TestProject, snapshots};

/// `realm`'s error output, for snapshots: the temporary directory replaced
/// by `<project>`, the directory it is in by `<parent>`.
fn stderr_of(project: &TestProject, args: &[&str]) -> String {
    let run = project.realm(args).expect(1);
    let root = project.path().canonicalize().expect("canonical");
    let parent = root.parent().expect("parent").display().to_string();
    run.stderr
        .replace(&root.display().to_string(), "<project>")
        .replace(&format!("(it is {parent})"), "(it is <parent>)")
}

#[test]
fn a_pinned_realm_nested_too_deep_is_refused_and_nothing_is_written() {
    let bank = GitRealm::example("bank");
    let deep = format!(
        "# proto-file: realm/schema/v1/schema.proto\n# proto-message: realm.schema.v1.Schema\nrealms {{\n  external: true\n  name: \"bank\"\n  modules {{\n    name: \"balance\"\n    decls {{\n      type_alias {{\n        visibility: VISIBILITY_EXPORT_REALM\n        name: \"Deep\"\n        type {{ {} int {{}} {} }}\n      }}\n    }}\n  }}\n}}\n",
        "optional { type { list { element { ".repeat(3000),
        "} } } } ".repeat(3000)
    );
    bank.write("ftl-external-schema.txtpb", &deep);
    // Published as proto-text only (a JSON beside it would be pinned).
    let settings = bank.read("realm.toml").replace(
        "export = [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]",
        "export = \"ftl-external-schema.txtpb\"",
    );
    bank.write("realm.toml", &settings);
    std::fs::remove_file(bank.path().join("ftl-external-schema.json")).expect("rm the JSON");
    bank.commit("a hostile export");
    let shop = TestProject::new("shop");
    let before = shop.read("ftl-project.toml");
    let run = shop.realm(&["add", "--git-repo", &bank.url()]).expect(1);
    assert!(
        run.stderr
            .contains("proto-text nests messages more than 64 deep"),
        "{}",
        run.stderr
    );
    assert_eq!(shop.read("ftl-project.toml"), before);
}

#[test]
fn realm_call_gives_up_after_its_timeout() {
    // A server that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("address");
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(1).flatten() {
            held.push(stream);
            std::thread::sleep(Duration::from_secs(30));
        }
    });
    let project = TestProject::new("shop");
    let run = project
        .realm(&[
            "call",
            "balance.withdraw@bank",
            "{}",
            "--endpoint",
            &format!("http://{addr}"),
            "--timeout",
            "1s",
        ])
        .expect(1);
    // A timeout that did not fire would end with the holder's close after
    // 30 s, and another message.
    assert!(
        run.stderr
            .starts_with(&format!("error: no answer from the ingress at http://{addr}/realms/bank/balance/withdraw within 1s")),
        "{}",
        run.stderr
    );
    drop(holder);
}

const PAY: &str = r#"module pay {
  export realm data Charge {
    amount Int
    memo String?
  }

  export realm verb charge(pay.Charge) pay.Charge
}
"#;

/// The `pay` realm served with an echo runner, with extra `[ingress]`
/// settings.
struct Pay {
    _project: TestProject,
    echo: Arc<Echo>,
    _runner: crate::common::backends::Background,
    ingress: Serve,
}

impl Pay {
    fn start(ingress_settings: &str) -> Pay {
        let project = TestProject::new("pay");
        project.write("modules/pay.ftl", PAY);
        if !ingress_settings.is_empty() {
            let toml = project.read("ftl-project.toml");
            project.write(
                "ftl-project.toml",
                &format!("{toml}\n[ingress]\n{ingress_settings}"),
            );
        }
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
}

#[test]
fn only_bodies_with_one_meaning_reach_the_runner() {
    let pay = Pay::start("");
    let path = "/realms/pay/pay/charge";
    for (body, status, code_, path_) in [
        (
            r#"{"amount":"lots","amount":1}"#,
            400,
            "malformed_json",
            "$.amount",
        ),
        (
            r#"{"amount":1,"memo":"a","memo":null}"#,
            400,
            "malformed_json",
            "$.memo",
        ),
        (
            r#"{"amount":9223372036854775808}"#,
            400,
            "invalid_body",
            "$.amount",
        ),
        (
            r#"{"amount":-9223372036854775809}"#,
            400,
            "invalid_body",
            "$.amount",
        ),
        (r#"{"amount":1e19}"#, 400, "invalid_body", "$.amount"),
    ] {
        let answer = call(&pay.ingress, path, body, &[]);
        let error = &json(&answer)["error"];
        assert_eq!(
            (answer.0, code(&answer).as_str(), error["path"].as_str()),
            (status, code_, Some(path_)),
            "{body}: {}",
            answer.2
        );
    }
    let surrogate = call(&pay.ingress, path, r#"{"amount":1,"memo":"\ud800"}"#, &[]);
    assert_eq!(surrogate.0, 400, "{}", surrogate.2);
    assert!(message(&surrogate).contains("surrogate"), "{}", surrogate.2);
    assert_eq!(pay.echo.count(), 0, "a refused body reached the runner");

    for body in [
        r#"{"amount":9223372036854775807}"#,
        r#"{"amount":-9223372036854775808}"#,
        r#"{"amount":1000,"memo":"\ud83d\ude00"}"#,
    ] {
        let answer = call(&pay.ingress, path, body, &[]);
        assert_eq!(answer.0, 200, "{body}: {}", answer.2);
        assert_eq!(
            answer.2, body,
            "the runner got other bytes than were checked"
        );
    }
    assert_eq!(pay.echo.count(), 3);
}

#[test]
fn every_refusal_of_the_ingress_is_json() {
    let pay = Pay::start("max-header-size = \"8KiB\"\n");
    let get = http("GET", pay.ingress.addr, "/realms/pay/pay/charge", "", &[]).expect("GET");
    assert_eq!(
        (get.0, code(&get).as_str()),
        (405, "method_not_allowed"),
        "{get:?}"
    );
    assert_eq!(header(&get, "allow"), Some("POST"));
    let post = http("POST", pay.ingress.addr, "/healthz", "", &[]).expect("POST");
    assert_eq!(
        (post.0, code(&post).as_str()),
        (405, "method_not_allowed"),
        "{post:?}"
    );

    let long = "y".repeat(10_000);
    let big = call(
        &pay.ingress,
        "/realms/pay/pay/charge",
        "{}",
        &[("x-long", &long)],
    );
    assert_eq!(
        (big.0, code(&big).as_str()),
        (431, "headers_too_large"),
        "{big:?}"
    );
    assert!(
        message(&big).contains("`[ingress] max-header-size`"),
        "{}",
        big.2
    );

    let bad = call(&pay.ingress, "/realms/pay/%ff%fe/charge", "{}", &[]);
    assert_eq!(
        (bad.0, code(&bad).as_str()),
        (400, "malformed_path"),
        "{bad:?}"
    );
    let none = call(&pay.ingress, "/nothing/here", "{}", &[]);
    assert_eq!(
        (none.0, code(&none).as_str()),
        (404, "not_found"),
        "{none:?}"
    );
    assert_eq!(pay.echo.count(), 0);
}

/// Keeps `stream`'s receive buffer at 64 KiB (the kernel doubles it):
/// what a client that does not read holds of a reply stays small.
fn small_receive_buffer(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 64 << 10;
    // SAFETY: setsockopt on an open socket with a c_int of its size.
    let set = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
}

/// Sends a request head (and `body`, not all of a longer declared body) and
/// keeps the connection open.
fn start_request(addr: std::net::SocketAddr, declared: usize, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /realms/pay/pay/charge HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n{body}"
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream
}

/// Polls `/status` until `ready` holds of it.
fn wait_status(serve: &Serve, what: &str, ready: impl Fn(&serde_json::Value) -> bool) {
    let started = Instant::now();
    loop {
        let answer = http("GET", serve.addr, "/status", "", &[]).expect("status");
        let status = json(&answer);
        if ready(&status) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bodies_beyond_the_buffer_budget_wait_for_none_and_get_503() {
    let pay = Pay::start(
        "max-body-size = \"16KiB\"\nmax-buffered = \"24KiB\"\nrequest-timeout = \"60s\"\n",
    );
    // A declared length alone holds nothing of the budget.
    let declared_only = start_request(pay.ingress.addr, 16 * 1024, "");
    // Two calls hold 20 KiB of the 24 between them: 10 KiB each sent,
    // their bodies unfinished.
    let sent = format!("{{\"amount\":1,\"memo\":\"{}", "m".repeat(10 * 1024 - 20));
    let first = start_request(pay.ingress.addr, 12 * 1024, &sent);
    let second = start_request(pay.ingress.addr, 12 * 1024, &sent);
    wait_status(&pay.ingress, "two bodies buffered", |s| {
        s["buffered_bytes"] == 20 * 1024
    });
    let busy = call(
        &pay.ingress,
        "/realms/pay/pay/charge",
        &format!(r#"{{"amount":1,"memo":"{}"}}"#, "m".repeat(5000)),
        &[],
    );
    assert_eq!(
        (busy.0, code(&busy).as_str()),
        (503, "ingress_busy"),
        "{busy:?}"
    );
    assert_eq!(header(&busy, "retry-after"), Some("1"));
    assert!(
        message(&busy).contains("`[ingress] max-buffered`"),
        "{}",
        busy.2
    );
    // A small body still fits.
    let small = call(
        &pay.ingress,
        "/realms/pay/pay/charge",
        r#"{"amount":1}"#,
        &[],
    );
    assert_eq!(small.0, 200, "{small:?}");
    // The unfinished calls end; their share comes back.
    drop(declared_only);
    drop(first);
    drop(second);
    wait_status(&pay.ingress, "the budget given back", |s| {
        s["buffered_bytes"] == 0
    });
    let fits = call(
        &pay.ingress,
        "/realms/pay/pay/charge",
        &format!(r#"{{"amount":1,"memo":"{}"}}"#, "m".repeat(5000)),
        &[],
    );
    assert_eq!(fits.0, 200, "{fits:?}");
}

#[test]
fn connections_beyond_max_connections_are_answered_503_and_closed() {
    let pay = Pay::start("max-connections = 3\nheader-timeout = \"60s\"\n");
    // Idle connections take the slots. The workers accept in parallel, so
    // a later connection can take a slot before an earlier one is
    // accepted, which is then refused: open idle connections until three
    // hold the slots and a call is refused.
    let mut idle: Vec<TcpStream> = Vec::new();
    let started = Instant::now();
    let refused = loop {
        if idle.len() < 10 {
            idle.push(TcpStream::connect(pay.ingress.addr).expect("connect"));
        }
        let answer = http("GET", pay.ingress.addr, "/.well-known/realm", "", &[]).expect("answer");
        if answer.0 == 503 {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never refused with {} idle connections open: {answer:?}\n{}",
            idle.len(),
            pay.ingress.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code(&refused), "too_many_connections", "{refused:?}");
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert!(
        message(&refused).contains("`[ingress] max-connections`"),
        "{}",
        refused.2
    );
    drop(idle);
    // Their slots come back when they close.
    let started = Instant::now();
    loop {
        let answer = http("GET", pay.ingress.addr, "/.well-known/realm", "", &[]).expect("answer");
        if answer.0 == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "slots never came back: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn module_dirs_must_name_directories_inside_the_project() {
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("evil.ftl"), "module evil {\n}\n").expect("write");
    let project = TestProject::new("shop");
    project.write("modules/shop.ftl", "module shop {\n}\n");
    project.write("not-a-dir", "");
    std::os::unix::fs::symlink(outside.path(), project.path().join("linked")).expect("symlink");
    let cases = [
        ("parent", "[\"..\"]"),
        ("root", "[\"/\"]"),
        ("symlink_out", "[\"linked\"]"),
        ("file", "[\"not-a-dir\"]"),
        (
            "all_at_once",
            "[\"modules\", \"..\", \"missing\", \"not-a-dir\"]",
        ),
    ];
    for (name, dirs) in cases {
        project.write(
            "ftl-project.toml",
            &format!("name = \"shop\"\nmodule-dirs = {dirs}\n"),
        );
        let text = stderr_of(&project, &["schema"]).replace(
            &outside
                .path()
                .canonicalize()
                .expect("canonical")
                .display()
                .to_string(),
            "<outside>",
        );
        snapshots(|| insta::assert_snapshot!(format!("hostile_module_dirs_{name}"), text));
    }
}

#[test]
fn a_directory_named_ftl_project_toml_is_named_as_such() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("ftl-project.toml")).expect("mkdir");
    let run = crate::common::run_realm(dir.path(), &["schema"]).expect(1);
    assert!(
        run.stderr.contains("ftl-project.toml is not a file"),
        "{}",
        run.stderr
    );
}

#[test]
fn durations_longer_than_ftl_holds_are_refused() {
    let project = TestProject::new("shop");
    project.write(
        "modules/shop.ftl",
        "module shop {\n  export verb v(Unit) Unit\n    +retry 3 99999999999999h\n}\n",
    );
    let text = stderr_of(&project, &["schema"]);
    snapshots(|| insta::assert_snapshot!("hostile_duration_too_long", text));
}

#[test]
fn a_bad_pin_name_is_a_usage_error() {
    let project = TestProject::new("shop");
    let run = project
        .realm(&["add", "--git-repo", "../bank", "--name", "../x"])
        .expect(2);
    assert!(
        run.stderr.contains("`../x` is not a realm name"),
        "{}",
        run.stderr
    );
}

/// Waits until the server closes `stream` (a read gives end of file or an
/// error), up to `within`; panics if it stays open.
fn wait_closed(mut stream: TcpStream, what: &str, within: Duration) -> Vec<u8> {
    use std::io::Read;
    stream.set_read_timeout(Some(within)).expect("read timeout");
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if started.elapsed() < within => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("{what}: still open after {within:?}"),
        }
    }
}

#[test]
fn silent_and_idle_connections_give_their_slots_back() {
    // Room for the two silent connections, and for the test's own probes.
    let pay = Pay::start("max-connections = 4\nheader-timeout = \"1s\"\nidle-timeout = \"1s\"\n");
    // Connections that never say anything are closed after header-timeout.
    let silent: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(pay.ingress.addr).expect("connect"))
        .collect();
    for stream in silent {
        let got = wait_closed(stream, "a silent connection", Duration::from_secs(20));
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    // A keep-alive connection with no call in flight is closed after
    // idle-timeout, once its call is answered.
    let mut kept = TcpStream::connect(pay.ingress.addr).expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let got = wait_closed(
        kept,
        "an idle keep-alive connection",
        Duration::from_secs(20),
    );
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // An HTTP/2 connection (prior knowledge) with no stream open is sent
    // away (GOAWAY) after idle-timeout, though it answers pings.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(pay.ingress.addr)
            .await
            .expect("connect");
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .expect("h2 handshake");
        let conn = tokio::spawn(conn);
        let request = http::Request::get(format!("http://{}/healthz", pay.ingress.addr))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("request");
        let answer = send.send_request(request).await.expect("answer");
        assert_eq!(answer.status(), 200);
        drop(answer);
        // HEAD over HTTP/2: the length of GET's body and no DATA (an h2
        // client refuses content on a HEAD answer as a protocol error).
        let head = http::Request::head(format!("http://{}/healthz", pay.ingress.addr))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("request");
        let answer = send.send_request(head).await.expect("HEAD answer");
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.headers().get("content-length").map(|v| v.as_bytes()),
            Some(&b"3"[..])
        );
        let body = http_body_util::BodyExt::collect(answer.into_body())
            .await
            .expect("a HEAD answer without content")
            .to_bytes();
        assert!(body.is_empty(), "{body:?}");
        let ended = tokio::time::timeout(Duration::from_secs(20), conn).await;
        assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
    });
    // Every slot is free again.
    let answer = call(
        &pay.ingress,
        "/realms/pay/pay/charge",
        r#"{"amount":1}"#,
        &[],
    );
    assert_eq!(answer.0, 200, "{answer:?}");
}

#[test]
fn malformed_http_is_refused_in_json_too() {
    let pay = Pay::start("max-header-size = \"8KiB\"\n");
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n",
        "b".repeat(40_000)
    );
    for (request, status, code_) in [
        (
            "POST /realms/pay/pay/charge HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello".to_string(),
            400,
            "malformed_request",
        ),
        ("GARBAGE\r\n\r\n".to_string(), 400, "malformed_request"),
        (
            "POST /realms/pay/pay/charge HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".to_string(),
            400,
            "malformed_request",
        ),
        (huge, 431, "headers_too_large"),
    ] {
        let mut stream = TcpStream::connect(pay.ingress.addr).expect("connect");
        let _ = stream.write_all(request.as_bytes());
        let got = wait_closed(stream, "a refused connection", Duration::from_secs(20));
        let answer = crate::common::serve::parse_answer(&String::from_utf8_lossy(&got));
        assert_eq!(
            (answer.0, code(&answer).as_str()),
            (status, code_),
            "{}: {answer:?}",
            request.lines().next().unwrap_or("")
        );
        assert_eq!(json(&answer)["error"]["realm"], "pay");
    }
    assert_eq!(pay.echo.count(), 0);
}

#[test]
fn a_client_that_does_not_read_its_reply_lets_go_of_it() {
    // The reply is held for request-timeout after its write stalls: long
    // enough for `/status` to be seen on a loaded machine.
    let pay = Pay::start(
        "max-body-size = \"32MiB\"\nmax-buffered = \"64MiB\"\nrequest-timeout = \"5s\"\n",
    );
    // The echo runner answers with the request: 16 MB, more than the
    // socket buffers on both sides hold once the client's receive buffer
    // is kept small (Linux grows it up to `tcp_rmem`'s maximum, 32 MiB on
    // some machines, where the whole reply fitted and the write never
    // stalled).
    let memo = "m".repeat(16 << 20);
    let body = format!(r#"{{"amount":1,"memo":"{memo}"}}"#);
    let mut stream = TcpStream::connect(pay.ingress.addr).expect("connect");
    small_receive_buffer(&stream);
    stream
        .write_all(
            format!(
                "POST /realms/pay/pay/charge HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .expect("head");
    stream.write_all(body.as_bytes()).expect("body");
    // The runner answers the 16 MB; the reply waits in the ingress,
    // counted, while the client reads nothing...
    wait_status(&pay.ingress, "the runner answered", |s| {
        pay.echo.count() == 1 && s["buffered_bytes"].as_u64().unwrap_or(0) > 16 << 20
    });
    // ...until the write has made no progress for request-timeout: then it
    // is given up, its bytes let go and the connection closed, the client
    // having got only what the sockets held of the reply.
    wait_status(&pay.ingress, "the reply let go", |s| {
        s["buffered_bytes"] == 0
    });
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got[..got.len().min(200)])
    );
    assert!(
        got.len() < body.len(),
        "the whole reply was written ({} bytes): the write never stalled",
        got.len()
    );
}

#[test]
fn a_link_out_of_the_project_is_not_read() {
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "SECRET_TOKEN=hunter2\n").expect("write");
    let project = TestProject::new("shop");
    std::fs::create_dir_all(project.path().join("modules/g")).expect("mkdir");
    std::os::unix::fs::symlink(&secret, project.path().join("modules/g/ftl.toml")).expect("link");
    let run = project.realm(&["schema"]).expect(1);
    assert!(
        run.stderr.contains("leads out of the project"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let project = TestProject::new("shop");
    let run = project
        .realm(&[
            "call",
            "a.b@c",
            "{}",
            "--endpoint",
            "http://127.0.0.1:1",
            "--timeout",
            "0s",
        ])
        .expect(2);
    assert!(run.stderr.contains("no time at all"), "{}", run.stderr);
    let run = project.realm(&["serve", "--listen", "nonsense"]).expect(2);
    assert!(run.stderr.contains("is not an address"), "{}", run.stderr);
    project.write(
        "ftl-project.toml",
        "name = \"shop\"\nmodule-dirs = [\"modules\"]\n\n[ingress]\nmax-body-size = \"8MiB\"\nmax-buffered = \"1MiB\"\n",
    );
    let run = project
        .realm(&["serve", "--listen", "127.0.0.1:0"])
        .expect(1);
    assert!(
        run.stderr
            .contains("`[ingress] max-buffered` (1048576 bytes) is smaller than `max-body-size`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_pinned_realm_with_code_in_a_comment_or_a_name_is_refused() {
    // What the review of generated clients found: a comment that ends in
    // Go code after a line break, and a JSON name that ends a struct tag.
    let evil = GitRealm::empty("main");
    evil.write("ftl-project.toml", "name = \"evil\"\nmodule-dirs = []\n");
    evil.write(
        "ftl-external-schema.txtpb",
        "# proto-file: realm/schema/v1/schema.proto\n# proto-message: realm.schema.v1.Schema\n\
         realms {\n  external: true\n  name: \"evil\"\n  modules {\n    name: \"m\"\n\
         \x20   decls {\n      data {\n        comments: \"Doc line.\\nfunc init() { println(1) }\"\n\
         \x20       visibility: VISIBILITY_EXPORT_REALM\n        name: \"Req\"\n\
         \x20       fields {\n          name: \"name\"\n          type { string {} }\n\
         \x20         metadata { alias { kind: \"json\" alias: \"a\u{2028}b\" } }\n        }\n\
         \x20     }\n    }\n  }\n}\n",
    );
    evil.commit("code in a comment");
    let shop = TestProject::new("shop");
    let before = shop.read("ftl-project.toml");
    let stderr = stderr_of(&shop, &["add", "--git-repo", &evil.url()]);
    assert_eq!(shop.read("ftl-project.toml"), before);
    for expected in [
        "error: the doc comment of data `m.Req` contains a line break (U+000A)\n",
        "ftl-external-schema.txtpb: realm evil, module m, data Req\n",
        "= help: generated code and schema text write comments line by line; in proto-text or JSON, \
         give each line of a comment as its own `comments` entry",
        "error: the name of `+alias` contains a line break (U+2028)\n",
        "\n2 errors",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
}

/// Review 4: the fast path buffers a call's whole body in its connection
/// buffer before `routes::call` sees any of it, so bodies arriving there
/// hold none of `max-buffered`: hyper's path counts them as they arrive
/// (the test above), the fast path does not, and any number of
/// connections each hold up to `max-body-size`.
#[test]
fn fast_path_bodies_count_in_the_buffer_budget_as_they_arrive() {
    let pay = Pay::start(
        "fast-path = true\nmax-body-size = \"16KiB\"\nmax-buffered = \"24KiB\"\nrequest-timeout = \"60s\"\n",
    );
    let sent = format!("{{\"amount\":1,\"memo\":\"{}", "m".repeat(10 * 1024 - 20));
    let first = start_request(pay.ingress.addr, 12 * 1024, &sent);
    let second = start_request(pay.ingress.addr, 12 * 1024, &sent);
    wait_status(&pay.ingress, "two bodies buffered", |s| {
        s["buffered_bytes"] == 20 * 1024
    });
    let busy = call(
        &pay.ingress,
        "/realms/pay/pay/charge",
        &format!(r#"{{"amount":1,"memo":"{}"}}"#, "m".repeat(5000)),
        &[],
    );
    assert_eq!(
        (busy.0, code(&busy).as_str()),
        (503, "ingress_busy"),
        "{busy:?}"
    );
    drop(first);
    drop(second);
}

/// Writes `at_once`, then `slowly` a byte at a time `every` apart, then
/// `then`, on a new connection; what the client reads until the ingress
/// closes or answers.
fn dribble(
    addr: std::net::SocketAddr,
    at_once: &[u8],
    slowly: &[u8],
    then: &[u8],
    every: Duration,
) -> String {
    use std::io::Read;
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let _ = stream.write_all(at_once);
    for b in slowly {
        std::thread::sleep(every);
        if stream.write_all(&[*b]).is_err() {
            break;
        }
    }
    let _ = stream.write_all(then);
    // The first answer, or the end: the connection stays open (an end of
    // the stream would hand the call to hyper).
    let mut got = [0u8; 4096];
    let n = stream.read(&mut got).unwrap_or(0);
    String::from_utf8_lossy(&got[..n]).into_owned()
}

/// Review 4: hyper's `header-timeout` bounds the whole head; the fast
/// path waits `header-timeout` per read, so a head sent a byte at a time
/// just under it is read for as long as the client likes (slowloris, up
/// to `max-header-size` reads) and then answered. Without the fast path
/// the connection is closed after `header-timeout`.
#[test]
fn fast_path_header_timeout_bounds_the_whole_head() {
    let pay = Pay::start("fast-path = true\nheader-timeout = \"1s\"\n");
    let body = br#"{"amount":1}"#;
    let head = format!(
        "POST /realms/pay/pay/charge HTTP/1.1\r\nx-pad: aaaaaaaaaaaaaaaaaaaa\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (at_once, slowly) = head.as_bytes().split_at(40);
    // 250ms apart: several header timeouts in all.
    let answer = dribble(
        pay.ingress.addr,
        at_once,
        slowly,
        body,
        Duration::from_millis(250),
    );
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "a head sent over many header timeouts was answered:\n{answer}"
    );
}

/// Review 4: hyper's path reads a body within `request-timeout` in all
/// (`read_body`, else 408); the fast path waits `request-timeout` per
/// read, so a body sent a byte at a time just under it is read for as
/// long as the client likes, outside `max-buffered` too.
#[test]
fn fast_path_request_timeout_bounds_the_whole_body() {
    let pay = Pay::start("fast-path = true\nrequest-timeout = \"1s\"\n");
    let body = br#"{"amount":1,"memo":"abcdefghijklmnop"}"#;
    let head = format!(
        "POST /realms/pay/pay/charge HTTP/1.1\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (slowly, then) = body.split_at(24);
    let answer = dribble(
        pay.ingress.addr,
        head.as_bytes(),
        slowly,
        then,
        Duration::from_millis(250),
    );
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "a body sent over many request timeouts was answered:\n{answer}"
    );
}
