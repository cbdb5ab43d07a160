//! Doc comments as Go groups them (`CommentGroup`): runs of comments on
//! consecutive lines just before a declaration, their text as
//! `CommentGroup.Text` gives it, and the `//ftl:` directive lines in
//! them.

use tree_sitter::Node;

use super::parser::Reader;
use super::{DirectiveLine, Doc};

impl Reader<'_> {
    pub(super) fn doc(&self, comments: Vec<Node>) -> Doc {
        let mut doc = Doc::default();
        let mut lines: Vec<String> = Vec::new();
        for c in comments {
            let text = self.text(c);
            if let Some(body) = text.strip_prefix("//") {
                if body.starts_with("ftl:") {
                    let p = c.start_position();
                    doc.directives.push(DirectiveLine {
                        text: body.trim_end().to_string(),
                        pos: self.pos_at(c.start_byte() + 2, p.column + 2, p.row),
                    });
                    continue;
                }
                if is_go_directive(body) {
                    continue;
                }
                lines.push(
                    body.strip_prefix(' ')
                        .unwrap_or(body)
                        .trim_end()
                        .to_string(),
                );
            } else if let Some(body) = text.strip_prefix("/*") {
                let body = body.strip_suffix("*/").unwrap_or(body);
                lines.extend(body.lines().map(|l| l.trim_end().to_string()));
            }
        }
        // Go's CommentGroup.Text: no leading or trailing blank lines, runs
        // of blank lines become one; FTL then trims the whole text.
        let mut text: Vec<String> = Vec::new();
        for line in lines {
            if line.is_empty() && text.last().is_none_or(String::is_empty) {
                continue;
            }
            text.push(line);
        }
        while text.last().is_some_and(String::is_empty) {
            text.pop();
        }
        if let Some(first) = text.first_mut() {
            *first = first.trim_start().to_string();
        }
        doc.text = text;
        doc
    }
}

/// Comments seen since the last declaration, grouped as Go groups them:
/// a run of comments on consecutive lines. The run is a declaration's doc
/// when it ends on the line just before the declaration.
#[derive(Default)]
pub(super) struct CommentRun<'t> {
    run: Vec<Node<'t>>,
    /// The last row of the previous non-comment node.
    last_code_row: Option<usize>,
}

impl<'t> CommentRun<'t> {
    pub(super) fn push(&mut self, c: Node<'t>) {
        let row = c.start_position().row;
        let trailing = self.last_code_row == Some(row);
        let adjacent = self
            .run
            .last()
            .is_some_and(|prev| prev.end_position().row + 1 >= row);
        if trailing {
            self.run.clear();
            return;
        }
        if !adjacent {
            self.run.clear();
        }
        self.run.push(c);
    }

    pub(super) fn take_before(&mut self, node: Node) -> Vec<Node<'t>> {
        let row = node.start_position().row;
        let run = std::mem::take(&mut self.run);
        match run.last() {
            Some(last) if last.end_position().row + 1 == row => run,
            _ => Vec::new(),
        }
    }

    pub(super) fn after(&mut self, node: Node) {
        self.run.clear();
        self.last_code_row = Some(node.end_position().row);
    }
}

pub(super) fn merge(outer: &Doc, inner: Doc) -> Doc {
    if outer.text.is_empty() && outer.directives.is_empty() {
        return inner;
    }
    let mut doc = outer.clone();
    if doc.text.is_empty() {
        doc.text = inner.text;
    }
    doc.directives.extend(inner.directives);
    doc
}

/// Go's comment directives (`//go:build`, `//nolint:x`, `//line`), which
/// `CommentGroup.Text` leaves out of doc text.
fn is_go_directive(body: &str) -> bool {
    if body.starts_with("line ") || body.starts_with("extern ") || body.starts_with("export ") {
        return true;
    }
    let word = body
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        .count();
    word > 0
        && body.as_bytes().get(word) == Some(&b':')
        && body
            .as_bytes()
            .get(word + 1)
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

    #[test]
    fn a_comment_after_a_blank_line_is_not_a_doc() {
        let file = parse("package a\n\n// loose\n\n//ftl:data\ntype A struct{}\n");
        assert!(file.types[0].doc.text.is_empty());
        assert_eq!(file.types[0].doc.directives.len(), 1);
    }
}
