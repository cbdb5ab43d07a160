//! The strict parser of the subset of RFC 8941 structured fields that
//! `Signature-Input` and `Signature` use: a dictionary whose members are
//! inner lists of strings with parameters (integers, strings), or byte
//! sequences. Anything else, and anything past the bounds of the parent
//! module, is a syntax error naming the header.
//!
//! Pure: no I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Error, MAX_COMPONENTS, MAX_MEMBERS, MAX_STRING, Param};

/// An RFC 8941 key: `lcalpha / "*"`, then `lcalpha / DIGIT / "_" / "-" /
/// "." / "*"`.
pub fn is_key(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'*'))
        && s.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'))
}

/// A dictionary member's value, of the kinds these headers use.
pub(super) enum Item {
    /// An inner list of strings with parameters.
    Inner(Vec<String>, Vec<(String, Param)>),
    /// A byte sequence (its parameters, if any, refused).
    Bytes(Vec<u8>),
}

/// A strict parser of the RFC 8941 dictionaries these headers are.
pub(super) struct Parser<'a> {
    header: &'static str,
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(header: &'static str, s: &'a str) -> Self {
        Parser {
            header,
            s: s.as_bytes(),
            i: 0,
        }
    }

    fn fail<T>(&self, reason: impl Into<String>) -> Result<T, Error> {
        Err(Error::Syntax {
            header: self.header,
            reason: format!("{} at byte {}", reason.into(), self.i),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip(&mut self, ows: &[u8]) {
        while self.peek().is_some_and(|b| ows.contains(&b)) {
            self.i += 1;
        }
    }

    pub(super) fn dictionary(mut self) -> Result<Vec<(String, Item)>, Error> {
        let mut members: Vec<(String, Item)> = Vec::new();
        self.skip(b" ");
        loop {
            let key = self.key()?;
            if !self.eat(b'=') {
                return self.fail("expected `=`");
            }
            let item = match self.peek() {
                Some(b'(') => {
                    let list = self.inner_list()?;
                    let params = self.params()?;
                    Item::Inner(list, params)
                }
                Some(b':') => {
                    let bytes = self.bytes()?;
                    if self.peek() == Some(b';') {
                        return self.fail("parameters on a byte sequence");
                    }
                    Item::Bytes(bytes)
                }
                _ => return self.fail("expected an inner list or a byte sequence"),
            };
            if members.iter().any(|(k, _)| *k == key) {
                return self.fail(format!("member `{key}` given twice"));
            }
            members.push((key, item));
            if members.len() > MAX_MEMBERS {
                return self.fail(format!("more than {MAX_MEMBERS} members"));
            }
            self.skip(b" \t");
            if self.peek().is_none() {
                return Ok(members);
            }
            if !self.eat(b',') {
                return self.fail("expected `,`");
            }
            self.skip(b" \t");
            if self.peek().is_none() {
                return self.fail("a trailing `,`");
            }
        }
    }

    fn key(&mut self) -> Result<String, Error> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'))
        {
            self.i += 1;
        }
        let key = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        if !is_key(&key) {
            return self.fail("expected a lowercase key");
        }
        Ok(key)
    }

    fn inner_list(&mut self) -> Result<Vec<String>, Error> {
        self.i += 1; // (
        let mut list = Vec::new();
        loop {
            self.skip(b" ");
            if self.eat(b')') {
                return Ok(list);
            }
            if !list.is_empty() && self.s.get(self.i - 1) != Some(&b' ') {
                return self.fail("expected a space between items");
            }
            let item = self.string()?;
            if self.peek() == Some(b';') {
                return self.fail("component parameters are not supported");
            }
            list.push(item);
            if list.len() > MAX_COMPONENTS {
                return self.fail(format!("more than {MAX_COMPONENTS} components"));
            }
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return self.fail("expected ` ` or `)`");
            }
        }
    }

    fn params(&mut self) -> Result<Vec<(String, Param)>, Error> {
        let mut params: Vec<(String, Param)> = Vec::new();
        while self.eat(b';') {
            self.skip(b" ");
            let name = self.key()?;
            if !self.eat(b'=') {
                return self.fail(format!("parameter `{name}` has no value"));
            }
            let value = match self.peek() {
                Some(b'"') => Param::Str(self.string()?),
                Some(b'-' | b'0'..=b'9') => Param::Int(self.integer()?),
                _ => return self.fail(format!("parameter `{name}` is not a string or an integer")),
            };
            if params.iter().any(|(n, _)| *n == name) {
                return self.fail(format!("parameter `{name}` given twice"));
            }
            params.push((name, value));
        }
        Ok(params)
    }

    fn string(&mut self) -> Result<String, Error> {
        if !self.eat(b'"') {
            return self.fail("expected a string");
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.fail("an unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(c as char),
                        _ => return self.fail("a bad escape in a string"),
                    }
                }
                Some(c @ 0x20..=0x7e) => out.push(c as char),
                Some(_) => return self.fail("a character strings cannot hold"),
            }
            self.i += 1;
            if out.len() > MAX_STRING {
                return self.fail(format!("a string longer than {MAX_STRING} bytes"));
            }
        }
    }

    fn integer(&mut self) -> Result<i64, Error> {
        let start = self.i;
        self.eat(b'-');
        let digits = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        let n = self.i - digits;
        if n == 0 || n > 15 {
            return self.fail("an integer of 1 to 15 digits expected");
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("x");
        match text.parse() {
            Ok(v) => Ok(v),
            Err(_) => self.fail("a bad integer"),
        }
    }

    fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.i += 1; // :
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            self.i += 1;
        }
        let text = &self.s[start..self.i];
        if !self.eat(b':') {
            return self.fail("an unterminated byte sequence");
        }
        match STANDARD.decode(text) {
            Ok(b) => Ok(b),
            Err(_) => self.fail("a byte sequence that is not base64"),
        }
    }
}
