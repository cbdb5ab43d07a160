//! `realm import`: a realm made from a gRPC server (reflection), `.proto`
//! files (compiled with protox) or a descriptor set, and the realm directory
//! written from it.
//!
//! The conversion itself is [`convert`] (pure). Here: getting descriptors
//! from the three sources, closing them over imports, and writing the
//! output directory — a realm project another project can `realm add`:
//!
//! ```text
//! <dir>/ftl-project.toml            name, module-dirs = ["schema"] (FTL's keys only)
//! <dir>/realm.toml                  [realm] export and descriptor-set,
//!                                   [ingress.runners] default (gRPC imports)
//! <dir>/schema/<module>.ftl         the schema text, one file per module
//! <dir>/ftl-external-schema.txtpb   the public API, as `realm export` writes it
//! <dir>/descriptors.binpb           the FileDescriptorSet the ingress transcodes with
//! ```

pub mod convert;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

use crate::files;
use crate::net::channel::ChannelOptions;
use crate::net::reflection::{self, Headers, Version};
use crate::project::{PROJECT_FILE, SETTINGS_FILE};
use crate::schema::diagnostic::{Diagnostic, Report, Sources};
use crate::schema::{Decl, Realm, Schema, print_modules, validate};

pub use convert::Skipped;

/// The descriptor set file in an output directory.
pub const DESCRIPTOR_SET: &str = "descriptors.binpb";
/// Where the schema text goes in an output directory.
pub const SCHEMA_DIR: &str = "schema";

/// Where an import came from.
#[derive(Clone, Debug)]
pub enum Source {
    Grpc {
        endpoint: String,
        version: Version,
        /// Reflection v1 was asked first and is not served.
        fell_back: bool,
    },
    Proto {
        files: Vec<String>,
    },
    DescriptorSet {
        path: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Grpc {
                endpoint,
                version,
                fell_back,
            } => {
                write!(f, "{endpoint} (gRPC server reflection {version}")?;
                if *fell_back {
                    write!(f, "; the server does not offer v1")?;
                }
                write!(f, ")")
            }
            Source::Proto { files } => write!(f, "{}", files.join(", ")),
            Source::DescriptorSet { path } => write!(f, "descriptor set {path}"),
        }
    }
}

/// A realm made from descriptors.
#[derive(Clone, Debug)]
pub struct Imported {
    pub source: Source,
    /// The realm (internal: the output directory's own).
    pub realm: Realm,
    /// Methods that have no verb (streaming).
    pub skipped: Vec<Skipped>,
    /// Every file the services need, sorted by name (written dependencies
    /// first: [`Imported::descriptor_set`]).
    pub files: Vec<FileDescriptorProto>,
    /// How many services became modules.
    pub services: usize,
}

impl Imported {
    pub fn verbs(&self) -> usize {
        self.realm
            .decls()
            .filter(|(_, d)| matches!(d, Decl::Verb(_)))
            .count()
    }

    pub fn types(&self) -> usize {
        self.realm
            .decls()
            .filter(|(_, d)| d.kind().is_type())
            .count()
    }

    /// The descriptor set, encoded: every file after the files it imports
    /// (what `protoc --include_imports` writes, and what Python's
    /// `DescriptorPool.Add` needs), otherwise by name.
    pub fn descriptor_set(&self) -> Vec<u8> {
        FileDescriptorSet {
            file: dependencies_first(&self.files),
        }
        .encode_to_vec()
    }
}

/// `files` ordered so that each comes after its imports: a depth-first
/// walk from each file in name order, imports first. Iterative (a file may
/// import many levels deep); an import that is not among `files`, or a
/// cycle, cannot reorder anything and is passed over.
fn dependencies_first(files: &[FileDescriptorProto]) -> Vec<FileDescriptorProto> {
    let mut by_name: BTreeMap<&str, &FileDescriptorProto> = BTreeMap::new();
    for file in files {
        by_name.entry(file.name()).or_insert(file);
    }
    let mut placed: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(by_name.len());
    for &root in by_name.keys() {
        // (file, index of the next import to visit)
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        let mut on_stack: std::collections::HashSet<&str> = std::collections::HashSet::new();
        on_stack.insert(root);
        while let Some((name, next)) = stack.pop() {
            if placed.contains(name) {
                on_stack.remove(name);
                continue;
            }
            let imports = &by_name[name].dependency;
            match imports.get(next) {
                Some(import) => {
                    stack.push((name, next + 1));
                    if let Some((&import, _)) = by_name.get_key_value(import.as_str())
                        && !placed.contains(import)
                        && on_stack.insert(import)
                    {
                        stack.push((import, 0));
                    }
                }
                None => {
                    placed.insert(name);
                    on_stack.remove(name);
                    out.push(by_name[name].clone());
                }
            }
        }
    }
    out
}

/// How to reach the server for `realm import grpc`.
#[derive(Clone, Debug)]
pub struct GrpcRequest {
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    pub timeout: Duration,
}

/// Builds a realm from the services of a gRPC server through reflection.
pub async fn from_grpc(request: &GrpcRequest, name: Option<&str>) -> Result<Imported> {
    from_grpc_with_progress(request, name, &|_| {}).await
}

/// [`from_grpc`], telling `progress` each step of reflection.
pub async fn from_grpc_with_progress(
    request: &GrpcRequest,
    name: Option<&str>,
    progress: reflection::Progress<'_>,
) -> Result<Imported> {
    let headers = parse_headers(&request.headers)?;
    let cacert = match &request.cacert {
        Some(path) => Some(files::read_bytes(path).map_err(|e| {
            anyhow!(
                "cannot read --cacert {}: {}",
                path.display(),
                e.root_cause()
            )
        })?),
        None => None,
    };
    let options = ChannelOptions {
        endpoint: request.endpoint.clone(),
        cacert,
        insecure: request.insecure,
        timeout: request.timeout,
    };
    let reflected = reflection::reflect(&options, &headers, progress)
        .await
        .map_err(|e| {
            let help = e.help();
            match help {
                Some(help) => anyhow!("{e}\nhelp: {help}"),
                None => anyhow!("{e}"),
            }
        })?;
    if reflected.services.is_empty() {
        bail!(
            "{} offers no services besides reflection\nhelp: register the services on the server",
            request.endpoint
        );
    }
    from_files(
        Source::Grpc {
            endpoint: request.endpoint.clone(),
            version: reflected.version,
            fell_back: reflected.fell_back,
        },
        reflected.files,
        &reflected.services,
        name,
    )
}

/// Builds a realm from `.proto` files: the services they define (not those
/// of the files they import). `includes` are the import paths; the
/// directory of each file is one too when none are given.
pub fn from_proto_files(
    paths: &[PathBuf],
    includes: &[PathBuf],
    name: Option<&str>,
) -> Result<Imported> {
    for path in paths {
        if !path.is_file() {
            bail!(
                "{} {}\nhelp: name .proto files by their path from the current directory",
                path.display(),
                if path.is_dir() {
                    "is a directory, not a .proto file"
                } else {
                    "does not exist"
                }
            );
        }
    }
    let includes: Vec<PathBuf> = if includes.is_empty() {
        let mut dirs: Vec<PathBuf> = paths
            .iter()
            .map(|p| p.parent().map(Path::to_path_buf).unwrap_or_default())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p
                }
            })
            .collect();
        dirs.dedup();
        dirs
    } else {
        includes.to_vec()
    };
    let mut compiler = protox::Compiler::new(&includes).map_err(|e| proto_error(e, &includes))?;
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(paths)
        .map_err(|e| proto_error(e, &includes))?;
    let root_files: Vec<String> = compiler
        .files()
        .filter(|f| !f.is_import())
        .map(|f| f.name().to_string())
        .collect();
    let set = compiler.file_descriptor_set();
    let pool = compiler.descriptor_pool();
    let services: Vec<String> = pool
        .services()
        .filter(|s| root_files.iter().any(|f| f == s.parent_file().name()))
        .map(|s| s.full_name().to_string())
        .collect();
    if services.is_empty() {
        bail!(
            "{} define{} no services\nhelp: name the .proto files that declare the services",
            root_files.join(", "),
            if root_files.len() == 1 { "s" } else { "" }
        );
    }
    from_files(
        Source::Proto {
            files: paths.iter().map(|p| p.display().to_string()).collect(),
        },
        set.file,
        &services,
        name,
    )
}

/// Builds a realm from an encoded `FileDescriptorSet` (`protoc
/// --descriptor_set_out --include_imports`): all its services.
pub fn from_descriptor_set(path: &Path, name: Option<&str>) -> Result<Imported> {
    let bytes = files::read_bytes(path)?;
    let set = FileDescriptorSet::decode(bytes.as_slice()).map_err(|e| {
        anyhow!(
            "{} is not an encoded FileDescriptorSet: {e}\nhelp: write one with `protoc --include_imports --descriptor_set_out=FILE ...` (or `buf build -o FILE`)",
            path.display()
        )
    })?;
    let pool = build_pool(set.file.clone())?;
    let services: Vec<String> = pool
        .services()
        .map(|s| s.full_name().to_string())
        .filter(|s| !s.starts_with("grpc.reflection."))
        .collect();
    if services.is_empty() {
        bail!("{} defines no services", path.display());
    }
    from_files(
        Source::DescriptorSet {
            path: path.display().to_string(),
        },
        set.file,
        &services,
        name,
    )
}

fn build_pool(files: Vec<FileDescriptorProto>) -> Result<DescriptorPool> {
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files).map_err(|e| {
        anyhow!(
            "the descriptors are incomplete or invalid: {e}\nhelp: include every imported file (protoc --include_imports)"
        )
    })?;
    Ok(pool)
}

fn from_files(
    source: Source,
    files: Vec<FileDescriptorProto>,
    services: &[String],
    name: Option<&str>,
) -> Result<Imported> {
    let mut by_name: BTreeMap<String, FileDescriptorProto> = BTreeMap::new();
    for file in files {
        by_name.entry(file.name().to_string()).or_insert(file);
    }
    let files: Vec<FileDescriptorProto> = by_name.into_values().collect();
    let pool = build_pool(files.clone())?;
    let name = match name {
        Some(n) => {
            if !crate::schema::is_ident(n) {
                bail!("`{n}` is not a valid realm name: use letters, digits and `_`");
            }
            n.to_string()
        }
        None => default_name(services),
    };
    let conversion = convert::convert(&pool, services, &name).map_err(|e| anyhow!(e))?;
    let schema = Schema {
        realms: vec![conversion.realm.clone()],
    };
    let problems = validate(&schema);
    if let Some(first) = problems.first() {
        bail!(
            "internal error: the imported realm is not valid: {first}\nhelp: please report this with the .proto files that caused it"
        );
    }
    Ok(Imported {
        source,
        services: services.len(),
        realm: conversion.realm,
        skipped: conversion.skipped,
        files,
    })
}

/// The first segment of the first service's package (`acme.bank.v1.Accounts`
/// → `acme`), or `imported`.
fn default_name(services: &[String]) -> String {
    services
        .first()
        .and_then(|s| s.split('.').next().filter(|_| s.contains('.')))
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| crate::schema::is_ident(s))
        .unwrap_or_else(|| "imported".to_string())
}

/// `key: value` headers; `$NAME` and `${NAME}` in values are replaced by
/// environment variables (so secrets stay out of shell history).
fn parse_headers(headers: &[(String, String)]) -> Result<Headers> {
    headers
        .iter()
        .map(|(key, value)| {
            let value = expand_env(value)?;
            let key = tonic::metadata::MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())
                .map_err(|_| anyhow!("`{key}` is not a valid header name"))?;
            let value = value
                .parse()
                .map_err(|_| anyhow!("the value of header `{key}` is not valid in a header"))?;
            Ok((key, value))
        })
        .collect()
}

/// Replaces `$NAME` and `${NAME}` with environment variables; `$$` is a
/// dollar sign. An unset variable is an error.
pub fn expand_env(text: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (name, after) = if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| anyhow!("unclosed `${{` in header value `{text}`"))?;
            (&r[..end], &r[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        if name.is_empty() {
            out.push('$');
            continue;
        }
        let value = std::env::var(name).map_err(|_| {
            anyhow!("environment variable `{name}` (used in a header) is not set\nhelp: export {name}=... first")
        })?;
        out.push_str(&value);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// A protox error with the file, line and column it points at.
fn proto_error(e: protox::Error, includes: &[PathBuf]) -> anyhow::Error {
    let label = miette::Diagnostic::labels(&e).and_then(|mut labels| labels.next());
    let file = e.file().map(str::to_string);
    let text = file.as_ref().and_then(|f| {
        includes
            .iter()
            .map(|dir| dir.join(f))
            .chain(std::iter::once(PathBuf::from(f)))
            .find_map(|p| files::read_text(&p).ok())
    });
    match (label, file, text) {
        (Some(label), Some(file), Some(text)) => {
            let pos = crate::schema::diagnostic::pos_at(&file, &text, label.offset());
            let mut d = Diagnostic::new(e.to_string(), Some(pos)).with_len(label.len());
            if let Some(l) = label.label() {
                d = d.with_label(l.to_string());
            }
            let mut sources = Sources::new();
            sources.insert(file, text);
            Report::new(vec![d], sources).into()
        }
        _ => anyhow!("{e}\nhelp: check the file names and the import paths (-I)"),
    }
}

/// What `write_output` wrote.
#[derive(Clone, Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub files: Vec<String>,
}

/// Writes the realm directory: project file, settings file, schema text,
/// export and descriptor set. A re-import refreshes them: schema files of
/// modules that are gone are removed, an existing ftl-project.toml or
/// realm.toml keeps everything but the keys written here.
pub fn write_output(dir: &Path, imported: &Imported) -> Result<Written> {
    files::create_dir_all(&dir.join(SCHEMA_DIR))?;
    let mut written = Vec::new();

    // ftl-project.toml (FTL's keys) and realm.toml (realm's settings):
    // created, or their keys updated in place, under the project's lock.
    let runner = match &imported.source {
        Source::Grpc { endpoint, .. } => Some(endpoint.as_str()),
        _ => None,
    };
    crate::project::write_imported(
        dir,
        &crate::project::Imported {
            source: &imported.source.to_string(),
            name: &imported.realm.name,
            module_dir: SCHEMA_DIR,
            descriptor_set: DESCRIPTOR_SET,
            runner,
        },
    )?;
    written.push(PROJECT_FILE.to_string());
    written.push(SETTINGS_FILE.to_string());

    // One schema file per module; stale ones removed.
    let mut keep = Vec::new();
    for module in &imported.realm.modules {
        let rel = format!("{SCHEMA_DIR}/{}.ftl", module.name);
        files::write_atomic(
            &dir.join(&rel),
            print_modules(std::slice::from_ref(module)).as_bytes(),
        )?;
        keep.push(dir.join(&rel));
        written.push(rel);
    }
    for stale in files::find_files(&dir.join(SCHEMA_DIR), "ftl")? {
        if !keep.contains(&stale) {
            files::remove_file(&stale)?;
        }
    }

    files::write_atomic(&dir.join(DESCRIPTOR_SET), &imported.descriptor_set())?;
    written.push(DESCRIPTOR_SET.to_string());

    // The export, as `realm export` makes it from the files above (printed
    // schema text parses back to this same realm).
    crate::export::of_realm(&imported.realm, &[dir.join(crate::project::DEFAULT_EXPORT)])?
        .write()?;
    written.push(crate::project::DEFAULT_EXPORT.to_string());
    Ok(Written {
        dir: dir.to_path_buf(),
        files: written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, imports: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.to_string()),
            dependency: imports.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn descriptor_sets_are_written_dependencies_first() {
        let files = vec![
            file(
                "a/service.proto",
                &["z/types.proto", "google/protobuf/timestamp.proto"],
            ),
            file("google/protobuf/timestamp.proto", &[]),
            file("m/cycle.proto", &["m/cycle2.proto"]),
            file("m/cycle2.proto", &["m/cycle.proto", "missing.proto"]),
            file("z/types.proto", &["google/protobuf/timestamp.proto"]),
        ];
        let order: Vec<String> = dependencies_first(&files)
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        assert_eq!(
            order,
            [
                "google/protobuf/timestamp.proto",
                "z/types.proto",
                "a/service.proto",
                "m/cycle2.proto",
                "m/cycle.proto",
            ]
        );
        // A deep chain, without recursion.
        let chain: Vec<FileDescriptorProto> = (0..10_000)
            .map(|i| {
                let name = format!("f{i:05}.proto");
                let import = format!("f{:05}.proto", i + 1);
                if i + 1 < 10_000 {
                    file(&name, &[&import])
                } else {
                    file(&name, &[])
                }
            })
            .collect();
        let order = dependencies_first(&chain);
        assert_eq!(order[0].name(), "f09999.proto");
        assert_eq!(order[9_999].name(), "f00000.proto");
    }
}
