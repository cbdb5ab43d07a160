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

/// Runs `command` to completion: its wall time and its peak RSS in bytes.
///
/// The peak RSS is GNU time's (`/usr/bin/time -f %M`), which forks the
/// command from its own small process. The kernel's `ru_maxrss` of a child
/// this (large) benchmark process spawns directly includes this process's
/// own peak: on exec it carries over the high-water mark of the memory the
/// child started with, which `posix_spawn`/vfork share with us, and a
/// benchmark holding a parsed realm is hundreds of MiB (the export's RSS
/// read 438 MiB that way, 130 MiB through GNU time). Without GNU time the
/// RSS is 0 and said to be unknown.
pub fn run_measured(command: &mut Command) -> (Duration, u64) {
    let time = Path::new("/usr/bin/time");
    let report = tempfile::NamedTempFile::new().expect("a temporary file");
    let mut measured = if time.is_file() {
        let mut wrapped = Command::new(time);
        wrapped
            .args(["-f", "%M", "-o"])
            .arg(report.path())
            .arg(command.get_program())
            .args(command.get_args());
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        wrapped
    } else {
        eprintln!(
            "peak RSS unknown: GNU time (/usr/bin/time, Debian package `time`) is not installed"
        );
        std::mem::replace(command, Command::new("true"))
    };
    let start = Instant::now();
    let output = measured
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("spawn");
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "{measured:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let kib: u64 = std::fs::read_to_string(report.path())
        .ok()
        .and_then(|text| text.trim().lines().last()?.trim().parse().ok())
        .unwrap_or(0);
    (elapsed, kib * 1024)
}

/// Appends `text` to the file at `path`.
pub fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).expect("read");
    content.push_str(text);
    std::fs::write(path, content).expect("write");
}

/// User + system CPU time of the process `pid` so far, from
/// `/proc/<pid>/stat` (the counters `getrusage` reads, for a process that
/// is not this one); with `thread`, only its threads of that name.
pub fn cpu_time(pid: u32, thread: Option<&str>) -> Duration {
    let (user, system) = cpu_split(pid, thread);
    user + system
}

/// [`cpu_time`] as user and system time.
pub fn cpu_split(pid: u32, thread: Option<&str>) -> (Duration, Duration) {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let ticks_of = |stat: &str| -> (f64, f64) {
        // Fields after the command name (which may hold spaces).
        let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        (field(11).unwrap_or(0.0), field(12).unwrap_or(0.0))
    };
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).unwrap_or_default();
    let (user, system) = match thread {
        None => ticks_of(&read(format!("/proc/{pid}/stat").into())),
        // The kernel keeps a thread's name to 15 bytes (`comm`).
        Some(name) => std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                let name = name.get(..15).unwrap_or(name);
                tasks
                    .flatten()
                    .filter(|t| read(t.path().join("comm")).trim_end() == name)
                    .map(|t| ticks_of(&read(t.path().join("stat"))))
                    .fold((0.0, 0.0), |(u, s), (tu, ts)| (u + tu, s + ts))
            })
            .unwrap_or((0.0, 0.0)),
    };
    (
        Duration::from_secs_f64(user / ticks),
        Duration::from_secs_f64(system / ticks),
    )
}
