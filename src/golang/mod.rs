//! Schema extraction from FTL modules written in Go, without a Go
//! toolchain: what FTL's Go extractor (`go-runtime/schema/` in FTL's
//! repository) derives from `//ftl:` directives and Go types, read here
//! with tree-sitter.
//!
//! - [`syntax`]: Go source → declarations, docs, directives (tree-sitter).
//! - [`directives`]: the `//ftl:` directive grammar.
//! - [`naming`]: FTL's camel-casing of Go names (`UserID` → `userId`).
//! - [`scope`]: packages, imports and declared names of a module.
//! - [`types`]: Go types → schema types; which verb parameters are
//!   resources.
//! - [`extract`]: the module's declarations.
//! - [`finalize`]: visibility spreading, names, FTL's declaration order.
//! - [`module_files`]: `ftl.toml` and `go.mod`.
//!
//! Invariant: nothing here does I/O. [`extract`] is fed file paths and
//! texts and returns a [`Module`] or every [`Diagnostic`] of the module,
//! each with a position in a Go file; the caller reads the files
//! (`src/ftl_modules.rs`) and renders the diagnostics with the texts.

pub mod directives;
pub mod extract;
pub mod finalize;
pub mod module_files;
pub mod naming;
pub mod scope;
pub mod syntax;
pub mod types;

use crate::schema::model::ThinVec;
use std::cell::RefCell;
use std::sync::Arc;

use crate::schema::{Diagnostic, Module, Pos};

pub use extract::{DatabaseDir, ExternalParam};
pub use module_files::{ModuleConfig, parse_ftl_toml, parse_go_mod};

/// A Go source file of a module.
#[derive(Clone, Debug)]
pub struct GoSource {
    /// Relative to the project root (what positions show).
    pub path: String,
    /// The package directory relative to the module root, `""` for the
    /// module's root package.
    pub package_dir: String,
    pub text: String,
}

/// Everything extraction reads of one FTL Go module.
#[derive(Clone, Debug)]
pub struct GoModule {
    /// The module name (`ftl.toml`'s `module`).
    pub name: String,
    /// `ftl.toml`, relative to the project root: where module-level
    /// problems point.
    pub config_file: String,
    /// The Go module path from `go.mod` (`ftl/<name>`).
    pub go_module_path: String,
    /// The `.go` files (tests excluded), sorted by path.
    pub files: Vec<GoSource>,
    /// Databases declared by `db/<engine>/<name>/` directories.
    pub databases: Vec<DatabaseDir>,
}

thread_local! {
    static PARSER: RefCell<syntax::GoParser> = RefCell::new(syntax::GoParser::new());
}

/// A Go module's schema, and what only the other modules can tell about it.
#[derive(Clone, Debug)]
pub struct Extracted {
    pub module: Module,
    /// Verb parameters of other modules' types that are no verb clients:
    /// errors, whose message [`finalize::across_modules`] chooses.
    pub external_params: Vec<ExternalParam>,
}

/// Extracts the schema of one Go module: the module, or every error found
/// in it (syntax errors first: nothing else is checked in a file that does
/// not parse), sorted by position.
pub fn extract(module: &GoModule) -> Result<Extracted, Vec<Diagnostic>> {
    let mut files = Vec::with_capacity(module.files.len());
    let mut errors = Vec::new();
    PARSER.with(|parser| {
        let mut parser = parser.borrow_mut();
        for source in &module.files {
            let path: Arc<str> = Arc::from(source.path.as_str());
            let syntax = parser.parse(&path, &source.text);
            if let Some(span) = &syntax.syntax_error {
                errors.push(
                    Diagnostic::new("Go syntax error", Some(span.pos.clone()))
                        .with_len(span.len)
                        .with_label("the Go parser stopped here")
                        .with_help("fix the Go code: FTL modules must compile"),
                );
            }
            files.push(scope::File {
                path,
                package_dir: source.package_dir.clone(),
                syntax,
            });
        }
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    let scope = scope::Scope::new(&module.name, &module.go_module_path, &files);
    let extract::Declarations {
        mut decls,
        comments,
        mut errors,
        external_params,
    } = extract::declarations(&scope, &module.databases);
    finalize::check_names(&decls, &mut errors);
    if !errors.is_empty() {
        Diagnostic::sort(&mut errors);
        errors.dedup();
        return Err(errors);
    }
    finalize::spread_visibility(&module.name, &mut decls);
    finalize::sort(&mut decls);
    Ok(Extracted {
        module: Module {
            pos: Some(Pos {
                file: Arc::from(module.config_file.as_str()),
                line: 1,
                column: 1,
            }),
            comments: comments.into(),
            builtin: false,
            name: module.name.clone(),
            metadata: ThinVec::new(),
            decls,
        },
        external_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Decl, MetadataKind, Type, Visibility};

    fn module(files: &[(&str, &str, &str)]) -> Result<Module, Vec<Diagnostic>> {
        extract(&GoModule {
            name: "shop".into(),
            config_file: "m/ftl.toml".into(),
            go_module_path: "ftl/shop".into(),
            files: files
                .iter()
                .map(|(path, dir, text)| GoSource {
                    path: path.to_string(),
                    package_dir: dir.to_string(),
                    text: text.to_string(),
                })
                .collect(),
            databases: Vec::new(),
        })
        .map(|x| x.module)
    }

    #[test]
    fn extracts_from_texts_alone() {
        let m = module(&[(
            "m/shop.go",
            "",
            "package shop\n\nimport (\n\t\"context\"\n\t\"ftl/bank\"\n)\n\n\
             type Order struct {\n\tUserID int `json:\"user\"`\n}\n\n\
             //ftl:verb export:realm\nfunc Pay(ctx context.Context, o Order, w bank.WithdrawClient) (bank.Receipt, error) {\n\treturn bank.Receipt{}, nil\n}\n",
        )])
        .expect("extracts");
        let Some(Decl::Data(order)) = m.decl("Order") else {
            panic!("no Order: {m:?}")
        };
        assert_eq!(order.visibility, Visibility::ExportRealm);
        assert_eq!(order.fields[0].name, "userId");
        let Some(Decl::Verb(pay)) = m.decl("pay") else {
            panic!("no pay")
        };
        assert!(matches!(&pay.response, Type::Ref(r) if r.module.as_deref() == Some("bank")));
        assert!(
            matches!(&pay.metadata[0].kind, MetadataKind::Calls(refs) if refs[0].name == "withdraw")
        );
    }

    /// The variants of enum `name` of a module of `text`.
    fn variants(text: &str, name: &str) -> Vec<String> {
        let m = module(&[("m/shop.go", "", text)]).expect("extracts");
        let Some(Decl::Enum(e)) = m.decl(name) else {
            panic!("no enum {name}: {m:?}")
        };
        e.variants.iter().map(|v| v.name.clone()).collect()
    }

    #[test]
    fn value_enums_take_the_constants_ftl_takes() {
        // FTL gives later specs of a group the first one's type only when
        // that one is an iota enum; Go's repetition does not make `B` an
        // `L` for FTL here.
        let text =
            "package shop\n\n//ftl:enum\ntype L int\n\nconst (\n\tX = 5\n\tA L = iota\n\tB\n)\n";
        assert_eq!(variants(text, "L"), ["A"]);
        let text = "package shop\n\n//ftl:enum\ntype L int\n\nconst (\n\tA L = iota + 1\n\tB\n\tC = 7\n\tD = A + 5\n)\n";
        assert_eq!(variants(text, "L"), ["A", "B", "D"]);
        // One name per spec: FTL reads the first.
        let text = "package shop\n\n//ftl:enum\ntype C string\n\nconst Red, Green C = \"red\", \"green\"\n";
        assert_eq!(variants(text, "C"), ["Red"]);
    }

    /// The `+typemap go` of a type alias of `corev1.Pod`.
    fn typemap_of_pod(directive: &str) -> Result<String, Vec<Diagnostic>> {
        let m = module(&[(
            "m/shop.go",
            "",
            &format!(
                "package shop\n\nimport corev1 \"k8s.io/api/core/v1\"\n\n//ftl:typealias\n{directive}type Pod corev1.Pod\n"
            ),
        )])?;
        let Some(Decl::TypeAlias(pod)) = m.decl("Pod") else {
            panic!("no Pod: {m:?}")
        };
        Ok(pod
            .metadata
            .iter()
            .find_map(|md| match &md.kind {
                MetadataKind::TypeMap {
                    runtime,
                    native_name,
                } if runtime == "go" => Some(native_name.clone()),
                _ => None,
            })
            .expect("a go typemap"))
    }

    #[test]
    fn native_names_are_ftls() {
        // FTL's GetNativeName: the path, the package clause's name only
        // when the path does not end in it; never the import's name.
        assert_eq!(
            typemap_of_pod("").expect("extracts"),
            "k8s.io/api/core/v1.Pod"
        );
        for plausible in [
            "k8s.io/api/core/v1.Pod",
            "k8s.io/api/core/v1.corev1.Pod",
            "k8s.io/api/core/v1.core.Pod",
        ] {
            assert_eq!(
                typemap_of_pod(&format!("//ftl:typemap go \"{plausible}\"\n")).expect("accepted"),
                plausible
            );
        }
        let errors =
            typemap_of_pod("//ftl:typemap go \"k8s.io/api/core/v2.Pod\"\n").expect_err("refused");
        assert!(
            errors[0]
                .message
                .contains("does not match native type k8s.io/api/core/v1.Pod"),
            "{errors:?}"
        );
    }

    #[test]
    fn every_error_has_a_position_in_a_go_file() {
        let errors = module(&[
            (
                "m/shop.go",
                "",
                "package shop\n\nimport \"context\"\n\n//ftl:verb\nfunc Pay(ctx context.Context, n int64) error { return nil }\n",
            ),
            ("m/sub/sub.go", "sub", "package sub\n\n//ftl:data\ntype Broken struct {\n\tx uint\n}\n"),
        ])
        .expect_err("fails");
        assert_eq!(errors.len(), 3, "{errors:?}");
        for e in &errors {
            assert!(
                e.pos.as_ref().is_some_and(|p| p.file.ends_with(".go")),
                "{e:?}"
            );
        }
    }
}
