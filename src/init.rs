//! `realm init`: the files of a new project, and writing them without
//! replacing anything.
//!
//! The project file is `ftl-project.toml.example` (embedded at build time)
//! with the realm's name filled in, and realm's settings file is
//! `realm.toml.example` as it is, so the documented examples and what
//! `realm init` writes cannot drift apart: every key is described, those
//! left at their default commented out. Next to them: a module directory
//! with one example module, and `.gitignore` lines for a git cache kept in
//! the project.
//!
//! Must never overwrite or delete a file it did not create: every path is
//! checked before the first write, new files are moved into place only if
//! nothing is there, and on a failure the files this run created are
//! removed again.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use crate::files;
use crate::project::{PROJECT_FILE, SETTINGS_FILE};
use crate::schema::is_ident;

/// `ftl-project.toml.example`: what `realm init` writes, name aside.
pub const TEMPLATE: &str = include_str!("../ftl-project.toml.example");

/// `realm.toml.example`: the `realm.toml` `realm init` writes.
pub const SETTINGS_TEMPLATE: &str = include_str!("../realm.toml.example");

/// The template's `name` line, replaced by the new realm's.
const TEMPLATE_NAME_LINE: &str = "\nname = \"shop\"\n";

/// The module directory of the template's `module-dirs`.
pub const MODULE_DIR: &str = "modules";

/// The example module, `modules/hello.ftl`.
pub const EXAMPLE_MODULE: &str = "\
// An example module: change it, or replace it with your own. Every `*.ftl`
// file under modules/ is schema text in FTL's syntax.
module hello {
  // Greets someone. `export realm` puts the verb in this realm's public API,
  // which `realm export` writes for other realms to pin.
  export realm verb greet(hello.GreetRequest) hello.GreetResponse

  export realm data GreetRequest {
    name String
  }

  export realm data GreetResponse {
    greeting String
  }
}
";

/// Where the example module goes.
pub const EXAMPLE_MODULE_PATH: &str = "modules/hello.ftl";

/// The `.gitignore` lines, added to an existing `.gitignore` when missing.
pub const GITIGNORE_ENTRY: &str = "/.realm-cache/";
const GITIGNORE_LINES: &str = "\
# realm's git cache, when a job keeps it in the project (REALM_CACHE_DIR=.realm-cache);
# by default it lives in the user's cache directory (~/.cache/realm).
/.realm-cache/
# realm serve's store of queued calls and idempotency keys ([ingress] store).
/.realm/
";

/// The project file of a new realm called `name` (an identifier).
pub fn project_file(name: &str) -> String {
    debug_assert!(is_ident(name));
    TEMPLATE.replacen(TEMPLATE_NAME_LINE, &format!("\nname = \"{name}\"\n"), 1)
}

/// The realm name a directory suggests: its name with `-`, `.` and spaces
/// as `_`, when that is an identifier.
pub fn name_for_dir(dir: &Path) -> Option<String> {
    let base = dir.file_name()?.to_str()?;
    let name: String = base
        .chars()
        .map(|c| if matches!(c, '-' | '.' | ' ') { '_' } else { c })
        .collect();
    is_ident(&name).then_some(name)
}

/// What happened to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    /// Lines added at its end (`.gitignore`).
    Extended,
    /// It already had what it needed.
    Kept,
}

/// One file of the new project, relative to its directory.
#[derive(Clone, Debug)]
pub struct InitFile {
    pub path: String,
    pub change: Change,
}

/// What `init` did.
#[derive(Clone, Debug)]
pub struct Initialized {
    /// The project directory.
    pub dir: PathBuf,
    pub name: String,
    pub files: Vec<InitFile>,
}

/// Makes `dir` (created when missing) a realm project called `name`.
/// Refuses, writing nothing, when `dir` already has `ftl-project.toml`,
/// `realm.toml` or the example module's file.
pub fn init(dir: &Path, name: &str) -> Result<Initialized> {
    if !is_ident(name) {
        bail!(
            "`{name}` is not a realm name\nhelp: use letters, digits and `_`, starting with a letter or `_`"
        );
    }
    if dir.exists() && !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    for rel in [PROJECT_FILE, SETTINGS_FILE, EXAMPLE_MODULE_PATH] {
        let path = dir.join(rel);
        if path.symlink_metadata().is_ok() {
            let shown = if dir == Path::new(".") {
                rel.to_string()
            } else {
                path.display().to_string()
            };
            bail!(
                "{shown} already exists; nothing was written\nhelp: realm init makes a new project; {}",
                if rel == PROJECT_FILE {
                    "this directory is one already"
                } else {
                    "move the file away first"
                }
            );
        }
    }
    let mut undo = Undo::default();
    let result = write_all(dir, name, &mut undo);
    if result.is_err() {
        undo.run();
    }
    let files = result?;
    Ok(Initialized {
        dir: dir.to_path_buf(),
        name: name.to_string(),
        files,
    })
}

fn write_all(dir: &Path, name: &str, undo: &mut Undo) -> Result<Vec<InitFile>> {
    undo.create_dir(dir)?;
    undo.create_dir(&dir.join(MODULE_DIR))?;
    // The project file last: a run that fails half-way never leaves what
    // looks like a project.
    undo.write_new(&dir.join(EXAMPLE_MODULE_PATH), EXAMPLE_MODULE)?;
    undo.write_new(&dir.join(SETTINGS_FILE), SETTINGS_TEMPLATE)?;
    undo.write_new(&dir.join(PROJECT_FILE), &project_file(name))?;
    let mut written = vec![
        InitFile {
            path: PROJECT_FILE.to_string(),
            change: Change::Created,
        },
        InitFile {
            path: SETTINGS_FILE.to_string(),
            change: Change::Created,
        },
        InitFile {
            path: EXAMPLE_MODULE_PATH.to_string(),
            change: Change::Created,
        },
    ];
    let gitignore = dir.join(".gitignore");
    let change = if gitignore.exists() {
        let text = files::read_text(&gitignore)?;
        if text.lines().any(|l| {
            let l = l.trim();
            l == GITIGNORE_ENTRY || l == ".realm-cache/" || l == ".realm-cache"
        }) {
            Change::Kept
        } else {
            let mut new = text;
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            if !new.is_empty() {
                new.push('\n');
            }
            new.push_str(GITIGNORE_LINES);
            // Through a symbolic link, the file it points to is extended
            // (replacing the link with a file would change what it is).
            let target = std::fs::canonicalize(&gitignore).unwrap_or_else(|_| gitignore.clone());
            files::write_atomic(&target, new.as_bytes())?;
            Change::Extended
        }
    } else {
        undo.write_new(&gitignore, GITIGNORE_LINES)?;
        Change::Created
    };
    written.push(InitFile {
        path: ".gitignore".to_string(),
        change,
    });
    Ok(written)
}

/// What this run created, removed again when a later step fails.
#[derive(Default)]
struct Undo {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Undo {
    fn create_dir(&mut self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        // Record each directory that does not exist yet, outermost first.
        let mut missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        files::create_dir_all(dir)?;
        self.dirs.extend(missing);
        Ok(())
    }

    fn write_new(&mut self, path: &Path, text: &str) -> Result<()> {
        files::write_new(path, text.as_bytes()).map_err(|e| {
            anyhow!("{e:#}; nothing was written\nhelp: realm init never replaces a file")
        })?;
        self.files.push(path.to_path_buf());
        Ok(())
    }

    fn run(self) {
        for file in self.files.iter().rev() {
            let _ = files::remove_file(file);
        }
        for dir in self.dirs.iter().rev() {
            files::remove_empty_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_names_its_realm_once() {
        assert_eq!(TEMPLATE.matches(TEMPLATE_NAME_LINE).count(), 1);
        let text = project_file("bank_eu");
        assert!(text.contains("\nname = \"bank_eu\"\n"));
        assert!(!text.contains("name = \"shop\""));
    }

    #[test]
    fn directory_names_become_realm_names() {
        assert_eq!(
            name_for_dir(Path::new("/x/my-shop")),
            Some("my_shop".into())
        );
        assert_eq!(name_for_dir(Path::new("bank.v2")), Some("bank_v2".into()));
        assert_eq!(name_for_dir(Path::new("/x/2fast")), None);
        assert_eq!(name_for_dir(Path::new("/")), None);
    }
}
