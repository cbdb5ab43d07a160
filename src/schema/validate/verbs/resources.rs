//! `+sql query`, `+transaction` and `+egress` on verbs: exactly one
//! database, no nested transaction, egress configs that exist.

use crate::rules;
use rustc_hash::FxHashSet as HashSet;

use super::super::{Site, Validator};
use super::VerbLine;
use crate::schema::model::*;

impl<'a> Validator<'a> {
    /// Every `${name}` of an egress target is a config of the module.
    pub(super) fn check_egress(&mut self, line: &VerbLine<'_, 'a>, targets: &[String]) {
        let VerbLine { site, pos, .. } = *line;
        for target in targets {
            for name in config_items(target) {
                let known = site
                    .module
                    .decls
                    .iter()
                    .any(|d| matches!(d, Decl::Config(c) if c.name == name));
                if !known {
                    let d = self
                        .at(
                            pos,
                            site,
                            format!("egress target {target:?} references unknown config {name:?}"),
                        )
                        .with_len(7)
                        .with_help(format!(
                            "declare `config {name} String` in module `{}`",
                            site.module.name
                        ));
                    self.report(d.or_code(rules::VERB_RESOURCES));
                }
            }
        }
    }

    /// A query or transaction verb reaches exactly one database; a
    /// transaction calls no other transaction.
    pub(super) fn check_datasource(&mut self, site: &Site<'a>, verb: &'a Verb) {
        let has = |f: fn(&MetadataKind) -> bool| verb.metadata.iter().any(|m| f(&m.kind));
        let query = has(|k| matches!(k, MetadataKind::SqlQuery { .. }));
        let transaction = has(|k| matches!(k, MetadataKind::Transaction));
        if !query && !transaction {
            return;
        }
        let databases = self.databases_used(site, verb);
        let mut datasource = |what: &str, none: String, many: String| {
            let message = match databases.len() {
                0 => none,
                1 => return,
                _ => many,
            };
            let d = self
                .at(verb.pos.as_ref(), site, message)
                .with_len("verb".len())
                .with_help(format!(
                    "a {what} uses exactly one database: add `+database uses <module>.<database>`{}",
                    if databases.len() > 1 {
                        format!(" (it reaches {})", databases.join(", "))
                    } else {
                        String::new()
                    }
                ));
            self.report(d.or_code(rules::VERB_RESOURCES));
        };
        if query {
            datasource(
                "query verb",
                "query verb must specify a corresponding datasource".into(),
                "query verbs can only access a single datasource".into(),
            );
        }
        if transaction {
            datasource(
                "transaction verb",
                "transaction verbs must access a datasource".into(),
                "transaction verbs can only access a single datasource".into(),
            );
            let nested = verb.metadata.iter().any(|m| match &m.kind {
                MetadataKind::Calls(refs) => refs.iter().any(|r| {
                    self.lookup(site, r, Some(DeclKind::Verb))
                        .is_some_and(|t| match t.decl {
                            Decl::Verb(v) => v
                                .metadata
                                .iter()
                                .any(|m| matches!(m.kind, MetadataKind::Transaction)),
                            _ => false,
                        })
                }),
                _ => false,
            });
            if nested {
                let d = self
                    .at(
                        verb.pos.as_ref(),
                        site,
                        "transaction verbs cannot inject nested transactions",
                    )
                    .with_len("verb".len())
                    .with_help("a transaction verb calls no other transaction verb");
                self.report(d.or_code(rules::VERB_RESOURCES));
            }
        }
    }

    /// The databases a verb uses: its `+database uses` and those of the
    /// verbs it calls, transitively (FTL's `ResolveDatabaseUses`), as
    /// `module.name`, sorted.
    fn databases_used(&self, site: &Site<'a>, verb: &'a Verb) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut seen: HashSet<*const Decl> = HashSet::default();
        let mut stack: Vec<(Site<'a>, &'a Verb)> = vec![(*site, verb)];
        while let Some((site, verb)) = stack.pop() {
            for m in &verb.metadata {
                match &m.kind {
                    MetadataKind::DatabaseUses(refs) => {
                        for r in refs {
                            if let Some(t) = self.lookup(&site, r, Some(DeclKind::Database)) {
                                let name = t.name();
                                if !found.contains(&name) {
                                    found.push(name);
                                }
                            }
                        }
                    }
                    MetadataKind::Calls(refs) => {
                        for r in refs {
                            if let Some(t) = self.lookup(&site, r, Some(DeclKind::Verb))
                                && let Decl::Verb(callee) = t.decl
                                && !std::ptr::eq(callee, verb)
                                && seen.insert(t.decl as *const Decl)
                            {
                                stack.push((t.site(), callee));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        found.sort();
        found
    }
}

/// The `${name}` items of an egress target.
fn config_items(target: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = target;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 && rest[len..].starts_with('}') {
            out.push(&rest[..len]);
            rest = &rest[len + 1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_config_items() {
        assert_eq!(
            config_items("https://${host}:${port}/x${}${a-b}"),
            vec!["host", "port"]
        );
    }
}
