//! The project's files: `ftl-project.toml` (FTL's project file: `name`,
//! `module-dirs`, `config-provider`, the pins in `[external-realms]`) and
//! `realm.toml` beside it (realm's own settings: `[realm]`, `[ingress...]`).
//! Finding them, reading them with a position for every error, and editing
//! the pins.
//!
//! FTL refuses any key its project file does not know, so realm's settings
//! live in `realm.toml`. Projects made by earlier versions of `realm` keep
//! `[realm]`, `[ingress...]` and `[realms.egress.*]` in `ftl-project.toml`:
//! they are still read, each with a warning naming `realm migrate`, which
//! moves them ([`migrate`]); a key set in both files is an error.
//!
//! Read with `toml_edit` so that spans are kept for diagnostics, and edited
//! with `toml_edit` (or, for a new pin table, by inserting its text where
//! it belongs) so that a change to one pin leaves every comment, blank
//! line, key order and unrelated table of the file byte for byte as it was.
//! Keys of FTL's that `realm` does not use are ignored; keys `realm` does
//! not know in tables it owns are warnings.
//!
//! Edits ([`Project::edit`]) hold an exclusive lock on the project directory
//! while they re-read, change and atomically replace the file, so
//! concurrent `realm` runs serialize and none of their changes is lost.
//!
//! One job per file: `mod.rs` the [`Project`] (discovery, loading, the
//! locked edit), `model.rs` the settings as values, `read.rs` reading the
//! files as a whole, `reader.rs` the typed values with positions,
//! `edit.rs` the pin edits, `keys.rs` the realm's public keys (their
//! format and the edits of `realm.toml` that add and retire them),
//! `migrate.rs` `realm migrate`, `imported.rs`
//! the files of a realm `realm import` made.

mod edit;
mod imported;
mod keys;
mod migrate;
mod model;
mod read;
mod reader;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml_edit::DocumentMut;

use crate::files;
use crate::schema::diagnostic::{Diagnostic, Report, Sources};

pub use edit::{insert_pin, remove_caller_pin, remove_pin, set_pin};
pub use imported::{Imported, write_imported};
pub use keys::{KEY_ALGORITHM, add_public_key, key_entry, key_id, parse_key_entry, retire_key};
pub use migrate::{Migrated, migrate};
pub use model::{
    DeliverySettings, IngressSettings, ModuleDir, Pin, PinTable, RealmKey, TlsSettings,
    UnsignedEgress, short_commit,
};
pub use read::{RemoteProject, parse_remote};

/// The project file's name, at the project root.
pub const PROJECT_FILE: &str = "ftl-project.toml";

/// realm's settings file, beside the project file.
pub const SETTINGS_FILE: &str = "realm.toml";

/// Where `realm export` writes the public API unless `[realm] export` says.
pub const DEFAULT_EXPORT: &str = "ftl-external-schema.txtpb";

/// Where `realm export` writes what the realm uses of the realms it pins
/// unless `[realm] usage` says (`schema::usage`).
pub const DEFAULT_USAGE: &str = "ftl-realm-usage.json";

/// The schema file FTL's `ftl realm add` reads when not told otherwise.
pub const FTL_DEFAULT_EXPORT: &str = "ftl-external-schema.json";

/// The table of `realm.toml` that pins the realms calling this one
/// ([`PinTable::CallerRealms`]).
const CALLER_TABLE: &str = "caller-realms";

/// The keys of a pin table.
const PIN_KEYS: &[&str] = &["git-repo", "git-branch", "git-commit", "git-path"];

/// The tables of realm's own that earlier versions kept in
/// `ftl-project.toml`.
const LEGACY_SETTINGS: &[&str] = &["realm", "ingress"];

/// A project: its root directory and what `ftl-project.toml` and
/// `realm.toml` say.
#[derive(Clone, Debug)]
pub struct Project {
    /// The directory holding `ftl-project.toml`.
    pub root: PathBuf,
    /// The text of `ftl-project.toml`, for diagnostics and edits.
    pub text: String,
    /// The text of `realm.toml`, when there is one.
    pub settings_text: Option<String>,
    /// `name`: the internal realm's name.
    pub name: String,
    /// `module-dirs`: where local modules live, relative to the root.
    pub module_dirs: Vec<ModuleDir>,
    /// `[realm] export`: where the public API is written, relative to the
    /// root: a path or a list of paths, as written (empty when not set:
    /// then [`DEFAULT_EXPORT`]). See [`Project::export_paths`].
    pub export: Vec<String>,
    /// `[realm] descriptor-set`: the protobuf descriptors of a realm made by
    /// `realm import`, relative to the root.
    pub descriptor_set: Option<String>,
    /// `[realm] usage`: where `realm export` writes what this realm uses of
    /// the realms it pins, relative to the root (else [`DEFAULT_USAGE`]).
    pub usage: Option<String>,
    /// `[realm] public-keys` then `retired-keys`: this realm's keys.
    pub keys: Vec<RealmKey>,
    /// The pinned external realms, in file order: the realms this one
    /// calls, what `@realm` references resolve against.
    pub pins: Vec<Pin>,
    /// `[caller-realms.<name>]` of `realm.toml`: the realms that call this
    /// one, pinned for their public keys and usage files, in file order.
    /// Kept apart from [`Project::pins`]: nothing that resolves `@realm`
    /// references or loads pinned schemas sees them.
    pub callers: Vec<Pin>,
    /// `config-provider = "file:PATH"`: a JSON object file of configuration
    /// values (relative to the root).
    pub config_file: Option<String>,
    /// `[ingress]`: how `realm serve` runs.
    pub ingress: IngressSettings,
    /// The file `[ingress]` was read from: [`SETTINGS_FILE`], or
    /// [`PROJECT_FILE`] in the older layout.
    pub ingress_file: &'static str,
    /// What does not stop the load: keys realm does not know in its own
    /// tables, settings in the older layout. Positions name the file.
    pub warnings: Vec<Diagnostic>,
}

impl Project {
    /// Finds `ftl-project.toml` in `start` or the nearest parent directory
    /// that has one, and reads it (and `realm.toml` beside it).
    pub fn discover(start: &Path) -> Result<Project> {
        let start = start
            .canonicalize()
            .with_context(|| format!("cannot open directory {}", start.display()))?;
        for dir in start.ancestors() {
            let path = dir.join(PROJECT_FILE);
            if path.is_file() {
                return Project::load(dir);
            }
            if path.exists() {
                anyhow::bail!(
                    "{} is not a file\nhelp: {PROJECT_FILE} must be the project file; move whatever is there away",
                    path.display()
                );
            }
        }
        anyhow::bail!(
            "no {PROJECT_FILE} in {} or any parent directory\n\
             help: run realm inside a project or pass `-C <project dir>`; `realm init` makes a new project here",
            start.display()
        )
    }

    /// Reads `ftl-project.toml` and `realm.toml` (when there is one) in
    /// `root`.
    pub fn load(root: &Path) -> Result<Project> {
        let text = files::read_text(&root.join(PROJECT_FILE))?;
        let settings = read_settings_file(root)?;
        Ok(Project::parse_with_settings(root, text, settings)?)
    }

    /// Parses the text of this project's `ftl-project.toml` alone (no
    /// `realm.toml`), pins included. Errors carry line and column.
    pub fn parse(root: &Path, text: String) -> Result<Project, Report> {
        read::parse(root, text, None)
    }

    /// Parses `ftl-project.toml` and, when there is one, `realm.toml`.
    pub fn parse_with_settings(
        root: &Path,
        text: String,
        settings: Option<String>,
    ) -> Result<Project, Report> {
        read::parse(root, text, settings)
    }

    /// The directories of `module-dirs`, resolved: each must exist, be a
    /// directory and lie inside the project root once symbolic links are
    /// followed (`".."`, `"/"` or a link out of the project would make
    /// `realm` read files that are not the project's). Errors point at the
    /// entry in `ftl-project.toml`.
    pub fn module_dir_paths(&self) -> Result<Vec<PathBuf>, Report> {
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone());
        let mut errors = Vec::new();
        let mut paths = Vec::new();
        for dir in &self.module_dirs {
            let fail = |message: String, help: &str| {
                Diagnostic::new(message, dir.pos.clone())
                    .with_len(dir.path.chars().count() + 2)
                    .with_label("listed in `module-dirs`")
                    .with_help(help.to_string())
            };
            let path = self.root.join(&dir.path);
            match path.canonicalize() {
                Err(_) => errors.push(fail(
                    format!("module directory `{}` does not exist", dir.path),
                    "create the directory or fix `module-dirs`",
                )),
                Ok(real) if !real.starts_with(&root) => errors.push(fail(
                    format!(
                        "module directory `{}` is outside the project (it is {})",
                        dir.path,
                        real.display()
                    ),
                    "`module-dirs` names directories inside the project root, such as \"modules\"; move or copy the modules into the project",
                )),
                Ok(real) if !real.is_dir() => errors.push(fail(
                    format!("module directory `{}` is a file, not a directory", dir.path),
                    "name the directory that holds the module files",
                )),
                Ok(_) => paths.push(path),
            }
        }
        if errors.is_empty() {
            Ok(paths)
        } else {
            Err(Report::new(
                errors,
                Sources::from([(PROJECT_FILE.to_string(), self.text.clone())]),
            ))
        }
    }

    /// The path of `ftl-project.toml`.
    pub fn path(&self) -> PathBuf {
        self.root.join(PROJECT_FILE)
    }

    /// The path of `realm.toml` (which may not exist).
    pub fn settings_path(&self) -> PathBuf {
        self.root.join(SETTINGS_FILE)
    }

    /// The first path the public API is exported to.
    pub fn export_path(&self) -> PathBuf {
        self.root
            .join(self.export.first().map_or(DEFAULT_EXPORT, String::as_str))
    }

    /// Where `realm export` writes the usage file.
    pub fn usage_path(&self) -> PathBuf {
        self.root
            .join(self.usage.as_deref().unwrap_or(DEFAULT_USAGE))
    }

    /// Every path the public API is exported to (`[realm] export`, a path
    /// or a list of paths; [`DEFAULT_EXPORT`] when not set), resolved
    /// against the project root.
    pub fn export_paths(&self) -> Vec<PathBuf> {
        if self.export.is_empty() {
            vec![self.root.join(DEFAULT_EXPORT)]
        } else {
            self.export.iter().map(|p| self.root.join(p)).collect()
        }
    }

    pub fn pin(&self, name: &str) -> Option<&Pin> {
        self.pins.iter().find(|p| p.name == name)
    }

    /// The caller pin named `name` (`[caller-realms.<name>]`).
    pub fn caller(&self, name: &str) -> Option<&Pin> {
        self.callers.iter().find(|p| p.name == name)
    }

    /// The table `realm add` records a new pin in: the older
    /// `[realms.egress]` when the file already uses it, else FTL's
    /// `[external-realms]`.
    pub fn new_pin_table(&self) -> PinTable {
        if self.pins.iter().any(|p| p.table == PinTable::Egress) {
            PinTable::Egress
        } else {
            PinTable::ExternalRealms
        }
    }

    /// The texts of the project's files, by the names positions use.
    pub fn sources(&self) -> Sources {
        let mut sources = Sources::from([(PROJECT_FILE.to_string(), self.text.clone())]);
        if let Some(text) = &self.settings_text {
            sources.insert(SETTINGS_FILE.to_string(), text.clone());
        }
        sources
    }

    /// The warnings, rendered with their lines (none when there are none).
    pub fn warnings_report(&self) -> Option<Report> {
        (!self.warnings.is_empty()).then(|| Report::new(self.warnings.clone(), self.sources()))
    }

    /// Changes `ftl-project.toml` under an exclusive lock: waits for other
    /// `realm` processes editing this project, re-reads the files, lets
    /// `change` edit the document (with the project as it is now), then
    /// writes the result atomically if it differs. Nothing is written when
    /// `change` fails.
    pub fn edit<T>(
        root: &Path,
        change: impl FnOnce(&Project, &mut DocumentMut) -> Result<T>,
    ) -> Result<T> {
        let _lock = lock_dir(root)?;
        let project = Project::load(root)?;
        let mut doc: DocumentMut = project
            .text
            .parse()
            .with_context(|| format!("cannot parse {PROJECT_FILE}"))?;
        let out = change(&project, &mut doc)?;
        let text = doc.to_string();
        if text != project.text {
            // Check what we write before replacing the file.
            Project::parse_with_settings(root, text.clone(), project.settings_text.clone())
                .map_err(|r| {
                    anyhow::anyhow!("internal error: an edit made {PROJECT_FILE} invalid:\n{r}")
                })?;
            files::write_atomic(&project.path(), text.as_bytes())?;
        }
        Ok(out)
    }
}

impl Project {
    /// Changes the pins of both files under one lock: `change` edits
    /// `ftl-project.toml`'s document and `realm.toml`'s (empty when there
    /// is none), with the project as it is now; what changed is checked to
    /// read, then written atomically, `realm.toml` first (put back when
    /// `ftl-project.toml` then cannot be written). Nothing is written when
    /// `change` fails or the result does not read.
    pub fn edit_pins<T>(
        root: &Path,
        change: impl FnOnce(&Project, &mut DocumentMut, &mut DocumentMut) -> Result<T>,
    ) -> Result<T> {
        let _lock = lock_dir(root)?;
        let project = Project::load(root)?;
        let mut doc: DocumentMut = project
            .text
            .parse()
            .with_context(|| format!("cannot parse {PROJECT_FILE}"))?;
        let old_settings = project.settings_text.clone().unwrap_or_default();
        let mut settings: DocumentMut = old_settings
            .parse()
            .with_context(|| format!("cannot parse {SETTINGS_FILE}"))?;
        let out = change(&project, &mut doc, &mut settings)?;
        let text = doc.to_string();
        let settings_text = settings.to_string();
        let settings_changed = settings_text != old_settings;
        let settings_new = if settings_changed {
            Some(settings_text)
        } else {
            project.settings_text.clone()
        };
        if text == project.text && !settings_changed {
            return Ok(out);
        }
        Project::parse_with_settings(root, text.clone(), settings_new.clone()).map_err(|r| {
            anyhow::anyhow!(
                "internal error: an edit made {PROJECT_FILE} or {SETTINGS_FILE} invalid:\n{r}"
            )
        })?;
        let settings_path = project.settings_path();
        if settings_changed && let Some(new) = &settings_new {
            files::write_atomic(&settings_path, new.as_bytes())?;
        }
        if text != project.text
            && let Err(e) = files::write_atomic(&project.path(), text.as_bytes())
        {
            if settings_changed {
                let _ = match &project.settings_text {
                    Some(old) => files::write_atomic(&settings_path, old.as_bytes()),
                    None => files::remove_file(&settings_path),
                };
            }
            return Err(e);
        }
        Ok(out)
    }
}

/// `realm.toml` in `root`, when there is one.
fn read_settings_file(root: &Path) -> Result<Option<String>> {
    let path = root.join(SETTINGS_FILE);
    if path.is_file() {
        return Ok(Some(files::read_text(&path)?));
    }
    if path.symlink_metadata().is_ok() {
        bail!(
            "{} is not a file\nhelp: {SETTINGS_FILE} holds realm's settings beside {PROJECT_FILE}; move whatever is there away",
            path.display()
        );
    }
    Ok(None)
}

/// Locks the project directory itself (not a file in it: the project file
/// is replaced by rename, and a lock file would be litter).
fn lock_dir(root: &Path) -> Result<std::fs::File> {
    let dir =
        std::fs::File::open(root).with_context(|| format!("cannot open {}", root.display()))?;
    dir.lock()
        .with_context(|| format!("cannot lock {}", root.display()))?;
    Ok(dir)
}

pub use crate::files::is_inside;

/// Whether `s` is a full hexadecimal commit id (SHA-1).
pub fn is_commit_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
