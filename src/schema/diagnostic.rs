//! Errors found in schema text or in a schema, and how they are shown.
//!
//! A [`Diagnostic`] says what is wrong, where (file, line, column when the
//! schema came from text; a declaration path otherwise) and, when there is
//! one, what to do. [`render`] prints diagnostics the way rustc does: the
//! location, the offending line and a caret under the offending text. It is
//! fed the source texts; it reads no files.

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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Detail {
    /// Length of the offending text in characters (for the caret).
    len: usize,
    /// Short text under the caret.
    label: Option<String>,
    /// Where, when there is no position: e.g. `realm bank, module balance`.
    context: Option<String>,
    /// What to do about it.
    help: Option<String>,
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

    pub fn with_context(mut self, context: impl Into<String>) -> Diagnostic {
        self.detail.context = Some(context.into());
        self
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
        match (&self.pos, self.context()) {
            (Some(pos), _) => write!(f, "{pos}: {}", self.message),
            (None, Some(context)) => write!(f, "{context}: {}", self.message),
            (None, None) => f.write_str(&self.message),
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
        let _ = writeln!(out, "\n{} errors", diagnostics.len());
    }
    out
}

fn render_one(out: &mut String, d: &Diagnostic, sources: &Sources) {
    let _ = writeln!(out, "error: {}", d.message);
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
            let _ = writeln!(out, "{number} | {}", line.trim_end());
            // Keep tabs so the caret lines up under the offending text.
            let lead: String = line
                .chars()
                .take((pos.column as usize).saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let remaining = line.chars().count().saturating_sub(lead.chars().count());
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
