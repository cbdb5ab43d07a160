//! Declarations: `data`, `verb`, `enum`, `typealias`, `config`,
//! `secret`, `database` and `topic`, with their fields and variants.

use super::{Parser, Result, exact};
use crate::schema::diagnostic::Diagnostic;
use crate::schema::model::*;

const DECL_KEYWORDS: &str = "data, verb, enum, typealias, config, secret, database or topic";

/// What opens a block that cannot stand inside a data or enum body: a line
/// `data B {` there means the body before it lacks its `}`.
const INNER_OPENERS: &[&str] = &["data", "enum", "verb", "typealias", "module", "realm"];

impl<'a> Parser<'a> {
    pub(super) fn decl(&mut self, comments: ThinVec<String>) -> Result<Decl> {
        self.skip_ws();
        let pos = self.pos();
        let mut visibility = Visibility::Private;
        if self.eat_keyword("export") {
            visibility = if self.eat_keyword("realm") {
                Visibility::ExportRealm
            } else {
                Visibility::Export
            };
        }
        let Some((keyword, keyword_pos)) = self.ident() else {
            return Err(self.expected(&format!("a declaration ({DECL_KEYWORDS})")));
        };
        let unexportable = |p: &Self, kind: &str| {
            if visibility == Visibility::Private {
                Ok(())
            } else {
                Err(p
                    .error_at(
                        pos.clone(),
                        format!("{kind} declarations cannot be exported"),
                    )
                    .with_len(visibility.prefix().trim_end().len())
                    .with_help(format!(
                        "remove `{}`; {kind} values are private to their module",
                        visibility.prefix().trim_end()
                    )))
            }
        };
        let decl = match keyword {
            "data" => Decl::Data(self.data(pos, comments, visibility)?),
            "verb" => {
                let (name, _) = self.expect_ident("a verb name")?;
                self.expect(b'(', "`(` and the request type")?;
                let request = self.ty()?;
                self.expect(b')', "`)` after the request type")?;
                let response = self.ty_on_line(format_args!("the response type"))?;
                let metadata = self.metadata_lines()?;
                Decl::Verb(Verb {
                    pos: Some(pos),
                    comments,
                    visibility,
                    name: name.to_string(),
                    request,
                    response,
                    metadata,
                })
            }
            "enum" => Decl::Enum(self.enumeration(pos, comments, visibility)?),
            "typealias" => {
                let (name, _) = self.expect_ident("a type alias name")?;
                let ty = self.ty_on_line(format_args!("the aliased type"))?;
                let metadata = self.metadata_lines()?;
                Decl::TypeAlias(TypeAlias {
                    pos: Some(pos),
                    comments,
                    visibility,
                    name: name.to_string(),
                    ty,
                    metadata,
                })
            }
            "config" => {
                unexportable(self, "config")?;
                let (name, _) = self.expect_ident("a config name")?;
                let ty = self.ty_on_line(format_args!("the config's type"))?;
                Decl::Config(Config {
                    pos: Some(pos),
                    comments,
                    name: name.to_string(),
                    ty,
                })
            }
            "secret" => {
                unexportable(self, "secret")?;
                let (name, _) = self.expect_ident("a secret name")?;
                let ty = self.ty_on_line(format_args!("the secret's type"))?;
                Decl::Secret(Secret {
                    pos: Some(pos),
                    comments,
                    name: name.to_string(),
                    ty,
                })
            }
            "database" => {
                unexportable(self, "database")?;
                let engine_pos = {
                    self.skip_ws();
                    self.pos()
                };
                let (engine, _) = self.expect_ident("a database engine (postgres or mysql)")?;
                let Some(engine) = DatabaseEngine::from_keyword(engine) else {
                    return Err(self
                        .error_at(engine_pos, format!("unknown database engine `{engine}`"))
                        .with_len(engine.len())
                        .with_label("expected postgres or mysql"));
                };
                let (name, _) = self.expect_ident("a database name")?;
                let metadata = self.metadata_lines()?;
                Decl::Database(Database {
                    pos: Some(pos),
                    comments,
                    engine,
                    name: name.to_string(),
                    metadata,
                })
            }
            "topic" => {
                let (name, _) = self.expect_ident("a topic name")?;
                let event = self.ty_on_line(format_args!("the topic's event type"))?;
                let metadata = self.metadata_lines()?;
                Decl::Topic(Topic {
                    pos: Some(pos),
                    comments,
                    visibility,
                    name: name.to_string(),
                    event,
                    metadata,
                })
            }
            other => {
                return Err(Diagnostic::new(
                    format!("expected a declaration ({DECL_KEYWORDS}), found `{other}`"),
                    Some(keyword_pos),
                )
                .with_len(other.len())
                .with_label("unknown declaration kind"));
            }
        };
        Ok(decl)
    }

    pub(super) fn data(
        &mut self,
        pos: Pos,
        comments: ThinVec<String>,
        visibility: Visibility,
    ) -> Result<Data> {
        let (name, _) = self.expect_ident("a data name")?;
        let mut type_params = Vec::new();
        if self.eat(b'<') {
            loop {
                let (param, param_pos) = self.expect_ident("a type parameter name")?;
                type_params.push(TypeParameter {
                    pos: Some(param_pos),
                    name: param.to_string(),
                });
                if self.eat(b'>') {
                    break;
                }
                self.expect(b',', "`,` or `>` in the type parameter list")?;
            }
        }
        self.expect(b'{', "`{` to open the data body")?;
        let metadata = self.metadata_lines()?;
        let mut fields = super::FIELDS.take();
        loop {
            let comments = self.comments()?;
            if self.eat(b'}') {
                self.dangling_comments(&comments, "a field")?;
                break;
            }
            self.check_unclosed(&pos, format_args!("data `{name}`"), INNER_OPENERS)?;
            let Some((field_name, field_pos)) = self.ident() else {
                return Err(self.expected("a field name or `}`"));
            };
            let ty = self.ty_on_line(format_args!("the type of field `{field_name}`"))?;
            let metadata = self.metadata_lines()?;
            fields.push(Field {
                pos: Some(field_pos),
                comments,
                name: field_name.to_string(),
                ty,
                metadata,
            });
        }
        Ok(Data {
            pos: Some(pos),
            comments,
            visibility,
            name: name.to_string(),
            type_params: type_params.into(),
            metadata,
            fields: super::settle(&super::FIELDS, fields),
        })
    }

    pub(super) fn enumeration(
        &mut self,
        pos: Pos,
        comments: ThinVec<String>,
        visibility: Visibility,
    ) -> Result<Enum> {
        let (name, _) = self.expect_ident("an enum name")?;
        let ty = if self.eat(b':') {
            Some(self.ty()?)
        } else {
            None
        };
        self.expect(b'{', "`{` to open the enum body")?;
        let mut variants = Vec::new();
        loop {
            let comments = self.comments()?;
            if self.eat(b'}') {
                self.dangling_comments(&comments, "an enum variant")?;
                break;
            }
            self.check_unclosed(&pos, format_args!("enum `{name}`"), INNER_OPENERS)?;
            let Some((variant, variant_pos)) = self.ident() else {
                return Err(self.expected("a variant name or `}`"));
            };
            let value = if self.eat(b'=') {
                self.skip_ws();
                match self.peek() {
                    Some(b'"') => VariantValue::String(self.string("a string value")?),
                    // FTL's grammar also takes `A = Type`: a type variant.
                    Some(c) if is_ident_start(c) || c == b'[' || c == b'{' => {
                        VariantValue::Type(self.ty()?)
                    }
                    _ => VariantValue::Int(self.integer("a string or integer value")?),
                }
            } else {
                self.skip_ws();
                if self.line != self.last_token_line || self.peek() == Some(b'}') {
                    return Err(Diagnostic::new(
                        format!("enum variant `{variant}` has no value or type"),
                        Some(variant_pos),
                    )
                    .with_len(variant.len())
                    .with_help(format!(
                        "write `{variant} = \"value\"` in a value enum or `{variant} Type` in a type enum"
                    )));
                }
                VariantValue::Type(self.ty()?)
            };
            variants.push(EnumVariant {
                pos: Some(variant_pos),
                comments,
                name: variant.to_string(),
                value,
            });
        }
        Ok(Enum {
            pos: Some(pos),
            comments,
            visibility,
            name: name.to_string(),
            ty,
            variants: exact(variants),
        })
    }
}
