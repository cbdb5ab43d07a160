//! A pinned realm's public API read at a commit of its repository
//! ([`read_api`]): which schema file, read from the cache at that commit,
//! decoded and checked to be one realm that stands on its own.

use anyhow::{Context as _, Result, anyhow, bail};

use super::{MAX_SCHEMA_SIZE, PinnedApi, label, short};
use crate::git::{self, CachedRepo, Oid, ReadError};
use crate::project::{DEFAULT_EXPORT, RemoteProject, parse_remote};
use crate::schema::diagnostic::{Report, Sources};
use crate::schema::validate::validate_with_warnings;
use crate::schema::{Schema, txtpb};

/// Reads and checks the public API at `commit`. `name` is how the realm is
/// called in messages. Validation warnings are the other realm's to see,
/// unless `deny_warnings` makes them errors.
///
/// The schema file is `git_path` when given; else the repository's own
/// `[realm] export` (its `realm.toml`, or the older layout's
/// `ftl-project.toml`; the first `.json` of a list); else
/// `ftl-external-schema.json` when the commit has it (what FTL's `ftl realm
/// add` reads); else `ftl-external-schema.txtpb`.
pub(super) fn read_api(
    repo: &CachedRepo,
    name: &str,
    commit: Oid,
    git_path: Option<&str>,
    deny_warnings: bool,
) -> Result<PinnedApi> {
    use crate::project::{FTL_DEFAULT_EXPORT, PROJECT_FILE};
    let at = || format!("{} (commit {})", repo.url(), short(commit));
    let read_bytes = |path: &str| -> Result<Option<Vec<u8>>> {
        match repo.read_bytes(commit, path, MAX_SCHEMA_SIZE) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ReadError::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow!("`{path}` of {} {e}", at())),
        }
    };
    let project = read_remote(repo, name, commit)?;
    let (path, text) = match (
        git_path,
        project.as_ref().and_then(RemoteProject::schema_path),
    ) {
        (Some(path), _) | (None, Some(path)) => {
            git::check_repo_path(path)?;
            // `.binpb` is binary: the schema file is read as bytes, and its
            // format told by its extension.
            let text = read_bytes(path)?;
            (path.to_string(), text)
        }
        (None, None) => match read_bytes(FTL_DEFAULT_EXPORT)? {
            Some(text) => (FTL_DEFAULT_EXPORT.to_string(), Some(text)),
            None => (DEFAULT_EXPORT.to_string(), read_bytes(DEFAULT_EXPORT)?),
        },
    };
    let Some(text) = text else {
        if git_path.is_none() && project.as_ref().is_none_or(|p| p.export.is_empty()) {
            bail!(
                "{} has no schema file: neither {FTL_DEFAULT_EXPORT} nor {DEFAULT_EXPORT}{}\n\
                 help: run `realm export` (or FTL's `ftl schema get --external --json > {FTL_DEFAULT_EXPORT}`) in that repository and commit it, \
                 or name the schema file with --git-path",
                at(),
                if project.is_none() {
                    format!(", and no {PROJECT_FILE} naming another")
                } else {
                    String::new()
                }
            );
        }
        bail!(
            "{} has no schema file `{path}`\n\
             help: run `realm export` in that repository and commit `{path}`{}",
            at(),
            if git_path.is_some() {
                ", or fix --git-path"
            } else {
                ""
            }
        );
    };
    // Once the realm's own name is known, files are named after it.
    let name = project.as_ref().map_or(name, |p| p.name.as_str());
    let file = label(name, commit, &path);
    let decoded = txtpb::decode_published(&file, &path, &text).map_err(|d| {
        let mut sources = Sources::new();
        sources.insert(file.clone(), String::from_utf8_lossy(&text).into_owned());
        anyhow::Error::from(Report::new(vec![d], sources)).context(format!(
            "the public API in `{path}` of {} is malformed",
            at()
        ))
    })?;
    let (mut schema, legacy) = (decoded.schema, decoded.legacy);
    if schema.realms.len() != 1 || (!legacy && schema.realms[0].external) {
        bail!(
            "`{path}` of {} holds {} realm(s) ({} external); a published realm is exactly one internal realm, as FTL's `ftl schema get --external` and `realm export` write it\n\
             help: regenerate it with `realm export` in that repository",
            at(),
            schema.realms.len(),
            schema.realms.iter().filter(|r| r.external).count()
        );
    }
    let mut realm = schema.realms.remove(0);
    if let Some(project) = &project
        && project.name != realm.name
    {
        bail!(
            "`{path}` of {} is the public API of realm `{}`, but its {} names the realm `{}`\n\
             help: regenerate `{path}` with `realm export` in that repository",
            at(),
            realm.name,
            crate::project::PROJECT_FILE,
            project.name
        );
    }
    realm.external = true;
    // Every realm has its own builtin module (FTL publishes the builtin
    // declarations its realm's API uses).
    realm.modules.retain(|m| !m.builtin);
    let own = Schema {
        realms: vec![realm],
    };
    let problems: Vec<_> = validate_with_warnings(&own)
        .into_iter()
        .filter(|d| deny_warnings || !d.is_warning())
        .map(|d| d.into_error())
        .collect();
    if !problems.is_empty() {
        return Err(anyhow::Error::from(Report::new(
            problems
                .into_iter()
                .map(|d| match d.context() {
                    Some(c) => {
                        let c = format!("{file}: {c}");
                        d.with_context(c)
                    }
                    None => d.with_context(file.clone()),
                })
                .collect(),
            Sources::new(),
        ))
        .context(format!(
            "the public API in `{path}` of {} is not valid",
            at()
        )));
    }
    let realm = own.realms.into_iter().next().unwrap_or_default();
    Ok(PinnedApi {
        name: realm.name.clone(),
        realm,
        path,
        legacy,
    })
}

/// What the realm's project files say about it at `commit`
/// (`ftl-project.toml` and, when there is one, `realm.toml`, each a
/// regular file inside the repository of at most [`MAX_SCHEMA_SIZE`]);
/// `None` when the commit has no `ftl-project.toml`.
pub(super) fn read_remote(
    repo: &CachedRepo,
    name: &str,
    commit: Oid,
) -> Result<Option<RemoteProject>> {
    use crate::project::{PROJECT_FILE, SETTINGS_FILE};
    let at = || format!("{} (commit {})", repo.url(), short(commit));
    let read = |path: &str| -> Result<Option<String>> {
        match repo.read_file(commit, path, MAX_SCHEMA_SIZE) {
            Ok(text) => Ok(Some(text)),
            Err(ReadError::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow!("`{path}` of {} {e}", at())),
        }
    };
    let Some(text) = read(PROJECT_FILE)? else {
        return Ok(None);
    };
    let settings = read(SETTINGS_FILE)?;
    let project_label = label(name, commit, PROJECT_FILE);
    let settings_label = label(name, commit, SETTINGS_FILE);
    let remote = parse_remote(
        (&project_label, text),
        settings.map(|t| (settings_label.as_str(), t)),
    )
    .map_err(anyhow::Error::from)
    .with_context(|| format!("the realm's project files at {} are invalid", at()))?;
    Ok(Some(remote))
}
