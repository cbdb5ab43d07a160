//! Two-way pins end to end: realms that call each other with Ed25519 keys
//! they publish in realm.toml and no shared secret, over real git
//! repositories and real ingresses. The callee pins its callers
//! (`[caller-realms.*]`) and trusts exactly the keys of the pinned commit;
//! the caller's ingress signs with RFC 9421; a hub relays with both
//! signatures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use realm::ingress::auth::{Signer, Stamp, new_nonce_hex};

use crate::common::GitRealm;
use crate::common::backends::Background;
use crate::common::echo::{Echo, MSG, call, code, echo_runner, ledger_realm, message};
use crate::common::serve::{Answer, Serve, http};

const ECHO: &str = "/realms/bank/ledger/echo";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// `realm keys new --key-file <dir>/<file>` in `realm`; the key id.
fn new_key(realm: &GitRealm, dir: &Path, file: &str) -> (String, PathBuf) {
    let path = dir.join(file);
    let run = crate::common::run_realm(
        realm.path(),
        &["keys", "new", "--key-file", path.to_str().expect("utf-8")],
    )
    .expect(0);
    (run.stdout.trim().to_string(), path)
}

/// `realm <args>` in `realm` with the test's git cache; exit 0.
fn realm_in(realm: &GitRealm, cache: &Path, args: &[&str]) {
    crate::common::run_realm_with(realm.path(), args, &[("REALM_CACHE_DIR", cache)]).expect(0);
}

/// A realm with keys, committed: `name`, its `module-dirs`, `extra` TOML
/// of realm.toml.
fn keyed_realm(name: &str, keys: &Path, extra: &str) -> (GitRealm, String, PathBuf) {
    let realm = GitRealm::empty("main");
    realm.write(
        "ftl-project.toml",
        &format!("name = \"{name}\"\nmodule-dirs = [\"modules\"]\n"),
    );
    realm.write("realm.toml", extra);
    realm.write(
        &format!("modules/{name}.ftl"),
        &format!("module {name} {{\n  verb ping(Unit) Unit\n}}\n"),
    );
    let (id, file) = new_key(&realm, keys, &format!("{name}-1.key"));
    realm.commit(&format!("{name} with a key"));
    (realm, id, file)
}

/// Pins `repo` as a caller of `callee` at its head (`realm add --caller`),
/// or moves the pin there (`realm update --caller`).
fn pin_caller(callee: &GitRealm, repo: &GitRealm, cache: &Path) {
    let pinned = std::fs::read_to_string(callee.path().join("realm.toml"))
        .is_ok_and(|s| s.contains("[caller-realms."));
    let url = repo.url();
    let args: &[&str] = if pinned {
        &["update", "--caller"]
    } else {
        &["add", "--caller", "--git-repo", &url]
    };
    realm_in(callee, cache, args);
}

/// A call to `serve` signed as `caller` with `key`, for `target` (the URL
/// the signature names), via `via`, at `at`.
fn signed_call(
    serve: &Serve,
    signer: &Signer,
    caller: &str,
    via: &str,
    target: &str,
    body: &str,
    at: i64,
) -> Answer {
    let headers = sign(signer, caller, via, target, MSG, at);
    send(serve, ECHO, body, &headers)
}

fn sign(signer: &Signer, caller: &str, via: &str, target: &str, body: &str, at: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-realm-via", HeaderValue::from_str(via).expect("via"));
    headers.insert(
        "x-realm-caller",
        HeaderValue::from_str(caller).expect("caller"),
    );
    let nonce = new_nonce_hex();
    let stamp = Stamp {
        now: at,
        lifetime: 60,
        nonce: &nonce,
    };
    signer
        .sign(&mut headers, target, body.as_bytes(), &stamp, None)
        .expect("sign");
    headers
}

fn send(serve: &Serve, path: &str, body: &str, headers: &HeaderMap) -> Answer {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().expect("ascii")))
        .collect();
    http("POST", serve.addr, path, body, &pairs).expect("HTTP call")
}

fn signer(file: &Path) -> Signer {
    Signer::new(realm::keys::load_private_key(file).expect("key"))
}

fn stranger() -> Signer {
    use ring::signature::Ed25519KeyPair;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).expect("keygen");
    Signer::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key"))
}

fn refused(answer: &Answer, status: u16, expected: &str) {
    assert_eq!(answer.0, status, "{}", answer.2);
    assert_eq!(code(answer), expected, "{}", answer.2);
}

fn serve_bank(bank: &GitRealm, cache: &Path, runner: &Background) -> Serve {
    Serve::start_with(
        bank.path(),
        cache,
        &["--runner", &format!("ledger={}", runner.url())],
        &[],
        None,
    )
}

fn serve_signed(realm: &GitRealm, cache: &Path, key: &Path, bank: &str) -> Serve {
    Serve::start_with(
        realm.path(),
        cache,
        &["--realm-endpoint", &format!("bank={bank}")],
        &[("REALM_SIGNING_KEY_FILE", key.to_str().expect("utf-8"))],
        None,
    )
}

#[test]
fn two_realms_call_each_other_with_no_shared_secret_and_rotate_keys() {
    let keys = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache");
    let bank = ledger_realm("bank");
    let (shop, k1, k1_file) = keyed_realm("shop", keys.path(), "");
    realm_in(&shop, cache.path(), &["add", "--git-repo", &bank.url()]);
    shop.commit("shop pins bank");
    pin_caller(&bank, &shop, cache.path());

    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = serve_bank(&bank, cache.path(), &runner);
    // The start-up lines say who may call and how (written right after
    // the address, so waited for).
    let says = |serve: &Serve, text: String| serve.wait_log(&text, |l| l.contains(&text));
    says(
        &bank_ingress,
        format!(
            "caller shop: ed25519 keys pinned at {}: {k1}",
            &shop.head()[..7]
        ),
    );
    let shop_ingress = serve_signed(&shop, cache.path(), &k1_file, &bank_ingress.url());
    says(
        &shop_ingress,
        format!(
            "realm bank -> {}, signed (ed25519 key {k1})",
            bank_ingress.url()
        ),
    );

    // Signed by shop's ingress, verified by bank's; no secret anywhere.
    let ok = call(&shop_ingress, ECHO, MSG, &[]);
    assert_eq!(ok.0, 200, "{}\n{}", ok.2, bank_ingress.log());
    let seen = echo.last();
    assert_eq!(
        seen.headers.get("x-realm-caller").map(String::as_str),
        Some("shop")
    );
    // Runners hear who called, not the signatures.
    assert!(!seen.headers.contains_key("signature-input"));

    // What is refused, each with its own code and message.
    let target = format!("{}{ECHO}", bank_ingress.url());
    let shop_key = signer(&k1_file);
    // Unsigned, from anyone: bank pins callers, so calls must be signed.
    refused(&call(&bank_ingress, ECHO, MSG, &[]), 401, "unsigned");
    // Replayed: the same signed request twice.
    let headers = sign(&shop_key, "shop", "shop", &target, MSG, now());
    assert_eq!(send(&bank_ingress, ECHO, MSG, &headers).0, 200);
    refused(&send(&bank_ingress, ECHO, MSG, &headers), 401, "replayed");
    // Forged: another body than the one signed, another URL than signed.
    let headers = sign(&shop_key, "shop", "shop", &target, MSG, now());
    refused(
        &send(&bank_ingress, ECHO, r#"{"text":"all of it"}"#, &headers),
        401,
        "bad_digest",
    );
    let slow = format!("{}/realms/bank/ledger/slow", bank_ingress.url());
    let headers = sign(&shop_key, "shop", "shop", &slow, MSG, now());
    refused(
        &send(&bank_ingress, ECHO, MSG, &headers),
        401,
        "bad_signature",
    );
    // Expired: signed an hour ago.
    refused(
        &signed_call(
            &bank_ingress,
            &shop_key,
            "shop",
            "shop",
            &target,
            MSG,
            now() - 3600,
        ),
        401,
        "expired",
    );
    // A key shop never published, and a realm bank does not pin.
    let other = stranger();
    let answer = signed_call(&bank_ingress, &other, "shop", "shop", &target, MSG, now());
    refused(&answer, 401, "unknown_key");
    assert!(message(&answer).contains(other.id()) && message(&answer).contains("`shop`"));
    let answer = signed_call(&bank_ingress, &other, "mall", "mall", &target, MSG, now());
    refused(&answer, 401, "caller_not_pinned");
    assert!(message(&answer).contains("`mall`") && message(&answer).contains(other.id()));
    // Shop's key, but claiming to be another realm.
    let answer = signed_call(
        &bank_ingress,
        &shop_key,
        "mall",
        "mall",
        &target,
        MSG,
        now(),
    );
    refused(&answer, 401, "key_of_other_realm");

    // Rotation: shop publishes a second key; bank pins that commit; shop
    // signs with the new key; shop retires the old one; bank pins that.
    // A call through shop's ingress succeeds at every step.
    let (k2, k2_file) = new_key(&shop, keys.path(), "shop-2.key");
    shop.commit("shop: a second key");
    pin_caller(&bank, &shop, cache.path());
    drop(bank_ingress);
    let bank_ingress = serve_bank(&bank, cache.path(), &runner);
    let shop_ingress = {
        drop(shop_ingress);
        serve_signed(&shop, cache.path(), &k1_file, &bank_ingress.url())
    };
    assert_eq!(
        call(&shop_ingress, ECHO, MSG, &[]).0,
        200,
        "old key, both pinned"
    );
    drop(shop_ingress);
    let shop_ingress = serve_signed(&shop, cache.path(), &k2_file, &bank_ingress.url());
    assert_eq!(
        call(&shop_ingress, ECHO, MSG, &[]).0,
        200,
        "new key, both pinned"
    );
    crate::common::run_realm(shop.path(), &["keys", "retire", &k1]).expect(0);
    shop.commit("shop: retire the first key");
    pin_caller(&bank, &shop, cache.path());
    drop(bank_ingress);
    let bank_ingress = serve_bank(&bank, cache.path(), &runner);
    drop(shop_ingress);
    let shop_ingress = serve_signed(&shop, cache.path(), &k2_file, &bank_ingress.url());
    let ok = call(&shop_ingress, ECHO, MSG, &[]);
    assert_eq!(ok.0, 200, "new key after the old one is retired: {}", ok.2);
    let target = format!("{}{ECHO}", bank_ingress.url());
    let answer = signed_call(
        &bank_ingress,
        &shop_key,
        "shop",
        "shop",
        &target,
        MSG,
        now(),
    );
    refused(&answer, 401, "retired_key");
    assert!(message(&answer).contains(&k1), "{}", answer.2);
    says(
        &bank_ingress,
        format!(
            "caller shop: ed25519 keys pinned at {}: {k2}",
            &shop.head()[..7]
        ),
    );
}

#[test]
fn a_hub_relays_a_call_with_both_signatures() {
    let keys = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache");
    let bank = ledger_realm("bank");
    let (shop, _, shop_file) = keyed_realm("shop", keys.path(), "");
    let (hub, _, hub_file) = keyed_realm("hub", keys.path(), "[ingress]\nrelay = true\n");
    realm_in(&hub, cache.path(), &["add", "--git-repo", &bank.url()]);
    hub.commit("hub pins bank");
    realm_in(&shop, cache.path(), &["add", "--git-repo", &bank.url()]);
    shop.commit("shop pins bank");
    // The hub checks shop; bank checks both (and has no `[ingress] hub`:
    // shop's own signature proves where the call started).
    pin_caller(&hub, &shop, cache.path());
    pin_caller(&bank, &shop, cache.path());
    realm_in(
        &bank,
        cache.path(),
        &["add", "--caller", "--git-repo", &hub.url()],
    );

    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = serve_bank(&bank, cache.path(), &runner);
    let hub_ingress = serve_signed(&hub, cache.path(), &hub_file, &bank_ingress.url());
    // shop reaches bank through the hub: its endpoint for bank is the hub.
    let shop_ingress = serve_signed(&shop, cache.path(), &shop_file, &hub_ingress.url());
    let ok = call(&shop_ingress, ECHO, MSG, &[("x-request-id", "relayed-1")]);
    assert_eq!(
        ok.0,
        200,
        "{}\nhub:\n{}\nbank:\n{}",
        ok.2,
        hub_ingress.log(),
        bank_ingress.log()
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

    // The hub's signature alone does not prove where a call started.
    let hub_key = signer(&hub_file);
    let target = format!("{}{ECHO}", bank_ingress.url());
    let answer = signed_call(
        &bank_ingress,
        &hub_key,
        "hub",
        "shop, hub",
        &target,
        MSG,
        now(),
    );
    refused(&answer, 401, "via_unverified");
    // Nor can shop's signature be replayed into another relayed call: the
    // hub's own request carries shop's member once, checked against the
    // hub's URL that shop signed.
    let hub_target = format!("{}{ECHO}", hub_ingress.url());
    let shop_key = signer(&shop_file);
    let headers = sign(&shop_key, "shop", "shop", &hub_target, MSG, now());
    assert_eq!(send(&hub_ingress, ECHO, MSG, &headers).0, 200);
    refused(&send(&hub_ingress, ECHO, MSG, &headers), 401, "replayed");
}

#[test]
fn a_hub_passes_on_at_once_a_relayed_call_it_would_queue() {
    // The hub lists bank's verb as queued: its own callers' calls to it
    // wait in its queue, but a call relayed from shop carries shop's
    // signature, which would be stale by the time a delivery went on.
    let keys = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache");
    let bank = ledger_realm("bank");
    let (shop, _, shop_file) = keyed_realm("shop", keys.path(), "");
    let (hub, _, hub_file) = keyed_realm(
        "hub",
        keys.path(),
        "[ingress]\nrelay = true\nqueued = [\"ledger.echo@bank\"]\n",
    );
    realm_in(&hub, cache.path(), &["add", "--git-repo", &bank.url()]);
    hub.commit("hub pins bank");
    realm_in(&shop, cache.path(), &["add", "--git-repo", &bank.url()]);
    shop.commit("shop pins bank");
    pin_caller(&hub, &shop, cache.path());
    pin_caller(&bank, &shop, cache.path());
    realm_in(
        &bank,
        cache.path(),
        &["add", "--caller", "--git-repo", &hub.url()],
    );
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = serve_bank(&bank, cache.path(), &runner);
    let hub_ingress = serve_signed(&hub, cache.path(), &hub_file, &bank_ingress.url());
    let shop_ingress = serve_signed(&shop, cache.path(), &shop_file, &hub_ingress.url());
    let relayed = call(&shop_ingress, ECHO, MSG, &[]);
    assert_eq!(relayed.0, 200, "{}\nhub:\n{}", relayed.2, hub_ingress.log());
    assert_eq!(echo.count(), 1);
    assert_eq!(
        echo.last().headers.get("x-realm-via").map(String::as_str),
        Some("shop, hub")
    );
    // The hub's own call to the same verb is queued.
    let own = call(&hub_ingress, ECHO, MSG, &[]);
    assert_eq!(own.0, 202, "{}", own.2);
}

#[test]
fn the_callee_calls_back_with_its_own_key() {
    // Both directions, no secret: shop calls bank with shop's key, bank
    // calls shop with bank's; each pins the other both ways.
    let keys = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache");
    let bank = ledger_realm("bank");
    let (bank_key_id, bank_key) = new_key(&bank, keys.path(), "bank.key");
    bank.commit("bank: a key");
    let shop = GitRealm::empty("main");
    shop.write(
        "ftl-project.toml",
        "name = \"shop\"\nmodule-dirs = [\"modules\"]\n",
    );
    shop.write(
        "modules/orders.ftl",
        "module orders {\n  export realm data Msg {\n    text String\n  }\n\n  export realm verb echo(orders.Msg) orders.Msg\n}\n",
    );
    let (_, shop_key) = new_key(&shop, keys.path(), "shop.key");
    realm_in(&shop, cache.path(), &["add", "--git-repo", &bank.url()]);
    realm_in(
        &shop,
        cache.path(),
        &["add", "--caller", "--git-repo", &bank.url()],
    );
    crate::common::run_realm(shop.path(), &["export"]).expect(0);
    shop.commit("shop pins bank both ways");
    realm_in(&bank, cache.path(), &["add", "--git-repo", &shop.url()]);
    pin_caller(&bank, &shop, cache.path());

    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    // bank serves its verbs (and checks shop); shop serves its verbs (and
    // checks bank) and calls bank; a second bank ingress, a replica, has
    // shop's address and carries bank's calls to shop.
    let bank_in = Serve::start_with(
        bank.path(),
        cache.path(),
        &["--runner", &format!("ledger={}", runner.url())],
        &[("REALM_SIGNING_KEY_FILE", bank_key.to_str().expect("utf-8"))],
        None,
    );
    let shop_ingress = Serve::start_with(
        shop.path(),
        cache.path(),
        &[
            "--runner",
            &format!("orders={}", runner.url()),
            "--realm-endpoint",
            &format!("bank={}", bank_in.url()),
        ],
        &[("REALM_SIGNING_KEY_FILE", shop_key.to_str().expect("utf-8"))],
        None,
    );
    let bank_out = Serve::start_with(
        bank.path(),
        cache.path(),
        &[
            "--runner",
            &format!("ledger={}", runner.url()),
            "--realm-endpoint",
            &format!("shop={}", shop_ingress.url()),
        ],
        &[("REALM_SIGNING_KEY_FILE", bank_key.to_str().expect("utf-8"))],
        None,
    );
    let there = call(&shop_ingress, ECHO, MSG, &[]);
    assert_eq!(there.0, 200, "{}\n{}", there.2, bank_in.log());
    assert_eq!(
        echo.last()
            .headers
            .get("x-realm-caller")
            .map(String::as_str),
        Some("shop")
    );
    let back = call(&bank_out, "/realms/shop/orders/echo", MSG, &[]);
    assert_eq!(back.0, 200, "{}\n{}", back.2, shop_ingress.log());
    let seen = echo.last();
    assert_eq!(seen.verb, "echo");
    assert_eq!(
        seen.headers.get("x-realm-caller").map(String::as_str),
        Some("bank")
    );
    shop_ingress.wait_log("bank's key", |l| {
        l.contains("caller bank: ed25519 keys pinned at") && l.contains(&bank_key_id)
    });
}

#[test]
fn a_caller_pinned_under_another_name_is_known_by_the_name_it_signs_with() {
    let keys = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache");
    let bank = ledger_realm("bank");
    let (shop, _, key_file) = keyed_realm("shop", keys.path(), "");
    // The bank pins the shop as `store` (`--name`, as `[external-realms]`
    // allows); the shop's ingress still says it is `shop`.
    realm_in(
        &bank,
        cache.path(),
        &[
            "add",
            "--caller",
            "--name",
            "store",
            "--git-repo",
            &shop.url(),
        ],
    );
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = serve_bank(&bank, cache.path(), &runner);
    let target = format!("{}{ECHO}", bank_ingress.url());
    let answer = signed_call(
        &bank_ingress,
        &signer(&key_file),
        "shop",
        "shop",
        &target,
        MSG,
        now(),
    );
    assert_eq!(answer.0, 200, "{}", answer.2);
}

/// The verb service names the verb in its body, which no signature
/// covers: signed calls are refused there, RFC 9421 ones as HMAC ones.
#[test]
fn a_signed_call_to_the_verb_service_is_refused() {
    use base64::Engine as _;
    let keys = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("cache");
    let bank = ledger_realm("bank");
    let (shop, _, key_file) = keyed_realm("shop", keys.path(), "");
    pin_caller(&bank, &shop, cache.path());
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = serve_bank(&bank, cache.path(), &runner);
    const CALL: &str = "/xyz.block.ftl.v1.VerbService/Call";
    let target = format!("{}{CALL}", bank_ingress.url());
    let mut headers = sign(&signer(&key_file), "shop", "shop", &target, MSG, now());
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("connect-protocol-version", HeaderValue::from_static("1"));
    let request = serde_json::json!({
        "verb": {"module": "ledger", "name": "echo"},
        "body": base64::engine::general_purpose::STANDARD.encode(MSG),
    })
    .to_string();
    let answer = send(&bank_ingress, CALL, &request, &headers);
    assert_eq!(answer.0, 401, "{answer:?}");
    assert!(
        answer.2.contains("signed calls go to POST /realms/"),
        "{answer:?}"
    );
}
