//! A loaded project: `ftl-project.toml`, the local schema files and the
//! realms they refer to, assembled into one validated schema.
//!
//! This is what every command that needs the schema starts from.

use std::path::Path;

use anyhow::Result;

use crate::project::Project;
use crate::schema::diagnostic::{Report, Sources};
use crate::schema::{Realm, Schema, validate};
use crate::sources;

/// A project with its schema, validated.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub project: Project,
    /// The internal realm and the external realms it can refer to.
    pub schema: Schema,
    /// The texts the schema was parsed from, for diagnostics.
    pub sources: Sources,
    /// How many schema files were read.
    pub files: usize,
}

impl Workspace {
    /// Finds the project from `dir`, reads its schema files and validates
    /// the result. Every parse or validation error is reported at once.
    pub fn load(dir: &Path) -> Result<Workspace> {
        let project = Project::discover(dir)?;
        let local = sources::load(&project)?;
        let diagnostics = validate(&local.schema);
        if !diagnostics.is_empty() {
            return Err(Report::new(diagnostics, local.sources).into());
        }
        Ok(Workspace {
            project,
            schema: local.schema,
            sources: local.sources,
            files: local.files,
        })
    }

    /// The internal realm (the project's own).
    pub fn internal_realm(&self) -> &Realm {
        self.schema
            .internal_realm()
            .unwrap_or_else(|| unreachable!("a workspace always has its internal realm"))
    }
}
