//! Data (`go-runtime/schema/data`): struct types, their fields (exported,
//! camel-cased) and the JSON names their tags give them.

use crate::schema::model::ThinVec;
use crate::schema::{Data, Decl, Field, Metadata, MetadataKind, TypeParameter};

use super::{Extractor, Meta, at, is_exported};
use crate::golang::naming::{lower_camel, upper_camel};
use crate::golang::syntax::{GoType, TypeDecl, unquote};
use crate::golang::types::{Site, What, go_text};

impl<'a> Extractor<'a> {
    pub(super) fn data(
        &mut self,
        file: usize,
        dir: &'a str,
        decl: &'a TypeDecl,
        meta: &Meta,
    ) -> Option<Decl> {
        let GoType::Struct(fields, _) = &decl.ty else {
            self.report(
                at(
                    &decl.name_span,
                    format!(
                        "`//ftl:data` annotates a struct type, and `{}` is `{}`",
                        decl.name,
                        go_text(&decl.ty)
                    ),
                )
                .with_help("use `//ftl:typealias` or `//ftl:enum` for other types"),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for field in fields {
            if field.names.is_empty() {
                self.report(
                    at(
                        &field.span,
                        format!("anonymous fields are not supported (in `{}`)", decl.name),
                    )
                    .with_help("give the field a name"),
                );
                ok = false;
                continue;
            }
            for (fname, span) in &field.names {
                let ty = self.types.ty(
                    &field.ty,
                    &Site {
                        file,
                        dir,
                        params: &decl.type_params,
                        what: What::Field {
                            field: fname,
                            of: &decl.name,
                        },
                    },
                    0,
                );
                if !is_exported(fname) {
                    self.report(
                        at(span, format!("struct field `{fname}` must be exported by starting with an uppercase letter"))
                            .with_help(format!(
                                "rename it to `{}` (add `json:\"{fname}\"` to keep its JSON name)",
                                upper_camel(fname)
                            )),
                    );
                    ok = false;
                    continue;
                }
                let Some(ty) = ty else {
                    ok = false;
                    continue;
                };
                let mut metadata = Vec::new();
                if let Some(tag) = &field.tag
                    && let Some(json) = struct_tag(tag, "json")
                {
                    let alias = json.split(',').next().unwrap_or_default();
                    if !alias.is_empty() {
                        metadata.push(Metadata {
                            pos: Some(span.pos.clone()),
                            kind: MetadataKind::Alias {
                                kind: "json".to_string(),
                                alias: alias.to_string(),
                            },
                        });
                    }
                }
                out.push(Field {
                    pos: Some(span.pos.clone()),
                    comments: ThinVec::new(),
                    name: lower_camel(fname),
                    ty,
                    metadata: metadata.into(),
                });
            }
        }
        if !ok {
            return None;
        }
        Some(Decl::Data(Data {
            pos: Some(decl.name_span.pos.clone()),
            comments: ThinVec::from(meta.comments.as_slice()),
            visibility: meta.visibility,
            name: upper_camel(&decl.name),
            type_params: decl
                .type_params
                .iter()
                .map(|p| TypeParameter {
                    pos: Some(decl.name_span.pos.clone()),
                    name: p.clone(),
                })
                .collect(),
            metadata: ThinVec::new(),
            fields: out,
        }))
    }
}

/// `json:"id,omitempty" db:"id"`.
pub fn struct_tag(tag: &str, key: &str) -> Option<String> {
    let mut rest = tag;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return None;
        }
        let name_len = rest
            .bytes()
            .take_while(|&b| b > b' ' && b != b':' && b != b'"' && b != 0x7f)
            .count();
        if name_len == 0 || !rest[name_len..].starts_with(":\"") {
            return None;
        }
        let name = &rest[..name_len];
        rest = &rest[name_len + 1..];
        // The quoted value, up to the first unescaped quote.
        let bytes = rest.as_bytes();
        let mut i = 1;
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let quoted = &rest[..=i];
        rest = &rest[i + 1..];
        if name == key {
            return unquote(quoted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::struct_tag;

    #[test]
    fn struct_tags_like_reflect() {
        assert_eq!(
            struct_tag(r#"json:"id,omitempty" db:"x""#, "json").as_deref(),
            Some("id,omitempty")
        );
        assert_eq!(
            struct_tag(r#"db:"x"  json:"name""#, "json").as_deref(),
            Some("name")
        );
        assert_eq!(struct_tag(r#"db:"x""#, "json"), None);
        assert_eq!(
            struct_tag(r#"json:"a\"b""#, "json").as_deref(),
            Some("a\"b")
        );
        assert_eq!(struct_tag("json:", "json"), None);
    }
}
