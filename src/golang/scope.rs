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

/// A const spec after Go's implicit repetition of values and FTL's
/// hydration of types: `Two` in `const (One Color = iota + 1; Two)` has
/// type `Color` and value `iota + 1` with iota 1; in `const (X = 5; One
/// Color = iota; Two)` it has no type (FTL hydrates the type of a group's
/// first spec only).
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
                // FTL gives specs without a type the first spec's type only
                // when that one is an iota enum (`A L = iota`); Go repeats
                // the last values (and type) for specs without values.
                let hydrated = group
                    .specs
                    .first()
                    .filter(|first| first.iota_enum)
                    .and_then(|first| first.ty.as_ref());
                let mut last: &'a [Expr] = &[];
                for (k, spec) in group.specs.iter().enumerate() {
                    let values = if spec.values.is_empty() && spec.ty.is_none() {
                        last
                    } else {
                        spec.values.as_slice()
                    };
                    last = values;
                    let ty = match (&spec.ty, hydrated) {
                        (Some(ty), _) => Some(ty),
                        // An untyped literal stays untyped: FTL reads no
                        // value of that type from it.
                        (None, Some(ty))
                            if k > 0
                                && (spec.values.is_empty() || mentions_a_name(&spec.values)) =>
                        {
                            Some(ty)
                        }
                        _ => None,
                    };
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

/// The name an external package most likely declares in its package
/// clause, which FTL's native names carry (its `GetNativeName` reads it
/// from the type checker; realm reads no source of external packages):
/// the last path element when that is an identifier (`k8s.io/api/core/v1`
/// declares `v1`), but not a major version suffix `/v2`.. (a module's
/// version: `github.com/jackc/pgx/v5` declares `pgx`); otherwise the name
/// Go's tools assume ([`assumed_package_name`]: `gopkg.in/yaml.v3` →
/// `yaml`, `github.com/redis/go-redis/v9` → `redis`).
pub fn guessed_package_name(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or(path);
    let major_version = last
        .strip_prefix('v')
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n >= 2 && !last.starts_with("v0"));
    if is_go_identifier(last) && !major_version {
        last.to_string()
    } else {
        assumed_package_name(path)
    }
}

/// FTL's `GetNativeName` of type `name` of the package at `path` whose
/// package clause says `package`: the path, then `.package` when the
/// path's last element is not the package's name, then `.name`.
pub fn native_name(path: &str, package: &str, name: &str) -> String {
    if path.rsplit('/').next() == Some(package) {
        format!("{path}.{name}")
    } else {
        format!("{path}.{package}.{name}")
    }
}

fn is_go_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Whether constant expressions name another constant (which may give
/// them a type: `B = A + 1`).
fn mentions_a_name(values: &[Expr]) -> bool {
    fn walk(e: &Expr, depth: usize) -> bool {
        depth < 64
            && match e {
                Expr::Name(_) => true,
                Expr::Unary(_, inner) => walk(inner, depth + 1),
                Expr::Binary(_, l, r) => walk(l, depth + 1) || walk(r, depth + 1),
                _ => false,
            }
    }
    values.iter().any(|e| walk(e, 0))
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

    #[test]
    fn native_names_as_ftl_writes_them() {
        let native = |path: &str, name: &str| native_name(path, &guessed_package_name(path), name);
        assert_eq!(
            native("k8s.io/api/core/v1", "Pod"),
            "k8s.io/api/core/v1.Pod"
        );
        assert_eq!(
            native("github.com/jpillora/backoff", "Backoff"),
            "github.com/jpillora/backoff.Backoff"
        );
        assert_eq!(
            native("github.com/jackc/pgx/v5", "Conn"),
            "github.com/jackc/pgx/v5.pgx.Conn"
        );
        assert_eq!(
            native("gopkg.in/yaml.v3", "Node"),
            "gopkg.in/yaml.v3.yaml.Node"
        );
        assert_eq!(
            native("github.com/redis/go-redis/v9", "Client"),
            "github.com/redis/go-redis/v9.redis.Client"
        );
        // A package clause other than the path says (FTL's testdata
        // declares `package lib`) cannot be known from the path: realm
        // writes the path's form, and accepts FTL's in a typemap.
        assert_eq!(
            native("example.com/testdata", "NonFTLType"),
            "example.com/testdata.NonFTLType"
        );
        assert_eq!(
            native_name("example.com/testdata", "lib", "NonFTLType"),
            "example.com/testdata.lib.NonFTLType"
        );
    }
}
