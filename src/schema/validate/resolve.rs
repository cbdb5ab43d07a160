//! References: every reference resolves (module, realm, kind), takes the
//! type arguments its target declares, and may see its target (see
//! [`super::visibility`]).

use super::names::builtin_type_like;
use super::{Expect, MAX_ALIAS_HOPS, Site, Span, Target, Validator, fmt_pos, ref_len, suggest};
use crate::rules;
use crate::schema::model::*;
use crate::schema::qualify::{bare_target, qualify_type};

impl<'a> Validator<'a> {
    pub(super) fn check_type(&mut self, site: &Site<'a>, ty: &'a Type) {
        ty.walk(&mut |t| {
            if let Type::Ref(r) = t {
                self.check_ref(site, r, Expect::Type);
            }
        });
    }

    /// Resolves a reference without reporting anything: to a declaration of
    /// the kind `kind` when several share its name.
    pub(super) fn lookup(
        &self,
        site: &Site<'a>,
        r: &Ref,
        kind: Option<DeclKind>,
    ) -> Option<Target<'a>> {
        let module_name = match &r.module {
            Some(m) => m.as_str(),
            None if r.realm.is_some() => return None,
            None => bare_target(&r.name, site.type_params, site.module)?,
        };
        let realm = match &r.realm {
            None => self.index.realms.get(site.realm.name.as_str())?,
            Some(name) => self.index.realms.get(name.as_str())?,
        };
        let (module, builtin) = if module_name == "builtin" {
            (self.builtin, true)
        } else {
            (realm.modules.get(module_name)?, false)
        };
        let decl = module.find(&r.name, kind)?;
        Some(Target {
            realm: realm.realm,
            module: module.module,
            decl,
            builtin,
        })
    }

    /// A type with references to type aliases followed (FTL's
    /// `resolveType`), and the site its last part is written in.
    pub(super) fn unalias(&self, site: Site<'a>, ty: &'a Type) -> (Site<'a>, &'a Type) {
        let (mut site, mut ty) = (site, ty);
        for _ in 0..MAX_ALIAS_HOPS {
            let Type::Ref(r) = ty else { break };
            let Some(target) = self.lookup(&site, r, None) else {
                break;
            };
            let Decl::TypeAlias(alias) = target.decl else {
                break;
            };
            site = target.site();
            ty = &alias.ty;
        }
        (site, ty)
    }

    /// The type as text with bare references qualified, to compare types
    /// written in different places (FTL compares them qualified).
    pub(super) fn canonical(&self, site: &Site<'a>, ty: &Type) -> String {
        let mut ty = ty.clone();
        qualify_type(&mut ty, site.type_params, site.module);
        ty.to_string()
    }

    /// Resolves `r` from `site` and checks what it resolved to. Messages are
    /// formatted only when there is something to report: this runs for every
    /// reference of the schema.
    pub(super) fn check_ref(&mut self, site: &Site<'a>, r: &'a Ref, expect: Expect) {
        let pos = r.pos.as_ref().or(site.decl.and_then(Decl::pos));
        let len = ref_len(r);
        let span = Span { site, pos, len };
        let module_name = match &r.module {
            Some(m) => m.as_str(),
            None => {
                if site.type_params.iter().any(|p| p.name == r.name) {
                    self.check_type_param(&span, r);
                    return;
                }
                match bare_target(&r.name, &[], site.module) {
                    Some(module) if r.realm.is_none() => module,
                    _ => {
                        self.report_unknown_bare(&span, r);
                        return;
                    }
                }
            }
        };
        let wanted = match expect {
            Expect::Type => None,
            Expect::Kind { kind, .. } => Some(kind),
        };
        let Some(target) = self.resolve(&span, r, module_name, wanted) else {
            return;
        };

        // The kind of declaration.
        let kind = target.decl.kind();
        let (kind_ok, ftl) = match expect {
            Expect::Type => (kind.is_type(), false),
            Expect::Kind { kind: k, ftl } => (k == kind, ftl),
        };
        if !kind_ok {
            let wanted = match expect {
                Expect::Type => "a type (data, enum or typealias)",
                Expect::Kind { kind: k, .. } => k.with_article(),
            };
            let message = format!(
                "`{r}` is {}, but {wanted} is expected here",
                kind.with_article()
            );
            let help = format!(
                "`{}` is declared{}",
                target.name(),
                fmt_pos(target.decl.pos())
            );
            let d = self.at(pos, site, message).with_len(len).with_help(help);
            self.report_or_warn(ftl, d.or_code(rules::UNRESOLVED_REFERENCE));
            return;
        }

        if !self.check_access(&span, r, &target) {
            return;
        }

        if expect != Expect::Type && !r.type_args.is_empty() {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "{kind} `{}` takes no type arguments, but {} {} given",
                        target.name(),
                        r.type_args.len(),
                        if r.type_args.len() == 1 {
                            "was"
                        } else {
                            "were"
                        }
                    ),
                )
                .with_len(len)
                .with_help(format!("write `{}`", target.name()));
            self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
        }
        if expect == Expect::Type {
            self.check_arity(&span, r, &target);
            self.check_exposure(&span, r, &target);
        }
    }

    /// A bare name that is no type parameter, builtin or declaration of
    /// its module.
    pub(super) fn report_unknown_bare(&mut self, span: &Span, r: &Ref) {
        let Span { site, pos, len } = *span;
        let mut d = self
            .at(pos, site, format!("unknown reference `{r}`"))
            .with_len(len);
        d = if r.realm.is_some() {
            d.with_help(format!(
                "a reference to another realm names its module: `module.{}`",
                r
            ))
        } else if let Some(builtin) = builtin_type_like(&r.name) {
            d.with_help(format!(
                "did you mean `{builtin}`? The built-in types are written with a capital: Int, Float, String, Bytes, Bool, Time, Any, Unit"
            ))
        } else if site.type_params.is_empty() {
            match suggest(&r.name, site.module.decls.iter().map(Decl::name)) {
                Some(s) => d.with_help(format!(
                    "module `{}` declares no `{}`; {s}",
                    site.module.name, r.name
                )),
                None => d.with_help(format!(
                    "module `{}` declares no `{}`; name another module's declaration as `module.{}`",
                    site.module.name, r.name, r.name
                )),
            }
        } else {
            let params: Vec<&str> = site.type_params.iter().map(|p| p.name.as_str()).collect();
            d.with_help(format!(
                "the type parameters here are {}; module `{}` declares no `{}`",
                params.join(", "),
                site.module.name,
                r.name
            ))
        };
        self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
    }

    pub(super) fn check_type_param(&mut self, span: &Span, r: &Ref) {
        let Span { site, pos, len } = *span;
        if !r.type_args.is_empty() {
            let d = self
                .at(
                    pos,
                    site,
                    format!("type parameter `{}` takes no type arguments", r.name),
                )
                .with_len(len);
            self.warn(d.or_code(rules::UNRESOLVED_REFERENCE));
        }
        if let Some(realm) = &r.realm {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "type parameter `{}` cannot have a realm suffix `@{realm}`",
                        r.name
                    ),
                )
                .with_len(len)
                .with_help(format!("write `{}`", r.name));
            self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
        }
    }

    /// The declaration `module_name.name` (`@realm`) names, reporting an
    /// unknown or forbidden realm, module or declaration.
    pub(super) fn resolve(
        &mut self,
        span: &Span<'_, 'a>,
        r: &Ref,
        module_name: &str,
        kind: Option<DeclKind>,
    ) -> Option<Target<'a>> {
        let Span { site, pos, len } = *span;
        let shown = r;
        let realm_name = match &r.realm {
            None => site.realm.name.as_str(),
            Some(realm) if *realm == site.realm.name => {
                let d = self
                    .at(
                        pos,
                        site,
                        format!("`{shown}` names the realm it is written in"),
                    )
                    .with_len(len)
                    .with_help(format!(
                        "drop `@{realm}`: references without `@` resolve in realm `{realm}`"
                    ));
                self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
                return None;
            }
            Some(realm) if site.realm.external => {
                let d = self
                    .at(
                        pos,
                        site,
                        format!(
                            "external realm `{}` refers to realm `{realm}` in `{shown}`",
                            site.realm.name
                        ),
                    )
                    .with_len(len)
                    .with_help("a realm's public API cannot depend on other realms");
                self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
                return None;
            }
            Some(realm) => realm.as_str(),
        };
        let Some(realm) = self.index.realms.get(realm_name) else {
            let known: Vec<&str> = self
                .index
                .realms
                .values()
                .filter(|r| r.realm.external)
                .map(|r| r.realm.name.as_str())
                .collect();
            let help = match suggest(realm_name, known.iter().copied()) {
                Some(s) => s,
                None => format!(
                    "pin the realm with `realm add --git-repo <url>` (or declare `external realm {realm_name} {{ ... }}`)"
                ),
            };
            let d = self
                .at(
                    pos,
                    site,
                    format!("unknown realm `{realm_name}` in `{shown}`"),
                )
                .with_len(len)
                .with_help(help);
            self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
            return None;
        };
        let (module, builtin) = if module_name == "builtin" {
            (self.builtin, true)
        } else if let Some(m) = realm.modules.get(module_name) {
            (m, false)
        } else {
            let mut help = format!("realm `{realm_name}` has no module `{module_name}`");
            if let Some(s) = suggest(module_name, realm.modules.keys().copied()) {
                help = format!("{help}; {s}");
            }
            let d = self
                .at(pos, site, format!("unknown reference `{shown}`"))
                .with_len(len)
                .with_help(help);
            self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
            return None;
        };
        let Some(decl) = module.find(&r.name, kind) else {
            let mut help = format!("module `{module_name}` has no declaration `{}`", r.name);
            if let Some(s) = suggest(&r.name, module.decls.keys().copied()) {
                help = format!("{help}; {s}");
            }
            let d = self
                .at(pos, site, format!("unknown reference `{shown}`"))
                .with_len(len)
                .with_help(help);
            self.report(d.or_code(rules::UNRESOLVED_REFERENCE));
            return None;
        };
        Some(Target {
            realm: realm.realm,
            module: module.module,
            decl,
            builtin,
        })
    }

    /// A reference used as a type takes as many type arguments as its
    /// target declares.
    pub(super) fn check_arity(&mut self, span: &Span, r: &Ref, target: &Target) {
        let Span { site, pos, len } = *span;
        let expected = match target.decl {
            Decl::Data(d) => d.type_params.len(),
            _ => 0,
        };
        if expected != r.type_args.len() {
            let name = target.name();
            let message = if expected == 0 {
                format!(
                    "`{name}` takes no type arguments, but {} {} given",
                    r.type_args.len(),
                    if r.type_args.len() == 1 {
                        "was"
                    } else {
                        "were"
                    }
                )
            } else {
                format!(
                    "`{name}` takes {expected} type argument{}, but {} {} given",
                    if expected == 1 { "" } else { "s" },
                    r.type_args.len(),
                    if r.type_args.len() == 1 {
                        "was"
                    } else {
                        "were"
                    }
                )
            };
            let mut d = self.at(pos, site, message).with_len(len);
            if let Decl::Data(data) = target.decl
                && !data.type_params.is_empty()
            {
                let params: Vec<&str> = data.type_params.iter().map(|p| p.name.as_str()).collect();
                d = d.with_help(format!(
                    "`{name}` is declared as `{}<{}>`",
                    data.name,
                    params.join(", ")
                ));
            }
            // FTL lets an exported type alias take (ignored) arguments.
            let error = !(matches!(target.decl, Decl::TypeAlias(_))
                && target.decl.visibility() != Visibility::Private);
            self.report_or_warn(error, d.or_code(rules::UNRESOLVED_REFERENCE));
        }
    }

    pub(super) fn check_refs(&mut self, site: &Site<'a>, refs: &'a [Ref], expect: Expect) {
        for r in refs {
            self.check_ref(site, r, expect);
        }
    }
}
