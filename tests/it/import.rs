//! `realm import` against a real tonic gRPC server on 127.0.0.1 (the
//! `grpc-bank` example: services over several files and packages, imports,
//! well-known types, a nested message, an enum, a oneof, a streaming
//! method), its .proto files and a descriptor set.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use crate::common::backends::{Background, grpc_bank};
use crate::common::{GitRealm, Run, TestProject, run_realm, run_realm_with, snapshots};

/// The grpc-bank backend with one reflection setting.
fn backend(reflection: grpc_bank::Reflection) -> Background {
    Background::grpc_bank(grpc_bank::Options {
        reflection,
        ..grpc_bank::Options::default()
    })
}

fn import(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    run_realm(dir.path(), &[&["import"], args].concat())
}

fn redact(text: &str, endpoint: &str) -> String {
    text.replace(endpoint, "[ENDPOINT]")
}

#[test]
fn reflection_v1_v1alpha_and_both_give_the_same_realm() {
    let mut outputs = Vec::new();
    for (mode, version) in [
        (grpc_bank::Reflection::V1, "v1"),
        (
            grpc_bank::Reflection::V1Alpha,
            "v1alpha; the server does not offer v1",
        ),
        (grpc_bank::Reflection::Both, "v1"),
    ] {
        let backend = backend(mode);
        let run = import(&["grpc", "--endpoint", &backend.url(), "--name", "bank"]).expect(0);
        assert_eq!(
            redact(&run.stderr, &backend.url()),
            format!(
                "Imported realm `bank` from [ENDPOINT] (gRPC server reflection {version}): 2 services, 4 verbs, 9 types\n\
                 Skipped 1 streaming method (realms call unary verbs):\n  acme.ledger.v1.Ledger/Watch (server streaming)\n"
            )
        );
        outputs.push(run.stdout);
        if mode == grpc_bank::Reflection::V1Alpha {
            // REALM_LOG=debug says what was asked first.
            let dir = tempfile::tempdir().expect("tempdir");
            let run = run_realm_with(
                dir.path(),
                &["import", "grpc", "--endpoint", &backend.url()],
                &[("REALM_LOG", std::path::Path::new("debug"))],
            )
            .expect(0);
            assert!(
                run.stderr.contains("does not serve reflection v1 (grpc.reflection.v1.ServerReflection is UNIMPLEMENTED); asking v1alpha"),
                "{}",
                run.stderr
            );
        }
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    let schema = outputs.remove(0);
    snapshots(|| insta::assert_snapshot!("import_grpc_schema", schema));
}

#[test]
fn proto_files_and_descriptor_sets_give_the_same_realm_as_reflection() {
    let backend = backend(grpc_bank::Reflection::Both);
    let reflected = import(&["grpc", "--endpoint", &backend.url(), "--name", "bank"]).expect(0);

    let protos = grpc_bank::proto_dir();
    let files: Vec<String> = grpc_bank::PROTO_FILES
        .iter()
        .map(|f| protos.join(f).display().to_string())
        .collect();
    let include = protos.display().to_string();
    let from_protos = import(&[
        "proto", &files[0], &files[1], "-I", &include, "--name", "bank",
    ])
    .expect(0);
    assert_eq!(from_protos.stdout, reflected.stdout);

    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("bank.binpb");
    std::fs::write(
        &set,
        prost::Message::encode_to_vec(&grpc_bank::descriptors()),
    )
    .expect("write set");
    let from_set = import(&[
        "descriptor-set",
        &set.display().to_string(),
        "--name",
        "bank",
    ])
    .expect(0);
    assert_eq!(from_set.stdout, reflected.stdout);
    assert!(
        from_set
            .stderr
            .starts_with("Imported realm `bank` from descriptor set "),
        "{}",
        from_set.stderr
    );

    // The realm's name defaults to the first package segment.
    let run = import(&["descriptor-set", &set.display().to_string()]).expect(0);
    assert!(run.stdout.starts_with("realm acme {"), "{}", run.stdout);
}

#[test]
fn json_and_proto_text_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("bank.binpb");
    std::fs::write(
        &set,
        prost::Message::encode_to_vec(&grpc_bank::descriptors()),
    )
    .expect("write set");
    let run = import(&[
        "descriptor-set",
        &set.display().to_string(),
        "--format",
        "json",
    ])
    .expect(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["realms"][0]["name"], "acme");
    let run = import(&[
        "descriptor-set",
        &set.display().to_string(),
        "--format",
        "txtpb",
    ])
    .expect(0);
    assert!(
        run.stdout
            .contains("native_name: \"acme.bank.v1.AccountService/Withdraw\""),
        "{}",
        run.stdout
    );
}

#[test]
fn output_directory_is_a_realm_another_project_can_pin() {
    let backend = backend(grpc_bank::Reflection::V1Alpha);
    let out = GitRealm::empty("main");
    let dir = out.path().display().to_string();
    let run = import(&[
        "grpc",
        "--endpoint",
        &backend.url(),
        "--name",
        "bank",
        "--output",
        &dir,
    ])
    .expect(0);
    assert!(
        run.stderr.ends_with(&format!(
            "Wrote the realm to {dir}: ftl-project.toml, schema/*.ftl (4 files), realm.toml, descriptors.binpb, ftl-external-schema.txtpb\n"
        )),
        "{}",
        run.stderr
    );
    let project = redact(&out.read("ftl-project.toml"), &backend.url());
    snapshots(|| insta::assert_snapshot!("import_output_project", project));
    let mut listing: Vec<String> = std::fs::read_dir(out.path().join("schema"))
        .expect("schema dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    assert_eq!(
        listing,
        [
            "account.ftl",
            "acme_bank_v1.ftl",
            "acme_ledger_v1.ftl",
            "ledger.ftl"
        ]
    );
    // It is a realm project: its export is current, its schema validates.
    run_realm(out.path(), &["export", "--check"]).expect(0);
    run_realm(out.path(), &["schema"]).expect(0);
    // The descriptor set holds every file, imports and well-known types.
    let set: prost_types::FileDescriptorSet = prost::Message::decode(
        std::fs::read(out.path().join("descriptors.binpb"))
            .expect("read")
            .as_slice(),
    )
    .expect("descriptor set");
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "acme/bank/v1/accounts.proto",
            "acme/bank/v1/types.proto",
            "acme/ledger/v1/ledger.proto",
            "google/protobuf/duration.proto",
            "google/protobuf/empty.proto",
            "google/protobuf/struct.proto",
            "google/protobuf/timestamp.proto",
            "google/protobuf/wrappers.proto",
        ]
    );
    // Every file after its imports, as a DescriptorPool that adds the files
    // one by one (Python's) needs them.
    for (i, file) in set.file.iter().enumerate() {
        for import in &file.dependency {
            let at = names.iter().position(|n| n == import);
            assert!(
                at.is_some_and(|at| at < i),
                "{} comes before its import {import}: {names:?}",
                file.name()
            );
        }
    }
    // Files get the mode any new file gets here (umask), not 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let scratch = tempfile::tempdir().expect("tempdir");
        let reference = scratch.path().join("reference");
        std::fs::File::create(&reference).expect("create");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        for file in [
            "ftl-project.toml",
            "descriptors.binpb",
            "ftl-external-schema.txtpb",
            "schema/account.ftl",
        ] {
            assert_eq!(mode(&out.path().join(file)), mode(&reference), "{file}");
        }
    }

    // Commit it; another project pins it and sees it.
    out.commit("bank realm imported from gRPC");
    let shop = TestProject::new("shop");
    shop.realm(&["add", "--git-repo", &out.url()]).expect(0);
    let schema = shop.realm(&["schema", "--realm", "bank"]).expect(0);
    assert!(
        schema.stdout.starts_with("external realm bank {"),
        "{}",
        schema.stdout
    );
    assert!(
        schema.stdout.contains("export realm verb withdraw(acme_bank_v1.WithdrawRequest) acme_bank_v1.WithdrawResponse\n      +grpc \"acme.bank.v1.AccountService/Withdraw\""),
        "{}",
        schema.stdout
    );
}

#[test]
fn re_importing_refreshes_the_output_directory() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().display().to_string();
    let protos = grpc_bank::proto_dir();
    let include = protos.display().to_string();
    let both: Vec<String> = grpc_bank::PROTO_FILES
        .iter()
        .map(|f| protos.join(f).display().to_string())
        .collect();
    import(&[
        "proto", &both[0], &both[1], "-I", &include, "--name", "bank", "-o", &dir,
    ])
    .expect(0);
    // A comment added by hand to ftl-project.toml survives.
    let project = std::fs::read_to_string(out.path().join("ftl-project.toml")).expect("read");
    std::fs::write(
        out.path().join("ftl-project.toml"),
        format!("{project}# kept\n"),
    )
    .expect("write");
    import(&[
        "proto", &both[0], "-I", &include, "--name", "bank", "-o", &dir,
    ])
    .expect(0);
    assert!(
        !out.path().join("schema/ledger.ftl").exists(),
        "the ledger module is gone"
    );
    assert!(!out.path().join("schema/acme_ledger_v1.ftl").exists());
    assert!(
        std::fs::read_to_string(out.path().join("ftl-project.toml"))
            .expect("read")
            .ends_with("# kept\n")
    );
    run_realm(out.path(), &["export", "--check"]).expect(0);
}

// ---- errors --------------------------------------------------------------------------

#[test]
fn reflection_disabled() {
    let backend = backend(grpc_bank::Reflection::None);
    let run = import(&["grpc", "--endpoint", &backend.url()]).expect(1);
    let stderr = redact(&run.stderr, &backend.url());
    snapshots(|| insta::assert_snapshot!("import_reflection_disabled", stderr));
}

#[test]
fn a_file_the_server_does_not_serve() {
    let backend = Background::grpc_bank(grpc_bank::Options {
        hide_file: Some("acme/bank/v1/types.proto".into()),
        ..grpc_bank::Options::default()
    });
    let run = import(&["grpc", "--endpoint", &backend.url()]).expect(1);
    let stderr = redact(&run.stderr, &backend.url());
    snapshots(|| insta::assert_snapshot!("import_file_not_served", stderr));
}

#[test]
fn headers_with_environment_variables() {
    let backend = Background::grpc_bank(grpc_bank::Options {
        require_header: Some(("authorization".into(), "Bearer s3cret".into())),
        ..grpc_bank::Options::default()
    });
    let endpoint = backend.url();
    let run = import(&["grpc", "--endpoint", &endpoint]).expect(1);
    let stderr = redact(&run.stderr, &endpoint);
    snapshots(|| insta::assert_snapshot!("import_unauthenticated", stderr));

    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "import",
        "grpc",
        "--endpoint",
        &endpoint,
        "-H",
        "Authorization: Bearer $TOKEN",
    ];
    let mut cmd = assert_cmd::Command::cargo_bin("realm").expect("binary");
    let out = cmd
        .current_dir(dir.path())
        .args(args)
        .env("TOKEN", "s3cret")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut cmd = assert_cmd::Command::cargo_bin("realm").expect("binary");
    let out = cmd
        .current_dir(dir.path())
        .args(args)
        .env_remove("TOKEN")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: environment variable `TOKEN` (used in a header) is not set\nhelp: export TOKEN=... first\n"
    );
}

/// A CA and a certificate for `localhost` signed by it (PEM).
fn certificates() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let key = rcgen::KeyPair::generate().expect("key");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("cert");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn tls_with_a_ca_without_one_and_insecure() {
    let (ca, cert, key) = certificates();
    let backend = Background::grpc_bank(grpc_bank::Options {
        tls: Some((cert.into_bytes(), key.into_bytes())),
        ..grpc_bank::Options::default()
    });
    let endpoint = format!("https://localhost:{}", backend.addr.port());
    let run = import(&["grpc", "--endpoint", &endpoint]).expect(1);
    let stderr = redact(&run.stderr, &endpoint);
    snapshots(|| insta::assert_snapshot!("import_tls_unknown_issuer", stderr));

    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).expect("write ca");
    let ca_path = ca_file.display().to_string();
    import(&["grpc", "--endpoint", &endpoint, "--cacert", &ca_path]).expect(0);
    import(&["grpc", "--endpoint", &endpoint, "--insecure"]).expect(0);
    // --cacert means nothing without TLS.
    let run = import(&["grpc", "--endpoint", &backend.url(), "--cacert", &ca_path]).expect(1);
    assert!(
        run.stderr
            .contains("--cacert and --insecure need an https:// endpoint"),
        "{}",
        run.stderr
    );
}

#[test]
fn connection_refused() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let run = import(&["grpc", "--endpoint", &endpoint]).expect(1);
    assert_eq!(
        redact(&run.stderr, &endpoint),
        "error: cannot connect to [ENDPOINT]: connection refused\nhelp: check the address and that the server is running\n"
    );
}

/// A server that answers every connection with `reply` (or nothing) and
/// holds it open.
fn fake_server(reply: Option<&'static [u8]>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            if let Some(reply) = reply {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(reply);
            }
            held.push(stream);
        }
    });
    addr
}

#[test]
fn not_a_grpc_server() {
    let addr = fake_server(Some(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ));
    let endpoint = format!("http://{addr}");
    let run = import(&["grpc", "--endpoint", &endpoint]).expect(1);
    let stderr = redact(&run.stderr, &endpoint);
    snapshots(|| insta::assert_snapshot!("import_not_grpc", stderr));
}

#[test]
fn a_server_that_never_answers_times_out() {
    let addr = fake_server(None);
    let endpoint = format!("http://{addr}");
    let run = import(&["grpc", "--endpoint", &endpoint, "--timeout", "300ms"]).expect(1);
    assert_eq!(
        redact(&run.stderr, &endpoint),
        "error: no answer from [ENDPOINT] within 300ms\nhelp: raise --timeout, or check that the server is healthy\n"
    );
}

#[test]
fn a_proto_syntax_error_has_a_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("broken.proto"),
        "syntax = \"proto3\";\n\nservice S {\n  rpc Get(Req) returns Resp;\n}\n",
    )
    .expect("write");
    let run = run_realm(dir.path(), &["import", "proto", "broken.proto"]).expect(1);
    snapshots(|| insta::assert_snapshot!("import_proto_syntax_error", run.stderr));
}

#[test]
fn invalid_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("garbage.binpb"),
        b"\xff\xff not a descriptor set",
    )
    .expect("write");
    let run = run_realm(dir.path(), &["import", "descriptor-set", "garbage.binpb"]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: garbage.binpb is not an encoded FileDescriptorSet"),
        "{}",
        run.stderr
    );

    std::fs::write(
        dir.path().join("types.proto"),
        "syntax = \"proto3\";\nmessage A {}\n",
    )
    .expect("write");
    let run = run_realm(dir.path(), &["import", "proto", "types.proto"]).expect(1);
    assert_eq!(
        run.stderr,
        "error: types.proto defines no services\nhelp: name the .proto files that declare the services\n"
    );

    let run = run_realm(
        dir.path(),
        &["import", "grpc", "--endpoint", "localhost:50051"],
    )
    .expect(1);
    assert!(
        run.stderr
            .starts_with("error: invalid endpoint `localhost:50051`"),
        "{}",
        run.stderr
    );

    let run = run_realm(
        dir.path(),
        &[
            "import",
            "grpc",
            "--endpoint",
            "http://x",
            "--timeout",
            "soon",
        ],
    )
    .expect(2);
    assert!(
        run.stderr.contains("`soon` is not a duration"),
        "{}",
        run.stderr
    );

    let dir_path: &Path = dir.path();
    let run = run_realm_with(
        dir_path,
        &[
            "import",
            "grpc",
            "--endpoint",
            "http://127.0.0.1:1",
            "-H",
            "nocolon",
        ],
        &[],
    )
    .expect(1);
    assert_eq!(run.stderr, "error: header `nocolon` is not `key: value`\n");
}

#[test]
fn a_proto_file_that_is_not_there_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("protos")).expect("mkdir");
    let run = run_realm(dir.path(), &["import", "proto", "nothere.proto"]).expect(1);
    snapshots(|| insta::assert_snapshot!("import_proto_missing_file", run.stderr));
    let run = run_realm(dir.path(), &["import", "proto", "protos"]).expect(1);
    assert_eq!(
        run.stderr,
        "error: protos is a directory, not a .proto file\nhelp: name .proto files by their path from the current directory\n"
    );
}

/// `realm import grpc` under a pseudo-terminal (`script` from util-linux):
/// the spinner names each step there, and never when stderr is a pipe.
#[test]
fn import_grpc_shows_its_steps_on_a_terminal_only() {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let Some(script) = script else {
        assert!(
            std::env::var_os("CI").is_none(),
            "`script` (util-linux) is missing; .ci/run installs it"
        );
        eprintln!("skipped: the terminal part needs `script` (install util-linux or bsdutils)");
        return;
    };
    let backend = backend(grpc_bank::Reflection::V1);
    let piped = import(&["grpc", "--endpoint", &backend.url(), "--name", "acme"]).expect(0);
    assert!(
        piped.stderr.starts_with("Imported realm `acme`"),
        "{}",
        piped.stderr
    );
    assert!(
        !piped.stderr.contains("listing services"),
        "{}",
        piped.stderr
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let realm = assert_cmd::cargo::cargo_bin("realm");
    let command = format!(
        "{} import grpc --endpoint {} --name acme > /dev/null",
        realm.display(),
        backend.url()
    );
    let out = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{seen}");
    let prefix = format!("importing {}: ", backend.url());
    for step in [
        "connecting",
        "listing services",
        "fetching files 0/",
        "fetching files 1/",
    ] {
        assert!(
            seen.contains(&format!("{prefix}{step}")),
            "no `{step}` in {seen:?}"
        );
    }
    // The last count is every file asked for, all answered.
    let last = seen
        .rsplit(&format!("{prefix}fetching files "))
        .next()
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(count, _)| count.split_once('/'))
        .unwrap_or_else(|| panic!("no file count in {seen:?}"));
    assert_eq!(last.0, last.1, "{seen:?}");
    assert!(seen.contains("Imported realm `acme`"), "{seen:?}");
}
