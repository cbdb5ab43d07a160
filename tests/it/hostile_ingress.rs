//! Hostile clients and upstreams of the ingress, end to end (issue 25):
//! an HTTP/2 client that stalls its streams with flow control, replies
//! beyond the reply cap and beyond `max-buffered`, forged `x-realm-via`
//! origins, forged request ids, SIGHUP during a call, a connection flood
//! against the health probes, runner URLs that mean two things. Real
//! `realm serve` processes on loopback, the echo runner in this process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::GitRealm;
use crate::common::backends::Background;
use crate::common::echo::{Echo, MSG, call, code, echo_runner, json, ledger_realm, message};
use crate::common::serve::{Serve, header, http, wait_for};

/// bank (the ledger module, served by an echo runner) with `settings`
/// appended to its `[ingress]` table.
struct Bank {
    _realm: GitRealm,
    _cache: tempfile::TempDir,
    echo: Arc<Echo>,
    _runner: Background,
    serve: Serve,
}

impl Bank {
    fn start(settings: &str, env: &[(&str, &str)]) -> Bank {
        let realm = ledger_realm("bank");
        let toml = realm.read("ftl-project.toml");
        realm.write(
            "ftl-project.toml",
            &format!("{toml}\n[ingress]\n{settings}\n"),
        );
        let cache = tempfile::tempdir().expect("cache");
        let echo = Arc::new(Echo::default());
        let runner = echo_runner(echo.clone(), None);
        let serve = Serve::start_with(
            realm.path(),
            cache.path(),
            &["--runner", &format!("ledger={}", runner.url())],
            env,
            None,
        );
        Bank {
            _realm: realm,
            _cache: cache,
            echo,
            _runner: runner,
            serve,
        }
    }

    fn status(&self) -> serde_json::Value {
        json(&http("GET", self.serve.addr, "/status", "", &[]).expect("status"))
    }

    fn buffered(&self) -> u64 {
        self.status()["buffered_bytes"].as_u64().unwrap_or(u64::MAX)
    }

    /// The runner's entry in `/status`.
    fn runner(&self) -> serde_json::Value {
        self.status()["upstreams"]
            .as_array()
            .and_then(|all| all.iter().find(|u| u["name"] == "ledger").cloned())
            .expect("the ledger runner in /status")
    }
}

#[test]
fn an_http2_stream_that_reads_none_of_its_reply_is_reset_and_frees_the_budget() {
    // Replies of 400 kB; two of them fill most of a 1 MiB budget.
    let bank = Bank::start(
        "max-buffered = \"1MiB\"\nmax-body-size = \"64KiB\"\nrequest-timeout = \"1s\"",
        &[],
    );
    bank.echo.reply_bytes.store(400_000, Ordering::Relaxed);
    let addr = bank.serve.addr;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // A client that opens its streams with a receive window of 0: the
    // replies can never be sent. Its connection task runs on the runtime's
    // threads and answers the ingress's pings all along.
    let bodies = runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (client, connection) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, bytes::Bytes>(tcp)
            .await
            .expect("h2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let mut client = client.clone().ready().await.expect("ready");
            let request = http::Request::post(format!("http://{addr}/realms/bank/ledger/big"))
                .header("content-type", "application/json")
                .body(())
                .expect("request");
            let (response, mut send) = client.send_request(request, false).expect("send");
            send.send_data(bytes::Bytes::from_static(MSG.as_bytes()), true)
                .expect("body");
            // The head is not flow-controlled: the reply has started.
            let response = response.await.expect("response");
            assert_eq!(response.status(), 200);
            bodies.push(response.into_body());
        }
        (client, bodies)
    });
    // The stalled streams are reset after the write timeout (1 s), and
    // their replies are no longer counted.
    let (_client, bodies) = bodies;
    runtime.block_on(async {
        for mut body in bodies {
            let end = tokio::time::timeout(Duration::from_secs(60), body.data())
                .await
                .expect("the stalled stream ends within a minute");
            let error = match end {
                Some(Err(e)) => e,
                other => panic!("the stalled stream was not reset: {other:?}"),
            };
            assert_eq!(error.reason(), Some(h2::Reason::CANCEL), "{error}");
        }
    });
    wait_for("the budget to be free again", || match bank.buffered() {
        0 => Ok(()),
        n => Err(format!("{n} bytes held")),
    });
    // Another caller gets its large reply, over HTTP/1.1 and over HTTP/2
    // (in pieces, whole).
    let answer = call(&bank.serve, "/realms/bank/ledger/big", MSG, &[]);
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert_eq!(answer.2, crate::common::echo::big_msg(400_000));
    let reply = runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut client = client.ready().await.expect("ready");
        let request = http::Request::post(format!("http://{addr}/realms/bank/ledger/big"))
            .body(())
            .expect("request");
        let (response, mut send) = client.send_request(request, false).expect("send");
        send.send_data(bytes::Bytes::from_static(MSG.as_bytes()), true)
            .expect("body");
        let response = response.await.expect("response");
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        let mut reply = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("a piece");
            let _ = body.flow_control().release_capacity(chunk.len());
            reply.extend_from_slice(&chunk);
        }
        reply
    });
    assert_eq!(
        String::from_utf8(reply).expect("UTF-8"),
        crate::common::echo::big_msg(400_000)
    );
    bank.serve.wait_log("the reset", |l| {
        l.contains("reset an HTTP/2 stream whose client read none of its reply")
    });
}

#[test]
fn a_reply_over_the_cap_fails_that_call_and_leaves_the_runner_healthy() {
    let bank = Bank::start("", &[]);
    bank.echo
        .reply_bytes
        .store((64 << 20) + 1, Ordering::Relaxed);
    let path = "/realms/bank/ledger/big";
    for _ in 0..2 {
        let answer = call(&bank.serve, path, MSG, &[]);
        assert_eq!(
            (answer.0, code(&answer).as_str()),
            (502, "upstream_too_large"),
            "{}",
            answer.2
        );
        assert!(
            message(&answer).contains("the runner of module `ledger` answered more than 64 MiB"),
            "{}",
            answer.2
        );
    }
    // The runner is up: the next call goes to it, no backoff.
    let answer = call(&bank.serve, "/realms/bank/ledger/echo", MSG, &[]);
    assert_eq!(answer.0, 200, "{}", answer.2);
    let runner = bank.runner();
    assert_eq!(runner["state"], "up", "{runner}");
    assert_eq!(runner["failed"], 0, "{runner}");
    assert_eq!(bank.buffered(), 0);
}

#[test]
fn replies_count_in_max_buffered_and_one_that_does_not_fit_is_refused() {
    let bank = Bank::start("max-buffered = \"256KiB\"\nmax-body-size = \"64KiB\"", &[]);
    let path = "/realms/bank/ledger/big";
    // A reply larger than the whole budget: refused, not held past it.
    bank.echo.reply_bytes.store(300_000, Ordering::Relaxed);
    let answer = call(&bank.serve, path, MSG, &[]);
    assert_eq!(
        (answer.0, code(&answer).as_str()),
        (503, "reply_busy"),
        "{}",
        answer.2
    );
    let text = message(&answer);
    assert!(
        text.contains("the call ran, its reply was dropped") && text.contains("max-buffered"),
        "{text}"
    );
    assert_eq!(header(&answer, "retry-after"), Some("1"));
    // Nothing stays counted; the runner is not blamed.
    assert_eq!(bank.buffered(), 0);
    assert_eq!(bank.runner()["failed"], 0);
    // A reply that fits passes.
    bank.echo.reply_bytes.store(200_000, Ordering::Relaxed);
    let answer = call(&bank.serve, path, MSG, &[]);
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert_eq!(answer.2.len(), 200_000);
}

#[test]
fn a_refusal_for_a_full_budget_names_request_and_reply_bodies() {
    // A body held half-sent fills the budget: the next call is refused,
    // and the message does not call reply bytes request bodies.
    let bank = Bank::start(
        "max-buffered = \"8KiB\"\nmax-body-size = \"8KiB\"\nrequest-timeout = \"60s\"",
        &[],
    );
    let body = format!(r#"{{"text":"{}"}}"#, "x".repeat(8000));
    let mut held = TcpStream::connect(bank.serve.addr).expect("connect");
    write!(
        held,
        "POST /realms/bank/ledger/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..body.len() - 1]
    )
    .expect("write");
    wait_for("the held body to be counted", || match bank.buffered() {
        n if n >= 8000 => Ok(()),
        n => Err(format!("{n} bytes")),
    });
    let answer = call(&bank.serve, "/realms/bank/ledger/echo", &body, &[]);
    assert_eq!(
        (answer.0, code(&answer).as_str()),
        (503, "ingress_busy"),
        "{}",
        answer.2
    );
    assert!(
        message(&answer).contains("bytes of request and reply bodies"),
        "{}",
        answer.2
    );
    held.write_all(b"}").expect("last byte");
    let mut rest = Vec::new();
    let _ = held.read_to_end(&mut rest);
    drop(held);
    wait_for("the budget to be free", || match bank.buffered() {
        0 => Ok(()),
        n => Err(format!("{n} bytes")),
    });
}

/// A key as `REALM_KEY_*` takes it.
fn key(seed: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([seed; 32])
}

/// A signature header of `signer` with the key of `seed`, made now.
fn signature(seed: u8, signer: &str, path: &str, via: &str, body: &str) -> String {
    let request = realm::ingress::auth::Request {
        method: "POST",
        path,
        via,
        body: body.as_bytes(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    realm::ingress::auth::sign(&[seed; 32], signer, &request, now)
        .to_str()
        .expect("ascii")
        .to_string()
}

#[test]
fn only_the_hub_may_name_realms_before_it_in_via() {
    // bank knows keys of shop and evil (neither a hub) and of its hub. The
    // hub's address is never called here: a dead one.
    let hub = format!("hub=http://127.0.0.1:{}", crate::common::serve::free_port());
    let realm = ledger_realm("bank");
    let toml = realm.read("ftl-project.toml");
    realm.write(
        "ftl-project.toml",
        &format!("{toml}\n[ingress]\nhub = \"hub\"\n"),
    );
    let cache = tempfile::tempdir().expect("cache");
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let (shop, evil, hub_key) = (key(1), key(2), key(3));
    let serve = Serve::start_with(
        realm.path(),
        cache.path(),
        &[
            "--runner",
            &format!("ledger={}", runner.url()),
            "--realm-endpoint",
            &hub,
        ],
        &[
            ("REALM_KEY_SHOP", &shop),
            ("REALM_KEY_EVIL", &evil),
            ("REALM_KEY_HUB", &hub_key),
        ],
        None,
    );
    let path = "/realms/bank/ledger/echo";
    let signed = |seed: u8, signer: &str, via: &str| {
        let sig = signature(seed, signer, path, via, MSG);
        call(
            &serve,
            path,
            MSG,
            &[("x-realm-via", via), ("x-realm-signature", &sig)],
        )
    };
    // evil signs, and claims the call started in shop (or further back).
    for via in ["shop, evil", "crm, shop, evil"] {
        let answer = signed(2, "evil", via);
        assert_eq!(
            (answer.0, code(&answer).as_str()),
            (401, "via_unverified"),
            "{}",
            answer.2
        );
        assert!(
            message(&answer).contains("only the hub may relay calls of other realms here"),
            "{}",
            answer.2
        );
    }
    assert_eq!(echo.count(), 0, "a forged origin reached the runner");
    // evil's own call: the runner hears evil.
    let answer = signed(2, "evil", "evil");
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert_eq!(
        echo.last()
            .headers
            .get("x-realm-caller")
            .map(String::as_str),
        Some("evil")
    );
    // The hub vouches for the realms before it: the runner hears the origin.
    let answer = signed(3, "hub", "shop, hub");
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert_eq!(
        echo.last()
            .headers
            .get("x-realm-caller")
            .map(String::as_str),
        Some("shop")
    );
    // A claimed x-realm-caller is not what runners hear from a signed call.
    let sig = signature(1, "shop", path, "shop", MSG);
    let answer = call(
        &serve,
        path,
        MSG,
        &[
            ("x-realm-via", "shop"),
            ("x-realm-signature", &sig),
            ("x-realm-caller", "bank"),
        ],
    );
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert_eq!(
        echo.last()
            .headers
            .get("x-realm-caller")
            .map(String::as_str),
        Some("shop")
    );
}

#[test]
fn a_request_id_that_is_not_one_word_is_replaced_and_never_logged() {
    let bank = Bank::start("", &[]);
    let forged = "r1 caller_realm=shop call=m.v status=200 micros=900 x=";
    // A refused call (its body does not fit) and a call that goes through.
    for body in [r#"{"text":1}"#, MSG] {
        let answer = call(
            &bank.serve,
            "/realms/bank/ledger/echo",
            body,
            &[("x-request-id", forged)],
        );
        let id = header(&answer, "x-request-id")
            .expect("a request id")
            .to_string();
        assert!(uuid_like(&id), "{id}");
        bank.serve.wait_log("the call's line", |l| {
            l.contains(&format!("request_id={id}"))
        });
    }
    // The runner got the replacement, not the forged id.
    assert!(uuid_like(&bank.echo.last().headers["x-request-id"]));
    // One word of the charset is kept, answered and passed on.
    let id = "ok-1.a:b_c";
    let answer = call(
        &bank.serve,
        "/realms/bank/ledger/echo",
        MSG,
        &[("x-request-id", id)],
    );
    assert_eq!(header(&answer, "x-request-id"), Some(id));
    assert_eq!(bank.echo.last().headers["x-request-id"], id);
    bank.serve
        .wait_log("the kept id", |l| l.contains("request_id=ok-1.a:b_c "));
    let log = bank.serve.log();
    assert!(!log.contains("caller_realm=shop"), "{log}");
    assert!(!log.contains("r1 "), "{log}");
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[test]
fn a_runner_url_with_a_query_fragment_or_user_information_is_refused_at_start() {
    let realm = ledger_realm("bank");
    let cache = tempfile::tempdir().expect("cache");
    // `realm serve` must exit at start; one that serves is killed after a
    // minute (and the test fails).
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("realm"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(realm.path())
            .env("REALM_CACHE_DIR", cache.path())
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("realm serve");
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("realm serve {args:?} {env:?} started instead of refusing the URL");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        let _ = child
            .stderr
            .take()
            .map(|mut e| e.read_to_string(&mut stderr));
        assert_eq!(status.code(), Some(1), "{stderr}");
        crate::common::Run {
            code: 1,
            stdout: String::new(),
            stderr,
        }
    };
    let run = serve(&["--runner", "ledger=http://user:pw@127.0.0.1:9"], &[]);
    assert!(
        run.stderr.contains(
            "the runner of module `ledger` is \"http://user:pw@127.0.0.1:9\" (from command line), which has user information"
        ),
        "{}",
        run.stderr
    );
    let run = serve(&[], &[("REALM_RUNNER_LEDGER", "http://127.0.0.1:9/?x=")]);
    assert!(
        run.stderr
            .contains("(from $REALM_RUNNER_LEDGER), which has a query (`?`)"),
        "{}",
        run.stderr
    );
    let toml = realm.read("ftl-project.toml");
    realm.write(
        "ftl-project.toml",
        &format!("{toml}\n[ingress.runners]\nledger = \"http://127.0.0.1:9/base#x\"\n"),
    );
    let run = serve(&[], &[]);
    assert!(
        run.stderr
            .contains("(from ftl-project.toml), which has a fragment (`#`)")
            && run.stderr.contains("help: give the base URL only"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Serving realm"), "{}", run.stderr);
}

#[test]
fn health_probes_are_answered_when_max_connections_are_taken() {
    let bank = Bank::start("max-connections = 2", &[]);
    let addr = bank.serve.addr;
    // Calls held by the runner take the slots. The workers accept in
    // parallel, so a later connection can take a slot before an earlier
    // one is accepted (which is then refused): open them one by one until
    // two are held, each seen held (the runner has it) or refused (an
    // answer came).
    bank.echo.hold.store(true, Ordering::Relaxed);
    let mut held = Vec::new();
    while held.len() < 2 {
        let before = bank.echo.count();
        let mut tcp = TcpStream::connect(addr).expect("connect");
        write!(
            tcp,
            "POST /realms/bank/ledger/slow HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{MSG}",
            MSG.len()
        )
        .expect("write");
        tcp.set_nonblocking(true).expect("nonblocking");
        let accepted = wait_for("the call to be held or refused", || {
            if bank.echo.count() > before {
                return Ok(true);
            }
            // An answer (or the close after it): refused.
            match tcp.peek(&mut [0u8; 1]) {
                Ok(_) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        });
        if accepted {
            held.push(tcp);
        }
    }
    let refused = call(&bank.serve, "/realms/bank/ledger/echo", MSG, &[]);
    assert_eq!(
        (refused.0, code(&refused).as_str()),
        (503, "too_many_connections"),
        "{refused:?}"
    );
    // Liveness and readiness still answer.
    let healthz = http("GET", addr, "/healthz", "", &[]).expect("healthz");
    assert_eq!((healthz.0, healthz.2.as_str()), (200, "ok\n"));
    let readyz = http("GET", addr, "/readyz", "", &[]).expect("readyz");
    assert_eq!((readyz.0, readyz.2.as_str()), (200, "ready\n"));
    let head = http("HEAD", addr, "/healthz", "", &[]).expect("HEAD healthz");
    assert_eq!((head.0, head.2.as_str()), (200, ""));
    // Other paths are still refused.
    let status = http("GET", addr, "/status", "", &[]).expect("status");
    assert_eq!(
        (status.0, code(&status).as_str()),
        (503, "too_many_connections")
    );
    bank.echo.release();
    drop(held);
}
