//! The parser's lexical layer: positions and errors, characters,
//! whitespace and comments, identifiers, strings, integers and words.

use super::{Parser, Result};
use crate::schema::diagnostic::Diagnostic;
use crate::schema::model::*;

impl<'a> Parser<'a> {
    pub(super) fn pos(&self) -> Pos {
        // In ASCII text a column is a byte offset.
        if self.ascii {
            return Pos {
                file: self.file.clone(),
                line: self.line,
                column: (self.i - self.line_start) as u32 + 1,
            };
        }
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
    pub(super) fn describe_next(&self) -> (String, usize) {
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
    pub(super) fn expected(&self, what: &str) -> Diagnostic {
        let (found, len) = self.describe_next();
        Diagnostic::new(format!("expected {what}, found {found}"), Some(self.pos()))
            .with_len(len)
            .with_label(format!("expected {what}"))
    }

    pub(super) fn error_at(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message, Some(pos))
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    pub(super) fn bump(&mut self) {
        if self.bytes[self.i] == b'\n' {
            self.line += 1;
            self.line_start = self.i + 1;
        }
        self.i += 1;
    }

    /// Skips blanks; outside metadata also line ends. Stops at comments.
    pub(super) fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' if !self.inline => self.bump(),
                _ => break,
            }
        }
    }

    pub(super) fn at_comment(&self) -> bool {
        self.src[self.i..].starts_with("//")
    }

    /// Marks that a token ended at the cursor.
    pub(super) fn token_end(&mut self) {
        self.last_token_line = self.line;
    }

    /// Reads the doc comments before a node.
    pub(super) fn comments(&mut self) -> Result<ThinVec<String>> {
        let mut comments = Vec::new();
        loop {
            self.skip_ws();
            if !self.at_comment() {
                // Moved into an allocation of exactly their number (see
                // `exact`; a `shrink_to_fit` may keep the block it had).
                return Ok(comments.into());
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
    pub(super) fn dangling_comments(&self, comments: &[String], what: &str) -> Result<()> {
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
    /// Fails when the block `what` opened at `start` cannot go on: the
    /// text ends, or the next line opens a block that cannot stand inside
    /// it (`data B {` inside a data block, `module b {` inside a module):
    /// its `}` is missing, and the error is where the block opened, not at
    /// the next block's `{`.
    pub(super) fn check_unclosed(
        &self,
        start: &Pos,
        what: std::fmt::Arguments<'_>,
        openers: &[&str],
    ) -> Result<()> {
        let next = match self.peek() {
            None => None,
            Some(_) => match self.opens_block(openers) {
                Some(line) => Some(line),
                None => return Ok(()),
            },
        };
        let help = match next {
            None => "add the missing `}`".to_string(),
            Some(line) => {
                format!("add the missing `}}` before line {line}, where the next block starts")
            }
        };
        Err(
            Diagnostic::new(format!("{what} is not closed"), Some(start.clone()))
                .with_label("this block has no closing `}`")
                .with_help(help),
        )
    }

    /// The line number when the text at the cursor opens a block with one
    /// of `openers` (`[export ]<opener> <name> {`, `(` after the name, or
    /// type parameters and `{`), on one line.
    fn opens_block(&self, openers: &[&str]) -> Option<u32> {
        let rest = &self.src[self.i..];
        // Asked at every field and variant: most lines are told apart by
        // their first identifier, without finding the line's end and its
        // words (a tenth of the parser's time on a large realm). Exact when
        // the text starts with a character that is not a blank: the first
        // word starts there, and it is a keyword only if that identifier is.
        let word = ident_prefix(rest);
        if rest
            .as_bytes()
            .first()
            .is_some_and(|&b| b.is_ascii() && !char::from(b).is_whitespace())
        {
            if word != "export" && !is_opener(openers, word) {
                return None;
            }
            // `export <word>` (every declaration line of a large realm): the
            // same test of the second word, when it is cut as
            // `split_whitespace` below would cut it and no third word
            // decides (`export realm data`).
            if word == "export"
                && let Some(second) = second_word(&rest[word.len()..])
                && second != "realm"
                && !is_opener(openers, second)
            {
                return None;
            }
        }
        let line = rest.split('\n').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let mut first = words.next()?;
        if first == "export" {
            first = words.next()?;
            if first == "realm" && is_opener(openers, "data") {
                first = words.next()?;
            }
        }
        if !is_opener(openers, first) {
            return None;
        }
        let after = line[line.find(first)? + first.len()..].trim_start();
        let name = ident_prefix(after);
        // `data Page<Item>` is a field named `data`; `data Page<T> {` opens
        // a block (a field line never ends with `{`).
        let opens = !name.is_empty()
            && match after[name.len()..].trim_start().bytes().next() {
                Some(b'{' | b'(') => true,
                Some(b'<') => line.trim_end().ends_with('{'),
                _ => false,
            };
        opens.then_some(self.line)
    }

    pub(super) fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.bump();
            self.token_end();
            true
        } else {
            false
        }
    }

    pub(super) fn expect(&mut self, c: u8, what: &str) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    pub(super) fn peek_ident(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = &self.src[self.i..];
        let word = ident_prefix(rest);
        (!word.is_empty()).then_some(word)
    }

    pub(super) fn ident(&mut self) -> Option<(&'a str, Pos)> {
        let word = self.peek_ident()?;
        let pos = self.pos();
        self.i += word.len();
        self.token_end();
        Some((word, pos))
    }

    pub(super) fn expect_ident(&mut self, what: &str) -> Result<(&'a str, Pos)> {
        self.ident().ok_or_else(|| self.expected(what))
    }

    pub(super) fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_ident() == Some(keyword) {
            self.i += keyword.len();
            self.token_end();
            true
        } else {
            false
        }
    }

    /// An identifier directly at the cursor, no whitespace before it.
    pub(super) fn ident_here(&mut self, what: &str) -> Result<&'a str> {
        let word = ident_prefix(&self.src[self.i..]);
        if word.is_empty() {
            return Err(self.expected(what));
        }
        self.i += word.len();
        self.token_end();
        Ok(word)
    }

    pub(super) fn string(&mut self, what: &str) -> Result<String> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.expected(what));
        }
        let start = self.pos();
        self.i += 1;
        // Most strings hold no escape: taken whole, in an allocation of
        // their length.
        let rest = &self.src[self.i..];
        if let Some(end) = rest.find(['"', '\\', '\n'])
            && rest.as_bytes()[end] == b'"'
        {
            let out = rest[..end].to_string();
            self.i += end + 1;
            self.token_end();
            return Ok(out);
        }
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
    pub(super) fn escape(&mut self, escape_pos: Pos) -> Result<char> {
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

    pub(super) fn integer(&mut self, what: &str) -> Result<i64> {
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
    pub(super) fn word(&mut self, what: &str) -> Result<(&'a str, Pos)> {
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

    pub(super) fn peek_word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = &self.src[self.i..];
        let len = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        (len > 0).then(|| &rest[..len])
    }
}

/// Whether `word` is one of `openers` (first bytes compared first: most
/// words are no keyword).
fn is_opener(openers: &[&str], word: &str) -> bool {
    let first = word.as_bytes().first();
    openers
        .iter()
        .any(|o| o.as_bytes().first() == first && *o == word)
}

/// The word after `after`'s leading ASCII blanks, when `split_whitespace`
/// would cut it there: ASCII blanks before it, ASCII whitespace or the end
/// after it, nothing but printable ASCII in it. `None` when unsure.
fn second_word(after: &str) -> Option<&str> {
    let blanks = after
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    if blanks == 0 {
        return None;
    }
    let tail = &after[blanks..];
    let len = tail.bytes().take_while(u8::is_ascii_graphic).count();
    match tail.as_bytes().get(len) {
        Some(b) if !b.is_ascii_whitespace() => None,
        _ => (len > 0).then(|| &tail[..len]),
    }
}

/// The identifier at the start of `s` (empty when there is none).
pub(super) fn ident_prefix(s: &str) -> &str {
    let bytes = s.as_bytes();
    if bytes.first().is_none_or(|&c| !is_ident_start(c)) {
        return "";
    }
    let len = bytes.iter().take_while(|c| is_ident_continue(**c)).count();
    &s[..len]
}

#[cfg(test)]
mod tests {
    use super::super::Parser;
    use super::ident_prefix;

    /// What `opens_block` decides, by splitting the line into words only
    /// (its first-word and second-word shortcuts left out).
    fn by_words(rest: &str, openers: &[&str]) -> bool {
        let line = rest.split('\n').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let Some(mut first) = words.next() else {
            return false;
        };
        if first == "export" {
            let Some(next) = words.next() else {
                return false;
            };
            first = next;
            if first == "realm" && openers.contains(&"data") {
                let Some(next) = words.next() else {
                    return false;
                };
                first = next;
            }
        }
        if !openers.contains(&first) {
            return false;
        }
        let Some(at) = line.find(first) else {
            return false;
        };
        let after = line[at + first.len()..].trim_start();
        let name = ident_prefix(after);
        !name.is_empty()
            && match after[name.len()..].trim_start().bytes().next() {
                Some(b'{' | b'(') => true,
                Some(b'<') => line.trim_end().ends_with('{'),
                _ => false,
            }
    }

    /// Lines made of keywords, names, blanks of every kind and the
    /// characters that open blocks agree with splitting the line, for both
    /// lists of openers.
    #[test]
    fn opens_block_agrees_with_splitting_the_line_into_words() {
        const PARTS: &[&str] = &[
            "export realm",
            " data x {",
            "export verb",
            " v(",
            "export",
            "realm",
            "data",
            "verb",
            "enum",
            "module",
            "typealias",
            "x",
            "Page",
            " ",
            " ",
            "\t",
            "\r",
            "\u{b}",
            "\u{c}",
            "\u{3000}",
            "\u{85}",
            "\u{a0}",
            "\u{2028}",
            "{",
            "(",
            "<",
            ">",
            "\n",
            "é",
            ".",
            "data{",
            "export.",
            "T",
        ];
        // The parser's lists, and one without `realm` (where `export realm`
        // is followed by the word that decides).
        let openers: [&[&str]; 4] = [
            &["data", "enum", "verb", "typealias", "module", "realm"],
            &["module", "realm"],
            &["realm"],
            &["data", "verb"],
        ];
        // A fixed sequence (xorshift), so a failure is the same every run.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..200_000 {
            let mut line = String::new();
            for _ in 0..1 + next(10) {
                line.push_str(PARTS[next(PARTS.len())]);
            }
            for openers in openers {
                let p = Parser::new("t.ftl", &line);
                assert_eq!(
                    p.opens_block(openers).is_some(),
                    by_words(&line, openers),
                    "{line:?} with {openers:?}"
                );
            }
        }
    }
}
