//! The project file, `ftl-project.toml`: finding it, reading it with
//! positions for every error.
//!
//! Read with `toml_edit` so that spans are kept for diagnostics and so that
//! edits (pins) can later change one table and leave every comment, blank
//! line and key order of the rest of the file as it was. Keys `realm` does not
//! know (FTL's own settings) are ignored.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use toml_edit::{Document, Item};

use crate::files;
use crate::schema::Pos;
use crate::schema::diagnostic::{Diagnostic, Report, pos_at};
use crate::schema::proto::is_ident;

/// The project file's name, at the project root.
pub const PROJECT_FILE: &str = "ftl-project.toml";

/// Where `realm export` writes the public API unless `[realm] export` says.
pub const DEFAULT_EXPORT: &str = "ftl-external-schema.txtpb";

/// One entry of `module-dirs`.
#[derive(Clone, Debug)]
pub struct ModuleDir {
    /// Relative to the project root.
    pub path: String,
    /// Where it is written in `ftl-project.toml` (none for the default).
    pub pos: Option<Pos>,
}

/// A project: its root directory and what `ftl-project.toml` says.
#[derive(Clone, Debug)]
pub struct Project {
    /// The directory holding `ftl-project.toml`.
    pub root: PathBuf,
    /// The text of `ftl-project.toml`, for diagnostics and edits.
    pub text: String,
    /// `name`: the internal realm's name.
    pub name: String,
    /// `module-dirs`: where local modules live, relative to the root.
    pub module_dirs: Vec<ModuleDir>,
    /// `[realm] export`: where the public API is written, relative to the
    /// root.
    pub export: String,
}

impl Project {
    /// Finds `ftl-project.toml` in `start` or the nearest parent directory
    /// that has one, and reads it.
    pub fn discover(start: &Path) -> Result<Project> {
        let start = start
            .canonicalize()
            .with_context(|| format!("cannot open directory {}", start.display()))?;
        for dir in start.ancestors() {
            if dir.join(PROJECT_FILE).is_file() {
                return Project::load(dir);
            }
        }
        anyhow::bail!(
            "no {PROJECT_FILE} in {} or any parent directory\n\
             help: run realm inside a project, pass `-C <project dir>`, or create {PROJECT_FILE} (see ftl-project.toml.example)",
            start.display()
        )
    }

    /// Reads `ftl-project.toml` in `root`.
    pub fn load(root: &Path) -> Result<Project> {
        let path = root.join(PROJECT_FILE);
        let text = files::read_text(&path)?;
        Ok(Project::parse(root, text)?)
    }

    /// Parses the text of `ftl-project.toml`. Errors carry line and column.
    pub fn parse(root: &Path, text: String) -> Result<Project, Report> {
        let fail = |d: Diagnostic, text: &str| Report::single(d, PROJECT_FILE, text);
        let doc = match Document::parse(text.as_str()) {
            Ok(doc) => doc,
            Err(e) => {
                let pos = e.span().map(|s| pos_at(PROJECT_FILE, &text, s.start));
                let message = e.message().trim_end().to_string();
                let d = Diagnostic::new(format!("invalid TOML: {message}"), pos);
                return Err(fail(d, &text));
            }
        };
        let reader = Reader { text: &text };
        let mut errors = Vec::new();

        let name = match doc.get("name") {
            None => {
                errors.push(
                    Diagnostic::new(format!("{PROJECT_FILE} has no `name`"), None)
                        .with_context(PROJECT_FILE)
                        .with_help("add `name = \"<realm name>\"` at the top: the name of this project's realm"),
                );
                String::new()
            }
            Some(item) => match reader.string(item, "name") {
                Ok(name) if is_ident(&name) => name,
                Ok(name) => {
                    errors.push(
                        reader
                            .at(item, format!("`name` {name:?} is not a valid realm name"))
                            .with_help("a realm name is letters, digits and `_`, starting with a letter or `_`"),
                    );
                    String::new()
                }
                Err(d) => {
                    errors.push(d);
                    String::new()
                }
            },
        };

        let module_dirs = match doc.get("module-dirs") {
            None => vec![ModuleDir {
                path: ".".to_string(),
                pos: None,
            }],
            Some(item) => match reader.strings(item, "module-dirs") {
                Ok(dirs) => dirs,
                Err(d) => {
                    errors.push(d);
                    Vec::new()
                }
            },
        };

        let mut export = DEFAULT_EXPORT.to_string();
        match doc.get("realm") {
            None => {}
            Some(item) if item.is_table_like() => {
                if let Some(value) = item.get("export") {
                    match reader.string(value, "[realm] export") {
                        Ok(path) if is_inside(&path) => export = path,
                        Ok(path) => errors.push(
                            reader
                                .at(value, format!("`[realm] export` {path:?} is not a path inside the project"))
                                .with_help("use a relative path without `..`, e.g. \"ftl-external-schema.txtpb\""),
                        ),
                        Err(d) => errors.push(d),
                    }
                }
            }
            Some(item) => errors.push(
                reader
                    .at(item, "`realm` must be a table")
                    .with_help("write `[realm]` with `export = \"...\"` under it"),
            ),
        }

        if !errors.is_empty() {
            let mut sources = crate::schema::Sources::new();
            sources.insert(PROJECT_FILE.to_string(), text.clone());
            return Err(Report::new(errors, sources));
        }
        Ok(Project {
            root: root.to_path_buf(),
            text,
            name,
            module_dirs,
            export,
        })
    }

    /// The path of `ftl-project.toml`.
    pub fn path(&self) -> PathBuf {
        self.root.join(PROJECT_FILE)
    }

    /// The path the public API is exported to.
    pub fn export_path(&self) -> PathBuf {
        self.root.join(&self.export)
    }
}

/// Whether `path` is relative and stays inside the directory it is relative
/// to.
pub fn is_inside(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// Reads typed values out of the TOML document with positions for errors.
struct Reader<'t> {
    text: &'t str,
}

impl Reader<'_> {
    fn at(&self, item: &Item, message: impl Into<String>) -> Diagnostic {
        let span = item
            .span()
            .or_else(|| item.as_value().and_then(|v| v.span()));
        match span {
            Some(span) => {
                Diagnostic::new(message, Some(pos_at(PROJECT_FILE, self.text, span.start)))
                    .with_len(
                        self.text[span.clone()]
                            .lines()
                            .next()
                            .map_or(1, |l| l.chars().count()),
                    )
            }
            None => Diagnostic::new(message, None).with_context(PROJECT_FILE),
        }
    }

    fn string(&self, item: &Item, key: &str) -> Result<String, Diagnostic> {
        item.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.at(item, format!("`{key}` must be a string")))
    }

    fn strings(&self, item: &Item, key: &str) -> Result<Vec<ModuleDir>, Diagnostic> {
        let array = item
            .as_array()
            .ok_or_else(|| self.at(item, format!("`{key}` must be an array of strings")))?;
        array
            .iter()
            .map(|v| {
                let pos = v
                    .span()
                    .map(|span| pos_at(PROJECT_FILE, self.text, span.start));
                match v.as_str() {
                    Some(path) => Ok(ModuleDir {
                        path: path.to_string(),
                        pos,
                    }),
                    None => {
                        let d = Diagnostic::new(
                            format!("`{key}` must be an array of strings"),
                            pos.clone(),
                        );
                        Err(if pos.is_none() {
                            d.with_context(PROJECT_FILE)
                        } else {
                            d
                        })
                    }
                }
            })
            .collect()
    }
}
