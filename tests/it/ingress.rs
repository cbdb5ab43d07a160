//! `realm serve` and `realm call` end to end on loopback, with real
//! processes: ingresses for `shop`, `bank` and `acme` (a realm imported from
//! the grpc-bank gRPC server), HTTP runners for shop and bank, and the tonic
//! backend behind acme. Calls go shop → bank → runner, shop → runner →
//! shop → bank → runner, and shop → acme → gRPC.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::common::backends::{Background, grpc_bank, runners};
use crate::common::serve::{Serve, free_port, http, post, stable};
use crate::common::{GitRealm, TestProject, run_realm_with, snapshots};

/// Three realms and their runners.
struct World {
    shop: TestProject,
    bank: GitRealm,
    acme: GitRealm,
    bank_seen: Arc<runners::Seen>,
    shop_seen: Arc<runners::Seen>,
    shop_ingress: Serve,
    bank_ingress: Serve,
    acme_ingress: Serve,
    _bank_runner: Background,
    _shop_runner: Background,
    _grpc: Background,
}

/// `realm import grpc` of the gRPC bank into `acme` as the realm `acme`.
fn import_acme(shop: &TestProject, grpc: &Background, acme: &GitRealm) {
    let output = acme.path().display().to_string();
    run_realm_with(
        shop.path(),
        &[
            "import",
            "grpc",
            "--endpoint",
            &grpc.url(),
            "--name",
            "acme",
            "--output",
            &output,
        ],
        &[],
    )
    .expect(0);
}

impl World {
    fn new() -> World {
        let shop = TestProject::example("shop");
        let bank = GitRealm::example("bank");
        shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);

        let grpc = Background::grpc_bank(grpc_bank::Options::default());
        let acme = GitRealm::empty("main");
        import_acme(&shop, &grpc, &acme);
        acme.commit("acme realm imported from gRPC");
        shop.realm(&["add", "--git-repo", &acme.url()]).expect(0);

        let bank_seen = Arc::new(runners::Seen::default());
        let bank_runner = Background::bank_runner(bank_seen.clone());
        let bank_ingress = Serve::start(
            bank.path(),
            shop.cache_dir(),
            &["--runner", &format!("balance={}", bank_runner.url())],
        );
        // The acme realm's runner is the server it was imported from.
        let acme_ingress = Serve::start(acme.path(), shop.cache_dir(), &[]);

        // The shop's runner calls back into the shop's ingress, so that
        // ingress's port is chosen first.
        let shop_port = free_port();
        let shop_seen = Arc::new(runners::Seen::default());
        let shop_runner =
            Background::shop_runner(format!("http://127.0.0.1:{shop_port}"), shop_seen.clone());
        let shop_ingress = Serve::start_with(
            shop.path(),
            shop.cache_dir(),
            &[
                "--runner",
                &format!("checkout={}", shop_runner.url()),
                "--realm-endpoint",
                &format!("bank={}", bank_ingress.url()),
                "--realm-endpoint",
                &format!("acme={}", acme_ingress.url()),
            ],
            &[],
            Some(format!("127.0.0.1:{shop_port}").parse().expect("addr")),
        );
        World {
            shop,
            bank,
            acme,
            bank_seen,
            shop_seen,
            shop_ingress,
            bank_ingress,
            acme_ingress,
            _bank_runner: bank_runner,
            _shop_runner: shop_runner,
            _grpc: grpc,
        }
    }

    /// `realm call` in the shop project, through the shop's ingress.
    fn call(&self, args: &[&str]) -> crate::common::Run {
        let endpoint = self.shop_ingress.url();
        run_realm_with(
            self.shop.path(),
            &[&["call"], args, &["--endpoint", &endpoint]].concat(),
            &[],
        )
    }
}

#[test]
fn calls_cross_realms_through_ingresses_and_runners() {
    let world = World::new();
    // shop → bank → bank's runner.
    let run = world
        .call(&[
            "balance.withdraw@bank",
            r#"{"account": "a1", "amount": 500}"#,
        ])
        .expect(0);
    assert_eq!(run.stdout, "{\n  \"balance\": 9500\n}\n");
    let (caller, module, request_id) = world.bank_seen.last().expect("the bank runner was called");
    assert_eq!((caller.as_str(), module.as_str()), ("shop", ""));
    assert!(!request_id.is_empty());
    world
        .bank_ingress
        .wait_log("the request id and caller", |l| {
            l.contains(&format!("request_id={request_id} ")) && l.contains("caller_realm=\"shop\"")
        });

    // A client → the shop's runner → the shop's ingress → the bank.
    let body =
        r#"{"account": "a1", "items": [{"sku": "s1", "quantity": 2, "price": 300}], "tags": {}}"#;
    let (status, headers, reply) = http(
        "POST",
        world.shop_ingress.addr,
        "/realms/shop/checkout/pay",
        body,
        &[
            ("x-request-id", "order-42"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ],
    )
    .expect("call");
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reply).expect("JSON"),
        serde_json::json!({"order": "o-1", "total": 600})
    );
    assert!(headers.contains(&("x-request-id".to_string(), "order-42".to_string())));
    // The bank saw the shop's checkout module and the same request id.
    assert_eq!(
        world.bank_seen.last(),
        Some((
            "shop".to_string(),
            "checkout".to_string(),
            "order-42".to_string()
        ))
    );
    assert_eq!(world.shop_seen.calls(), 1);
    // One trace across both ingresses and both hops.
    for serve in [&world.shop_ingress, &world.bank_ingress] {
        serve.wait_log("the order's request and trace ids", |l| {
            l.contains("request_id=order-42 ")
                && l.contains("trace_id=0af7651916cd43dd8448eb211c80319c")
        });
    }
    let run = world
        .call(&["balance.account@bank", r#"{"id": "a1"}"#])
        .expect(0);
    let account: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(account["balance"], 8900);

    // stdin, and the runner's own errors passed through.
    let mut cmd = assert_cmd::Command::cargo_bin("realm").expect("binary");
    let out = cmd
        .current_dir(world.shop.path())
        .args([
            "call",
            "balance.withdraw@bank",
            "-",
            "--endpoint",
            &world.shop_ingress.url(),
        ])
        .write_stdin(r#"{"account": "a2", "amount": 1000}"#)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: account a2 holds 250, 1000 was asked (409 Conflict)\n"),
        "{stderr}"
    );
}

#[test]
fn calls_a_grpc_realm_through_its_ingress() {
    let world = World::new();
    let run = world
        .call(&["account.getAccount@acme", r#"{"id": "a1"}"#])
        .expect(0);
    let account: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(account["owner"], "Ada");
    assert_eq!(account["balanceCents"], 10000);
    assert_eq!(account["type"], "ACCOUNT_TYPE_CHECKING");
    assert_eq!(account["labels"], serde_json::json!({"tier": "gold"}));

    let run = world
        .call(&[
            "account.withdraw@acme",
            r#"{"accountId": "a1", "amountCents": 2500, "atmId": "atm-7"}"#,
        ])
        .expect(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&run.stdout).expect("JSON")["balanceCents"],
        7500
    );
    let run = world.call(&["ledger.record@acme", r#"{"accountId": "a1", "changeCents": -2500, "details": {"atm": "atm-7"}, "accountType": "ACCOUNT_TYPE_CHECKING"}"#]).expect(0);
    assert!(run.stdout.contains("\"id\": \"r-1\""), "{}", run.stdout);
    let run = world.call(&["account.listAccounts@acme"]).expect(0);
    assert!(
        run.stdout.contains("\"owner\": \"Grace\""),
        "{}",
        run.stdout
    );

    // gRPC statuses become HTTP statuses with the status in the body.
    let (status, body) = post(
        world.shop_ingress.addr,
        "/realms/acme/account/withdraw",
        r#"{"accountId": "a2", "amountCents": 99999}"#,
    );
    assert_eq!(status, 400);
    let text = stable(body);
    snapshots(|| insta::assert_snapshot!("ingress_grpc_failed_precondition", text));
    let (status, body) = post(
        world.shop_ingress.addr,
        "/realms/acme/account/getAccount",
        r#"{"id": "zz"}"#,
    );
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("NOT_FOUND: no account zz")),
        "{body}"
    );
}

#[test]
fn refusals_happen_before_any_network_hop() {
    let world = World::new();
    let bank = world.bank_ingress.addr;
    let shop = world.shop_ingress.addr;
    let cases: &[(&str, SocketAddr, &str, &str, u16)] = &[
        ("not_exported", bank, "/realms/bank/balance/settle", "", 403),
        (
            // Published (balance.withdraw calls it, FTL's closure) but
            // not `export realm`.
            "published_not_exported",
            shop,
            "/realms/bank/audit/record",
            "{}",
            403,
        ),
        (
            "unknown_realm",
            shop,
            "/realms/nowhere/balance/withdraw",
            "{}",
            404,
        ),
        (
            "unknown_verb",
            shop,
            "/realms/bank/balance/deposit",
            "{}",
            404,
        ),
        (
            "data_not_verb",
            shop,
            "/realms/bank/balance/Account",
            "{}",
            404,
        ),
        (
            "malformed_json",
            shop,
            "/realms/bank/balance/withdraw",
            "{\"account\": \"a1\",",
            400,
        ),
        (
            "wrong_type",
            shop,
            "/realms/bank/balance/withdraw",
            r#"{"account": "a1", "amount": "500"}"#,
            400,
        ),
        (
            "missing_field",
            shop,
            "/realms/bank/balance/withdraw",
            r#"{"account": "a1"}"#,
            400,
        ),
        (
            "unknown_field",
            shop,
            "/realms/bank/balance/withdraw",
            r#"{"account": "a1", "amount": 5, "amont": 5}"#,
            400,
        ),
        (
            "wrong_alias",
            shop,
            "/realms/bank/balance/withdraw",
            r#"{"account": "a1", "amount": 5, "memo": "x"}"#,
            400,
        ),
        ("empty_body", shop, "/realms/bank/balance/withdraw", "", 400),
        (
            "grpc_wrong_enum",
            shop,
            "/realms/acme/ledger/record",
            r#"{"accountId": "a", "changeCents": 1, "accountType": "GOLD"}"#,
            400,
        ),
        (
            "grpc_both_oneof",
            shop,
            "/realms/acme/account/withdraw",
            r#"{"accountId": "a1", "amountCents": 1, "atmId": "x", "branchCode": "y"}"#,
            400,
        ),
    ];
    let mut seen = String::new();
    for (name, addr, path, body, expected) in cases {
        let (status, reply) = post(*addr, path, body);
        assert_eq!(status, *expected, "{name}: {reply}");
        seen.push_str(&format!(
            "## {name}: POST {path} -> {status}\n{}\n\n",
            stable(reply)
        ));
    }
    snapshots(|| insta::assert_snapshot!("ingress_refusals", seen));
    assert_eq!(
        world.bank_seen.calls(),
        0,
        "a refused call reached the bank's runner"
    );
    assert_eq!(
        world.shop_seen.calls(),
        0,
        "a refused call reached the shop's runner"
    );

    // Not a call at all.
    let (status, _, body) =
        http("GET", shop, "/realms/bank/balance/withdraw", "", &[]).expect("GET");
    assert_eq!(status, 405, "{body}");
    let (status, body) = post(shop, "/nothing/here", "{}");
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[test]
fn well_known_serves_the_public_schema_only() {
    let world = World::new();
    let (status, headers, body) = http(
        "GET",
        world.bank_ingress.addr,
        "/.well-known/realm",
        "",
        &[],
    )
    .expect("GET");
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/plain"))
    );
    assert_eq!(body, world.bank.read("ftl-external-schema.txtpb"));
    let (status, headers, body) = http(
        "GET",
        world.bank_ingress.addr,
        "/.well-known/realm",
        "",
        &[("accept", "application/json")],
    )
    .expect("GET");
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/json")
    );
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["realms"][0]["name"], "bank");
    for private in ["settle", "ledgerToken", "currency\"\n"] {
        assert!(!body.contains(private), "the public schema shows {private}");
    }
    let (_, _, body) = http(
        "GET",
        world.acme_ingress.addr,
        "/.well-known/realm",
        "",
        &[],
    )
    .expect("GET");
    assert_eq!(body, world.acme.read("ftl-external-schema.txtpb"));
}

#[test]
fn unreachable_runners_and_realms_without_endpoints() {
    let shop = TestProject::example("shop");
    let bank = GitRealm::example("bank");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let bank_ingress = Serve::start(
        bank.path(),
        shop.cache_dir(),
        &["--runner", &format!("balance={dead}")],
    );
    let (status, body) = post(
        bank_ingress.addr,
        "/realms/bank/balance/withdraw",
        r#"{"account": "a1", "amount": 1}"#,
    );
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_unreachable");
    // balance.withdraw is `+retry 3 1s 30s`: four attempts, 1 + 2 + 4 s.
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| {
            m.starts_with("cannot reach the runner of module `balance` after 4 attempts over 7")
                && m.contains(&format!(
                    "s (`+retry`): cannot connect to {dead}/balance/withdraw"
                ))
        }),
        "{body}"
    );

    // The shop's config provider points at a bank that is not there (an
    // address nothing listens on: the example's own port may be taken on
    // this machine), and the environment overrides it.
    let dead_bank = format!("http://127.0.0.1:{}", free_port());
    let config = shop.read(".ftl/configuration.json");
    assert!(config.contains("\"http://127.0.0.1:8872\""), "{config}");
    shop.write(
        ".ftl/configuration.json",
        &config.replace("http://127.0.0.1:8872", &dead_bank),
    );
    let shop_ingress = Serve::start(shop.path(), shop.cache_dir(), &[]);
    let (status, body) = post(
        shop_ingress.addr,
        "/realms/bank/balance/withdraw",
        r#"{"account": "a1", "amount": 1}"#,
    );
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&dead_bank)),
        "{body}"
    );
    let project = shop
        .read("ftl-project.toml")
        .replace("config-provider = \"file:.ftl/configuration.json\"\n", "");
    shop.write("ftl-project.toml", &project);
    let shop_ingress = Serve::start(shop.path(), shop.cache_dir(), &[]);
    let (status, body) = post(
        shop_ingress.addr,
        "/realms/bank/balance/withdraw",
        r#"{"account": "a1", "amount": 1}"#,
    );
    assert_eq!(status, 503);
    let text = stable(body);
    snapshots(|| insta::assert_snapshot!("ingress_no_endpoint", text));
}

#[test]
fn serve_refuses_a_bad_configuration() {
    let shop = TestProject::example("shop");
    let bank = GitRealm::example("bank");
    shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
    let run = shop
        .realm(&["serve", "--runner", "payments=http://x"])
        .expect(1);
    assert_eq!(
        run.stderr,
        "error: invalid ingress configuration\n  caused by: --runner names module `payments`, which realm `shop` does not have\nhelp: its modules are: checkout\n"
    );
    let run = shop
        .realm(&["serve", "--realm-endpoint", "crm=http://x"])
        .expect(1);
    assert!(
        run.stderr
            .contains("--realm-endpoint names realm `crm`, which is not pinned"),
        "{}",
        run.stderr
    );
    let run = shop
        .realm(&["serve", "--realm-endpoint", "bank=ftp://x"])
        .expect(1);
    assert!(run.stderr.contains("`bank-realm-endpoint` is \"ftp://x\" (from command line), which is not an http:// or https:// URL"), "{}", run.stderr);
    let run = shop.realm(&["serve", "--listen", "nowhere"]).expect(2);
    assert!(
        run.stderr.contains("`nowhere` is not an address"),
        "{}",
        run.stderr
    );
    let run = shop.realm(&["serve", "--runner", "nonsense"]).expect(2);
    assert!(
        run.stderr.contains("`nonsense` is not NAME=URL"),
        "{}",
        run.stderr
    );
}

/// Three modules of one realm: `ledger` and `audit` served by an echo
/// runner, `vault` by a runner that is down; `vault.open` retries.
const UPSTREAMS: &str = r#"module ledger {
  export realm data Msg {
    text String
  }

  export realm verb echo(ledger.Msg) ledger.Msg
}

module audit {
  export realm verb record(ledger.Msg) ledger.Msg
}

module vault {
  export realm verb open(ledger.Msg) ledger.Msg
    +retry 2 50ms
}
"#;

#[test]
fn status_tells_never_called_from_up_and_retries_say_how_many_and_how_long() {
    use crate::common::echo::{Echo, echo_runner};
    let bank = TestProject::new("bank");
    bank.write("modules/ledger.ftl", UPSTREAMS);
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let ingress = Serve::start(
        bank.path(),
        bank.cache_dir(),
        &[
            "--runner",
            &format!("ledger={}", runner.url()),
            "--runner",
            &format!("audit={}", runner.url()),
            "--runner",
            &format!("vault={dead}"),
        ],
    );
    let status = |bank: &TestProject| {
        let run =
            run_realm_with(bank.path(), &["status", "--endpoint", &ingress.url()], &[]).expect(0);
        // Ports and latencies change from run to run.
        let text = run
            .stdout
            .replace(&runner.url(), "http://[runner]")
            .replace(&dead, "http://[dead]");
        stable_table(&text)
    };
    // Nothing called yet: nothing is known, nothing is `up`.
    let before = status(&bank);
    snapshots(|| insta::assert_snapshot!("status_never_called", before));

    assert_eq!(
        post(
            ingress.addr,
            "/realms/bank/ledger/echo",
            r#"{"text": "hi"}"#
        )
        .0,
        200
    );
    // A call to a +retry verb whose runner is down: `+retry 2 50ms` makes
    // three attempts, 50 ms then 100 ms apart, and the refusal says so.
    let started = std::time::Instant::now();
    let run = run_realm_with(
        bank.path(),
        &[
            "call",
            "vault.open",
            r#"{"text": "hi"}"#,
            "--endpoint",
            &ingress.url(),
        ],
        &[],
    )
    .expect(1);
    let waited = started.elapsed();
    let prefix = "error: cannot reach the runner of module `vault` after 3 attempts over ";
    assert!(run.stderr.starts_with(prefix), "{}", run.stderr);
    let (over, rest) = run.stderr[prefix.len()..]
        .split_once(" (`+retry`): ")
        .unwrap_or_else(|| panic!("no time in {}", run.stderr));
    let over = match over.strip_suffix("ms") {
        Some(ms) => ms.parse::<f64>().map(|ms| ms / 1000.0),
        None => over.trim_end_matches('s').parse::<f64>(),
    }
    .unwrap_or_else(|_| panic!("`{over}` is not a time"));
    assert!(
        over >= 0.15 && over <= waited.as_secs_f64(),
        "{over} s, the call took {waited:?}: {}",
        run.stderr
    );
    let first_line = format!(
        "{prefix}[t] (`+retry`): {}",
        rest.lines().next().unwrap_or_default()
    )
    .replace(&dead, "http://[dead]");
    snapshots(|| insta::assert_snapshot!("call_retry_refused", first_line));

    let after = status(&bank);
    snapshots(|| insta::assert_snapshot!("status_after_calls", after));
}

/// A `realm status` table with times (`1.2ms`, `830µs`, `(0.9s)`) as
/// `[t]` and the columns two spaces apart (their widths follow the times
/// and ports).
fn stable_table(text: &str) -> String {
    let is_time = |t: &str| {
        t.starts_with(|c: char| c.is_ascii_digit())
            && t.ends_with('s')
            && t.chars().all(|c| c.is_ascii_digit() || ".msµ".contains(c))
    };
    let cell = |cell: &str| -> String {
        if is_time(cell) {
            return "[t]".to_string();
        }
        match cell
            .strip_prefix("backing off (")
            .and_then(|c| c.strip_suffix(')'))
        {
            Some(wait) if is_time(wait) => "backing off ([t])".to_string(),
            _ => cell.to_string(),
        }
    };
    text.lines()
        .map(|line| {
            let cells: Vec<String> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(cell)
                .collect();
            cells.join("  ") + "\n"
        })
        .collect()
}

/// A gRPC runner gets `+retry` as HTTP runners do: a call whose connection
/// is refused is tried again until the runner is up.
#[test]
fn grpc_runners_retry_verbs_until_the_runner_is_up() {
    let shop = TestProject::new("shop");
    let acme = GitRealm::empty("main");
    {
        let grpc = Background::grpc_bank(grpc_bank::Options::default());
        import_acme(&shop, &grpc, &acme);
    }
    let grpc_line = "+grpc \"acme.bank.v1.AccountService/GetAccount\"";
    let file = crate::common::files_under(acme.path())
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .is_ok_and(|t| t.contains(grpc_line) && p.extension().is_some_and(|e| e == "ftl"))
        })
        .expect("the schema file of account.getAccount");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace(
            grpc_line,
            &format!("{grpc_line}\n      +retry 20 100ms 500ms"),
        ),
    )
    .expect("write");
    acme.export();

    // Nothing listens on the runner's address yet.
    let runner: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let acme_ingress = Serve::start(
        acme.path(),
        shop.cache_dir(),
        &["--runner", &format!("account=http://{runner}")],
    );
    let addr = acme_ingress.addr;
    let call = std::thread::spawn(move || {
        post(addr, "/realms/acme/account/getAccount", r#"{"id": "a1"}"#)
    });
    crate::common::serve::wait_for("the first attempt to fail", || {
        let answer = http("GET", addr, "/status", "", &[]).expect("status");
        let status: serde_json::Value = serde_json::from_str(&answer.2).expect("JSON");
        let failed = status["upstreams"]
            .as_array()
            .and_then(|all| all.iter().find(|u| u["name"] == "account"))
            .and_then(|u| u["failed"].as_u64());
        (failed >= Some(1)).then_some(()).ok_or(status.to_string())
    });
    let _grpc = Background::start(Some(runner), move |listener, stop| async move {
        grpc_bank::serve(listener, grpc_bank::Options::default(), async {
            let _ = stop.await;
        })
        .await
        .expect("grpc-bank serves");
    });
    let (status, body) = call.join().expect("thread");
    assert_eq!(status, 200, "{body}\n{}", acme_ingress.log());
    assert_eq!(body["owner"], "Ada", "{body}");
}
