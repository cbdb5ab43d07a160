//! The text a schema carries beyond its identifiers: doc comments and the
//! strings of metadata (`+alias json "…"`, `+typemap go "…"`, paths,
//! patterns, …). Generated clients and printed schema text write these
//! out, inside comments and literals; a line break there would end a
//! comment and let the rest be read as code, a bidirectional control
//! character would make code read other than it runs.
//!
//! Schema text cannot put a line break into a comment, but proto-text and
//! JSON can put anything anywhere, so the rule is checked here, on the
//! model, for every source: comments may hold any character but control
//! characters other than a tab, Unicode's line and paragraph separators,
//! bidirectional controls and byte order marks; metadata strings not even
//! a tab. Free text that is always written as an escaped literal (string
//! enum values, SQL queries) is not checked.

use super::{Site, Validator};
use crate::rules;
use crate::schema::diagnostic::Diagnostic;
use crate::schema::model::*;

/// Why `c` may not be in a doc comment (`comment`) or a metadata string,
/// or `None` when it may.
pub fn refused_char(c: char, comment: bool) -> Option<&'static str> {
    match c {
        '\t' if comment => None,
        c if is_line_break(c) => Some("a line break"),
        c if c.is_control() => Some("a control character"),
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => Some("a bidirectional control character"),
        '\u{feff}' => Some("a byte order mark"),
        _ => None,
    }
}

/// Whether `c` ends a line somewhere generated code or schema text is
/// read: in Go, Rust, TypeScript (U+2028, U+2029), or by any of the
/// languages' line counting (vertical tab, form feed, NEL).
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// The lines of `text`, split at every kind of line break (`\r\n` is one).
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if !is_line_break(c) {
            continue;
        }
        lines.push(&text[start..at]);
        start = at + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|(_, next)| *next == '\n') {
            chars.next();
            start += 1;
        }
    }
    lines.push(&text[start..]);
    lines
}

/// The first character of `text` that is refused, with why.
fn first_refused(text: &str, comment: bool) -> Option<(char, &'static str)> {
    text.chars()
        .find_map(|c| refused_char(c, comment).map(|why| (c, why)))
}

impl<'a> Validator<'a> {
    /// The doc comment of `realm` itself (its modules: [`Self::check_module_texts`]).
    pub(super) fn check_realm_texts(&mut self, realm: &'a Realm) {
        if let Some((c, why)) = realm
            .comments
            .iter()
            .find_map(|line| first_refused(line, true))
        {
            let what = format!("the doc comment of realm `{}`", realm.name);
            let mut d = Diagnostic::new(refused_message(&what, c, why), realm.pos.clone())
                .with_help(COMMENT_HELP);
            if realm.pos.is_none() {
                d = d.with_context(format!("realm {}", realm.name));
            }
            self.report(d.or_code(rules::UNSAFE_TEXT));
        }
    }

    /// Every comment and metadata string of `module` of `realm`.
    pub(super) fn check_module_texts(&mut self, realm: &'a Realm, module: &'a Module) {
        let site = Site {
            realm,
            module,
            decl: None,
            type_params: &[],
        };
        self.check_comments(&site, module.pos.as_ref(), &module.comments, &|| {
            format!("module `{}`", module.name)
        });
        self.check_metadata_texts(&site, &module.metadata);
        for decl in &module.decls {
            let site = Site::of(realm, module, decl);
            let what = || format!("{} `{}.{}`", decl.kind(), module.name, decl.name());
            self.check_comments(&site, decl.pos(), decl.comments(), &what);
            match decl {
                Decl::Data(data) => {
                    self.check_metadata_texts(&site, &data.metadata);
                    for field in &data.fields {
                        self.check_comments(
                            &site,
                            field.pos.as_ref().or(decl.pos()),
                            &field.comments,
                            &|| format!("field `{}` of {}", field.name, what()),
                        );
                        self.check_metadata_texts(&site, &field.metadata);
                    }
                }
                Decl::Enum(e) => {
                    for v in &e.variants {
                        self.check_comments(
                            &site,
                            v.pos.as_ref().or(decl.pos()),
                            &v.comments,
                            &|| format!("variant `{}` of {}", v.name, what()),
                        );
                    }
                }
                Decl::Verb(verb) => self.check_metadata_texts(&site, &verb.metadata),
                Decl::TypeAlias(alias) => self.check_metadata_texts(&site, &alias.metadata),
                Decl::Database(db) => self.check_metadata_texts(&site, &db.metadata),
                Decl::Topic(topic) => self.check_metadata_texts(&site, &topic.metadata),
                Decl::Config(_) | Decl::Secret(_) => {}
            }
        }
    }

    fn check_comments(
        &mut self,
        site: &Site<'a>,
        pos: Option<&Pos>,
        comments: &[String],
        what: &dyn Fn() -> String,
    ) {
        if let Some((c, why)) = comments.iter().find_map(|line| first_refused(line, true)) {
            let d = self
                .at(
                    pos,
                    site,
                    refused_message(&format!("the doc comment of {}", what()), c, why),
                )
                .with_help(COMMENT_HELP);
            self.report(d.or_code(rules::UNSAFE_TEXT));
        }
    }

    fn check_metadata_texts(&mut self, site: &Site<'a>, metadata: &'a [Metadata]) {
        for m in metadata {
            let keyword = m.kind.keyword();
            let texts: Vec<(&str, &str)> = match &m.kind {
                MetadataKind::Ingress { kind, method, path } => {
                    vec![("kind", kind), ("method", method), ("path", path)]
                }
                MetadataKind::Cron(pattern) => vec![("pattern", pattern)],
                MetadataKind::Retry {
                    min_backoff,
                    max_backoff,
                    ..
                } => {
                    let mut out = vec![("backoff", min_backoff.as_str())];
                    out.extend(max_backoff.as_deref().map(|b| ("backoff", b)));
                    out
                }
                MetadataKind::TypeMap {
                    runtime,
                    native_name,
                } => vec![("runtime", runtime), ("native name", native_name)],
                MetadataKind::Alias { kind, alias } => vec![("kind", kind), ("name", alias)],
                MetadataKind::Encoding { kind, .. } => vec![("kind", kind)],
                MetadataKind::Egress(targets) => {
                    targets.iter().map(|t| ("target", t.as_str())).collect()
                }
                MetadataKind::SqlColumn { table, name } => {
                    vec![("table", table), ("column", name)]
                }
                MetadataKind::Migration(digest) => vec![("digest", digest)],
                MetadataKind::Artefact { path, digest, .. } => {
                    vec![("path", path), ("digest", digest)]
                }
                MetadataKind::Git {
                    repository, commit, ..
                } => vec![("repository", repository), ("commit", commit)],
                MetadataKind::Image { image, digest } => vec![("image", image), ("digest", digest)],
                MetadataKind::Grpc(method) => vec![("method", method)],
                MetadataKind::Oneof(group) => vec![("group", group)],
                MetadataKind::SqlQuery { command, .. } => vec![("command", command)],
                MetadataKind::ProtobufMessage(message) => vec![("message", message)],
                MetadataKind::ProtobufField { name, .. } => {
                    name.iter().map(|n| ("field name", n.as_str())).collect()
                }
                MetadataKind::Calls(_)
                | MetadataKind::Subscribe { .. }
                | MetadataKind::Publish(_)
                | MetadataKind::DatabaseUses(_)
                | MetadataKind::ConfigUses(_)
                | MetadataKind::SecretsUses(_)
                | MetadataKind::Partitions(_)
                | MetadataKind::Generated
                | MetadataKind::Transaction
                | MetadataKind::Fixture { .. } => Vec::new(),
            };
            for (part, text) in texts {
                if let Some((c, why)) = first_refused(text, false) {
                    let pos = m.pos.as_ref().or(site.decl.and_then(Decl::pos));
                    let d = self
                        .at(
                            pos,
                            site,
                            refused_message(&format!("the {part} of `+{keyword}`"), c, why),
                        )
                        .with_len(keyword.len() + 1)
                        .with_help(
                            "generated code and schema text write this string out; \
                             remove the character (names and paths are one line of visible text)",
                        );
                    self.report(d.or_code(rules::UNSAFE_TEXT));
                    break;
                }
            }
        }
    }
}

const COMMENT_HELP: &str = "generated code and schema text write comments line by line; \
     in proto-text or JSON, give each line of a comment as its own `comments` entry, \
     and leave out control and bidirectional characters";

fn refused_message(what: &str, c: char, why: &str) -> String {
    format!("{what} contains {why} (U+{:04X})", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_comments_and_names_may_hold() {
        for c in ['a', 'é', '`', '"', '\\', '*', '/', '☃', '\u{200b}'] {
            assert_eq!(refused_char(c, true), None, "{c:?}");
            assert_eq!(refused_char(c, false), None, "{c:?}");
        }
        assert_eq!(refused_char('\t', true), None);
        assert_eq!(refused_char('\t', false), Some("a control character"));
        for c in ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{0c}'] {
            assert_eq!(refused_char(c, true), Some("a line break"), "{c:?}");
        }
        for c in ['\0', '\u{7}', '\u{1b}', '\u{7f}', '\u{9b}'] {
            assert_eq!(refused_char(c, true), Some("a control character"), "{c:?}");
        }
        assert_eq!(
            refused_char('\u{202e}', true),
            Some("a bidirectional control character")
        );
        assert_eq!(refused_char('\u{feff}', true), Some("a byte order mark"));
    }

    #[test]
    fn schema_text_is_checked_too_with_positions() {
        let text = "realm r {\nmodule m {\n  // Looks fine \u{202e}but reads backwards\n  export data D {\n    x Int +alias json \"a\\nb\"\n    y Int +alias json \"tab\\there\"\n  }\n}\n}\n";
        let schema = crate::schema::parse_schema("m.ftl", text).expect("parses");
        let errors: Vec<String> = super::super::validate(&schema)
            .iter()
            .map(|d| {
                let pos = d.pos.as_ref().map(|p| p.to_string()).unwrap_or_default();
                format!("{pos}: {}", d.message)
            })
            .collect();
        assert_eq!(
            errors,
            [
                "m.ftl:4:3: the doc comment of data `m.D` contains a bidirectional control character (U+202E)",
                "m.ftl:5:11: the name of `+alias` contains a line break (U+000A)",
                "m.ftl:6:11: the name of `+alias` contains a control character (U+0009)",
            ]
        );
    }

    #[test]
    fn the_printer_writes_a_comment_with_line_breaks_as_comment_lines() {
        let mut schema = crate::schema::parse_schema(
            "m.ftl",
            "realm r {\n  module m {\n    data D {\n    }\n  }\n}\n",
        )
        .expect("parses");
        if let Some(Decl::Data(d)) = schema.realms[0].modules[0].decls.first_mut() {
            d.comments = thin_vec!["one\r\ndata Evil {}\u{2028}two".to_string()];
        }
        let printed = crate::schema::print_schema(&schema);
        assert!(
            printed.contains("    // one\n    // data Evil {}\n    // two\n    data D {"),
            "{printed}"
        );
        let reread = crate::schema::parse_schema("printed.ftl", &printed).expect("reads back");
        assert_eq!(reread.realms[0].modules[0].decls.len(), 1);
    }

    #[test]
    fn lines_split_at_every_line_break() {
        let lines = split_lines("a\nb\r\nc\rd\u{2028}e\u{2029}f\u{85}g\n\nh");
        assert_eq!(lines, ["a", "b", "c", "d", "e", "f", "g", "", "h"]);
        assert_eq!(split_lines("one"), ["one"]);
        assert_eq!(split_lines(""), [""]);
        assert_eq!(split_lines("x\r\n"), ["x", ""]);
    }
}
