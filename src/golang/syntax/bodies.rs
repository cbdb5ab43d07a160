//! Function bodies: which functions they call by name, with Go's block
//! scopes followed so that calls of locally bound names are left out.
//! Walked with a cursor, not recursively: bodies nest arbitrarily deep.

use tree_sitter::Node;

use super::Call;
use super::parser::Reader;

impl<'a> Reader<'a> {
    /// Every call of a function by name inside the function `node` (a
    /// function or method declaration), walked with a cursor (bodies can
    /// nest arbitrarily deep). Go's block scopes are followed: a name bound
    /// locally (receiver, parameter, result, variable, constant, type,
    /// range or switch variable) shadows the package-level function or the
    /// import of the same name from its declaration to the end of its block.
    pub(super) fn calls(&self, node: Node, out: &mut Vec<Call>) {
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

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

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
}
