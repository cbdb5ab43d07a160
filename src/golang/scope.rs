//! What a name means in an FTL Go module: the module's packages (the root
//! package and its subpackages `ftl/<module>/...`), the types, functions,
//! methods and constants each declares, and what each file's imports point
//! at (the Go standard library's `time` and `context`, FTL's SDK, another
//! FTL module, a subpackage of this one, or an external package).
//!
//! This is the small part of Go's type checker that schema extraction
//! needs, done by name over the syntax: no Go toolchain, no module
//! download. Pure; built from parsed files.

use std::collections::HashMap;
use std::sync::Arc;

use super::syntax::{ConstSpec, Expr, FuncDecl, GoFile, GoType, TypeDecl};

/// The import path of FTL's Go SDK (`ftl.Option`, `ftl.Config`, ...).
pub const FTL_SDK: &str = "github.com/block/ftl/go-runtime/ftl";

/// A parsed file of the module.
#[derive(Clone, Debug)]
pub struct File {
    /// Relative to the project root, as positions name it.
    pub path: Arc<str>,
    /// The package directory relative to the module root (`""` for the
    /// root package, `"internal/db"` for a subpackage).
    pub package_dir: String,
    pub syntax: GoFile,
}

/// What a package qualifier (`ftl.`, `time.`, `two.`) refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Imported<'a> {
    Time,
    Context,
    Sdk,
    /// A package of this module, by directory.
    ThisModule(&'a str),
    /// Another FTL module (`ftl/<name>`), including `ftl/builtin`.
    Module(String),
    /// Anything else, with the path and the name Go would give it.
    External {
        path: &'a str,
    },
}

/// One package of the module.
#[derive(Default)]
pub struct Package<'a> {
    pub types: HashMap<&'a str, (&'a TypeDecl, usize)>,
    pub funcs: HashMap<&'a str, (&'a FuncDecl, usize)>,
    /// Method names by receiver type (value receivers only: the method set
    /// of the type itself, which is what makes it a type-enum variant).
    pub methods: HashMap<&'a str, Vec<&'a str>>,
    /// Constants by name: the spec, the position of the name in it.
    pub consts: HashMap<&'a str, (&'a ConstSpec, usize)>,
    /// Constant specs in source order with their effective type and
    /// values (Go's implicit repetition applied): what value enums read.
    pub const_specs: Vec<EffectiveConst<'a>>,
}

/// A const spec after Go's implicit repetition: `Two` in
/// `const (One Color = iota + 1; Two)` has type `Color` and value
/// `iota + 1` with iota 1.
pub struct EffectiveConst<'a> {
    pub spec: &'a ConstSpec,
    pub file: usize,
    pub ty: Option<&'a GoType>,
    pub values: &'a [Expr],
}

/// The module's scope: every package and file.
pub struct Scope<'a> {
    pub module: &'a str,
    /// `ftl/<module>`: the Go module path from go.mod.
    pub module_path: &'a str,
    pub files: &'a [File],
    pub packages: HashMap<&'a str, Package<'a>>,
    /// Per file: each import's qualifier and what it refers to.
    imports: Vec<Vec<(String, Imported<'a>)>>,
}

impl<'a> Scope<'a> {
    pub fn new(module: &'a str, module_path: &'a str, files: &'a [File]) -> Scope<'a> {
        let mut packages: HashMap<&'a str, Package<'a>> = HashMap::new();
        for (i, file) in files.iter().enumerate() {
            let pkg = packages.entry(file.package_dir.as_str()).or_default();
            for t in &file.syntax.types {
                pkg.types.entry(t.name.as_str()).or_insert((t, i));
            }
            for f in &file.syntax.funcs {
                pkg.funcs.entry(f.name.as_str()).or_insert((f, i));
            }
            for m in &file.syntax.methods {
                if !m.pointer {
                    pkg.methods
                        .entry(m.receiver.as_str())
                        .or_default()
                        .push(m.name.as_str());
                }
            }
            for group in &file.syntax.consts {
                let mut last: Option<(Option<&'a GoType>, &'a [Expr])> = None;
                for spec in &group.specs {
                    let (ty, values) = if spec.values.is_empty() && spec.ty.is_none() {
                        last.unwrap_or((None, &[]))
                    } else {
                        (spec.ty.as_ref(), spec.values.as_slice())
                    };
                    last = Some((ty, values));
                    for (k, (name, _)) in spec.names.iter().enumerate() {
                        pkg.consts.entry(name.as_str()).or_insert((spec, k));
                    }
                    pkg.const_specs.push(EffectiveConst {
                        spec,
                        file: i,
                        ty,
                        values,
                    });
                }
            }
        }
        let mut scope = Scope {
            module,
            module_path,
            files,
            packages,
            imports: Vec::new(),
        };
        scope.imports = files
            .iter()
            .map(|f| {
                f.syntax
                    .imports
                    .iter()
                    .map(|i| {
                        let qualifier = match &i.name {
                            Some(name) => name.clone(),
                            None => scope.package_name(&i.path),
                        };
                        (qualifier, scope.resolve_import(&i.path))
                    })
                    .collect()
            })
            .collect();
        scope
    }

    pub fn package(&self, dir: &str) -> Option<&Package<'a>> {
        self.packages.get(dir)
    }

    /// The package directory of an import path inside this module.
    fn module_dir(&self, path: &'a str) -> Option<&'a str> {
        if path == self.module_path {
            Some("")
        } else {
            path.strip_prefix(self.module_path)?.strip_prefix('/')
        }
    }

    /// What `qualifier.` means in file `file`.
    pub fn import(&self, file: usize, qualifier: &str) -> Option<Imported<'a>> {
        self.imports
            .get(file)?
            .iter()
            .find(|(q, _)| q == qualifier)
            .map(|(_, i)| i.clone())
    }

    fn resolve_import(&self, path: &'a str) -> Imported<'a> {
        match path {
            "time" => Imported::Time,
            "context" => Imported::Context,
            FTL_SDK => Imported::Sdk,
            _ => {
                if let Some(dir) = self.module_dir(path) {
                    Imported::ThisModule(dir)
                } else if let Some(rest) = path.strip_prefix("ftl/") {
                    let module = rest.split('/').next().unwrap_or(rest);
                    Imported::Module(module.trim_end_matches("_test").to_string())
                } else {
                    Imported::External { path }
                }
            }
        }
    }

    /// The name a package is known by when imported without a name: the
    /// package clause for this module's packages, otherwise the name Go's
    /// tools assume from the path.
    pub fn package_name(&self, path: &str) -> String {
        let dir = if path == self.module_path {
            Some("")
        } else {
            path.strip_prefix(self.module_path)
                .and_then(|r| r.strip_prefix('/'))
        };
        if let Some(dir) = dir
            && let Some(f) = self.files.iter().find(|f| f.package_dir == dir)
        {
            return f.syntax.package.clone();
        }
        assumed_package_name(path)
    }
}

/// The package name Go's tools assume for an import path
/// (`golang.org/x/tools/internal/imports.ImportPathToAssumedName`):
/// the last element, skipping a `/vN` major version, without a `go-`
/// prefix, cut at the first character that cannot be in an identifier.
pub fn assumed_package_name(path: &str) -> String {
    let mut parts = path.rsplit('/');
    let mut base = parts.next().unwrap_or(path);
    if let Some(v) = base.strip_prefix('v')
        && !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit())
        && let Some(dir) = parts.next()
    {
        base = dir;
    }
    let base = base.strip_prefix("go-").unwrap_or(base);
    let end = base
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(base.len());
    base[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_names() {
        assert_eq!(
            assumed_package_name("github.com/jpillora/backoff"),
            "backoff"
        );
        assert_eq!(assumed_package_name("example.com/x/v2"), "x");
        assert_eq!(
            assumed_package_name("github.com/go-sql-driver/mysql"),
            "mysql"
        );
        assert_eq!(assumed_package_name("gopkg.in/yaml.v3"), "yaml");
        assert_eq!(assumed_package_name("github.com/x/go-redis"), "redis");
        assert_eq!(assumed_package_name("ftl/two"), "two");
    }
}
