//! Reading the project's files as a whole: `ftl-project.toml` and
//! `realm.toml` into a [`Project`] (the older layout's settings and
//! `[realms.egress]` with a warning each, a key set in both files an
//! error, pins in every form FTL writes), and the little another realm's
//! repository must say about itself ([`parse_remote`]). Every problem has
//! a position; the typed values are read by `reader.rs`.

use std::path::Path;

use toml_edit::{Document, Item};

use super::reader::{Found, Reader};
use super::{
    CALLER_TABLE, IngressSettings, LEGACY_SETTINGS, ModuleDir, PROJECT_FILE, Pin, PinTable,
    Project, RealmKey, SETTINGS_FILE, TlsSettings, is_inside,
};
use crate::schema::diagnostic::{Diagnostic, Report, Sources, pos_at};

/// What another realm's repository says about itself: its name, and
/// where it exports its public API.
#[derive(Clone, Debug)]
pub struct RemoteProject {
    /// `name` of its `ftl-project.toml`.
    pub name: String,
    /// `[realm] export` of its `realm.toml` (or, in the older layout, of
    /// its `ftl-project.toml`); empty when not set.
    pub export: Vec<String>,
    /// `[realm] public-keys` and `retired-keys`: the keys its calls are
    /// signed with, as of the pinned commit.
    pub keys: Vec<RealmKey>,
    /// `[realm] usage`: where its `realm export` writes what it uses of the
    /// realms it pins (else [`super::DEFAULT_USAGE`]).
    pub usage: Option<String>,
}

impl RemoteProject {
    /// The path of its usage file in its repository.
    pub fn usage_path(&self) -> &str {
        self.usage.as_deref().unwrap_or(super::DEFAULT_USAGE)
    }
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
/// Only what is needed to find its public API and check its calls is
/// read: `name`, `[realm] export` and its keys; the rest is that realm's
/// business.
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
    let mut keys = Vec::new();
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
        Some((item, r)) => r.realm_table(
            item,
            &mut export,
            &mut descriptor_set,
            &mut keys,
            &mut found,
        ),
        None => {
            if let Some(item) = doc.get("realm") {
                reader.realm_table(
                    item,
                    &mut export,
                    &mut descriptor_set,
                    &mut keys,
                    &mut found,
                );
            }
        }
    }
    if !found.errors.is_empty() {
        return Err(fail(found.errors));
    }
    Ok(RemoteProject {
        name,
        export,
        keys,
        usage: found.usage,
    })
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

pub(super) fn parse(
    root: &Path,
    text: String,
    settings: Option<String>,
) -> Result<Project, Report> {
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
    let mut keys = Vec::new();
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
                "realm" => r.realm_table(
                    item,
                    &mut export,
                    &mut descriptor_set,
                    &mut keys,
                    &mut found,
                ),
                "ingress" => r.ingress(item, &mut ingress, &mut found),
                // Read below, with the pins.
                CALLER_TABLE if own => {}
                CALLER_TABLE => found.errors.push(
                    r.span_diag(
                        first_span(item),
                        format!(
                            "`[{CALLER_TABLE}]` is a setting of realm's in {PROJECT_FILE}, which FTL refuses (\"unknown configuration keys\")"
                        ),
                    )
                    .with_help(format!(
                        "move the `[{CALLER_TABLE}.<name>]` tables to {SETTINGS_FILE}, beside {PROJECT_FILE}; `realm add --caller` writes them there"
                    )),
                ),
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
    let mut callers: Vec<Pin> = Vec::new();
    if let (Some(sdoc), Some(sreader)) = (&settings_doc, &settings_reader) {
        match sdoc.get(CALLER_TABLE).map(|c| (c, c.as_table_like())) {
            None => {}
            Some((c, None)) => found.errors.push(
                sreader
                    .at(c, format!("`{CALLER_TABLE}` must be a table"))
                    .with_help(format!(
                        "write one `[{CALLER_TABLE}.<name>]` table per realm that calls this one"
                    )),
            ),
            Some((_, Some(table))) => {
                for (caller, item) in table.iter() {
                    match sreader.pin(
                        table,
                        caller,
                        item,
                        PinTable::CallerRealms,
                        &mut found.warnings,
                    ) {
                        Ok(pin) if pin.name == name => found.errors.push(
                            Diagnostic::new(
                                format!(
                                    "realm `{}` is this project's own realm and cannot be its caller",
                                    pin.name
                                ),
                                pin.pos.clone(),
                            )
                            .with_len(pin.name.len())
                            .with_help(format!("remove `[{CALLER_TABLE}.{}]`", pin.name)),
                        ),
                        Ok(pin) => callers.push(pin),
                        Err(d) => found.errors.push(d),
                    }
                }
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
        usage: found.usage,
        keys,
        pins,
        callers,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use super::super::DEFAULT_EXPORT;

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

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn callers_are_read_from_realm_toml_apart_from_the_pins() {
        let pin = format!("git-repo = \"../shop\"\ngit-commit = \"{COMMIT}\"\n");
        let project = Project::parse_with_settings(
            Path::new("/p"),
            format!("name = \"bank\"\n[external-realms.shop]\n{pin}"),
            Some(format!(
                "[caller-realms.shop]\n{pin}git-branch = \"main\"\n"
            )),
        )
        .unwrap_or_else(|r| panic!("{r}"));
        assert!(project.warnings.is_empty(), "{:?}", project.warnings);
        assert_eq!(project.pins.len(), 1);
        assert_eq!(project.pins[0].table, PinTable::ExternalRealms);
        let caller = project.caller("shop").expect("caller");
        assert_eq!(caller.table, PinTable::CallerRealms);
        assert_eq!(caller.branch.as_deref(), Some("main"));
        assert_eq!(
            caller.pos.as_ref().map(ToString::to_string).as_deref(),
            Some("realm.toml:1:16")
        );
        assert_eq!(
            project.pin("shop").map(|p| p.table),
            Some(PinTable::ExternalRealms)
        );
    }

    #[test]
    fn callers_are_refused_where_ftl_reads_and_checked_like_pins() {
        let read = |project: &str, settings: &str| {
            Project::parse_with_settings(
                Path::new("/p"),
                format!("name = \"bank\"\n{project}"),
                Some(settings.to_string()),
            )
            .map(|_| ())
            .map_err(|r| r.to_string())
        };
        let pin = format!("git-repo = \"r\"\ngit-commit = \"{COMMIT}\"\n");
        let err = read(&format!("[caller-realms.shop]\n{pin}"), "").expect_err("ftl file");
        assert!(
            err.contains("`[caller-realms]` is a setting of realm's in ftl-project.toml"),
            "{err}"
        );
        assert!(err.contains("realm.toml"), "{err}");
        let err = read("", "[caller-realms.shop]\ngit-repo = \"r\"\n").expect_err("no commit");
        assert!(
            err.contains("pin `caller-realms.shop` has no `git-commit`"),
            "{err}"
        );
        assert!(err.contains("realm remove --caller shop"), "{err}");
        let err = read("", &format!("[caller-realms.bank]\n{pin}")).expect_err("own name");
        assert!(err.contains("cannot be its caller"), "{err}");
        let err = read("", "caller-realms = 1\n").expect_err("not a table");
        assert!(err.contains("`caller-realms` must be a table"), "{err}");
        let err = read(
            "",
            "[caller-realms.shop]\ngit-repo = \"r\"\ngit-commit = \"abc\"\n",
        )
        .expect_err("short commit");
        assert!(err.contains("is not a full commit id"), "{err}");
    }
}
