//! `realm fake`: a pinned realm answered from its pinned schema. The shop
//! pins the bank; the bank is faked (no bank runner), called through the
//! shop's real ingress; what the fake refuses is compared with what a real
//! bank ingress refuses; generated replies of every verb of the examples,
//! the kitchen-sink realm and FTL-published realms pass the response
//! check; examples answer and an invalid one is an error.

use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::serve::{Serve, free_port, http, stable};
use crate::common::{GitRealm, TestProject, repo_root, run_realm_with, snapshots};

/// `realm fake <args> --listen 127.0.0.1:0` in `dir` ([`Serve::fake`]).
fn start_fake(dir: &Path, cache: &Path, args: &[&str]) -> Serve {
    Serve::fake(dir, cache, args)
}

/// The shop, pinning the bank.
fn shop_with_bank() -> (TestProject, GitRealm) {
    let shop = TestProject::example("shop");
    let bank = GitRealm::example("bank");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    (shop, bank)
}

/// A dead runner URL, for the example projects' configured runners.
fn dead() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn post(serve: &Serve, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = http("POST", serve.addr, path, body, headers).expect("HTTP call");
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, json)
}

#[test]
fn the_shop_calls_a_faked_bank_through_its_own_ingress() {
    let (shop, _bank) = shop_with_bank();
    let fake = start_fake(shop.path(), shop.cache_dir(), &["bank"]);
    fake.wait_log("the fake's routes", |l| {
        l.contains("module balance -> fake")
    });
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("checkout={}", dead()),
            "--realm-endpoint",
            &format!("bank={}", fake.url()),
        ],
    );
    let call = |body: &str| {
        run_realm_with(
            shop.path(),
            &[
                "call",
                "balance.withdraw@bank",
                body,
                "--endpoint",
                &shop_ingress.url(),
            ],
            &[],
        )
        .expect(0)
        .stdout
    };
    let first = call(r#"{"account": "a1", "amount": 500}"#);
    let reply: Value = serde_json::from_str(&first).expect("a JSON reply");
    assert!(reply["balance"].is_i64(), "{reply}");
    assert_eq!(reply.as_object().map(|o| o.len()), Some(1), "{reply}");
    // The same request (members in any order), the same reply.
    assert_eq!(call(r#"{"amount": 500, "account": "a1"}"#), first);

    // FTL's verb service on the fake, with Connect's JSON.
    let b64 = base64::engine::general_purpose::STANDARD;
    let request = json!({
        "verb": {"module": "balance", "name": "withdraw"},
        "body": b64.encode(r#"{"account": "a1", "amount": 500}"#),
    })
    .to_string();
    let answer = http(
        "POST",
        fake.addr,
        "/xyz.block.ftl.v1.VerbService/Call",
        &request,
        &[
            ("content-type", "application/json"),
            ("connect-protocol-version", "1"),
        ],
    )
    .expect("Connect call");
    assert_eq!(answer.0, 200, "{answer:?}");
    let reply: Value = serde_json::from_str(&answer.2).expect("JSON");
    let body = b64
        .decode(reply["body"].as_str().expect("a body"))
        .expect("base64");
    let body: Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(body, serde_json::from_str::<Value>(&first).expect("JSON"));
}

/// Extra request headers.
type Headers<'a> = &'a [(&'a str, &'a str)];

#[test]
fn the_fake_refuses_what_the_real_bank_refuses() {
    let (shop, bank) = shop_with_bank();
    let fake = start_fake(shop.path(), shop.cache_dir(), &["bank"]);
    let real = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("balance={}", dead()),
            "--runner",
            &format!("audit={}", dead()),
        ],
    );
    let withdraw = "/realms/bank/balance/withdraw";
    let cases: &[(&str, &str, Headers)] = &[
        (withdraw, r#"{"account": "a1", "amount": "5"}"#, &[]),
        (withdraw, r#"{"account": "a1"}"#, &[]),
        (
            withdraw,
            r#"{"account": "a1", "amount": 5, "memo": "x"}"#,
            &[],
        ),
        (withdraw, r#"{"account": "a1", "amount": 5.5}"#, &[]),
        (
            withdraw,
            r#"{"account": "a1", "amount": 5, "amount": 6}"#,
            &[],
        ),
        (withdraw, "not json", &[]),
        (withdraw, "", &[]),
        (withdraw, "[1]", &[]),
        (
            withdraw,
            r#"{"account": "a1", "amount": 5}"#,
            &[("x-realm-json", "yaml")],
        ),
        ("/realms/bank/nope/withdraw", "{}", &[]),
        ("/realms/bank/balance/nope", "{}", &[]),
        ("/realms/bank/balance/Account", "{}", &[]),
        ("/realms/bank/audit/record", "{}", &[]),
        ("/realms/other/balance/withdraw", "{}", &[]),
        ("/realms/bank/balance/account", r#"{"id": 7}"#, &[]),
    ];
    // The same public schema.
    for accept in ["application/json", "text/plain"] {
        let get = |serve: &Serve| {
            http(
                "GET",
                serve.addr,
                "/.well-known/realm",
                "",
                &[("accept", accept)],
            )
            .expect("GET")
        };
        let (real_answer, fake_answer) = (get(&real), get(&fake));
        assert_eq!(real_answer.0, 200);
        assert_eq!(fake_answer.2, real_answer.2, "{accept}");
    }
    for (path, body, headers) in cases {
        let (real_status, real_body) = post(&real, path, body, headers);
        let (fake_status, fake_body) = post(&fake, path, body, headers);
        assert!(
            real_status >= 400,
            "{path} {body}: {real_status} {real_body}"
        );
        assert_eq!(
            (fake_status, stable(fake_body)),
            (real_status, stable(real_body)),
            "{path} {body}"
        );
    }
}

#[test]
fn seeds_decide_the_replies() {
    let (shop, _bank) = shop_with_bank();
    let body = r#"{"id": "a1"}"#;
    let path = "/realms/bank/balance/account";
    let replies = |args: &[&str]| {
        let fake = start_fake(shop.path(), shop.cache_dir(), args);
        let (status, first) = post(&fake, path, body, &[]);
        assert_eq!(status, 200, "{first}");
        let (_, again) = post(&fake, path, body, &[]);
        assert_eq!(first, again, "the same request, the same reply");
        let (_, other) = post(&fake, path, r#"{"id": "a2"}"#, &[]);
        (first, other)
    };
    let seed0 = replies(&["bank"]);
    assert_eq!(replies(&["bank", "--seed", "0"]), seed0);
    let seed7 = replies(&["bank", "--seed", "7"]);
    assert_eq!(replies(&["bank", "--seed", "7"]), seed7);
    assert_ne!(seed7, seed0);
    assert_ne!(seed0.0, seed0.1, "another request, another reply");
    for reply in [&seed0.0, &seed7.0] {
        assert!(
            ["EUR", "USD"].contains(&reply["currency"].as_str().unwrap_or("")),
            "{reply}"
        );
    }
}

/// A realm's public API from a file as published.
fn published(path: &Path) -> realm::schema::Realm {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).expect("read");
    let mut schema = realm::schema::txtpb::decode_published(&name, &name, &bytes)
        .unwrap_or_else(|d| panic!("{name}: {d}"))
        .schema;
    schema.realms.remove(0)
}

/// The public API of the realm in `dir` (a project that pins nothing).
fn local_public_api(dir: &Path) -> realm::schema::Realm {
    let cache = tempfile::tempdir().expect("tempdir");
    let ctx = realm::pins::Context {
        cache: realm::pins::Cache::new(cache.path().to_path_buf()),
        offline: true,
        progress: None,
        deny_warnings: false,
    };
    let ws = realm::workspace::Workspace::load(dir, &ctx).expect("load the realm");
    realm::schema::public_api(ws.internal_realm())
}

/// Property: for every verb of these realms and many seeds, the value
/// generated for its response (and its request) passes the ingress's
/// check of that type, and the same seed gives the same value.
#[test]
fn generated_replies_pass_the_response_check() {
    use realm::fake::generate::Generator;
    use realm::schema::Decl;
    use realm::schema::json::Checker;

    let root = repo_root();
    let realms = [
        local_public_api(&root.join("examples/bank")),
        local_public_api(&root.join("tests/clients/kitchen")),
        published(&root.join("examples/shop/ftl-external-schema.json")),
        published(&root.join("tests/ftl-published/market.json")),
        published(&root.join("tests/ftl-published/bank.json")),
    ];
    let mut checked = 0;
    for realm in &realms {
        let generator = Generator::new(Checker::new(realm));
        let checker = generator.checker();
        for (module, decl) in realm.decls() {
            let Decl::Verb(verb) = decl else { continue };
            for seed in 0..200u64 {
                for ty in [&verb.response, &verb.request] {
                    let value = generator.value(ty, seed);
                    assert_eq!(value, generator.value(ty, seed), "deterministic");
                    if let Err(e) = checker.check_body(ty, Some(&value)) {
                        panic!(
                            "{}: {}.{} seed {seed}: {value} does not fit {ty}: {e}",
                            realm.name, module.name, verb.name
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    // Every verb of five realms was tried.
    assert!(checked > 5_000, "{checked}");
}

const WITHDRAW_EXAMPLES: &str = r#"[
  {"name": "overdraft", "match": {"amount": 100000},
   "error": {"status": 409, "code": "insufficient_funds", "message": "account a1 holds less than 1000.00"}},
  {"name": "usual", "request": {"account": "a1", "amount": 500, "note": "lunch"}, "reply": {"balance": 9500}},
  {"match": {"account": "vip"}, "reply": {"balance": 1000000}}
]
"#;

#[test]
fn examples_answer_the_requests_they_match() {
    let (shop, _bank) = shop_with_bank();
    shop.write("fakes/bank/balance.withdraw.json", WITHDRAW_EXAMPLES);
    let fake = start_fake(shop.path(), shop.cache_dir(), &["bank"]);
    fake.wait_log("the examples", |l| {
        l.contains("module balance -> fake (replies generated from seed 0, 3 examples)")
    });
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("checkout={}", dead()),
            "--realm-endpoint",
            &format!("bank={}", fake.url()),
        ],
    );
    let withdraw = "/realms/bank/balance/withdraw";
    // Exactly the request: its reply.
    let exact = r#"{"note": "lunch", "amount": 500, "account": "a1"}"#;
    assert_eq!(
        post(&shop_ingress, withdraw, exact, &[]),
        (200, json!({"balance": 9500}))
    );
    // Not exactly (no note): generated.
    let (status, generated) = post(
        &shop_ingress,
        withdraw,
        r#"{"account": "a1", "amount": 500}"#,
        &[],
    );
    assert_eq!(status, 200);
    assert_ne!(generated, json!({"balance": 9500}));
    // A part of the request.
    assert_eq!(
        post(
            &shop_ingress,
            withdraw,
            r#"{"account": "vip", "amount": 1}"#,
            &[]
        ),
        (200, json!({"balance": 1000000}))
    );
    // An error reply, as the bank's ingress writes errors, passed on by
    // the shop's ingress.
    let (status, error) = post(
        &shop_ingress,
        withdraw,
        r#"{"account": "vip", "amount": 100000}"#,
        &[],
    );
    assert_eq!(status, 409, "{error}");
    assert_eq!(
        stable(error),
        stable(json!({"error": {
            "code": "insufficient_funds",
            "message": "account a1 holds less than 1000.00",
            "realm": "bank",
        }}))
    );
}

#[test]
fn an_example_that_no_longer_fits_is_an_error_naming_it() {
    let (shop, bank) = shop_with_bank();
    shop.write("fakes/bank/balance.withdraw.json", WITHDRAW_EXAMPLES);
    start_fake(shop.path(), shop.cache_dir(), &["bank"]);
    // The bank's balance becomes text; the shop updates its pin.
    bank.change(
        "modules/balance.ftl",
        "data WithdrawResponse {\n    balance Int",
        "data WithdrawResponse {\n    balance String",
        "balances as text",
    );
    shop.realm(&["update", "bank"]).expect(0);
    let run = shop
        .realm(&["fake", "bank", "--listen", "127.0.0.1:0"])
        .expect(1);
    snapshots(|| insta::assert_snapshot!("fake_example_no_longer_fits", run.stderr));

    // Other mistakes, each named with its file and place.
    let cases = [
        (
            "balance.withdraw.json",
            r#"[{"request": {"account": "a1", "amount": "5"}, "reply": {"balance": "x"}}]"#,
            "fakes/bank/balance.withdraw.json: example 1: $[0].request.amount: the request does not fit balance.WithdrawRequest: expected an integer (Int), found string \"5\"",
        ),
        (
            "balance.withdraw.json",
            r#"[{"match": {"acount": "a1"}, "reply": {"balance": "x"}}]"#,
            "fakes/bank/balance.withdraw.json: example 1: $[0].match.acount: the match does not fit balance.WithdrawRequest: unknown field `acount` of WithdrawRequest; the fields are: account, amount, note",
        ),
        (
            "balance.withdraw.json",
            r#"[{"match": {}, "error": {"status": 200, "code": "x", "message": "y"}}]"#,
            "fakes/bank/balance.withdraw.json: example 1: $[0].error.status: expected a status from 400 to 599",
        ),
        (
            "balance.withdraw.json",
            r#"[{"match": {}, "reply": {"balance": "x"}, "delay": 5}]"#,
            "fakes/bank/balance.withdraw.json: example 1: $[0].delay: unknown key `delay`",
        ),
        (
            "balance.withdraw.json",
            r#"{"request": {}}"#,
            "fakes/bank/balance.withdraw.json: $: expected an array of examples",
        ),
        (
            "balance.withdrew.json",
            "[]",
            "fakes/bank/balance.withdrew.json: realm `bank` exports no verb `balance.withdrew`; its verbs are: balance.account, balance.withdraw",
        ),
    ];
    for (file, text, expected) in cases {
        std::fs::remove_dir_all(shop.path().join("fakes")).expect("remove fakes/");
        shop.write(&format!("fakes/bank/{file}"), text);
        let run = shop
            .realm(&["fake", "bank", "--listen", "127.0.0.1:0"])
            .expect(1);
        assert!(
            run.stderr.contains(expected),
            "{expected}\n---\n{}",
            run.stderr
        );
    }
}

#[test]
fn injected_failures_follow_the_seed() {
    let (shop, _bank) = shop_with_bank();
    let path = "/realms/bank/balance/account";
    // The statuses of 30 calls: the same request, then another one.
    let statuses = |args: &[&str]| {
        let fake = start_fake(shop.path(), shop.cache_dir(), args);
        let mut statuses = Vec::new();
        for i in 0..30 {
            let body = if i % 2 == 0 {
                r#"{"id": "a1"}"#
            } else {
                r#"{"id": "a2"}"#
            };
            let (status, reply) = post(&fake, path, body, &[]);
            if status != 200 {
                assert_eq!(status, 503, "{reply}");
                assert_eq!(reply["error"]["code"], "fake_failure", "{reply}");
                assert_eq!(reply["error"]["realm"], "bank", "{reply}");
            }
            statuses.push(status);
        }
        statuses
    };
    let half = statuses(&["bank", "--fail-rate", "0.5", "--seed", "3"]);
    assert!(half.contains(&200) && half.contains(&503), "{half:?}");
    assert_eq!(
        statuses(&["bank", "--fail-rate", "0.5", "--seed", "3"]),
        half
    );
    assert_ne!(
        statuses(&["bank", "--fail-rate", "0.5", "--seed", "4"]),
        half
    );
    assert!(
        statuses(&["bank", "--fail-rate", "1"])
            .iter()
            .all(|&s| s == 503)
    );
    assert!(
        statuses(&["bank", "--fail-rate", "0"])
            .iter()
            .all(|&s| s == 200)
    );
    let run = shop
        .realm(&["fake", "bank", "--fail-rate", "1.5"])
        .expect(2);
    assert!(
        run.stderr.contains("give a number from 0 to 1"),
        "{}",
        run.stderr
    );
}

/// How many calls of `call` (`module.verb@realm`) an ingress's access log
/// shows.
fn calls_logged(serve: &Serve, call: &str) -> usize {
    let field = format!("call={call}");
    serve
        .log()
        .lines()
        .filter(|l| l.contains(&field) && l.contains(" call"))
        .count()
}

#[test]
fn a_retry_verb_tries_again_what_the_fake_failed_and_others_see_the_failure() {
    let (shop, _bank) = shop_with_bank();
    let withdraw = "/realms/bank/balance/withdraw";
    let args = ["bank", "--fail-rate", "0.5", "--seed", "7"];
    // Asked directly, the fake fails some requests on their first try and
    // answers their second: find one (by its amount) to send through the
    // shop's ingress to a fresh fake with the same seed.
    let probe = start_fake(shop.path(), shop.cache_dir(), &args);
    let (body, reply) = (1..200)
        .find_map(|amount| {
            let body = format!(r#"{{"account": "a1", "amount": {amount}}}"#);
            let first = post(&probe, withdraw, &body, &[]);
            let second = post(&probe, withdraw, &body, &[]);
            (first.0 == 503 && second.0 == 200).then_some((body, second.1))
        })
        .expect("a request the fake fails once, then answers");
    // And a request of a verb without `+retry` that it fails first.
    let account = (1..200)
        .map(|n| format!(r#"{{"id": "a{n}"}}"#))
        .find(|body| post(&probe, "/realms/bank/balance/account", body, &[]).0 == 503)
        .expect("a request the fake fails first");

    let fake = start_fake(shop.path(), shop.cache_dir(), &args);
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("checkout={}", dead()),
            "--realm-endpoint",
            &format!("bank={}", fake.url()),
        ],
    );
    // `withdraw` has `+retry 3 1s 30s`: the shop's ingress tries again
    // after the fake's injected 503, and the caller sees the second answer.
    let (status, got) = post(&shop_ingress, withdraw, &body, &[]);
    assert_eq!((status, &got), (200, &reply));
    fake.wait_log("both attempts at the fake", |_| {
        calls_logged(&fake, "balance.withdraw@bank") == 2
    });
    // `account` has no `+retry`: the fake's refusal comes back as it was,
    // after one attempt; and the fake is not taken for down.
    let (status, got) = post(&shop_ingress, "/realms/bank/balance/account", &account, &[]);
    assert_eq!(status, 503, "{got}");
    assert_eq!(got["error"]["code"], "fake_failure", "{got}");
    assert_eq!(got["error"]["realm"], "bank", "{got}");
    fake.wait_log("the one attempt at account", |_| {
        calls_logged(&fake, "balance.account@bank") == 1
    });
    let (status, got) = post(
        &shop_ingress,
        "/realms/bank/balance/account",
        r#"{"id": "zz"}"#,
        &[],
    );
    assert_ne!(got["error"]["code"], "upstream_backoff", "{got}");
    assert!(status == 200 || status == 503, "{status} {got}");
}

#[test]
fn a_callers_deadline_cuts_a_faked_latency() {
    let (shop, _bank) = shop_with_bank();
    let toml = shop.read("realm.toml");
    shop.write(
        "realm.toml",
        &toml.replace("[ingress]\n", "[ingress]\nupstream-timeout = \"300ms\"\n"),
    );
    let fake = start_fake(shop.path(), shop.cache_dir(), &["bank", "--latency", "10m"]);
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("checkout={}", dead()),
            "--realm-endpoint",
            &format!("bank={}", fake.url()),
        ],
    );
    // A held answer may be a call that ran: a `+retry` verb does not try
    // it again, and the caller hears the deadline.
    let (status, got) = post(
        &shop_ingress,
        "/realms/bank/balance/withdraw",
        r#"{"account": "a1", "amount": 5}"#,
        &[],
    );
    assert_eq!(status, 504, "{got}");
    assert_eq!(got["error"]["code"], "upstream_timeout", "{got}");
    assert!(
        got["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("300ms")),
        "{got}"
    );
}

#[test]
fn latency_holds_each_answer() {
    let (shop, _bank) = shop_with_bank();
    // An answer held for ten minutes is not there within the caller's
    // deadline (FTL's verb service, `connect-timeout-ms`).
    let fake = start_fake(shop.path(), shop.cache_dir(), &["bank", "--latency", "10m"]);
    fake.wait_log("the latency", |l| l.contains("latency 10m"));
    let b64 = base64::engine::general_purpose::STANDARD;
    let request = json!({
        "verb": {"module": "balance", "name": "account"},
        "body": b64.encode(r#"{"id": "a1"}"#),
    })
    .to_string();
    let answer = http(
        "POST",
        fake.addr,
        "/xyz.block.ftl.v1.VerbService/Call",
        &request,
        &[
            ("content-type", "application/json"),
            ("connect-protocol-version", "1"),
            ("connect-timeout-ms", "200"),
        ],
    )
    .expect("Connect call");
    assert_eq!(answer.0, 504, "{answer:?}");
    let error: Value = serde_json::from_str(&answer.2).expect("JSON");
    assert_eq!(error["code"], "deadline_exceeded", "{answer:?}");
    // Refusals are not held: they are the ingress's, before the runner.
    let (status, _) = post(&fake, "/realms/bank/balance/account", "{}", &[]);
    assert_eq!(status, 400);
}

#[test]
fn calls_recorded_by_serve_are_replayed_by_the_fake() {
    use crate::common::backends::{Background, runners};
    use crate::common::serve::wait_for;

    let (shop, bank) = shop_with_bank();
    let bank_runner = Background::bank_runner(std::sync::Arc::new(runners::Seen::default()));
    let real_bank = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("balance={}", bank_runner.url()),
            "--runner",
            &format!("audit={}", dead()),
        ],
    );
    let shop_ingress = |bank_url: &str, record: bool| {
        let mut args = vec![
            "--runner".to_string(),
            format!("checkout={}", dead()),
            "--realm-endpoint".to_string(),
            format!("bank={bank_url}"),
        ];
        if record {
            args.extend(["--record".to_string(), "fakes".to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Serve::start(shop.path(), shop.cache_dir(), &args)
    };
    let calls: [(&str, &str); 4] = [
        ("withdraw", r#"{"account": "a1", "amount": 500}"#),
        ("withdraw", r#"{"amount": 500, "account": "a1"}"#),
        ("account", r#"{"id": "a1"}"#),
        ("account", r#"{"id": "nobody"}"#),
    ];
    // Status, code and message (or reply): a runner's own error bodies
    // name no realm, a fake's (as an ingress writes them) do.
    let answers = |ingress: &Serve| -> Vec<(u16, Value)> {
        calls
            .iter()
            .map(|(verb, body)| {
                let path = format!("/realms/bank/balance/{verb}");
                let secret = [
                    ("x-request-id", "req-secret-1"),
                    ("authorization", "Bearer s3cret"),
                ];
                let (status, mut reply) = post(ingress, &path, body, &secret);
                if let Some(error) = reply.get_mut("error").and_then(Value::as_object_mut) {
                    error.retain(|k, _| k == "code" || k == "message");
                }
                (status, reply)
            })
            .collect()
    };
    let (recorded, withdraw, account) = {
        let recording = shop_ingress(&real_bank.url(), true);
        recording.wait_log("the recording", |l| {
            l.contains("records the calls that cross to other realms in fakes")
        });
        let recorded = answers(&recording);
        // Written off the call's path: wait for both files (before the
        // recording ingress stops).
        let read = |file: &str, done: &dyn Fn(&Value) -> bool| {
            wait_for(file, || {
                let text =
                    std::fs::read_to_string(shop.path().join(file)).map_err(|e| e.to_string())?;
                let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                done(&value).then_some(text.clone()).ok_or(text)
            })
        };
        (
            recorded,
            read("fakes/bank/balance.withdraw.json", &|v| {
                v[0]["reply"]["balance"] == 9000
            }),
            read("fakes/bank/balance.account.json", &|v| v[1].is_object()),
        )
    };
    assert_eq!(recorded[0].0, 200);
    assert_eq!(recorded[3].0, 404, "{}", recorded[3].1);
    assert_eq!(recorded[3].1["error"]["code"], "no_account");
    // The same request twice: the latest answer only.
    assert_eq!(
        serde_json::from_str::<Value>(&withdraw).expect("JSON"),
        json!([{"request": {"amount": 500, "account": "a1"}, "reply": {"balance": 9000}}])
    );
    assert_eq!(
        serde_json::from_str::<Value>(&account).expect("JSON")[1],
        json!({"request": {"id": "nobody"}, "error": {
            "status": 404, "code": "no_account", "message": "no account nobody"}})
    );
    // Bodies only.
    for text in [&withdraw, &account] {
        for secret in ["req-secret", "s3cret", "request_id", "x-realm"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    // Replayed: the bank faked, its runner and ingress gone.
    drop(real_bank);
    drop(bank_runner);
    let fake = start_fake(shop.path(), shop.cache_dir(), &["bank"]);
    let replaying = shop_ingress(&fake.url(), false);
    let replayed = answers(&replaying);
    // Each request gets the last answer recorded for it.
    assert_eq!(replayed[1..], recorded[1..]);
    assert_eq!(replayed[0], recorded[1]);
}

#[test]
fn several_realms_each_on_its_own_address_under_its_own_name() {
    let (shop, bank) = shop_with_bank();
    // The bank pinned a second time, as `ledger`: its ingress still
    // answers to `bank`.
    shop.realm(&["add", "--git-repo", &bank.url(), "--name", "ledger"])
        .expect(0);
    let fake = start_fake(shop.path(), shop.cache_dir(), &["ledger", "bank"]);
    // Each realm's start-up line, the first seen already.
    let (log, addresses) = crate::common::serve::wait_for("two start-up lines", || {
        let log = fake.log();
        let addresses: Vec<std::net::SocketAddr> = log
            .split_inclusive('\n')
            .filter(|l| l.starts_with("Serving realm `bank` on http://") && l.ends_with('\n'))
            .filter_map(|l| l.rsplit("://").next()?.trim().parse().ok())
            .collect();
        (addresses.len() == 2 && log.contains("module balance -> fake"))
            .then(|| (log.clone(), addresses))
            .ok_or(log)
    });
    assert_ne!(addresses[0], addresses[1]);
    assert!(
        log.contains("a fake of the realm pinned as `ledger`"),
        "{log}"
    );
    // Both answer; the shop reaches `ledger` at its own name.
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("checkout={}", dead()),
            "--realm-endpoint",
            &format!("ledger=http://{}", addresses[0]),
            "--realm-endpoint",
            &format!("bank=http://{}", addresses[1]),
        ],
    );
    for realm in ["ledger", "bank"] {
        let (status, reply) = post(
            &shop_ingress,
            &format!("/realms/{realm}/balance/account"),
            r#"{"id": "a1"}"#,
            &[],
        );
        assert_eq!(status, 200, "{realm}: {reply}");
        assert!(reply["owner"].is_string(), "{reply}");
    }

    let run = shop.realm(&["fake", "vault"]).expect(1);
    assert!(
        run.stderr.contains(
            "realm `vault` is not pinned by this project\nhelp: the pinned realms are: bank, ledger"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn redacted_members_are_not_recorded_and_the_rest_replays() {
    use crate::common::backends::{Background, runners};
    use crate::common::serve::wait_for;

    let (shop, bank) = shop_with_bank();
    let bank_runner = Background::bank_runner(std::sync::Arc::new(runners::Seen::default()));
    let real_bank = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("balance={}", bank_runner.url()),
            "--runner",
            &format!("audit={}", dead()),
        ],
    );
    let recording = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("checkout={}", dead()),
            "--realm-endpoint",
            &format!("bank={}", real_bank.url()),
            "--record",
            "fakes",
            "--record-redact",
            "$.account",
            "--record-redact",
            "owner",
        ],
    );
    recording.wait_log("the redaction", |l| {
        l.contains("(bodies only, 2 paths redacted)")
    });
    let withdraw = "/realms/bank/balance/withdraw";
    let account = "/realms/bank/balance/account";
    assert_eq!(
        post(
            &recording,
            withdraw,
            r#"{"account": "a1", "amount": 500}"#,
            &[]
        ),
        (200, json!({"balance": 9500}))
    );
    let (status, ada) = post(&recording, account, r#"{"id": "a1"}"#, &[]);
    assert_eq!((status, &ada["owner"]), (200, &json!("Ada")), "{ada}");
    let read = |file: &str| {
        wait_for(file, || {
            let text =
                std::fs::read_to_string(shop.path().join(file)).map_err(|e| e.to_string())?;
            serde_json::from_str::<Value>(&text).map_err(|e| format!("{e}: {text}"))
        })
    };
    // The account left out of the request: the example matches the rest.
    assert_eq!(
        read("fakes/bank/balance.withdraw.json"),
        json!([{"match": {"amount": 500}, "reply": {"balance": 9500}}])
    );
    let accounts = read("fakes/bank/balance.account.json");
    let owner = &accounts[0]["reply"]["owner"];
    assert!(owner.is_string() && owner != "Ada", "{accounts}");
    assert_eq!(accounts[0]["request"], json!({"id": "a1"}));
    drop(recording);

    // Replayed: any account withdrawing 500.
    let fake = start_fake(shop.path(), shop.cache_dir(), &["bank"]);
    assert_eq!(
        post(&fake, withdraw, r#"{"account": "zz", "amount": 500}"#, &[]),
        (200, json!({"balance": 9500}))
    );
    let (status, replayed) = post(&fake, account, r#"{"id": "a1"}"#, &[]);
    assert_eq!((status, &replayed["owner"]), (200, owner), "{replayed}");
    let run = shop.realm(&["serve", "--record-redact", "$.a"]).expect(2);
    assert!(run.stderr.contains("--record <DIR>"), "{}", run.stderr);
}

/// Found by review, fixed: a `+retry` verb is tried again when the other realm's
/// answer is a 503 whose JSON `error.code` is in `NOT_MADE` — but the
/// other realm's ingress relays its runner's JSON answers as they came,
/// so a runner that ran the call and then answers 503 with such a code
/// (e.g. passing on `upstream_busy` from a call it made in turn) has the
/// caller's ingress run it again: three withdrawals for one. The
/// classification should rest on something only the called ingress
/// writes about its own refusal (a header it sets and strips from
/// upstream answers), not on a body a runner can write.
#[test]
fn a_runner_answer_that_looks_declined_is_not_tried_again() {
    use std::io::{BufRead as _, Read as _, Write as _};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (shop, bank) = shop_with_bank();
    // The bank's runner: runs every call (counts it), then answers 503
    // with the error a call of its own got.
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let runner = format!("http://{}", listener.local_addr().expect("addr"));
    {
        let runs = runs.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = std::io::BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                runs.fetch_add(1, Ordering::SeqCst);
                let reply =
                    r#"{"error":{"code":"upstream_busy","message":"the ledger's store is busy"}}"#;
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
    }
    let real_bank = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("balance={runner}"),
            "--runner",
            &format!("audit={}", dead()),
        ],
    );
    let shop_ingress = Serve::start(
        shop.path(),
        shop.cache_dir(),
        &[
            "--runner",
            &format!("checkout={}", dead()),
            "--realm-endpoint",
            &format!("bank={}", real_bank.url()),
        ],
    );
    // `withdraw` has `+retry 3 1s 30s`.
    let (status, got) = post(
        &shop_ingress,
        "/realms/bank/balance/withdraw",
        r#"{"account": "a1", "amount": 5}"#,
        &[],
    );
    assert_eq!(status, 503, "{got}");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the bank's runner ran one withdrawal this many times"
    );
}
