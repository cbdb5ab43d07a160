//! TypeScript clients: one ES module per module of a realm, at
//! `realms/<realm>/<module>.ts`, over the runtime `realms/index.ts`
//! (`runtime/index.ts`: no dependencies, a global or given `fetch`).
//!
//! Data are interfaces (fields named as in the schema, optional fields
//! optional), value enums a `const` object with a type of its values, type
//! enums a union of `{name, value}` objects (which is how FTL encodes
//! them), type aliases `type`s. Each type has a codec (`<Name>Codec`, a
//! function of its parameters' codecs for generic data) that turns values
//! into FTL's JSON and back: `+alias json` names, `Time` as a `Date`,
//! `Bytes` as a `Uint8Array`. Each verb is an `async function` taking the
//! client, its request and call options. Imports name the runtime `$realm`
//! and other modules `$<module>`, which no schema name can collide with.

use std::collections::HashSet;

use super::{
    Api, ApiModule, File, GenerateError, KeyKind, Namespace, comment_lines, describe, header_line,
};
use crate::schema::validate::text::refused_char;
use crate::schema::{Data, Decl, Enum, Type, TypeAlias, VariantValue, Verb};

/// The runtime module, written to `realms/index.ts`.
pub const RUNTIME: &str = include_str!("runtime/index.ts");

/// Names a declaration cannot have in TypeScript (reserved words, and the
/// predefined type names).
const RESERVED: &[&str] = &[
    "any",
    "arguments",
    "as",
    "await",
    "bigint",
    "boolean",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "never",
    "new",
    "null",
    "number",
    "object",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "string",
    "super",
    "switch",
    "symbol",
    "this",
    "throw",
    "true",
    "try",
    "type",
    "typeof",
    "undefined",
    "unknown",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

pub fn generate(apis: &[Api]) -> Result<Vec<File>, GenerateError> {
    let mut files = vec![File {
        path: "realms/index.ts".into(),
        contents: RUNTIME.into(),
    }];
    for api in apis {
        for module in &api.modules {
            files.push(File {
                path: format!("realms/{}/{}.ts", api.realm.name, module.name),
                contents: ModuleFile::new(api, module)?.render(),
            });
        }
    }
    Ok(files)
}

/// A declaration's name in TypeScript: its own, with `_` after a reserved
/// word.
fn ident(name: &str) -> String {
    if RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// A key of an object literal: as written, but `__proto__` (written
/// plainly or quoted, it would set the object's prototype) computed.
fn object_key(key: &str) -> String {
    if key == "__proto__" || key == "\"__proto__\"" {
        "[\"__proto__\"]".to_string()
    } else {
        key.to_string()
    }
}

/// A string literal: JSON's, with line and paragraph separators,
/// bidirectional controls and byte order marks escaped too (JSON leaves
/// them as they are; they would make the line read other than it runs).
fn string_literal(s: &str) -> String {
    let json = serde_json::Value::String(s.to_string()).to_string();
    if !json.chars().any(|c| refused_char(c, false).is_some()) {
        return json;
    }
    json.chars()
        .map(|c| match refused_char(c, false) {
            Some(_) => format!("\\u{:04x}", c as u32),
            None => c.to_string(),
        })
        .collect()
}

/// A doc comment's lines for TypeScript: `*/` cannot end a JSDoc block
/// early, and no line starts a compiler directive (`@ts-nocheck`,
/// `@ts-ignore`, ...).
fn ts_comment_lines(comments: &[String]) -> Vec<String> {
    comment_lines(comments)
        .into_iter()
        .map(|line| {
            let line = line.replace("*/", "*\\/");
            let lead = line.len() - line.trim_start_matches([' ', '\t', '*', '/']).len();
            let rest = &line[lead..];
            if rest.starts_with("@ts-") || rest.starts_with("@jsx") {
                format!("{}\\{rest}", &line[..lead])
            } else {
                line
            }
        })
        .collect()
}

/// A JSDoc comment, each line prefixed with `indent`.
fn doc(comments: &[String], indent: &str) -> String {
    let lines = ts_comment_lines(comments);
    match lines.as_slice() {
        [] => String::new(),
        [one] => format!("{indent}/** {one} */\n"),
        many => {
            let mut out = format!("{indent}/**\n");
            for line in many {
                if line.is_empty() {
                    out.push_str(&format!("{indent} *\n"));
                } else {
                    out.push_str(&format!("{indent} * {line}\n"));
                }
            }
            out.push_str(&format!("{indent} */\n"));
            out
        }
    }
}

/// The largest integer a TypeScript `number` holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Global types the generated code names, which a module's own types or
/// type parameters could shadow; the runtime has an alias of each
/// (`$realm.GlobalDate`, ...).
const GLOBAL_TYPES: &[&str] = &["Date", "Uint8Array", "Record", "Partial", "Promise"];

struct ModuleFile<'g, 'a> {
    api: &'g Api<'a>,
    module: &'g ApiModule<'a>,
    /// The global types (of [`GLOBAL_TYPES`]) that a type or type
    /// parameter of this module shadows.
    shadowed: HashSet<&'static str>,
}

impl<'g, 'a> ModuleFile<'g, 'a> {
    fn new(api: &'g Api<'a>, module: &'g ApiModule<'a>) -> Result<Self, GenerateError> {
        let scope = format!(
            "TypeScript module realms/{}/{}.ts",
            api.realm.name, module.name
        );
        let mut types = Namespace::default();
        let mut values = Namespace::default();
        let mut shadowed = HashSet::new();
        for decl in &module.decls {
            let what = describe(module.name, decl);
            let name = ident(decl.name());
            let mut type_names: Vec<&str> = Vec::new();
            match decl {
                Decl::Verb(_) => {}
                Decl::Data(data) => {
                    type_names.push(&name);
                    type_names.extend(data.type_params.iter().map(|p| p.name.as_str()));
                }
                _ => type_names.push(&name),
            }
            shadowed.extend(
                GLOBAL_TYPES
                    .iter()
                    .filter(|global| type_names.contains(global)),
            );
            if let Decl::Enum(e) = decl {
                for v in &e.variants {
                    if let VariantValue::Int(n) = v.value
                        && !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&n)
                    {
                        return Err(GenerateError::new(
                            format!(
                                "{what} of realm `{}` gives variant `{}` the value {n}, which a TypeScript number cannot hold exactly",
                                api.realm.name, v.name
                            ),
                            "TypeScript numbers are exact up to ±2^53-1 (9007199254740991): \
                             give the variant a smaller value in the realm's schema, or call this realm from Go or Rust",
                        ));
                    }
                }
            }
            match decl {
                Decl::Verb(_) => values.claim(&name, &what, &scope)?,
                Decl::Enum(e) if e.ty.is_some() => {
                    types.claim(&name, &what, &scope)?;
                    values.claim(&name, &what, &scope)?;
                    values.claim(&format!("{name}Codec"), &what, &scope)?;
                }
                _ => {
                    types.claim(&name, &what, &scope)?;
                    values.claim(&format!("{name}Codec"), &what, &scope)?;
                }
            }
        }
        Ok(ModuleFile {
            api,
            module,
            shadowed,
        })
    }

    /// A global type by a name no declaration of this module shadows.
    fn global(&self, name: &'static str) -> String {
        if self.shadowed.contains(name) {
            format!("$realm.Global{name}")
        } else {
            name.to_string()
        }
    }

    /// How a declaration of `module` is named from this module.
    fn qualified(&self, module: &str, name: &str) -> String {
        if module == self.module.name {
            ident(name)
        } else {
            format!("${module}.{}", ident(name))
        }
    }

    /// The TypeScript type of a schema type.
    fn ty(&self, ty: &Type) -> String {
        match ty {
            Type::Int | Type::Float => "number".into(),
            Type::String => "string".into(),
            Type::Bytes => self.global("Uint8Array"),
            Type::Bool => "boolean".into(),
            Type::Time => self.global("Date"),
            Type::Any => "unknown".into(),
            Type::Unit => "$realm.Unit".into(),
            Type::List(element) => {
                let element = self.ty(element);
                if element.contains(' ') {
                    format!("({element})[]")
                } else {
                    format!("{element}[]")
                }
            }
            Type::Map(key, value) => {
                let value = self.ty(value);
                let record = self.global("Record");
                match (self.api.unalias(key), self.api.key_kind(key)) {
                    (Type::String, _) | (_, None) => format!("{record}<string, {value}>"),
                    (Type::Int, _) => format!("{record}<number, {value}>"),
                    _ => format!(
                        "{}<{record}<{}, {value}>>",
                        self.global("Partial"),
                        self.ty(key)
                    ),
                }
            }
            Type::Optional(inner) => format!("{} | null", self.ty(inner)),
            Type::Ref(r) => {
                let mut out = match self.api.resolve(r) {
                    Some((module, decl)) => self.qualified(module, decl.name()),
                    None => r.name.clone(),
                };
                if !r.type_args.is_empty() {
                    let args: Vec<String> = r.type_args.iter().map(|t| self.ty(t)).collect();
                    out.push_str(&format!("<{}>", args.join(", ")));
                }
                out
            }
        }
    }

    /// The codec of a schema type: an expression.
    fn codec(&self, ty: &Type) -> String {
        match ty {
            Type::Int => "$realm.IntCodec".into(),
            Type::Float => "$realm.FloatCodec".into(),
            Type::String => "$realm.StringCodec".into(),
            Type::Bytes => "$realm.BytesCodec".into(),
            Type::Bool => "$realm.BoolCodec".into(),
            Type::Time => "$realm.TimeCodec".into(),
            Type::Any => "$realm.AnyCodec".into(),
            Type::Unit => "$realm.UnitCodec".into(),
            Type::List(element) => format!("$realm.listCodec({})", self.codec(element)),
            Type::Map(key, value) => {
                let kind = match self.api.key_kind(key) {
                    Some(KeyKind::Int) => "int",
                    _ => "string",
                };
                format!(
                    "$realm.mapCodec<{}>(\"{kind}\", {})",
                    self.ty(ty),
                    self.codec(value)
                )
            }
            Type::Optional(inner) => format!("$realm.optionalCodec({})", self.codec(inner)),
            Type::Ref(r) => match self.api.resolve(r) {
                None => format!("${}", r.name),
                Some((module, decl)) => {
                    let name = format!("{}Codec", self.qualified(module, decl.name()));
                    if r.type_args.is_empty() {
                        name
                    } else {
                        let args: Vec<String> = r.type_args.iter().map(|t| self.codec(t)).collect();
                        format!("{name}({})", args.join(", "))
                    }
                }
            },
        }
    }

    fn render(&self) -> String {
        let mut out = format!("// {}\n", header_line(self.api));
        if !self.module.comments.is_empty() {
            out.push_str("//\n");
            for line in ts_comment_lines(self.module.comments) {
                if line.is_empty() {
                    out.push_str("//\n");
                } else {
                    out.push_str(&format!("// {line}\n"));
                }
            }
        }
        out.push_str("\nimport * as $realm from \"../index.js\";\n");
        for module in self.api.imports(self.module) {
            out.push_str(&format!("import * as ${module} from \"./{module}.js\";\n"));
        }
        for decl in &self.module.decls {
            out.push('\n');
            out.push_str(&match decl {
                Decl::Data(data) => self.data(data),
                Decl::Enum(e) if e.ty.is_some() => self.value_enum(e),
                Decl::Enum(e) => self.type_enum(e),
                Decl::TypeAlias(alias) => self.alias(alias),
                Decl::Verb(verb) => self.verb(verb),
                _ => continue,
            });
        }
        out
    }

    fn data(&self, data: &Data) -> String {
        let name = ident(&data.name);
        let params: Vec<&str> = data.type_params.iter().map(|p| p.name.as_str()).collect();
        let generics = if params.is_empty() {
            String::new()
        } else {
            format!("<{}>", params.join(", "))
        };
        let mut out = doc(&data.comments, "");
        out.push_str(&format!("export interface {name}{generics} {{\n"));
        let mut fields = Vec::new();
        for field in &data.fields {
            out.push_str(&doc(&field.comments, "  "));
            match &field.ty {
                Type::Optional(inner) => {
                    out.push_str(&format!("  {}?: {};\n", field.name, self.ty(inner)))
                }
                ty => out.push_str(&format!("  {}: {};\n", field.name, self.ty(ty))),
            }
            fields.push(format!(
                "[{}, {}, {}],",
                string_literal(&field.name),
                string_literal(field.json_name()),
                self.codec(&field.ty)
            ));
        }
        out.push_str("}\n");
        // The fields of the codec, indented by `indent` + 2.
        let codec = |indent: &str| {
            if fields.is_empty() {
                format!("$realm.dataCodec<{name}{generics}>(() => [])")
            } else {
                let lines: String = fields.iter().map(|f| format!("{indent}  {f}\n")).collect();
                format!("$realm.dataCodec<{name}{generics}>(() => [\n{lines}{indent}])")
            }
        };
        if params.is_empty() {
            out.push_str(&format!(
                "export const {name}Codec: $realm.Codec<{name}> = {};\n",
                codec("")
            ));
        } else {
            // One codec parameter per type parameter; `_` marks those no
            // field uses.
            let used = |p: &str| {
                data.fields.iter().any(|f| {
                    let mut found = false;
                    f.ty.walk(&mut |t| {
                        found |= matches!(t, Type::Ref(r) if r.module.is_none() && r.name == p)
                    });
                    found
                })
            };
            let args: Vec<String> = params
                .iter()
                .map(|p| {
                    let unused = if used(p) { "" } else { "_" };
                    format!("{unused}${p}: $realm.Codec<{p}>")
                })
                .collect();
            out.push_str(&format!(
                "export function {name}Codec{generics}({}): $realm.Codec<{name}{generics}> {{\n  return {};\n}}\n",
                args.join(", "),
                codec("  ")
            ));
        }
        out
    }

    fn value_enum(&self, e: &Enum) -> String {
        let name = ident(&e.name);
        let is_int = matches!(e.ty.as_ref().map(|t| self.api.unalias(t)), Some(Type::Int));
        let mut out = doc(&e.comments, "");
        out.push_str(&format!("export const {name} = {{\n"));
        let mut values = Vec::new();
        for v in &e.variants {
            let value = match &v.value {
                VariantValue::Int(n) => n.to_string(),
                VariantValue::String(s) => string_literal(s),
                VariantValue::Type(_) => continue,
            };
            out.push_str(&doc(&v.comments, "  "));
            out.push_str(&format!("  {}: {value},\n", object_key(&v.name)));
            values.push(value);
        }
        out.push_str("} as const;\n");
        out.push_str(&doc(&e.comments, ""));
        out.push_str(&format!(
            "export type {name} = (typeof {name})[keyof typeof {name}];\n"
        ));
        let codec = if is_int {
            format!(
                "$realm.intEnumCodec<{name}>({}, {name})",
                string_literal(&e.name)
            )
        } else {
            format!(
                "$realm.stringEnumCodec<{name}>({}, [{}])",
                string_literal(&e.name),
                values.join(", ")
            )
        };
        out.push_str(&format!(
            "export const {name}Codec: $realm.Codec<{name}> = {codec};\n"
        ));
        out
    }

    fn type_enum(&self, e: &Enum) -> String {
        let name = ident(&e.name);
        let mut out = doc(&e.comments, "");
        let mut variants = Vec::new();
        let mut codecs = Vec::new();
        for v in &e.variants {
            let VariantValue::Type(ty) = &v.value else {
                continue;
            };
            variants.push(format!(
                "  | {{ name: {}; value: {} }}\n",
                string_literal(&v.name),
                self.ty(ty)
            ));
            codecs.push(format!(
                "  {}: {},\n",
                object_key(&string_literal(&v.name)),
                self.codec(ty)
            ));
        }
        if variants.is_empty() {
            out.push_str(&format!("export type {name} = never;\n"));
        } else {
            out.push_str(&format!("export type {name} =\n{}", variants.concat()));
            out.pop();
            out.push_str(";\n");
        }
        out.push_str(&format!(
            "export const {name}Codec: $realm.Codec<{name}> = $realm.typeEnumCodec<{name}>({}, () => ({{\n{}}}));\n",
            string_literal(&e.name),
            codecs.concat()
        ));
        out
    }

    fn alias(&self, alias: &TypeAlias) -> String {
        let name = ident(&alias.name);
        let mut out = doc(&alias.comments, "");
        out.push_str(&format!("export type {name} = {};\n", self.ty(&alias.ty)));
        out.push_str(&format!(
            "export const {name}Codec: $realm.Codec<{name}> = $realm.lazyCodec(() => {});\n",
            self.codec(&alias.ty)
        ));
        out
    }

    fn verb(&self, verb: &Verb) -> String {
        let name = ident(&verb.name);
        let unit_request = matches!(verb.request, Type::Unit);
        let unit_response = matches!(verb.response, Type::Unit);
        let target = format!(
            "`{}.{}@{}`",
            self.module.name, verb.name, self.api.realm.name
        );
        let mut lines = ts_comment_lines(&verb.comments);
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(format!("Calls {target} through the ingress of `client`."));
        let mut out = String::from("/**\n");
        for line in &lines {
            if line.is_empty() {
                out.push_str(" *\n");
            } else {
                out.push_str(&format!(" * {line}\n"));
            }
        }
        out.push_str(" */\n");
        out.push_str(&format!(
            "export async function {name}(\n  client: $realm.Client,\n"
        ));
        if !unit_request {
            out.push_str(&format!("  request: {},\n", self.ty(&verb.request)));
        }
        out.push_str("  options?: $realm.CallOptions,\n");
        let response = if unit_response {
            "void".to_string()
        } else {
            self.ty(&verb.response)
        };
        out.push_str(&format!("): {}<{response}> {{\n", self.global("Promise")));
        let call = format!(
            "client.call(\n    {},\n    {},\n    {},\n    {},\n    {},\n    {},\n    options,\n  )",
            string_literal(&self.api.realm.name),
            string_literal(self.module.name),
            string_literal(&verb.name),
            self.codec(&verb.request),
            if unit_request { "{}" } else { "request" },
            self.codec(&verb.response),
        );
        if unit_response {
            out.push_str(&format!("  await {call};\n"));
        } else {
            out.push_str(&format!("  return {call};\n"));
        }
        out.push_str("}\n");
        out
    }
}
