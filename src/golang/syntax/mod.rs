//! Go source → the few syntax facts the extractor needs, read with
//! tree-sitter-go: the package, imports, type/func/method/const
//! declarations with their doc comments and `//ftl:` directives, struct
//! fields and tags, and which functions call which identifiers.
//!
//! The result is an owned, simplified tree ([`GoFile`]) with positions
//! (1-based line, column in characters) so that everything after this file
//! works on plain values. Every recursion here is bounded: types nested
//! deeper than [`MAX_TYPE_DEPTH`](crate::schema::MAX_TYPE_DEPTH) become [`GoType::TooDeep`], expressions
//! deeper than [`MAX_EXPR_DEPTH`] become [`Expr::Other`]; function bodies
//! are walked with a cursor, not recursively. Nothing here touches the
//! filesystem: it is given the text.
//!
//! This file holds the owned syntax; the reading is split by job:
//! `parser` (tree-sitter, positions), `declarations` (the top-level
//! walk), `comments` (doc comments and directive lines), `expressions`
//! (types and constant expressions), `bodies` (calls in function
//! bodies), `literals`.

mod bodies;
mod comments;
mod declarations;
mod expressions;
mod literals;
mod parser;

use crate::schema::Pos;

pub use literals::{parse_int, unquote};
pub use parser::GoParser;

/// How deeply constant expressions are read (`iota*2 + 1` is 3 deep).
pub const MAX_EXPR_DEPTH: usize = 64;

/// A place in a Go file: where it starts and how many characters of its
/// first line it covers (for the caret under it).
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub pos: Pos,
    pub len: usize,
}

/// One Go file, reduced to what schema extraction reads.
#[derive(Clone, Debug, Default)]
pub struct GoFile {
    pub package: String,
    /// The package doc comment (before `package`).
    pub doc: Vec<String>,
    pub imports: Vec<Import>,
    pub types: Vec<TypeDecl>,
    pub funcs: Vec<FuncDecl>,
    pub methods: Vec<Method>,
    pub consts: Vec<ConstGroup>,
    /// Calls of functions by name in function bodies (`Echo(ctx, req)`,
    /// `sub.Ping(ctx)`), names that a local declaration shadows left out.
    pub calls: Vec<Call>,
    /// The first syntax error, if the file does not parse.
    pub syntax_error: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct Import {
    /// The local name when the import names one (`lib "example.com/x"`).
    pub name: Option<String>,
    pub path: String,
    pub span: Span,
}

/// A call of a function named in a function body: `Echo(...)` or
/// `pkg.Echo(...)`, where neither `Echo` nor `pkg` is a local name
/// (parameter, variable, ...): a package-level function of the file's
/// package, or a function of an imported package.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The package qualifier (`pkg` of `pkg.Echo`), if any.
    pub package: Option<String>,
    pub name: String,
    pub span: Span,
}

/// A doc comment: its text as Go's `CommentGroup.Text` gives it, and the
/// `//ftl:` directive lines in it.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    pub text: Vec<String>,
    pub directives: Vec<DirectiveLine>,
}

/// `//ftl:verb export`: the text after `//` and where it starts.
#[derive(Clone, Debug)]
pub struct DirectiveLine {
    pub text: String,
    pub pos: Pos,
}

/// `type Name[T any] Type` or `type Name = Type`.
#[derive(Clone, Debug)]
pub struct TypeDecl {
    pub name: String,
    pub name_span: Span,
    pub type_params: Vec<String>,
    /// `type A = B` rather than `type A B`.
    pub alias: bool,
    pub ty: GoType,
    pub doc: Doc,
}

/// A function declaration (not a method).
#[derive(Clone, Debug)]
pub struct FuncDecl {
    pub name: String,
    pub name_span: Span,
    /// The `func` keyword: where errors about the whole function point.
    pub span: Span,
    pub generic: bool,
    pub params: Vec<Param>,
    pub results: Vec<Param>,
    pub doc: Doc,
}

/// A parameter or result; `a, b int` is two.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: Option<String>,
    pub ty: GoType,
    pub span: Span,
    pub variadic: bool,
}

/// `func (r Recv) name(...)`: which type has which method.
#[derive(Clone, Debug)]
pub struct Method {
    pub receiver: String,
    pub pointer: bool,
    pub name: String,
    pub doc: Doc,
    pub span: Span,
}

/// One `const` declaration: a single spec or a parenthesized group.
#[derive(Clone, Debug)]
pub struct ConstGroup {
    pub specs: Vec<ConstSpec>,
}

#[derive(Clone, Debug)]
pub struct ConstSpec {
    pub names: Vec<(String, Span)>,
    pub ty: Option<GoType>,
    pub values: Vec<Expr>,
    /// The value of `iota` in this spec.
    pub iota: i64,
    /// FTL's `isIotaEnum`: one value, `iota` or a binary expression with
    /// `iota` on one side (through binary expressions only). Only when the
    /// first spec of a group is one does FTL give later specs without a
    /// type its type.
    pub iota_enum: bool,
    pub doc: Doc,
    pub span: Span,
}

/// A constant expression, as far as enum values need one.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Int(i128),
    String(String),
    Iota,
    Name(String),
    Unary(char, Box<Expr>),
    Binary(String, Box<Expr>, Box<Expr>),
    /// Anything else (floats, calls, too deep): not an enum value.
    Other,
}

/// A Go type expression.
#[derive(Clone, Debug)]
pub enum GoType {
    /// `T`, `pkg.T`, `T[A, B]`, `pkg.T[A]`.
    Name {
        package: Option<String>,
        name: String,
        args: Vec<GoType>,
        span: Span,
    },
    Pointer(Box<GoType>, Span),
    Slice(Box<GoType>, Span),
    Array(Box<GoType>, Span),
    Map(Box<GoType>, Box<GoType>, Span),
    Struct(Vec<Field>, Span),
    Interface {
        /// Method names, and whether any is exported.
        methods: Vec<String>,
        /// Embedded interfaces or type constraints.
        embeds: usize,
        span: Span,
    },
    Func(Span),
    /// A channel or anything else FTL has no schema type for; the string
    /// is the Go syntax kind for the message.
    Other(&'static str, Span),
    /// Nested deeper than [`MAX_TYPE_DEPTH`](crate::schema::MAX_TYPE_DEPTH).
    TooDeep(Span),
}

impl GoType {
    pub fn span(&self) -> &Span {
        match self {
            GoType::Name { span, .. }
            | GoType::Pointer(_, span)
            | GoType::Slice(_, span)
            | GoType::Array(_, span)
            | GoType::Map(_, _, span)
            | GoType::Struct(_, span)
            | GoType::Interface { span, .. }
            | GoType::Func(span)
            | GoType::Other(_, span)
            | GoType::TooDeep(span) => span,
        }
    }
}

/// A struct field; `A, B string` has two names, an embedded field none.
#[derive(Clone, Debug)]
pub struct Field {
    pub names: Vec<(String, Span)>,
    pub ty: GoType,
    /// The tag's text without quotes (`json:"id"`), as written.
    pub tag: Option<String>,
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// `text` parsed as the file `m/a.go`.
    pub(super) fn parse(text: &str) -> GoFile {
        GoParser::new().parse(&Arc::from("m/a.go"), text)
    }

    #[test]
    fn reads_declarations_docs_and_directives() {
        let file = parse(
            "// Package doc.\npackage shop\n\nimport (\n\t\"context\"\n\tlib \"example.com/lib\"\n)\n\n\
             // Order is an order.\n//\n//ftl:data export\ntype Order struct {\n\tID int `json:\"id\"`\n\tA, B string\n}\n\n\
             //ftl:verb\nfunc Pay(ctx context.Context, o Order) (Order, error) { return Echo(ctx, o) }\n\n\
             func (Order) tag() {}\n\nconst (\n\t// Red is red.\n\tRed Color = iota\n\tBlue\n)\n",
        );
        assert_eq!(file.package, "shop");
        assert_eq!(file.doc, vec!["Package doc."]);
        assert_eq!(file.imports.len(), 2);
        assert_eq!(file.imports[1].name.as_deref(), Some("lib"));
        let order = &file.types[0];
        assert_eq!(order.name, "Order");
        assert_eq!(order.doc.text, vec!["Order is an order."]);
        assert_eq!(order.doc.directives[0].text, "ftl:data export");
        assert_eq!(order.doc.directives[0].pos.line, 11);
        assert_eq!(order.doc.directives[0].pos.column, 3);
        let GoType::Struct(fields, _) = &order.ty else {
            panic!("not a struct")
        };
        assert_eq!(fields[0].tag.as_deref(), Some("json:\"id\""));
        assert_eq!(fields[1].names.len(), 2);
        let pay = &file.funcs[0];
        assert_eq!(pay.params.len(), 2);
        assert_eq!(pay.results.len(), 2);
        assert_eq!(file.calls[0].name, "Echo");
        assert_eq!(file.calls[0].package, None);
        assert_eq!(file.methods[0].receiver, "Order");
        let consts = &file.consts[0].specs;
        assert_eq!(consts[0].doc.text, vec!["Red is red."]);
        assert!(consts[0].iota_enum);
        assert_eq!(consts[0].values, vec![Expr::Iota]);
        assert_eq!(consts[1].iota, 1);
        assert!(file.syntax_error.is_none());
    }
}
