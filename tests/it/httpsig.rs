//! RFC 9421 signatures checked by a second, independent implementation:
//! Python's `http-message-signatures` (PyPI). A key made by the real
//! `realm keys new`: realm's `httpsig` signs a call with it and Python
//! verifies it with the public key from realm.toml; Python signs with the
//! PEM key file and realm verifies. A tampered body or header is refused
//! by both.
//!
//! Without python3 and the package the test says so and passes; under
//! `CI=true` it fails instead (`.ci/run` installs the package).

use std::io::Write as _;
use std::process::{Command, Stdio};

use realm::ingress::auth::httpsig::{self, KeyStatus, Message, Policy, Signing};
use ring::signature::KeyPair as _;

use crate::common::TestProject;

/// Verifies or signs one request, as JSON on stdin and stdout.
const SCRIPT: &str = r#"
import base64, datetime, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from http_message_signatures import (HTTPMessageSigner, HTTPMessageVerifier, algorithms,
    MappingKeyResolver)

class Headers:
    def __init__(self, pairs): self.pairs = [tuple(p) for p in pairs]
    def items(self): return list(self.pairs)
    def __iter__(self): return iter(dict.fromkeys(n for n, _ in self.pairs))
    def __contains__(self, name): return any(n.lower() == name.lower() for n, _ in self.pairs)
    def __getitem__(self, name):
        values = [v for n, v in self.pairs if n.lower() == name.lower()]
        if not values: raise KeyError(name)
        return ", ".join(values)
    def get(self, name, default=None):
        return self[name] if name in self else default
    def __setitem__(self, name, value):
        del self[name]
        self.pairs.append((name, value))
    def __delitem__(self, name):
        self.pairs = [(n, v) for n, v in self.pairs if n.lower() != name.lower()]

class Request:
    def __init__(self, method, url, headers): self.method, self.url, self.headers = method, url, Headers(headers)

COVERED = ("@method", "@target-uri", "content-digest", "x-realm-via", "x-realm-caller")
job = json.load(sys.stdin)
req = Request(job["method"], job["url"], job["headers"])
body = base64.b64decode(job["body"])
if sys.argv[1] == "verify":
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(job["public"]))
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={job["keyid"]: public}, private_keys={}))
    try:
        results = verifier.verify(req, expect_tag="realm", require_components=COVERED, body=body)
    except Exception as e:
        print(json.dumps({"refused": f"{type(e).__name__}: {e}"}))
        sys.exit(0)
    print(json.dumps({"verified": [r.parameters["keyid"] for r in results]}))
else:
    with open(job["key_file"], "rb") as f:
        private = load_pem_private_key(f.read(), password=None)
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={job["keyid"]: private}))
    now = datetime.datetime.fromtimestamp(job["created"], tz=datetime.timezone.utc)
    signer.sign(req, key_id=job["keyid"], created=now, expires=now + datetime.timedelta(seconds=60),
        nonce=job["nonce"], label="realm", tag="realm", covered_component_ids=COVERED, body=body)
    print(json.dumps({"headers": req.headers.items()}))
"#;

/// Whether python3 with the package is here; without it, a skip (or,
/// under CI=true, a failure).
fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import http_message_signatures, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with http-message-signatures is missing, and CI=true: \
             `python3 -m pip install http-message-signatures` (.ci/run does)"
        );
        eprintln!(
            "skipped: python3 with the http-message-signatures package is not installed \
             (`python3 -m pip install http-message-signatures`)"
        );
    }
    ok
}

/// Runs the script in `mode` on `job`; its JSON answer.
fn python(script: &std::path::Path, mode: &str, job: &serde_json::Value) -> serde_json::Value {
    let mut child = Command::new("python3")
        .arg(script)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(job.to_string().as_bytes())
        .expect("write the job");
    let out = child.wait_with_output().expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 {mode} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python3 answers JSON")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

const URL: &str = "http://127.0.0.1:8871/call/bank.echo?trace=1";

#[test]
fn signatures_verify_with_python_http_message_signatures_both_ways() {
    if !python_ready() {
        return;
    }
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;

    // A key made by the real binary.
    let p = TestProject::new("shop");
    let keys = tempfile::tempdir().expect("tempdir");
    let key_file = keys.path().join("shop.key");
    let run = p
        .realm(&[
            "keys",
            "new",
            "--key-file",
            key_file.to_str().expect("utf-8"),
        ])
        .expect(0);
    let keyid = run.stdout.trim().to_string();
    let settings = p.read("realm.toml");
    let entry = settings
        .split('"')
        .find(|s| s.starts_with("ed25519:"))
        .expect("an entry in realm.toml");
    let public = realm::project::parse_key_entry(entry)
        .expect("entry")
        .public;
    let pair = realm::keys::load_private_key(&key_file).expect("key file");
    assert_eq!(pair.public_key().as_ref(), public.as_slice());

    let script = keys.path().join("hms.py");
    std::fs::write(&script, SCRIPT).expect("write script");
    let body = br#"{"amount":12,"to":"bank"}"#;
    let digest = httpsig::content_digest(body);
    let fields = [
        ("content-type", "application/json"),
        ("content-digest", digest.as_str()),
        ("x-realm-via", "shop"),
        ("x-realm-caller", "shop"),
    ];
    let msg = Message {
        method: "POST",
        target_uri: URL,
        fields: &fields,
    };

    // realm signs, Python verifies.
    let created = now();
    let signed = httpsig::sign(
        &msg,
        &pair,
        &Signing {
            label: "realm",
            keyid: &keyid,
            created,
            expires: created + 60,
            nonce: "5d1f0c2e9a7b4c38",
        },
    )
    .expect("sign");
    let job = |headers: &[(&str, &str)], body: &[u8]| {
        serde_json::json!({
            "method": "POST",
            "url": URL,
            "headers": headers,
            "body": b64.encode(body),
            "public": b64.encode(&public),
            "keyid": keyid,
        })
    };
    let mut headers = fields.to_vec();
    headers.push(("signature-input", &signed.input));
    headers.push(("signature", &signed.signature));
    let answer = python(&script, "verify", &job(&headers, body));
    assert_eq!(answer["verified"], serde_json::json!([keyid]), "{answer}");
    // A tampered body, a tampered header: Python refuses too.
    let answer = python(&script, "verify", &job(&headers, b"{\"amount\":1200}"));
    assert!(answer["refused"].is_string(), "{answer}");
    let mut tampered = headers.clone();
    tampered[2] = ("x-realm-via", "hub");
    let answer = python(&script, "verify", &job(&tampered, body));
    assert!(answer["refused"].is_string(), "{answer}");

    // Python signs with the PEM key file `realm keys new` wrote, realm
    // verifies.
    let mut job = job(&fields[..1], body);
    job["headers"] = serde_json::json!([
        ["content-type", "application/json"],
        ["x-realm-via", "shop"],
        ["x-realm-caller", "shop"]
    ]);
    job["key_file"] = serde_json::json!(key_file);
    job["created"] = serde_json::json!(created);
    job["nonce"] = serde_json::json!("0b9e2f41c7d3a856");
    let answer = python(&script, "sign", &job);
    let headers: Vec<(String, String)> =
        serde_json::from_value(answer["headers"].clone()).expect("headers");
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("python set no {name}: {headers:?}"))
    };
    let (input, signature) = (get("signature-input"), get("signature"));
    assert_eq!(get("content-digest"), digest, "RFC 9530 sha-256, both");
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let msg = Message {
        method: "POST",
        target_uri: URL,
        fields: &borrowed,
    };
    let keys = |id: &str| {
        if id == keyid {
            KeyStatus::Active(&public)
        } else {
            KeyStatus::Unknown
        }
    };
    let policy = Policy {
        now: now(),
        skew: 5,
        max_age: 300,
        max_lifetime: 300,
    };
    let verified =
        httpsig::verify(&msg, body, &input, &signature, keys, &policy).expect("realm verifies");
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].keyid, keyid);
    assert_eq!(verified[0].nonce, "0b9e2f41c7d3a856");
    // Python writes the parameters in its own order; the order is signed.
    assert!(input.contains(";created="), "{input}");
    assert!(
        httpsig::verify(&msg, b"{}", &input, &signature, keys, &policy).is_err(),
        "a tampered body"
    );
}

/// Accepts one HTTP/1.1 request on `listener`, answers `{"text":"hi"}`,
/// and returns its head lines and body.
fn capture_one(listener: std::net::TcpListener) -> (Vec<String>, Vec<u8>) {
    use std::io::{BufRead as _, BufReader, Read as _};
    let (stream, _) = listener.accept().expect("accept");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("head line");
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length: usize = head
        .iter()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .expect("content-length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    let reply = r#"{"text":"hi"}"#;
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    )
    .expect("reply");
    (head, body)
}

#[test]
fn a_call_a_real_ingress_signs_verifies_in_python_and_python_signed_calls_pass_a_real_ingress() {
    if !python_ready() {
        return;
    }
    use crate::common::echo::{Echo, MSG, echo_runner, ledger_realm};
    use crate::common::serve::{Serve, http};
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;

    let keys = tempfile::tempdir().expect("tempdir");
    let script = keys.path().join("hms.py");
    std::fs::write(&script, SCRIPT).expect("write script");
    let bank = ledger_realm("bank");
    let shop = crate::common::GitRealm::empty("main");
    shop.write(
        "ftl-project.toml",
        "name = \"shop\"\nmodule-dirs = [\"modules\"]\n",
    );
    shop.write(
        "modules/shop.ftl",
        "module shop {\n  verb ping(Unit) Unit\n}\n",
    );
    let key_file = keys.path().join("shop.key");
    let run = crate::common::run_realm(
        shop.path(),
        &[
            "keys",
            "new",
            "--key-file",
            key_file.to_str().expect("utf-8"),
        ],
    )
    .expect(0);
    let keyid = run.stdout.trim().to_string();
    let cache = tempfile::tempdir().expect("cache");
    crate::common::run_realm_with(
        shop.path(),
        &["add", "--git-repo", &bank.url()],
        &[("REALM_CACHE_DIR", cache.path())],
    )
    .expect(0);
    shop.commit("shop");
    let settings = shop.read("realm.toml");
    let entry = settings
        .split('"')
        .find(|s| s.starts_with("ed25519:"))
        .expect("an entry in realm.toml");
    let public = realm::project::parse_key_entry(entry)
        .expect("entry")
        .public;

    // shop's real ingress signs a call to "bank", which is a socket here
    // that keeps the request as it came.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bank_addr = listener.local_addr().expect("addr");
    let captured = std::thread::spawn(move || capture_one(listener));
    let shop_ingress = Serve::start_with(
        shop.path(),
        cache.path(),
        &["--realm-endpoint", &format!("bank=http://{bank_addr}")],
        &[("REALM_SIGNING_KEY_FILE", key_file.to_str().expect("utf-8"))],
        None,
    );
    let answer = http(
        "POST",
        shop_ingress.addr,
        "/realms/bank/ledger/echo",
        MSG,
        &[],
    )
    .expect("call");
    assert_eq!(answer.0, 200, "{}\n{}", answer.2, shop_ingress.log());
    let (head, body) = captured.join().expect("captured");
    let headers: Vec<(String, String)> = head[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let job = |body: &[u8]| {
        serde_json::json!({
            "method": "POST",
            "url": format!("http://{bank_addr}/realms/bank/ledger/echo"),
            "headers": headers,
            "body": b64.encode(body),
            "public": b64.encode(&public),
            "keyid": keyid,
        })
    };
    let answer = python(&script, "verify", &job(&body));
    assert_eq!(
        answer["verified"],
        serde_json::json!([keyid]),
        "{answer}\n{head:?}"
    );
    let answer = python(&script, "verify", &job(br#"{"text":"bye"}"#));
    assert!(answer["refused"].is_string(), "{answer}");

    // Python signs a call to bank's real ingress, which pins shop as a
    // caller: it passes, once.
    bank.write(
        "realm.toml",
        &format!(
            "[caller-realms.shop]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{}\"\n",
            shop.url(),
            shop.head()
        ),
    );
    let echo = std::sync::Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let bank_ingress = Serve::start_with(
        bank.path(),
        cache.path(),
        &["--runner", &format!("ledger={}", runner.url())],
        &[],
        None,
    );
    let url = format!("{}/realms/bank/ledger/echo", bank_ingress.url());
    let mut job = job(MSG.as_bytes());
    job["url"] = serde_json::json!(url);
    job["headers"] = serde_json::json!([
        ["content-type", "application/json"],
        ["x-realm-via", "shop"],
        ["x-realm-caller", "shop"]
    ]);
    job["key_file"] = serde_json::json!(key_file);
    job["created"] = serde_json::json!(now());
    job["nonce"] = serde_json::json!("2c6b0e8f1a9d4b57");
    let signed = python(&script, "sign", &job);
    let headers: Vec<(String, String)> =
        serde_json::from_value(signed["headers"].clone()).expect("headers");
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let answer = http(
        "POST",
        bank_ingress.addr,
        "/realms/bank/ledger/echo",
        MSG,
        &pairs,
    )
    .expect("call");
    assert_eq!(answer.0, 200, "{}\n{}", answer.2, bank_ingress.log());
    assert_eq!(
        echo.last()
            .headers
            .get("x-realm-caller")
            .map(String::as_str),
        Some("shop")
    );
    let again = http(
        "POST",
        bank_ingress.addr,
        "/realms/bank/ledger/echo",
        MSG,
        &pairs,
    )
    .expect("call");
    assert_eq!(again.0, 401, "{}", again.2);
}
