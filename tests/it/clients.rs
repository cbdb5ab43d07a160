//! `realm generate`: typed clients of pinned realms.
//!
//! - Snapshots of the generated code for the example realms (`bank`,
//!   `shop`) and for `kitchen` (`tests/clients/kitchen`), a realm that uses
//!   every form a type can take, in Go, TypeScript and Rust.
//! - `--check`: drift, missing and stale files, and the refusals.
//! - The generated clients compiled and run: a program per language
//!   (`tests/clients/<language>/`) calls `bank` and `kitchen` through the
//!   caller's ingress, which forwards to each realm's ingress and runner,
//!   all real processes and servers on loopback; and the Go and TypeScript
//!   programs again against `realm fake`s of both realms (no runner, no
//!   realm ingress): every generated reply decodes, and the errors come
//!   from the fakes' examples. Go comes from Debian's
//!   `golang-go`, TypeScript from npm (`.ci/run` installs both); the Rust
//!   client is a crate built offline in a temporary directory with this
//!   repository's Cargo.lock. On a developer machine a missing toolchain
//!   skips its test with a message; under `CI=true` it fails it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::backends::{Background, runners};
use crate::common::serve::Serve;
use crate::common::{GitRealm, TestProject, copy_dir, repo_root, snapshots};
use serde_json::{Value, json};

// ---- realms and runners -----------------------------------------------------

/// The `kitchen` realm (`tests/clients/kitchen`) in a git repository.
fn kitchen_realm() -> GitRealm {
    let realm = GitRealm::empty("main");
    copy_dir(&repo_root().join("tests/clients/kitchen"), realm.path());
    realm.export();
    realm.commit("kitchen realm");
    realm
}

/// A call the kitchen's runner served.
#[derive(Clone, Debug)]
struct Call {
    verb: String,
    body: Value,
    request_id: String,
    traceparent: String,
}

/// The kitchen's runner: answers what it is sent, except `levelNames`
/// (levels by name, number and number as a string, as protobuf's JSON
/// parsers accept them), `ping` (an empty body) and `fail` (an error).
fn kitchen_runner(calls: Arc<Mutex<Vec<Call>>>) -> Background {
    use axum::extract::{Path as AxPath, State};
    use axum::response::IntoResponse;
    async fn handle(
        State(calls): State<Arc<Mutex<Vec<Call>>>>,
        AxPath((_module, verb)): AxPath<(String, String)>,
        headers: http::HeaderMap,
        body: bytes::Bytes,
    ) -> axum::response::Response {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Ok(mut calls) = calls.lock() {
            calls.push(Call {
                verb: verb.clone(),
                body: value.clone(),
                request_id: header("x-request-id"),
                traceparent: header("traceparent"),
            });
        }
        let json = [(http::header::CONTENT_TYPE, "application/json")];
        match verb.as_str() {
            "levelNames" => (json, r#"["LEVEL_LOW", 2, "LEVEL_HIGH", "1"]"#).into_response(),
            "ping" => http::StatusCode::OK.into_response(),
            "fail" => (
                http::StatusCode::CONFLICT,
                json,
                json!({"error": {"code": "out_of_stock", "message": format!("no more {}", value["sku"].as_str().unwrap_or(""))}})
                    .to_string(),
            )
                .into_response(),
            _ => (json, body).into_response(),
        }
    }
    Background::start(None, move |listener, stop| async move {
        let app = axum::Router::new()
            .route("/{module}/{verb}", axum::routing::post(handle))
            .with_state(calls);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
            .expect("kitchen runner serves");
    })
}

/// The shop pins `bank` and `kitchen` and calls them through its ingress,
/// which forwards to theirs.
struct World {
    shop: TestProject,
    _bank: GitRealm,
    _kitchen: GitRealm,
    kitchen_calls: Arc<Mutex<Vec<Call>>>,
    shop_ingress: Serve,
    _bank_ingress: Serve,
    _kitchen_ingress: Serve,
    _bank_runner: Background,
    _kitchen_runner: Background,
}

impl World {
    fn new() -> World {
        let shop = TestProject::example("shop");
        let bank = GitRealm::example("bank");
        let kitchen = kitchen_realm();
        shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
        shop.realm(&["add", "--git-repo", &kitchen.url()]).expect(0);
        let bank_runner = Background::bank_runner(Arc::new(runners::Seen::default()));
        let kitchen_calls = Arc::new(Mutex::new(Vec::new()));
        let kitchen_runner = kitchen_runner(kitchen_calls.clone());
        let bank_ingress = Serve::start(
            bank.path(),
            shop.cache_dir(),
            &["--runner", &format!("balance={}", bank_runner.url())],
        );
        let kitchen_ingress = Serve::start(
            kitchen.path(),
            shop.cache_dir(),
            &["--runner", &format!("kitchen={}", kitchen_runner.url())],
        );
        let shop_ingress = Serve::start(
            shop.path(),
            shop.cache_dir(),
            &[
                "--realm-endpoint",
                &format!("bank={}", bank_ingress.url()),
                "--realm-endpoint",
                &format!("kitchen={}", kitchen_ingress.url()),
            ],
        );
        World {
            shop,
            _bank: bank,
            _kitchen: kitchen,
            kitchen_calls,
            shop_ingress,
            _bank_ingress: bank_ingress,
            _kitchen_ingress: kitchen_ingress,
            _bank_runner: bank_runner,
            _kitchen_runner: kitchen_runner,
        }
    }

    /// Generates `language` clients into `out` (its `realms/`).
    fn generate(&self, language: &str, out: &Path, extra: &[&str]) {
        let out = out.display().to_string();
        self.shop
            .realm(&[&["generate", language, "--output", &out], extra].concat())
            .expect(0);
    }

    fn kitchen_calls(&self) -> Vec<Call> {
        self.kitchen_calls
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Checks what the program printed and what reached the runner: the
    /// echo call's body in FTL's JSON encoding, and its request id and
    /// trace passed through both ingresses.
    fn check_run(&self, language: &str, stdout: &str) {
        let expected: Vec<String> = EXPECTED_LINES.iter().map(|l| l.to_string()).collect();
        let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
        assert_eq!(lines, expected, "the {language} program's output");
        let calls = self.kitchen_calls();
        let echo = calls
            .iter()
            .find(|c| c.verb == "echo")
            .expect("the echo call reached the runner");
        assert_eq!(normalize(echo.body.clone()), normalize(everything()));
        assert_eq!(echo.request_id, format!("{language}-echo"));
        // The trace goes on; each ingress hop is a span of its own.
        assert_eq!(
            echo.traceparent.split('-').nth(1),
            Some("0af7651916cd43dd8448eb211c80319c"),
            "{}",
            echo.traceparent
        );
        // Each shape was its own call, encoded as FTL encodes type enums.
        let shapes: Vec<Value> = calls
            .iter()
            .filter(|c| c.verb == "echoShape")
            .map(|c| normalize(c.body.clone()))
            .collect();
        let mut expected_shapes = vec![everything()["shape"].clone()];
        expected_shapes.extend(
            everything()["shapes"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        let expected_shapes: Vec<Value> = expected_shapes.into_iter().map(normalize).collect();
        assert_eq!(shapes, expected_shapes);
    }
}

/// What every program prints.
const EXPECTED_LINES: &[&str] = &[
    "ok echo",
    "ok echoPage",
    "ok echoShape 0",
    "ok echoShape 1",
    "ok echoShape 2",
    "ok echoShape 3",
    "ok echoShape 4",
    "ok echoShape 5",
    "ok echoShape 6",
    "ok echoShape 7",
    "ok echoShape 8",
    "ok echoLevels",
    "ok echoTime",
    "ok levelNames",
    "ok ping",
    "ok delete",
    "ok withdraw",
    "ok account",
    "ok error from the runner",
    "ok error from the bank",
    "ok error from the ingress",
];

/// The `Everything` every program sends to `kitchen.echo`, as JSON.
fn everything() -> Value {
    let at = "2024-05-01T12:30:45Z";
    json!({
        "int": 42,
        "float": 1.5,
        "string": "snowman ☃ \"quoted\"\n",
        "bytes": "AAEC/f7/",
        "bool": true,
        "time": at,
        "any": {"nested": [1.5, "x", true, null]},
        "unit": {},
        "list": ["a", "b"],
        "nested": [[1, 2], [], [3]],
        "map": {"a": 1, "b": 2},
        "intMap": {"1": "one", "-2": "minus two"},
        "enumMap": {"red": 1, "green": 2},
        "optional": "here",
        "missing": null,
        "optionals": ["x", null, "z"],
        "item": {"sku": "s1", "quantity": 2},
        "items": [{"sku": "s2", "quantity": 3}],
        "page": {"items": [{"sku": "s3", "quantity": 4}], "next": "p2"},
        "pair": {"key": "k", "value": 7},
        "color": "green",
        "level": 2,
        "shape": {"name": "Circle", "value": 2.5},
        "shapes": [
            {"name": "Label", "value": "l"},
            {"name": "Square", "value": {"side": 1.5}},
            {"name": "Big", "value": {"sku": "b", "quantity": 1}},
            {"name": "Corners", "value": [1, 2, 3, 4]},
            {"name": "When", "value": at},
            {"name": "Maybe", "value": null},
            {"name": "Maybe", "value": "m"},
            {"name": "Tone", "value": "red"}
        ],
        "sku": "s9",
        "tags": {"t": ["x", "y"]},
        "display-name": "Label",
        "type": "t",
        "node": {
            "name": "root",
            "children": [{"name": "leaf", "children": [], "next": null}],
            "next": {"name": "next", "children": [], "next": null}
        },
        "stamp": {"at": at, "by": "me"},
        "empty": {}
    })
}

/// JSON as the ingress reads it: a member that is `null` is the same as
/// one left out, and `.000Z` (JavaScript's `toISOString`) is `Z`.
fn normalize(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, normalize(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::String(s) => Value::String(s.replace(".000Z", "Z")),
        other => other,
    }
}

// ---- toolchains ----------------------------------------------------------------

/// `program` on the PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A toolchain the test needs, or `None` after saying the test is skipped.
/// Under `CI=true` a missing toolchain fails the test.
fn toolchain(found: Option<PathBuf>, what: &str, install: &str) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is missing, and CI=true: {install} (.ci/run does)"
    );
    eprintln!("skipped: {what} is not installed ({install})");
    None
}

/// Runs a command in `dir`, failing with its output when it fails.
fn run(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

// ---- Go ------------------------------------------------------------------------

#[test]
fn go_clients_call_realms_through_a_real_ingress() {
    let Some(go) = toolchain(on_path("go"), "Go", "apt-get install golang-go") else {
        return;
    };
    let Some(gofmt) = toolchain(
        on_path("gofmt").or_else(|| Some(go.with_file_name("gofmt")).filter(|p| p.is_file())),
        "gofmt",
        "apt-get install golang-go",
    ) else {
        return;
    };
    let world = World::new();
    let dir = build_go_client(&world.shop, &go, &gofmt);
    let endpoint = world.shop_ingress.url();
    let stdout = run(
        dir.path(),
        &dir.path().join("client"),
        &[],
        &[("REALM_ENDPOINT", endpoint.as_str())],
    );
    world.check_run("go", &stdout);
}

/// `tests/clients/go/main.go` built with the Go clients `shop` generates
/// (gofmt and vet clean), as `client` in the directory returned.
fn build_go_client(shop: &TestProject, go: &Path, gofmt: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("go.mod"),
        "module example.com/shop\n\ngo 1.19\n",
    )
    .expect("write go.mod");
    std::fs::copy(
        repo_root().join("tests/clients/go/main.go"),
        dir.path().join("main.go"),
    )
    .expect("copy main.go");
    // The import path comes from go.mod.
    let out = dir.path().display().to_string();
    shop.realm(&["generate", "go", "--output", &out]).expect(0);

    let cache = repo_root().join("target/client-tests/go");
    let cache = cache.display().to_string();
    let env = [
        ("GOFLAGS", "-mod=mod"),
        ("GOPROXY", "off"),
        ("GOTOOLCHAIN", "local"),
        ("GOCACHE", cache.as_str()),
    ];
    // gofmt has nothing to change; vet finds nothing.
    let unformatted = run(dir.path(), gofmt, &["-l", "realms"], &env);
    assert_eq!(unformatted, "", "gofmt would change these files");
    run(dir.path(), go, &["vet", "./..."], &env);
    run(dir.path(), go, &["build", "-o", "client", "."], &env);
    dir
}

/// The shop's ingress in front of `realm fake bank` and `realm fake
/// kitchen`: no runner and no ingress of either realm runs. The errors the
/// client programs expect of a runner and of the bank come from the fakes'
/// examples; every other reply is generated.
struct Faked {
    shop: TestProject,
    _bank: GitRealm,
    _kitchen: GitRealm,
    _fakes: [Serve; 2],
    shop_ingress: Serve,
}

impl Faked {
    fn new() -> Faked {
        let shop = TestProject::example("shop");
        let bank = GitRealm::example("bank");
        let kitchen = kitchen_realm();
        shop.realm(&["add", "--git-repo", &bank.url()]).expect(0);
        shop.realm(&["add", "--git-repo", &kitchen.url()]).expect(0);
        shop.write(
            "fakes/kitchen/kitchen.fail.json",
            r#"[{"name": "out of stock", "match": {},
  "error": {"status": 409, "code": "out_of_stock", "message": "no more s1"}}]"#,
        );
        shop.write(
            "fakes/bank/balance.withdraw.json",
            r#"[{"name": "overdrawn", "match": {"account": "a2"},
  "error": {"status": 409, "code": "insufficient_funds", "message": "account a2 holds 250, 1000 was asked"}}]"#,
        );
        let bank_fake = Serve::fake(shop.path(), shop.cache_dir(), &["bank"]);
        let kitchen_fake = Serve::fake(shop.path(), shop.cache_dir(), &["kitchen"]);
        let shop_ingress = Serve::start(
            shop.path(),
            shop.cache_dir(),
            &[
                "--realm-endpoint",
                &format!("bank={}", bank_fake.url()),
                "--realm-endpoint",
                &format!("kitchen={}", kitchen_fake.url()),
            ],
        );
        Faked {
            shop,
            _bank: bank,
            _kitchen: kitchen,
            _fakes: [bank_fake, kitchen_fake],
            shop_ingress,
        }
    }

    /// The program decoded every generated reply and saw each error.
    fn check_run(&self, language: &str, stdout: &str) {
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines, EXPECTED_LINES,
            "the {language} program's output against fakes"
        );
    }
}

#[test]
fn go_clients_decode_what_fakes_answer() {
    let Some(go) = toolchain(on_path("go"), "Go", "apt-get install golang-go") else {
        return;
    };
    let Some(gofmt) = toolchain(
        on_path("gofmt").or_else(|| Some(go.with_file_name("gofmt")).filter(|p| p.is_file())),
        "gofmt",
        "apt-get install golang-go",
    ) else {
        return;
    };
    let faked = Faked::new();
    let dir = build_go_client(&faked.shop, &go, &gofmt);
    let endpoint = faked.shop_ingress.url();
    let stdout = run(
        dir.path(),
        &dir.path().join("client"),
        &[],
        &[("REALM_ENDPOINT", endpoint.as_str()), ("REALM_FAKE", "1")],
    );
    faked.check_run("go", &stdout);
}

// ---- TypeScript ----------------------------------------------------------------

/// `tsc`: `$REALM_TSC`, the one `.ci/run` installs (`target/tools`), or
/// one on the PATH.
fn find_tsc() -> Option<PathBuf> {
    if let Some(tsc) = std::env::var_os("REALM_TSC") {
        return Some(PathBuf::from(tsc));
    }
    let local = repo_root().join("target/tools/node_modules/.bin/tsc");
    if local.is_file() {
        return Some(local);
    }
    on_path("tsc")
}

/// The strictest settings: what a careful project would compile with.
/// `lib` is ES2022 alone: the generated code needs no DOM or Node types.
const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2022"],
    "types": [],
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "noImplicitReturns": true,
    "noImplicitOverride": true,
    "noFallthroughCasesInSwitch": true,
    "exactOptionalPropertyTypes": true,
    "noUncheckedIndexedAccess": true,
    "noPropertyAccessFromIndexSignature": true,
    "rootDir": ".",
    "outDir": "out"
  },
  "include": ["main.ts", "realms/**/*.ts"]
}
"#;

#[test]
fn typescript_clients_call_realms_through_a_real_ingress() {
    let install = "npm install --prefix target/tools typescript, and Node 18 or later";
    let Some(tsc) = toolchain(find_tsc(), "TypeScript (tsc)", install) else {
        return;
    };
    let Some(node) = toolchain(on_path("node"), "Node", install) else {
        return;
    };
    let world = World::new();
    let dir = build_typescript_client(&world.shop, &tsc);
    let endpoint = world.shop_ingress.url();
    let stdout = run(
        dir.path(),
        &node,
        &["out/main.js"],
        &[("REALM_ENDPOINT", endpoint.as_str())],
    );
    world.check_run("typescript", &stdout);
}

/// `tests/clients/typescript/main.ts` compiled with the TypeScript clients
/// `shop` generates, as `out/main.js` in the directory returned.
fn build_typescript_client(shop: &TestProject, tsc: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("tsconfig.json"), TSCONFIG).expect("write tsconfig.json");
    std::fs::write(dir.path().join("package.json"), "{\"type\": \"module\"}\n")
        .expect("write package.json");
    std::fs::copy(
        repo_root().join("tests/clients/typescript/main.ts"),
        dir.path().join("main.ts"),
    )
    .expect("copy main.ts");
    let out = dir.path().display().to_string();
    shop.realm(&["generate", "typescript", "--output", &out])
        .expect(0);
    run(dir.path(), tsc, &["-p", "."], &[]);
    dir
}

#[test]
fn typescript_clients_decode_what_fakes_answer() {
    let install = "npm install --prefix target/tools typescript, and Node 18 or later";
    let Some(tsc) = toolchain(find_tsc(), "TypeScript (tsc)", install) else {
        return;
    };
    let Some(node) = toolchain(on_path("node"), "Node", install) else {
        return;
    };
    let faked = Faked::new();
    let dir = build_typescript_client(&faked.shop, &tsc);
    let endpoint = faked.shop_ingress.url();
    let stdout = run(
        dir.path(),
        &node,
        &["out/main.js"],
        &[("REALM_ENDPOINT", endpoint.as_str()), ("REALM_FAKE", "1")],
    );
    faked.check_run("typescript", &stdout);
}

// ---- Rust ----------------------------------------------------------------------

/// The client crate: what a user of the generated module depends on. The
/// versions resolve to those of this repository's Cargo.lock (copied in),
/// so the build needs no network.
const CARGO_TOML: &str = r#"[package]
name = "realm-clients-test"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
base64 = "0.22"
bytes = "1"
http-body-util = "0.1"
hyper = { version = "1", features = ["client", "http1"] }
hyper-util = { version = "0.1", features = ["client-legacy", "http1", "tokio"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
time = { version = "0.3", features = ["formatting", "parsing"] }
tokio = { version = "1", features = ["rt", "macros"] }

[workspace]
"#;

#[test]
fn rust_clients_call_realms_through_a_real_ingress() {
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let world = World::new();
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("Cargo.toml"), CARGO_TOML).expect("write Cargo.toml");
    std::fs::copy(
        repo_root().join("Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    std::fs::create_dir(dir.path().join("src")).expect("create src/");
    std::fs::copy(
        repo_root().join("tests/clients/rust/main.rs"),
        dir.path().join("src/main.rs"),
    )
    .expect("copy main.rs");
    world.generate("rust", &dir.path().join("src"), &[]);

    // One target directory for every run, so that only the first builds
    // the dependencies; warnings are errors.
    let target = repo_root().join("target/client-tests/rust");
    let target = target.display().to_string();
    let env = [
        ("CARGO_TARGET_DIR", target.as_str()),
        ("RUSTFLAGS", "-D warnings"),
    ];
    // rustfmt leaves the runtime as it is and skips the realms' files.
    run(dir.path(), &cargo, &["fmt", "--check"], &env);
    run(dir.path(), &cargo, &["build", "--offline", "--quiet"], &env);
    let endpoint = world.shop_ingress.url();
    let stdout = run(
        dir.path(),
        &PathBuf::from(&target).join("debug/realm-clients-test"),
        &[],
        &[("REALM_ENDPOINT", endpoint.as_str())],
    );
    world.check_run("rust", &stdout);
}

// ---- snapshots -----------------------------------------------------------------

/// Every file `realm generate <language>` wrote below `out/realms`, each
/// under a `==> path <==` line; the runtime (a fixed file of the
/// repository, compiled by the tests above) is shown by name only.
fn generated(out: &Path) -> String {
    let runtimes = [
        realm::generate::go::RUNTIME,
        realm::generate::typescript::RUNTIME,
        realm::generate::rust::RUNTIME,
    ];
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(out.join("realms"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    paths.sort();
    let mut text = String::new();
    for path in paths {
        let rel = realm::files::relative(&path, out);
        let contents = std::fs::read_to_string(&path).expect("read a generated file");
        text.push_str(&format!("==> {rel} <==\n"));
        match runtimes.iter().find(|r| contents.starts_with(*r)) {
            Some(runtime) => {
                text.push_str("(the runtime)\n");
                text.push_str(&contents[runtime.len()..]);
            }
            None => text.push_str(&contents),
        }
    }
    redact_commits(&text)
}

/// `@<40 hex digits>` and `commit <40 hex digits>` with the commit
/// replaced by `<commit>`, so that the snapshots hold when the example
/// realms change.
fn redact_commits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let len = from
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(from.len());
        let boundary = !before.ends_with(|c: char| c.is_ascii_alphanumeric());
        if len == 40 && boundary {
            out.push_str("<commit>");
        } else {
            out.push_str(&from[..len]);
        }
        rest = &from[len..];
    }
    out.push_str(rest);
    out
}

/// A project `web` that pins the given realms.
fn pinning(realms: &[&GitRealm]) -> TestProject {
    let web = TestProject::new("web");
    for realm in realms {
        web.realm(&["add", "--git-repo", &realm.url()]).expect(0);
    }
    web
}

fn snapshot_all_languages(project: &TestProject, name: &str) {
    for language in ["go", "typescript", "rust"] {
        let out = tempfile::tempdir().expect("temporary directory");
        let dir = out.path().display().to_string();
        project
            .realm(&[
                "generate",
                language,
                "--output",
                &dir,
                "--go-import-path",
                "example.com/web",
            ])
            .expect(0);
        let text = generated(out.path());
        snapshots(|| insta::assert_snapshot!(format!("clients_{name}_{language}"), text));
    }
}

#[test]
fn generated_code_for_the_example_realms() {
    let bank = GitRealm::example("bank");
    let shop = GitRealm::example("shop");
    snapshot_all_languages(&pinning(&[&bank, &shop]), "examples");
}

#[test]
fn generated_code_for_every_type_form() {
    let kitchen = kitchen_realm();
    snapshot_all_languages(&pinning(&[&kitchen]), "kitchen");
}

// ---- check and refusals ------------------------------------------------------------

/// Short commit ids (`bank@4ec5fc5`) as `<commit>`.
fn redact_short_commits(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let len = rest
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len());
        if len == 7 {
            out.push_str("<commit>");
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn check_finds_drift_and_generate_repairs_it() {
    let bank = GitRealm::example("bank");
    let kitchen = kitchen_realm();
    let web = pinning(&[&bank, &kitchen]);
    let run = web.realm(&["generate", "typescript"]).expect(0);
    assert_eq!(
        redact_short_commits(&run.stderr),
        "Generated TypeScript clients of bank@<commit>, kitchen@<commit> in realms: 5 files written, 0 unchanged\n"
    );
    let run = web.realm(&["generate", "ts", "--check"]).expect(0);
    assert_eq!(
        redact_short_commits(&run.stderr),
        "The TypeScript clients in realms are up to date (bank@<commit>, kitchen@<commit>)\n"
    );

    // A hand edit, a generated file of a module that is gone, a file
    // deleted: all drift.
    let edited = web
        .read("realms/bank/balance.ts")
        .replace("  balance: number;", "  balance: string;");
    web.write("realms/bank/balance.ts", &edited);
    web.write(
        "realms/kitchen/gone.ts",
        "// Code generated by realm from kitchen@0000000000000000000000000000000000000000. DO NOT EDIT.\n",
    );
    std::fs::remove_file(web.path().join("realms/kitchen/other.ts")).expect("remove other.ts");
    let before = web.read("realms/bank/balance.ts");
    let run = web.realm(&["generate", "typescript", "--check"]).expect(3);
    assert_eq!(web.read("realms/bank/balance.ts"), before, "--check wrote");
    snapshots(|| {
        insta::assert_snapshot!(
            "clients_check_drift",
            format!("--- stdout\n{}--- stderr\n{}", run.stdout, run.stderr)
        )
    });

    let run = web.realm(&["generate", "typescript"]).expect(0);
    assert_eq!(
        redact_short_commits(&run.stderr),
        "Generated TypeScript clients of bank@<commit>, kitchen@<commit> in realms: 2 files written, 3 unchanged, 1 stale file removed\n"
    );
    assert!(!web.exists("realms/kitchen/gone.ts"));
    web.realm(&["generate", "typescript", "--check"]).expect(0);

    // A file realm did not write is never replaced.
    web.write("realms/index.ts", "export const mine = 1;\n");
    let run = web.realm(&["generate", "typescript"]).expect(1);
    assert!(
        run.stderr
            .contains("realms/index.ts exists and was not written by `realm generate`"),
        "{}",
        run.stderr
    );
    assert_eq!(web.read("realms/index.ts"), "export const mine = 1;\n");
}

#[test]
fn generate_says_what_is_missing() {
    let lonely = TestProject::new("lonely");
    let run = lonely.realm(&["generate", "rust"]).expect(1);
    assert_eq!(
        run.stderr,
        "error: this project pins no realms, so there are no clients to generate\n\
         help: pin a realm with `realm add --git-repo URL`\n"
    );

    let bank = GitRealm::example("bank");
    let web = pinning(&[&bank]);
    let run = web
        .realm(&["generate", "rust", "--realm", "nope"])
        .expect(1);
    assert_eq!(
        run.stderr,
        "error: realm `nope` is not pinned in this project\nhelp: the pinned realms are: bank\n"
    );

    // Go needs the import path of the output directory.
    let run = web.realm(&["generate", "go"]).expect(1);
    assert!(
        run.stderr.contains("there is no go.mod in"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("help: generate into a Go module (--output DIR), or pass --go-import-path"),
        "{}",
        run.stderr
    );
    let run = web
        .realm(&["generate", "go", "--go-import-path", "not a path"])
        .expect(1);
    assert!(
        run.stderr.contains("`not a path` is not a Go import path"),
        "{}",
        run.stderr
    );
    assert!(!web.exists("realms"), "a failing command wrote files");

    // The nearest go.mod gives it: its module path and the way down.
    web.write("go.mod", "module example.com/web\n\ngo 1.19\n");
    web.realm(&["generate", "go", "--output", "internal/clients"])
        .expect(0);
    let code = web.read("internal/clients/realms/bank/balance/balance.go");
    assert!(
        code.contains("\t\"example.com/web/internal/clients/realms\"\n"),
        "{code}"
    );
}

#[test]
fn generating_one_realm_keeps_the_others_in_the_rust_module() {
    let bank = GitRealm::example("bank");
    let kitchen = kitchen_realm();
    let web = pinning(&[&bank, &kitchen]);
    let declared = |web: &TestProject| -> Vec<String> {
        web.read("realms/mod.rs")
            .lines()
            .filter(|l| l.starts_with("pub mod "))
            .map(str::to_string)
            .collect()
    };

    // One realm at a time: each run declares what has a file.
    web.realm(&["generate", "rust", "--realm", "kitchen"])
        .expect(0);
    assert_eq!(declared(&web), vec!["pub mod kitchen;"]);
    web.realm(&["generate", "rust", "--realm", "bank"])
        .expect(0);
    assert_eq!(declared(&web), vec!["pub mod bank;", "pub mod kitchen;"]);

    // Up to date, whichever realms are named.
    web.realm(&["generate", "rust", "--check"]).expect(0);
    for realm in ["bank", "kitchen"] {
        let run = web
            .realm(&["generate", "rust", "--realm", realm, "--check"])
            .expect(0);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    let run = web
        .realm(&["generate", "rust", "--realm", "kitchen"])
        .expect(0);
    assert!(run.stderr.contains("0 files written"), "{}", run.stderr);
    assert_eq!(declared(&web), vec!["pub mod bank;", "pub mod kitchen;"]);
}

// ---- a hostile realm -----------------------------------------------------------

/// What a comment of the hostile realm says after a line break of each
/// kind: code in each language, which must stay in the comment.
const LINE_BREAKS: &[&str] = &[
    "\n", "\r", "\r\n", "\u{2028}", "\u{2029}", "\u{85}", "\u{0b}",
];

/// The hostile realm (`tests/clients/hostile`) as a pinned realm's public
/// API, with what only proto-text or JSON could give it added to every
/// comment: line breaks of every kind followed by code, control and
/// bidirectional characters, a byte order mark. The validator refuses
/// that; generated code must hold anyway.
fn hostile_realm() -> realm::schema::Realm {
    use realm::schema::{Decl, Schema};
    let text = std::fs::read_to_string(repo_root().join("tests/clients/hostile/hostile.ftl"))
        .expect("read hostile.ftl");
    let mut schema = realm::schema::parse_schema("hostile.ftl", &text).expect("hostile.ftl parses");
    realm::schema::qualify::qualify_realm(&mut schema.realms[0]);
    let errors = realm::schema::validate(&schema);
    assert!(errors.is_empty(), "{errors:?}");
    let mut api = realm::schema::public_api(&schema.realms[0]);

    let mut payload = Vec::new();
    for br in LINE_BREAKS {
        payload.push(format!(
            "ends{br}func init() {{ panic(\"INJECTED-COMMENT\") }}{br}\
             throw new Error(\"INJECTED-COMMENT\");{br}\
             compile_error!(\"INJECTED-COMMENT\");{br}*/ throw 1; /* INJECTED-COMMENT"
        ));
    }
    payload.push("bell \u{7}, flip \u{202e}, mark \u{200f}, bom \u{feff}, nul \u{0}".to_string());
    let add =
        |comments: &mut realm::schema::ThinVec<String>| comments.extend(payload.iter().cloned());
    add(&mut api.comments);
    for module in &mut api.modules {
        add(&mut module.comments);
        for decl in &mut module.decls {
            match decl {
                Decl::Data(data) => {
                    add(&mut data.comments);
                    data.fields.iter_mut().for_each(|f| add(&mut f.comments));
                }
                Decl::Enum(e) => {
                    add(&mut e.comments);
                    e.variants.iter_mut().for_each(|v| add(&mut v.comments));
                }
                Decl::Verb(verb) => add(&mut verb.comments),
                Decl::TypeAlias(alias) => add(&mut alias.comments),
                _ => {}
            }
        }
    }
    let refused = realm::schema::validate(&Schema {
        realms: vec![api.clone()],
    });
    assert!(
        refused
            .iter()
            .all(|d| d.message.contains("contains a line break")),
        "{:?}",
        refused.first()
    );
    assert!(refused.len() > 40, "{}", refused.len());
    api
}

/// Writes the hostile realm's `language` clients below `dir` and checks
/// that every line naming `INJECTED-COMMENT` is a comment line.
fn generate_hostile(language: realm::generate::Language, dir: &Path, import_path: Option<&str>) {
    let api = hostile_realm();
    let target = realm::generate::Target {
        realm: &api,
        commit: "0123456789abcdef0123456789abcdef01234567",
    };
    let options = realm::generate::Options {
        go_import_path: import_path.map(str::to_string),
        ..realm::generate::Options::default()
    };
    let files = realm::generate::generate(language, &[target], &options).expect("generates");
    for file in &files {
        for line in file.contents.lines() {
            if line.contains("INJECTED-COMMENT") {
                let code = line.trim_start();
                assert!(
                    code.starts_with("//") || code.starts_with('*') || code.starts_with("/**"),
                    "{}: code outside a comment: {line:?}",
                    file.path
                );
            }
        }
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create directories");
        std::fs::write(&path, &file.contents).expect("write a generated file");
    }
}

/// Checks what a hostile program printed: the request's JSON (whatever
/// the language's escapes) and then `ok` lines.
fn check_hostile_run(language: &str, stdout: &str, oks: &[&str]) {
    let mut lines = stdout.lines();
    let json: Value = serde_json::from_str(lines.next().unwrap_or("")).unwrap_or_else(|e| {
        panic!("the {language} program's first line is not JSON ({e}):\n{stdout}")
    });
    let at = "2024-05-01T12:30:45Z";
    let expected = json!({
        "-": "dash",
        "a,b": "comma",
        "x,omitempty": "omit",
        "`};func init(){panic(\"INJECTED-TAG\")};type Z struct{A int `": "tick",
        "q\"uote": "quote",
        "back\\slash": "slash",
        "__proto__": "proto",
        "dunder": "dunder",
        "type": "type",
        "byName": {"__proto__": 1, "constructor": 2},
        "mood": "proto",
        "level": 2,
        "shape": {"name": "__proto__", "value": "shape"},
        "date": {"at": at, "raw": "AAEC"},
        "record": {
            "map": {"__proto__": {"at": at, "raw": ""}},
            "byMood": {"calm \"quoted\" ${x} `tick` \\ \u{202e}": 1}
        },
        "boxed": {"value": 7, "at": at, "raw": "/w=="}
    });
    assert_eq!(
        normalize(json),
        expected,
        "the {language} program's request"
    );
    let rest: Vec<&str> = lines.collect();
    assert_eq!(rest, oks, "the {language} program's output");
}

const HOSTILE_OKS: &[&str] = &[
    "ok decode",
    "ok unknown String enum value refused",
    "ok unknown Int enum value refused",
];

#[test]
fn hostile_realm_go_client_holds() {
    let Some(go) = toolchain(on_path("go"), "Go", "apt-get install golang-go") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("go.mod"),
        "module example.com/hostile\n\ngo 1.19\n",
    )
    .expect("write go.mod");
    std::fs::copy(
        repo_root().join("tests/clients/hostile/main.go"),
        dir.path().join("main.go"),
    )
    .expect("copy main.go");
    generate_hostile(
        realm::generate::Language::Go,
        dir.path(),
        Some("example.com/hostile"),
    );
    let cache = repo_root().join("target/client-tests/go");
    let cache = cache.display().to_string();
    let env = [
        ("GOFLAGS", "-mod=mod"),
        ("GOPROXY", "off"),
        ("GOTOOLCHAIN", "local"),
        ("GOCACHE", cache.as_str()),
    ];
    run(dir.path(), &go, &["vet", "./..."], &env);
    run(dir.path(), &go, &["build", "-o", "hostile", "."], &env);
    let stdout = run(dir.path(), &dir.path().join("hostile"), &[], &[]);
    check_hostile_run("go", &stdout, HOSTILE_OKS);
}

#[test]
fn hostile_realm_typescript_client_holds() {
    let install = "npm install --prefix target/tools typescript, and Node 18 or later";
    let Some(tsc) = toolchain(find_tsc(), "TypeScript (tsc)", install) else {
        return;
    };
    let Some(node) = toolchain(on_path("node"), "Node", install) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("tsconfig.json"), TSCONFIG).expect("write tsconfig.json");
    std::fs::write(dir.path().join("package.json"), "{\"type\": \"module\"}\n")
        .expect("write package.json");
    std::fs::copy(
        repo_root().join("tests/clients/hostile/main.ts"),
        dir.path().join("main.ts"),
    )
    .expect("copy main.ts");
    generate_hostile(realm::generate::Language::TypeScript, dir.path(), None);
    run(dir.path(), &tsc, &["-p", "."], &[]);
    let stdout = run(dir.path(), &node, &["out/main.js"], &[]);
    let mut oks = HOSTILE_OKS.to_vec();
    oks.insert(1, "ok map keys are keys");
    oks.extend(["ok Int is an exact integer", "ok Time is RFC 3339"]);
    check_hostile_run("typescript", &stdout, &oks);
}

#[test]
fn hostile_realm_rust_client_holds() {
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        CARGO_TOML.replace("realm-clients-test", "realm-hostile-test"),
    )
    .expect("write Cargo.toml");
    std::fs::copy(
        repo_root().join("Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    std::fs::create_dir(dir.path().join("src")).expect("create src/");
    std::fs::copy(
        repo_root().join("tests/clients/hostile/main.rs"),
        dir.path().join("src/main.rs"),
    )
    .expect("copy main.rs");
    generate_hostile(
        realm::generate::Language::Rust,
        &dir.path().join("src"),
        None,
    );
    let target = repo_root().join("target/client-tests/rust");
    let target = target.display().to_string();
    let env = [
        ("CARGO_TARGET_DIR", target.as_str()),
        ("RUSTFLAGS", "-D warnings"),
    ];
    run(dir.path(), &cargo, &["build", "--offline", "--quiet"], &env);
    let stdout = run(
        dir.path(),
        &PathBuf::from(&target).join("debug/realm-hostile-test"),
        &[],
        &[],
    );
    check_hostile_run("rust", &stdout, HOSTILE_OKS);
}
