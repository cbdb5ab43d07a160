//! Examples: what a fake realm answers to given requests, in place of a
//! generated reply. `fakes/<realm>/<module>.<verb>.json` holds a JSON
//! array of examples, each
//!
//! ```json
//! {"name": "overdraft",
//!  "match": {"amount": 100000},
//!  "error": {"status": 409, "code": "insufficient_funds", "message": "..."}}
//! ```
//!
//! - `request` (the whole request, matched exactly; `null` for an empty
//!   body) or `match` (a part of it: every member of an object in `match`
//!   must be in the request with a matching value; anything else, arrays
//!   included, is matched exactly; `{}` matches every request);
//! - `reply` (the reply, status 200) or `error` (a status from 400 to 599,
//!   a `code` and a `message`: answered as the ingress's JSON error body);
//! - `name` (optional): how messages name the example.
//!
//! Every example is checked against the pinned schema when the fake
//! starts (requests and replies with the ingress's own [`Checker`], a
//! `match` member by member): one that does not fit is an error naming the
//! file, the example and the JSON path in the file.
//!
//! Parsing and checking are pure: the files' texts are read by the caller.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::generate::substitute;
use crate::schema::json::{Checker, push_member};
use crate::schema::{Decl, Type, Verb, Visibility};

/// One example.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// `example 2 ("overdraft")`, as messages name it.
    pub label: String,
    pub when: When,
    pub then: Then,
}

/// Which requests an example answers.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// This request exactly (`None`: an empty body, written `null`).
    Request(Option<Value>),
    /// Requests that hold this part.
    Match(Value),
}

/// What an example answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Then {
    Reply(Value),
    Error {
        status: u16,
        code: String,
        message: String,
    },
}

impl Example {
    /// Whether the example answers `request` (`None`: an empty body).
    pub fn matches(&self, request: Option<&Value>) -> bool {
        match &self.when {
            When::Request(expected) => expected.as_ref() == request,
            // An empty body holds no member: `{}` matches it.
            When::Match(part) => match request {
                Some(r) => holds(r, part),
                None => part.as_object().is_some_and(|o| o.is_empty()),
            },
        }
    }
}

/// Whether `value` holds `part`: objects member by member, anything else
/// equal.
fn holds(value: &Value, part: &Value) -> bool {
    match (value, part) {
        (Value::Object(members), Value::Object(wanted)) => wanted
            .iter()
            .all(|(k, w)| members.get(k).is_some_and(|v| holds(v, w))),
        _ => value == part,
    }
}

/// Why an examples file cannot be used: the file (as the user names it),
/// the example, the JSON path in the file and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExampleError {
    pub file: String,
    /// `example 2 ("overdraft")`; `None` for the file as a whole.
    pub example: Option<String>,
    /// `$[1].reply.balance`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ExampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(example) = &self.example {
            write!(f, ": {example}")?;
        }
        write!(f, ": {}: {}", self.path, self.message)
    }
}

impl std::error::Error for ExampleError {}

/// The verb an examples file is for: its name is `<module>.<verb>.json`,
/// and the verb an `export realm` verb of the realm.
pub fn verb_of_file<'c>(checker: &'c Checker, stem: &str) -> Result<(String, &'c Verb), String> {
    let verbs = || {
        let mut names: Vec<String> = checker
            .realm()
            .decls()
            .filter(|(m, d)| {
                !m.builtin && matches!(d, Decl::Verb(v) if v.visibility == Visibility::ExportRealm)
            })
            .map(|(m, d)| format!("{}.{}", m.name, d.name()))
            .collect();
        names.sort();
        if names.is_empty() {
            "it exports no verbs".to_string()
        } else {
            format!("its verbs are: {}", names.join(", "))
        }
    };
    let Some((module, verb)) = stem.split_once('.') else {
        return Err(format!(
            "the file's name is not <module>.<verb>.json; {}",
            verbs()
        ));
    };
    match checker.decl(module, verb) {
        Some(Decl::Verb(v)) if v.visibility == Visibility::ExportRealm && module != "builtin" => {
            Ok((module.to_string(), v))
        }
        _ => Err(format!(
            "realm `{}` exports no verb `{module}.{verb}`; {}",
            checker.realm().name,
            verbs()
        )),
    }
}

/// Reads and checks the examples of `verb` in `text`, the content of
/// `file` (named so in errors).
pub fn parse(
    checker: &Checker,
    verb: &Verb,
    file: &str,
    text: &str,
) -> Result<Vec<Example>, ExampleError> {
    let fail = |example: Option<&str>, path: String, message: String| ExampleError {
        file: file.to_string(),
        example: example.map(str::to_string),
        path,
        message,
    };
    let value = crate::schema::json_read::read_body(text.as_bytes())
        .map_err(|e| {
            fail(
                None,
                e.path.unwrap_or_else(|| "$".to_string()),
                format!("not JSON: {}", e.message),
            )
        })?
        .unwrap_or(Value::Null);
    let Value::Array(items) = value else {
        return Err(fail(
            None,
            "$".into(),
            "expected an array of examples ([{\"request\": ..., \"reply\": ...}, ...])".into(),
        ));
    };
    let mut examples = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("$[{i}]");
        let Value::Object(mut members) = item else {
            return Err(fail(
                Some(&format!("example {}", i + 1)),
                at,
                "expected an object with `request` or `match`, and `reply` or `error`".into(),
            ));
        };
        let label = match members.get("name") {
            Some(Value::String(name)) => format!("example {} ({name:?})", i + 1),
            _ => format!("example {}", i + 1),
        };
        let fail = |path: String, message: String| fail(Some(&label), path, message);
        for key in members.keys() {
            if !["name", "request", "match", "reply", "error"].contains(&key.as_str()) {
                let mut path = at.clone();
                push_member(&mut path, key);
                return Err(fail(
                    path,
                    format!(
                        "unknown key `{key}`; an example has `name`, `request` or `match`, and `reply` or `error`"
                    ),
                ));
            }
        }
        if let Some(name) = members.get("name")
            && !name.is_string()
        {
            return Err(fail(format!("{at}.name"), "expected a string".into()));
        }
        let when = match (members.remove("request"), members.remove("match")) {
            (Some(_), Some(_)) => {
                return Err(fail(
                    at,
                    "both `request` and `match`; give one: `request` is matched exactly, `match` is a part of the request".into(),
                ));
            }
            (None, None) => {
                return Err(fail(
                    at,
                    "no `request` or `match`; give one: `request` is matched exactly, `match` is a part of the request (`{}` matches every request)".into(),
                ));
            }
            (Some(request), None) => {
                let request = (!request.is_null()).then_some(request);
                checker
                    .check_body(&verb.request, request.as_ref())
                    .map_err(|e| {
                        fail(
                            graft(&format!("{at}.request"), &e.path),
                            format!("the request does not fit {}: {}", verb.request, e.message),
                        )
                    })?;
                When::Request(request)
            }
            (None, Some(part)) => {
                let mut path = format!("{at}.match");
                check_part(checker, &verb.request, &part, &HashMap::new(), &mut path, 0).map_err(
                    |(path, message)| {
                        fail(
                            path,
                            format!("the match does not fit {}: {message}", verb.request),
                        )
                    },
                )?;
                When::Match(part)
            }
        };
        let then = match (members.remove("reply"), members.remove("error")) {
            (Some(_), Some(_)) => {
                return Err(fail(at, "both `reply` and `error`; give one".into()));
            }
            (None, None) => {
                return Err(fail(
                    at,
                    "no `reply` or `error`; give what the verb answers".into(),
                ));
            }
            (Some(reply), None) => {
                checker
                    .check_body(&verb.response, Some(&reply))
                    .map_err(|e| {
                        fail(
                            graft(&format!("{at}.reply"), &e.path),
                            format!("the reply does not fit {}: {}", verb.response, e.message),
                        )
                    })?;
                Then::Reply(reply)
            }
            (None, Some(error)) => error_of(error, &format!("{at}.error"))
                .map_err(|(path, message)| fail(path, message))?,
        };
        examples.push(Example { label, when, then });
    }
    Ok(examples)
}

/// `path` (the checker's, from `$`) below `at`.
fn graft(at: &str, path: &str) -> String {
    format!("{at}{}", path.strip_prefix('$').unwrap_or(path))
}

/// An `error`: `{"status": 400-599, "code": "...", "message": "..."}`.
fn error_of(error: Value, at: &str) -> Result<Then, (String, String)> {
    let Value::Object(members) = error else {
        return Err((
            at.to_string(),
            "expected {\"status\": 400-599, \"code\": \"...\", \"message\": \"...\"}".into(),
        ));
    };
    for key in members.keys() {
        if !["status", "code", "message"].contains(&key.as_str()) {
            let mut path = at.to_string();
            push_member(&mut path, key);
            return Err((
                path,
                format!("unknown key `{key}`; an error has `status`, `code` and `message`"),
            ));
        }
    }
    let status = members
        .get("status")
        .and_then(Value::as_u64)
        .filter(|s| (400..=599).contains(s))
        .ok_or_else(|| {
            (
                format!("{at}.status"),
                "expected a status from 400 to 599".to_string(),
            )
        })?;
    let text = |key: &str| match members.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err((
            format!("{at}.{key}"),
            "expected a string, not empty".to_string(),
        )),
    };
    Ok(Then::Error {
        status: status as u16,
        code: text("code")?,
        message: text("message")?,
    })
}

/// Checks a `match` against the request type: an object for data member
/// by member (each a field of the data), anything else as a whole value
/// of its type.
fn check_part(
    checker: &Checker,
    ty: &Type,
    part: &Value,
    params: &HashMap<String, Type>,
    path: &mut String,
    depth: usize,
) -> Result<(), (String, String)> {
    if let Value::Object(members) = part
        && depth < 64
        && let Some((data, params)) = data_of(checker, ty, params)
    {
        for (key, value) in members {
            let len = path.len();
            push_member(path, key);
            let Some(field) = data.fields.iter().find(|f| f.json_name() == key) else {
                let known: Vec<&str> = data.fields.iter().map(|f| f.json_name()).collect();
                return Err((
                    path.clone(),
                    format!(
                        "unknown field `{key}` of {}; the fields are: {}",
                        data.name,
                        known.join(", ")
                    ),
                ));
            };
            check_part(checker, &field.ty, value, &params, path, depth + 1)?;
            path.truncate(len);
        }
        return Ok(());
    }
    let ty = substitute(ty, params);
    checker
        .check_body(&ty, Some(part))
        .map_err(|e| (graft(path, &e.path), e.message))
}

/// The data type `ty` names (through optionals and aliases), with its
/// type parameters bound; not for `+protobuf` messages (matched whole).
fn data_of<'c>(
    checker: &'c Checker,
    ty: &Type,
    params: &HashMap<String, Type>,
) -> Option<(&'c crate::schema::Data, HashMap<String, Type>)> {
    let mut ty = substitute(ty, params);
    for _ in 0..64 {
        ty = match ty {
            Type::Optional(inner) => *inner,
            Type::Ref(r) => match r.module.as_deref().and_then(|m| checker.decl(m, &r.name)) {
                Some(Decl::TypeAlias(alias)) => alias.ty.clone(),
                Some(Decl::Data(data)) if data.protobuf_message().is_none() => {
                    let params = data
                        .type_params
                        .iter()
                        .zip(r.type_args)
                        .map(|(p, arg)| (p.name.clone(), arg))
                        .collect();
                    return Some((data, params));
                }
                _ => return None,
            },
            _ => return None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn checker() -> Checker {
        let schema = parse_schema(
            "e.ftl",
            "realm r {
  module m {
    export realm verb find(m.Query) m.Page<m.Item>

    export realm verb ping(Unit) Unit

    export realm data Query {
      filter m.Filter?
      tags [String]
      limit Int? +alias json \"max\"
    }

    export realm data Filter {
      sku String
      min Int?
    }

    export realm data Page<T> {
      items [T]
    }

    export realm data Item {
      sku String
    }
  }
}
",
        )
        .unwrap_or_else(|d| panic!("{d}"));
        Checker::new(&schema.realms[0])
    }

    fn examples(stem: &str, text: &str) -> Result<Vec<Example>, String> {
        let checker = checker();
        let (_, verb) = verb_of_file(&checker, stem)?;
        parse(&checker, verb, "f.json", text).map_err(|e| e.to_string())
    }

    #[test]
    fn requests_match_exactly_and_matches_by_part() {
        let list = examples(
            "m.find",
            r#"[
              {"match": {"filter": {"sku": "a"}}, "reply": {"items": [{"sku": "a"}]}},
              {"request": {"tags": ["x"]}, "reply": {"items": []}},
              {"match": {"tags": ["y"]}, "error": {"status": 404, "code": "none", "message": "no y"}}
            ]"#,
        )
        .expect("valid");
        let first = |request: Value| {
            list.iter()
                .position(|e| e.matches(Some(&request)))
                .map(|i| i + 1)
        };
        assert_eq!(
            first(json!({"tags": [], "filter": {"sku": "a", "min": 3}})),
            Some(1)
        );
        assert_eq!(first(json!({"tags": [], "filter": {"sku": "b"}})), None);
        assert_eq!(first(json!({"tags": ["x"]})), Some(2));
        assert_eq!(first(json!({"tags": ["x"], "max": 1})), None);
        // Arrays in a match are matched whole.
        assert_eq!(first(json!({"tags": ["y"]})), Some(3));
        assert_eq!(first(json!({"tags": ["y", "z"]})), None);
        assert!(matches!(list[2].then, Then::Error { status: 404, .. }));
        // An empty body is the request `null`.
        let ping = examples("m.ping", r#"[{"request": null, "reply": {}}]"#).expect("valid");
        assert!(ping[0].matches(None));
        assert!(!ping[0].matches(Some(&json!({}))));
        let any = examples("m.ping", r#"[{"match": {}, "reply": {}}]"#).expect("valid");
        assert!(any[0].matches(None) && any[0].matches(Some(&json!({}))));
    }

    #[test]
    fn what_does_not_fit_is_named_with_its_path() {
        for (text, expected) in [
            (
                r#"[{"match": {"filter": {"sku": 1}}, "reply": {"items": []}}]"#,
                "f.json: example 1: $[0].match.filter.sku: the match does not fit m.Query: expected a string (String), found number 1",
            ),
            (
                r#"[{"match": {"limit": 1}, "reply": {"items": []}}]"#,
                "f.json: example 1: $[0].match.limit: the match does not fit m.Query: unknown field `limit` of Query; the fields are: filter, tags, max",
            ),
            (
                r#"[{"name": "one", "match": {}, "reply": {"items": [{"sku": "a"}, {}]}}]"#,
                "f.json: example 1 (\"one\"): $[0].reply.items[1].sku: the reply does not fit m.Page<m.Item>: missing required field `sku` (String)",
            ),
            (
                r#"[{"match": {}, "request": {"tags": []}, "reply": {"items": []}}]"#,
                "f.json: example 1: $[0]: both `request` and `match`",
            ),
            (
                r#"[{"match": {}}]"#,
                "f.json: example 1: $[0]: no `reply` or `error`",
            ),
            (
                r#"[{"match": {}, "error": {"status": 500, "code": "", "message": "m"}}]"#,
                "f.json: example 1: $[0].error.code: expected a string, not empty",
            ),
            (
                r#"[{"match": {}, "reply": {"items": []}}, {"match": {}, "reply": {"items": []}, "match": {}}]"#,
                "f.json: $[1].match: not JSON",
            ),
        ] {
            let got = examples("m.find", text).expect_err(expected);
            assert!(got.starts_with(expected), "{expected}\n---\n{got}");
        }
        assert_eq!(
            examples("m.nope", "[]").expect_err("no verb"),
            "realm `r` exports no verb `m.nope`; its verbs are: m.find, m.ping"
        );
        assert_eq!(
            examples("find", "[]").expect_err("no module"),
            "the file's name is not <module>.<verb>.json; its verbs are: m.find, m.ping"
        );
    }
}
