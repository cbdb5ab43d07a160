//! Ingress hardening end to end, with real `realm serve` processes on
//! loopback and an echo runner in this process: signed calls (and each way
//! a signature is refused), loops and hop limits, the hub relay (three
//! processes), limits (body, headers, slow clients, upstream timeout,
//! per-upstream concurrency), upstream backoff and `+retry`, a fault under
//! load, TLS and mutual TLS, metrics, `/status` and `realm status`, trace
//! propagation and graceful shutdown. Every refusal also checks that the
//! runner was not called.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::backends::Background;
use crate::common::echo::{Echo, MSG, call, code, echo_runner, json, ledger_realm, message};
use crate::common::serve::{Serve, free_port, header, http, wait_for};
use crate::common::{GitRealm, TestProject, run_realm_with, snapshots};
use base64::Engine;

/// A key as `REALM_KEY_*` takes it.
fn key(seed: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([seed; 32])
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A signature header made with the library, as another realm would.
fn signature(key_seed: u8, signer: &str, path: &str, via: &str, body: &str, at: u64) -> String {
    let request = realm::ingress::auth::Request {
        method: "POST",
        path,
        via,
        body: body.as_bytes(),
    };
    realm::ingress::auth::sign(&[key_seed; 32], signer, &request, at)
        .to_str()
        .expect("ascii")
        .to_string()
}

/// The upstream `name` in `serve`'s `/status`.
fn upstream(serve: &Serve, name: &str) -> serde_json::Value {
    let status = json(&http("GET", serve.addr, "/status", "", &[]).expect("status"));
    status["upstreams"]
        .as_array()
        .and_then(|all| all.iter().find(|u| u["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no upstream {name} in {status}"))
}

/// bank (ledger module, echo runner) and shop (pins bank), with keys
/// between them.
struct Pair {
    shop: TestProject,
    _bank: GitRealm,
    echo: Arc<Echo>,
    _runner: Background,
    bank_ingress: Serve,
    shop_ingress: Serve,
}

impl Pair {
    fn new(bank_toml: &str) -> Pair {
        let bank = ledger_realm("bank");
        if !bank_toml.is_empty() {
            let toml = bank.read("ftl-project.toml");
            bank.write("ftl-project.toml", &format!("{toml}{bank_toml}"));
        }
        let shop = TestProject::new("shop");
        shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
        let echo = Arc::new(Echo::default());
        let runner = echo_runner(echo.clone(), None);
        let shop_key = key(1);
        let bank_ingress = Serve::start_with(
            bank.path(),
            shop.cache_dir(),
            &["--runner", &format!("ledger={}", runner.url())],
            &[("REALM_KEY_SHOP", &shop_key)],
            None,
        );
        let shop_ingress = Serve::start_with(
            shop.path(),
            shop.cache_dir(),
            &["--realm-endpoint", &format!("bank={}", bank_ingress.url())],
            // A key of its own: shop's runners may sign their calls.
            &[("REALM_KEY_BANK", &shop_key), ("REALM_KEY_SHOP", &key(3))],
            None,
        );
        Pair {
            shop,
            _bank: bank,
            echo,
            _runner: runner,
            bank_ingress,
            shop_ingress,
        }
    }
}

#[test]
fn signed_calls_pass_and_every_bad_signature_is_refused() {
    let pair = Pair::new("");
    let path = "/realms/bank/ledger/echo";

    // shop's ingress signs; bank's checks. The runner hears who called.
    let ok = call(
        &pair.shop_ingress,
        path,
        MSG,
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    );
    assert_eq!(ok.0, 200, "{}", ok.2);
    assert_eq!(json(&ok), serde_json::json!({"text": "hi"}));
    let seen = pair.echo.last();
    assert_eq!(
        seen.headers.get("x-realm-caller").map(String::as_str),
        Some("shop")
    );
    assert_eq!(
        seen.headers.get("x-realm-via").map(String::as_str),
        Some("shop")
    );
    // The trace continues: same trace id, a new span id.
    let tp = seen.headers.get("traceparent").expect("traceparent");
    assert!(
        tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{tp}"
    );
    assert!(!tp.contains("00f067aa0ba902b7"), "{tp}");
    pair.bank_ingress.wait_log("the trace id", |l| {
        l.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736")
    });
    let before = pair.echo.count();

    let t = now();
    let good = signature(1, "shop", path, "shop", MSG, t);
    // (what, headers, expected code)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "unsigned",
            vec![("x-realm-caller", "shop".into())],
            "unsigned",
        ),
        (
            "signed with another key",
            vec![
                ("x-realm-via", "shop".into()),
                (
                    "x-realm-signature",
                    signature(2, "shop", path, "shop", MSG, t),
                ),
            ],
            "bad_signature",
        ),
        (
            "body changed after signing",
            vec![
                ("x-realm-via", "shop".into()),
                (
                    "x-realm-signature",
                    signature(1, "shop", path, "shop", r#"{"text":"ho"}"#, t),
                ),
            ],
            "bad_signature",
        ),
        (
            "an hour old",
            vec![
                ("x-realm-via", "shop".into()),
                (
                    "x-realm-signature",
                    signature(1, "shop", path, "shop", MSG, t - 3600),
                ),
            ],
            "expired",
        ),
        (
            "unknown realm",
            vec![
                ("x-realm-via", "crm".into()),
                (
                    "x-realm-signature",
                    signature(1, "crm", path, "crm", MSG, t),
                ),
            ],
            "unknown_peer",
        ),
        (
            "garbage",
            vec![("x-realm-signature", "v1; realm=shop; sig=???".into())],
            "malformed_signature",
        ),
        (
            "via does not end with the signer",
            vec![
                ("x-realm-via", "crm".into()),
                (
                    "x-realm-signature",
                    signature(1, "shop", path, "crm", MSG, t),
                ),
            ],
            "via_mismatch",
        ),
    ];
    let mut report = String::new();
    for (what, headers, expected) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = call(&pair.bank_ingress, path, MSG, &headers);
        assert_eq!(
            (answer.0, code(&answer).as_str()),
            (401, *expected),
            "{what}: {}",
            answer.2
        );
        report.push_str(&format!(
            "{what}: {} {}\n  {}\n",
            answer.0,
            code(&answer),
            message(&answer)
        ));
    }
    // A valid signature works once; the same request again is a replay.
    let headers = [
        ("x-realm-via", "shop"),
        ("x-realm-signature", good.as_str()),
    ];
    assert_eq!(call(&pair.bank_ingress, path, MSG, &headers).0, 200);
    let replay = call(&pair.bank_ingress, path, MSG, &headers);
    assert_eq!((replay.0, code(&replay).as_str()), (401, "replayed"));
    report.push_str(&format!(
        "replayed: {} {}\n  {}\n",
        replay.0,
        code(&replay),
        message(&replay)
    ));
    assert_eq!(
        pair.echo.count(),
        before + 1,
        "refused calls reached the runner"
    );
    // The signature made an hour ago is 3600 s old, or 3601 when the
    // call crosses a second: the age is checked here, the snapshot keeps
    // the words.
    let report = match report.split_once(" s old,") {
        Some((before, after)) => {
            let (head, age) = before.rsplit_once(' ').unwrap_or((before, ""));
            let age: u64 = age.parse().unwrap_or(0);
            assert!((3600..3660).contains(&age), "age {age} in {report}");
            format!("{head} <about 3600> s old,{after}")
        }
        None => report,
    };
    snapshots(|| insta::assert_snapshot!("hardening_auth_refusals", report));
    for code in ["refused=\"replayed\"", "refused=\"bad_signature\""] {
        pair.bank_ingress.wait_log(code, |l| l.contains(code));
    }

    // Unsigned egress: allowed from loopback (the realm's own runners)...
    assert_eq!(call(&pair.shop_ingress, path, MSG, &[]).0, 200);
    // ...but it cannot claim to come from another realm.
    let forged = call(&pair.shop_ingress, path, MSG, &[("x-realm-via", "crm")]);
    assert_eq!(
        (forged.0, code(&forged).as_str()),
        (401, "unsigned"),
        "{}",
        forged.2
    );
    // shop's runners signing as shop (own egress, not a relay).
    let own = signature(3, "shop", path, "", MSG, now());
    let answer = call(
        &pair.shop_ingress,
        path,
        MSG,
        &[("x-realm-signature", &own)],
    );
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert_eq!(pair.echo.count(), before + 3);
    assert_eq!(
        pair.echo
            .last()
            .headers
            .get("x-realm-via")
            .map(String::as_str),
        Some("shop")
    );

    // Control characters in the URL do not make log lines.
    let sneaky = call(
        &pair.bank_ingress,
        "/realms/bank/a%0aINFO%20call%20forged/echo",
        MSG,
        &[],
    );
    assert_eq!(sneaky.0, 401);
    pair.bank_ingress
        .wait_log("the sneaky call", |l| l.contains("forged"));
    let log = pair.bank_ingress.log();
    assert!(
        !log.lines().any(|l| l.starts_with("INFO call forged")),
        "{log}"
    );
}

#[test]
fn loops_and_too_many_hops_are_refused_with_508() {
    let bank = ledger_realm("bank");
    let shop = TestProject::new("shop");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    // shop's endpoint for bank is, by mistake, shop itself.
    let port = free_port();
    let shop_ingress = Serve::start_with(
        shop.path(),
        shop.cache_dir(),
        &["--realm-endpoint", &format!("bank=http://127.0.0.1:{port}")],
        &[],
        Some(format!("127.0.0.1:{port}").parse().expect("addr")),
    );
    let looped = call(&shop_ingress, "/realms/bank/ledger/echo", MSG, &[]);
    assert_eq!(
        (looped.0, code(&looped).as_str()),
        (508, "loop"),
        "{}",
        looped.2
    );
    assert!(
        message(&looped).contains("cross realm `shop` twice"),
        "{}",
        looped.2
    );

    let path = "/realms/bank/ledger/echo";
    let revisit = call(
        &bank_ingress,
        path,
        MSG,
        &[("x-realm-via", "shop, bank, hub")],
    );
    assert_eq!((revisit.0, code(&revisit).as_str()), (508, "loop"));
    let eight = "a1, a2, a3, a4, a5, a6, a7, a8";
    let far = call(&bank_ingress, path, MSG, &[("x-realm-via", eight)]);
    assert_eq!(
        (far.0, code(&far).as_str()),
        (508, "too_many_hops"),
        "{}",
        far.2
    );
    let seven = "a1, a2, a3, a4, a5, a6, a7";
    assert_eq!(
        call(&bank_ingress, path, MSG, &[("x-realm-via", seven)]).0,
        200
    );
    let bad = call(&bank_ingress, path, MSG, &[("x-realm-via", "shop;drop")]);
    assert_eq!((bad.0, code(&bad).as_str()), (400, "malformed_via"));
    assert_eq!(echo.count(), 1);
}

#[test]
fn a_hub_relays_calls_between_leaves_that_cannot_reach_each_other() {
    let bank = ledger_realm("bank");
    // bank takes relayed calls (a via naming realms before the caller)
    // from its hub only.
    let toml = bank.read("ftl-project.toml");
    bank.write(
        "ftl-project.toml",
        &format!("{toml}\n[ingress]\nhub = \"hub\"\n"),
    );
    // The hub's address, which bank must know before the hub starts.
    let hub_addr: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("address");
    // shop has no endpoint for bank, only a hub.
    let shop = TestProject::new("shop");
    shop.write(
        "ftl-project.toml",
        "name = \"shop\"\nmodule-dirs = [\"modules\"]\n\n[ingress]\nhub = \"hub\"\n",
    );
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let hub = TestProject::new("hub");
    hub.write(
        "ftl-project.toml",
        "name = \"hub\"\nmodule-dirs = [\"modules\"]\n\n[ingress]\nrelay = true\n",
    );
    hub.realm(&["add", "--git-repo", &bank.url()]).expect(0);

    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let (shop_hub, hub_bank) = (key(7), key(8));
    let bank_ingress = Serve::start_with(
        bank.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("ledger={}", runner.url()),
            "--realm-endpoint",
            &format!("hub=http://{hub_addr}"),
        ],
        &[("REALM_KEY_HUB", &hub_bank)],
        None,
    );
    let hub_ingress = Serve::start_with(
        hub.path(),
        hub.cache_dir(),
        &["--realm-endpoint", &format!("bank={}", bank_ingress.url())],
        &[("REALM_KEY_SHOP", &shop_hub), ("REALM_KEY_BANK", &hub_bank)],
        Some(hub_addr),
    );
    let shop_ingress = Serve::start_with(
        shop.path(),
        shop.cache_dir(),
        &["--realm-endpoint", &format!("hub={}", hub_ingress.url())],
        &[("REALM_KEY_HUB", &shop_hub)],
        None,
    );
    let answer = call(
        &shop_ingress,
        "/realms/bank/ledger/echo",
        MSG,
        &[("x-request-id", "relay-1")],
    );
    assert_eq!(
        answer.0,
        200,
        "{}\nshop:\n{}\nhub:\n{}",
        answer.2,
        shop_ingress.log(),
        hub_ingress.log()
    );
    let seen = echo.last();
    assert_eq!(
        seen.headers.get("x-realm-caller").map(String::as_str),
        Some("shop")
    );
    assert_eq!(
        seen.headers.get("x-realm-via").map(String::as_str),
        Some("shop, hub")
    );
    assert_eq!(
        seen.headers.get("x-request-id").map(String::as_str),
        Some("relay-1")
    );
    for serve in [&shop_ingress, &hub_ingress, &bank_ingress] {
        serve.wait_log("request_id=relay-1", |l| l.contains("request_id=relay-1"));
    }
    assert!(
        shop_ingress.log().contains("realm bank -> hub hub at"),
        "{}",
        shop_ingress.log()
    );

    // bank does not relay: a signed call from hub for another realm is refused.
    let path = "/realms/crm/ledger/echo";
    let sig = signature(8, "hub", path, "hub", MSG, now());
    let refused = call(
        &bank_ingress,
        path,
        MSG,
        &[("x-realm-via", "hub"), ("x-realm-signature", &sig)],
    );
    assert_eq!(
        (refused.0, code(&refused).as_str()),
        (403, "relay_refused"),
        "{}",
        refused.2
    );
    assert_eq!(echo.count(), 1);
}

#[test]
fn limits_refuse_large_bodies_large_headers_slow_clients_and_slow_upstreams() {
    let bank = ledger_realm("bank");
    let toml = bank.read("ftl-project.toml");
    bank.write(
        "ftl-project.toml",
        &format!(
            "{toml}\n[ingress]\nmax-body-size = \"1KiB\"\nmax-header-size = \"8KiB\"\nheader-timeout = \"1s\"\nrequest-timeout = \"1s\"\nupstream-timeout = \"700ms\"\nupstream-concurrency = 2\n"
        ),
    );
    let cache = tempfile::tempdir().expect("cache");
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = Serve::start(
        bank.path(),
        cache.path(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    let path = "/realms/bank/ledger/echo";

    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(2000));
    let answer = call(&bank_ingress, path, &big, &[]);
    assert_eq!(
        (answer.0, code(&answer).as_str()),
        (413, "body_too_large"),
        "{}",
        answer.2
    );

    let long = "y".repeat(10_000);
    let answer = call(&bank_ingress, path, MSG, &[("x-long", &long)]);
    assert_eq!(answer.0, 431, "{answer:?}");

    // Headers that never finish: the connection is closed after 1 s.
    let started = Instant::now();
    let mut slow = TcpStream::connect(bank_ingress.addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    slow.write_all(b"POST /realms/bank/ledger/echo HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    // Not before the timeout; the read timeout above bounds the wait.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");

    // A body that never finishes: 408 after 1 s.
    let mut slow = TcpStream::connect(bank_ingress.addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    slow.write_all(b"POST /realms/bank/ledger/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"text\"").expect("write");
    let mut response = Vec::new();
    let _ = slow.read_to_end(&mut response);
    let answer = crate::common::serve::parse_answer(&String::from_utf8_lossy(&response));
    assert_eq!(
        (answer.0, code(&answer).as_str()),
        (408, "request_timeout"),
        "{answer:?}"
    );
    assert_eq!(echo.count(), 0, "refused calls reached the runner");

    // Garbage instead of HTTP: the connection is dropped, the ingress lives.
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\xff\xff\xff\xff\xff\xff",
        b"POST /realms/bank/ledger/echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(bank_ingress.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = s.write_all(garbage);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    let health = http("GET", bank_ingress.addr, "/healthz", "", &[]).expect("healthz");
    assert_eq!(health.0, 200);

    // The runner holds the call; the ingress waits 700 ms. A 504 says
    // it gave up: it would have 200 had it waited for the runner.
    echo.hold.store(true, Ordering::Relaxed);
    let answer = call(&bank_ingress, "/realms/bank/ledger/slow", MSG, &[]);
    echo.release();
    assert_eq!(
        (answer.0, code(&answer).as_str()),
        (504, "upstream_timeout"),
        "{}",
        answer.2
    );
}

#[test]
fn one_slow_realm_fills_only_its_own_slots() {
    // shop → bank (slow) and shop → crm (fast), two slots per upstream.
    let bank = ledger_realm("bank");
    let crm = ledger_realm("crm");
    let shop = TestProject::new("shop");
    shop.write(
        "ftl-project.toml",
        "name = \"shop\"\nmodule-dirs = [\"modules\"]\n\n[ingress]\nupstream-concurrency = 2\n",
    );
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    shop.realm(&["add", "--git-repo", &crm.url()]).expect(0);
    let slow_echo = Arc::new(Echo::default());
    slow_echo.hold.store(true, Ordering::Relaxed);
    let slow_runner = echo_runner(slow_echo.clone(), None);
    let fast_echo = Arc::new(Echo::default());
    let fast_runner = echo_runner(fast_echo.clone(), None);
    let bank_ingress = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &["--runner", &format!("ledger={}", slow_runner.url())],
    );
    let crm_ingress = Serve::start(
        crm.path(),
        shop.cache_dir(),
        &["--runner", &format!("ledger={}", fast_runner.url())],
    );
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--realm-endpoint",
            &format!("bank={}", bank_ingress.url()),
            "--realm-endpoint",
            &format!("crm={}", crm_ingress.url()),
        ],
    );
    let addr = shop_ingress.addr;
    let slow_calls: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                http("POST", addr, "/realms/bank/ledger/slow", MSG, &[])
                    .expect("call")
                    .0
            })
        })
        .collect();
    // Both of bank's slots taken: the runner holds the two calls.
    wait_for("two calls to bank in flight", || {
        let bank = upstream(&shop_ingress, "bank");
        (bank["in_flight"] == 2)
            .then_some(())
            .ok_or(bank.to_string())
    });
    let full = call(&shop_ingress, "/realms/bank/ledger/slow", MSG, &[]);
    assert_eq!(
        (full.0, code(&full).as_str()),
        (503, "upstream_busy"),
        "{}",
        full.2
    );
    assert_eq!(header(&full, "retry-after"), Some("1"));
    // Meanwhile crm answers: its slots are its own.
    assert_eq!(
        call(&shop_ingress, "/realms/crm/ledger/echo", MSG, &[]).0,
        200
    );
    assert!(
        slow_calls.iter().all(|c| !c.is_finished()),
        "the slow calls were held until now"
    );
    slow_echo.release();
    for c in slow_calls {
        assert_eq!(c.join().expect("thread"), 200);
    }
    assert_eq!(slow_echo.count(), 2);
}

#[test]
fn failing_upstreams_back_off_and_retry_verbs_wait_for_them() {
    let bank = ledger_realm("bank");
    let cache = tempfile::tempdir().expect("cache");
    let port = free_port();
    let runner_addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let bank_ingress = Serve::start(
        bank.path(),
        cache.path(),
        &["--runner", &format!("ledger=http://{runner_addr}")],
    );
    // Nothing listens: 502, then fail fast with Retry-After.
    let first = call(&bank_ingress, "/realms/bank/ledger/echo", MSG, &[]);
    assert_eq!(
        (first.0, code(&first).as_str()),
        (502, "upstream_unreachable"),
        "{}",
        first.2
    );
    // Failing fast: refused without trying, so not counted as a failure.
    let fast = call(&bank_ingress, "/realms/bank/ledger/echo", MSG, &[]);
    assert_eq!(
        (fast.0, code(&fast).as_str()),
        (503, "upstream_backoff"),
        "{}",
        fast.2
    );
    assert_eq!(header(&fast, "retry-after"), Some("1"));
    let status = http("GET", bank_ingress.addr, "/status", "", &[]).expect("status");
    let status = json(&status);
    assert_eq!(status["upstreams"][0]["state"], "backing_off", "{status}");
    assert_eq!(status["upstreams"][0]["failed"], 1);

    // A +retry verb waits out connection failures: the runner comes up
    // while it retries (after its first attempt failed).
    wait_for("the backoff to end", || {
        let ledger = upstream(&bank_ingress, "ledger");
        (ledger["state"] == "probing")
            .then_some(())
            .ok_or(ledger.to_string())
    });
    let addr = bank_ingress.addr;
    let retrying =
        std::thread::spawn(move || http("POST", addr, "/realms/bank/ledger/flaky", MSG, &[]));
    wait_for("the first attempt of the +retry call to fail", || {
        let ledger = upstream(&bank_ingress, "ledger");
        (ledger["failed"].as_u64() >= Some(2))
            .then_some(())
            .ok_or(ledger.to_string())
    });
    let echo = Arc::new(Echo::default());
    let _runner = echo_runner(echo.clone(), Some(runner_addr));
    let retried = retrying.join().expect("thread").expect("call");
    assert_eq!(retried.0, 200, "{}\n{}", retried.2, bank_ingress.log());
    assert_eq!(echo.count(), 1);
    let status = json(&http("GET", bank_ingress.addr, "/status", "", &[]).expect("status"));
    assert_eq!(status["upstreams"][0]["state"], "up", "{status}");
    assert_eq!(
        call(&bank_ingress, "/realms/bank/ledger/echo", MSG, &[]).0,
        200
    );
}

#[test]
fn killing_a_realm_under_load_gives_fast_503s_then_recovers_while_others_go_on() {
    let bank = ledger_realm("bank");
    let crm = ledger_realm("crm");
    let shop = TestProject::new("shop");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    shop.realm(&["add", "--git-repo", &crm.url()]).expect(0);
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let runner_arg = format!("ledger={}", runner.url());
    let mut bank_ingress = Serve::start(bank.path(), shop.cache_dir(), &["--runner", &runner_arg]);
    let bank_addr = bank_ingress.addr;
    let crm_ingress = Serve::start(crm.path(), shop.cache_dir(), &["--runner", &runner_arg]);
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--realm-endpoint",
            &format!("bank={}", bank_ingress.url()),
            "--realm-endpoint",
            &format!("crm={}", crm_ingress.url()),
        ],
    );
    let addr = shop_ingress.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Answers so far per realm, (200s, 503s), for the test to wait on.
    let counts = |realm: &'static str| {
        let ok = Arc::new(AtomicU64::new(0));
        let unavailable = Arc::new(AtomicU64::new(0));
        (realm, ok, unavailable)
    };
    let (bank_counts, crm_counts) = (counts("bank"), counts("crm"));
    // The answers other than 200, by status and code.
    let load = |(realm, ok, unavailable): &(&'static str, Arc<AtomicU64>, Arc<AtomicU64>)| {
        let (realm, ok, unavailable) = (*realm, ok.clone(), unavailable.clone());
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut other = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let answer = http(
                    "POST",
                    addr,
                    &format!("/realms/{realm}/ledger/echo"),
                    MSG,
                    &[],
                )
                .expect("call");
                match answer.0 {
                    200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    503 => {
                        unavailable.fetch_add(1, Ordering::Relaxed);
                        other.push((answer.0, code(&answer)));
                    }
                    _ => other.push((answer.0, code(&answer))),
                }
            }
            other
        })
    };
    let bank_load = load(&bank_counts);
    let crm_load = load(&crm_counts);
    let answered = |(_, ok, _): &(&str, Arc<AtomicU64>, Arc<AtomicU64>)| ok.load(Ordering::Relaxed);
    let refused = |(_, _, n): &(&str, Arc<AtomicU64>, Arc<AtomicU64>)| n.load(Ordering::Relaxed);
    wait_for("both realms to answer under load", || {
        (answered(&bank_counts) >= 10 && answered(&crm_counts) >= 10)
            .then_some(())
            .ok_or(format!(
                "bank {}, crm {}",
                answered(&bank_counts),
                answered(&crm_counts)
            ))
    });
    bank_ingress.kill();
    let crm_before = answered(&crm_counts);
    wait_for("fast 503s for bank", || {
        (refused(&bank_counts) > 10)
            .then_some(())
            .ok_or(format!("{} 503s", refused(&bank_counts)))
    });
    let bank_status = json(&http("GET", addr, "/status", "", &[]).expect("status"));
    // crm went on while bank was down.
    let crm_during = answered(&crm_counts);
    // bank comes back on the same address.
    let _bank_again = Serve::start_with(
        bank.path(),
        shop.cache_dir(),
        &["--runner", &runner_arg],
        &[],
        Some(bank_addr),
    );
    let started = Instant::now();
    loop {
        let answer = call(&shop_ingress, "/realms/bank/ledger/echo", MSG, &[]);
        if answer.0 == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "bank did not recover: {}",
            answer.2
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The load sees bank again.
    let bank_back = answered(&bank_counts);
    wait_for("the load to reach bank again", || {
        (answered(&bank_counts) > bank_back)
            .then_some(())
            .ok_or(format!("{} ok", answered(&bank_counts)))
    });
    stop.store(true, Ordering::Relaxed);
    let bank_other = bank_load.join().expect("bank load");
    let crm_other = crm_load.join().expect("crm load");
    // The first failures (connection refused) are 502s; then 503s that
    // fail fast: refused without trying, as `upstream_backoff`.
    let (unreachable, backoff): (Vec<_>, Vec<_>) = bank_other.iter().partition(|(s, _)| *s == 502);
    assert!(
        unreachable.iter().all(|(_, c)| c == "upstream_unreachable"),
        "{bank_other:?}"
    );
    assert!(
        backoff
            .iter()
            .all(|(s, c)| *s == 503 && c == "upstream_backoff"),
        "{bank_other:?}"
    );
    // One probe per backoff (1 s, 2 s, 4 s, ...): a handful of 502s.
    assert!(unreachable.len() <= 8, "{bank_other:?}");
    assert!(crm_other.is_empty(), "crm suffered: {crm_other:?}");
    assert!(
        crm_during > crm_before,
        "crm answered nothing while bank was down"
    );
    let bank_upstream = bank_status["upstreams"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "bank").cloned())
        .expect("bank upstream");
    assert_ne!(bank_upstream["state"], "up", "{bank_status}");
}

#[test]
fn metrics_health_status_and_realm_status() {
    let pair = Pair::new("");
    let path = "/realms/bank/ledger/echo";
    assert_eq!(call(&pair.shop_ingress, path, MSG, &[]).0, 200);
    assert_eq!(
        call(&pair.shop_ingress, "/realms/bank/ledger/nope", MSG, &[]).0,
        404
    );
    assert_eq!(call(&pair.bank_ingress, path, MSG, &[]).0, 401);

    let get = |serve: &Serve, path: &str| http("GET", serve.addr, path, "", &[]).expect("GET");
    assert_eq!(get(&pair.shop_ingress, "/healthz").0, 200);
    assert_eq!(get(&pair.shop_ingress, "/readyz").0, 200);
    let metrics = get(&pair.shop_ingress, "/metrics");
    assert_eq!(metrics.0, 200);
    let text = &metrics.2;
    for expected in [
        r#"realm_calls_total{realm="bank",module="ledger",verb="echo",status="200"} 1"#,
        r#"realm_refusals_total{reason="unknown_verb"} 1"#,
        r#"realm_call_duration_seconds_count{realm="bank",module="ledger",verb="echo"} 1"#,
        r#"realm_upstream_up{upstream="realm:bank""#,
    ] {
        assert!(text.contains(expected), "no {expected} in\n{text}");
    }
    // Names from the URL that are not in the schema never become labels.
    assert!(!text.contains("nope"), "{text}");
    let bank_metrics = get(&pair.bank_ingress, "/metrics").2;
    assert!(
        bank_metrics.contains(r#"realm_refusals_total{reason="unsigned"} 1"#),
        "{bank_metrics}"
    );

    let endpoint = pair.shop_ingress.url();
    let table =
        run_realm_with(pair.shop.path(), &["status", "--endpoint", &endpoint], &[]).expect(0);
    let out = &table.stdout;
    assert!(out.contains("realm bank"), "{out}");
    assert!(out.contains(&pair.bank_ingress.url()), "{out}");
    assert!(out.contains(" up "), "{out}");
    let as_json = run_realm_with(
        pair.shop.path(),
        &["status", "--endpoint", &endpoint, "--format", "json"],
        &[],
    )
    .expect(0);
    let value: serde_json::Value = serde_json::from_str(&as_json.stdout).expect("JSON");
    assert_eq!(value["realm"], "shop");
    // The unknown verb was refused before any hop: one call sent.
    assert_eq!(value["upstreams"][0]["sent"], 1, "{value}");
    let down = run_realm_with(
        pair.shop.path(),
        &[
            "status",
            "--endpoint",
            &format!("http://127.0.0.1:{}", free_port()),
        ],
        &[],
    )
    .expect(1);
    assert!(
        down.stderr.contains("cannot reach the ingress"),
        "{}",
        down.stderr
    );
}

#[test]
fn sigterm_lets_calls_in_flight_finish_then_exits() {
    a_signal_lets_calls_in_flight_finish_then_exits("TERM");
}

/// SIGHUP (a closed terminal, `kill -HUP`) is SIGTERM: realm serve does not
/// reload.
#[test]
fn sighup_lets_calls_in_flight_finish_then_exits() {
    a_signal_lets_calls_in_flight_finish_then_exits("HUP");
}

fn a_signal_lets_calls_in_flight_finish_then_exits(signal: &str) {
    let bank = ledger_realm("bank");
    let cache = tempfile::tempdir().expect("cache");
    let echo = Arc::new(Echo::default());
    echo.hold.store(true, Ordering::Relaxed);
    let runner = echo_runner(echo.clone(), None);
    let mut bank_ingress = Serve::start(
        bank.path(),
        cache.path(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    let addr = bank_ingress.addr;
    let in_flight = std::thread::spawn(move || {
        http("POST", addr, "/realms/bank/ledger/slow", MSG, &[]).expect("call")
    });
    // The runner holds the call until the ingress has stopped accepting.
    wait_for("the call to reach the runner", || {
        (echo.count() == 1)
            .then_some(())
            .ok_or("not yet".to_string())
    });
    bank_ingress.signal(signal);
    // No new connections...
    wait_for("the ingress to stop accepting", || {
        TcpStream::connect(addr)
            .err()
            .map(drop)
            .ok_or(format!("still accepting after SIG{signal}"))
    });
    assert!(!in_flight.is_finished(), "the call ended before its answer");
    // ...but the call in flight completes.
    echo.release();
    let answer = in_flight.join().expect("thread");
    assert_eq!(answer.0, 200, "{}", answer.2);
    let status = wait_for("the ingress to exit", || {
        bank_ingress
            .child
            .try_wait()
            .expect("wait")
            .ok_or("still running".to_string())
    });
    assert!(status.success(), "{status}");
    assert!(bank_ingress.log().contains("Shutting down"));
}

/// PEM certificate and key.
struct Pem {
    cert: String,
    key: String,
}

struct Ca {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("CA");
    Ca {
        pem: cert.pem(),
        issuer: rcgen::Issuer::new(params, key),
    }
}

fn leaf(ca: &Ca, names: &[&str], client: bool) -> Pem {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.extended_key_usages = vec![if client {
        rcgen::ExtendedKeyUsagePurpose::ClientAuth
    } else {
        rcgen::ExtendedKeyUsagePurpose::ServerAuth
    }];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca.issuer).expect("leaf");
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    std::fs::write(dir.join(rel), text).expect("write");
}

#[test]
fn tls_to_upstreams_and_mutual_tls_between_realms() {
    let server_ca = ca("bank server CA");
    let shop_ca = ca("shop client CA");
    let other_ca = ca("someone else");
    let bank_cert = leaf(&server_ca, &["localhost"], false);
    let shop_client = leaf(&shop_ca, &["shop"], true);
    let stranger = leaf(&other_ca, &["shop"], true);

    let bank = ledger_realm("bank");
    let certs = bank.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs");
    write(&certs, "bank.pem", &bank_cert.cert);
    write(&certs, "bank-key.pem", &bank_cert.key);
    write(&certs, "shop-ca.pem", &shop_ca.pem);
    let toml = bank.read("ftl-project.toml");
    bank.write(
        "ftl-project.toml",
        &format!("{toml}\n[ingress.tls]\ncert = \"certs/bank.pem\"\nkey = \"certs/bank-key.pem\"\n\n[ingress.tls.peers]\nshop = \"certs/shop-ca.pem\"\n"),
    );
    let shop = TestProject::new("shop");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &["--runner", &format!("ledger={}", runner.url())],
    );
    assert!(bank_ingress.tls, "{}", bank_ingress.log());

    let shop_with = |client: Option<&Pem>| {
        let dir = shop.path().join("certs");
        std::fs::create_dir_all(&dir).expect("certs");
        write(&dir, "server-ca.pem", &server_ca.pem);
        let mut tls = "\n[ingress.tls]\nca = \"certs/server-ca.pem\"\n".to_string();
        if let Some(pem) = client {
            write(&dir, "client.pem", &pem.cert);
            write(&dir, "client-key.pem", &pem.key);
            tls.push_str(
                "client-cert = \"certs/client.pem\"\nclient-key = \"certs/client-key.pem\"\n",
            );
        }
        let base = shop.read("ftl-project.toml");
        let base = base
            .split("\n[ingress.tls]")
            .next()
            .unwrap_or(&base)
            .to_string();
        shop.write("ftl-project.toml", &format!("{base}{tls}"));
        Serve::start(
            shop.path(),
            shop.cache_dir(),
            &[
                "--realm-endpoint",
                &format!("bank={}", bank_ingress.tls_url()),
            ],
        )
    };
    let path = "/realms/bank/ledger/echo";

    // shop's client certificate from shop's CA: the call is shop's.
    let shop_ingress = shop_with(Some(&shop_client));
    let ok = call(&shop_ingress, path, MSG, &[]);
    assert_eq!(ok.0, 200, "{}\n{}", ok.2, bank_ingress.log());
    assert_eq!(
        echo.last()
            .headers
            .get("x-realm-caller")
            .map(String::as_str),
        Some("shop")
    );
    drop(shop_ingress);

    // `realm status` of the bank's https ingress: with its CA, and without.
    let ca_file = shop.path().join("certs/server-ca.pem");
    let status = run_realm_with(
        shop.path(),
        &[
            "status",
            "--endpoint",
            &bank_ingress.tls_url(),
            "--cacert",
            &ca_file.display().to_string(),
        ],
        &[],
    )
    .expect(0);
    assert!(status.stdout.contains("runner ledger"), "{}", status.stdout);
    let untrusted = run_realm_with(
        shop.path(),
        &["status", "--endpoint", &bank_ingress.tls_url()],
        &[],
    )
    .expect(1);
    assert!(
        untrusted.stderr.contains("UnknownIssuer"),
        "{}",
        untrusted.stderr
    );

    // No client certificate: the bank requires one.
    let shop_ingress = shop_with(None);
    let refused = call(&shop_ingress, path, MSG, &[]);
    assert_eq!(
        (refused.0, code(&refused).as_str()),
        (401, "unsigned"),
        "{}",
        refused.2
    );
    drop(shop_ingress);

    // A certificate from another CA does not pass the handshake.
    let shop_ingress = shop_with(Some(&stranger));
    let refused = call(&shop_ingress, path, MSG, &[]);
    assert_eq!(
        (refused.0, code(&refused).as_str()),
        (502, "upstream_unreachable"),
        "{}",
        refused.2
    );
    drop(shop_ingress);

    // Without the server's CA, shop does not trust the bank.
    let base = shop.read("ftl-project.toml");
    let base = base
        .split("\n[ingress.tls]")
        .next()
        .unwrap_or(&base)
        .to_string();
    shop.write("ftl-project.toml", &base);
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--realm-endpoint",
            &format!("bank={}", bank_ingress.tls_url()),
        ],
    );
    let refused = call(&shop_ingress, path, MSG, &[]);
    assert_eq!(
        (refused.0, code(&refused).as_str()),
        (502, "upstream_unreachable"),
        "{}",
        refused.2
    );
    assert!(
        message(&refused).contains("UnknownIssuer") || message(&refused).contains("unknown issuer"),
        "{}",
        refused.2
    );
    assert_eq!(echo.count(), 1);
}

#[test]
fn bad_hardening_settings_are_refused_at_start() {
    let bank = ledger_realm("bank");
    let toml = bank.read("ftl-project.toml");
    bank.write(
        "ftl-project.toml",
        &format!("{toml}\n[ingress]\nmax-body = \"1MiB\"\nupstream-timeout = \"soon\"\nmax-hops = 0\n\n[ingress.tls]\ncert = \"certs/missing.pem\"\n"),
    );
    let run = run_realm_with(bank.path(), &["serve"], &[]).expect(1);
    snapshots(|| insta::assert_snapshot!("hardening_bad_settings", run.stderr));

    bank.write(
        "ftl-project.toml",
        &format!(
            "{toml}\n[ingress.tls]\ncert = \"certs/missing.pem\"\nkey = \"certs/missing-key.pem\"\n"
        ),
    );
    let run = run_realm_with(bank.path(), &["serve", "--listen", "127.0.0.1:0"], &[]).expect(1);
    assert!(run.stderr.contains("certs/missing.pem"), "{}", run.stderr);

    let keys = bank.path().join("keys.json");
    std::fs::write(&keys, "{\"shop\": \"c2hvcnQ=\"}").expect("write");
    let run = run_realm_with(
        bank.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[("REALM_KEYS_FILE", keys.as_path())],
    );
    let run = run.expect(1);
    assert!(run.stderr.contains("at least 32"), "{}", run.stderr);
}
