//! The schema core and `realm export` on a generated realm of 10,000 verbs
//! and 20,000 data types (plus 1,000 enums) in 100 modules: parse, validate,
//! public-API closure, proto-text encoding (and, as a baseline,
//! prost-reflect's own text formatter), and the whole export of a project
//! on disk (library call and the `realm` binary).
//!
//! Run with `cargo bench --bench schema`. Criterion prints the time per
//! iteration and the throughput in MiB/s of schema text.

mod support;

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use realm::schema::{Realm, Schema, parse_file, public_api, txtpb, validate};

// The allocator the `realm` binary uses, so the library figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MODULES: usize = 100;
const VERBS_PER_MODULE: usize = 100;
const ENUMS_PER_MODULE: usize = 10;

fn realm_of(text: &str) -> Schema {
    let file = parse_file("realm.ftl", text)
        .unwrap_or_else(|d| panic!("generated text does not parse: {d}"));
    Schema {
        realms: vec![Realm {
            name: "big".into(),
            modules: file.modules,
            ..Realm::default()
        }],
    }
}

fn bench(c: &mut Criterion) {
    // `REALM_BENCH_PROJECT=DIR cargo bench --bench schema` writes the
    // benchmark's project to DIR and stops: a project to profile `realm
    // export` on (`perf record realm export` in DIR).
    if let Some(dir) = std::env::var_os("REALM_BENCH_PROJECT") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).expect("create the project directory");
        support::write_project(dir, "big", MODULES, VERBS_PER_MODULE, ENUMS_PER_MODULE);
        eprintln!("wrote the benchmark's project to {}", dir.display());
        return;
    }
    let text = support::realm_text(MODULES, VERBS_PER_MODULE, ENUMS_PER_MODULE);
    let schema = realm_of(&text);
    let problems = validate(&schema);
    assert!(
        problems.is_empty(),
        "generated realm is invalid: {}",
        problems[0]
    );
    let verbs = schema.realms[0]
        .decls()
        .filter(|(_, d)| d.kind().keyword() == "verb")
        .count();
    let data = schema.realms[0]
        .decls()
        .filter(|(_, d)| d.kind().keyword() == "data")
        .count();
    let api = public_api(&schema.realms[0]);
    let api_schema = Schema { realms: vec![api] };
    let exported = txtpb::to_text(&api_schema);
    eprintln!(
        "generated realm: {MODULES} modules, {verbs} verbs, {data} data types, {:.1} MiB of schema text; \
         public API {:.1} MiB of proto-text",
        text.len() as f64 / (1 << 20) as f64,
        exported.len() as f64 / (1 << 20) as f64
    );

    let mut group = c.benchmark_group("schema");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| parse_file("realm.ftl", black_box(&text)))
    });
    group.bench_function("validate", |b| b.iter(|| validate(black_box(&schema))));
    group.bench_function("public_api", |b| {
        b.iter(|| public_api(black_box(&schema.realms[0])))
    });
    group.bench_function("txtpb_encode", |b| {
        b.iter(|| txtpb::to_text(black_box(&api_schema)))
    });
    // The baseline `txtpb::to_text` replaced (ARCHITECTURE.md, "Proto-text
    // layout and encoder"): prost-reflect's own formatter, which needs a
    // DynamicMessage built from the encoded bytes first.
    let descriptor = txtpb::descriptor_pool()
        .get_message_by_name(realm::schema::ftl::SCHEMA_MESSAGE)
        .expect("FTL's Schema");
    let pretty = prost_reflect::text_format::FormatOptions::new().pretty(true);
    group.bench_function("txtpb_encode_prost_reflect_baseline", |b| {
        b.iter(|| {
            let bytes =
                prost::Message::encode_to_vec(&realm::schema::ftl::to_ftl(black_box(&api_schema)));
            let message =
                prost_reflect::DynamicMessage::decode(descriptor.clone(), bytes.as_slice())
                    .expect("decode");
            message.to_text_format_with_options(&pretty)
        })
    });
    group.bench_function("txtpb_decode", |b| {
        b.iter(|| txtpb::from_text("api.txtpb", black_box(&exported)))
    });
    group.bench_function("print", |b| {
        b.iter(|| realm::schema::print_schema(black_box(&schema)))
    });

    // The whole export of a project on disk: find and read 100 files, parse,
    // validate, compute the public API, encode, compare with the committed
    // file and write it.
    let dir = tempfile::tempdir().expect("tempdir");
    support::write_project(
        dir.path(),
        "big",
        MODULES,
        VERBS_PER_MODULE,
        ENUMS_PER_MODULE,
    );
    let ctx = realm::pins::Context {
        cache: realm::pins::Cache::new(dir.path().join(".cache")),
        offline: true,
        progress: None,
        deny_warnings: false,
    };
    group.bench_function("export_library", |b| {
        b.iter(|| {
            let export_path = dir.path().join("ftl-external-schema.txtpb");
            let _ = std::fs::remove_file(&export_path);
            let ws = realm::workspace::Workspace::load(dir.path(), &ctx).expect("load");
            let export = realm::export::prepare(&ws, None).expect("prepare");
            export.write().expect("write")
        })
    });
    let binary = env!("CARGO_BIN_EXE_realm");
    group.bench_function("export_binary", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(dir.path().join("ftl-external-schema.txtpb"));
            let status = Command::new(binary)
                .args(["export"])
                .current_dir(dir.path())
                .output()
                .expect("run realm export");
            assert!(
                status.status.success(),
                "{}",
                String::from_utf8_lossy(&status.stderr)
            );
        })
    });
    group.finish();
    export_against_buf(dir.path(), binary);
}

/// `realm export` (the binary) of the project against `buf build` of the
/// equivalent `.proto` files, in the same run, interleaved: medians of 5,
/// and each one's peak RSS. buf comes from `target/tools` (`npm install --prefix
/// target/tools @bufbuild/buf`) or the PATH; without it this part is
/// skipped.
fn export_against_buf(project: &std::path::Path, binary: &str) {
    use support::tools::run_measured;
    let local =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/node_modules/.bin/buf");
    let buf = if local.is_file() {
        local.display().to_string()
    } else if Command::new("buf").arg("--version").output().is_ok() {
        "buf".to_string()
    } else {
        eprintln!(
            "export vs buf: skipped, buf is not installed (npm install --prefix target/tools @bufbuild/buf)"
        );
        return;
    };
    let input: u64 = std::fs::read_dir(project.join("modules"))
        .expect("modules")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum();
    let protos = tempfile::tempdir().expect("tempdir");
    support::write_protos(protos.path(), MODULES, VERBS_PER_MODULE, ENUMS_PER_MODULE);
    let image = protos.path().join("image.binpb");
    // Interleaved, so that both see the same load; medians of 5, and each
    // one's largest peak RSS.
    let (mut realm_runs, mut buf_runs) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let _ = std::fs::remove_file(project.join("ftl-external-schema.txtpb"));
        realm_runs.push(run_measured(
            Command::new(binary).arg("export").current_dir(project),
        ));
        buf_runs.push(run_measured(
            Command::new(&buf)
                .args(["build", "-o"])
                .arg(&image)
                .current_dir(protos.path()),
        ));
    }
    let median = |mut runs: Vec<(Duration, u64)>| {
        runs.sort();
        let rss = runs.iter().map(|r| r.1).max().unwrap_or(0);
        (runs[2].0, rss)
    };
    let (realm_time, realm_rss) = median(realm_runs);
    let (buf_time, buf_rss) = median(buf_runs);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "export vs buf: realm export {:.3} s, {:.0} MiB RSS ({:.1}x the {:.1} MiB of schema text); \
         buf build {:.3} s, {:.0} MiB RSS; realm/buf time {:.3}",
        realm_time.as_secs_f64(),
        mib(realm_rss),
        realm_rss as f64 / input as f64,
        mib(input),
        buf_time.as_secs_f64(),
        mib(buf_rss),
        realm_time.as_secs_f64() / buf_time.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
