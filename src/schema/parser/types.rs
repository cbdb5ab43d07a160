//! Types and references: builtin types, `[T]`, `{K: V}`, `T?`,
//! `module.Name<Args>@realm`, and reference lists in metadata.

use super::{Parser, Result, exact};
use crate::schema::model::*;

impl<'a> Parser<'a> {
    /// A type that must start on the line of the previous token, as a
    /// field's type after its name does.
    pub(super) fn ty_on_line(&mut self, what: std::fmt::Arguments<'_>) -> Result<Type> {
        self.inline = true;
        self.skip_ws();
        self.inline = false;
        match self.peek() {
            None | Some(b'\n') => Err(self.expected(&what.to_string())),
            _ if self.at_comment() => Err(self.expected(&what.to_string())),
            _ => self.ty(),
        }
    }

    pub(super) fn ty(&mut self) -> Result<Type> {
        self.skip_ws();
        if self.type_depth >= MAX_TYPE_DEPTH {
            let pos = self.pos();
            return Err(self
                .error_at(pos, format!("types nest more than {MAX_TYPE_DEPTH} deep here"))
                .with_help(format!(
                    "realm reads types nested at most {MAX_TYPE_DEPTH} deep; name an inner type with a `typealias` or a `data` declaration"
                )));
        }
        self.type_depth += 1;
        let ty = self.ty_inner();
        self.type_depth -= 1;
        ty
    }

    pub(super) fn ty_inner(&mut self) -> Result<Type> {
        let ty = match self.peek() {
            Some(b'[') => {
                self.bump();
                let element = self.ty()?;
                self.expect(b']', "`]` to close the list type")?;
                Type::List(Box::new(element))
            }
            Some(b'{') => {
                self.bump();
                let key = self.ty()?;
                self.expect(b':', "`:` between the map's key and value types")?;
                let value = self.ty()?;
                self.expect(b'}', "`}` to close the map type")?;
                Type::Map(Box::new(key), Box::new(value))
            }
            Some(c) if is_ident_start(c) => {
                let (first, pos) = self.expect_ident("a type")?;
                match Type::scalar(first) {
                    Some(scalar) if self.peek() != Some(b'.') => scalar,
                    _ => Type::from(self.ref_after_ident(first, pos)?),
                }
            }
            _ => return Err(self.expected("a type")),
        };
        if self.peek() == Some(b'?') {
            let pos = self.pos();
            self.bump();
            self.token_end();
            if self.peek() == Some(b'?') {
                return Err(self
                    .error_at(pos, "a type can be optional only once")
                    .with_len(2)
                    .with_help("remove the second `?`"));
            }
            return Ok(Type::Optional(Box::new(ty)));
        }
        Ok(ty)
    }

    /// The rest of a reference after its first identifier:
    /// `[.Name][<Args>][@realm]`, with no blanks in between.
    pub(super) fn ref_after_ident(&mut self, first: &str, pos: Pos) -> Result<Ref> {
        let (module, name) = if self.peek() == Some(b'.') {
            self.bump();
            let name = self.ident_here("a declaration name after `.`")?;
            (Some(first.to_string()), name.to_string())
        } else {
            (None, first.to_string())
        };
        let mut type_args = Vec::new();
        if self.peek() == Some(b'<') {
            self.bump();
            loop {
                type_args.push(self.ty()?);
                if self.eat(b'>') {
                    break;
                }
                self.expect(b',', "`,` or `>` in the type argument list")?;
            }
        }
        let realm = if self.peek() == Some(b'@') {
            self.bump();
            Some(self.ident_here("a realm name after `@`")?.to_string())
        } else {
            None
        };
        Ok(Ref {
            pos: Some(pos),
            realm,
            module,
            name,
            type_args: type_args.into(),
        })
    }

    /// A reference in metadata: `module.name`, or a bare `name`, which
    /// resolves in the module it is written in (or the builtin module), as
    /// in FTL.
    pub(super) fn metadata_ref(&mut self, what: &str) -> Result<Ref> {
        let (first, pos) = self.expect_ident(what)?;
        self.ref_after_ident(first, pos)
    }

    /// `a.b, c.d, ...`: FTL's printer continues long lists on the next
    /// lines, after a comma.
    pub(super) fn refs(&mut self, what: &str) -> Result<Vec<Ref>> {
        let mut refs = vec![self.metadata_ref(what)?];
        while self.eat_list_comma() {
            refs.push(self.metadata_ref(what)?);
        }
        Ok(exact(refs))
    }

    /// A `,` between the items of a metadata list, on this line or at the
    /// start of the next; after it the list may go on on the next line.
    pub(super) fn eat_list_comma(&mut self) -> bool {
        let (i, line, line_start) = (self.i, self.line, self.line_start);
        let inline = std::mem::replace(&mut self.inline, false);
        let found = self.eat(b',');
        if found {
            self.skip_ws();
        } else {
            (self.i, self.line, self.line_start) = (i, line, line_start);
        }
        self.inline = inline;
        found
    }
}
