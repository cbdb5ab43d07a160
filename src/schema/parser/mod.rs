//! Parses schema text into the model: FTL's schema language as FTL's
//! grammar reads it and FTL's printer writes it, plus realm's additions
//! (`realm` blocks, `@realm` references, `+grpc`, `+oneof`) and the older
//! forms realm printed (`+config uses`, unquoted `+git` commits).
//!
//! A hand-written recursive-descent parser over the source text. Metadata
//! may follow a declaration on its line or stand on the lines under it,
//! several to a line; reference lists continue on the next line after a
//! comma. `+cron` runs to the end of its line, which a context-free token
//! stream would not capture. Comments are doc comments: they must stand on
//! their own lines directly before a realm, module, declaration, field or
//! enum variant, and are kept in the model. References are kept as written
//! (`qualify` resolves bare ones).
//!
//! The parser stops at the first error of a file and reports where it is,
//! what it found and what it expected. Types nest at most
//! [`MAX_TYPE_DEPTH`] deep. It does no I/O: it is given the file name (for
//! positions) and the text.
//!
//! Its parts: `lexer` (positions, whitespace, comments, tokens),
//! `decls` (declarations), `types` (types and references) and
//! `metadata` (the `+metadata` lines and their rules: ingress paths,
//! durations).

mod decls;
mod lexer;
mod metadata;
mod types;

use std::sync::Arc;

use super::diagnostic::Diagnostic;
use super::model::*;
pub(crate) use metadata::{
    HTTP_METHODS, TYPEMAP_RUNTIMES, ingress_path_problem, is_migration_digest,
};
pub use metadata::{METADATA_NAMES, is_duration};

/// What one file of schema text holds: realm blocks, or bare modules (which
/// belong to the internal realm), never both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchemaFile {
    pub realms: Vec<Realm>,
    pub modules: Vec<Module>,
}

/// Parses one file of schema text. `file` is the name used in positions.
pub fn parse_file(file: &str, text: &str) -> Result<SchemaFile, Diagnostic> {
    let mut p = Parser::new(file, text);
    p.file()
}

/// Parses schema text that holds only realm blocks (and perhaps a leading
/// builtin module, which goes to the internal realm).
pub fn parse_schema(file: &str, text: &str) -> Result<Schema, Diagnostic> {
    let mut p = Parser::new(file, text);
    let mut parsed = p.file()?;
    if let Some(module) = parsed.modules.iter().find(|m| m.name != "builtin") {
        return Err(Diagnostic::new(
            format!("module `{}` is outside any realm", module.name),
            module.pos.clone(),
        )
        .with_help("wrap the modules in `realm <name> { ... }`"));
    }
    let home = parsed
        .realms
        .iter()
        .position(|r| !r.external)
        .unwrap_or_default();
    if let Some(realm) = parsed.realms.get_mut(home) {
        let builtins = std::mem::take(&mut parsed.modules);
        realm.modules.splice(0..0, builtins);
    }
    Ok(Schema {
        realms: parsed.realms,
    })
}

/// Parses a reference such as `balance.withdraw@bank`.
pub fn parse_ref(file: &str, text: &str) -> Result<Ref, Diagnostic> {
    let mut p = Parser::new(file, text);
    p.skip_ws();
    let (first, pos) = p.expect_ident("a reference such as `module.verb@realm`")?;
    let r = p.ref_after_ident(first, pos)?;
    p.skip_ws();
    if p.i < p.src.len() {
        return Err(p.expected("end of the reference"));
    }
    Ok(r)
}

/// Parses a single type such as `[balance.Account?]`.
pub fn parse_type(file: &str, text: &str) -> Result<Type, Diagnostic> {
    let mut p = Parser::new(file, text);
    let ty = p.ty()?;
    p.skip_ws();
    if p.i < p.src.len() {
        return Err(p.expected("end of the type"));
    }
    Ok(ty)
}

type Result<T, E = Diagnostic> = std::result::Result<T, E>;

/// `v` in an allocation of exactly its length. A vector grown by pushes
/// keeps up to twice the room it needs (four metadata for one `+alias`,
/// eight fields for five), and the model is the most of `realm export`'s
/// memory: the parsed model of the 10,000-verb benchmark realm held 13 MiB
/// of such room. The copy is cheaper than the pages it saves.
fn exact<T>(v: Vec<T>) -> Vec<T> {
    if v.len() == v.capacity() {
        return v;
    }
    let mut out = Vec::with_capacity(v.len());
    out.extend(v);
    out
}

thread_local! {
    /// The fields of the data type being read (see [`settle`]).
    static FIELDS: std::cell::Cell<Vec<Field>> = const { std::cell::Cell::new(Vec::new()) };
    /// The declarations of the module being read.
    static DECLS: std::cell::Cell<Vec<Decl>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The items read into `scratch` (a vector this thread keeps in `key`,
/// taken with `key.take()`), moved into a vector of exactly their number;
/// the emptied scratch goes back, its room kept unless it is large. A list
/// read into a fresh vector doubled it as it grew, copying it each time,
/// before [`exact`] copied it once more (30,000 reallocations copying 17
/// MB in `realm export` of the benchmark realm, most of them fields and
/// declarations).
fn settle<T>(
    key: &'static std::thread::LocalKey<std::cell::Cell<Vec<T>>>,
    mut scratch: Vec<T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(scratch.len());
    out.append(&mut scratch);
    if scratch.capacity() <= 4096 {
        key.set(scratch);
    }
    out
}

struct Parser<'a> {
    file: Arc<str>,
    src: &'a str,
    bytes: &'a [u8],
    /// The text is ASCII: a column is a byte offset.
    ascii: bool,
    i: usize,
    line: u32,
    line_start: usize,
    /// The last column computed, as (byte offset, column - 1), on the
    /// current line or an earlier one.
    column_at: std::cell::Cell<(usize, usize)>,
    /// The line on which the last token ended (0 before the first token).
    last_token_line: u32,
    /// Inside metadata arguments: whitespace skipping stops at line ends.
    inline: bool,
    /// Where the last block of doc comments began.
    comment_start: Option<Pos>,
    /// How many types enclose the one being parsed (bounded by
    /// [`MAX_TYPE_DEPTH`], so hostile nesting cannot overflow the stack).
    type_depth: usize,
}

impl<'a> Parser<'a> {
    fn new(file: &str, src: &'a str) -> Self {
        Parser {
            file: Arc::from(file),
            src,
            bytes: src.as_bytes(),
            ascii: src.is_ascii(),
            i: 0,
            line: 1,
            line_start: 0,
            column_at: std::cell::Cell::new((0, 0)),
            last_token_line: 0,
            inline: false,
            comment_start: None,
            type_depth: 0,
        }
    }

    fn file(&mut self) -> Result<SchemaFile> {
        let mut out = SchemaFile::default();
        loop {
            let comments = self.comments()?;
            let Some(keyword) = self.peek_ident() else {
                if self.peek().is_none() {
                    self.dangling_comments(&comments, "a realm or module")?;
                    return Ok(out);
                }
                return Err(self.expected("`realm`, `external realm` or `module`"));
            };
            match keyword {
                "realm" | "external" => {
                    // The builtin module may lead a file of realm blocks, as
                    // FTL's older `ftl schema` dumps have it.
                    if let Some(module) = out.modules.iter().find(|m| m.name != "builtin") {
                        return Err(self.mixed_file_error(&module.name));
                    }
                    let realm = self.realm(comments)?;
                    out.realms.push(realm);
                }
                "module" | "builtin" => {
                    if let Some(realm) = out.realms.first().filter(|_| keyword != "builtin") {
                        return Err(Diagnostic::new(
                            format!(
                                "module outside a realm block in a file that declares realm `{}`",
                                realm.name
                            ),
                            Some(self.pos()),
                        )
                        .with_len(keyword.len())
                        .with_help(
                            "move the module into a realm block, or into a file of its own",
                        ));
                    }
                    let module = self.module(comments)?;
                    out.modules.push(module);
                }
                _ => return Err(self.expected("`realm`, `external realm` or `module`")),
            }
        }
    }

    fn mixed_file_error(&self, module: &str) -> Diagnostic {
        Diagnostic::new(
            format!("realm block in a file that already holds bare module `{module}`"),
            Some(self.pos()),
        )
        .with_len(5)
        .with_help("a file holds either realm blocks or bare modules; split it in two")
    }

    fn realm(&mut self, comments: ThinVec<String>) -> Result<Realm> {
        self.skip_ws();
        let pos = self.pos();
        let external = self.eat_keyword("external");
        if !self.eat_keyword("realm") {
            return Err(self.expected("`realm`"));
        }
        let (name, _) = self.expect_ident("a realm name")?;
        self.expect(b'{', "`{` after the realm name")?;
        let mut modules = Vec::new();
        loop {
            let comments = self.comments()?;
            if self.eat(b'}') {
                self.dangling_comments(&comments, "a module")?;
                break;
            }
            self.check_unclosed(&pos, format_args!("realm `{name}`"), &["realm"])?;
            match self.peek_ident() {
                Some("module" | "builtin") => modules.push(self.module(comments)?),
                _ => return Err(self.expected("`module` or `}`")),
            }
        }
        Ok(Realm {
            pos: Some(pos),
            comments,
            external,
            name: name.to_string(),
            modules: exact(modules),
        })
    }

    fn module(&mut self, comments: ThinVec<String>) -> Result<Module> {
        self.skip_ws();
        let pos = self.pos();
        let builtin = self.eat_keyword("builtin");
        if !self.eat_keyword("module") {
            return Err(self.expected("`module`"));
        }
        let (name, _) = self.expect_ident("a module name")?;
        self.expect(b'{', "`{` after the module name")?;
        let metadata = self.metadata_lines()?;
        let mut decls = DECLS.take();
        loop {
            let comments = self.comments()?;
            if self.eat(b'}') {
                self.dangling_comments(&comments, "a declaration")?;
                break;
            }
            self.check_unclosed(&pos, format_args!("module `{name}`"), &["module", "realm"])?;
            decls.push(self.decl(comments)?);
        }
        Ok(Module {
            pos: Some(pos),
            comments,
            builtin,
            name: name.to_string(),
            metadata,
            decls: settle(&DECLS, decls),
        })
    }
}
