//! Type expressions ([`GoType`], struct fields with their tags) and
//! constant expressions ([`Expr`]), each bounded in depth
//! ([`MAX_TYPE_DEPTH`], [`MAX_EXPR_DEPTH`]).

use std::num::NonZeroU16;

use tree_sitter::Node;

use crate::schema::MAX_TYPE_DEPTH;

use super::literals::{parse_int, unquote};
use super::parser::Reader;
use super::{Expr, Field, GoType, MAX_EXPR_DEPTH};

impl Reader<'_> {
    /// FTL's `isIotaEnum` of an expression (bounded like [`Self::expr`]).
    pub(super) fn is_iota_enum(&self, node: Node, depth: usize) -> bool {
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

    pub(super) fn expr(&self, node: Node, depth: usize) -> Expr {
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

    pub(super) fn ty(&self, node: Node, depth: usize) -> GoType {
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
}

#[cfg(test)]
mod tests {
    use super::super::GoType;
    use super::super::tests::parse;
    use crate::schema::MAX_TYPE_DEPTH;

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
}
