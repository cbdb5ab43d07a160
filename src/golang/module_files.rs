//! An FTL module's own files: `ftl.toml` (`module = "..."`,
//! `language = "go"`, optionally `sql-root-dir`) and `go.mod` (whose
//! module path must be `ftl/<module>`, which is how FTL's Go runtime names
//! the module's packages). Parsed from text, with positions for errors.

use toml_edit::{Document, Item};

use crate::schema::Diagnostic;
use crate::schema::diagnostic::pos_at;

/// What `ftl.toml` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleConfig {
    pub module: String,
    pub language: String,
    /// Where `db/<engine>/<name>/` lives, relative to the module (`db`).
    pub sql_root_dir: String,
}

/// The languages FTL writes modules in; only Go is read from source here.
pub const LANGUAGES: &[&str] = &["go", "java", "kotlin", "python"];

fn diag(
    file: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: String,
) -> Diagnostic {
    match span {
        Some(span) => Diagnostic::new(message, Some(pos_at(file, text, span.start))).with_len(
            text[span.clone()]
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .count(),
        ),
        None => Diagnostic::new(message, Some(pos_at(file, text, 0))),
    }
}

/// Parses `ftl.toml` (`file` is its path relative to the project root).
pub fn parse_ftl_toml(file: &str, text: &str) -> Result<ModuleConfig, Diagnostic> {
    let doc = Document::parse(text).map_err(|e| {
        diag(
            file,
            text,
            e.span(),
            format!("invalid ftl.toml: {}", e.message()),
        )
    })?;
    let string = |key: &str| -> Result<Option<String>, Diagnostic> {
        match doc.get(key) {
            None => Ok(None),
            Some(item @ Item::Value(v)) => match v.as_str() {
                Some(s) => Ok(Some(s.to_string())),
                None => Err(diag(
                    file,
                    text,
                    item.span().or_else(|| v.span()),
                    format!("`{key}` must be a string"),
                )),
            },
            Some(item) => Err(diag(
                file,
                text,
                item.span(),
                format!("`{key}` must be a string"),
            )),
        }
    };
    let Some(module) = string("module")? else {
        return Err(
            diag(file, text, None, "ftl.toml has no `module` key".to_string())
                .with_help("add `module = \"<name>\"`"),
        );
    };
    if !super::naming::is_schema_ident(&module) {
        let span = doc
            .get("module")
            .and_then(|i| i.as_value())
            .and_then(|v| v.span());
        return Err(
            diag(file, text, span, format!("`{module}` is not a module name"))
                .with_help("module names are letters, digits and `_`, starting with a letter"),
        );
    }
    let language = string("language")?.unwrap_or_default();
    Ok(ModuleConfig {
        module,
        language,
        sql_root_dir: string("sql-root-dir")?.unwrap_or_else(|| "db".to_string()),
    })
}

/// The `module` path of a `go.mod`.
pub fn parse_go_mod(file: &str, text: &str) -> Result<String, Diagnostic> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split("//").next().unwrap_or("").trim();
        if let Some(rest) = code.strip_prefix("module")
            && rest.starts_with(char::is_whitespace)
        {
            let path = rest.trim().trim_matches('"').to_string();
            if path.is_empty() {
                return Err(diag(
                    file,
                    text,
                    Some(offset..offset + line.trim_end().len()),
                    "go.mod names no module path".into(),
                ));
            }
            return Ok(path);
        }
        offset += line.len();
    }
    Err(
        diag(file, text, None, "go.mod has no `module` line".to_string())
            .with_help("FTL modules start go.mod with `module ftl/<name>`"),
    )
}

/// Where in `go.mod` its module path is, for errors about it.
pub fn go_mod_path_span(text: &str) -> Option<std::ops::Range<usize>> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.trim_start().strip_prefix("module") {
            let lead = line.len() - line.trim_start().len();
            let start = offset + lead + "module".len() + (rest.len() - rest.trim_start().len());
            let end = offset + line.trim_end().len();
            return Some(start..end.max(start));
        }
        offset += line.len();
    }
    None
}

/// The error for a `go.mod` whose module path is not `ftl/<module>`.
pub fn wrong_go_module(file: &str, text: &str, path: &str, module: &str) -> Diagnostic {
    diag(
        file,
        text,
        go_mod_path_span(text),
        format!(
            "go.mod declares module `{path}`, but FTL module `{module}` must be `ftl/{module}`"
        ),
    )
    .with_help(format!(
        "write `module ftl/{module}` (ftl.toml names the module `{module}`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ftl_toml() {
        let c =
            parse_ftl_toml("m/ftl.toml", "module = \"shop\"\nlanguage = \"go\"\n").expect("parses");
        assert_eq!(c.module, "shop");
        assert_eq!(c.language, "go");
        assert_eq!(c.sql_root_dir, "db");
        let e = parse_ftl_toml("m/ftl.toml", "language = \"go\"\n").expect_err("no module");
        assert!(e.message.contains("no `module`"));
        let e = parse_ftl_toml("m/ftl.toml", "module = 3\n").expect_err("not a string");
        assert_eq!(e.pos.map(|p| p.column), Some(10));
    }

    #[test]
    fn reads_go_mod() {
        assert_eq!(
            parse_go_mod("go.mod", "// x\nmodule ftl/shop\n\ngo 1.23\n").expect("parses"),
            "ftl/shop"
        );
        assert!(parse_go_mod("go.mod", "go 1.23\n").is_err());
        let text = "module example.com/shop\n";
        let d = wrong_go_module("go.mod", text, "example.com/shop", "shop");
        assert_eq!(d.pos.map(|p| p.column), Some(8));
    }
}
