//! `examples/demo.sh`, the README's main job, run as a user runs it, with
//! the binaries `cargo test` built (`REALM_DEMO_PREBUILT`: its own `cargo
//! build` would relink `target/debug/realm` while other tests run it),
//! starts every
//! process on a port the system picks, and makes real calls between the
//! realms. A demo that talked to a process it did not start, or kept going
//! after one of its processes died, would fail here.

#[test]
fn the_demo_runs_start_to_finish_on_its_own_processes() {
    let realm = assert_cmd::cargo::cargo_bin("realm");
    let prebuilt = realm.parent().expect("the binary's directory");
    assert!(
        prebuilt.join("examples/runners").is_file()
            && prebuilt.join("examples/grpc-bank").is_file(),
        "cargo test builds the examples beside {}",
        realm.display()
    );
    let out = std::process::Command::new("bash")
        .arg(crate::common::repo_root().join("examples/demo.sh"))
        .env("REALM_DEMO_PREBUILT", prebuilt)
        .env_remove("REALM_CACHE_DIR")
        .env_remove("REALM_ENDPOINT")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the demo failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.starts_with(&format!(
            "using the realm and examples in {}\n",
            prebuilt.display()
        )),
        "{stdout}"
    );
    for expected in [
        "exit code: 3\n",
        "Every upstream of the three ingresses is a process of this demo.\n",
        "\"balance\": 9500\n",
        "\"order\": \"o-1\",\n",
        "\"owner\": \"Ada\",\n",
        "exit code: 1\n",
        "[bank ingress] INFO call ",
        "[acme ingress] INFO call ",
        "call=checkout.pay@shop status=200",
        // Key pairs: the shop signs, the bank checks, nobody else gets in.
        "realm bank -> http",
        ", signed (ed25519 key ",
        "caller shop: ed25519 keys pinned at ",
        "signed (exit code 1)\nexit code: 1\n",
        // The bank faked: its runner and ingress stopped, the shop's
        // checkout still pays (the order after o-1), answered by the fake.
        "(the bank's runner and ingress stopped)\n",
        "\"order\": \"o-2\",\n",
        "breaking  balance.withdraw: verb removed — used by shop (modules/checkout.ftl:",
        "Done: every call above went through the demo's own ingresses and runners.\n",
    ] {
        assert!(
            stdout.contains(expected),
            "no {expected:?} in\n{stdout}\n--- stderr\n{stderr}"
        );
    }
    // The bank's refusal of the unsigned call is its JSON error, on stderr.
    assert!(
        stderr.contains("\"code\": \"unsigned\""),
        "no unsigned refusal in\n{stderr}"
    );
    // Only the demo's own addresses: no fixed port of the example
    // projects' files was called.
    for fixed in ["8871", "8872", "8891", "8892", "8893", "9101", "9102"] {
        assert!(
            !stdout.contains(&format!("127.0.0.1:{fixed}\n"))
                && !stdout.contains(&format!("127.0.0.1:{fixed} ")),
            "fixed port {fixed} in\n{stdout}"
        );
    }
}
