//! Enums (`go-runtime/schema/{enum,valueenumvariant,typeenum}`): value
//! enums, a named `string` or `int` type with typed constants (whose
//! values are evaluated here), and type enums, a sealed interface whose
//! variants are the package's types that have its marker methods.

use crate::schema::model::ThinVec;
use crate::schema::{Decl, Enum, EnumVariant, Ref, Type, VariantValue};

use super::{Extractor, Meta, at, is_exported};
use crate::golang::naming::upper_camel;
use crate::golang::syntax::{ConstSpec, Expr, GoType, TypeDecl};
use crate::golang::types::{Site, What};

impl<'a> Extractor<'a> {
    pub(super) fn has_constants(&self, dir: &str, name: &str) -> bool {
        self.scope.package(dir).is_some_and(|p| {
            p.const_specs.iter().any(|c| {
                matches!(c.ty, Some(GoType::Name { package: None, name: n, args, .. }) if n == name && args.is_empty())
            })
        })
    }

    /// The basic type under a named type: `string` for `type B A` and
    /// `type A string`.
    fn underlying_basic(&self, dir: &str, t: &GoType) -> Option<String> {
        let mut t = t;
        for _ in 0..32 {
            let GoType::Name {
                package: None,
                name,
                args,
                ..
            } = t
            else {
                return None;
            };
            if !args.is_empty() {
                return None;
            }
            match self
                .scope
                .package(dir)
                .and_then(|p| p.types.get(name.as_str()))
            {
                Some((decl, _)) => t = &decl.ty,
                None => return Some(name.clone()),
            }
        }
        None
    }

    pub(super) fn value_enum(
        &mut self,
        file: usize,
        dir: &'a str,
        decl: &'a TypeDecl,
        meta: &Meta,
    ) -> Option<Decl> {
        let enum_name = upper_camel(&decl.name);
        let basic = self.underlying_basic(dir, &decl.ty);
        // FTL writes `enum Level: kinds.Grade` for `type Level Grade`;
        // realm's schema requires `Int` or `String` there, which is what
        // the values are.
        let site = Site {
            file,
            dir,
            params: &decl.type_params,
            what: What::Enum(&enum_name),
        };
        // FTL extracts the named type under the enum (`PaymentState` of
        // `type PayinState PaymentState`) as the enum's type; realm's enum
        // is `: String`, but the named type is extracted all the same.
        if matches!(basic.as_deref(), Some("string" | "int"))
            && let GoType::Name {
                package: None,
                name,
                ..
            } = &decl.ty
            && name != "string"
            && name != "int"
        {
            let _ = self.types.ty(&decl.ty, &site, 0);
        }
        let ty = match basic.as_deref() {
            Some("string") => Type::String,
            Some("int") => Type::Int,
            _ => self.types.ty(&decl.ty, &site, 0)?,
        };
        let scope = self.scope;
        let mut variants = Vec::new();
        let mut declared = 0;
        let pkg = scope.package(dir)?;
        for c in &pkg.const_specs {
            let Some(GoType::Name {
                package: None,
                name: tname,
                args,
                ..
            }) = c.ty
            else {
                continue;
            };
            if tname != &decl.name || !args.is_empty() {
                continue;
            }
            // FTL reads the first name of a spec only (`const Red, Green
            // Color = ...` gives `Red`).
            for (k, (cname, span)) in c.spec.names.iter().enumerate().take(1) {
                if cname == "_" {
                    continue;
                }
                let Some(expr) = c.values.get(k) else {
                    continue;
                };
                declared += 1;
                let value = eval(self, dir, expr, c.spec.iota, 0);
                let value = match (basic.as_deref(), value) {
                    (Some("string"), Some(Const::String(s))) => VariantValue::String(s),
                    (Some("int"), Some(Const::Int(n))) if i64::try_from(n).is_ok() => {
                        VariantValue::Int(n as i64)
                    }
                    (Some("string" | "int"), _) => {
                        self.report(
                            at(
                                span,
                                format!("cannot read the value of enum constant `{cname}`"),
                            )
                            .with_help(
                                "write the value as a literal, `iota` or an expression of them",
                            ),
                        );
                        continue;
                    }
                    _ => {
                        self.report(
                            at(
                                &decl.name_span,
                                format!("enum `{}` must be a string or int type", decl.name),
                            )
                            .with_help("FTL value enums are `type X string` or `type X int`"),
                        );
                        return None;
                    }
                };
                if !is_exported(cname) {
                    self.report(
                        at(
                            span,
                            "Enum value must be exported by making the first letter capitalized",
                        )
                        .with_help(format!("rename it to `{}`", upper_camel(cname))),
                    );
                    continue;
                }
                let variant_name = upper_camel(cname);
                if let Some((other, pos)) = self.variants.get(&variant_name) {
                    self.report(
                        at(span, format!("enum variant `{variant_name}` conflicts with existing enum variant of `{other}` at {pos}"))
                            .with_help("variant names are unique in a module: rename one"),
                    );
                    continue;
                }
                self.variants
                    .insert(variant_name.clone(), (enum_name.clone(), span.pos.clone()));
                variants.push(EnumVariant {
                    pos: Some(span.pos.clone()),
                    comments: c.spec.doc.text.clone().into(),
                    name: variant_name,
                    value,
                });
            }
        }
        if declared == 0 {
            self.report(
                at(
                    &decl.name_span,
                    format!("enum `{}` has no values", decl.name),
                )
                .with_help(format!(
                    "declare its values as constants: `const ( A {0} = ...; B {0} = ... )`",
                    decl.name
                )),
            );
            return None;
        }
        if variants.is_empty() {
            return None;
        }
        variants.sort_by(|a, b| a.name.cmp(&b.name));
        Some(Decl::Enum(Enum {
            pos: Some(decl.name_span.pos.clone()),
            comments: ThinVec::from(meta.comments.as_slice()),
            visibility: meta.visibility,
            name: enum_name,
            ty: Some(ty),
            variants,
        }))
    }

    pub(super) fn type_enum(
        &mut self,
        _file: usize,
        dir: &'a str,
        decl: &'a TypeDecl,
        meta: &Meta,
    ) -> Option<Decl> {
        let GoType::Interface { methods, .. } = &decl.ty else {
            return None;
        };
        if methods.is_empty() {
            self.report(
                at(
                    &decl.name_span,
                    format!(
                        "enum discriminator `{}` must define at least one method",
                        decl.name
                    ),
                )
                .with_help(format!(
                    "add an unexported marker method: `interface{{ is{}() }}`",
                    decl.name
                )),
            );
            return None;
        }
        if methods.iter().any(|m| is_exported(m)) {
            self.report(
                at(
                    &decl.name_span,
                    format!(
                        "enum discriminator `{}` cannot contain exported methods",
                        decl.name
                    ),
                )
                .with_help("use unexported marker methods only"),
            );
            return None;
        }
        let scope = self.scope;
        let pkg = scope.package(dir)?;
        let mut candidates: Vec<(&'a str, &'a TypeDecl, usize)> = pkg
            .types
            .iter()
            .filter(|(n, (t, _))| {
                !matches!(t.ty, GoType::Interface { .. })
                    && pkg
                        .methods
                        .get(*n)
                        .is_some_and(|ms| methods.iter().all(|m| ms.contains(&m.as_str())))
            })
            .map(|(n, (t, f))| (*n, *t, *f))
            .collect();
        candidates.sort_by_key(|(n, _, _)| upper_camel(n));
        let mut variants = Vec::new();
        let enum_name = upper_camel(&decl.name);
        for (vname, vdecl, vfile) in candidates {
            if self.has_constants(dir, vname) {
                self.report(
                    at(&vdecl.name_span, format!("`{vname}` is a value enum and cannot be tagged as a variant of type enum `{}` directly", decl.name))
                        .with_help(format!("declare a wrapper type, `type {vname}Variant {vname}`, as the variant")),
                );
                continue;
            }
            let value = if matches!(vdecl.ty, GoType::Struct(..)) {
                self.need(dir, vname);
                Some(Type::from(Ref {
                    pos: Some(vdecl.name_span.pos.clone()),
                    realm: None,
                    module: Some(self.module.to_string()),
                    name: upper_camel(vname),
                    type_args: ThinVec::new(),
                }))
            } else {
                self.types.ty(
                    &vdecl.ty,
                    &Site {
                        file: vfile,
                        dir,
                        params: &vdecl.type_params,
                        what: What::Variant {
                            variant: vname,
                            of: &enum_name,
                        },
                    },
                    0,
                )
            };
            let Some(value) = value else {
                continue;
            };
            let comments = self
                .metas
                .get(&(dir, vname))
                .map(|m| m.comments.clone())
                .unwrap_or_default();
            variants.push(EnumVariant {
                pos: Some(vdecl.name_span.pos.clone()),
                comments: comments.into(),
                name: upper_camel(vname),
                value: VariantValue::Type(value),
            });
        }
        Some(Decl::Enum(Enum {
            pos: Some(decl.name_span.pos.clone()),
            comments: ThinVec::from(meta.comments.as_slice()),
            visibility: meta.visibility,
            name: enum_name,
            ty: None,
            variants,
        }))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Const {
    Int(i128),
    String(String),
}

/// Evaluates a constant expression of package `dir` (bounded: names are
/// followed at most 32 deep, expressions are already bounded in depth).
fn eval(x: &Extractor, dir: &str, e: &Expr, iota: i64, depth: usize) -> Option<Const> {
    if depth > 32 {
        return None;
    }
    Some(match e {
        Expr::Int(n) => Const::Int(*n),
        Expr::String(s) => Const::String(s.clone()),
        Expr::Iota => Const::Int(i128::from(iota)),
        Expr::Name(n) => {
            let (spec, k): (&ConstSpec, usize) = *x.scope.package(dir)?.consts.get(n.as_str())?;
            let pkg = x.scope.package(dir)?;
            let effective = pkg
                .const_specs
                .iter()
                .find(|c| std::ptr::eq(c.spec, spec))?;
            return eval(x, dir, effective.values.get(k)?, spec.iota, depth + 1);
        }
        Expr::Unary(op, inner) => match (op, eval(x, dir, inner, iota, depth + 1)?) {
            ('-', Const::Int(n)) => Const::Int(n.checked_neg()?),
            ('^', Const::Int(n)) => Const::Int(!n),
            _ => return None,
        },
        Expr::Binary(op, l, r) => {
            let l = eval(x, dir, l, iota, depth + 1)?;
            let r = eval(x, dir, r, iota, depth + 1)?;
            match (l, r) {
                (Const::String(a), Const::String(b)) if op == "+" => Const::String(a + &b),
                (Const::Int(a), Const::Int(b)) => Const::Int(match op.as_str() {
                    "+" => a.checked_add(b)?,
                    "-" => a.checked_sub(b)?,
                    "*" => a.checked_mul(b)?,
                    "/" => a.checked_div(b)?,
                    "%" => a.checked_rem(b)?,
                    "<<" => a.checked_shl(u32::try_from(b).ok()?)?,
                    ">>" => a.checked_shr(u32::try_from(b).ok()?)?,
                    "&" => a & b,
                    "|" => a | b,
                    "^" => a ^ b,
                    "&^" => a & !b,
                    _ => return None,
                }),
                _ => return None,
            }
        }
        Expr::Other => return None,
    })
}
