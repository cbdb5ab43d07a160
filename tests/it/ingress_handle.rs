//! The ingress without HTTP: `Ingress::handle` takes a whole call (route,
//! parse, check, authorise, forward) and gives its outcome. These tests
//! build the ingresses of the example realms in this process, as
//! `realm serve` builds them, and send calls straight to `handle`: the
//! refusal table runs in milliseconds, with no `realm serve` process, and
//! still reaches a real runner for the calls that pass.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use realm::ingress::trace::TraceContext;
use realm::ingress::{Call, Ingress, Outcome, Overrides, from_workspace};

use crate::common::backends::{Background, runners};
use crate::common::{GitRealm, TestProject};

fn ingress_of(
    dir: &std::path::Path,
    cache: &std::path::Path,
    overrides: Overrides,
) -> Arc<Ingress> {
    let ctx = realm::pins::Context {
        cache: realm::pins::Cache::new(cache.to_path_buf()),
        offline: true,
        progress: None,
        deny_warnings: false,
    };
    let ws = realm::workspace::Workspace::load(dir, &ctx).expect("load the workspace");
    from_workspace(&ws, &overrides, Vec::new()).expect("build the ingress")
}

/// `POST path` with `body`, from loopback, unsigned.
fn handle(ingress: &Ingress, path: &str, body: &'static str) -> Outcome {
    let segments: Vec<&str> = path.trim_start_matches("/realms/").split('/').collect();
    let [realm, module, verb] = segments[..] else {
        panic!("not a call path: {path}")
    };
    let headers = HeaderMap::new();
    let call = Call {
        realm,
        module,
        verb,
        path,
        scheme: "http",
        authority: None,
        headers: &headers,
        body: Bytes::from_static(body.as_bytes()),
        // The client's address as the ingress would see it: nothing listens there.
        peer: Some("127.0.0.1:40000".parse().expect("addr")),
        peer_realms: &[],
        request_id: "test-request",
        trace: TraceContext::start(1, 1),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(ingress.handle(&call))
}

fn code(outcome: &Outcome) -> String {
    let body: serde_json::Value = serde_json::from_slice(&outcome.reply.body).unwrap_or_default();
    body["error"]["code"].as_str().unwrap_or("").to_string()
}

#[test]
fn handle_refuses_before_the_runner_and_forwards_what_passes() {
    let bank = GitRealm::example("bank");
    let cache = tempfile::tempdir().expect("cache");
    let seen = Arc::new(runners::Seen::default());
    let runner = Background::bank_runner(seen.clone());
    let ingress = ingress_of(
        bank.path(),
        cache.path(),
        Overrides {
            runners: vec![("balance".into(), runner.url())],
            ..Overrides::default()
        },
    );
    let withdraw = "/realms/bank/balance/withdraw";
    let cases: &[(&str, &str, &'static str, u16, &str)] = &[
        (
            "not exported",
            "/realms/bank/balance/settle",
            "",
            403,
            "not_exported",
        ),
        (
            "unknown verb",
            "/realms/bank/balance/deposit",
            "{}",
            404,
            "unknown_verb",
        ),
        (
            "data, not a verb",
            "/realms/bank/balance/Account",
            "{}",
            404,
            "unknown_verb",
        ),
        (
            "unknown module",
            "/realms/bank/vault/open",
            "{}",
            404,
            "unknown_module",
        ),
        (
            "unknown realm",
            "/realms/nowhere/balance/withdraw",
            "{}",
            404,
            "unknown_realm",
        ),
        (
            "malformed",
            withdraw,
            "{\"account\": \"a1\",",
            400,
            "malformed_json",
        ),
        (
            "duplicate key",
            withdraw,
            r#"{"account": "a1", "amount": 5, "amount": 6}"#,
            400,
            "malformed_json",
        ),
        (
            "wrong type",
            withdraw,
            r#"{"account": "a1", "amount": "500"}"#,
            400,
            "invalid_body",
        ),
        (
            "missing field",
            withdraw,
            r#"{"account": "a1"}"#,
            400,
            "invalid_body",
        ),
        (
            "unknown field",
            withdraw,
            r#"{"account": "a1", "amount": 5, "amont": 5}"#,
            400,
            "invalid_body",
        ),
        (
            "beyond Int",
            withdraw,
            r#"{"account": "a1", "amount": 9223372036854775808}"#,
            400,
            "invalid_body",
        ),
        ("empty body", withdraw, "", 400, "invalid_body"),
    ];
    for (what, path, body, status, expected) in cases {
        let outcome = handle(&ingress, path, body);
        let text = String::from_utf8_lossy(&outcome.reply.body);
        assert_eq!(outcome.reply.status.as_u16(), *status, "{what}: {text}");
        assert_eq!(code(&outcome), *expected, "{what}: {text}");
        assert_eq!(
            outcome.refusal,
            Some(*expected),
            "{what}: counted as this refusal"
        );
    }
    assert_eq!(seen.calls(), 0, "a refused call reached the runner");

    // What passes the check reaches the runner, once.
    let outcome = handle(&ingress, withdraw, r#"{"account": "a1", "amount": 5}"#);
    let text = String::from_utf8_lossy(&outcome.reply.body);
    assert_eq!(outcome.reply.status.as_u16(), 200, "{text}");
    assert_eq!(outcome.refusal, None);
    assert!(outcome.routed);
    assert_eq!(seen.calls(), 1);
}

#[test]
fn handle_routes_pinned_realms_by_their_public_api() {
    let shop = TestProject::example("shop");
    let bank = GitRealm::example("bank");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    // The bank's ingress is not there: a call that passes the check is
    // forwarded and fails to connect; one that does not never leaves.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let ingress = ingress_of(
        shop.path(),
        shop.cache_dir(),
        Overrides {
            realm_endpoints: vec![("bank".into(), format!("http://{dead}"))],
            ..Overrides::default()
        },
    );
    // Published because `balance.withdraw` calls it (FTL's closure), but
    // not `export realm`: not callable from other realms.
    let refused = handle(&ingress, "/realms/bank/audit/record", "{}");
    assert_eq!(refused.reply.status.as_u16(), 403);
    assert_eq!(code(&refused), "not_exported");
    let refused = handle(&ingress, "/realms/bank/nope/record", "{}");
    assert_eq!(refused.reply.status.as_u16(), 404);
    assert_eq!(code(&refused), "unknown_module");
    let refused = handle(
        &ingress,
        "/realms/bank/balance/withdraw",
        r#"{"account": "a1"}"#,
    );
    assert_eq!(code(&refused), "invalid_body");

    let forwarded = handle(
        &ingress,
        "/realms/bank/balance/withdraw",
        r#"{"account": "a1", "amount": 5}"#,
    );
    let text = String::from_utf8_lossy(&forwarded.reply.body);
    assert_eq!(forwarded.reply.status.as_u16(), 502, "{text}");
    assert_eq!(code(&forwarded), "upstream_unreachable", "{text}");
    assert!(text.contains(&dead.to_string()), "{text}");
}
