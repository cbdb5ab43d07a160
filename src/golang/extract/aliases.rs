//! Type aliases (`go-runtime/schema/typealias`): `//ftl:typealias` types,
//! and aliases of external types, which become `Any` with a `+typemap go`
//! naming the native type (checked against an explicit
//! `//ftl:typemap go`).

use crate::schema::{Decl, Metadata, MetadataKind, ThinVec, Type, TypeAlias};

use super::{Extractor, Meta, at, at_directive};
use crate::golang::directives::DirectiveKind;
use crate::golang::naming::upper_camel;
use crate::golang::scope::{Imported, assumed_package_name, guessed_package_name, native_name};
use crate::golang::syntax::{GoType, TypeDecl};
use crate::golang::types::{Site, What};

impl<'a> Extractor<'a> {
    pub(super) fn type_alias(
        &mut self,
        file: usize,
        dir: &'a str,
        decl: &'a TypeDecl,
        meta: &Meta,
    ) -> Option<Decl> {
        if !decl.type_params.is_empty() {
            self.report(
                at(
                    &decl.name_span,
                    format!("generic type `{}` cannot be a type alias", decl.name),
                )
                .with_help("FTL type aliases have no type parameters; use a struct"),
            );
            return None;
        }
        let mut metadata = Vec::new();
        let mut go_maps = Vec::new();
        for d in &meta.directives {
            if let DirectiveKind::TypeMap {
                runtime,
                native_name,
            } = &d.kind
            {
                if runtime == "go" {
                    go_maps.push((d, native_name.clone()));
                }
                metadata.push(Metadata {
                    pos: Some(d.pos.clone()),
                    kind: MetadataKind::TypeMap {
                        runtime: runtime.clone(),
                        native_name: native_name.clone(),
                    },
                });
            }
        }
        let external = match &decl.ty {
            GoType::Name {
                package: Some(p),
                name,
                ..
            } => match self.scope.import(file, p) {
                Some(Imported::External { path }) => {
                    // FTL's name, with the package clause another typemap
                    // of the module names, or guessed from the path; a
                    // typemap may name it by any package name the package
                    // plausibly declares.
                    let package = self
                        .package_names
                        .get(path)
                        .cloned()
                        .unwrap_or_else(|| guessed_package_name(path));
                    let native = native_name(path, &package, name);
                    let last = path.rsplit('/').next().unwrap_or(path);
                    let plausible: Vec<String> = [p.as_str(), last, &assumed_package_name(path)]
                        .iter()
                        .map(|package| native_name(path, package, name))
                        .chain([native.clone()])
                        .collect();
                    Some((native, plausible))
                }
                _ => None,
            },
            _ => None,
        };
        let ty = if let Some((native, plausible)) = external {
            if go_maps.len() > 1 {
                self.report(
                    at_directive(
                        go_maps[1].0,
                        format!("multiple Go type mappings found for `{}`", decl.name),
                    )
                    .with_help("keep one `//ftl:typemap go`"),
                );
                return None;
            }
            if let Some((d, declared)) = go_maps.first() {
                if !plausible.contains(declared) {
                    self.report(
                        at_directive(d, format!("declared type {declared} in typemap does not match native type {native}"))
                            .with_help(format!("write `//ftl:typemap go \"{native}\"`")),
                    );
                    return None;
                }
            } else {
                metadata.push(Metadata {
                    pos: Some(decl.name_span.pos.clone()),
                    kind: MetadataKind::TypeMap {
                        runtime: "go".to_string(),
                        native_name: native,
                    },
                });
            }
            Type::Any
        } else {
            self.types.ty(
                &decl.ty,
                &Site {
                    file,
                    dir,
                    params: &[],
                    what: What::Alias(&decl.name),
                },
                0,
            )?
        };
        Some(Decl::TypeAlias(TypeAlias {
            pos: Some(decl.name_span.pos.clone()),
            comments: ThinVec::from(meta.comments.as_slice()),
            visibility: meta.visibility,
            name: upper_camel(&decl.name),
            ty,
            metadata: metadata.into(),
        }))
    }
}
