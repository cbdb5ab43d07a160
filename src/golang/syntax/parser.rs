//! The tree-sitter-go parser, and the [`Reader`] of one parse tree: the
//! file's text, positions (1-based line, column in characters) and spans
//! of nodes, and tree-sitter-go's field ids. The reading itself is in the
//! sibling files, one job each.

use std::num::NonZeroU16;
use std::sync::Arc;

use tree_sitter::{Node, Parser};

use crate::schema::Pos;

use super::{GoFile, Span};

/// A tree-sitter parser for Go. Reuse one for many files.
pub struct GoParser {
    parser: Parser,
    fields: Fields,
}

/// tree-sitter-go's field ids, looked up once (by name it is a search).
#[derive(Clone, Copy)]
pub(super) struct Fields {
    pub(super) alias: NonZeroU16,
    pub(super) body: NonZeroU16,
    pub(super) field: NonZeroU16,
    pub(super) function: NonZeroU16,
    pub(super) left: NonZeroU16,
    pub(super) name: NonZeroU16,
    pub(super) operand: NonZeroU16,
    pub(super) operator: NonZeroU16,
    pub(super) package: NonZeroU16,
    pub(super) element: NonZeroU16,
    pub(super) key: NonZeroU16,
    pub(super) parameters: NonZeroU16,
    pub(super) path: NonZeroU16,
    pub(super) receiver: NonZeroU16,
    pub(super) result: NonZeroU16,
    pub(super) right: NonZeroU16,
    pub(super) tag: NonZeroU16,
    pub(super) ty: NonZeroU16,
    pub(super) type_arguments: NonZeroU16,
    pub(super) type_parameters: NonZeroU16,
    pub(super) value: NonZeroU16,
}

impl Fields {
    fn of(language: &tree_sitter::Language) -> Fields {
        let id = |name: &str| {
            language
                .field_id_for_name(name)
                .unwrap_or_else(|| unreachable!("tree-sitter-go has the field `{name}`"))
        };
        Fields {
            alias: id("alias"),
            body: id("body"),
            field: id("field"),
            function: id("function"),
            left: id("left"),
            name: id("name"),
            operand: id("operand"),
            operator: id("operator"),
            package: id("package"),
            element: id("element"),
            key: id("key"),
            parameters: id("parameters"),
            path: id("path"),
            receiver: id("receiver"),
            result: id("result"),
            right: id("right"),
            tag: id("tag"),
            ty: id("type"),
            type_arguments: id("type_arguments"),
            type_parameters: id("type_parameters"),
            value: id("value"),
        }
    }
}

impl GoParser {
    pub fn new() -> GoParser {
        let language: tree_sitter::Language = tree_sitter_go::LANGUAGE.into();
        let mut parser = Parser::new();
        parser.set_language(&language).unwrap_or_else(|e| {
            unreachable!("tree-sitter-go matches the tree-sitter version: {e}")
        });
        GoParser {
            parser,
            fields: Fields::of(&language),
        }
    }

    /// Parses `text` (the file `file`, relative to the project root).
    pub fn parse(&mut self, file: &Arc<str>, text: &str) -> GoFile {
        let Some(tree) = self.parser.parse(text, None) else {
            // Only a cancelled or timed-out parse returns nothing; neither
            // is set, so this is a file tree-sitter gave up on.
            return GoFile {
                syntax_error: Some(Span {
                    pos: Pos {
                        file: file.clone(),
                        line: 1,
                        column: 1,
                    },
                    len: 1,
                }),
                ..GoFile::default()
            };
        };
        let reader = Reader {
            file,
            text,
            f: self.fields,
        };
        reader.file(tree.root_node())
    }
}

impl Default for GoParser {
    fn default() -> Self {
        GoParser::new()
    }
}

/// Reads one parse tree of the text of `file` into owned syntax.
pub(super) struct Reader<'a> {
    file: &'a Arc<str>,
    text: &'a str,
    pub(super) f: Fields,
}

impl<'a> Reader<'a> {
    pub(super) fn text(&self, node: Node) -> &'a str {
        &self.text[node.byte_range()]
    }

    pub(super) fn pos_at(&self, byte: usize, column_bytes: usize, row: usize) -> Pos {
        let line_start = byte.saturating_sub(column_bytes);
        let column = self
            .text
            .get(line_start..byte)
            .map_or(column_bytes, |s| s.chars().count());
        Pos {
            file: self.file.clone(),
            line: (row + 1) as u32,
            column: (column + 1) as u32,
        }
    }

    pub(super) fn pos(&self, node: Node) -> Pos {
        let p = node.start_position();
        self.pos_at(node.start_byte(), p.column, p.row)
    }

    pub(super) fn span(&self, node: Node) -> Span {
        let range = node.byte_range();
        let text = &self.text[range];
        let first_line = text.split('\n').next().unwrap_or("");
        Span {
            pos: self.pos(node),
            len: first_line.trim_end().chars().count().max(1),
        }
    }
}

/// The first error or missing node, found with a cursor.
pub(super) fn first_error(root: Node) -> Option<Node> {
    let mut cursor = root.walk();
    loop {
        let n = cursor.node();
        if n.is_error() || n.is_missing() {
            return Some(n);
        }
        if n.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

    #[test]
    fn syntax_errors_have_a_position() {
        let file = parse("package a\n\nfunc A( {\n");
        let err = file.syntax_error.expect("an error");
        assert_eq!(err.pos.line, 3);
    }
}
