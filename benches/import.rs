//! `realm import grpc` from a server exposing 500 services (generated
//! descriptors: 50 files of 10 services × 5 methods, importing a shared
//! types file and well-known types), against importing the same
//! descriptors from a descriptor set (no network) in the same run.
//!
//! Run with `cargo bench --bench import`. Prints medians of whole `realm`
//! processes, the per-service cost, and the ratio between the two.

mod support;

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;
use support::tools::median;

const FILES: usize = 50;
const SERVICES_PER_FILE: usize = 10;
const METHODS_PER_SERVICE: usize = 5;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let protos = dir.path().join("protos");
    std::fs::create_dir_all(protos.join("gen")).expect("mkdir");
    std::fs::write(protos.join("gen/common.proto"), common_proto()).expect("write");
    let mut names = Vec::new();
    for f in 0..FILES {
        let name = format!("gen/services{f}.proto");
        std::fs::write(protos.join(&name), service_proto(f)).expect("write");
        names.push(name);
    }
    let mut compiler = protox::Compiler::new([&protos]).expect("compiler");
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&names).expect("compile");
    let set = compiler.file_descriptor_set();
    let set_path = dir.path().join("all.binpb");
    std::fs::write(&set_path, prost::Message::encode_to_vec(&set)).expect("write set");

    // The reflection server, on its own thread.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let served = set.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let reflection = tonic_reflection::server::Builder::configure()
                .register_file_descriptor_set(served)
                .build_v1()
                .expect("reflection");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            tonic::transport::Server::builder()
                .add_service(reflection)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .expect("serve");
        });
    });

    let services = FILES * SERVICES_PER_FILE;
    let out = dir.path().join("out");
    let run = |args: &[&str]| {
        let _ = std::fs::remove_dir_all(&out);
        let output = Command::new(env!("CARGO_BIN_EXE_realm"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run realm");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let out_arg = out.display().to_string();
    let first = run(&[
        "import",
        "grpc",
        "--endpoint",
        &endpoint,
        "--name",
        "big",
        "--output",
        &out_arg,
    ]);
    eprint!("{first}");

    let grpc = median(7, || {
        run(&[
            "import",
            "grpc",
            "--endpoint",
            &endpoint,
            "--name",
            "big",
            "--output",
            &out_arg,
        ]);
    });
    let grpc_print = median(7, || {
        run(&[
            "import",
            "grpc",
            "--endpoint",
            &endpoint,
            "--name",
            "big",
            "--format",
            "txtpb",
        ]);
    });
    let set_arg = set_path.display().to_string();
    let from_set = median(7, || {
        run(&[
            "import",
            "descriptor-set",
            &set_arg,
            "--name",
            "big",
            "--output",
            &out_arg,
        ]);
    });

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{services} services, {} methods, {FILES} service files + 1 shared types file",
        services * METHODS_PER_SERVICE
    );
    println!(
        "{:<62} {:>10} {:>13} {:>9}",
        "case", "median", "per service", "ratio"
    );
    let row = |name: &str, d: Duration| {
        println!(
            "{name:<62} {:>7.1} ms {:>10.3} ms {:>8.2}x",
            ms(d),
            ms(d) / services as f64,
            ms(d) / ms(from_set)
        );
    };
    row(
        "realm import descriptor-set --output (baseline, no network)",
        from_set,
    );
    row("realm import grpc (reflection v1) --output", grpc);
    row(
        "realm import grpc (reflection v1), print proto-text",
        grpc_print,
    );
    println!("(ratio: time / the descriptor-set import)");
}

fn common_proto() -> String {
    "syntax = \"proto3\";\npackage gen.common;\nimport \"google/protobuf/timestamp.proto\";\n\
     // Shared by every service.\nmessage Page {\n  int32 size = 1;\n  string token = 2;\n}\n\
     enum Status {\n  STATUS_UNSPECIFIED = 0;\n  STATUS_ACTIVE = 1;\n  STATUS_CLOSED = 2;\n}\n\
     message Audit {\n  google.protobuf.Timestamp at = 1;\n  string by = 2;\n}\n"
        .to_string()
}

fn service_proto(f: usize) -> String {
    let mut out = format!(
        "syntax = \"proto3\";\npackage gen.s{f};\nimport \"gen/common.proto\";\nimport \"google/protobuf/empty.proto\";\n\n"
    );
    for s in 0..SERVICES_PER_FILE {
        let _ = writeln!(out, "// Service {s} of file {f}.\nservice Service{s} {{");
        for m in 0..METHODS_PER_SERVICE {
            let _ = writeln!(
                out,
                "  // Method {m}.\n  rpc Call{m}(S{s}Call{m}Request) returns (S{s}Call{m}Response);"
            );
        }
        let _ = writeln!(
            out,
            "  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);\n}}\n"
        );
        for m in 0..METHODS_PER_SERVICE {
            let _ = writeln!(
                out,
                "message S{s}Call{m}Request {{\n  string id = 1;\n  gen.common.Page page = 2;\n  repeated string tags = 3;\n  \
                 map<string, int64> counts = 4;\n  optional string note = 5;\n  Inner inner = 6;\n  \
                 message Inner {{ bool flag = 1; gen.common.Status status = 2; }}\n}}\n\
                 message S{s}Call{m}Response {{\n  string id = 1;\n  gen.common.Audit audit = 2;\n  gen.common.Status status = 3;\n}}\n"
            );
        }
    }
    out
}
