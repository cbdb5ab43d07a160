//! `realm generate` in memory: Go, TypeScript and Rust clients of the
//! public API of the generated realm `benches/schema.rs` uses (100
//! modules; 5,000 `export realm` verbs, 10,000 data types and 1,000 enums
//! in its public API).
//!
//! Run with `cargo bench --bench generate`.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use realm::generate::{Language, Options, Target, generate};
use realm::schema::{Realm, parse_file, public_api};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let text = support::realm_text(100, 100, 10);
    let file = parse_file("realm.ftl", &text)
        .unwrap_or_else(|d| panic!("generated text does not parse: {d}"));
    let realm = Realm {
        name: "big".into(),
        modules: file.modules,
        ..Realm::default()
    };
    let api = public_api(&realm);
    let target = Target {
        realm: &api,
        commit: "0123456789abcdef0123456789abcdef01234567",
    };
    let options = Options {
        go_import_path: Some("example.com/bench".into()),
        ..Options::default()
    };
    let mut group = c.benchmark_group("generate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for (name, language) in [
        ("go", Language::Go),
        ("typescript", Language::TypeScript),
        ("rust", Language::Rust),
    ] {
        let files = generate(language, &[target], &options)
            .unwrap_or_else(|e| panic!("cannot generate {name}: {e}"));
        let bytes: usize = files.iter().map(|f| f.contents.len()).sum();
        eprintln!(
            "{name}: {} files, {:.1} MiB",
            files.len(),
            bytes as f64 / (1 << 20) as f64
        );
        group.bench_function(name, |b| {
            b.iter(|| generate(language, black_box(&[target]), &options))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
