//! Go source → the few syntax facts the extractor needs, read with
//! tree-sitter-go: the package, imports, type/func/method/const
//! declarations with their doc comments and `//ftl:` directives, struct
//! fields and tags, and which functions call which identifiers.
//!
//! The result is an owned, simplified tree ([`GoFile`]) with positions
//! (1-based line, column in characters) so that everything after this file
//! works on plain values. Every recursion here is bounded: types nested
//! deeper than [`MAX_TYPE_DEPTH`] become [`GoType::TooDeep`], expressions
//! deeper than [`MAX_EXPR_DEPTH`] become [`Expr::Other`]; function bodies
//! are walked with a cursor, not recursively. This file never touches the
//! filesystem: it is given the text.

use std::num::NonZeroU16;
use std::sync::Arc;

use tree_sitter::{Node, Parser};

use crate::schema::{MAX_TYPE_DEPTH, Pos};

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
    /// Nested deeper than [`MAX_TYPE_DEPTH`].
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

/// A tree-sitter parser for Go. Reuse one for many files.
pub struct GoParser {
    parser: Parser,
    fields: Fields,
}

/// tree-sitter-go's field ids, looked up once (by name it is a search).
#[derive(Clone, Copy)]
struct Fields {
    alias: NonZeroU16,
    body: NonZeroU16,
    field: NonZeroU16,
    function: NonZeroU16,
    left: NonZeroU16,
    name: NonZeroU16,
    operand: NonZeroU16,
    operator: NonZeroU16,
    package: NonZeroU16,
    element: NonZeroU16,
    key: NonZeroU16,
    parameters: NonZeroU16,
    path: NonZeroU16,
    receiver: NonZeroU16,
    result: NonZeroU16,
    right: NonZeroU16,
    tag: NonZeroU16,
    ty: NonZeroU16,
    type_arguments: NonZeroU16,
    type_parameters: NonZeroU16,
    value: NonZeroU16,
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

struct Reader<'a> {
    file: &'a Arc<str>,
    text: &'a str,
    f: Fields,
}

impl<'a> Reader<'a> {
    fn text(&self, node: Node) -> &'a str {
        &self.text[node.byte_range()]
    }

    fn pos_at(&self, byte: usize, column_bytes: usize, row: usize) -> Pos {
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

    fn pos(&self, node: Node) -> Pos {
        let p = node.start_position();
        self.pos_at(node.start_byte(), p.column, p.row)
    }

    fn span(&self, node: Node) -> Span {
        let range = node.byte_range();
        let text = &self.text[range];
        let first_line = text.split('\n').next().unwrap_or("");
        Span {
            pos: self.pos(node),
            len: first_line.trim_end().chars().count().max(1),
        }
    }

    fn file(&self, root: Node) -> GoFile {
        let mut out = GoFile::default();
        if root.has_error() {
            out.syntax_error = first_error(root).map(|n| self.span(n));
        }
        let mut comments = CommentRun::default();
        let mut cursor = root.walk();
        for child in root.children(&mut cursor) {
            match child.kind() {
                "comment" => {
                    comments.push(child);
                    continue;
                }
                "package_clause" => {
                    out.doc = self.doc(comments.take_before(child)).text;
                    let mut c = child.walk();
                    if let Some(name) = child
                        .named_children(&mut c)
                        .find(|n| n.kind() == "package_identifier")
                    {
                        out.package = self.text(name).to_string();
                    }
                }
                "import_declaration" => self.imports(child, &mut out.imports),
                "function_declaration" => {
                    let doc = self.doc(comments.take_before(child));
                    if let Some(f) = self.func(child, doc) {
                        out.funcs.push(f);
                    }
                    self.calls(child, &mut out.calls);
                }
                "method_declaration" => {
                    let doc = self.doc(comments.take_before(child));
                    if let Some(m) = self.method(child, doc) {
                        out.methods.push(m);
                    }
                    self.calls(child, &mut out.calls);
                }
                "type_declaration" => {
                    let doc = comments.take_before(child);
                    self.type_decl(child, doc, &mut out.types);
                }
                "const_declaration" => {
                    let doc = comments.take_before(child);
                    out.consts.push(self.const_group(child, doc));
                }
                _ => {}
            }
            comments.after(child);
        }
        out
    }

    fn imports(&self, node: Node, out: &mut Vec<Import>) {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "import_spec" => out.extend(self.import_spec(child)),
                "import_spec_list" => {
                    let mut c = child.walk();
                    for spec in child.named_children(&mut c) {
                        if spec.kind() == "import_spec" {
                            out.extend(self.import_spec(spec));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn import_spec(&self, node: Node) -> Option<Import> {
        let path = node.child_by_field_id(self.f.path.get())?;
        Some(Import {
            name: node
                .child_by_field_id(self.f.name.get())
                .map(|n| self.text(n).to_string()),
            path: unquote(self.text(path))?,
            span: self.span(path),
        })
    }

    fn doc(&self, comments: Vec<Node>) -> Doc {
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

    fn func(&self, node: Node, doc: Doc) -> Option<FuncDecl> {
        let name = node.child_by_field_id(self.f.name.get())?;
        Some(FuncDecl {
            name: self.text(name).to_string(),
            name_span: self.span(name),
            span: Span {
                pos: self.pos(node),
                len: 4,
            },
            generic: node
                .child_by_field_id(self.f.type_parameters.get())
                .is_some(),
            params: node
                .child_by_field_id(self.f.parameters.get())
                .map(|p| self.params(p))
                .unwrap_or_default(),
            results: match node.child_by_field_id(self.f.result.get()) {
                None => Vec::new(),
                Some(r) if r.kind() == "parameter_list" => self.params(r),
                Some(r) => vec![Param {
                    name: None,
                    ty: self.ty(r, 0),
                    span: self.span(r),
                    variadic: false,
                }],
            },
            doc,
        })
    }

    fn params(&self, list: Node) -> Vec<Param> {
        let mut out = Vec::new();
        let mut cursor = list.walk();
        for decl in list.named_children(&mut cursor) {
            let variadic = match decl.kind() {
                "parameter_declaration" => false,
                "variadic_parameter_declaration" => true,
                _ => continue,
            };
            let Some(ty_node) = decl.child_by_field_id(self.f.ty.get()) else {
                continue;
            };
            let ty = self.ty(ty_node, 0);
            let mut c = decl.walk();
            let names: Vec<Node> = decl.children_by_field_id(self.f.name, &mut c).collect();
            if names.is_empty() {
                out.push(Param {
                    name: None,
                    ty,
                    span: self.span(decl),
                    variadic,
                });
            } else {
                for name in names {
                    out.push(Param {
                        name: Some(self.text(name).to_string()),
                        ty: ty.clone(),
                        span: self.span(decl),
                        variadic,
                    });
                }
            }
        }
        out
    }

    fn method(&self, node: Node, doc: Doc) -> Option<Method> {
        let name = node.child_by_field_id(self.f.name.get())?;
        let receiver = node.child_by_field_id(self.f.receiver.get())?;
        let mut cursor = receiver.walk();
        let decl = receiver
            .named_children(&mut cursor)
            .find(|n| n.kind() == "parameter_declaration")?;
        let mut ty = decl.child_by_field_id(self.f.ty.get())?;
        let mut pointer = false;
        if ty.kind() == "pointer_type" {
            pointer = true;
            ty = ty.named_child(0)?;
        }
        if ty.kind() == "generic_type" {
            ty = ty.child_by_field_id(self.f.ty.get())?;
        }
        (ty.kind() == "type_identifier").then(|| Method {
            receiver: self.text(ty).to_string(),
            pointer,
            name: self.text(name).to_string(),
            doc,
            span: self.span(name),
        })
    }

    fn type_decl(&self, node: Node, outer: Vec<Node>, out: &mut Vec<TypeDecl>) {
        let outer_doc = self.doc(outer);
        let mut comments = CommentRun::default();
        let mut cursor = node.walk();
        let specs: Vec<Node> = node.children(&mut cursor).collect();
        let mut first = true;
        for spec in specs {
            match spec.kind() {
                "comment" => {
                    comments.push(spec);
                    continue;
                }
                "type_spec" | "type_alias" => {
                    let inner = self.doc(comments.take_before(spec));
                    // Go: a lone spec's doc is the declaration's; in a
                    // group each spec has its own, and FTL reads the
                    // group's doc for its first spec.
                    let doc = if first {
                        merge(&outer_doc, inner)
                    } else {
                        inner
                    };
                    first = false;
                    if let Some(t) = self.type_spec(spec, doc) {
                        out.push(t);
                    }
                }
                _ => {}
            }
            comments.after(spec);
        }
    }

    fn type_spec(&self, spec: Node, doc: Doc) -> Option<TypeDecl> {
        let name = spec.child_by_field_id(self.f.name.get())?;
        let ty = spec.child_by_field_id(self.f.ty.get())?;
        let mut type_params = Vec::new();
        if let Some(list) = spec.child_by_field_id(self.f.type_parameters.get()) {
            let mut cursor = list.walk();
            for decl in list.named_children(&mut cursor) {
                let mut c = decl.walk();
                for n in decl.children_by_field_id(self.f.name, &mut c) {
                    type_params.push(self.text(n).to_string());
                }
            }
        }
        Some(TypeDecl {
            name: self.text(name).to_string(),
            name_span: self.span(name),
            type_params,
            alias: spec.kind() == "type_alias",
            ty: self.ty(ty, 0),
            doc,
        })
    }

    fn const_group(&self, node: Node, outer: Vec<Node>) -> ConstGroup {
        let outer_doc = self.doc(outer);
        let mut comments = CommentRun::default();
        let mut specs = Vec::new();
        let mut cursor = node.walk();
        let grouped = node.children(&mut cursor).any(|n| n.kind() == "(");
        let mut cursor = node.walk();
        for spec in node.children(&mut cursor) {
            match spec.kind() {
                "comment" => {
                    comments.push(spec);
                    continue;
                }
                "const_spec" => {
                    let inner = self.doc(comments.take_before(spec));
                    // FTL reads the declaration's doc for its first spec
                    // (a group's doc too), unless the spec has its own.
                    let doc = if !grouped {
                        merge(&outer_doc, inner)
                    } else if specs.is_empty()
                        && inner.text.is_empty()
                        && inner.directives.is_empty()
                    {
                        outer_doc.clone()
                    } else {
                        inner
                    };
                    let mut c = spec.walk();
                    let names = spec
                        .children_by_field_id(self.f.name, &mut c)
                        .filter(|n| n.kind() == "identifier")
                        .map(|n| (self.text(n).to_string(), self.span(n)))
                        .collect();
                    let value_nodes: Vec<Node> = spec
                        .child_by_field_id(self.f.value.get())
                        .map(|list| {
                            let mut c = list.walk();
                            list.named_children(&mut c)
                                .filter(|n| n.kind() != "comment")
                                .collect()
                        })
                        .unwrap_or_default();
                    let values = value_nodes.iter().map(|n| self.expr(*n, 0)).collect();
                    let iota_enum =
                        matches!(value_nodes.as_slice(), [one] if self.is_iota_enum(*one, 0));
                    specs.push(ConstSpec {
                        names,
                        ty: spec
                            .child_by_field_id(self.f.ty.get())
                            .map(|t| self.ty(t, 0)),
                        values,
                        iota: specs.len() as i64,
                        iota_enum,
                        doc,
                        span: self.span(spec),
                    });
                }
                _ => {}
            }
            comments.after(spec);
        }
        ConstGroup { specs }
    }

    /// FTL's `isIotaEnum` of an expression (bounded like [`Self::expr`]).
    fn is_iota_enum(&self, node: Node, depth: usize) -> bool {
        if depth > MAX_EXPR_DEPTH {
            return false;
        }
        match node.kind() {
            "iota" => true,
            "identifier" => self.text(node) == "iota",
            "binary_expression" => [self.f.left, self.f.right].iter().any(|side| {
                node.child_by_field_id(side.get())
                    .is_some_and(|n| self.is_iota_enum(n, depth + 1))
            }),
            _ => false,
        }
    }

    fn expr(&self, node: Node, depth: usize) -> Expr {
        if depth > MAX_EXPR_DEPTH {
            return Expr::Other;
        }
        match node.kind() {
            "int_literal" => parse_int(self.text(node)).map_or(Expr::Other, Expr::Int),
            "interpreted_string_literal" | "raw_string_literal" => {
                unquote(self.text(node)).map_or(Expr::Other, Expr::String)
            }
            "iota" => Expr::Iota,
            "identifier" => {
                let name = self.text(node);
                if name == "iota" {
                    Expr::Iota
                } else {
                    Expr::Name(name.to_string())
                }
            }
            "parenthesized_expression" => node
                .named_child(0)
                .map_or(Expr::Other, |n| self.expr(n, depth + 1)),
            "unary_expression" => {
                let (Some(op), Some(operand)) = (
                    node.child_by_field_id(self.f.operator.get()),
                    node.child_by_field_id(self.f.operand.get()),
                ) else {
                    return Expr::Other;
                };
                match self.text(op) {
                    "-" => Expr::Unary('-', Box::new(self.expr(operand, depth + 1))),
                    "+" => self.expr(operand, depth + 1),
                    "^" => Expr::Unary('^', Box::new(self.expr(operand, depth + 1))),
                    _ => Expr::Other,
                }
            }
            "binary_expression" => {
                let (Some(l), Some(op), Some(r)) = (
                    node.child_by_field_id(self.f.left.get()),
                    node.child_by_field_id(self.f.operator.get()),
                    node.child_by_field_id(self.f.right.get()),
                ) else {
                    return Expr::Other;
                };
                Expr::Binary(
                    self.text(op).to_string(),
                    Box::new(self.expr(l, depth + 1)),
                    Box::new(self.expr(r, depth + 1)),
                )
            }
            _ => Expr::Other,
        }
    }

    fn ty(&self, node: Node, depth: usize) -> GoType {
        let span = self.span(node);
        if depth > MAX_TYPE_DEPTH {
            return GoType::TooDeep(span);
        }
        let inner = |field: NonZeroU16| -> GoType {
            match node.child_by_field_id(field.get()) {
                Some(n) => self.ty(n, depth + 1),
                None => GoType::Other("type", span.clone()),
            }
        };
        match node.kind() {
            "type_identifier" | "identifier" => GoType::Name {
                package: None,
                name: self.text(node).to_string(),
                args: Vec::new(),
                span,
            },
            "qualified_type" => GoType::Name {
                package: node
                    .child_by_field_id(self.f.package.get())
                    .map(|p| self.text(p).to_string()),
                name: node
                    .child_by_field_id(self.f.name.get())
                    .map_or_else(String::new, |n| self.text(n).to_string()),
                args: Vec::new(),
                span,
            },
            "generic_type" => {
                let mut base = inner(self.f.ty);
                if let (GoType::Name { args, .. }, Some(list)) = (
                    &mut base,
                    node.child_by_field_id(self.f.type_arguments.get()),
                ) {
                    let mut cursor = list.walk();
                    for arg in list.named_children(&mut cursor) {
                        let arg = if arg.kind() == "type_elem" {
                            match arg.named_child(0) {
                                Some(t) => t,
                                None => continue,
                            }
                        } else {
                            arg
                        };
                        args.push(self.ty(arg, depth + 1));
                    }
                }
                if let GoType::Name { span: s, .. } = &mut base {
                    *s = span;
                }
                base
            }
            "pointer_type" => match node.named_child(0) {
                Some(n) => GoType::Pointer(Box::new(self.ty(n, depth + 1)), span),
                None => GoType::Other("pointer", span),
            },
            "slice_type" => GoType::Slice(Box::new(inner(self.f.element)), span),
            "array_type" => GoType::Array(Box::new(inner(self.f.element)), span),
            "map_type" => GoType::Map(
                Box::new(inner(self.f.key)),
                Box::new(inner(self.f.value)),
                span,
            ),
            "parenthesized_type" => match node.named_child(0) {
                Some(n) => self.ty(n, depth + 1),
                None => GoType::Other("type", span),
            },
            "struct_type" => GoType::Struct(self.fields(node, depth), span),
            "interface_type" => {
                let mut methods = Vec::new();
                let mut embeds = 0;
                let mut cursor = node.walk();
                for elem in node.named_children(&mut cursor) {
                    match elem.kind() {
                        "method_elem" => {
                            if let Some(name) = elem.child_by_field_id(self.f.name.get()) {
                                methods.push(self.text(name).to_string());
                            }
                        }
                        "type_elem" => embeds += 1,
                        _ => {}
                    }
                }
                GoType::Interface {
                    methods,
                    embeds,
                    span,
                }
            }
            "function_type" => GoType::Func(span),
            "channel_type" => GoType::Other("a channel", span),
            _ => GoType::Other("type", span),
        }
    }

    fn fields(&self, node: Node, depth: usize) -> Vec<Field> {
        let mut out = Vec::new();
        let mut cursor = node.walk();
        let Some(list) = node
            .named_children(&mut cursor)
            .find(|n| n.kind() == "field_declaration_list")
        else {
            return out;
        };
        let mut cursor = list.walk();
        for decl in list.named_children(&mut cursor) {
            if decl.kind() != "field_declaration" {
                continue;
            }
            let Some(ty) = decl.child_by_field_id(self.f.ty.get()) else {
                continue;
            };
            let mut c = decl.walk();
            let names = decl
                .children_by_field_id(self.f.name, &mut c)
                .map(|n| (self.text(n).to_string(), self.span(n)))
                .collect();
            out.push(Field {
                names,
                ty: self.ty(ty, depth + 1),
                tag: decl
                    .child_by_field_id(self.f.tag.get())
                    .and_then(|t| unquote(self.text(t))),
                span: self.span(decl),
            });
        }
        out
    }

    /// Every call of a function by name inside the function `node` (a
    /// function or method declaration), walked with a cursor (bodies can
    /// nest arbitrarily deep). Go's block scopes are followed: a name bound
    /// locally (receiver, parameter, result, variable, constant, type,
    /// range or switch variable) shadows the package-level function or the
    /// import of the same name from its declaration to the end of its block.
    fn calls(&self, node: Node, out: &mut Vec<Call>) {
        let Some(body) = node.child_by_field_id(self.f.body.get()) else {
            return;
        };
        let mut signature = Vec::new();
        for field in [self.f.receiver, self.f.parameters, self.f.result] {
            if let Some(list) = node.child_by_field_id(field.get()) {
                self.parameter_names(list, &mut signature);
            }
        }
        // (end byte, names bound in the scope)
        let mut scopes: Vec<(usize, Vec<&'a str>)> = vec![(node.end_byte(), signature)];
        let mut cursor = body.walk();
        loop {
            let n = cursor.node();
            while scopes.len() > 1 && scopes.last().is_some_and(|(end, _)| n.start_byte() >= *end) {
                scopes.pop();
            }
            let bound = |scopes: &[(usize, Vec<&str>)], name: &str| {
                scopes.iter().any(|(_, names)| names.contains(&name))
            };
            match n.kind() {
                "block"
                | "if_statement"
                | "for_statement"
                | "expression_switch_statement"
                | "select_statement"
                | "expression_case"
                | "type_case"
                | "default_case"
                | "communication_case" => scopes.push((n.end_byte(), Vec::new())),
                "type_switch_statement" => {
                    let mut names = Vec::new();
                    if let Some(alias) = n.child_by_field_id(self.f.alias.get()) {
                        self.identifiers(alias, &mut names);
                    }
                    scopes.push((n.end_byte(), names));
                }
                "func_literal" => {
                    let mut names = Vec::new();
                    for field in [self.f.parameters, self.f.result] {
                        if let Some(list) = n.child_by_field_id(field.get()) {
                            self.parameter_names(list, &mut names);
                        }
                    }
                    scopes.push((n.end_byte(), names));
                }
                "short_var_declaration" | "range_clause" | "receive_statement" => {
                    let declares = n.kind() == "short_var_declaration" || {
                        let mut c = n.walk();
                        n.children(&mut c).any(|k| k.kind() == ":=")
                    };
                    if declares
                        && let Some(left) = n.child_by_field_id(self.f.left.get())
                        && let Some((_, names)) = scopes.last_mut()
                    {
                        self.identifiers(left, names);
                    }
                }
                "var_spec" | "const_spec" | "type_spec" | "type_alias" => {
                    let mut c = n.walk();
                    let declared: Vec<&'a str> = n
                        .children_by_field_id(self.f.name, &mut c)
                        .map(|name| self.text(name))
                        .collect();
                    if let Some((_, names)) = scopes.last_mut() {
                        names.extend(declared);
                    }
                }
                "call_expression" => {
                    let f = n.child_by_field_id(self.f.function.get());
                    let call = match f.map(|f| (f.kind(), f)) {
                        Some(("identifier", f)) => Some((None, self.text(f))),
                        Some(("selector_expression", f)) => f
                            .child_by_field_id(self.f.operand.get())
                            .filter(|o| o.kind() == "identifier")
                            .zip(f.child_by_field_id(self.f.field.get()))
                            .map(|(o, name)| (Some(self.text(o)), self.text(name))),
                        _ => None,
                    };
                    if let Some((package, name)) = call {
                        let head = package.unwrap_or(name);
                        if !bound(&scopes, head) {
                            out.push(Call {
                                package: package.map(str::to_string),
                                name: name.to_string(),
                                span: self.span(n),
                            });
                        }
                    }
                }
                _ => {}
            }
            if cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return;
                }
                if cursor.node() == body {
                    return;
                }
            }
        }
    }

    /// The names a parameter list declares.
    fn parameter_names(&self, list: Node, out: &mut Vec<&'a str>) {
        let mut cursor = list.walk();
        for decl in list.named_children(&mut cursor) {
            let mut c = decl.walk();
            out.extend(
                decl.children_by_field_id(self.f.name, &mut c)
                    .map(|n| self.text(n)),
            );
        }
    }

    /// The identifiers of an expression list (`a, b` of `a, b := ...`).
    fn identifiers(&self, list: Node, out: &mut Vec<&'a str>) {
        if list.kind() == "identifier" {
            out.push(self.text(list));
            return;
        }
        let mut cursor = list.walk();
        out.extend(
            list.named_children(&mut cursor)
                .filter(|n| n.kind() == "identifier")
                .map(|n| self.text(n)),
        );
    }
}

/// Comments seen since the last declaration, grouped as Go groups them:
/// a run of comments on consecutive lines. The run is a declaration's doc
/// when it ends on the line just before the declaration.
#[derive(Default)]
struct CommentRun<'t> {
    run: Vec<Node<'t>>,
    /// The last row of the previous non-comment node.
    last_code_row: Option<usize>,
}

impl<'t> CommentRun<'t> {
    fn push(&mut self, c: Node<'t>) {
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

    fn take_before(&mut self, node: Node) -> Vec<Node<'t>> {
        let row = node.start_position().row;
        let run = std::mem::take(&mut self.run);
        match run.last() {
            Some(last) if last.end_position().row + 1 == row => run,
            _ => Vec::new(),
        }
    }

    fn after(&mut self, node: Node) {
        self.run.clear();
        self.last_code_row = Some(node.end_position().row);
    }
}

fn merge(outer: &Doc, inner: Doc) -> Doc {
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

/// The first error or missing node, found with a cursor.
fn first_error(root: Node) -> Option<Node> {
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

/// A Go string literal's value: `"a\tb"` (escapes decoded) or `` `raw` ``.
pub fn unquote(lit: &str) -> Option<String> {
    if let Some(raw) = lit.strip_prefix('`') {
        return raw.strip_suffix('`').map(|s| s.replace('\r', ""));
    }
    let body = lit.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            'U' => {
                let hex: String = chars.by_ref().take(8).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            d @ '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let n = u32::from_str_radix(&format!("{d}{rest}"), 8).ok()?;
                out.push(char::from_u32(n)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A Go integer literal: decimal, `0x`, `0o`, `0b`, old-style octal,
/// underscores.
pub fn parse_int(lit: &str) -> Option<i128> {
    let s: String = lit.chars().filter(|&c| c != '_').collect();
    let lower = s.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = lower.strip_prefix("0o") {
        i128::from_str_radix(oct, 8).ok()
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') {
        i128::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> GoFile {
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

    #[test]
    fn calls_of_names_that_local_declarations_shadow_are_left_out() {
        let file = parse(
            "package a\n\n\
             func A(ctx context.Context, Echo func() error) error {\n\
             \tEcho()\n\
             \tsub.Ping(ctx)\n\
             \tif x := 1; x > 0 {\n\t\tsub := thing\n\t\tsub.Ping(ctx)\n\t}\n\
             \tsub.Pong(ctx)\n\
             \tf := func(Pong func()) { Pong(); Ping() }\n\
             \tfor _, Ping := range fs {\n\t\tPing()\n\t}\n\
             \tPing()\n\
             \tvar Later = 1\n\
             \t_ = Later\n\
             \treturn Other(ctx)\n\
             }\n\
             func (Echo) B() { Echo() }\n",
        );
        let calls: Vec<String> = file
            .calls
            .iter()
            .map(|c| match &c.package {
                Some(p) => format!("{p}.{}", c.name),
                None => c.name.clone(),
            })
            .collect();
        assert_eq!(
            calls,
            ["sub.Ping", "sub.Pong", "Ping", "Ping", "Other", "Echo"]
        );
    }

    #[test]
    fn a_const_group_doc_is_its_first_value_doc() {
        let file = parse(
            "package a\n\n// Out of order\nconst (\n\tA L = (iota + 1) * 2\n\tB\n)\n\n\
             // Colors.\nconst (\n\t// Red is red.\n\tRed C = \"red\"\n)\n",
        );
        let group = &file.consts[0].specs;
        assert_eq!(group[0].doc.text, vec!["Out of order"]);
        assert!(group[1].doc.text.is_empty());
        // FTL's isIotaEnum looks through binary expressions only.
        assert!(!group[0].iota_enum);
        assert_eq!(file.consts[1].specs[0].doc.text, vec!["Red is red."]);
    }

    #[test]
    fn a_comment_after_a_blank_line_is_not_a_doc() {
        let file = parse("package a\n\n// loose\n\n//ftl:data\ntype A struct{}\n");
        assert!(file.types[0].doc.text.is_empty());
        assert_eq!(file.types[0].doc.directives.len(), 1);
    }

    #[test]
    fn deep_types_are_cut_off() {
        let deep = format!("package a\n\ntype A {}int\n", "[]".repeat(200));
        let file = parse(&deep);
        let mut t = &file.types[0].ty;
        let mut depth = 0;
        while let GoType::Slice(inner, _) = t {
            t = inner;
            depth += 1;
        }
        assert!(matches!(t, GoType::TooDeep(_)));
        assert!(depth <= MAX_TYPE_DEPTH + 1);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let file = parse("package a\n\nfunc A( {\n");
        let err = file.syntax_error.expect("an error");
        assert_eq!(err.pos.line, 3);
    }

    #[test]
    fn literals() {
        assert_eq!(unquote("\"a\\tb\\\"\""), Some("a\tb\"".to_string()));
        assert_eq!(unquote("`x\\n`"), Some("x\\n".to_string()));
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("017"), Some(15));
    }
}
