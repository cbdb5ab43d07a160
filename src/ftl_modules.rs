//! FTL modules under a project's `module-dirs`: directories holding an
//! `ftl.toml`. Each Go module's `ftl.toml`, `go.mod`, `.go` files and
//! `db/<engine>/<name>/` directories are read here (through
//! [`files`](crate::files)) and handed to the pure extractor
//! ([`golang::extract`]); modules in other languages are refused with a
//! clear error rather than skipped.
//!
//! Modules are read and extracted in parallel (one worker per core); the
//! result does not depend on the order they finish in. This module reads
//! files and never writes any.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};

use crate::files;
use crate::golang::module_files::wrong_go_module;
use crate::golang::{
    self, DatabaseDir, ExternalParam, GoModule, GoSource, parse_ftl_toml, parse_go_mod,
};
use crate::project::Project;
use crate::schema::diagnostic::{Diagnostic, Sources};
use crate::schema::{DatabaseEngine, Module};

/// The FTL modules of a project, extracted.
#[derive(Debug, Default)]
pub struct FtlModules {
    pub modules: Vec<Module>,
    /// Verb parameters of other modules' types that are no verb clients,
    /// for [`golang::finalize::across_modules`].
    pub external_params: Vec<ExternalParam>,
    /// Every file read (ftl.toml, go.mod, .go), by path relative to the
    /// project root, for diagnostics.
    pub sources: Sources,
    /// Every problem found, in all modules.
    pub errors: Vec<Diagnostic>,
    /// How many Go files were read.
    pub go_files: usize,
    /// The module directories (absolute).
    pub dirs: Vec<PathBuf>,
}

/// Every directory under the project's module directories that holds an
/// `ftl.toml` (the module directories must be inside the project:
/// [`Project::module_dir_paths`]).
pub fn find(project: &Project) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for path in project.module_dir_paths()? {
        dirs.extend(files::find_dirs_with(&path, "ftl.toml")?);
    }
    dirs.sort();
    dirs.dedup();
    Ok(dirs)
}

/// What reading one module gave.
struct Read {
    module: Option<Module>,
    external_params: Vec<ExternalParam>,
    sources: Vec<(String, String)>,
    errors: Vec<Diagnostic>,
    go_files: usize,
}

/// Finds, reads and extracts every FTL module of the project. I/O errors
/// (an unreadable file) fail the whole load; problems in the modules are
/// collected in [`FtlModules::errors`].
pub fn load(project: &Project) -> Result<FtlModules> {
    let dirs = find(project)?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Read>)>> = Mutex::new(Vec::with_capacity(dirs.len()));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(dirs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(dir) = dirs.get(i) else {
                        break;
                    };
                    let read = read_module(&project.root, dir);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, read));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    let mut out = FtlModules {
        dirs,
        ..FtlModules::default()
    };
    for (_, read) in results {
        let read = read?;
        out.modules.extend(read.module);
        out.external_params.extend(read.external_params);
        out.sources.extend(read.sources);
        out.errors.extend(read.errors);
        out.go_files += read.go_files;
    }
    Ok(out)
}

fn rel(path: &Path, root: &Path) -> String {
    files::relative(path, root)
}

/// Reads and extracts the module in `dir`.
fn read_module(root: &Path, dir: &Path) -> Result<Read> {
    let mut read = Read {
        module: None,
        external_params: Vec::new(),
        sources: Vec::new(),
        errors: Vec::new(),
        go_files: 0,
    };
    let toml_path = dir.join("ftl.toml");
    let toml_name = rel(&toml_path, root);
    let toml = files::read_project_text(root, &toml_path)
        .with_context(|| format!("cannot read {toml_name}"))?;
    let config = parse_ftl_toml(&toml_name, &toml);
    read.sources.push((toml_name.clone(), toml.clone()));
    let config = match config {
        Ok(c) => c,
        Err(d) => {
            read.errors.push(d);
            return Ok(read);
        }
    };
    if config.language != "go" {
        read.errors.push(language_error(
            &toml_name,
            &toml,
            &config.module,
            &config.language,
        ));
        return Ok(read);
    }
    let go_mod_path = dir.join("go.mod");
    let go_mod_name = rel(&go_mod_path, root);
    if !go_mod_path.is_file() {
        read.errors.push(
            Diagnostic::new(
                format!("Go module `{}` has no go.mod", config.module),
                Some(crate::schema::diagnostic::pos_at(&toml_name, &toml, 0)),
            )
            .with_help(format!(
                "add {go_mod_name} starting with `module ftl/{}`",
                config.module
            )),
        );
        return Ok(read);
    }
    let go_mod = files::read_project_text(root, &go_mod_path)
        .with_context(|| format!("cannot read {go_mod_name}"))?;
    let module_path = match parse_go_mod(&go_mod_name, &go_mod) {
        Ok(p) if p == format!("ftl/{}", config.module) => p,
        Ok(p) => {
            read.errors
                .push(wrong_go_module(&go_mod_name, &go_mod, &p, &config.module));
            read.sources.push((go_mod_name, go_mod));
            return Ok(read);
        }
        Err(d) => {
            read.errors.push(d);
            read.sources.push((go_mod_name, go_mod));
            return Ok(read);
        }
    };
    read.sources.push((go_mod_name, go_mod));

    let paths = files::find_files_where(
        dir,
        |d| {
            let name = d
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            // What `go build ./...` leaves out: testdata, vendor, `_x`
            // directories and nested modules.
            name == "testdata"
                || name == "vendor"
                || name.starts_with('_')
                || d.join("go.mod").is_file()
                || d.join("ftl.toml").is_file()
        },
        |f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            name.ends_with(".go") && !name.ends_with("_test.go") && !name.starts_with(['_', '.'])
        },
    )?;
    let mut sources = Vec::with_capacity(paths.len());
    for path in &paths {
        let name = rel(path, root);
        let text =
            files::read_project_text(root, path).with_context(|| format!("cannot read {name}"))?;
        let package_dir = path.parent().map(|p| rel(p, dir)).unwrap_or_default();
        sources.push(GoSource {
            path: name,
            package_dir,
            text,
        });
    }
    read.go_files = sources.len();

    let mut databases = Vec::new();
    let sql_root = dir.join(&config.sql_root_dir);
    for engine_dir in files::subdirectories(&sql_root)? {
        let engine_name = engine_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(engine) = DatabaseEngine::from_keyword(&engine_name) else {
            continue;
        };
        for db in files::subdirectories(&engine_dir)? {
            if db.join("schema").is_dir() {
                databases.push(DatabaseDir {
                    engine,
                    name: db
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                });
            }
        }
    }

    let module = GoModule {
        name: config.module,
        config_file: toml_name,
        go_module_path: module_path,
        files: sources,
        databases,
    };
    match golang::extract(&module) {
        Ok(x) => {
            read.module = Some(x.module);
            read.external_params = x.external_params;
        }
        Err(errors) => read.errors.extend(errors),
    }
    read.sources
        .extend(module.files.into_iter().map(|f| (f.path, f.text)));
    Ok(read)
}

fn language_error(file: &str, text: &str, module: &str, language: &str) -> Diagnostic {
    let span = text
        .find("language")
        .map(|i| i..i + text[i..].find('\n').unwrap_or(text.len() - i));
    let pos = crate::schema::diagnostic::pos_at(file, text, span.as_ref().map_or(0, |s| s.start));
    let len = span.map_or(1, |s| text[s].trim_end().chars().count());
    let (message, help) = if language.is_empty() {
        (
            format!("FTL module `{module}` names no language"),
            "add `language = \"go\"` to ftl.toml".to_string(),
        )
    } else {
        (
            format!(
                "FTL module `{module}` is written in `{language}`; realm reads the schema of Go modules only"
            ),
            format!(
                "write the module's schema as a `.ftl` file under `module-dirs` (e.g. the module's part of `ftl schema get`) \
                 and move {file} aside, or keep `{module}` out of `module-dirs`"
            ),
        )
    };
    Diagnostic::new(message, Some(pos))
        .with_len(len)
        .with_help(help)
}
