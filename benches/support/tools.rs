//! Helpers the benchmarks share: timing, temporary git repositories and
//! free ports.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The median time of `n` runs of `f`.
pub fn median(n: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

/// Copies the directory `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Runs git in `dir`; panics when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

/// A port nothing listens on now: bound, read and released.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The example realms under `dir`: `dir/bank` a git repository of the
/// example bank, `dir/shop` the example shop pinning it, with the pin's
/// cache in `dir/cache` (returned).
pub fn bank_and_shop(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bank = dir.join("bank");
    let shop = dir.join("shop");
    copy_dir(&root.join("examples/bank"), &bank);
    copy_dir(&root.join("examples/shop"), &shop);
    git(&bank, &["init", "-q", "-b", "main"]);
    git(&bank, &["add", "-A"]);
    git(
        &bank,
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-qm",
            "bank",
        ],
    );
    let cache = dir.join("cache");
    let status = Command::new(env!("CARGO_BIN_EXE_realm"))
        .args(["add", "--git-repo", "../bank"])
        .current_dir(&shop)
        .env("REALM_CACHE_DIR", &cache)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("realm add");
    assert!(status.success(), "realm add failed");
    cache
}

/// Runs `command` to its end; returns its wall time and its peak resident
/// set (bytes), read from the kernel for that process alone (`wait4`).
pub fn run_measured(command: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    let child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct the kernel fills; `pid` is our
    // child, reaped here (and not by `Child::wait`).
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let reaped = libc::wait4(pid, &mut status, 0, &mut usage);
        assert_eq!(reaped, pid, "wait4");
        usage
    };
    let elapsed = start.elapsed();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    std::mem::forget(child);
    (elapsed, usage.ru_maxrss as u64 * 1024)
}

/// Appends `text` to the file at `path`.
pub fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).expect("read");
    content.push_str(text);
    std::fs::write(path, content).expect("write");
}
