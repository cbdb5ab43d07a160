//! Visibility: who may see a declaration (other realms only `export
//! realm`, other modules at least `export`), whatever an exported
//! declaration uses is at least as visible, and what an external realm may
//! hold.

use super::{Span, Target, Validator, fmt_pos, in_go};
use crate::rules;
use crate::schema::model::*;

/// The declarations of `realm` that its declarations refer to, by type or
/// in metadata.
pub(super) fn referenced_within<'a>(
    realm: &'a Realm,
) -> std::collections::HashSet<(&'a str, &'a str)> {
    let mut out = std::collections::HashSet::new();
    let mut add = |r: &'a Ref| {
        if let Ref {
            realm: None,
            module: Some(module),
            name,
            ..
        } = r
        {
            out.insert((module.as_str(), name.as_str()));
        }
    };
    for (_, decl) in realm.decls() {
        decl.for_each_type(&mut |ty| {
            if let Type::Ref(r) = ty {
                add(r);
            }
        });
        decl.for_each_metadata_ref(&mut add);
    }
    out
}

impl<'a> Validator<'a> {
    /// Whether the reference's site may see its target: other realms only
    /// `export realm` declarations, other modules of the realm at least
    /// `export` ones. Reports and returns false when it may not.
    pub(super) fn check_access(
        &mut self,
        span: &Span<'_, 'a>,
        r: &Ref,
        target: &Target<'a>,
    ) -> bool {
        let Span { site, pos, len } = *span;
        let kind = target.decl.kind();
        let other_realm = !std::ptr::eq(target.realm, site.realm);
        let visibility = target.decl.visibility();
        if !target.builtin {
            if other_realm && visibility != Visibility::ExportRealm {
                let message = format!(
                    "`{r}` is not part of realm `{}`'s public API (it is {})",
                    target.realm.name,
                    visibility.meaning()
                );
                let d = self
                    .at(pos, site, message)
                    .with_len(len)
                    .with_help("other realms can use only `export realm` declarations");
                self.report(d.or_code(rules::UNEXPORTED_TYPE));
                return false;
            }
            if !other_realm
                && !std::ptr::eq(target.module, site.module)
                && visibility == Visibility::Private
            {
                let message = format!(
                    "{kind} `{}` is private to module `{}`",
                    target.name(),
                    target.module.name
                );
                let help = match kind {
                    DeclKind::Config | DeclKind::Secret | DeclKind::Database => {
                        format!("a {kind} can be used only by the module that declares it")
                    }
                    _ if in_go(target.decl.pos()) => format!(
                        "export it from its Go module: put `//ftl:export` above it{}; \
                         what an `export:realm` verb uses is then exported to the realm too",
                        fmt_pos(target.decl.pos())
                    ),
                    _ => format!(
                        "mark it `export` where it is declared{}",
                        fmt_pos(target.decl.pos())
                    ),
                };
                let d = self.at(pos, site, message).with_len(len).with_help(help);
                self.report(d.or_code(rules::UNEXPORTED_TYPE));
                return false;
            }
        }
        true
    }

    /// A type used by a declaration: whatever an exported declaration uses
    /// is at least as visible, and the internal realm's public API uses no
    /// type of another realm.
    pub(super) fn check_exposure(&mut self, span: &Span<'_, 'a>, r: &Ref, target: &Target<'a>) {
        let Span { site, pos, len } = *span;
        let kind = target.decl.kind();
        let other_realm = !std::ptr::eq(target.realm, site.realm);
        let visibility = target.decl.visibility();
        let user_visibility = site.visibility();
        // The visibility rule: whatever an exported declaration uses is
        // at least as visible.
        if !target.builtin
            && !other_realm
            && visibility < user_visibility
            && let Some(user) = site.decl
        {
            let target_name = target.name();
            let message = format!(
                "{kind} `{target_name}` must be `{user_visibility}` because {user_visibility} {} `{}` uses it",
                user.kind(),
                site.decl_name()
            );
            let at = target
                .decl
                .pos()
                .map_or_else(String::new, |p| format!(" (at {p})"));
            let help = if in_go(target.decl.pos()) {
                format!(
                    "declarations of Go modules take the visibility of what uses them, \
                         within their module or, once exported, across modules: put \
                         `//ftl:export` above `{target_name}`{at}, or lower the visibility of `{}`",
                    site.decl_name()
                )
            } else {
                format!(
                    "mark `{target_name}` as `{user_visibility}`{at}, or lower the visibility of `{}`",
                    site.decl_name()
                )
            };
            let d = self.at(pos, site, message).with_len(len).with_help(help);
            // The public API rule is realm's own and always holds; at
            // `export`, FTL checks data, enums and aliases, and verbs
            // with metadata, but not topics or bare verbs.
            let error = user_visibility == Visibility::ExportRealm
                || match user {
                    Decl::Data(_) | Decl::Enum(_) | Decl::TypeAlias(_) => true,
                    Decl::Verb(v) => !v.metadata.is_empty(),
                    _ => false,
                };
            self.report_or_warn(error, d.or_code(rules::UNEXPORTED_TYPE));
        }
        // No transitive realm dependencies: the internal realm's public
        // API uses only its own types.
        if other_realm
            && !site.realm.external
            && user_visibility == Visibility::ExportRealm
            && let Some(user) = site.decl
        {
            let message = format!(
                "export realm {} `{}` exposes `{r}`, a type of external realm `{}`",
                user.kind(),
                site.decl_name(),
                target.realm.name
            );
            let help = format!(
                "a realm's public API cannot use other realms' types; declare an equivalent type in realm `{}`",
                site.realm.name
            );
            let d = self.at(pos, site, message).with_len(len).with_help(help);
            self.report(d.or_code(rules::UNEXPORTED_TYPE));
        }
    }
}
