//! The project file, `ftl-project.toml`: finding it, reading it with a
//! position for every error, and editing its pins.
//!
//! Read with `toml_edit` so that spans are kept for diagnostics, and edited
//! with `toml_edit` so that a change to one pin leaves every comment, blank
//! line, key order and unrelated table of the file byte for byte as it was.
//! Keys `realm` does not know (FTL's own settings) are ignored.
//!
//! Edits ([`Project::edit`]) hold an exclusive lock on the project directory
//! while they re-read, change and atomically replace the file, so
//! concurrent `realm` runs serialize and none of their changes is lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use toml_edit::{Document, DocumentMut, Item, Table, TableLike, value};

use crate::files;
use crate::schema::Pos;
use crate::schema::diagnostic::{Diagnostic, Report, Sources, pos_at};
use crate::schema::is_ident;

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

/// Which table a pin is recorded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinTable {
    /// `[realms.egress.<name>]`, where `realm add` records pins.
    Egress,
    /// `[external-realms.<name>]`, the layout FTL's `ftl realm add` wrote.
    ExternalRealms,
}

/// An external realm pinned to a git commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The realm's name in this project (what `@name` refers to).
    pub name: String,
    /// `git-repo`: URL or path of the realm's repository.
    pub repo: String,
    /// `git-branch`: the branch `realm update` follows (the remote's HEAD
    /// branch when absent).
    pub branch: Option<String>,
    /// `git-commit`: the full commit id whose public API is used.
    pub commit: String,
    /// `git-path`: the schema file in the repository, when it is not the
    /// repository's `[realm] export`.
    pub path: Option<String>,
    /// Which table holds it.
    pub table: PinTable,
    /// Where it is written.
    pub pos: Option<Pos>,
}

impl Pin {
    /// The first 7 characters of the commit.
    pub fn short_commit(&self) -> &str {
        short_commit(&self.commit)
    }
}

/// The first 7 characters of a commit id, as git abbreviates it.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
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
    /// root (the first file when it lists several).
    pub export: String,
    /// Every file `[realm] export` names (a path or a list of paths), in
    /// order; the format of each is its extension's.
    pub exports: Vec<String>,
    /// `[realm] descriptor-set`: the protobuf descriptors of a realm made by
    /// `realm import`, relative to the root.
    pub descriptor_set: Option<String>,
    /// The pinned external realms, in file order.
    pub pins: Vec<Pin>,
    /// `config-provider = "file:PATH"`: a JSON object file of configuration
    /// values (relative to the root).
    pub config_file: Option<String>,
    /// `[ingress]`: how `realm serve` runs.
    pub ingress: IngressSettings,
}

/// `[ingress]` of ftl-project.toml. Absent keys are `None`: the ingress
/// supplies the defaults.
#[derive(Clone, Debug, Default)]
pub struct IngressSettings {
    /// `listen`: the address `realm serve` binds.
    pub listen: Option<String>,
    /// `[ingress.runners]`: module name (or `default`) → runner URL, where
    /// `${module}` stands for the module's name.
    pub runners: Vec<(String, String)>,
    /// `max-hops`: realms a call may cross.
    pub max_hops: Option<u32>,
    /// `max-body-size`: bytes of a request body.
    pub max_body_size: Option<u64>,
    /// `max-header-size`: bytes of a request's headers.
    pub max_header_size: Option<u64>,
    /// `header-timeout`: time a client has to send a request's headers.
    pub header_timeout: Option<Duration>,
    /// `request-timeout`: time a client has to send a request's body.
    pub request_timeout: Option<Duration>,
    /// `idle-timeout`: time a connection may stay open with no call in
    /// flight.
    pub idle_timeout: Option<Duration>,
    /// `upstream-timeout`: time an upstream has to answer.
    pub upstream_timeout: Option<Duration>,
    /// `upstream-concurrency`: calls in flight per upstream.
    pub upstream_concurrency: Option<u32>,
    /// `max-connections`: client connections open at once.
    pub max_connections: Option<u32>,
    /// `workers`: threads serving connections.
    pub workers: Option<u32>,
    /// `max-buffered`: bytes of request bodies held at once, all calls
    /// together.
    pub max_buffered: Option<u64>,
    /// `max-grpc-reply-size`: bytes of a gRPC runner's reply.
    pub max_grpc_reply_size: Option<u64>,
    /// `hub`: the realm that relays calls to realms without an endpoint.
    pub hub: Option<String>,
    /// `relay`: forward calls signed by other realms to further realms.
    pub relay: Option<bool>,
    /// `keys-file`: the JSON file of per-realm signing keys (a path, not a
    /// secret).
    pub keys_file: Option<String>,
    /// `replay-window`: how old a signed call may be.
    pub replay_window: Option<Duration>,
    /// `unsigned-egress`: who may send unsigned calls on to other realms
    /// when signing is on.
    pub unsigned_egress: Option<UnsignedEgress>,
    /// `[ingress.tls]`.
    pub tls: TlsSettings,
}

/// Who may call other realms through this ingress without signing, when
/// signed calls are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnsignedEgress {
    /// Loopback addresses only (runners on the same host or pod).
    Loopback,
    /// Loopback and private addresses. In a shared network (one cluster
    /// or VPC for several realms) that includes other realms' clients.
    Private,
    /// Anyone who can connect.
    Any,
    /// Nobody: every call must be signed.
    None,
}

/// `[ingress.tls]`: paths of PEM files, relative to the project root.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// `cert`: the listener's certificate chain.
    pub cert: Option<String>,
    /// `key`: its private key.
    pub key: Option<String>,
    /// `ca`: CAs trusted for https upstreams, besides the system's.
    pub ca: Vec<String>,
    /// `client-cert`: presented to upstreams that ask (mutual TLS).
    pub client_cert: Option<String>,
    /// `client-key`: its private key.
    pub client_key: Option<String>,
    /// `[ingress.tls.peers]`: realm → CA its client certificates chain to.
    pub peers: Vec<(String, String)>,
}

impl Project {
    /// Finds `ftl-project.toml` in `start` or the nearest parent directory
    /// that has one, and reads it.
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

    /// Reads `ftl-project.toml` in `root`.
    pub fn load(root: &Path) -> Result<Project> {
        let path = root.join(PROJECT_FILE);
        let text = files::read_text(&path)?;
        Ok(Project::parse(root, text)?)
    }

    /// Parses the text of this project's `ftl-project.toml`, pins included.
    /// Errors carry line and column.
    pub fn parse(root: &Path, text: String) -> Result<Project, Report> {
        parse(root, PROJECT_FILE, text, true)
    }

    /// Parses another realm's `ftl-project.toml` (read from its repository),
    /// named `label` in errors. Only what is needed to find its public API
    /// is read: `name` and `[realm] export`.
    pub fn parse_remote(label: &str, text: String) -> Result<Project, Report> {
        parse(Path::new(""), label, text, false)
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

    /// The path the public API is exported to (the first of
    /// [`Self::export_paths`]).
    pub fn export_path(&self) -> PathBuf {
        self.root.join(&self.export)
    }

    /// Every path the public API is exported to.
    pub fn export_paths(&self) -> Vec<PathBuf> {
        self.exports.iter().map(|e| self.root.join(e)).collect()
    }

    pub fn pin(&self, name: &str) -> Option<&Pin> {
        self.pins.iter().find(|p| p.name == name)
    }

    /// Changes `ftl-project.toml` under an exclusive lock: waits for other
    /// `realm` processes editing this project, re-reads the file, lets
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
            Project::parse(root, text.clone()).map_err(|r| {
                anyhow::anyhow!("internal error: an edit made {PROJECT_FILE} invalid:\n{r}")
            })?;
            files::write_atomic(&project.path(), text.as_bytes())?;
        }
        Ok(out)
    }
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

/// Records `pin` in the document: in the table that already holds a pin of
/// that name, else in a new `[realms.egress.<name>]` table at the end. Keys
/// of an existing table keep their order and formatting; unknown keys stay.
pub fn set_pin(doc: &mut DocumentMut, pin: &Pin) {
    let existing = ["external-realms"]
        .into_iter()
        .find(|t| doc.get(t).and_then(|x| x.get(&pin.name)).is_some());
    let table: &mut dyn TableLike = match existing {
        Some(outer) => doc[outer][&pin.name]
            .as_table_like_mut()
            .unwrap_or_else(|| unreachable!("checked by the parser: pins are tables")),
        None => {
            let realms = doc
                .entry("realms")
                .or_insert_with(|| implicit_table().into());
            let realms = realms
                .as_table_like_mut()
                .unwrap_or_else(|| unreachable!("checked by the parser: `realms` is a table"));
            let egress = realms
                .entry("egress")
                .or_insert_with(|| implicit_table().into());
            let egress = egress.as_table_like_mut().unwrap_or_else(|| {
                unreachable!("checked by the parser: `realms.egress` is a table")
            });
            egress
                .entry(&pin.name)
                .or_insert_with(|| Table::new().into())
                .as_table_like_mut()
                .unwrap_or_else(|| unreachable!("a table was just inserted"))
        }
    };
    set_key(table, "git-repo", &pin.repo);
    match &pin.branch {
        Some(branch) => set_key(table, "git-branch", branch),
        None => {
            table.remove("git-branch");
        }
    }
    set_key(table, "git-commit", &pin.commit);
    match &pin.path {
        Some(path) => set_key(table, "git-path", path),
        None => {
            table.remove("git-path");
        }
    }
}

/// Removes the pin named `name` from whichever table holds it. Returns
/// whether there was one.
pub fn remove_pin(doc: &mut DocumentMut, name: &str) -> bool {
    let mut removed = doc
        .get_mut("external-realms")
        .and_then(Item::as_table_like_mut)
        .and_then(|t| t.remove(name))
        .is_some();
    if let Some(egress) = doc
        .get_mut("realms")
        .and_then(|r| r.get_mut("egress"))
        .and_then(Item::as_table_like_mut)
    {
        removed |= egress.remove(name).is_some();
    }
    removed
}

fn implicit_table() -> Table {
    let mut t = Table::new();
    t.set_implicit(true);
    t
}

/// Sets a string key, keeping the key's decoration (comments, spacing) when
/// it exists.
fn set_key(table: &mut dyn TableLike, key: &str, text: &str) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = text.into();
            *existing.decor_mut() = decor;
        }
        None => {
            table.insert(key, value(text));
        }
    }
}

fn parse(root: &Path, label: &str, text: String, with_pins: bool) -> Result<Project, Report> {
    let fail = |d: Diagnostic, text: &str| Report::single(d, label, text);
    let doc = match Document::parse(text.as_str()) {
        Ok(doc) => doc,
        Err(e) => {
            let pos = e.span().map(|s| pos_at(label, &text, s.start));
            let message = e.message().trim_end().to_string();
            let d = Diagnostic::new(format!("invalid TOML: {message}"), pos);
            return Err(fail(d, &text));
        }
    };
    let reader = Reader { label, text: &text };
    let mut errors = Vec::new();

    let name = match doc.get("name") {
        None => {
            errors.push(
                Diagnostic::new(format!("{label} has no `name`"), None)
                    .with_context(label)
                    .with_help(
                        "add `name = \"<realm name>\"` at the top: the name of this project's realm",
                    ),
            );
            String::new()
        }
        Some(item) => match reader.string(item, "name") {
            Ok(name) if is_ident(&name) => name,
            Ok(name) => {
                errors.push(
                    reader
                        .at(item, format!("`name` {name:?} is not a valid realm name"))
                        .with_help(
                            "a realm name is letters, digits and `_`, starting with a letter or `_`",
                        ),
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
        Some(item) => match reader.module_dirs(item) {
            Ok(dirs) => dirs,
            Err(d) => {
                errors.push(d);
                Vec::new()
            }
        },
    };

    let mut exports = vec![DEFAULT_EXPORT.to_string()];
    let mut descriptor_set = None;
    match doc.get("realm") {
        None => {}
        Some(item) if item.is_table_like() => {
            if let Some(value) = item.get("descriptor-set") {
                match reader.string(value, "[realm] descriptor-set") {
                    Ok(path) if is_inside(&path) => descriptor_set = Some(path),
                    Ok(path) => errors.push(reader.at(
                        value,
                        format!(
                            "`[realm] descriptor-set` {path:?} is not a path inside the project"
                        ),
                    )),
                    Err(d) => errors.push(d),
                }
            }
            if let Some(value) = item.get("export") {
                // A path, or a list of paths.
                let values: Vec<&Item> = match value.as_array() {
                    Some(array) if array.is_empty() => {
                        errors.push(
                            reader
                                .at(value, "`[realm] export` lists no file")
                                .with_help("name at least one file, e.g. [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]"),
                        );
                        Vec::new()
                    }
                    Some(array) => array.iter().map(|_| value).collect(),
                    None => vec![value],
                };
                let strings: Vec<Result<String, Diagnostic>> = match value.as_array() {
                    Some(array) => array
                        .iter()
                        .map(|v| {
                            v.as_str().map(str::to_string).ok_or_else(|| {
                                reader.span_diag(
                                    v.span(),
                                    "`[realm] export` must be a path or a list of paths",
                                )
                            })
                        })
                        .collect(),
                    None => vec![reader.string(value, "[realm] export")],
                };
                let mut paths = Vec::new();
                for (value, path) in values.into_iter().zip(strings) {
                    match path {
                        Ok(path) if is_inside(&path) => paths.push(path),
                        Ok(path) => errors.push(
                            reader
                                .at(
                                    value,
                                    format!("`[realm] export` {path:?} is not a path inside the project"),
                                )
                                .with_help(
                                    "use a relative path without `..`, e.g. \"ftl-external-schema.txtpb\"",
                                ),
                        ),
                        Err(d) => errors.push(d),
                    }
                }
                if !paths.is_empty() {
                    exports = paths;
                }
            }
        }
        Some(item) => errors.push(
            reader
                .at(item, "`realm` must be a table")
                .with_help("write `[realm]` with `export = \"...\"` under it"),
        ),
    }

    let mut config_file = None;
    if let Some(item) = doc.get("config-provider") {
        match reader.string(item, "config-provider") {
            Ok(value) => match value.strip_prefix("file:") {
                Some(path) if is_inside(path) => config_file = Some(path.to_string()),
                _ => errors.push(
                    reader
                        .at(item, format!("`config-provider` {value:?} is not supported"))
                        .with_help("write `config-provider = \"file:<path of a JSON object file inside the project>\"`"),
                ),
            },
            Err(d) => errors.push(d),
        }
    }

    let ingress = match doc.get("ingress") {
        None => IngressSettings::default(),
        Some(item) if item.is_table_like() => reader.ingress(item, &mut errors),
        Some(item) => {
            errors.push(reader.at(item, "`ingress` must be a table"));
            IngressSettings::default()
        }
    };

    let mut pins = Vec::new();
    if with_pins {
        let egress = match doc.get("realms") {
            None => None,
            Some(realms) if realms.is_table_like() => match realms.get("egress") {
                None => None,
                Some(e) if e.is_table_like() => Some(e),
                Some(e) => {
                    errors.push(reader.at(e, "`realms.egress` must be a table"));
                    None
                }
            },
            Some(realms) => {
                errors.push(reader.at(realms, "`realms` must be a table"));
                None
            }
        };
        let external = match doc.get("external-realms") {
            Some(e) if !e.is_table_like() => {
                errors.push(reader.at(e, "`external-realms` must be a table"));
                None
            }
            other => other,
        };
        for (table, kind) in [
            (egress, PinTable::Egress),
            (external, PinTable::ExternalRealms),
        ] {
            let Some(table) = table.and_then(Item::as_table_like) else {
                continue;
            };
            for (name, item) in table.iter() {
                match reader.pin(table, name, item, kind) {
                    Ok(pin) => {
                        if let Some(first) = pins.iter().find(|p: &&Pin| p.name == pin.name) {
                            errors.push(
                                Diagnostic::new(
                                    format!("realm `{}` is pinned twice", pin.name),
                                    pin.pos.clone(),
                                )
                                .with_len(pin.name.len())
                                .with_help(format!(
                                    "it is also pinned{}; remove one of the two tables",
                                    first
                                        .pos
                                        .as_ref()
                                        .map_or_else(String::new, |p| format!(" at {p}"))
                                )),
                            );
                        } else {
                            pins.push(pin);
                        }
                    }
                    Err(d) => errors.push(d),
                }
            }
        }
        if let Some(pin) = pins.iter().find(|p| p.name == name) {
            errors.push(
                Diagnostic::new(
                    format!(
                        "realm `{}` is this project's own realm and cannot be pinned",
                        pin.name
                    ),
                    pin.pos.clone(),
                )
                .with_len(pin.name.len())
                .with_help("remove the pin"),
            );
        }
    }

    if !errors.is_empty() {
        let mut sources = Sources::new();
        sources.insert(label.to_string(), text.clone());
        return Err(Report::new(errors, sources));
    }
    Ok(Project {
        root: root.to_path_buf(),
        text,
        name,
        module_dirs,
        export: exports[0].clone(),
        exports,
        descriptor_set,
        pins,
        config_file,
        ingress,
    })
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

/// Whether `s` is a full hexadecimal commit id (SHA-1).
pub fn is_commit_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

const INGRESS_KEYS: &[&str] = &[
    "listen",
    "runners",
    "max-hops",
    "max-body-size",
    "max-header-size",
    "header-timeout",
    "request-timeout",
    "idle-timeout",
    "upstream-timeout",
    "upstream-concurrency",
    "max-connections",
    "workers",
    "max-buffered",
    "max-grpc-reply-size",
    "hub",
    "relay",
    "keys-file",
    "replay-window",
    "unsigned-egress",
    "tls",
];

const TLS_KEYS: &[&str] = &["cert", "key", "ca", "client-cert", "client-key", "peers"];

/// Reads typed values out of the TOML document with positions for errors.
struct Reader<'t> {
    label: &'t str,
    text: &'t str,
}

impl Reader<'_> {
    fn span_diag(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> Diagnostic {
        match span {
            Some(span) => Diagnostic::new(message, Some(pos_at(self.label, self.text, span.start)))
                .with_len(
                    self.text[span.clone()]
                        .lines()
                        .next()
                        .map_or(1, |l| l.chars().count()),
                ),
            None => Diagnostic::new(message, None).with_context(self.label),
        }
    }

    fn at(&self, item: &Item, message: impl Into<String>) -> Diagnostic {
        let span = item
            .span()
            .or_else(|| item.as_value().and_then(|v| v.span()));
        self.span_diag(span, message)
    }

    fn string(&self, item: &Item, key: &str) -> Result<String, Diagnostic> {
        item.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.at(item, format!("`{key}` must be a string")))
    }

    /// `[ingress]`, every problem pushed to `errors`.
    fn ingress(&self, item: &Item, errors: &mut Vec<Diagnostic>) -> IngressSettings {
        let mut s = IngressSettings::default();
        let Some(table) = item.as_table_like() else {
            return s;
        };
        for (key, value) in table.iter() {
            let label = format!("[ingress] {key}");
            let result = match key {
                "listen" => self.string(value, &label).and_then(|addr| {
                    if addr.parse::<std::net::SocketAddr>().is_ok() {
                        s.listen = Some(addr);
                        Ok(())
                    } else {
                        Err(self
                            .at(value, format!("`{label}` {addr:?} is not an address"))
                            .with_help("write an IP address and a port, e.g. \"127.0.0.1:8891\" or \"0.0.0.0:8891\""))
                    }
                }),
                "runners" => self.runners(value, &mut s.runners, errors),
                "max-hops" => self
                    .count(value, &label, 1, 64)
                    .map(|n| s.max_hops = Some(n as u32)),
                "max-body-size" => self.size(value, &label).map(|n| s.max_body_size = Some(n)),
                "max-header-size" => self.size(value, &label).and_then(|n| {
                    if n < 8192 {
                        Err(self.at(value, format!("`{label}` must be at least 8KiB")))
                    } else {
                        s.max_header_size = Some(n);
                        Ok(())
                    }
                }),
                "header-timeout" => self.duration(value, &label).map(|d| s.header_timeout = Some(d)),
                "request-timeout" => self.duration(value, &label).map(|d| s.request_timeout = Some(d)),
                "idle-timeout" => self.duration(value, &label).map(|d| s.idle_timeout = Some(d)),
                "upstream-timeout" => self.duration(value, &label).map(|d| s.upstream_timeout = Some(d)),
                "replay-window" => self.duration(value, &label).and_then(|d| {
                    if d < Duration::from_secs(1) {
                        Err(self.at(value, format!("`{label}` must be at least 1s")))
                    } else {
                        s.replay_window = Some(d);
                        Ok(())
                    }
                }),
                "upstream-concurrency" => self
                    .count(value, &label, 1, 1_000_000)
                    .map(|n| s.upstream_concurrency = Some(n as u32)),
                "max-connections" => self
                    .count(value, &label, 1, 1_000_000)
                    .map(|n| s.max_connections = Some(n as u32)),
                "workers" => self
                    .count(value, &label, 1, 1024)
                    .map(|n| s.workers = Some(n as u32)),
                "max-buffered" => self.size(value, &label).map(|n| s.max_buffered = Some(n)),
                "max-grpc-reply-size" => self
                    .size(value, &label)
                    .map(|n| s.max_grpc_reply_size = Some(n)),
                "hub" => self.string(value, &label).and_then(|name| {
                    if is_ident(&name) {
                        s.hub = Some(name);
                        Ok(())
                    } else {
                        Err(self.at(value, format!("`{label}` {name:?} is not a realm name")))
                    }
                }),
                "relay" => value
                    .as_bool()
                    .map(|b| s.relay = Some(b))
                    .ok_or_else(|| self.at(value, format!("`{label}` must be true or false"))),
                "keys-file" => self.string(value, &label).map(|p| s.keys_file = Some(p)),
                "unsigned-egress" => self.string(value, &label).and_then(|v| {
                    s.unsigned_egress = Some(match v.as_str() {
                        "loopback" => UnsignedEgress::Loopback,
                        "private" => UnsignedEgress::Private,
                        "any" => UnsignedEgress::Any,
                        "none" => UnsignedEgress::None,
                        _ => {
                            return Err(self
                                .at(value, format!("`{label}` {v:?} is not one of \"loopback\", \"private\", \"any\", \"none\"")));
                        }
                    });
                    Ok(())
                }),
                "tls" => self.tls(value, &mut s.tls, errors),
                other => Err(self.unknown_key(table, other, "ingress", INGRESS_KEYS)),
            };
            if let Err(d) = result {
                errors.push(d);
            }
        }
        s
    }

    fn runners(
        &self,
        item: &Item,
        runners: &mut Vec<(String, String)>,
        errors: &mut Vec<Diagnostic>,
    ) -> Result<(), Diagnostic> {
        let table = item
            .as_table_like()
            .ok_or_else(|| self.at(item, "`[ingress.runners]` must be a table"))?;
        for (module, url) in table.iter() {
            match self.string(url, &format!("[ingress.runners] {module}")) {
                Ok(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    runners.push((module.to_string(), u));
                }
                Ok(u) => errors.push(
                    self.at(
                        url,
                        format!("runner `{module}` {u:?} is not an http:// or https:// URL"),
                    )
                    .with_help("write e.g. \"http://127.0.0.1:8892\" or \"http://${module}:8892\""),
                ),
                Err(d) => errors.push(d),
            }
        }
        Ok(())
    }

    fn tls(
        &self,
        item: &Item,
        tls: &mut TlsSettings,
        errors: &mut Vec<Diagnostic>,
    ) -> Result<(), Diagnostic> {
        let table = item
            .as_table_like()
            .ok_or_else(|| self.at(item, "`[ingress.tls]` must be a table"))?;
        for (key, value) in table.iter() {
            let label = format!("[ingress.tls] {key}");
            let result = match key {
                "cert" => self.string(value, &label).map(|p| tls.cert = Some(p)),
                "key" => self.string(value, &label).map(|p| tls.key = Some(p)),
                "client-cert" => self
                    .string(value, &label)
                    .map(|p| tls.client_cert = Some(p)),
                "client-key" => self.string(value, &label).map(|p| tls.client_key = Some(p)),
                "ca" => match value.as_str() {
                    Some(p) => {
                        tls.ca = vec![p.to_string()];
                        Ok(())
                    }
                    None => value
                        .as_array()
                        .and_then(|a| {
                            a.iter()
                                .map(|v| v.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                        })
                        .map(|paths| tls.ca = paths)
                        .ok_or_else(|| {
                            self.at(
                                value,
                                format!("`{label}` must be a path or an array of paths"),
                            )
                        }),
                },
                "peers" => match value.as_table_like() {
                    Some(peers) => {
                        for (realm, path) in peers.iter() {
                            match self.string(path, &format!("[ingress.tls.peers] {realm}")) {
                                Ok(p) => tls.peers.push((realm.to_string(), p)),
                                Err(d) => errors.push(d),
                            }
                        }
                        Ok(())
                    }
                    None => Err(self.at(
                        value,
                        "`[ingress.tls.peers]` must be a table of realm = \"CA file\"",
                    )),
                },
                other => Err(self.unknown_key(table, other, "ingress.tls", TLS_KEYS)),
            };
            if let Err(d) = result {
                errors.push(d);
            }
        }
        if tls.cert.is_some() != tls.key.is_some() {
            errors.push(
                self.at(item, "`[ingress.tls]` needs both `cert` and `key`")
                    .with_help("name the PEM certificate chain and its private key, or neither"),
            );
        }
        if tls.client_cert.is_some() != tls.client_key.is_some() {
            errors.push(self.at(
                item,
                "`[ingress.tls]` needs both `client-cert` and `client-key`",
            ));
        }
        if !tls.peers.is_empty() && tls.cert.is_none() {
            errors.push(
                self.at(item, "`[ingress.tls.peers]` needs `cert` and `key`: client certificates are checked on a TLS listener"),
            );
        }
        Ok(())
    }

    fn unknown_key(
        &self,
        table: &dyn TableLike,
        key: &str,
        table_name: &str,
        known: &[&str],
    ) -> Diagnostic {
        let span = table.get_key_value(key).and_then(|(k, _)| k.span());
        let d = self.span_diag(span, format!("unknown key `{key}` in `[{table_name}]`"));
        match known
            .iter()
            .max_by(|a, b| strsim::jaro_winkler(key, a).total_cmp(&strsim::jaro_winkler(key, b)))
            .filter(|k| strsim::jaro_winkler(key, k) > 0.8)
        {
            Some(k) => d.with_help(format!("did you mean `{k}`?")),
            None => d.with_help(format!(
                "the keys of `[{table_name}]` are: {}",
                known.join(", ")
            )),
        }
    }

    fn duration(&self, item: &Item, key: &str) -> Result<Duration, Diagnostic> {
        let text = self.string(item, key)?;
        match crate::duration::parse(&text) {
            Ok(d) if d > Duration::from_secs(24 * 3600) => {
                Err(self.at(item, format!("`{key}` must be at most 24h")))
            }
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(self.at(item, format!("`{key}` must be longer than 0"))),
            Err(e) => Err(self.at(item, format!("`{key}`: {e}"))),
        }
    }

    fn count(&self, item: &Item, key: &str, min: i64, max: i64) -> Result<i64, Diagnostic> {
        match item.as_integer() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.at(
                item,
                format!("`{key}` must be a whole number from {min} to {max}"),
            )),
        }
    }

    /// A number of bytes: an integer or a string such as "64KiB", "4MiB".
    fn size(&self, item: &Item, key: &str) -> Result<u64, Diagnostic> {
        let bad = || {
            self.at(item, format!("`{key}` must be a size in bytes"))
                .with_help("write a number of bytes, or e.g. \"64KiB\" or \"4MiB\"")
        };
        if let Some(n) = item.as_integer() {
            return u64::try_from(n).ok().filter(|n| *n > 0).ok_or_else(bad);
        }
        let text = item.as_str().ok_or_else(bad)?;
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let scale: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" | "KB" | "K" => 1 << 10,
            "MiB" | "MB" | "M" => 1 << 20,
            "GiB" | "GB" | "G" => 1 << 30,
            _ => return Err(bad()),
        };
        n.checked_mul(scale).filter(|n| *n > 0).ok_or_else(bad)
    }

    fn module_dirs(&self, item: &Item) -> Result<Vec<ModuleDir>, Diagnostic> {
        let array = item
            .as_array()
            .ok_or_else(|| self.at(item, "`module-dirs` must be an array of strings"))?;
        array
            .iter()
            .map(|v| {
                let pos = v
                    .span()
                    .map(|span| pos_at(self.label, self.text, span.start));
                match v.as_str() {
                    Some(path) => Ok(ModuleDir {
                        path: path.to_string(),
                        pos,
                    }),
                    None => {
                        Err(self.span_diag(v.span(), "`module-dirs` must be an array of strings"))
                    }
                }
            })
            .collect()
    }

    fn pin(
        &self,
        parent: &dyn TableLike,
        name: &str,
        item: &Item,
        table: PinTable,
    ) -> Result<Pin, Diagnostic> {
        let key_span = parent.get_key_value(name).and_then(|(k, _)| k.span());
        let prefix = match table {
            PinTable::Egress => "realms.egress",
            PinTable::ExternalRealms => "external-realms",
        };
        let at_name = |message: String| self.span_diag(key_span.clone(), message);
        if !is_ident(name) {
            return Err(
                at_name(format!("`{name}` is not a valid realm name")).with_help(
                    "a realm name is letters, digits and `_`, starting with a letter or `_`",
                ),
            );
        }
        let Some(t) = item.as_table_like() else {
            return Err(self.at(item, format!("`{prefix}.{name}` must be a table")));
        };
        let field = |key: &str| -> Result<Option<String>, Diagnostic> {
            t.get(key).map(|v| self.string(v, key)).transpose()
        };
        let missing = |key: &str, example: &str| {
            at_name(format!("pin `{prefix}.{name}` has no `{key}`")).with_help(format!(
                "add `{key} = {example}`, or run `realm remove {name}` and `realm add` again"
            ))
        };
        let repo = field("git-repo")?.ok_or_else(|| missing("git-repo", "\"<url>\""))?;
        let commit =
            field("git-commit")?.ok_or_else(|| missing("git-commit", "\"<40-hex commit>\""))?;
        if !is_commit_id(&commit) {
            let item = t.get("git-commit").unwrap_or(item);
            return Err(self
                .at(item, format!("`git-commit` {commit:?} is not a full commit id"))
                .with_help(format!(
                    "pin a full 40-character commit id; `realm update {name}` pins the branch's head"
                )));
        }
        let path = field("git-path")?;
        if let Some(p) = &path
            && !is_inside(p)
        {
            let item = t.get("git-path").unwrap_or(item);
            return Err(self
                .at(item, format!("`git-path` {p:?} leaves the repository"))
                .with_help("give a path relative to the repository root, without `..`"));
        }
        Ok(Pin {
            name: name.to_string(),
            repo,
            branch: field("git-branch")?,
            commit: commit.to_ascii_lowercase(),
            path,
            table,
            pos: key_span.map(|s| pos_at(self.label, self.text, s.start)),
        })
    }
}
