//! Prints the model as canonical schema text, in FTL's syntax.
//!
//! Canonical text is what the parser reads back to the same model, and
//! printing that model again gives the same bytes. Layout follows FTL's
//! `ftl schema get`: two-space indentation, declaration metadata on the lines
//! under the declaration, field metadata inline, reference lists continued
//! on the next line past 70 columns as FTL wraps them, blank lines between
//! declarations except within runs of config, secret, database, topic and
//! typealias declarations, none after a module's metadata. Where FTL's
//! printer writes something its own grammar does not read back (`+egress
//! "a" "b"`), this printer writes the grammar's form.

use std::fmt::{self, Write};

use super::model::*;
use super::validate::text::split_lines;

const INDENT: &str = "  ";

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_schema(self))
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_realm(&mut out, self);
        f.write_str(&out)
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_module(&mut out, self, 0);
        f.write_str(&out)
    }
}

impl fmt::Display for Decl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_decl(&mut out, self, 0);
        f.write_str(out.trim_end_matches('\n'))
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_type(&mut out, self);
        f.write_str(&out)
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_ref(&mut out, self);
        f.write_str(&out)
    }
}

impl fmt::Display for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_metadata(&mut out, &self.kind, 0);
        f.write_str(&out)
    }
}

/// Prints a whole schema: its realms separated by blank lines.
pub fn print_schema(schema: &Schema) -> String {
    let mut out = String::with_capacity(4096);
    for (i, realm) in schema.realms.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_realm(&mut out, realm);
    }
    out
}

/// Prints modules without a realm around them, as a file of bare modules.
pub fn print_modules(modules: &[Module]) -> String {
    let mut out = String::with_capacity(4096);
    for (i, module) in modules.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_module(&mut out, module, 0);
    }
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str(INDENT);
    }
}

/// Comments as `//` lines. A comment with a line break in it (which the
/// validator refuses) still gives one `//` line per line: nothing after a
/// line break can be read as schema.
fn write_comments(out: &mut String, comments: &[String], level: usize) {
    for line in comments.iter().flat_map(|c| split_lines(c)) {
        indent(out, level);
        if line.is_empty() {
            out.push_str("//\n");
        } else {
            out.push_str("// ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn write_realm(out: &mut String, realm: &Realm) {
    write_comments(out, &realm.comments, 0);
    if realm.external {
        out.push_str("external ");
    }
    out.push_str("realm ");
    out.push_str(&realm.name);
    out.push_str(" {\n");
    for (i, module) in realm.modules.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_module(out, module, 1);
    }
    out.push_str("}\n");
}

fn write_module(out: &mut String, module: &Module, level: usize) {
    write_comments(out, &module.comments, level);
    indent(out, level);
    if module.builtin {
        out.push_str("builtin ");
    }
    out.push_str("module ");
    out.push_str(&module.name);
    out.push_str(" {\n");
    write_metadata_lines(out, &module.metadata, level + 1);
    let mut previous: Option<DeclKind> = None;
    for decl in &module.decls {
        let kind = decl.kind();
        // As FTL: no blank line after the module's metadata.
        let gap = previous.is_some_and(|prev| !grouped(prev, kind));
        if gap {
            out.push('\n');
        }
        write_decl(out, decl, level + 1);
        previous = Some(kind);
    }
    indent(out, level);
    out.push_str("}\n");
}

/// Whether `next` directly follows `prev` without a blank line between them.
fn grouped(prev: DeclKind, next: DeclKind) -> bool {
    use DeclKind::*;
    match (prev, next) {
        (Config, Secret) => true,
        (a, b) if a == b => matches!(a, Config | Secret | Database | Topic | TypeAlias),
        _ => false,
    }
}

fn write_decl(out: &mut String, decl: &Decl, level: usize) {
    write_comments(out, decl.comments(), level);
    indent(out, level);
    match decl {
        Decl::Data(data) => {
            out.push_str(data.visibility.prefix());
            out.push_str("data ");
            out.push_str(&data.name);
            if !data.type_params.is_empty() {
                out.push('<');
                for (i, param) in data.type_params.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&param.name);
                }
                out.push('>');
            }
            out.push_str(" {\n");
            write_metadata_lines(out, &data.metadata, level + 1);
            for field in &data.fields {
                write_comments(out, &field.comments, level + 1);
                indent(out, level + 1);
                out.push_str(&field.name);
                out.push(' ');
                write_type(out, &field.ty);
                for metadata in &field.metadata {
                    out.push(' ');
                    write_metadata(out, &metadata.kind, level + 1);
                }
                out.push('\n');
            }
            indent(out, level);
            out.push_str("}\n");
        }
        Decl::Verb(verb) => {
            out.push_str(verb.visibility.prefix());
            out.push_str("verb ");
            out.push_str(&verb.name);
            out.push('(');
            write_type(out, &verb.request);
            out.push_str(") ");
            write_type(out, &verb.response);
            out.push('\n');
            write_metadata_lines(out, &verb.metadata, level + 1);
        }
        Decl::Enum(e) => {
            out.push_str(e.visibility.prefix());
            out.push_str("enum ");
            out.push_str(&e.name);
            if let Some(ty) = &e.ty {
                out.push_str(": ");
                write_type(out, ty);
            }
            out.push_str(" {\n");
            for variant in &e.variants {
                write_comments(out, &variant.comments, level + 1);
                indent(out, level + 1);
                out.push_str(&variant.name);
                match &variant.value {
                    VariantValue::Int(n) => {
                        let _ = write!(out, " = {n}");
                    }
                    VariantValue::String(s) => {
                        out.push_str(" = ");
                        write_quoted(out, s);
                    }
                    VariantValue::Type(ty) => {
                        out.push(' ');
                        write_type(out, ty);
                    }
                }
                out.push('\n');
            }
            indent(out, level);
            out.push_str("}\n");
        }
        Decl::TypeAlias(alias) => {
            out.push_str(alias.visibility.prefix());
            out.push_str("typealias ");
            out.push_str(&alias.name);
            out.push(' ');
            write_type(out, &alias.ty);
            out.push('\n');
            write_metadata_lines(out, &alias.metadata, level + 1);
        }
        Decl::Config(config) => {
            out.push_str("config ");
            out.push_str(&config.name);
            out.push(' ');
            write_type(out, &config.ty);
            out.push('\n');
        }
        Decl::Secret(secret) => {
            out.push_str("secret ");
            out.push_str(&secret.name);
            out.push(' ');
            write_type(out, &secret.ty);
            out.push('\n');
        }
        Decl::Database(db) => {
            out.push_str("database ");
            out.push_str(db.engine.keyword());
            out.push(' ');
            out.push_str(&db.name);
            out.push('\n');
            write_metadata_lines(out, &db.metadata, level + 1);
        }
        Decl::Topic(topic) => {
            out.push_str(topic.visibility.prefix());
            out.push_str("topic ");
            out.push_str(&topic.name);
            out.push(' ');
            write_type(out, &topic.event);
            out.push('\n');
            write_metadata_lines(out, &topic.metadata, level + 1);
        }
    }
}

fn write_metadata_lines(out: &mut String, metadata: &[Metadata], level: usize) {
    for m in metadata {
        indent(out, level);
        write_metadata(out, &m.kind, level);
        out.push('\n');
    }
}

pub(crate) fn write_type(out: &mut String, ty: &Type) {
    match ty {
        Type::Int => out.push_str("Int"),
        Type::Float => out.push_str("Float"),
        Type::String => out.push_str("String"),
        Type::Bytes => out.push_str("Bytes"),
        Type::Bool => out.push_str("Bool"),
        Type::Time => out.push_str("Time"),
        Type::Any => out.push_str("Any"),
        Type::Unit => out.push_str("Unit"),
        Type::List(element) => {
            out.push('[');
            write_type(out, element);
            out.push(']');
        }
        Type::Map(key, value) => {
            out.push('{');
            write_type(out, key);
            out.push_str(": ");
            write_type(out, value);
            out.push('}');
        }
        Type::Optional(inner) => {
            write_type(out, inner);
            out.push('?');
        }
        Type::Ref(r) => write_ref(out, r),
    }
}

fn write_ref(out: &mut String, r: &Ref) {
    if let Some(module) = &r.module {
        out.push_str(module);
        out.push('.');
    }
    out.push_str(&r.name);
    if !r.type_args.is_empty() {
        out.push('<');
        for (i, arg) in r.type_args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_type(out, arg);
        }
        out.push('>');
    }
    if let Some(realm) = &r.realm {
        out.push('@');
        out.push_str(realm);
    }
}

/// How wide FTL lets a list of references grow before it continues on the
/// next line, and how far continuation lines are indented (past the
/// metadata's own indentation).
const REF_LIST_WIDTH: usize = 70;
const CONTINUATION: &str = "      ";

/// A list of references as FTL's printer writes it: `, `-separated,
/// continued on a new line (indented by [`CONTINUATION`]) when the next
/// reference would pass [`REF_LIST_WIDTH`]. FTL counts from 6 whatever the
/// keyword, and leaves a blank at the end of a wrapped line; realm does
/// not.
fn write_refs(out: &mut String, refs: &[Ref], level: usize) {
    let mut width = CONTINUATION.len();
    for (i, r) in refs.iter().enumerate() {
        let len = ref_len(r);
        if i > 0 {
            out.push(',');
            width += 2;
            if width + len > REF_LIST_WIDTH {
                out.push('\n');
                indent(out, level);
                out.push_str(CONTINUATION);
                width = CONTINUATION.len();
            } else {
                out.push(' ');
            }
        }
        width += len;
        write_ref(out, r);
    }
}

/// The length of a reference as printed, in bytes (FTL counts bytes).
fn ref_len(r: &Ref) -> usize {
    let mut s = String::new();
    write_ref(&mut s, r);
    s.len()
}

fn write_metadata(out: &mut String, kind: &MetadataKind, level: usize) {
    out.push('+');
    out.push_str(kind.keyword());
    match kind {
        MetadataKind::Calls(refs)
        | MetadataKind::Publish(refs)
        | MetadataKind::DatabaseUses(refs)
        | MetadataKind::ConfigUses(refs)
        | MetadataKind::SecretsUses(refs) => {
            out.push(' ');
            write_refs(out, refs, level);
        }
        MetadataKind::Ingress { kind, method, path } => {
            let _ = write!(out, " {kind} {method} {path}");
        }
        MetadataKind::Cron(cron) => {
            out.push(' ');
            out.push_str(cron);
        }
        MetadataKind::Retry {
            count,
            min_backoff,
            max_backoff,
            catch,
        } => {
            if let Some(count) = count {
                let _ = write!(out, " {count}");
            }
            if !min_backoff.is_empty() {
                out.push(' ');
                out.push_str(min_backoff);
            }
            if let Some(max) = max_backoff {
                out.push(' ');
                out.push_str(max);
            }
            if let Some(catch) = catch {
                out.push_str(" catch ");
                write_ref(out, catch);
            }
        }
        MetadataKind::Subscribe {
            topic,
            from,
            dead_letter,
        } => {
            out.push(' ');
            write_ref(out, topic);
            if let Some(from) = from {
                out.push_str(" from=");
                out.push_str(from.keyword());
            }
            if *dead_letter {
                out.push_str(" deadletter");
            }
        }
        MetadataKind::TypeMap {
            runtime,
            native_name,
        } => {
            out.push(' ');
            out.push_str(runtime);
            out.push(' ');
            write_quoted(out, native_name);
        }
        MetadataKind::Alias { kind, alias } => {
            out.push(' ');
            out.push_str(kind);
            out.push(' ');
            write_quoted(out, alias);
        }
        MetadataKind::Encoding { kind, lenient } => {
            out.push(' ');
            out.push_str(kind);
            if *lenient {
                out.push_str(" lenient");
            }
        }
        MetadataKind::Partitions(n) => {
            let _ = write!(out, " {n}");
        }
        MetadataKind::Egress(targets) => {
            for (i, target) in targets.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                write_quoted(out, target);
            }
        }
        MetadataKind::Generated | MetadataKind::Transaction => {}
        MetadataKind::Fixture { manual } => {
            if *manual {
                out.push_str(" manual");
            }
        }
        MetadataKind::SqlQuery { command, query } => {
            out.push(' ');
            out.push_str(command);
            out.push(' ');
            write_quoted(out, query);
        }
        MetadataKind::SqlColumn { table, name } => {
            out.push(' ');
            write_name_or_quoted(out, table);
            out.push('.');
            write_name_or_quoted(out, name);
        }
        MetadataKind::Migration(digest) => {
            out.push(' ');
            out.push_str(digest);
        }
        MetadataKind::Artefact {
            path,
            digest,
            executable,
        } => {
            out.push(' ');
            write_quoted(out, path);
            out.push(' ');
            write_quoted(out, digest);
            if *executable {
                out.push_str(" executable");
            }
        }
        MetadataKind::Git {
            repository,
            commit,
            dirty,
        } => {
            out.push(' ');
            write_quoted(out, repository);
            out.push(' ');
            write_quoted(out, commit);
            if *dirty {
                out.push_str(" dirty");
            }
        }
        MetadataKind::Image { image, digest } => {
            out.push(' ');
            write_quoted(out, image);
            out.push(':');
            write_quoted(out, digest);
        }
        MetadataKind::Grpc(method) => {
            out.push(' ');
            write_quoted(out, method);
        }
        MetadataKind::Oneof(group) => {
            out.push(' ');
            out.push_str(group);
        }
        MetadataKind::ProtobufMessage(name) => {
            out.push(' ');
            write_quoted(out, name);
        }
        MetadataKind::ProtobufField { ty, name } => {
            out.push(' ');
            out.push_str(&ty.to_string());
            if let Some(name) = name {
                out.push(' ');
                write_quoted(out, name);
            }
        }
    }
}

/// Writes an identifier as it is, anything else quoted (FTL's `+sql column`).
fn write_name_or_quoted(out: &mut String, s: &str) {
    if super::model::is_ident(s) {
        out.push_str(s);
    } else {
        write_quoted(out, s);
    }
}

/// Writes `s` as a double-quoted string literal that FTL (Go's unquoting)
/// and realm read back: `\"`, `\\`, `\n`, `\r`, `\t` and `\u00XX` for other
/// control characters.
pub(crate) fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
