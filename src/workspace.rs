//! A loaded project: `ftl-project.toml` and `realm.toml`, the local schema
//! files and the pinned external realms, assembled into one validated
//! schema.
//!
//! This is what every command that needs the schema starts from. The
//! schema is validated whole: errors stop the load; warnings are kept for
//! the command to print (errors too under `--deny-warnings`), after those
//! of the project files (which stay warnings). Afterwards a
//! `builtin` module written in schema text (as `ftl schema get` prints
//! one) is dropped: `realm`, like FTL, uses its own.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Result, bail};

use crate::pins::{self, Context};
use crate::project::{PROJECT_FILE, Project};
use crate::rules;
use crate::schema::diagnostic::{Diagnostic, Report, Sources};
use crate::schema::validate::validate_with_warnings;
use crate::schema::{Realm, Schema};
use crate::sources;

/// A project with its schema, validated.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub project: Project,
    /// The internal realm and the external realms it can refer to: pinned
    /// ones and any written in local schema files, sorted by name, the
    /// internal realm last.
    pub schema: Schema,
    /// The texts of the local schema files the warnings point into, for
    /// rendering them.
    pub sources: Sources,
    /// How many schema files were read.
    pub files: usize,
    /// Pinned realm (by the name pinned under) → the realm's own name.
    pub own_names: HashMap<String, String>,
    /// What validation found that does not stop the load (see
    /// `schema::validate`), sorted by position.
    pub warnings: Vec<Diagnostic>,
}

impl Workspace {
    /// Finds the project from `dir`, reads its schema files and its pinned
    /// realms (from the cache, fetching missing commits unless offline) and
    /// validates the whole. Every parse or validation error is reported at
    /// once.
    pub fn load(dir: &Path, ctx: &Context) -> Result<Workspace> {
        let project = Project::discover(dir)?;
        let local = sources::load(&project)?;
        let mut externals: Vec<Realm> = Vec::new();
        let mut internal = None;
        for realm in local.schema.realms {
            if realm.external {
                if let Some(pin) = project.pin(&realm.name) {
                    bail!(
                        "realm `{}` is both pinned ({PROJECT_FILE}{}) and declared in {}\n\
                         help: remove the `external realm {}` block or the pin",
                        realm.name,
                        pin.pos
                            .as_ref()
                            .map_or_else(String::new, |p| format!(":{}:{}", p.line, p.column)),
                        realm
                            .pos
                            .as_ref()
                            .map_or_else(|| "a schema file".to_string(), ToString::to_string),
                        realm.name
                    );
                }
                externals.push(realm);
            } else {
                internal = Some(realm);
            }
        }
        let mut own_names = HashMap::new();
        for pin in &project.pins {
            let (realm, own_name) = pins::load_pinned(&project, pin, ctx).map_err(|e| {
                match e.downcast::<Report>() {
                    Ok(mut report) => {
                        for d in &mut report.diagnostics {
                            *d = d.clone().or_code(rules::PINNED_REALM);
                        }
                        report.into()
                    }
                    Err(e) => e,
                }
            })?;
            own_names.insert(realm.name.clone(), own_name);
            externals.push(realm);
        }
        externals.sort_by(|a, b| a.name.cmp(&b.name));
        externals.extend(internal);
        let mut schema = Schema { realms: externals };
        let mut diagnostics = validate_with_warnings(&schema);
        diagnostics.extend(local.warnings);
        // Pinned realms have no positions: their warnings were seen by
        // their own realm, and accepted when they were pinned.
        diagnostics.retain(|d| !d.is_warning() || d.pos.is_some());
        if ctx.deny_warnings {
            diagnostics = diagnostics
                .into_iter()
                .map(Diagnostic::into_error)
                .collect();
        }
        if diagnostics.iter().any(|d| !d.is_warning()) {
            return Err(Report::new(diagnostics, local.sources).into());
        }
        for realm in &mut schema.realms {
            realm.modules.retain(|m| m.name != "builtin");
        }
        // The project files' warnings first: they are about the files
        // every other one is found through.
        // Only the texts a warning shows a line of are kept: the others
        // (the whole schema text of a large realm) are freed before the
        // command goes on (an export holds its files' bytes meanwhile).
        let mut sources = local.sources;
        let shown: HashSet<&str> = diagnostics
            .iter()
            .filter_map(|d| d.pos.as_ref().map(|p| &*p.file))
            .collect();
        sources.retain(|file, _| shown.contains(file.as_str()));
        sources.shrink_to_fit();
        if !project.warnings.is_empty() {
            sources.extend(project.sources());
            diagnostics.splice(
                0..0,
                project
                    .warnings
                    .iter()
                    .map(|d| d.clone().or_code(rules::PROJECT_FILE)),
            );
        }
        Ok(Workspace {
            project,
            schema,
            sources,
            files: local.files,
            own_names,
            warnings: diagnostics,
        })
    }

    /// The warnings, rendered with their source lines (empty when none).
    pub fn warnings_report(&self) -> Option<Report> {
        (!self.warnings.is_empty())
            .then(|| Report::new(self.warnings.clone(), self.sources.clone()))
    }

    /// The internal realm (the project's own).
    pub fn internal_realm(&self) -> &Realm {
        self.schema
            .internal_realm()
            .unwrap_or_else(|| unreachable!("a workspace always has its internal realm"))
    }
}
