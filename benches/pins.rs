//! `realm update --check` over 100 pinned realms in local git repositories,
//! against a shell loop of `git ls-remote` over the same repositories
//! measured in the same run.
//!
//! Run with `cargo bench --bench pins`. Prints the median wall time of each
//! case (whole processes, as a user or CI runs them) and its ratio to the
//! `git ls-remote` loop.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::tools::{copy_dir, median};

const REALMS: usize = 100;
const VERBS_PER_REALM: usize = 10;

fn main() {
    // `cargo bench` passes --bench; nothing here is filterable.
    let root = tempfile::tempdir().expect("tempdir");
    let repos: Vec<PathBuf> = (0..REALMS).map(|i| make_realm(root.path(), i)).collect();
    let project = root.path().join("shop");
    std::fs::create_dir_all(project.join("modules")).expect("mkdir");
    let mut toml = String::from("name = \"shop\"\nmodule-dirs = [\"modules\"]\n");
    for (i, repo) in repos.iter().enumerate() {
        toml.push_str(&format!(
            "\n[realms.egress.r{i}]\ngit-repo = \"{}\"\ngit-branch = \"main\"\ngit-commit = \"{}\"\n",
            repo.display(),
            head(repo)
        ));
    }
    std::fs::write(project.join("ftl-project.toml"), &toml).expect("write project");
    let cache = root.path().join("cache");
    // Warm the cache: every pinned commit fetched once.
    realm(&project, &cache, &["schema"], 0);

    let ls_remote = median(7, || {
        let status = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "for r in {}; do git ls-remote \"$r\" > /dev/null; done",
                repos
                    .iter()
                    .map(|r| format!("'{}'", r.display()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
            .status()
            .expect("run the git ls-remote loop");
        assert!(status.success());
    });
    let noop = median(15, || realm(&project, &cache, &["update", "--check"], 0));

    // Every realm moves: a compatible change committed to each.
    for repo in &repos {
        let path = repo.join("modules/m.ftl");
        let text = std::fs::read_to_string(&path).expect("read module");
        std::fs::write(
            &path,
            text.replacen(
                "    tags [String]\n",
                "    tags [String]\n    extra String?\n",
                1,
            ),
        )
        .expect("write module");
        export(repo);
        commit(repo, "change");
    }
    let pinned_cache = root.path().join("pinned-cache");
    copy_dir(&cache, &pinned_cache);
    // Cold: the new heads are fetched in every run (a fresh copy of the
    // cache as it was before; copying is not timed).
    let mut runs = Vec::new();
    for _ in 0..5 {
        let fresh = root.path().join("cold-cache");
        let _ = std::fs::remove_dir_all(&fresh);
        copy_dir(&pinned_cache, &fresh);
        let start = Instant::now();
        realm(&project, &fresh, &["update", "--check"], 3);
        runs.push(start.elapsed());
    }
    runs.sort();
    let moved_cold = runs[runs.len() / 2];
    // Warm: the new heads are cached already (a second CI step, say).
    let moved_warm = median(7, || realm(&project, &cache, &["update", "--check"], 3));

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{REALMS} pinned realms in local repositories ({VERBS_PER_REALM} verbs each)");
    println!("{:<52} {:>10} {:>14}", "case", "median", "vs ls-remote");
    let row = |name: &str, d: Duration| {
        println!(
            "{name:<52} {:>7.1} ms {:>13.2}x",
            ms(d),
            ms(ls_remote) / ms(d)
        );
    };
    row(
        "shell loop: git ls-remote over the 100 repositories",
        ls_remote,
    );
    row("realm update --check, nothing changed", noop);
    row(
        "realm update --check, all moved, cold cache (fetch)",
        moved_cold,
    );
    row("realm update --check, all moved, warm cache", moved_warm);
    println!("(ratio > 1: faster than the git ls-remote loop)");
    assert!(
        noop < ls_remote,
        "the no-op check must beat the git ls-remote loop"
    );
}

fn realm(project: &Path, cache: &Path, args: &[&str], code: i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_realm"))
        .args(args)
        .current_dir(project)
        .env("REALM_CACHE_DIR", cache)
        .output()
        .expect("run realm");
    assert_eq!(
        out.status.code(),
        Some(code),
        "realm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A realm `r{i}` in a git repository, exported and committed.
fn make_realm(root: &Path, i: usize) -> PathBuf {
    let dir = root.join(format!("r{i}"));
    std::fs::create_dir_all(dir.join("modules")).expect("mkdir");
    std::fs::write(
        dir.join("ftl-project.toml"),
        format!("name = \"r{i}\"\nmodule-dirs = [\"modules\"]\n"),
    )
    .expect("write project");
    std::fs::write(
        dir.join("modules/m.ftl"),
        support::module_text(0, 1, VERBS_PER_REALM, 2),
    )
    .expect("write module");
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    git2::Repository::init_opts(&dir, &options).expect("git init");
    export(&dir);
    commit(&dir, "realm");
    dir
}

fn export(dir: &Path) {
    let cache = realm::pins::Cache::new(dir.join(".cache"));
    let ctx = realm::pins::Context {
        cache,
        offline: true,
        progress: None,
        deny_warnings: false,
    };
    let ws = realm::workspace::Workspace::load(dir, &ctx).expect("load realm");
    realm::export::prepare(&ws, None)
        .expect("export")
        .write()
        .expect("write export");
}

fn commit(dir: &Path, message: &str) {
    let repo = git2::Repository::open(dir).expect("open");
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let sig = git2::Signature::now("bench", "bench@example.com").expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .expect("commit");
}

fn head(dir: &Path) -> String {
    let repo = git2::Repository::open(dir).expect("open");
    repo.head()
        .and_then(|h| h.peel_to_commit())
        .expect("head")
        .id()
        .to_string()
}
