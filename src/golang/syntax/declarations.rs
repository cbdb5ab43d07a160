//! The walk of a file's top-level declarations: package clause, imports,
//! functions and methods (signatures; their bodies are `bodies.rs`'s),
//! type declarations and constant groups, each with its doc comment.

use tree_sitter::Node;

use super::comments::{CommentRun, merge};
use super::literals::unquote;
use super::parser::{Reader, first_error};
use super::{ConstGroup, ConstSpec, Doc, FuncDecl, GoFile, Import, Method, Param, Span, TypeDecl};

impl Reader<'_> {
    pub(super) fn file(&self, root: Node) -> GoFile {
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

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
}
