//! Go clients: one package per module of a realm, at
//! `<import path>/realms/<realm>/<module>`, over the runtime package
//! `<import path>/realms` (`runtime/realms.go`, standard library only).
//!
//! Names follow FTL's Go code generator (its external-module template):
//! types, fields and variants with the first letter upper-cased, a
//! `<Verb>Client` function type per verb (`func(context.Context, Req)
//! (Resp, error)`, `Unit` left out), type enums as an interface with a
//! marker method named after the enum and one type per variant, Time as
//! `time.Time` (imported as `stdtime`), optionals as `realms.Option[T]`,
//! other modules imported as `ftl<module>`. `New<Verb>Client(c)` binds a
//! client to an ingress. The `//ftl:` directives of FTL's template are left
//! out: these packages are clients, not FTL modules, and an extractor that
//! scans a module's packages must not take them for declarations.
//!
//! The output is gofmt-formatted (aligned struct fields and constants).

use std::collections::{BTreeMap, HashMap};

use super::{
    Api, ApiModule, File, GenerateError, Namespace, Options, comment_lines, describe, header_line,
    upper_first,
};
use crate::schema::validate::GO_KEYWORDS as KEYWORDS;
use crate::schema::validate::text::refused_char;
use crate::schema::{Data, Decl, Enum, Type, TypeAlias, VariantValue, Verb};

/// The runtime package, written to `realms/realms.go`.
pub const RUNTIME: &str = include_str!("runtime/realms.go");

pub fn generate(apis: &[Api], options: &Options) -> Result<Vec<File>, GenerateError> {
    let base = import_path(options)?;
    let mut files = vec![File {
        path: "realms/realms.go".into(),
        contents: RUNTIME.into(),
    }];
    for api in apis {
        for module in &api.modules {
            let package = Package::new(api, module, &base)?;
            files.push(File {
                path: format!(
                    "realms/{}/{}/{}.go",
                    api.realm.name, module.name, module.name
                ),
                contents: package.render(),
            });
        }
    }
    Ok(files)
}

/// The import path of the output directory, checked.
fn import_path(options: &Options) -> Result<String, GenerateError> {
    let Some(path) = options.go_import_path.as_deref() else {
        return Err(GenerateError::new(
            "Go clients need the import path of the output directory",
            "run in (or below) a Go module, whose go.mod names it, or pass --go-import-path",
        ));
    };
    let path = path.trim_end_matches('/');
    let valid = !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~+".contains(c))
        });
    if !valid {
        return Err(GenerateError::new(
            format!("`{path}` is not a Go import path"),
            "give a path such as example.com/shop (letters, digits, `-._~+`, separated by `/`)",
        ));
    }
    Ok(path.to_string())
}

/// A Go identifier for a schema name, exported (`withdraw` → `Withdraw`;
/// `_id` → `X_id`).
fn exported(name: &str) -> String {
    if name.starts_with('_') {
        format!("X{name}")
    } else {
        upper_first(name)
    }
}

/// The package name of a module: its name, with `_` after a Go keyword.
fn package_name(module: &str) -> String {
    if KEYWORDS.contains(&module) {
        format!("{module}_")
    } else {
        module.to_string()
    }
}

/// The marker method of a type enum's interface, as FTL names it: the
/// leading upper-case letters lower-cased (`Shape` → `shape`).
fn marker(name: &str) -> String {
    let lead = name.chars().take_while(char::is_ascii_uppercase).count();
    let lowered = name[..lead].to_ascii_lowercase() + &name[lead..];
    if KEYWORDS.contains(&lowered.as_str()) {
        format!("{lowered}_")
    } else {
        lowered
    }
}

/// A Go string literal (`strconv.Unquote` reads it back). Besides quotes,
/// backslashes and control characters, line and paragraph separators,
/// bidirectional controls and byte order marks are escaped: Go refuses a
/// byte order mark in a file, and the others would make the line read
/// other than it compiles.
fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if refused_char(c, false).is_some() => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The struct tag of a field whose JSON name is `name`: `json:"<name>"`
/// when `encoding/json` reads exactly that name from it, else
/// `realm:"<name>"`, which the runtime reads as it is (`encoding/json`'s
/// tags cannot hold quotes, backslashes or commas, and `-` means "skip",
/// but a JSON name can be anything). A raw string literal unless the tag
/// holds a backtick, which only an interpreted one can carry.
fn struct_tag(name: &str) -> String {
    let json_reads_it = !name.is_empty()
        && name != "-"
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || "!#$%&()*+-./:;<=>?@[]^_{|}~ ".contains(c)
                || (!c.is_ascii() && c.is_alphanumeric())
        });
    let key = if json_reads_it { "json" } else { "realm" };
    let tag = format!("{key}:{}", string_literal(name));
    if tag.contains('`') {
        string_literal(&tag)
    } else {
        format!("`{tag}`")
    }
}

/// How a type enum variant is represented.
enum VariantForm {
    /// The data type of the same name in this module implements the enum.
    Data,
    /// `type V <underlying>`.
    Defined(String),
    /// `type V struct{ Value <type> }`: for values a defined type cannot
    /// carry (optionals, times, enums, Any).
    Wrapped(String),
}

/// One module's package being generated.
struct Package<'g, 'a> {
    api: &'g Api<'a>,
    module: &'g ApiModule<'a>,
    base: &'g str,
    /// Go names of variants: (enum, variant) → name.
    variants: HashMap<(&'a str, &'a str), String>,
    /// Import path → alias (empty for none).
    imports: BTreeMap<String, String>,
}

impl<'g, 'a> Package<'g, 'a> {
    fn new(
        api: &'g Api<'a>,
        module: &'g ApiModule<'a>,
        base: &'g str,
    ) -> Result<Package<'g, 'a>, GenerateError> {
        let scope = format!(
            "Go package {base}/realms/{}/{}",
            api.realm.name, module.name
        );
        let mut names = Namespace::default();
        for decl in &module.decls {
            let what = describe(module.name, decl);
            match decl {
                Decl::Verb(verb) => {
                    let name = exported(&verb.name);
                    names.claim(&format!("{name}Client"), &what, &scope)?;
                    names.claim(&format!("New{name}Client"), &what, &scope)?;
                }
                _ => names.claim(&exported(decl.name()), &what, &scope)?,
            }
            // Go exports a field by upper-casing its first letter: `foo`
            // and `Foo`, `self` and `Self` would be one field.
            if let Decl::Data(data) = decl {
                let mut fields = Namespace::default();
                let within = format!("the Go struct {} of {scope}", exported(&data.name));
                for field in &data.fields {
                    fields.claim(
                        &exported(&field.name),
                        &format!("field `{}`", field.name),
                        &within,
                    )?;
                }
            }
        }
        // Variants take their own names, as in FTL, unless that name is
        // taken or shared: then they are prefixed with their enum's.
        let mut candidates: Vec<(&'a str, &'a str, String)> = Vec::new();
        for decl in &module.decls {
            if let Decl::Enum(e) = decl {
                for v in &e.variants {
                    if !is_data_variant(module.name, &v.name, &v.value) {
                        candidates.push((&e.name, &v.name, exported(&v.name)));
                    }
                }
            }
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (_, _, name) in &candidates {
            *counts.entry(name.as_str()).or_default() += 1;
        }
        let mut variants = HashMap::new();
        for (enum_name, variant, name) in &candidates {
            let name = if counts[name.as_str()] > 1 || names.contains(name) {
                format!("{}{name}", exported(enum_name))
            } else {
                name.clone()
            };
            names.claim(
                &name,
                &format!("variant {}.{enum_name}.{variant}", module.name),
                &scope,
            )?;
            variants.insert((*enum_name, *variant), name);
        }
        Ok(Package {
            api,
            module,
            base,
            variants,
            imports: BTreeMap::new(),
        })
    }

    fn import(&mut self, path: String, alias: &str) {
        self.imports.insert(path, alias.to_string());
    }

    fn realms(&mut self) -> &'static str {
        self.import(format!("{}/realms", self.base), "");
        "realms"
    }

    /// The Go type of a schema type.
    fn ty(&mut self, ty: &Type) -> String {
        match ty {
            Type::Int => "int".into(),
            Type::Float => "float64".into(),
            Type::String => "string".into(),
            Type::Bytes => "[]byte".into(),
            Type::Bool => "bool".into(),
            Type::Time => {
                self.import("time".into(), "stdtime");
                "stdtime.Time".into()
            }
            Type::Any => "any".into(),
            Type::Unit => format!("{}.Unit", self.realms()),
            Type::List(element) => format!("[]{}", self.ty(element)),
            Type::Map(key, value) => format!("map[{}]{}", self.ty(key), self.ty(value)),
            Type::Optional(inner) => {
                let inner = self.ty(inner);
                format!("{}.Option[{inner}]", self.realms())
            }
            Type::Ref(r) => {
                let mut out = match (&r.module, self.api.resolve(r)) {
                    (None, _) => r.name.clone(),
                    (Some(_), Some((module, decl))) if module != self.module.name => {
                        let alias = format!("ftl{module}");
                        self.import(
                            format!("{}/realms/{}/{module}", self.base, self.api.realm.name),
                            &alias,
                        );
                        format!("{alias}.{}", exported(decl.name()))
                    }
                    _ => exported(&r.name),
                };
                if !r.type_args.is_empty() {
                    let args: Vec<String> = r.type_args.iter().map(|t| self.ty(t)).collect();
                    out.push('[');
                    out.push_str(&args.join(", "));
                    out.push(']');
                }
                out
            }
        }
    }

    fn render(mut self) -> String {
        let mut decls: Vec<String> = Vec::new();
        let mut sum_types: Vec<String> = Vec::new();
        for decl in self.module.decls.clone() {
            match decl {
                Decl::Data(data) => decls.push(self.data(data)),
                Decl::Enum(e) if e.ty.is_some() => decls.push(self.value_enum(e)),
                Decl::Enum(e) => {
                    let (code, registration) = self.type_enum(e);
                    decls.push(code);
                    sum_types.push(registration);
                }
                Decl::TypeAlias(alias) => decls.push(self.alias(alias)),
                Decl::Verb(verb) => decls.push(self.verb(verb)),
                _ => {}
            }
        }
        if !sum_types.is_empty() {
            let realms = self.realms();
            let mut init = String::from("func init() {\n");
            for registration in sum_types {
                init.push_str(&registration.replace("realms.", &format!("{realms}.")));
            }
            init.push('}');
            decls.push(init);
        }

        let mut out = format!("// {}\n\n", header_line(self.api));
        out.push_str(&doc(self.module.comments, ""));
        out.push_str(&format!("package {}\n", package_name(self.module.name)));
        if !self.imports.is_empty() {
            out.push_str("\nimport (\n");
            let (std, other): (Vec<_>, Vec<_>) = self
                .imports
                .iter()
                .partition(|(path, _)| !path.split('/').next().unwrap_or("").contains('.'));
            for (i, group) in [std, other].iter().filter(|g| !g.is_empty()).enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                for (path, alias) in group {
                    out.push('\t');
                    if !alias.is_empty() {
                        out.push_str(alias);
                        out.push(' ');
                    }
                    out.push_str(&string_literal(path));
                    out.push('\n');
                }
            }
            out.push_str(")\n");
        }
        for decl in decls {
            out.push('\n');
            out.push_str(&decl);
            out.push('\n');
        }
        out
    }

    fn data(&mut self, data: &Data) -> String {
        let name = exported(&data.name);
        let mut out = doc(&data.comments, "");
        out.push_str(&format!("type {name}"));
        if !data.type_params.is_empty() {
            let params: Vec<String> = data
                .type_params
                .iter()
                .map(|p| format!("{} any", p.name))
                .collect();
            out.push_str(&format!("[{}]", params.join(", ")));
        }
        out.push_str(" struct {\n");
        let mut rows = Vec::new();
        for field in &data.fields {
            for line in comment_lines(&field.comments) {
                rows.push(Row::Comment(comment(&line)));
            }
            let ty = if self
                .api
                .needs_indirection(self.module.name, &data.name, &field.ty, false)
            {
                match &field.ty {
                    Type::Optional(inner) => format!("*{}", self.ty(inner)),
                    other => format!("*{}", self.ty(other)),
                }
            } else {
                self.ty(&field.ty)
            };
            rows.push(Row::Cells(vec![
                exported(&field.name),
                ty,
                struct_tag(field.json_name()),
            ]));
        }
        out.push_str(&aligned(&rows));
        out.push('}');
        out
    }

    fn value_enum(&mut self, e: &Enum) -> String {
        let name = exported(&e.name);
        let underlying = match e.ty.as_ref().map(|t| self.api.unalias(t)) {
            Some(Type::Int) => "int",
            _ => "string",
        };
        let mut out = doc(&e.comments, "");
        out.push_str(&format!("type {name} {underlying}\n"));
        if !e.variants.is_empty() {
            out.push_str("\nconst (\n");
            let mut rows = Vec::new();
            for v in &e.variants {
                for line in comment_lines(&v.comments) {
                    rows.push(Row::Comment(comment(&line)));
                }
                let value = match &v.value {
                    VariantValue::Int(n) => n.to_string(),
                    VariantValue::String(s) => string_literal(s),
                    VariantValue::Type(_) => continue,
                };
                rows.push(Row::Cells(vec![
                    self.variants[&(e.name.as_str(), v.name.as_str())].clone(),
                    name.clone(),
                    format!("= {value}"),
                ]));
            }
            out.push_str(&aligned(&rows));
            out.push_str(")\n");
        }
        let realms = self.realms();
        if underlying == "int" {
            let names: Vec<String> = e
                .variants
                .iter()
                .map(|v| {
                    format!(
                        "{}: {}",
                        string_literal(&v.name),
                        self.variants[&(e.name.as_str(), v.name.as_str())]
                    )
                })
                .collect();
            out.push_str(&format!(
                "\n// UnmarshalJSON accepts a value of {name} or, as protobuf's JSON mapping\n\
                 // writes enums, a variant's name; anything else is an error.\n\
                 func (v *{name}) UnmarshalJSON(data []byte) error {{\n\
                 \treturn {realms}.DecodeIntEnum(data, v, map[string]{name}{{{}}})\n\
                 }}\n",
                names.join(", ")
            ));
        } else {
            let values: Vec<&str> = e
                .variants
                .iter()
                .map(|v| self.variants[&(e.name.as_str(), v.name.as_str())].as_str())
                .collect();
            out.push_str(&format!(
                "\n// UnmarshalJSON accepts the values of {name} only.\n\
                 func (v *{name}) UnmarshalJSON(data []byte) error {{\n\
                 \treturn {realms}.DecodeStringEnum(data, v, {})\n\
                 }}\n",
                values.join(", ")
            ));
        }
        out.pop();
        out
    }

    /// The enum's code and its registration (a statement of `init`).
    fn type_enum(&mut self, e: &Enum) -> (String, String) {
        let name = exported(&e.name);
        let method = marker(&e.name);
        let mut out = doc(&e.comments, "");
        out.push_str(&format!("type {name} interface{{ {method}() }}\n"));
        let mut registration = format!("\trealms.RegisterSumType[{name}](\n");
        for v in &e.variants {
            let VariantValue::Type(ty) = &v.value else {
                continue;
            };
            let form = self.variant_form(ty, &v.name);
            let variant = match form {
                VariantForm::Data => exported(&v.name),
                _ => self.variants[&(e.name.as_str(), v.name.as_str())].clone(),
            };
            out.push('\n');
            out.push_str(&doc(&v.comments, ""));
            let register = match &form {
                VariantForm::Data => "VariantOf",
                VariantForm::Defined(underlying) => {
                    out.push_str(&format!("type {variant} {underlying}\n\n"));
                    "VariantOf"
                }
                VariantForm::Wrapped(inner) => {
                    out.push_str(&format!("type {variant} struct{{ Value {inner} }}\n\n"));
                    "WrappedVariantOf"
                }
            };
            out.push_str(&format!("func ({variant}) {method}() {{}}\n"));
            registration.push_str(&format!(
                "\t\trealms.{register}[{variant}]({}),\n",
                string_literal(&v.name)
            ));
        }
        registration.push_str("\t)\n");
        out.pop();
        (out, registration)
    }

    fn variant_form(&mut self, ty: &Type, variant: &str) -> VariantForm {
        if is_data_variant(self.module.name, variant, &VariantValue::Type(ty.clone())) {
            return VariantForm::Data;
        }
        let wrapped = match self.api.unalias(ty) {
            Type::Optional(_) | Type::Any | Type::Time => true,
            Type::Ref(r) => matches!(self.api.resolve(r), Some((_, Decl::Enum(_))) | None),
            _ => false,
        };
        let go = self.ty(ty);
        if wrapped {
            VariantForm::Wrapped(go)
        } else {
            VariantForm::Defined(go)
        }
    }

    fn alias(&mut self, alias: &TypeAlias) -> String {
        let mut out = doc(&alias.comments, "");
        let ty = self.ty(&alias.ty);
        out.push_str(&format!("type {} = {ty}", exported(&alias.name)));
        out
    }

    fn verb(&mut self, verb: &Verb) -> String {
        let name = exported(&verb.name);
        let request = (!matches!(verb.request, Type::Unit)).then(|| self.ty(&verb.request));
        let response = (!matches!(verb.response, Type::Unit)).then(|| self.ty(&verb.response));
        let realms = self.realms();
        let target = format!("{}.{}@{}", self.module.name, verb.name, self.api.realm.name);
        let call = format!(
            "{realms}.Call[{}, {}](ctx, c, {}, {}, {}, {})",
            request.as_deref().unwrap_or("realms.Unit"),
            response.as_deref().unwrap_or("realms.Unit"),
            string_literal(&self.api.realm.name),
            string_literal(self.module.name),
            string_literal(&verb.name),
            if request.is_some() {
                "req"
            } else {
                "realms.Unit{}"
            }
        );
        let params = match &request {
            Some(req) => format!("context.Context, {req}"),
            None => "context.Context".into(),
        };
        let named_params = match &request {
            Some(req) => format!("ctx context.Context, req {req}"),
            None => "ctx context.Context".into(),
        };
        let results = match &response {
            Some(resp) => format!("({resp}, error)"),
            None => "error".into(),
        };
        let body = match &response {
            Some(_) => format!("\t\treturn {call}\n"),
            None => format!("\t\t_, err := {call}\n\t\treturn err\n"),
        };
        self.import("context".into(), "");
        let mut out = doc(&verb.comments, "");
        out.push_str(&format!("type {name}Client func({params}) {results}\n\n"));
        out.push_str(&format!(
            "// New{name}Client returns the {name}Client that calls {target}\n\
             // through the ingress of c.\n\
             func New{name}Client(c *{realms}.Client) {name}Client {{\n\
             \treturn func({named_params}) {results} {{\n\
             {body}\
             \t}}\n\
             }}"
        ));
        out
    }
}

/// Whether a type enum variant is the data type of the same name in the
/// enum's module (which then implements the enum itself, as in FTL).
fn is_data_variant(module: &str, variant: &str, value: &VariantValue) -> bool {
    matches!(value, VariantValue::Type(Type::Ref(r))
        if r.name == variant
            && r.module.as_deref() == Some(module)
            && r.type_args.is_empty())
}

/// A line of a struct or const block: a comment, or cells to align.
enum Row {
    Comment(String),
    Cells(Vec<String>),
}

/// Rows indented by a tab, with the cells of consecutive rows aligned in
/// columns as gofmt aligns them (a comment line ends a block).
fn aligned(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < rows.len() {
        match &rows[i] {
            Row::Comment(text) => {
                out.push('\t');
                out.push_str(text);
                out.push('\n');
                i += 1;
            }
            Row::Cells(_) => {
                let end = rows[i..]
                    .iter()
                    .position(|r| matches!(r, Row::Comment(_)))
                    .map_or(rows.len(), |n| i + n);
                let block: Vec<&Vec<String>> = rows[i..end]
                    .iter()
                    .filter_map(|r| match r {
                        Row::Cells(cells) => Some(cells),
                        Row::Comment(_) => None,
                    })
                    .collect();
                let columns = block.iter().map(|c| c.len()).max().unwrap_or(0);
                let widths: Vec<usize> = (0..columns)
                    .map(|col| {
                        block
                            .iter()
                            .filter(|c| col + 1 < c.len())
                            .map(|c| c[col].len())
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                for cells in block {
                    out.push('\t');
                    for (col, cell) in cells.iter().enumerate() {
                        out.push_str(cell);
                        if col + 1 < cells.len() {
                            out.push_str(&" ".repeat(widths[col] - cell.len() + 1));
                        }
                    }
                    out.push('\n');
                }
                i = end;
            }
        }
    }
    out
}

fn comment(line: &str) -> String {
    if line.is_empty() {
        "//".into()
    } else {
        format!("// {line}")
    }
}

/// A doc comment, each line prefixed with `indent`.
fn doc(comments: &[String], indent: &str) -> String {
    comment_lines(comments)
        .iter()
        .map(|line| format!("{indent}{}\n", comment(line)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_gofmt() {
        let rows = vec![
            Row::Comment("// doc".into()),
            Row::Cells(vec!["Id".into(), "string".into(), "`json:\"id\"`".into()]),
            Row::Cells(vec!["Balance".into(), "int".into(), "`json:\"b\"`".into()]),
            Row::Comment("// more".into()),
            Row::Cells(vec!["X".into(), "int".into(), "`json:\"x\"`".into()]),
        ];
        assert_eq!(
            aligned(&rows),
            "\t// doc\n\tId      string `json:\"id\"`\n\tBalance int    `json:\"b\"`\n\t// more\n\tX int `json:\"x\"`\n"
        );
    }

    #[test]
    fn struct_tags_carry_any_json_name() {
        assert_eq!(struct_tag("id"), "`json:\"id\"`");
        assert_eq!(struct_tag("-"), "`realm:\"-\"`");
        assert_eq!(struct_tag("a,b"), "`realm:\"a,b\"`");
        assert_eq!(struct_tag("a\"b"), "`realm:\"a\\\"b\"`");
        assert_eq!(struct_tag("display-name"), "`json:\"display-name\"`");
        assert_eq!(struct_tag("nam\u{e9}"), "`json:\"nam\u{e9}\"`");
        // A backtick cannot be in a raw string: the tag is an
        // interpreted one, and cannot end early.
        assert_eq!(
            struct_tag("`};func init(){"),
            "\"realm:\\\"`};func init(){\\\"\""
        );
    }

    #[test]
    fn names() {
        assert_eq!(marker("Shape"), "shape");
        assert_eq!(marker("HTTPThing"), "httpthing");
        assert_eq!(exported("_id"), "X_id");
        assert_eq!(package_name("type"), "type_");
        assert_eq!(string_literal("a\"b\\\n\u{1}é"), "\"a\\\"b\\\\\\n\\x01é\"");
        assert_eq!(
            string_literal("\u{2028}\u{202e}\u{feff}\u{85}`"),
            "\"\\u2028\\u202e\\ufeff\\u0085`\""
        );
    }
}
