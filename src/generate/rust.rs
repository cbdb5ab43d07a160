//! Rust clients: one file per realm, `realms/<realm>.rs`, holding a
//! `pub mod <module>` per module, so that types are
//! `realms::<realm>::<module>::<Type>`; `realms/mod.rs` is the runtime
//! (`runtime/realms.rs`: the client, the `Transport` trait with a hyper
//! implementation, the typed error) and declares the realms.
//!
//! Data are structs deriving serde's traits (fields in snake case, renamed
//! to their JSON names), value enums enums (`Int` ones with a serde
//! implementation that reads names too), type enums adjacently tagged
//! enums (`{"name", "value"}`, as FTL encodes them), type aliases `type`s.
//! A value held inline that leads back to its own type is boxed. Each verb
//! is an `async fn` over the client. Paths are relative (`super::super` is
//! the runtime) and extern crates are written `::serde`, so that the module
//! can be mounted anywhere and no schema name shadows what the code uses.
//! The realm files are declared `#[rustfmt::skip]`: rustfmt must not
//! rewrite generated code, or `realm generate --check` would see drift.

use std::collections::HashSet;

use super::{
    Api, ApiModule, File, GenerateError, Namespace, comment_lines, describe, header_line,
    snake_case, upper_camel_case,
};
use crate::schema::{Data, Decl, Enum, Type, TypeAlias, VariantValue, Verb};

/// The runtime, written to `realms/mod.rs` before the realms' declarations.
pub const RUNTIME: &str = include_str!("runtime/realms.rs");

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super"];

/// The runtime's path from inside a realm's module.
const RT: &str = "super::super";

pub fn generate(apis: &[Api], kept: &[String]) -> Result<Vec<File>, GenerateError> {
    let mut files = Vec::new();
    // Every realm `realms/mod.rs` declares: those generated now and those
    // generated before that stay, by name.
    let mut declared: Vec<&str> = apis.iter().map(|a| a.realm.name.as_str()).collect();
    declared.extend(kept.iter().map(String::as_str));
    declared.sort_unstable();
    declared.dedup();
    let mut realms = Namespace::default();
    let mut declarations = String::new();
    for realm in declared {
        let name = value_ident(realm);
        realms.claim(&name, &format!("realm `{realm}`"), "the Rust module realms")?;
        declarations.push_str(&format!("#[rustfmt::skip]\npub mod {name};\n"));
    }
    for api in apis {
        files.push(File {
            path: realm_path(&api.realm.name),
            contents: realm_file(api)?,
        });
    }
    let mut runtime = RUNTIME.to_string();
    if !declarations.is_empty() {
        runtime.push_str("\n// The pinned realms.\n");
        runtime.push_str(&declarations);
    }
    files.push(File {
        path: "realms/mod.rs".into(),
        contents: runtime,
    });
    Ok(files)
}

/// The file of a realm's Rust client, relative to the output directory.
pub fn realm_path(realm: &str) -> String {
    format!("realms/{}.rs", bare(&value_ident(realm)))
}

/// A module, field or function name: snake case, a raw identifier for a
/// keyword (`r#type`), `_` after one that cannot be raw (`self_`).
fn value_ident(name: &str) -> String {
    let snake = snake_case(name);
    if NOT_RAW.contains(&snake.as_str()) {
        format!("{snake}_")
    } else if KEYWORDS.contains(&snake.as_str()) {
        format!("r#{snake}")
    } else {
        snake
    }
}

/// A type or variant name: upper camel case (`Self` gets a `_`).
fn type_ident(name: &str) -> String {
    let camel = upper_camel_case(name);
    if camel == "Self" {
        "Self_".into()
    } else {
        camel
    }
}

/// An identifier without its `r#`: the name serde sees.
fn bare(ident: &str) -> &str {
    ident.trim_start_matches("r#")
}

fn string_literal(s: &str) -> String {
    format!("{s:?}")
}

/// A doc comment at `indent`.
fn doc(comments: &[String], indent: &str) -> String {
    doc_lines(comments)
        .iter()
        .map(|line| {
            if line.is_empty() {
                format!("{indent}///\n")
            } else {
                format!("{indent}/// {line}\n")
            }
        })
        .collect()
}

/// A doc comment's lines as rustdoc may read them. Rustdoc compiles and
/// runs code blocks in doc comments as tests (`cargo test --doc`), so a
/// comment that could open one (a fence, or an indented line) is shown as
/// a block of plain text instead, fenced with more backticks than any of
/// its lines holds, so that no line can close the block early.
fn doc_lines(comments: &[String]) -> Vec<String> {
    let lines = comment_lines(comments);
    let code = lines.iter().any(|line| {
        let trimmed = line.trim_start_matches(' ');
        line.len() - trimmed.len() >= 4
            || trimmed.starts_with('\t')
            || trimmed.starts_with("```")
            || trimmed.starts_with("~~~")
    });
    if !code {
        return lines;
    }
    let longest = lines
        .iter()
        .flat_map(|line| line.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    let mut out = Vec::with_capacity(lines.len() + 2);
    out.push(format!("{fence}text"));
    out.extend(lines);
    out.push(fence);
    out
}

fn realm_file(api: &Api) -> Result<String, GenerateError> {
    let mut out = format!("// {}\n\n", header_line(api));
    out.push_str(&format!(
        "//! The client of realm `{}`, pinned at commit {}.\n",
        api.realm.name, api.commit
    ));
    for line in doc_lines(&api.realm.comments) {
        out.push_str("//!");
        if !line.is_empty() {
            out.push(' ');
            out.push_str(&line);
        }
        out.push('\n');
    }
    // A realm may well have a module of its own name.
    out.push_str("\n#![allow(clippy::module_inception)]\n");
    let mut modules = Namespace::default();
    for module in &api.modules {
        let name = value_ident(module.name);
        modules.claim(
            &name,
            &format!("module {}", module.name),
            &format!("the Rust module of realm `{}`", api.realm.name),
        )?;
        out.push('\n');
        out.push_str(&ModuleCode::new(api, module)?.render(&name));
    }
    Ok(out)
}

struct ModuleCode<'g, 'a> {
    api: &'g Api<'a>,
    module: &'g ApiModule<'a>,
    /// The type names this module declares, which shadow the prelude's.
    types: HashSet<String>,
}

impl<'g, 'a> ModuleCode<'g, 'a> {
    fn new(api: &'g Api<'a>, module: &'g ApiModule<'a>) -> Result<Self, GenerateError> {
        let scope = format!("Rust module {}::{}", api.realm.name, module.name);
        let mut types = Namespace::default();
        let mut values = Namespace::default();
        let mut declared = HashSet::new();
        for decl in &module.decls {
            let what = describe(module.name, decl);
            match decl {
                Decl::Verb(verb) => values.claim(&value_ident(&verb.name), &what, &scope)?,
                _ => {
                    let name = type_ident(decl.name());
                    types.claim(&name, &what, &scope)?;
                    declared.insert(name);
                }
            }
            // Fields and variants must stay apart after case conversion.
            let mut members = Namespace::default();
            let within = format!("{scope}, {what}");
            match decl {
                Decl::Data(data) => {
                    for f in &data.fields {
                        members.claim(
                            bare(&value_ident(&f.name)),
                            &format!("field `{}`", f.name),
                            &within,
                        )?;
                    }
                }
                Decl::Enum(e) => {
                    for v in &e.variants {
                        members.claim(
                            &type_ident(&v.name),
                            &format!("variant `{}`", v.name),
                            &within,
                        )?;
                    }
                }
                _ => {}
            }
        }
        Ok(ModuleCode {
            api,
            module,
            types: declared,
        })
    }

    /// A prelude type, by its full path when the module declares a type of
    /// the same name.
    fn std(&self, name: &str, path: &str) -> String {
        if self.types.contains(name) {
            path.to_string()
        } else {
            name.to_string()
        }
    }

    fn ty(&self, ty: &Type) -> String {
        match ty {
            Type::Int => "i64".into(),
            Type::Float => "f64".into(),
            Type::String => self.std("String", "::std::string::String"),
            Type::Bytes => format!("{RT}::Bytes"),
            Type::Bool => "bool".into(),
            Type::Time => format!("{RT}::Time"),
            Type::Any => "::serde_json::Value".into(),
            Type::Unit => format!("{RT}::Unit"),
            Type::List(element) => format!(
                "{}<{}>",
                self.std("Vec", "::std::vec::Vec"),
                self.ty(element)
            ),
            Type::Map(key, value) => format!(
                "::std::collections::HashMap<{}, {}>",
                self.ty(key),
                self.ty(value)
            ),
            Type::Optional(inner) => self.option(&self.ty(inner)),
            Type::Ref(r) => {
                let mut out = match self.api.resolve(r) {
                    None => type_ident(&r.name),
                    Some((module, decl)) if module == self.module.name => type_ident(decl.name()),
                    Some((module, decl)) => {
                        format!(
                            "super::{}::{}",
                            value_ident(module),
                            type_ident(decl.name())
                        )
                    }
                };
                if !r.type_args.is_empty() {
                    let args: Vec<String> = r.type_args.iter().map(|t| self.ty(t)).collect();
                    out.push_str(&format!("<{}>", args.join(", ")));
                }
                out
            }
        }
    }

    fn option(&self, inner: &str) -> String {
        format!("{}<{inner}>", self.std("Option", "::std::option::Option"))
    }

    fn boxed(&self, inner: &str) -> String {
        format!("{}<{inner}>", self.std("Box", "::std::boxed::Box"))
    }

    /// The type of a value held inside `owner`, boxed when it leads back.
    fn held(&self, owner: &str, ty: &Type) -> String {
        if !self
            .api
            .needs_indirection(self.module.name, owner, ty, true)
        {
            return self.ty(ty);
        }
        match ty {
            Type::Optional(inner) => self.option(&self.boxed(&self.ty(inner))),
            other => self.boxed(&self.ty(other)),
        }
    }

    fn render(&self, name: &str) -> String {
        let mut out = doc(self.module.comments, "");
        out.push_str(&format!("pub mod {name} {{\n"));
        let items: Vec<String> = self
            .module
            .decls
            .iter()
            .filter_map(|decl| match decl {
                Decl::Data(data) => Some(self.data(data)),
                Decl::Enum(e) if e.ty.is_some() => Some(self.value_enum(e)),
                Decl::Enum(e) => Some(self.type_enum(e)),
                Decl::TypeAlias(alias) => Some(self.alias(alias)),
                Decl::Verb(verb) => Some(self.verb(verb)),
                _ => None,
            })
            .collect();
        out.push_str(&items.join("\n"));
        out.push_str("}\n");
        out
    }

    fn data(&self, data: &Data) -> String {
        let name = type_ident(&data.name);
        let params: Vec<String> = data
            .type_params
            .iter()
            .map(|p| type_ident(&p.name))
            .collect();
        let generics = if params.is_empty() {
            String::new()
        } else {
            format!("<{}>", params.join(", "))
        };
        let mut out = doc(&data.comments, "    ");
        out.push_str(
            "    #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\n",
        );
        out.push_str(&format!("    pub struct {name}{generics} {{\n"));
        for field in &data.fields {
            out.push_str(&doc(&field.comments, "        "));
            let ident = value_ident(&field.name);
            let mut attrs = Vec::new();
            if bare(&ident) != field.json_name() {
                attrs.push(format!("rename = {}", string_literal(field.json_name())));
            }
            if matches!(self.api.unalias(&field.ty), Type::Unit | Type::Any) {
                attrs.push("default".to_string());
            }
            if !attrs.is_empty() {
                out.push_str(&format!("        #[serde({})]\n", attrs.join(", ")));
            }
            out.push_str(&format!(
                "        pub {ident}: {},\n",
                self.held(&data.name, &field.ty)
            ));
        }
        let unused: Vec<&String> = data
            .type_params
            .iter()
            .zip(&params)
            .filter(|(p, _)| {
                !data.fields.iter().any(|f| {
                    let mut found = false;
                    f.ty.walk(&mut |t| {
                        found |= matches!(t, Type::Ref(r) if r.module.is_none() && r.name == p.name)
                    });
                    found
                })
            })
            .map(|(_, rust)| rust)
            .collect();
        if !unused.is_empty() {
            let list: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            out.push_str("        /// Type parameters no field uses.\n");
            out.push_str("        #[serde(skip)]\n");
            out.push_str(&format!(
                "        pub _params: ::std::marker::PhantomData<({},)>,\n",
                list.join(", ")
            ));
        }
        if out.ends_with(" {\n") {
            out.truncate(out.len() - 1);
            out.push_str("}\n");
        } else {
            out.push_str("    }\n");
        }
        out
    }

    fn value_enum(&self, e: &Enum) -> String {
        let name = type_ident(&e.name);
        let is_int = matches!(e.ty.as_ref().map(|t| self.api.unalias(t)), Some(Type::Int));
        let mut out = doc(&e.comments, "    ");
        if is_int {
            out.push_str(
                "    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\n",
            );
        } else {
            out.push_str(
                "    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]\n",
            );
        }
        out.push_str(&format!("    pub enum {name} {{\n"));
        let mut table = Vec::new();
        let mut values = Vec::new();
        for v in &e.variants {
            out.push_str(&doc(&v.comments, "        "));
            let variant = type_ident(&v.name);
            match &v.value {
                VariantValue::String(s) if !is_int && variant != *s => {
                    out.push_str(&format!(
                        "        #[serde(rename = {})]\n",
                        string_literal(s)
                    ));
                }
                VariantValue::Int(n) => {
                    table.push(format!(
                        "({}, {n}, {name}::{variant})",
                        string_literal(&v.name)
                    ));
                    values.push(format!("                {name}::{variant} => {n},\n"));
                }
                _ => {}
            }
            out.push_str(&format!("        {variant},\n"));
        }
        out.push_str("    }\n");
        if is_int {
            let arms = if values.is_empty() {
                "match self {}".to_string()
            } else {
                format!("match self {{\n{}            }}", values.concat())
            };
            out.push_str(&format!(
                "
    impl {name} {{
        /// Every variant: its name, its value, itself.
        pub const VARIANTS: &'static [(&'static str, i64, {name})] = &[{}];

        /// The variant's value.
        pub fn value(self) -> i64 {{
            {arms}
        }}
    }}

    impl ::serde::Serialize for {name} {{
        fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {{
            serializer.serialize_i64(self.value())
        }}
    }}

    impl<'de> ::serde::Deserialize<'de> for {name} {{
        fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {{
            {RT}::deserialize_int_enum(deserializer, {}, {name}::VARIANTS)
        }}
    }}
",
                table.join(", "),
                string_literal(&e.name)
            ));
        }
        out
    }

    fn type_enum(&self, e: &Enum) -> String {
        let name = type_ident(&e.name);
        let mut out = doc(&e.comments, "    ");
        out.push_str(
            "    #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\n",
        );
        out.push_str("    #[serde(tag = \"name\", content = \"value\")]\n");
        out.push_str(&format!("    pub enum {name} {{\n"));
        for v in &e.variants {
            let VariantValue::Type(ty) = &v.value else {
                continue;
            };
            out.push_str(&doc(&v.comments, "        "));
            let variant = type_ident(&v.name);
            if variant != v.name {
                out.push_str(&format!(
                    "        #[serde(rename = {})]\n",
                    string_literal(&v.name)
                ));
            }
            out.push_str(&format!("        {variant}({}),\n", self.held(&e.name, ty)));
        }
        out.push_str("    }\n");
        out
    }

    fn alias(&self, alias: &TypeAlias) -> String {
        let mut out = doc(&alias.comments, "    ");
        out.push_str(&format!(
            "    pub type {} = {};\n",
            type_ident(&alias.name),
            self.ty(&alias.ty)
        ));
        out
    }

    fn verb(&self, verb: &Verb) -> String {
        let name = value_ident(&verb.name);
        let unit_request = matches!(verb.request, Type::Unit);
        let unit_response = matches!(verb.response, Type::Unit);
        let mut out = doc(&verb.comments, "    ");
        if !verb.comments.is_empty() {
            out.push_str("    ///\n");
        }
        out.push_str(&format!(
            "    /// Calls `{}.{}@{}` through the ingress of `client`.\n",
            self.module.name, verb.name, self.api.realm.name
        ));
        out.push_str(&format!("    pub async fn {name}(\n"));
        out.push_str(&format!(
            "        client: &{RT}::Client<impl {RT}::Transport>,\n"
        ));
        if !unit_request {
            // What a function takes by reference: a slice, not a vector.
            let request = match &verb.request {
                Type::String => "str".to_string(),
                Type::List(element) => format!("[{}]", self.ty(element)),
                other => self.ty(other),
            };
            out.push_str(&format!("        request: &{request},\n"));
        }
        let response = if unit_response {
            "()".to_string()
        } else {
            self.ty(&verb.response)
        };
        out.push_str(&format!(
            "    ) -> {}<{response}, {RT}::Error> {{\n",
            self.std("Result", "::std::result::Result")
        ));
        let args = format!(
            "{}, {}, {}, {}",
            string_literal(&self.api.realm.name),
            string_literal(self.module.name),
            string_literal(&verb.name),
            if unit_request {
                format!("&{RT}::Unit")
            } else {
                "request".into()
            }
        );
        if unit_response {
            out.push_str(&format!(
                "        client.call::<_, {RT}::Unit>({args}).await.map(|_| ())\n"
            ));
        } else {
            out.push_str(&format!("        client.call({args}).await\n"));
        }
        out.push_str("    }\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(value_ident("type"), "r#type");
        assert_eq!(value_ident("self"), "self_");
        assert_eq!(value_ident("pathParameters"), "path_parameters");
        assert_eq!(type_ident("KIND_A"), "KindA");
        assert_eq!(type_ident("Self"), "Self_");
    }

    #[test]
    fn comments_that_could_be_doctests_are_text() {
        let plain = vec!["Plain words.".to_string(), "`code` in a line".to_string()];
        assert_eq!(doc_lines(&plain), plain);
        let fenced = vec![
            "```".to_string(),
            "std::process::exit(1);".to_string(),
            "`````".to_string(),
        ];
        assert_eq!(
            doc_lines(&fenced),
            vec![
                "``````text",
                "```",
                "std::process::exit(1);",
                "`````",
                "``````"
            ]
        );
        let indented = vec![String::new(), "    panic!();".to_string()];
        assert_eq!(
            doc_lines(&indented),
            vec!["```text", "", "    panic!();", "```"]
        );
    }
}
