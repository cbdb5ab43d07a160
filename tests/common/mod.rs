//! Test support: temporary projects and the real `realm` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

/// The repository root (where `examples/` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A project in a temporary directory.
pub struct TestProject {
    pub dir: TempDir,
}

impl TestProject {
    /// An empty project named `name` whose modules live in `modules/`.
    pub fn new(name: &str) -> TestProject {
        let p = TestProject {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        };
        p.write(
            "ftl-project.toml",
            &format!("name = \"{name}\"\nmodule-dirs = [\"modules\"]\n"),
        );
        std::fs::create_dir_all(p.path().join("modules")).expect("create modules/");
        p
    }

    /// A copy of `examples/<name>`.
    pub fn example(name: &str) -> TestProject {
        let p = TestProject {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        };
        copy_dir(&repo_root().join("examples").join(name), p.path());
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(path, text).expect("write file");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read file")
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path().join(rel).exists()
    }

    /// `realm <args>` run in the project directory.
    pub fn realm(&self, args: &[&str]) -> Run {
        run_realm(self.path(), args)
    }
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

/// What a run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `realm` in `dir` with a clean environment for the variables realm
/// reads.
pub fn run_realm(dir: &Path, args: &[&str]) -> Run {
    let out = Command::cargo_bin("realm")
        .expect("the realm binary is built")
        .current_dir(dir)
        .args(args)
        .env_remove("REALM_CACHE_DIR")
        .output()
        .expect("run realm");
    Run::from_output(out)
}

/// Runs `body` with insta writing snapshots to the top-level `snapshots/`.
pub fn snapshots<R>(body: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repo_root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(body)
}
