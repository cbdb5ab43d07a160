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

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use toml_edit::{Document, DocumentMut, Item, Table, TableLike, value};

use crate::files;
use crate::schema::Pos;
use crate::schema::diagnostic::{Diagnostic, Report, Sources, pos_at};
use crate::schema::is_ident;

/// The project file's name, at the project root.
pub const PROJECT_FILE: &str = "ftl-project.toml";

/// realm's settings file, beside the project file.
pub const SETTINGS_FILE: &str = "realm.toml";

/// Where `realm export` writes the public API unless `[realm] export` says.
pub const DEFAULT_EXPORT: &str = "ftl-external-schema.txtpb";

/// The schema file FTL's `ftl realm add` reads when not told otherwise.
pub const FTL_DEFAULT_EXPORT: &str = "ftl-external-schema.json";

/// The keys of a pin table.
const PIN_KEYS: &[&str] = &["git-repo", "git-branch", "git-commit", "git-path"];

/// The tables of realm's own that earlier versions kept in
/// `ftl-project.toml`.
const LEGACY_SETTINGS: &[&str] = &["realm", "ingress"];
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
    /// `[realms.egress.<name>]`, where earlier versions of `realm` recorded
    /// pins (FTL refuses it; `realm migrate` moves them).
    Egress,
    /// `[external-realms.<name>]`, FTL's table, where `realm add` records
    /// pins (unless the file uses the older table).
    ExternalRealms,
}

impl PinTable {
    /// `external-realms`, `realms.egress`.
    pub fn prefix(self) -> &'static str {
        match self {
            PinTable::Egress => "realms.egress",
            PinTable::ExternalRealms => "external-realms",
        }
    }
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
    /// The pinned external realms, in file order.
    pub pins: Vec<Pin>,
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

/// `[ingress]` of realm.toml. Absent keys are `None`: the ingress
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
    /// `ftl-endpoint`: an FTL cluster's verb service, for local modules
    /// without a runner.
    pub ftl_endpoint: Option<String>,
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
        parse(root, text, None)
    }

    /// Parses `ftl-project.toml` and, when there is one, `realm.toml`.
    pub fn parse_with_settings(
        root: &Path,
        text: String,
        settings: Option<String>,
    ) -> Result<Project, Report> {
        parse(root, text, settings)
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

/// What `realm import` records about the realm it generated.
#[derive(Clone, Copy, Debug)]
pub struct Imported<'a> {
    /// Where it came from, for the files' header comments.
    pub source: &'a str,
    pub name: &'a str,
    /// The directory of its schema files (`module-dirs`).
    pub module_dir: &'a str,
    /// Its descriptor set (`[realm] descriptor-set`).
    pub descriptor_set: &'a str,
    /// The server imported from: the default runner, unless one is set.
    pub runner: Option<&'a str>,
}

/// Writes the project files of a realm made by `realm import` in `root`:
/// `ftl-project.toml` (FTL's keys) and `realm.toml` (realm's settings),
/// created or their keys updated in place (everything else kept), both or
/// neither, under the project's lock.
pub fn write_imported(root: &Path, import: &Imported<'_>) -> Result<()> {
    let _lock = lock_dir(root)?;
    let project_path = root.join(PROJECT_FILE);
    let settings_path = root.join(SETTINGS_FILE);
    let read_doc = |path: &Path, new: String| -> Result<toml_edit::DocumentMut> {
        let text = if path.exists() {
            files::read_text(path)?
        } else {
            new
        };
        text.parse()
            .with_context(|| format!("cannot parse {}", path.display()))
    };
    let mut doc = read_doc(
        &project_path,
        format!(
            "# A realm generated by `realm import` from {}.\n\
             # Re-run the import to refresh it; change the services, not these files.\n\
             # realm's own settings are in realm.toml.\n\
             name = \"\"\nmodule-dirs = []\n",
            import.source
        ),
    )?;
    let mut settings = read_doc(
        &settings_path,
        format!(
            "# realm's settings of the realm generated by `realm import` from {}.\n\n[realm]\n",
            import.source
        ),
    )?;
    doc["name"] = toml_edit::value(import.name);
    let mut dirs = toml_edit::Array::new();
    dirs.push(import.module_dir);
    doc["module-dirs"] = toml_edit::value(dirs);
    // An older import kept realm's settings in ftl-project.toml, which FTL
    // refuses: the keys written here move to realm.toml.
    if let Some(old) = doc
        .get_mut("realm")
        .and_then(toml_edit::Item::as_table_like_mut)
    {
        old.remove("export");
        old.remove("descriptor-set");
        if old.is_empty() {
            doc.remove("realm");
        }
    }
    if !settings.contains_table("realm") {
        settings["realm"] = toml_edit::table();
    }
    settings["realm"]["export"] = toml_edit::value(DEFAULT_EXPORT);
    settings["realm"]["descriptor-set"] = toml_edit::value(import.descriptor_set);
    // The server imported from serves every module: the ingress's default
    // runner, unless one is set already (in either file).
    let has_default = |d: &toml_edit::DocumentMut| {
        d.get("ingress")
            .and_then(|i| i.get("runners"))
            .and_then(|r| r.get("default"))
            .is_some()
    };
    if let Some(endpoint) = import.runner
        && !has_default(&doc)
        && !has_default(&settings)
    {
        if !settings.contains_table("ingress") {
            let mut ingress = toml_edit::Table::new();
            ingress.set_implicit(true);
            settings["ingress"] = toml_edit::Item::Table(ingress);
        }
        if settings["ingress"].get("runners").is_none() {
            settings["ingress"]["runners"] = toml_edit::table();
        }
        settings["ingress"]["runners"]["default"] = toml_edit::value(endpoint);
    }
    // Both or neither: a key moved to realm.toml must not stay in
    // ftl-project.toml too (a key in both files is an error).
    let (settings_text, project_text) = (settings.to_string(), doc.to_string());
    files::write_all_atomic(&[
        (settings_path.clone(), settings_text.as_bytes()),
        (project_path.clone(), project_text.as_bytes()),
    ])?;
    Ok(())
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

/// What another realm's repository says about itself: its name, and
/// where it exports its public API.
#[derive(Clone, Debug)]
pub struct RemoteProject {
    /// `name` of its `ftl-project.toml`.
    pub name: String,
    /// `[realm] export` of its `realm.toml` (or, in the older layout, of
    /// its `ftl-project.toml`); empty when not set.
    pub export: Vec<String>,
}

impl RemoteProject {
    /// The schema file another realm pins when it names none: the first
    /// `.json` of `[realm] export` (what FTL reads), else its first entry.
    pub fn schema_path(&self) -> Option<&str> {
        self.export
            .iter()
            .find(|p| p.ends_with(".json"))
            .or_else(|| self.export.first())
            .map(String::as_str)
    }
}

/// Parses another realm's `ftl-project.toml` and `realm.toml` (read from
/// its repository; each `(label, text)`, the label naming it in errors).
/// Only what is needed to find its public API is read: `name` and
/// `[realm] export`; the rest is that realm's business.
pub fn parse_remote(
    project: (&str, String),
    settings: Option<(&str, String)>,
) -> Result<RemoteProject, Report> {
    let (label, text) = project;
    let mut sources = Sources::from([(label.to_string(), text.clone())]);
    if let Some((l, t)) = &settings {
        sources.insert(l.to_string(), t.clone());
    }
    let fail = |errors: Vec<Diagnostic>| Report::new(errors, sources.clone());
    let doc = parse_toml(label, &text).map_err(|d| fail(vec![d]))?;
    let reader = Reader { label, text: &text };
    let mut found = Found::default();
    let name = reader.name(&doc, &mut found.errors);
    let mut export = Vec::new();
    let mut descriptor_set = None;
    let settings_doc = match &settings {
        Some((l, t)) => Some(parse_toml(l, t).map_err(|d| fail(vec![d]))?),
        None => None,
    };
    let own = settings_doc
        .as_ref()
        .zip(settings.as_ref())
        .and_then(|(d, (l, t))| {
            d.get("realm")
                .map(|item| (item, Reader { label: l, text: t }))
        });
    match own {
        Some((item, r)) => r.realm_table(item, &mut export, &mut descriptor_set, &mut found),
        None => {
            if let Some(item) = doc.get("realm") {
                reader.realm_table(item, &mut export, &mut descriptor_set, &mut found);
            }
        }
    }
    if !found.errors.is_empty() {
        return Err(fail(found.errors));
    }
    Ok(RemoteProject { name, export })
}

fn parse_toml<'t>(label: &str, text: &'t str) -> Result<Document<&'t str>, Diagnostic> {
    Document::parse(text).map_err(|e| {
        let pos = e.span().map(|s| pos_at(label, text, s.start));
        let message = e.message().trim_end().to_string();
        Diagnostic::new(format!("invalid TOML: {message}"), pos)
    })
}

/// Where a table or key is: its header, or its first key.
fn first_span(item: &Item) -> Option<std::ops::Range<usize>> {
    if let Some(span) = item.span() {
        return Some(span);
    }
    let table = item.as_table_like()?;
    table
        .iter()
        .filter_map(|(key, child)| {
            table
                .get_key_value(key)
                .and_then(|(k, _)| k.span())
                .or_else(|| first_span(child))
        })
        .min_by_key(|s| s.start)
}

/// The values under `item`, each with its key path (`["ingress", "tls",
/// "cert"]`) and the span of its key.
fn leaves(
    item: &Item,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<std::ops::Range<usize>>)>,
) {
    let Some(table) = item.as_table_like() else {
        return;
    };
    for (key, child) in table.iter() {
        path.push(key.to_string());
        if child.is_table_like() {
            leaves(child, path, out);
        } else {
            let span = table.get_key_value(key).and_then(|(k, _)| k.span());
            out.push((path.clone(), span));
        }
        path.pop();
    }
}

/// `[ingress.tls] cert` for `["ingress", "tls", "cert"]`.
fn key_path(path: &[String]) -> String {
    match path.split_last() {
        Some((key, [])) => format!("`{key}`"),
        Some((key, tables)) => format!("`[{}] {key}`", tables.join(".")),
        None => String::new(),
    }
}

fn parse(root: &Path, text: String, settings: Option<String>) -> Result<Project, Report> {
    let mut sources = Sources::from([(PROJECT_FILE.to_string(), text.clone())]);
    if let Some(t) = &settings {
        sources.insert(SETTINGS_FILE.to_string(), t.clone());
    }
    let fail = |errors: Vec<Diagnostic>| Report::new(errors, sources.clone());
    let doc = parse_toml(PROJECT_FILE, &text).map_err(|d| fail(vec![d]))?;
    let settings_doc = match &settings {
        Some(t) => Some(parse_toml(SETTINGS_FILE, t).map_err(|d| fail(vec![d]))?),
        None => None,
    };
    let reader = Reader {
        label: PROJECT_FILE,
        text: &text,
    };
    let settings_reader = settings.as_deref().map(|t| Reader {
        label: SETTINGS_FILE,
        text: t,
    });
    let mut found = Found::default();

    let name = reader.name(&doc, &mut found.errors);

    let module_dirs = match doc.get("module-dirs") {
        None => vec![ModuleDir {
            path: ".".to_string(),
            pos: None,
        }],
        Some(item) => match reader.module_dirs(item) {
            Ok(dirs) => dirs,
            Err(d) => {
                found.errors.push(d);
                Vec::new()
            }
        },
    };

    let mut config_file = None;
    if let Some(item) = doc.get("config-provider") {
        match reader.string(item, "config-provider") {
            Ok(value) => match value.strip_prefix("file:") {
                Some(path) if is_inside(path) => config_file = Some(path.to_string()),
                _ => found.errors.push(
                    reader
                        .at(item, format!("`config-provider` {value:?} is not supported"))
                        .with_help("write `config-provider = \"file:<path of a JSON object file inside the project>\"`"),
                ),
            },
            Err(d) => found.errors.push(d),
        }
    }

    // realm's settings: realm.toml, and what the older layout left in
    // ftl-project.toml (with a warning). A key in both is an error.
    for key in LEGACY_SETTINGS {
        let Some(item) = doc.get(key) else { continue };
        found.layout.push(
            reader
                .span_diag(
                    first_span(item),
                    format!(
                        "`[{key}]` is a setting of realm's in {PROJECT_FILE}, which FTL refuses (\"unknown configuration keys\")"
                    ),
                )
                .into_warning()
                .with_help(format!(
                    "run `realm migrate` to move it to {SETTINGS_FILE}, comments and all"
                )),
        );
        if let (Some(sdoc), Some(sreader)) = (&settings_doc, &settings_reader)
            && let Some(own) = sdoc.get(key)
        {
            let (mut old, mut new) = (Vec::new(), Vec::new());
            leaves(item, &mut vec![key.to_string()], &mut old);
            leaves(own, &mut vec![key.to_string()], &mut new);
            for (path, span) in &new {
                let Some((_, old_span)) = old.iter().find(|(p, _)| p == path) else {
                    continue;
                };
                let old_pos = old_span
                    .as_ref()
                    .map(|s| pos_at(PROJECT_FILE, &text, s.start));
                found.errors.push(
                    sreader
                        .span_diag(
                            span.clone(),
                            format!(
                                "{} is set in both {SETTINGS_FILE} and {PROJECT_FILE}{}",
                                key_path(path),
                                old_pos.map_or_else(String::new, |p| format!(" ({p})"))
                            ),
                        )
                        .with_help(format!(
                            "keep it in {SETTINGS_FILE} and delete it from {PROJECT_FILE}, which FTL reads too"
                        )),
                );
            }
        }
    }
    let mut export = Vec::new();
    let mut descriptor_set = None;
    let mut ingress = IngressSettings::default();
    for (r, table, own) in [(Some(&reader), Some(doc.as_table()), false)]
        .into_iter()
        .chain([(
            settings_reader.as_ref(),
            settings_doc.as_ref().map(|d| d.as_table()),
            true,
        )])
    {
        let (Some(r), Some(table)) = (r, table) else {
            continue;
        };
        for (key, item) in table.iter() {
            match key {
                "realm" => r.realm_table(item, &mut export, &mut descriptor_set, &mut found),
                "ingress" => r.ingress(item, &mut ingress, &mut found),
                other if own => {
                    found
                        .warnings
                        .push(r.unknown_key(table, other, SETTINGS_FILE, LEGACY_SETTINGS))
                }
                _ => {}
            }
        }
    }
    check_tls(&ingress.tls, &mut found);
    let ingress_file = if settings_doc
        .as_ref()
        .is_some_and(|d| d.get("ingress").is_some())
        || doc.get("ingress").is_none()
    {
        SETTINGS_FILE
    } else {
        PROJECT_FILE
    };

    let mut pins = Vec::new();
    let egress = match doc.get("realms") {
        None => None,
        Some(realms) if realms.is_table_like() => {
            found.layout.push(
                reader
                    .span_diag(
                        first_span(realms),
                        "`[realms.egress]` is realm's older pin table, which FTL refuses (\"unknown configuration keys\")",
                    )
                    .into_warning()
                    .with_help(
                        "run `realm migrate`: its pins become `[external-realms.<name>]` tables, FTL's",
                    ),
            );
            match realms.get("egress") {
                None => None,
                Some(e) if e.is_table_like() => Some(e),
                Some(e) => {
                    found
                        .errors
                        .push(reader.at(e, "`realms.egress` must be a table"));
                    None
                }
            }
        }
        Some(realms) => {
            found
                .errors
                .push(reader.at(realms, "`realms` must be a table"));
            None
        }
    };
    let external = match doc.get("external-realms") {
        Some(e) if !e.is_table_like() => {
            found
                .errors
                .push(reader.at(e, "`external-realms` must be a table"));
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
            match reader.pin(table, name, item, kind, &mut found.warnings) {
                Ok(pin) => {
                    if let Some(first) = pins.iter().find(|p: &&Pin| p.name == pin.name) {
                        found.errors.push(
                            Diagnostic::new(
                                format!(
                                    "realm `{}` is pinned twice: in `[{}]` and in `[{}]`",
                                    pin.name,
                                    first.table.prefix(),
                                    pin.table.prefix()
                                ),
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
                Err(d) => found.errors.push(d),
            }
        }
    }
    if let Some(pin) = pins.iter().find(|p| p.name == name) {
        found.errors.push(
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

    if !found.errors.is_empty() {
        // The warnings too: an unknown key is often why a setting is missing.
        let mut all = found.errors;
        all.append(&mut found.warnings);
        Diagnostic::sort(&mut all);
        return Err(fail(all));
    }
    found.warnings.append(&mut found.layout);
    Diagnostic::sort(&mut found.warnings);
    Ok(Project {
        root: root.to_path_buf(),
        text,
        settings_text: settings,
        name,
        module_dirs,
        export,
        descriptor_set,
        pins,
        config_file,
        ingress,
        ingress_file,
        warnings: found.warnings,
    })
}

/// The TLS settings as a whole, once both files are read.
fn check_tls(tls: &TlsSettings, found: &mut Found) {
    let Some(at) = found.tls_at.clone() else {
        return;
    };
    let at = |message: &str| {
        let mut d = at.clone();
        d.message = message.to_string();
        d
    };
    if tls.cert.is_some() != tls.key.is_some() {
        found.errors.push(
            at("`[ingress.tls]` needs both `cert` and `key`")
                .with_help("name the PEM certificate chain and its private key, or neither"),
        );
    }
    if tls.client_cert.is_some() != tls.client_key.is_some() {
        found.errors.push(at(
            "`[ingress.tls]` needs both `client-cert` and `client-key`",
        ));
    }
    if !tls.peers.is_empty() && tls.cert.is_none() {
        found.errors.push(at(
            "`[ingress.tls.peers]` needs `cert` and `key`: client certificates are checked on a TLS listener",
        ));
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

/// Whether `s` is a full hexadecimal commit id (SHA-1).
pub fn is_commit_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---- edits -------------------------------------------------------------------

/// Records `pin` in the document: in the table that already holds a pin of
/// that name (its keys keep their order and formatting; unknown keys
/// stay), else in a new table of `pin.table` (see [`insert_pin`]).
pub fn set_pin(doc: &mut DocumentMut, pin: &Pin) -> Result<()> {
    let existing = pin_parents_mut(doc)
        .into_iter()
        .find_map(|parent| parent.get_mut(&pin.name).and_then(Item::as_table_like_mut));
    match existing {
        Some(table) => {
            set_pin_keys(table, pin);
            Ok(())
        }
        None => insert_pin(doc, pin),
    }
}

/// The tables pins are kept in: `external-realms` and `realms.egress`.
fn pin_parents_mut(doc: &mut DocumentMut) -> Vec<&mut dyn TableLike> {
    let mut out: Vec<&mut dyn TableLike> = Vec::new();
    let (external, realms): (Option<&mut Item>, Option<&mut Item>) = {
        let mut external = None;
        let mut realms = None;
        for (key, item) in doc.as_table_mut().iter_mut() {
            match key.get() {
                "external-realms" => external = Some(item),
                "realms" => realms = Some(item),
                _ => {}
            }
        }
        (external, realms)
    };
    if let Some(t) = external.and_then(Item::as_table_like_mut) {
        out.push(t);
    }
    if let Some(t) = realms
        .and_then(|r| r.get_mut("egress"))
        .and_then(Item::as_table_like_mut)
    {
        out.push(t);
    }
    out
}

fn set_pin_keys(table: &mut dyn TableLike, pin: &Pin) {
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

/// A TOML string literal of `text`.
fn toml_string(text: &str) -> String {
    let mut v = toml_edit::Value::from(text);
    v.decor_mut().clear();
    v.to_string().trim().to_string()
}

/// Adds a new pin table. Where it goes, in this order: after the last pin
/// table of its kind (in its style: an inline table in a `[external-realms]`
/// of inline tables, a header table indented like the last one); in a file
/// `realm init` wrote, after the commented-out example of a pin; else at
/// the end. Never between a table and the comment lines right below it,
/// which belong to it.
pub fn insert_pin(doc: &mut DocumentMut, pin: &Pin) -> Result<()> {
    let text = doc.to_string();
    let parsed = Document::parse(text.as_str()).context("cannot parse the project file")?;
    let parent = match pin.table {
        PinTable::ExternalRealms => parsed.get("external-realms"),
        PinTable::Egress => parsed.get("realms").and_then(|r| r.get("egress")),
    };
    // Inline pins, or a parent that is not a header table: toml_edit puts
    // the new key after the last one.
    let inline = parent.is_some_and(|p| {
        !p.is_table()
            || p.as_table().is_some_and(|t| {
                t.is_dotted() || t.iter().any(|(_, child)| child.is_inline_table())
            })
    });
    if inline {
        let mut table = toml_edit::InlineTable::new();
        table.insert("git-repo", pin.repo.as_str().into());
        if let Some(branch) = &pin.branch {
            table.insert("git-branch", branch.as_str().into());
        }
        table.insert("git-commit", pin.commit.as_str().into());
        if let Some(path) = &pin.path {
            table.insert("git-path", path.as_str().into());
        }
        let parent = match pin.table {
            PinTable::ExternalRealms => doc.get_mut("external-realms"),
            PinTable::Egress => doc.get_mut("realms").and_then(|r| r.get_mut("egress")),
        };
        let parent = parent
            .and_then(Item::as_table_like_mut)
            .context("internal error: the pin table vanished")?;
        parent.insert(&pin.name, toml_edit::value(table));
        return Ok(());
    }

    // The end of the last header table of the pins (or of their parent).
    let mut last: Option<(usize, usize, &str)> = None; // (header start, end, first key line)
    if let Some(parent) = parent.and_then(Item::as_table) {
        for (_, child) in parent.iter() {
            let Some(t) = child.as_table() else { continue };
            let Some(header) = t.span() else { continue };
            let end = table_end(t).max(header.end);
            if last.is_none_or(|(start, _, _)| header.start > start) {
                let key_line = t
                    .iter()
                    .filter_map(|(k, _)| t.key(k).and_then(|k| k.span()))
                    .min_by_key(|s| s.start)
                    .map_or("", |s| line_at(&text, s.start));
                last = Some((header.start, end, key_line));
            }
        }
        if last.is_none()
            && let Some(header) = parent.span()
        {
            last = Some((header.start, table_end(parent).max(header.end), ""));
        }
    }
    let prefix = pin.table.prefix();
    let (offset, indent, key_indent) = match last {
        Some((start, end, key_line)) => {
            let indent = indentation(line_at(&text, start));
            let key_indent = if key_line.is_empty() {
                indent.to_string()
            } else {
                indentation(key_line).to_string()
            };
            (
                after_attached_comments(&text, line_end(&text, end)),
                indent.to_string(),
                key_indent,
            )
        }
        None => match commented_example(&text, prefix) {
            Some(offset) => (offset, String::new(), String::new()),
            None => (text.len(), String::new(), String::new()),
        },
    };
    let mut table = String::new();
    if offset > 0 && !text[..offset].ends_with('\n') {
        table.push('\n');
    }
    table.push_str(&format!("\n{indent}[{prefix}.{}]\n", pin.name));
    let mut key = |k: &str, v: &str| {
        table.push_str(&format!("{key_indent}{k} = {}\n", toml_string(v)));
    };
    key("git-repo", &pin.repo);
    if let Some(branch) = &pin.branch {
        key("git-branch", branch);
    }
    key("git-commit", &pin.commit);
    if let Some(path) = &pin.path {
        key("git-path", path);
    }
    let rest = &text[offset..];
    if !rest.is_empty() && !rest.starts_with('\n') && !rest.starts_with("\r\n") {
        table.push('\n');
    }
    let new = format!("{}{table}{rest}", &text[..offset]);
    *doc = new
        .parse()
        .context("internal error: a new pin table made the project file invalid")?;
    Ok(())
}

/// The end of the last key or value of a header table (its own, not its
/// subtables').
fn table_end(t: &Table) -> usize {
    t.iter()
        .filter(|(_, item)| !item.is_table())
        .filter_map(|(k, item)| {
            let value = item.as_value().and_then(|v| v.span()).map(|s| s.end);
            let key = t.key(k).and_then(|k| k.span()).map(|s| s.end);
            value.or(key)
        })
        .max()
        .unwrap_or(0)
}

/// The line holding byte `offset`, without its line break.
fn line_at(text: &str, offset: usize) -> &str {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |n| n + 1);
    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    &text[start..end]
}

fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// The offset after the line break of the line holding `offset`.
fn line_end(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text[offset..]
        .find('\n')
        .map_or(text.len(), |n| offset + n + 1)
}

/// From the start of a line, past the comment lines that directly follow
/// (no blank line between): they belong to what is above.
fn after_attached_comments(text: &str, mut offset: usize) -> usize {
    while offset < text.len() {
        let line = line_at(text, offset);
        if !line.trim_start().starts_with('#') {
            break;
        }
        offset = line_end(text, offset);
    }
    offset
}

/// The end of the commented-out example pin `# [<prefix>.name]` (with the
/// comment lines below it), as `realm init` writes it.
fn commented_example(text: &str, prefix: &str) -> Option<usize> {
    let mut offset = 0;
    while offset < text.len() {
        let line = line_at(text, offset);
        let next = line_end(text, offset);
        let code = line.trim_start().strip_prefix('#').map(str::trim_start);
        if code.is_some_and(|c| c.starts_with(&format!("[{prefix}."))) {
            return Some(after_attached_comments(text, next));
        }
        offset = next;
    }
    None
}

/// Removes the pin named `name` from whichever table holds it, and the
/// table of pins when it is left empty. Returns whether there was one.
pub fn remove_pin(doc: &mut DocumentMut, name: &str) -> bool {
    let mut removed = false;
    for parent in pin_parents_mut(doc) {
        removed |= parent.remove(name).is_some();
    }
    if doc
        .get("external-realms")
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.is_empty())
    {
        doc.remove("external-realms");
    }
    if let Some(realms) = doc.get_mut("realms").and_then(Item::as_table_like_mut) {
        if realms
            .get("egress")
            .and_then(Item::as_table_like)
            .is_some_and(|t| t.is_empty())
        {
            realms.remove("egress");
        }
        if realms.is_empty() {
            doc.remove("realms");
        }
    }
    removed
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

// ---- migrate -------------------------------------------------------------------

/// What [`migrate`] changed.
#[derive(Clone, Debug, Default)]
pub struct Migrated {
    /// The tables moved to `realm.toml` (`realm`, `ingress`).
    pub moved: Vec<String>,
    /// Pins moved from `[realms.egress]` to `[external-realms]`.
    pub pins: Vec<String>,
    /// Pins given the `git-path` FTL needs.
    pub paths: Vec<String>,
    /// Whether `realm.toml` was created.
    pub created_settings: bool,
}

impl Migrated {
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.pins.is_empty() && self.paths.is_empty()
    }
}

/// The first lines of a `realm.toml` that `realm migrate` creates.
const MIGRATED_HEADER: &str = "\
# realm.toml: realm's own settings for this project, beside ftl-project.toml
# (which FTL reads, and which holds only keys FTL knows). See
# realm.toml.example in realm's repository for every key.
";

/// Moves what the older layout keeps in `ftl-project.toml` where it
/// belongs, under the project lock: `[realm]` and `[ingress...]` to
/// `realm.toml` (with the comments that describe them: see below),
/// `[realms.egress.<name>]` pins to
/// `[external-realms.<name>]` in place. `paths` gives the `git-path` of
/// pins that have none (FTL needs it). Writes `realm.toml` first; if
/// `ftl-project.toml` cannot be written after it, `realm.toml` is put back.
pub fn migrate(root: &Path, paths: &[(String, String)]) -> Result<Migrated> {
    let _lock = lock_dir(root)?;
    let project = Project::load(root)?;
    let mut doc: DocumentMut = project
        .text
        .parse()
        .with_context(|| format!("cannot parse {PROJECT_FILE}"))?;
    let created_settings = project.settings_text.is_none();
    let mut settings: DocumentMut = project
        .settings_text
        .as_deref()
        .unwrap_or("")
        .parse()
        .with_context(|| format!("cannot parse {SETTINGS_FILE}"))?;
    if created_settings {
        settings.decor_mut().set_prefix(MIGRATED_HEADER);
    }
    let mut migrated = Migrated {
        created_settings,
        ..Migrated::default()
    };

    // The header tables of ftl-project.toml in file order. TOML gives the
    // comments between two tables to the second; a reader gives the lines
    // right below a table (before a blank line) to the first, and the
    // lines right above a header (after a blank line) to the second, the
    // rest to neither. A moved table takes its own; the rest stays where
    // the table was.
    let mut order = Vec::new();
    header_tables(doc.as_table(), &mut Vec::new(), &mut order);
    order.sort_by_key(|(position, _)| *position);
    let moves = |path: &[String]| LEGACY_SETTINGS.contains(&path[0].as_str());
    let mut attached: Vec<(Vec<String>, String)> = Vec::new();
    let mut left_behind = String::new();
    let mut previous: Option<&Vec<String>> = None;
    for (_, path) in &order {
        let previous_moves = previous.is_some_and(|p| moves(p));
        let Some(table) = table_at_mut(doc.as_table_mut(), path) else {
            continue;
        };
        let prefix = table
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_string();
        // The lines right below the previous table, if any.
        let first_line = prefix.lines().next().unwrap_or("");
        let (below, rest) = if first_line.trim_start().starts_with('#') {
            split_first_paragraph(&prefix)
        } else {
            ("", prefix.as_str())
        };
        if moves(path) {
            let (between, own) = split_last_paragraph(rest);
            let mut keep = String::new();
            if previous_moves {
                // Between two moved tables: theirs (commented-out keys),
                // but for a commented-out table of another kind.
                keep.push_str(below);
                for paragraph in paragraphs(between) {
                    if comments_out_other_table(paragraph) {
                        left_behind.push_str(paragraph);
                    } else {
                        keep.push_str(paragraph);
                    }
                }
            } else {
                left_behind.push_str(below);
                left_behind.push_str(between);
            }
            keep.push_str(own);
            // A blank line before the header, as a reader expects.
            if !keep.starts_with('\n') {
                keep.insert(0, '\n');
            }
            table.decor_mut().set_prefix(collapse_blank_lines(&keep));
        } else {
            let mut keep = std::mem::take(&mut left_behind);
            if previous_moves {
                if !below.is_empty() {
                    attached.push((previous.cloned().unwrap_or_default(), below.to_string()));
                }
            } else {
                keep.push_str(below);
            }
            keep.push_str(rest);
            table.decor_mut().set_prefix(collapse_blank_lines(&keep));
        }
        previous = Some(path);
    }
    if let Some(last) = previous.filter(|p| moves(p)) {
        let trailing = doc.trailing().as_str().unwrap_or("").to_string();
        let (below, rest) = split_first_paragraph(&trailing);
        if !below.is_empty() {
            attached.push((last.clone(), below.to_string()));
        }
        let rest = format!("{left_behind}{rest}");
        doc.set_trailing(collapse_blank_lines(&rest));
    }
    // The tables of settings, in file order, after what realm.toml has.
    let offset = max_position(settings.as_table()) + 1 - min_position(doc.as_table());
    for key in LEGACY_SETTINGS {
        let Some(mut item) = doc.remove(key) else {
            continue;
        };
        shift_positions(&mut item, offset);
        merge_into(settings.as_table_mut(), key, item);
        migrated.moved.push(key.to_string());
    }
    let mut order = Vec::new();
    header_tables(settings.as_table(), &mut Vec::new(), &mut order);
    order.sort_by_key(|(position, _)| *position);
    for (path, own) in attached {
        let next = order
            .iter()
            .skip_while(|(_, p)| *p != path)
            .nth(1)
            .map(|(_, p)| p.clone());
        match next.and_then(|next| table_at_mut(settings.as_table_mut(), &next)) {
            Some(t) => {
                let prefix = t.decor().prefix().and_then(|p| p.as_str()).unwrap_or("");
                let prefix = format!("{own}{prefix}");
                t.decor_mut().set_prefix(prefix);
            }
            None => {
                let trailing = settings.trailing().as_str().unwrap_or("");
                let trailing = format!("{own}{trailing}");
                settings.set_trailing(trailing);
            }
        }
    }

    // Pins: [realms.egress.x] → [external-realms.x], where they were.
    let egress: Vec<(String, Item)> = match doc
        .get_mut("realms")
        .and_then(|r| r.get_mut("egress"))
        .and_then(Item::as_table_like_mut)
    {
        Some(egress) => {
            let names: Vec<String> = egress.iter().map(|(k, _)| k.to_string()).collect();
            names
                .into_iter()
                .filter_map(|n| egress.remove(&n).map(|item| (n, item)))
                .collect()
        }
        None => Vec::new(),
    };
    if !egress.is_empty() {
        if doc.get("external-realms").is_none() {
            // An explicit `[realms.egress]` (of inline pins) becomes an
            // explicit `[external-realms]` where it was, comments and all.
            let old = doc
                .get("realms")
                .and_then(|r| r.get("egress"))
                .and_then(Item::as_table)
                .filter(|t| !t.is_implicit());
            let mut t = Table::new();
            match old {
                Some(old) => {
                    *t.decor_mut() = old.decor().clone();
                    t.set_position(old.position());
                }
                None => t.set_implicit(true),
            }
            doc.insert("external-realms", Item::Table(t));
        }
        let external = doc
            .get_mut("external-realms")
            .and_then(Item::as_table_like_mut)
            .context("`external-realms` is not a table")?;
        for (name, item) in egress {
            external.insert(&name, item);
            migrated.pins.push(name);
        }
    }
    if let Some(realms) = doc.get("realms").and_then(Item::as_table_like)
        && realms
            .iter()
            .all(|(k, v)| k == "egress" && v.as_table_like().is_some_and(|t| t.is_empty()))
    {
        doc.remove("realms");
    }
    for (name, path) in paths {
        if let Some(pin) = doc
            .get_mut("external-realms")
            .and_then(|e| e.get_mut(name))
            .and_then(Item::as_table_like_mut)
            && pin.get("git-path").is_none()
        {
            set_key(pin, "git-path", path);
            migrated.paths.push(name.clone());
        }
    }
    if migrated.is_empty() {
        return Ok(migrated);
    }

    let ended = |mut text: String| {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    };
    let new_text = ended(doc.to_string());
    let new_settings = ended(settings.to_string());
    let checked = Project::parse_with_settings(root, new_text.clone(), Some(new_settings.clone()))
        .map_err(|r| {
            anyhow::anyhow!("internal error: the migration made the files invalid:\n{r}")
        })?;
    debug_assert!(
        checked
            .warnings
            .iter()
            .all(|w| !w.message.contains("FTL refuses"))
    );
    let settings_path = project.settings_path();
    if !migrated.moved.is_empty() {
        files::write_atomic(&settings_path, new_settings.as_bytes())?;
    }
    if let Err(e) = files::write_atomic(&project.path(), new_text.as_bytes()) {
        if !migrated.moved.is_empty() {
            let _ = match &project.settings_text {
                Some(old) => files::write_atomic(&settings_path, old.as_bytes()),
                None => files::remove_file(&settings_path),
            };
        }
        return Err(e);
    }
    if migrated.moved.is_empty() {
        migrated.created_settings = false;
    }
    Ok(migrated)
}

/// The tables of `table` printed with a header, with their positions and
/// paths.
fn header_tables(table: &Table, path: &mut Vec<String>, out: &mut Vec<(isize, Vec<String>)>) {
    for (key, item) in table.iter() {
        if let Some(t) = item.as_table() {
            path.push(key.to_string());
            if !t.is_implicit() && !t.is_dotted() {
                out.push((t.position().unwrap_or(isize::MAX), path.clone()));
            }
            header_tables(t, path, out);
            path.pop();
        }
    }
}

fn table_at_mut<'d>(table: &'d mut Table, path: &[String]) -> Option<&'d mut Table> {
    match path.split_first() {
        None => Some(table),
        Some((first, rest)) => table_at_mut(table.get_mut(first)?.as_table_mut()?, rest),
    }
}

/// Puts `item` under `key` of `into`, merging tables key by key (the
/// keys of both files never overlap: the loader refuses that).
fn merge_into(into: &mut Table, key: &str, item: Item) {
    match (into.get_mut(key), item) {
        (Some(existing), Item::Table(new)) if existing.is_table_like() => {
            if let Some(existing) = existing.as_table_mut() {
                for (k, v) in new.into_iter() {
                    merge_into(existing, &k, v);
                }
            }
        }
        (_, item) => {
            into.insert(key, item);
        }
    }
}

fn positions(table: &Table, out: &mut Vec<isize>) {
    if let Some(p) = table.position() {
        out.push(p);
    }
    for (_, item) in table.iter() {
        if let Some(t) = item.as_table() {
            positions(t, out);
        }
    }
}

fn max_position(table: &Table) -> isize {
    let mut all = Vec::new();
    positions(table, &mut all);
    all.into_iter().max().unwrap_or(0)
}

fn min_position(table: &Table) -> isize {
    let mut all = Vec::new();
    positions(table, &mut all);
    all.into_iter().min().unwrap_or(0)
}

fn shift_positions(item: &mut Item, offset: isize) {
    if let Some(t) = item.as_table_mut() {
        if let Some(p) = t.position() {
            t.set_position(Some(p + offset));
        }
        for (_, child) in t.iter_mut() {
            shift_positions(child, offset);
        }
    }
}

/// `text` split before its last paragraph when that paragraph ends the
/// text (the comment lines right above a header): (the rest, the
/// paragraph with the blank line before it).
fn split_last_paragraph(text: &str) -> (&str, &str) {
    // Nothing right above the header: empty, or a blank line last.
    let last_line = text.strip_suffix('\n').unwrap_or(text).rsplit('\n').next();
    if text.is_empty() || text.ends_with("\n\n") || last_line.is_none_or(|l| l.trim().is_empty()) {
        return (text, "");
    }
    // The start of the last line that is blank, plus its line break.
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rfind("\n\n") {
        Some(n) => text.split_at(n + 1),
        None if body.starts_with('\n') => text.split_at(0),
        None => ("", text),
    }
}

/// `text` in paragraphs, each with the blank lines before it.
fn paragraphs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    let mut in_blank = true;
    while offset < text.len() {
        let end = line_end(text, offset);
        let blank = text[offset..end].trim().is_empty();
        if blank && !in_blank {
            out.push(&text[start..offset]);
            start = offset;
        }
        in_blank = blank;
        offset = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Whether a paragraph of comments shows a commented-out table that is not
/// one of realm's settings (`# [external-realms.bank]`).
fn comments_out_other_table(paragraph: &str) -> bool {
    paragraph.lines().any(|line| {
        line.trim_start()
            .strip_prefix('#')
            .map(str::trim_start)
            .and_then(|code| code.strip_prefix('['))
            .is_some_and(|table| {
                !LEGACY_SETTINGS
                    .iter()
                    .any(|k| table.starts_with(k) && table[k.len()..].starts_with(['.', ']']))
            })
    })
}

/// Three or more line breaks in a row as two (one blank line).
fn collapse_blank_lines(text: &str) -> String {
    let mut out = text.to_string();
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

/// The comment lines at the start of `text` up to the first blank line, and
/// the rest.
fn split_first_paragraph(text: &str) -> (&str, &str) {
    let mut offset = 0;
    while offset < text.len() {
        let line = line_at(text, offset);
        if line.trim().is_empty() {
            break;
        }
        offset = line_end(text, offset);
    }
    text.split_at(offset)
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
    "ftl-endpoint",
    "relay",
    "keys-file",
    "replay-window",
    "unsigned-egress",
    "tls",
];

const TLS_KEYS: &[&str] = &["cert", "key", "ca", "client-cert", "client-key", "peers"];

const REALM_KEYS: &[&str] = &["export", "descriptor-set"];

/// Reads typed values out of the TOML document with positions for errors.
struct Reader<'t> {
    label: &'t str,
    text: &'t str,
}

/// What reading a file found: errors stop the load, warnings do not.
#[derive(Default)]
struct Found {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Warnings about the older layout: shown when the files load, left
    /// out of an error report (its advice, `realm migrate`, cannot run
    /// until the errors are fixed).
    layout: Vec<Diagnostic>,
    /// Where `[ingress.tls]` is, for problems of the TLS settings as a
    /// whole (checked once both files are read).
    tls_at: Option<Diagnostic>,
}

impl Reader<'_> {
    /// `name`, required.
    fn name(&self, doc: &Table, errors: &mut Vec<Diagnostic>) -> String {
        let label = self.label;
        match doc.get("name") {
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
            Some(item) => match self.string(item, "name") {
                Ok(name) if is_ident(&name) => name,
                Ok(name) => {
                    errors.push(
                        self.at(item, format!("`name` {name:?} is not a valid realm name"))
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
        }
    }

    /// `[realm]`: `export` (a path or a list of paths) and
    /// `descriptor-set`.
    fn realm_table(
        &self,
        item: &Item,
        export: &mut Vec<String>,
        descriptor_set: &mut Option<String>,
        found: &mut Found,
    ) {
        let Some(table) = item.as_table_like() else {
            found.errors.push(
                self.at(item, "`realm` must be a table")
                    .with_help("write `[realm]` with `export = \"...\"` under it"),
            );
            return;
        };
        for (key, value) in table.iter() {
            match key {
                "descriptor-set" => match self.string(value, "[realm] descriptor-set") {
                    Ok(path) if is_inside(&path) => *descriptor_set = Some(path),
                    Ok(path) => found.errors.push(self.at(
                        value,
                        format!(
                            "`[realm] descriptor-set` {path:?} is not a path inside the project"
                        ),
                    )),
                    Err(d) => found.errors.push(d),
                },
                "export" => {
                    let paths = match (value.as_str(), value.as_array()) {
                        (Some(p), _) => vec![p.to_string()],
                        (None, Some(a)) if !a.is_empty() => {
                            match a
                                .iter()
                                .map(|v| v.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                            {
                                Some(paths) => paths,
                                None => {
                                    found.errors.push(self.at(
                                        value,
                                        "`[realm] export` must be a path or a list of paths",
                                    ));
                                    continue;
                                }
                            }
                        }
                        _ => {
                            found.errors.push(
                                self.at(value, "`[realm] export` must be a path or a list of paths")
                                    .with_help("e.g. \"ftl-external-schema.txtpb\", or [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]"),
                            );
                            continue;
                        }
                    };
                    match paths.iter().find(|p| !is_inside(p)) {
                        Some(path) => found.errors.push(
                            self.at(
                                value,
                                format!("`[realm] export` {path:?} is not a path inside the project"),
                            )
                            .with_help(
                                "use a relative path without `..`, e.g. \"ftl-external-schema.txtpb\"",
                            ),
                        ),
                        None => *export = paths,
                    }
                }
                other => found
                    .warnings
                    .push(self.unknown_key(table, other, "realm", REALM_KEYS)),
            }
        }
    }

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

    /// `[ingress]` into `s`, every problem pushed to `found`.
    fn ingress(&self, item: &Item, s: &mut IngressSettings, found: &mut Found) {
        let Some(table) = item.as_table_like() else {
            found
                .errors
                .push(self.at(item, "`ingress` must be a table"));
            return;
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
                            .with_help("write an IP address and a port, e.g. \"127.0.0.1:8871\" or \"0.0.0.0:8871\""))
                    }
                }),
                "runners" => self.runners(value, &mut s.runners, &mut found.errors),
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
                "ftl-endpoint" => self
                    .string(value, &label)
                    .map(|url| s.ftl_endpoint = Some(url)),
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
                "tls" => self.tls(value, &mut s.tls, found),
                other => {
                    found
                        .warnings
                        .push(self.unknown_key(table, other, "ingress", INGRESS_KEYS));
                    Ok(())
                }
            };
            if let Err(d) = result {
                found.errors.push(d);
            }
        }
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

    fn tls(&self, item: &Item, tls: &mut TlsSettings, found: &mut Found) -> Result<(), Diagnostic> {
        let table = item
            .as_table_like()
            .ok_or_else(|| self.at(item, "`[ingress.tls]` must be a table"))?;
        found.tls_at = Some(self.at(item, ""));
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
                                Err(d) => found.errors.push(d),
                            }
                        }
                        Ok(())
                    }
                    None => Err(self.at(
                        value,
                        "`[ingress.tls.peers]` must be a table of realm = \"CA file\"",
                    )),
                },
                other => {
                    found
                        .warnings
                        .push(self.unknown_key(table, other, "ingress.tls", TLS_KEYS));
                    Ok(())
                }
            };
            if let Err(d) = result {
                found.errors.push(d);
            }
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
        let place = if table_name == self.label {
            self.label.to_string()
        } else {
            format!("`[{table_name}]` of {}", self.label)
        };
        let table_name = if table_name == self.label {
            self.label.to_string()
        } else {
            format!("[{table_name}]")
        };
        let d = self
            .span_diag(
                span,
                format!("unknown key `{key}` in {place}: realm ignores it"),
            )
            .into_warning();
        match known
            .iter()
            .max_by(|a, b| strsim::jaro_winkler(key, a).total_cmp(&strsim::jaro_winkler(key, b)))
            .filter(|k| strsim::jaro_winkler(key, k) > 0.8)
        {
            Some(k) => d.with_help(format!("did you mean `{k}`?")),
            None => d.with_help(format!(
                "the keys of `{table_name}` are: {}",
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
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<Pin, Diagnostic> {
        let key_span = parent.get_key_value(name).and_then(|(k, _)| k.span());
        let prefix = table.prefix();
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
        for (key, _) in t.iter() {
            if !PIN_KEYS.contains(&key) {
                warnings.push(self.unknown_key(t, key, &format!("{prefix}.{name}"), PIN_KEYS));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn pin(name: &str, repo: &str) -> Pin {
        Pin {
            name: name.to_string(),
            repo: repo.to_string(),
            branch: Some("main".to_string()),
            commit: COMMIT.to_string(),
            path: Some("ftl-external-schema.json".to_string()),
            table: PinTable::ExternalRealms,
            pos: None,
        }
    }

    /// `text` with `pin` added, read back.
    fn added(text: &str, pin: &Pin) -> (String, Project) {
        let mut doc: DocumentMut = text.parse().expect("TOML");
        set_pin(&mut doc, pin).expect("set_pin");
        let out = doc.to_string();
        let project =
            Project::parse(Path::new("/p"), out.clone()).unwrap_or_else(|r| panic!("{r}\n{out}"));
        (out, project)
    }

    #[test]
    fn a_new_pin_reads_back_whatever_the_file_looks_like() {
        let existing = format!("git-repo = \"r\"\ngit-commit = \"{COMMIT}\"");
        for text in [
            "name = \"shop\"".to_string(),
            "name = \"shop\"\r\n[commands]\r\nstartup = []\r\n".to_string(),
            format!(
                "name = \"shop\"\nexternal-realms = {{ a = {{ {} }} }}\n",
                existing.replace('\n', ", ")
            ),
            format!(
                "name = \"shop\"\nexternal-realms.a.git-repo = \"r\"\nexternal-realms.a.git-commit = \"{COMMIT}\"\n"
            ),
            "name = \"shop\"\n[external-realms]\n".to_string(),
            format!("name = \"shop\"\n[external-realms.a]\n{existing}"),
        ] {
            let (out, project) = added(&text, &pin("bank", "C:\\repos\\\"bank\""));
            let bank = project
                .pin("bank")
                .unwrap_or_else(|| panic!("no pin in\n{out}"));
            assert_eq!(bank.repo, "C:\\repos\\\"bank\"", "{out}");
            assert_eq!(bank.path.as_deref(), Some("ftl-external-schema.json"));
            // What was there stays (but in an inline table, which grows;
            // toml_edit writes line breaks as `\n`).
            assert!(
                text.contains("external-realms = {")
                    || out.starts_with(&text.trim_end().replace('\r', "")),
                "{out}"
            );
        }
    }

    #[test]
    fn removing_the_last_pin_removes_its_table() {
        let text = format!(
            "name = \"shop\"\n\n[external-realms]\n  [external-realms.a]\n    git-repo = \"r\"\n    git-commit = \"{COMMIT}\"\n"
        );
        let mut doc: DocumentMut = text.parse().expect("TOML");
        assert!(remove_pin(&mut doc, "a"));
        assert_eq!(doc.to_string(), "name = \"shop\"\n");
        assert!(!remove_pin(&mut doc, "a"));
    }

    #[test]
    fn export_is_a_path_or_a_list() {
        let read = |settings: &str| {
            Project::parse_with_settings(
                Path::new("/p"),
                "name = \"a\"\n".into(),
                Some(settings.into()),
            )
        };
        let one = read("[realm]\nexport = \"api.txtpb\"\n").expect("one");
        assert_eq!(one.export_paths(), [PathBuf::from("/p/api.txtpb")]);
        let two = read("[realm]\nexport = [\"api.txtpb\", \"api.json\"]\n").expect("two");
        assert_eq!(
            two.export_paths(),
            [PathBuf::from("/p/api.txtpb"), PathBuf::from("/p/api.json")]
        );
        assert_eq!(two.export_path(), PathBuf::from("/p/api.txtpb"));
        let none = read("").expect("none");
        assert_eq!(
            none.export_paths(),
            [PathBuf::from("/p").join(DEFAULT_EXPORT)]
        );
        for bad in [
            "export = []",
            "export = [1]",
            "export = 1",
            "export = [\"../x\"]",
        ] {
            assert!(read(&format!("[realm]\n{bad}\n")).is_err(), "{bad}");
        }
        let remote = parse_remote(
            ("p", "name = \"a\"\n".into()),
            Some((
                "s",
                "[realm]\nexport = [\"api.txtpb\", \"api.json\"]\n".into(),
            )),
        )
        .expect("remote");
        assert_eq!(remote.schema_path(), Some("api.json"));
    }

    #[test]
    fn migrate_moves_inline_pins_and_settings_of_every_form() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "name = \"shop\"\nrealm.export = \"api.txtpb\"\n\n[realms.egress]\nbank = {{ git-repo = \"r\", git-commit = \"{COMMIT}\" }}\n\n[ingress.runners]\ndefault = \"http://127.0.0.1:1\"\n"
        );
        std::fs::write(dir.path().join(PROJECT_FILE), &text).expect("write");
        let migrated =
            migrate(dir.path(), &[("bank".into(), "api.txtpb".into())]).expect("migrate");
        assert_eq!(migrated.moved, ["realm", "ingress"]);
        assert_eq!(migrated.pins, ["bank"]);
        let project = Project::load(dir.path()).expect("load");
        assert!(project.warnings.is_empty(), "{:?}", project.warnings);
        assert_eq!(project.export, ["api.txtpb"]);
        assert_eq!(project.ingress.runners.len(), 1);
        let bank = project.pin("bank").expect("bank");
        assert_eq!(bank.table, PinTable::ExternalRealms);
        assert_eq!(bank.path.as_deref(), Some("api.txtpb"));
        assert!(!project.text.contains("realms.egress"), "{}", project.text);
    }
}
