//! Why the `realm` binary uses mimalloc (`src/cli/allocator.rs`): the same
//! `realm export` of the 10,000-verb benchmark realm, each iteration a
//! fresh process, with the binary's allocator (mimalloc) and with the
//! system allocator (this bench program itself, which declares no global
//! allocator, re-run as a child that does the export).
//!
//! Run with `cargo bench --bench allocator`; both are measured in the same
//! run, one after the other.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group};

const MODULES: usize = 100;
const VERBS_PER_MODULE: usize = 100;
const ENUMS_PER_MODULE: usize = 10;

/// The argument that makes this program the child: export the project in
/// the directory that follows, with the system allocator, and exit.
const CHILD: &str = "--export-with-system-allocator";

fn export_in_process(dir: &Path) {
    let ctx = realm::pins::Context {
        cache: realm::pins::Cache::new(dir.join(".cache")),
        offline: true,
        progress: None,
        deny_warnings: false,
    };
    let ws = realm::workspace::Workspace::load(dir, &ctx).expect("load");
    let export = realm::export::prepare(&ws, None).expect("prepare");
    export.write().expect("write");
}

fn run(command: &mut Command) {
    let output = command.output().expect("run the export");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    support::write_project(
        dir.path(),
        "big",
        MODULES,
        VERBS_PER_MODULE,
        ENUMS_PER_MODULE,
    );
    let export_file = dir.path().join("ftl-external-schema.txtpb");
    let this = std::env::current_exe().expect("this bench program");
    let mut group = c.benchmark_group("export_process");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("mimalloc", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&export_file);
            run(Command::new(env!("CARGO_BIN_EXE_realm"))
                .arg("export")
                .current_dir(dir.path()));
        })
    });
    group.bench_function("system_allocator", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&export_file);
            run(Command::new(&this).arg(CHILD).arg(dir.path()));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == CHILD) {
        let dir = args.next().expect("a project directory after the flag");
        export_in_process(Path::new(&dir));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
