//! Errors found in schema text or in a schema, and how they are shown.
//!
//! A [`Diagnostic`] says what is wrong, where (file, line, column when the
//! schema came from text; a declaration path otherwise) and, when there is
//! one, what to do. It is an error, or a warning: something FTL accepts that
//! `realm` would rather not see (see `validate`). [`render`] prints
//! diagnostics the way rustc does: the location, the offending line (a
//! window of it around the column when the line is long) and a caret under
//! the offending text. It is fed the source texts; it reads no files.

use std::collections::HashMap;
use std::fmt::{self, Write};

use super::model::Pos;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, one line.
    pub message: String,
    /// Where, when the schema came from text.
    pub pos: Option<Pos>,
    /// The rest, boxed: a diagnostic travels in `Result`s on hot paths.
    detail: Box<Detail>,
}

/// Whether a diagnostic stops the command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The schema is refused.
    #[default]
    Error,
    /// The schema is accepted; the diagnostic is printed (and refused under
    /// `--deny-warnings`).
    Warning,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Detail {
    severity: Severity,
    /// Length of the offending text in characters (for the caret).
    len: usize,
    /// Short text under the caret.
    label: Option<String>,
    /// Where, when there is no position: e.g. `realm bank, module balance`.
    context: Option<String>,
    /// What to do about it.
    help: Option<String>,
    /// The rule broken: a code of `crate::rules` (e.g. `ftl::syntax`).
    code: Option<&'static str>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, pos: Option<Pos>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            pos,
            detail: Box::new(Detail {
                len: 1,
                ..Detail::default()
            }),
        }
    }

    pub fn with_len(mut self, len: usize) -> Diagnostic {
        self.detail.len = len.max(1);
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.detail.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.detail.help = Some(help.into());
        self
    }

    /// The rule this diagnostic reports (a code of `crate::rules`).
    pub fn with_code(mut self, code: &'static str) -> Diagnostic {
        self.detail.code = Some(code);
        self
    }

    /// The rule, unless one was given already: for where diagnostics of
    /// one kind are collected.
    pub fn or_code(mut self, code: &'static str) -> Diagnostic {
        self.detail.code.get_or_insert(code);
        self
    }

    /// The rule this diagnostic reports.
    pub fn code(&self) -> Option<&'static str> {
        self.detail.code
    }

    pub fn with_context(mut self, context: impl Into<String>) -> Diagnostic {
        self.detail.context = Some(context.into());
        self
    }

    /// The same diagnostic as a warning.
    pub fn into_warning(mut self) -> Diagnostic {
        self.detail.severity = Severity::Warning;
        self
    }

    /// The same diagnostic as an error (what `--deny-warnings` does).
    pub fn into_error(mut self) -> Diagnostic {
        self.detail.severity = Severity::Error;
        self
    }

    pub fn severity(&self) -> Severity {
        self.detail.severity
    }

    pub fn is_warning(&self) -> bool {
        self.detail.severity == Severity::Warning
    }

    /// Length of the offending text in characters.
    pub fn span_len(&self) -> usize {
        self.detail.len
    }

    pub fn label(&self) -> Option<&str> {
        self.detail.label.as_deref()
    }

    /// Where, when there is no position.
    pub fn context(&self) -> Option<&str> {
        self.detail.context.as_deref()
    }

    /// What to do about it.
    pub fn help(&self) -> Option<&str> {
        self.detail.help.as_deref()
    }

    /// Sort key: by file, line and column; diagnostics without a position
    /// last, in the order they were found.
    pub fn sort(diagnostics: &mut [Diagnostic]) {
        diagnostics.sort_by(|a, b| match (&a.pos, &b.pos) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
}

/// One line per diagnostic: `file:line:col: message` (no source snippet).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warning = if self.is_warning() { "warning: " } else { "" };
        match (&self.pos, self.context()) {
            (Some(pos), _) => write!(f, "{pos}: {warning}{}", self.message),
            (None, Some(context)) => write!(f, "{context}: {warning}{}", self.message),
            (None, None) => write!(f, "{warning}{}", self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}

/// Several diagnostics, e.g. every validation error of a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char('\n')?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Source texts by file name, to show the offending lines.
pub type Sources = HashMap<String, String>;

/// The position of byte `offset` in `text`: 1-based line, and column in
/// characters.
pub fn pos_at(file: &str, text: &str, offset: usize) -> Pos {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let column = before[line_start..].chars().count() + 1;
    Pos {
        file: file.into(),
        line: line as u32,
        column: column as u32,
    }
}

/// Diagnostics with the texts they point into: an error that renders
/// itself with the offending lines.
#[derive(Clone, Debug)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

impl Report {
    pub fn new(diagnostics: Vec<Diagnostic>, sources: Sources) -> Report {
        Report {
            diagnostics,
            sources,
        }
    }

    /// A report of one diagnostic in one text.
    pub fn single(diagnostic: Diagnostic, file: &str, text: &str) -> Report {
        let mut sources = Sources::new();
        sources.insert(file.to_string(), text.to_string());
        Report::new(vec![diagnostic], sources)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(render(&self.diagnostics, &self.sources).trim_end())
    }
}

impl std::error::Error for Report {}

/// Renders diagnostics rustc-style:
///
/// ```text
/// error: expected a type, found `}`
///  --> modules/shop.ftl:3:12
///   |
/// 3 |     amount }
///   |            ^ expected a type
///   = help: ...
/// ```
pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, d, sources);
    }
    if diagnostics.len() > 1 {
        let warnings = diagnostics.iter().filter(|d| d.is_warning()).count();
        let errors = diagnostics.len() - warnings;
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let summary = match (errors, warnings) {
            (e, 0) => count(e, "error"),
            (0, w) => count(w, "warning"),
            (e, w) => format!("{}, {}", count(e, "error"), count(w, "warning")),
        };
        let _ = writeln!(out, "\n{summary}");
    }
    out
}

/// How many characters of a source line are shown at most; longer lines
/// are shown as a window around the column, cut with `...`.
pub const MAX_SHOWN_LINE: usize = 100;

/// The part of `line` to show for a caret at `column` (0-based, in
/// characters): the shown text, the caret's column in it and how many
/// characters of the line the caret may underline from there.
fn window(line: &str, column: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    let column = column.min(chars.len());
    if chars.len() <= MAX_SHOWN_LINE {
        return (line.to_string(), column, chars.len() - column);
    }
    const ELLIPSIS: &str = "...";
    let room = MAX_SHOWN_LINE - 2 * ELLIPSIS.len();
    // A third of the window before the caret, the rest after it.
    let mut start = column.saturating_sub(room / 3);
    let end = (start + room).min(chars.len());
    start = start.min(end.saturating_sub(room));
    let mut shown = String::new();
    let mut caret = column - start;
    if start > 0 {
        shown.push_str(ELLIPSIS);
        caret += ELLIPSIS.len();
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push_str(ELLIPSIS);
    }
    (shown, caret, end - column)
}

fn render_one(out: &mut String, d: &Diagnostic, sources: &Sources) {
    let _ = writeln!(out, "{}: {}", d.severity().label(), d.message);
    let line_text = d.pos.as_ref().and_then(|pos| {
        let text = sources.get(&*pos.file)?;
        text.lines().nth((pos.line as usize).checked_sub(1)?)
    });
    match (&d.pos, line_text) {
        (Some(pos), Some(line)) => {
            let number = pos.line.to_string();
            let gutter = " ".repeat(number.len());
            let _ = writeln!(out, "{gutter}--> {pos}");
            if let Some(context) = d.context() {
                let _ = writeln!(out, "{gutter} = in {context}");
            }
            let _ = writeln!(out, "{gutter} |");
            let line = line.trim_end();
            let (shown, caret, remaining) = window(line, (pos.column as usize).saturating_sub(1));
            let _ = writeln!(out, "{number} | {shown}");
            // Keep tabs so the caret lines up under the offending text.
            let lead: String = shown
                .chars()
                .take(caret)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(d.span_len().min(remaining.max(1)));
            let _ = write!(out, "{gutter} | {lead}{carets}");
            if let Some(label) = d.label() {
                let _ = write!(out, " {label}");
            }
            out.push('\n');
            if let Some(help) = d.help() {
                let _ = writeln!(out, "{gutter} = help: {help}");
            }
        }
        (Some(pos), None) => {
            let _ = writeln!(out, " --> {pos}");
            if let Some(context) = d.context() {
                let _ = writeln!(out, "  = in {context}");
            }
            if let Some(help) = d.help() {
                let _ = writeln!(out, "  = help: {help}");
            }
        }
        (None, _) => {
            if let Some(context) = d.context() {
                let _ = writeln!(out, " --> {context}");
            }
            if let Some(help) = d.help() {
                let _ = writeln!(out, "  = help: {help}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(line: &str, column: u32, len: usize) -> String {
        let d = Diagnostic::new(
            "bad",
            Some(Pos {
                file: "f".into(),
                line: 1,
                column,
            }),
        )
        .with_len(len);
        let mut sources = Sources::new();
        sources.insert("f".into(), line.to_string());
        render(&[d], &sources)
    }

    /// The shown line and the caret line of a rendering.
    fn shown(out: &str) -> (String, String) {
        let lines: Vec<&str> = out.lines().collect();
        (lines[3][4..].to_string(), lines[4][4..].to_string())
    }

    #[test]
    fn a_short_line_is_shown_whole() {
        let (line, caret) = shown(&rendered("\tdata X {", 8, 1));
        assert_eq!(line, "\tdata X {");
        assert_eq!(caret, "\t      ^");
    }

    #[test]
    fn a_long_line_is_a_window_around_the_column() {
        let line: String = (0..40_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        for column in [1, 2, 500, 20_000, 39_990, 40_000, 40_001] {
            let (text, caret) = shown(&rendered(&line, column, 5));
            assert!(text.chars().count() <= MAX_SHOWN_LINE, "{column}: {text}");
            let at = caret.find('^').expect("a caret");
            // The caret stands under the character at `column`, or just
            // past the end of the line for a column past it.
            match line.chars().nth(column as usize - 1) {
                Some(c) => assert_eq!(text.chars().nth(at), Some(c), "{column}"),
                None => assert_eq!(at, text.chars().count(), "{column}"),
            }
            assert!(caret.len() - at <= 5, "{column}: {caret}");
        }
    }

    #[test]
    fn multibyte_characters_keep_the_caret_aligned() {
        let line = format!("{}X{}", "é".repeat(300), "ü".repeat(300));
        let (text, caret) = shown(&rendered(&line, 301, 1));
        let at = caret.chars().position(|c| c == '^').expect("a caret");
        assert_eq!(text.chars().nth(at), Some('X'));
    }
}
