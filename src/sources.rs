//! The local realm's sources: every `*.ftl` schema-text file under the
//! project's module directories, parsed, and every FTL module written in
//! Go (a directory with `ftl.toml`, see [`ftl_modules`](crate::ftl_modules)),
//! extracted; assembled into one schema.
//!
//! A file holds bare modules (they belong to the internal realm), or realm
//! blocks: `realm <name>` with the project's own name, or `external realm`
//! blocks (another realm's public API written out by hand). Files are read
//! in sorted path order so the assembled schema does not depend on the
//! filesystem's listing order. Bare references are made module-qualified
//! (`schema::qualify`), so everything after loading sees `module.Name`.

use std::collections::HashSet;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::files;
use crate::ftl_modules;
use crate::golang;
use crate::project::Project;
use crate::rules;
use crate::schema::diagnostic::{Diagnostic, Report, Sources};
use crate::schema::qualify::qualify_realm;
use crate::schema::{Pos, Realm, Schema, parse_file};

/// The local schema of a project and the texts it was parsed from.
#[derive(Clone, Debug)]
pub struct LocalSchema {
    /// The internal realm, and any external realms written in local files.
    pub schema: Schema,
    /// Text of every file, by its path relative to the project root.
    pub sources: Sources,
    /// How many schema files (`.ftl` and `.go`) were read.
    pub files: usize,
    /// What was passed over: symbolic links under the module directories.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and parses every schema file of the project. Parse errors of all
/// files are reported together; the schema is not validated here.
pub fn load(project: &Project) -> Result<LocalSchema> {
    let mut paths = Vec::new();
    let mut links = Vec::new();
    for (dir, path) in project.module_dirs.iter().zip(project.module_dir_paths()?) {
        let context = || {
            format!(
                "cannot read module directory `{}` (`module-dirs`)",
                dir.path
            )
        };
        paths.extend(files::find_files(&path, "ftl").with_context(context)?);
        links.extend(files::find_links(&path, "ftl").with_context(context)?);
    }
    paths.sort();
    paths.dedup();
    links.sort();
    links.dedup();
    let warnings = links
        .iter()
        .map(|link| {
            let name = files::relative(link, &project.root);
            Diagnostic::new(
                format!(
                    "`{name}` is a symbolic link, and schema files are not read through links (one could lead outside the project)"
                ),
                Some(Pos {
                    file: name.as_str().into(),
                    line: 1,
                    column: 1,
                }),
            )
            .with_help("put the file itself (or the directory) under the module directory instead of a link")
            .with_code(rules::SYMLINKED_SCHEMA)
            .into_warning()
        })
        .collect();

    let mut sources = Sources::new();
    let mut errors = Vec::new();
    let mut internal = Realm {
        name: project.name.clone(),
        ..Realm::default()
    };
    let mut external = Vec::new();
    // Files are read and parsed on every core (a realm of 100 files of 36
    // KiB: `cargo bench --bench schema`, export_binary), then taken in
    // order; the first file that cannot be read (in order) is the error.
    let read: Vec<_> = paths
        .par_iter()
        .map(|path| {
            let name = files::relative(path, &project.root);
            let text = files::read_text(path)
                .with_context(|| format!("cannot read schema file {name}"))?;
            let parsed = parse_file(&name, &text);
            anyhow::Ok((name, text, parsed))
        })
        .collect();
    let read = read.into_iter().collect::<Result<Vec<_>>>()?;
    for (name, text, parsed) in read {
        match parsed {
            Ok(file) => {
                internal.modules.extend(file.modules);
                for realm in file.realms {
                    if realm.external {
                        external.push(realm);
                    } else if realm.name == project.name {
                        if internal.comments.is_empty() {
                            internal.comments = realm.comments;
                        }
                        internal.modules.extend(realm.modules);
                    } else {
                        errors.push(
                            Diagnostic::new(
                                format!(
                                    "realm `{}` is not this project's realm `{}`",
                                    realm.name, project.name
                                ),
                                realm.pos,
                            )
                            .with_len(5)
                            .with_help(format!(
                                "rename it to `realm {}`, or write `external realm {}` if it is another realm's public API",
                                project.name, realm.name
                            ))
                            .with_code(rules::WRONG_REALM_NAME),
                        );
                    }
                }
            }
            Err(d) => errors.push(d.or_code(rules::SYNTAX)),
        }
        sources.insert(name, text);
    }
    let go = ftl_modules::load(project)?;
    let go_modules: HashSet<String> = go.modules.iter().map(|m| m.name.clone()).collect();
    internal.modules.extend(go.modules);
    sources.extend(go.sources);
    errors.extend(go.errors.into_iter().map(|d| d.or_code(rules::GO_SOURCE)));
    if errors.is_empty() {
        // What FTL decides with every module at hand (visibility spreading
        // into Go modules, external topics): after qualifying, so that
        // schema text's bare references count too.
        qualify_realm(&mut internal);
        errors.extend(
            golang::finalize::across_modules(
                &mut internal.modules,
                &go_modules,
                &go.external_params,
            )
            .into_iter()
            .map(|d| d.or_code(rules::GO_SOURCE)),
        );
    }
    if !errors.is_empty() {
        Diagnostic::sort(&mut errors);
        return Err(Report::new(errors, sources).into());
    }
    external.sort_by(|a, b| a.name.cmp(&b.name));
    external.iter_mut().for_each(qualify_realm);
    let mut realms = external;
    realms.push(internal);
    Ok(LocalSchema {
        schema: Schema { realms },
        sources,
        files: paths.len() + go.go_files,
        warnings,
    })
}
