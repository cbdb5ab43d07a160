//! Test support: temporary projects and the real `realm` binary.
#![allow(dead_code)]

pub mod backends;
pub mod echo;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

/// The repository root (where `examples/` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A project in a temporary directory, with a git cache of its own.
pub struct TestProject {
    pub dir: TempDir,
    pub cache: TempDir,
}

impl TestProject {
    /// An empty project named `name` whose modules live in `modules/`.
    pub fn new(name: &str) -> TestProject {
        let p = TestProject {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            cache: tempfile::tempdir().expect("create a temporary directory"),
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
            cache: tempfile::tempdir().expect("create a temporary directory"),
        };
        copy_dir(&repo_root().join("examples").join(name), p.path());
        p
    }

    /// A copy of the FTL Go project `tests/go/<name>`.
    pub fn go(name: &str) -> TestProject {
        let p = TestProject {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            cache: tempfile::tempdir().expect("create a temporary directory"),
        };
        copy_dir(&repo_root().join("tests/go").join(name), p.path());
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

    /// `realm <args>` run in the project directory, with the project's cache.
    pub fn realm(&self, args: &[&str]) -> Run {
        run_realm_with(self.path(), args, &[("REALM_CACHE_DIR", self.cache.path())])
    }

    /// The cache directory `realm` uses for this project.
    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
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

/// Every file under `dir` (none when it cannot be read).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
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
    run_realm_with(dir, args, &[])
}

/// Runs `realm` in `dir` with extra environment variables.
pub fn run_realm_with(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut cmd = Command::cargo_bin("realm").expect("the realm binary is built");
    cmd.current_dir(dir)
        .args(args)
        .env_remove("REALM_CACHE_DIR");
    for (key, value) in env {
        cmd.env(key, value);
    }
    Run::from_output(cmd.output().expect("run realm"))
}

/// A realm project that is a git repository: what `realm add` pins.
pub struct GitRealm {
    pub dir: TempDir,
}

impl GitRealm {
    /// A repository holding `examples/<name>` (export included), committed
    /// on `main`.
    pub fn example(name: &str) -> GitRealm {
        let realm = GitRealm::empty("main");
        copy_dir(&repo_root().join("examples").join(name), realm.path());
        realm.commit(&format!("{name} realm"));
        realm
    }

    /// A repository holding the FTL Go project `tests/go/<name>`, its
    /// public API exported by the real binary, committed on `main`.
    pub fn go(name: &str) -> GitRealm {
        let realm = GitRealm::empty("main");
        copy_dir(&repo_root().join("tests/go").join(name), realm.path());
        realm.export();
        realm.commit(&format!("{name} realm"));
        realm
    }

    /// An empty repository whose HEAD is `branch`.
    pub fn empty(branch: &str) -> GitRealm {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head(branch);
        git2::Repository::init_opts(dir.path(), &options).expect("git init");
        GitRealm { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The repository as `realm add --git-repo` takes it.
    pub fn url(&self) -> String {
        self.path().display().to_string()
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

    /// Re-exports the public API with the real binary.
    pub fn export(&self) -> &Self {
        run_realm(self.path(), &["export"]).expect(0);
        self
    }

    /// Replaces `from` with `to` in `rel`, re-exports and commits.
    pub fn change(&self, rel: &str, from: &str, to: &str, message: &str) -> String {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
        self.export();
        self.commit(message)
    }

    /// Commits everything in the work tree on the current branch; returns
    /// the commit id.
    pub fn commit(&self, message: &str) -> String {
        let repo = git2::Repository::open(self.path()).expect("open repository");
        let mut index = repo.index().expect("index");
        index
            .add_all(
                ["*"],
                git2::IndexAddOption::DEFAULT | git2::IndexAddOption::FORCE,
                None,
            )
            .expect("git add");
        index.update_all(["*"], None).expect("git add (removals)");
        index.write().expect("write index");
        let tree = repo
            .find_tree(index.write_tree().expect("write tree"))
            .expect("tree");
        // Fixed, increasing commit times: the same test makes the same
        // commit ids on every run, so snapshots can show them.
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let seconds = parent
            .as_ref()
            .map_or(1_700_000_000, |p| p.time().seconds() + 60);
        let signature =
            git2::Signature::new("Test", "test@example.com", &git2::Time::new(seconds, 0))
                .expect("signature");
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .expect("commit")
        .to_string()
    }

    pub fn head(&self) -> String {
        let repo = git2::Repository::open(self.path()).expect("open repository");
        repo.head()
            .and_then(|h| h.peel_to_commit())
            .expect("HEAD commit")
            .id()
            .to_string()
    }

    /// Runs the git command line in the repository (for what git2 does not
    /// do: garbage collection).
    pub fn git(&self, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run git");
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}

/// Runs `body` with insta writing snapshots to the top-level `snapshots/`.
pub fn snapshots<R>(body: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repo_root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(body)
}
