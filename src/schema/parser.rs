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

use std::sync::Arc;

use super::diagnostic::Diagnostic;
use super::model::*;

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

const DECL_KEYWORDS: &str = "data, verb, enum, typealias, config, secret, database or topic";

struct Parser<'a> {
    file: Arc<str>,
    src: &'a str,
    bytes: &'a [u8],
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

    // ---- positions and errors -------------------------------------------

    fn pos(&self) -> Pos {
        // Columns count characters from the line start; counting from the
        // last position asked for on the same line keeps a long line
        // linear (a 40,000-field line was quadratic).
        let (at, col) = match self.column_at.get() {
            (at, col) if at >= self.line_start && at <= self.i => (at, col),
            _ => (self.line_start, 0),
        };
        let column = if self.src.is_char_boundary(self.i) && self.src.is_char_boundary(at) {
            col + self.src[at..self.i].chars().count()
        } else {
            self.i - self.line_start
        };
        self.column_at.set((self.i, column));
        Pos {
            file: self.file.clone(),
            line: self.line,
            column: column as u32 + 1,
        }
    }

    /// Describes what is at the cursor, for "found ..." in messages, with its
    /// length in characters.
    fn describe_next(&self) -> (String, usize) {
        let rest = &self.src[self.i..];
        let Some(c) = rest.chars().next() else {
            return ("end of file".into(), 1);
        };
        if c == '\n' || c == '\r' {
            return ("end of line".into(), 1);
        }
        if rest.starts_with("//") {
            return ("a comment".into(), 2);
        }
        if c == '"' {
            return ("a string".into(), 1);
        }
        if is_ident_start(c as u8) {
            let word = ident_prefix(rest);
            return (format!("`{word}`"), word.chars().count());
        }
        if c.is_ascii_digit() || c == '-' {
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                .collect();
            let len = n.chars().count();
            return (format!("`{n}`"), len);
        }
        (format!("`{c}`"), 1)
    }

    /// `expected X, found Y` at the cursor.
    fn expected(&self, what: &str) -> Diagnostic {
        let (found, len) = self.describe_next();
        Diagnostic::new(format!("expected {what}, found {found}"), Some(self.pos()))
            .with_len(len)
            .with_label(format!("expected {what}"))
    }

    fn error_at(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message, Some(pos))
    }

    // ---- characters and whitespace --------------------------------------

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn bump(&mut self) {
        if self.bytes[self.i] == b'\n' {
            self.line += 1;
            self.line_start = self.i + 1;
        }
        self.i += 1;
    }

    /// Skips blanks; outside metadata also line ends. Stops at comments.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' if !self.inline => self.bump(),
                _ => break,
            }
        }
    }

    fn at_comment(&self) -> bool {
        self.src[self.i..].starts_with("//")
    }

    /// Marks that a token ended at the cursor.
    fn token_end(&mut self) {
        self.last_token_line = self.line;
    }

    /// Reads the doc comments before a node.
    fn comments(&mut self) -> Result<Vec<String>> {
        let mut comments = Vec::new();
        loop {
            self.skip_ws();
            if !self.at_comment() {
                return Ok(comments);
            }
            if comments.is_empty() {
                self.comment_start = Some(self.pos());
            }
            if self.last_token_line == self.line {
                return Err(Diagnostic::new(
                    "a comment must stand on its own line",
                    Some(self.pos()),
                )
                .with_len(2)
                .with_label("comment after code")
                .with_help("move the comment to its own line above the declaration it describes"));
            }
            let start = self.i + 2;
            let end = self.src[start..]
                .find('\n')
                .map_or(self.src.len(), |n| start + n);
            let text = self.src[start..end].trim_end();
            let text = text.strip_prefix(' ').unwrap_or(text);
            comments.push(text.to_string());
            self.i = end;
        }
    }

    /// Errors when doc comments are followed by something they cannot
    /// describe (a closing brace or the end of the file).
    fn dangling_comments(&self, comments: &[String], what: &str) -> Result<()> {
        if comments.is_empty() {
            return Ok(());
        }
        Err(Diagnostic::new(
            format!(
                "comment is not attached to anything; a comment must come directly before {what}"
            ),
            self.comment_start.clone(),
        )
        .with_len(2)
        .with_help("move the comment above a declaration or delete it"))
    }

    /// At the end of the file inside a block: the block is not closed.
    fn check_unclosed(&self, start: &Pos, what: &str) -> Result<()> {
        if self.peek().is_some() {
            return Ok(());
        }
        Err(
            Diagnostic::new(format!("{what} is not closed"), Some(start.clone()))
                .with_label("this block has no closing `}`")
                .with_help("add the missing `}`"),
        )
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.bump();
            self.token_end();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    // ---- tokens -----------------------------------------------------------

    fn peek_ident(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = &self.src[self.i..];
        let word = ident_prefix(rest);
        (!word.is_empty()).then_some(word)
    }

    fn ident(&mut self) -> Option<(&'a str, Pos)> {
        let word = self.peek_ident()?;
        let pos = self.pos();
        self.i += word.len();
        self.token_end();
        Some((word, pos))
    }

    fn expect_ident(&mut self, what: &str) -> Result<(&'a str, Pos)> {
        self.ident().ok_or_else(|| self.expected(what))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_ident() == Some(keyword) {
            self.i += keyword.len();
            self.token_end();
            true
        } else {
            false
        }
    }

    /// An identifier directly at the cursor, no whitespace before it.
    fn ident_here(&mut self, what: &str) -> Result<&'a str> {
        let word = ident_prefix(&self.src[self.i..]);
        if word.is_empty() {
            return Err(self.expected(what));
        }
        self.i += word.len();
        self.token_end();
        Ok(word)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.expected(what));
        }
        let start = self.pos();
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.i..];
            let Some(c) = rest.chars().next() else {
                return Err(self
                    .error_at(start, "unterminated string")
                    .with_help("close the string with `\"` on the same line"));
            };
            match c {
                '"' => {
                    self.i += 1;
                    self.token_end();
                    return Ok(out);
                }
                '\n' => {
                    return Err(self.error_at(start, "unterminated string").with_help(
                        "close the string with `\"` on the same line; write line breaks as `\\n`",
                    ));
                }
                '\\' => {
                    let escape_pos = self.pos();
                    self.i += 1;
                    out.push(self.escape(escape_pos)?);
                }
                c => {
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }

    /// The character of an escape sequence, the cursor just after its `\`:
    /// `\" \\ \n \r \t`, Go's escapes (what FTL prints with `%q`: `\a \b
    /// \f \v \' \x41 \u00e9 \U0001F600 \101`) and `\u{1F600}`, which realm
    /// printed before.
    fn escape(&mut self, escape_pos: Pos) -> Result<char> {
        let invalid = |p: &Self, help: &str| {
            Err(p
                .error_at(escape_pos.clone(), "invalid escape sequence in string")
                .with_len(2)
                .with_help(help.to_string()))
        };
        let Some(next) = self.src[self.i..].chars().next() else {
            return invalid(self, "close the string with `\"`");
        };
        self.i += next.len_utf8();
        let simple = match next {
            '"' => Some('"'),
            '\'' => Some('\''),
            '\\' => Some('\\'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(c) = simple {
            return Ok(c);
        }
        // A fixed number of digits in a radix.
        let digits = |p: &mut Self, n: usize, radix: u32| -> Option<u32> {
            let body = p.src.get(p.i..p.i + n)?;
            if !body.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            p.i += n;
            u32::from_str_radix(body, radix).ok()
        };
        let code = match next {
            'u' if self.peek() == Some(b'{') => {
                let body = &self.src[self.i + 1..];
                let end = body.find('}').filter(|&n| (1..=6).contains(&n));
                let code = end.and_then(|n| u32::from_str_radix(&body[..n], 16).ok());
                if let Some(n) = end {
                    self.i += n + 2;
                }
                code
            }
            'u' => digits(self, 4, 16),
            'U' => digits(self, 8, 16),
            'x' => digits(self, 2, 16).filter(|&c| c < 0x80),
            '0'..='7' => {
                self.i -= 1;
                digits(self, 3, 8).filter(|&c| c < 0x80)
            }
            _ => {
                return Err(self
                    .error_at(escape_pos, "unknown escape sequence in string")
                    .with_len(2)
                    .with_help("the escapes are \\\" \\\\ \\n \\r \\t, Go's \\a \\b \\f \\v \\x.. \\u.... \\U........ and \\u{...}"));
            }
        };
        match code.and_then(char::from_u32) {
            Some(c) => Ok(c),
            None => invalid(
                self,
                "write a code point as `\\u00e9` or `\\U0001F600` (or `\\u{1F600}`), a byte below 0x80 as `\\x41`",
            ),
        }
    }

    fn integer(&mut self, what: &str) -> Result<i64> {
        self.skip_ws();
        let pos = self.pos();
        let rest = &self.src[self.i..];
        let sign = usize::from(rest.starts_with('-'));
        let digits = rest[sign..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(self.expected(what));
        }
        let text = &rest[..sign + digits];
        let value = text.parse::<i64>().map_err(|_| {
            self.error_at(pos, format!("number `{text}` does not fit in 64 bits"))
                .with_len(text.len())
        })?;
        self.i += text.len();
        self.token_end();
        Ok(value)
    }

    /// A run of non-blank characters on the current line.
    fn word(&mut self, what: &str) -> Result<(&'a str, Pos)> {
        self.skip_ws();
        let rest = &self.src[self.i..];
        let len = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        if len == 0 {
            return Err(self.expected(what));
        }
        let pos = self.pos();
        let word = &rest[..len];
        self.i += len;
        self.token_end();
        Ok((word, pos))
    }

    fn peek_word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = &self.src[self.i..];
        let len = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        (len > 0).then(|| &rest[..len])
    }

    // ---- file, realm, module --------------------------------------------

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

    fn realm(&mut self, comments: Vec<String>) -> Result<Realm> {
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
            self.check_unclosed(&pos, &format!("realm `{name}`"))?;
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
            modules,
        })
    }

    fn module(&mut self, comments: Vec<String>) -> Result<Module> {
        self.skip_ws();
        let pos = self.pos();
        let builtin = self.eat_keyword("builtin");
        if !self.eat_keyword("module") {
            return Err(self.expected("`module`"));
        }
        let (name, _) = self.expect_ident("a module name")?;
        self.expect(b'{', "`{` after the module name")?;
        let metadata = self.metadata_lines()?;
        let mut decls = Vec::new();
        loop {
            let comments = self.comments()?;
            if self.eat(b'}') {
                self.dangling_comments(&comments, "a declaration")?;
                break;
            }
            self.check_unclosed(&pos, &format!("module `{name}`"))?;
            decls.push(self.decl(comments)?);
        }
        Ok(Module {
            pos: Some(pos),
            comments,
            builtin,
            name: name.to_string(),
            metadata,
            decls,
        })
    }

    // ---- declarations -------------------------------------------------------

    fn decl(&mut self, comments: Vec<String>) -> Result<Decl> {
        self.skip_ws();
        let pos = self.pos();
        let mut visibility = Visibility::Private;
        if self.eat_keyword("export") {
            visibility = if self.eat_keyword("realm") {
                Visibility::ExportRealm
            } else {
                Visibility::Export
            };
        }
        let keyword_pos = {
            self.skip_ws();
            self.pos()
        };
        let Some((keyword, _)) = self.ident() else {
            return Err(self.expected(&format!("a declaration ({DECL_KEYWORDS})")));
        };
        let unexportable = |p: &Self, kind: &str| {
            if visibility == Visibility::Private {
                Ok(())
            } else {
                Err(p
                    .error_at(
                        pos.clone(),
                        format!("{kind} declarations cannot be exported"),
                    )
                    .with_len(visibility.prefix().trim_end().len())
                    .with_help(format!(
                        "remove `{}`; {kind} values are private to their module",
                        visibility.prefix().trim_end()
                    )))
            }
        };
        let decl = match keyword {
            "data" => Decl::Data(self.data(pos, comments, visibility)?),
            "verb" => {
                let (name, _) = self.expect_ident("a verb name")?;
                self.expect(b'(', "`(` and the request type")?;
                let request = self.ty()?;
                self.expect(b')', "`)` after the request type")?;
                let response = self.ty_on_line("the response type")?;
                let metadata = self.metadata_lines()?;
                Decl::Verb(Verb {
                    pos: Some(pos),
                    comments,
                    visibility,
                    name: name.to_string(),
                    request,
                    response,
                    metadata,
                })
            }
            "enum" => Decl::Enum(self.enumeration(pos, comments, visibility)?),
            "typealias" => {
                let (name, _) = self.expect_ident("a type alias name")?;
                let ty = self.ty_on_line("the aliased type")?;
                let metadata = self.metadata_lines()?;
                Decl::TypeAlias(TypeAlias {
                    pos: Some(pos),
                    comments,
                    visibility,
                    name: name.to_string(),
                    ty,
                    metadata,
                })
            }
            "config" => {
                unexportable(self, "config")?;
                let (name, _) = self.expect_ident("a config name")?;
                let ty = self.ty_on_line("the config's type")?;
                Decl::Config(Config {
                    pos: Some(pos),
                    comments,
                    name: name.to_string(),
                    ty,
                })
            }
            "secret" => {
                unexportable(self, "secret")?;
                let (name, _) = self.expect_ident("a secret name")?;
                let ty = self.ty_on_line("the secret's type")?;
                Decl::Secret(Secret {
                    pos: Some(pos),
                    comments,
                    name: name.to_string(),
                    ty,
                })
            }
            "database" => {
                unexportable(self, "database")?;
                let engine_pos = {
                    self.skip_ws();
                    self.pos()
                };
                let (engine, _) = self.expect_ident("a database engine (postgres or mysql)")?;
                let Some(engine) = DatabaseEngine::from_keyword(engine) else {
                    return Err(self
                        .error_at(engine_pos, format!("unknown database engine `{engine}`"))
                        .with_len(engine.len())
                        .with_label("expected postgres or mysql"));
                };
                let (name, _) = self.expect_ident("a database name")?;
                let metadata = self.metadata_lines()?;
                Decl::Database(Database {
                    pos: Some(pos),
                    comments,
                    engine,
                    name: name.to_string(),
                    metadata,
                })
            }
            "topic" => {
                let (name, _) = self.expect_ident("a topic name")?;
                let event = self.ty_on_line("the topic's event type")?;
                let metadata = self.metadata_lines()?;
                Decl::Topic(Topic {
                    pos: Some(pos),
                    comments,
                    visibility,
                    name: name.to_string(),
                    event,
                    metadata,
                })
            }
            other => {
                return Err(Diagnostic::new(
                    format!("expected a declaration ({DECL_KEYWORDS}), found `{other}`"),
                    Some(keyword_pos),
                )
                .with_len(other.len())
                .with_label("unknown declaration kind"));
            }
        };
        Ok(decl)
    }

    fn data(&mut self, pos: Pos, comments: Vec<String>, visibility: Visibility) -> Result<Data> {
        let (name, _) = self.expect_ident("a data name")?;
        let mut type_params = Vec::new();
        if self.eat(b'<') {
            loop {
                let (param, param_pos) = self.expect_ident("a type parameter name")?;
                type_params.push(TypeParameter {
                    pos: Some(param_pos),
                    name: param.to_string(),
                });
                if self.eat(b'>') {
                    break;
                }
                self.expect(b',', "`,` or `>` in the type parameter list")?;
            }
        }
        self.expect(b'{', "`{` to open the data body")?;
        let metadata = self.metadata_lines()?;
        let mut fields = Vec::new();
        loop {
            let comments = self.comments()?;
            if self.eat(b'}') {
                self.dangling_comments(&comments, "a field")?;
                break;
            }
            self.check_unclosed(&pos, &format!("data `{name}`"))?;
            let Some((field_name, field_pos)) = self.ident() else {
                return Err(self.expected("a field name or `}`"));
            };
            let ty = self.ty_on_line(&format!("the type of field `{field_name}`"))?;
            let metadata = self.metadata_lines()?;
            fields.push(Field {
                pos: Some(field_pos),
                comments,
                name: field_name.to_string(),
                ty,
                metadata,
            });
        }
        Ok(Data {
            pos: Some(pos),
            comments,
            visibility,
            name: name.to_string(),
            type_params,
            metadata,
            fields,
        })
    }

    fn enumeration(
        &mut self,
        pos: Pos,
        comments: Vec<String>,
        visibility: Visibility,
    ) -> Result<Enum> {
        let (name, _) = self.expect_ident("an enum name")?;
        let ty = if self.eat(b':') {
            Some(self.ty()?)
        } else {
            None
        };
        self.expect(b'{', "`{` to open the enum body")?;
        let mut variants = Vec::new();
        loop {
            let comments = self.comments()?;
            if self.eat(b'}') {
                self.dangling_comments(&comments, "an enum variant")?;
                break;
            }
            self.check_unclosed(&pos, &format!("enum `{name}`"))?;
            let Some((variant, variant_pos)) = self.ident() else {
                return Err(self.expected("a variant name or `}`"));
            };
            let value = if self.eat(b'=') {
                self.skip_ws();
                match self.peek() {
                    Some(b'"') => VariantValue::String(self.string("a string value")?),
                    // FTL's grammar also takes `A = Type`: a type variant.
                    Some(c) if is_ident_start(c) || c == b'[' || c == b'{' => {
                        VariantValue::Type(self.ty()?)
                    }
                    _ => VariantValue::Int(self.integer("a string or integer value")?),
                }
            } else {
                self.skip_ws();
                if self.line != self.last_token_line || self.peek() == Some(b'}') {
                    return Err(Diagnostic::new(
                        format!("enum variant `{variant}` has no value or type"),
                        Some(variant_pos),
                    )
                    .with_len(variant.len())
                    .with_help(format!(
                        "write `{variant} = \"value\"` in a value enum or `{variant} Type` in a type enum"
                    )));
                }
                VariantValue::Type(self.ty()?)
            };
            variants.push(EnumVariant {
                pos: Some(variant_pos),
                comments,
                name: variant.to_string(),
                value,
            });
        }
        Ok(Enum {
            pos: Some(pos),
            comments,
            visibility,
            name: name.to_string(),
            ty,
            variants,
        })
    }

    // ---- types ----------------------------------------------------------------

    /// A type that must start on the line of the previous token, as a
    /// field's type after its name does.
    fn ty_on_line(&mut self, what: &str) -> Result<Type> {
        self.inline = true;
        self.skip_ws();
        self.inline = false;
        match self.peek() {
            None | Some(b'\n') => Err(self.expected(what)),
            _ if self.at_comment() => Err(self.expected(what)),
            _ => self.ty(),
        }
    }

    fn ty(&mut self) -> Result<Type> {
        self.skip_ws();
        if self.type_depth >= MAX_TYPE_DEPTH {
            let pos = self.pos();
            return Err(self
                .error_at(pos, format!("types nest more than {MAX_TYPE_DEPTH} deep here"))
                .with_help(format!(
                    "realm reads types nested at most {MAX_TYPE_DEPTH} deep; name an inner type with a `typealias` or a `data` declaration"
                )));
        }
        self.type_depth += 1;
        let ty = self.ty_inner();
        self.type_depth -= 1;
        ty
    }

    fn ty_inner(&mut self) -> Result<Type> {
        let ty = match self.peek() {
            Some(b'[') => {
                self.bump();
                let element = self.ty()?;
                self.expect(b']', "`]` to close the list type")?;
                Type::List(Box::new(element))
            }
            Some(b'{') => {
                self.bump();
                let key = self.ty()?;
                self.expect(b':', "`:` between the map's key and value types")?;
                let value = self.ty()?;
                self.expect(b'}', "`}` to close the map type")?;
                Type::Map(Box::new(key), Box::new(value))
            }
            Some(c) if is_ident_start(c) => {
                let (first, pos) = self.expect_ident("a type")?;
                match Type::scalar(first) {
                    Some(scalar) if self.peek() != Some(b'.') => scalar,
                    _ => Type::Ref(self.ref_after_ident(first, pos)?),
                }
            }
            _ => return Err(self.expected("a type")),
        };
        if self.peek() == Some(b'?') {
            let pos = self.pos();
            self.bump();
            self.token_end();
            if self.peek() == Some(b'?') {
                return Err(self
                    .error_at(pos, "a type can be optional only once")
                    .with_len(2)
                    .with_help("remove the second `?`"));
            }
            return Ok(Type::Optional(Box::new(ty)));
        }
        Ok(ty)
    }

    /// The rest of a reference after its first identifier:
    /// `[.Name][<Args>][@realm]`, with no blanks in between.
    fn ref_after_ident(&mut self, first: &str, pos: Pos) -> Result<Ref> {
        let (module, name) = if self.peek() == Some(b'.') {
            self.bump();
            let name = self.ident_here("a declaration name after `.`")?;
            (Some(first.to_string()), name.to_string())
        } else {
            (None, first.to_string())
        };
        let mut type_args = Vec::new();
        if self.peek() == Some(b'<') {
            self.bump();
            loop {
                type_args.push(self.ty()?);
                if self.eat(b'>') {
                    break;
                }
                self.expect(b',', "`,` or `>` in the type argument list")?;
            }
        }
        let realm = if self.peek() == Some(b'@') {
            self.bump();
            Some(self.ident_here("a realm name after `@`")?.to_string())
        } else {
            None
        };
        Ok(Ref {
            pos: Some(pos),
            realm,
            module,
            name,
            type_args,
        })
    }

    /// A reference in metadata: `module.name`, or a bare `name`, which
    /// resolves in the module it is written in (or the builtin module), as
    /// in FTL.
    fn metadata_ref(&mut self, what: &str) -> Result<Ref> {
        let (first, pos) = self.expect_ident(what)?;
        self.ref_after_ident(first, pos)
    }

    /// `a.b, c.d, ...`: FTL's printer continues long lists on the next
    /// lines, after a comma.
    fn refs(&mut self, what: &str) -> Result<Vec<Ref>> {
        let mut refs = vec![self.metadata_ref(what)?];
        while self.eat_list_comma() {
            refs.push(self.metadata_ref(what)?);
        }
        Ok(refs)
    }

    /// A `,` between the items of a metadata list, on this line or at the
    /// start of the next; after it the list may go on on the next line.
    fn eat_list_comma(&mut self) -> bool {
        let (i, line, line_start) = (self.i, self.line, self.line_start);
        let inline = std::mem::replace(&mut self.inline, false);
        let found = self.eat(b',');
        if found {
            self.skip_ws();
        } else {
            (self.i, self.line, self.line_start) = (i, line, line_start);
        }
        self.inline = inline;
        found
    }

    // ---- metadata -------------------------------------------------------------

    /// Zero or more `+...` metadata: on the lines under a declaration, or
    /// several on one line, as FTL writes them.
    fn metadata_lines(&mut self) -> Result<Vec<Metadata>> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() != Some(b'+') {
                return Ok(out);
            }
            self.inline = true;
            let result = self.metadata();
            self.inline = false;
            out.push(result?);
        }
    }

    fn metadata(&mut self) -> Result<Metadata> {
        let pos = self.pos();
        self.bump();
        let keyword_pos = self.pos();
        let keyword = self.ident_here("a metadata name after `+`")?;
        let kind = match keyword {
            "calls" => MetadataKind::Calls(self.refs("a verb reference")?),
            "ingress" => self.ingress()?,
            "cron" => {
                self.skip_ws();
                let rest = &self.src[self.i..];
                let end = rest.find('\n').unwrap_or(rest.len());
                let cron = rest[..end].trim();
                if cron.is_empty() {
                    return Err(self.expected(
                        "a cron expression, interval or weekday such as `0 * * * *`, `1h` or `Mon`",
                    ));
                }
                self.i += end;
                self.token_end();
                MetadataKind::Cron(cron.to_string())
            }
            "retry" => self.retry()?,
            "subscribe" => self.subscribe()?,
            "publish" => MetadataKind::Publish(self.refs("a topic reference")?),
            "typemap" => {
                let runtime = self.one_of("a runtime", TYPEMAP_RUNTIMES)?;
                let native_name = self.string("the native type name as a string")?;
                MetadataKind::TypeMap {
                    runtime,
                    native_name,
                }
            }
            "alias" => {
                let kind = self.one_of("an alias kind", &["json"])?;
                let alias = self.string("the alias as a string")?;
                MetadataKind::Alias { kind, alias }
            }
            "encoding" => {
                let kind = self.one_of("an encoding", &["json"])?;
                let lenient = self.eat_keyword("lenient");
                MetadataKind::Encoding { kind, lenient }
            }
            "database" => {
                self.expect_keyword("uses", "+database")?;
                MetadataKind::DatabaseUses(self.refs("a database reference")?)
            }
            // FTL writes `+config x`; realm wrote `+config uses x` until
            // FTL parity, and still reads it.
            "config" => {
                self.eat_uses();
                MetadataKind::ConfigUses(self.refs("a config reference")?)
            }
            "secrets" | "secret" => {
                self.eat_uses();
                MetadataKind::SecretsUses(self.refs("a secret reference")?)
            }
            "partitions" => {
                self.skip_ws();
                let pos = self.pos();
                let digits = self.src[self.i..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count();
                if digits == 0 {
                    return Err(self.expected("a number of partitions"));
                }
                let text = &self.src[self.i..self.i + digits];
                let n = text.parse::<i64>().map_err(|_| {
                    self.error_at(pos, format!("number `{text}` does not fit in 64 bits"))
                        .with_len(digits)
                })?;
                self.i += digits;
                self.token_end();
                MetadataKind::Partitions(n)
            }
            "egress" => {
                let mut targets = vec![self.string("an egress target as a string")?];
                // FTL's grammar separates targets with commas; its printer
                // with blanks.
                loop {
                    let comma = self.eat_list_comma();
                    self.skip_ws();
                    if !comma && self.peek() != Some(b'"') {
                        break;
                    }
                    targets.push(self.string("an egress target as a string")?);
                }
                MetadataKind::Egress(targets)
            }
            "generated" => MetadataKind::Generated,
            "transaction" => MetadataKind::Transaction,
            "fixture" => MetadataKind::Fixture {
                manual: self.eat_keyword("manual"),
            },
            "sql" => {
                let (what, what_pos) = self.expect_ident("`query` or `column`")?;
                match what {
                    "query" => {
                        let (command, _) = self
                            .expect_ident("a query command such as one, many, exec or copyfrom")?;
                        let query = self.string("the SQL query as a string")?;
                        MetadataKind::SqlQuery {
                            command: command.to_string(),
                            query,
                        }
                    }
                    "column" => {
                        let table = self.sql_name("a table name")?;
                        self.skip_ws();
                        if self.peek() != Some(b'.') {
                            return Err(self.expected("`.` between table and column"));
                        }
                        self.bump();
                        let name = self.sql_name("a column name")?;
                        MetadataKind::SqlColumn { table, name }
                    }
                    other => {
                        return Err(self
                            .error_at(what_pos, format!("unknown +sql metadata `{other}`"))
                            .with_len(other.len())
                            .with_label("expected `query` or `column`"));
                    }
                }
            }
            "migration" => {
                let (digest, digest_pos) = self.word("a migration digest such as sha256:...")?;
                if !is_migration_digest(digest) {
                    return Err(self
                        .error_at(digest_pos, format!("invalid migration digest `{digest}`"))
                        .with_len(digest.chars().count())
                        .with_label("expected `sha256:` and 64 hex digits")
                        .with_help("a migration is named by the SHA-256 of its files: `+migration sha256:<64 hex digits>`"));
                }
                MetadataKind::Migration(digest.to_string())
            }
            "artefact" => {
                let path = self.string("the artefact path as a string")?;
                let digest = self.string_or_word("the artefact digest as a string")?;
                let executable = self.eat_keyword("executable");
                MetadataKind::Artefact {
                    path,
                    digest,
                    executable,
                }
            }
            "git" => {
                let repository = self.string("the repository as a string")?;
                let commit = self.string_or_word("the commit as a string")?;
                let dirty = self.eat_keyword("dirty");
                MetadataKind::Git {
                    repository,
                    commit,
                    dirty,
                }
            }
            "image" => {
                let image = self.string("the image as a string")?;
                // FTL: `"image":"digest"`; realm wrote `"image" digest`.
                let digest = if self.peek() == Some(b':') {
                    self.bump();
                    self.string("the image digest as a string after `:`")?
                } else {
                    self.string_or_word("the image digest")?
                };
                MetadataKind::Image { image, digest }
            }
            "oneof" => MetadataKind::Oneof(
                self.expect_ident("the name of the oneof group")?
                    .0
                    .to_string(),
            ),
            "grpc" => MetadataKind::Grpc(
                self.string("the gRPC method as a string, e.g. \"pkg.Service/Method\"")?,
            ),
            "protobuf" => self.protobuf()?,
            other => {
                return Err(Diagnostic::new(
                    format!("unknown metadata `+{other}`"),
                    Some(keyword_pos),
                )
                .with_len(other.len())
                .with_label("unknown metadata")
                .with_help(format!("known metadata: {}", METADATA_NAMES.join(", "))));
            }
        };
        self.end_of_metadata(keyword)?;
        Ok(Metadata {
            pos: Some(pos),
            kind,
        })
    }

    /// `uses` after `+config` / `+secrets` (the form realm printed before
    /// FTL parity), unless it is the name of the first reference.
    fn eat_uses(&mut self) {
        if self.peek_ident() != Some("uses") {
            return;
        }
        let after = &self.src[self.i + "uses".len()..];
        let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
        if blanks > 0 && after[blanks..].bytes().next().is_some_and(is_ident_start) {
            self.eat_keyword("uses");
        }
    }

    /// `+protobuf "package.Message"` (data) or `+protobuf <type>
    /// ["proto_name"]` (fields).
    fn protobuf(&mut self) -> Result<MetadataKind> {
        self.skip_ws();
        if self.peek() == Some(b'"') {
            let name = self.string("the message's full name as a string")?;
            return Ok(MetadataKind::ProtobufMessage(name));
        }
        let pos = self.pos();
        let rest = &self.src[self.i..];
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '+' || c == '}')
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.expected(
                "a protobuf type such as int64 or map<string,int32>, or a message name as a string",
            ));
        }
        let text = &rest[..len];
        let ty: crate::schema::protobuf::ProtoType = text.parse().map_err(|e: String| {
            self.error_at(pos.clone(), e)
                .with_len(text.len())
                .with_label("not a protobuf type")
                .with_help(format!(
                    "a protobuf type is one of: {} (or map<K,V>)",
                    crate::schema::protobuf::kind_names()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
        })?;
        self.i += len;
        self.token_end();
        self.skip_ws();
        let name = if self.peek() == Some(b'"') {
            Some(self.string("the field's .proto name as a string")?)
        } else {
            None
        };
        Ok(MetadataKind::ProtobufField { ty, name })
    }

    /// One of `allowed` identifiers.
    fn one_of(&mut self, what: &str, allowed: &[&str]) -> Result<String> {
        let expected = format!("{what} ({})", allowed.join(", "));
        self.skip_ws();
        let pos = self.pos();
        let (word, _) = self.expect_ident(&expected)?;
        if !allowed.contains(&word) {
            return Err(self
                .error_at(pos, format!("`{word}` is not {what}"))
                .with_len(word.len())
                .with_label(format!("expected {}", allowed.join(", "))));
        }
        Ok(word.to_string())
    }

    /// A string, or (as realm wrote digests and commits before FTL parity)
    /// a bare word.
    fn string_or_word(&mut self, what: &str) -> Result<String> {
        self.skip_ws();
        if self.peek() == Some(b'"') {
            return self.string(what);
        }
        let rest = &self.src[self.i..];
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '+')
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.expected(what));
        }
        let word = &rest[..len];
        self.i += len;
        self.token_end();
        Ok(word.to_string())
    }

    /// A table or column name of `+sql column`: an identifier or a string.
    fn sql_name(&mut self, what: &str) -> Result<String> {
        self.skip_ws();
        if self.peek() == Some(b'"') {
            return self.string(what);
        }
        Ok(self.ident_here(what)?.to_string())
    }

    /// `+ingress [http] METHOD /path/{param}`, the path as FTL's grammar
    /// has it: literal segments and `{name}` parameters.
    fn ingress(&mut self) -> Result<MetadataKind> {
        self.skip_ws();
        let kind_pos = self.pos();
        match self.peek_ident() {
            Some("http") => {
                self.eat_keyword("http");
            }
            Some(word) if word.bytes().any(|b| b.is_ascii_lowercase()) => {
                return Err(self
                    .error_at(kind_pos, format!("unknown ingress type `{word}`"))
                    .with_len(word.len())
                    .with_label("expected http"));
            }
            _ => {}
        }
        let (method, method_pos) = self.word("an HTTP method")?;
        if !HTTP_METHODS.contains(&method) {
            return Err(self
                .error_at(method_pos, format!("unknown HTTP method `{method}`"))
                .with_len(method.chars().count())
                .with_label(format!("expected one of {}", HTTP_METHODS.join(", "))));
        }
        let (path, path_pos) = self.word("an ingress path such as /orders/{id}")?;
        check_ingress_path(path, &path_pos)?;
        Ok(MetadataKind::Ingress {
            kind: "http".to_string(),
            method: method.to_string(),
            path: path.to_string(),
        })
    }

    /// `+subscribe topic from=beginning|latest [deadletter]`.
    fn subscribe(&mut self) -> Result<MetadataKind> {
        let topic = self.metadata_ref("a topic reference")?;
        let mut from = None;
        let mut dead_letter = false;
        loop {
            self.skip_ws();
            let option_pos = self.pos();
            match self.peek_ident() {
                Some("from") => {
                    self.eat_keyword("from");
                    self.expect(b'=', "`=` after `from`")?;
                    self.skip_ws();
                    let value_pos = self.pos();
                    let (value, _) = self.expect_ident("`beginning` or `latest` after `from=`")?;
                    from = Some(match value {
                        "beginning" => SubscribeFrom::Beginning,
                        "latest" => SubscribeFrom::Latest,
                        other => {
                            return Err(self
                                .error_at(value_pos, format!("unknown offset `{other}`"))
                                .with_len(other.len())
                                .with_label("expected beginning or latest"));
                        }
                    });
                }
                Some("deadletter") => {
                    self.eat_keyword("deadletter");
                    dead_letter = true;
                }
                Some(other) => {
                    return Err(self
                        .error_at(option_pos, format!("unknown +subscribe option `{other}`"))
                        .with_len(other.len())
                        .with_label("expected from=beginning, from=latest or deadletter"));
                }
                None => break,
            }
        }
        Ok(MetadataKind::Subscribe {
            topic,
            from,
            dead_letter,
        })
    }

    fn expect_keyword(&mut self, keyword: &str, after: &str) -> Result<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{keyword}` after `{after}`")))
        }
    }

    /// After metadata arguments: the end of the line, another `+...`, the
    /// `}` closing a one-line block, or (FTL's grammar ignores line breaks)
    /// the next field or declaration on the same line.
    fn end_of_metadata(&mut self, keyword: &str) -> Result<()> {
        self.skip_ws();
        match self.peek() {
            None | Some(b'\n' | b'+' | b'}') => Ok(()),
            Some(c) if is_ident_start(c) => Ok(()),
            _ if self.at_comment() => Err(Diagnostic::new(
                "a comment must stand on its own line",
                Some(self.pos()),
            )
            .with_len(2)
            .with_label("comment after code")
            .with_help("move the comment to its own line above the declaration it describes")),
            _ => {
                let (found, len) = self.describe_next();
                Err(Diagnostic::new(
                    format!("`+{keyword}` ends here, but {found} follows"),
                    Some(self.pos()),
                )
                .with_len(len)
                .with_label("expected the end of the line"))
            }
        }
    }

    /// `+retry [count] [min-backoff [max-backoff]] [catch verb]`: every part
    /// is optional in FTL's grammar; what must be there is the validator's
    /// business.
    fn retry(&mut self) -> Result<MetadataKind> {
        let mut count = None;
        if let Some(word) = self.peek_word()
            && word.bytes().all(|b| b.is_ascii_digit())
        {
            let (word, pos) = self.word("a retry count")?;
            count = Some(word.parse::<i64>().map_err(|_| {
                self.error_at(pos, format!("retry count `{word}` is too large"))
                    .with_len(word.len())
            })?);
        }
        let mut backoffs = Vec::new();
        while backoffs.len() < 2
            && self
                .peek_word()
                .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        {
            let (word, pos) = self.word("a backoff such as `5s`")?;
            check_duration(word, &pos)?;
            backoffs.push(word.to_string());
        }
        let mut backoffs = backoffs.into_iter();
        let min_backoff = backoffs.next().unwrap_or_default();
        let max_backoff = backoffs.next();
        let catch = if self.eat_keyword("catch") {
            Some(self.metadata_ref("a verb reference after `catch`")?)
        } else {
            None
        };
        Ok(MetadataKind::Retry {
            count,
            min_backoff,
            max_backoff,
            catch,
        })
    }
}

/// Checks an ingress path against FTL's grammar: `/`, then segments
/// separated by `/`, each a literal (no blanks, `{` or `}`) or a
/// `{parameter}`.
fn check_ingress_path(path: &str, pos: &Pos) -> Result<()> {
    let Some(problem) = ingress_path_problem(path) else {
        return Ok(());
    };
    let mut p = pos.clone();
    p.column += path[..problem.offset].chars().count() as u32;
    let mut d = Diagnostic::new(problem.message, Some(p)).with_len(problem.len);
    if let Some(label) = problem.label {
        d = d.with_label(label);
    }
    Err(d.with_help(problem.help))
}

/// What is wrong with an ingress path, and where (a byte offset).
pub(crate) struct PathProblem {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub label: Option<&'static str>,
    pub help: &'static str,
}

/// `None` when `path` is an ingress path of FTL's grammar.
pub(crate) fn ingress_path_problem(path: &str) -> Option<PathProblem> {
    let Some(rest) = path.strip_prefix('/') else {
        return Some(PathProblem {
            offset: 0,
            len: path.chars().count().max(1),
            message: format!("ingress path `{path}` does not start with `/`"),
            label: None,
            help: "write the path from the root: `/orders/{id}`",
        });
    };
    if rest.is_empty() {
        return None;
    }
    let mut offset = 1;
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Some(PathProblem {
                offset,
                len: 1,
                message: format!("empty segment in ingress path `{path}`"),
                label: None,
                help: "segments are separated by one `/`, and the path does not end with `/`",
            });
        }
        let param = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        let valid = match param {
            Some(name) => !name.is_empty() && ident_prefix(name) == name,
            None => !segment.contains(['{', '}']) && !segment.contains(char::is_whitespace),
        };
        if !valid {
            return Some(PathProblem {
                offset,
                len: segment.chars().count(),
                message: format!("invalid segment `{segment}` in ingress path `{path}`"),
                label: Some("a segment is a literal or a whole `{parameter}`"),
                help: "write parameters as whole segments: `/orders/{id}`",
            });
        }
        offset += segment.len() + 1;
    }
    None
}

/// What FTL's grammar takes as the method of `+ingress`.
pub(crate) const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
/// What FTL's grammar takes as the runtime of `+typemap`.
pub(crate) const TYPEMAP_RUNTIMES: &[&str] = &["go", "kotlin", "java"];

/// Whether `digest` is `sha256:` and 64 alphanumerics (FTL's migrations).
pub(crate) fn is_migration_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Metadata names for the "known metadata" hint.
pub const METADATA_NAMES: &[&str] = &[
    "+calls",
    "+ingress",
    "+cron",
    "+retry",
    "+subscribe",
    "+publish",
    "+typemap",
    "+alias",
    "+encoding",
    "+database uses",
    "+config",
    "+secrets",
    "+partitions",
    "+egress",
    "+generated",
    "+transaction",
    "+fixture",
    "+sql query",
    "+sql column",
    "+migration",
    "+artefact",
    "+git",
    "+image",
    "+grpc",
    "+oneof",
    "+protobuf",
];

fn ident_prefix(s: &str) -> &str {
    let bytes = s.as_bytes();
    if bytes.first().is_none_or(|&c| !is_ident_start(c)) {
        return "";
    }
    let len = bytes.iter().take_while(|c| is_ident_continue(**c)).count();
    &s[..len]
}

/// The longest duration FTL can hold (Go's `time.Duration`, 2^63 - 1 ns,
/// about 292 years), in milliseconds.
const MAX_DURATION_MS: u64 = i64::MAX as u64 / 1_000_000;

/// A duration: one or more `<number><unit>` with units ms, s, m, h, d,
/// no longer than FTL can hold.
pub fn is_duration(s: &str) -> bool {
    matches!(duration_ms(s), Some(Ok(_)))
}

/// A duration's length in milliseconds: `None` when `s` is not written as
/// a duration, `Some(Err(()))` when it is longer than FTL can hold.
fn duration_ms(s: &str) -> Option<Result<u64, ()>> {
    crate::duration::millis(s).map(|ms| ms.filter(|ms| *ms <= MAX_DURATION_MS).ok_or(()))
}

fn check_duration(word: &str, pos: &Pos) -> Result<()> {
    match duration_ms(word) {
        Some(Ok(_)) => Ok(()),
        Some(Err(())) => Err(Diagnostic::new(
            format!("duration `{word}` is too long"),
            Some(pos.clone()),
        )
        .with_len(word.chars().count())
        .with_label("longer than about 292 years")
        .with_help("FTL holds durations of up to 2562047h (Go's time.Duration); write a shorter one")),
        None => {
        Err(Diagnostic::new(format!("invalid duration `{word}`"), Some(pos.clone()))
            .with_len(word.chars().count())
            .with_label("expected a duration")
            .with_help("write durations as a number and a unit (ms, s, m, h, d), e.g. 500ms, 5s, 1m30s"))
        }
    }
}
