//! `realm serve --record DIR`: the calls that crossed to other realms,
//! kept as examples `realm fake` replays: `DIR/<realm>/<module>.<verb>.json`,
//! one example per request (`request` and `reply`, or `error` for a JSON
//! error answer), the latest answer of a request replacing the one before.
//!
//! Bodies only: no header, signature or request id is written. A reply
//! that does not fit the verb's response type in the pinned schema is not
//! kept (the fake would refuse to start with it). Files are written by a
//! thread of their own, through [`crate::files`], so no call waits on a
//! write; a file that is there already and is not an array of examples is
//! left alone (and nothing is recorded into it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

use serde_json::{Map, Value};

use crate::ingress::record::{CallRecorder, Crossed};
use crate::ingress::reply::ErrorBody;
use crate::schema::Decl;
use crate::schema::json::Checker;

/// One crossed call, as the writer thread gets it.
#[derive(Debug)]
struct Crossing {
    realm: String,
    module: String,
    verb: String,
    request: Option<Value>,
    status: u16,
    body: Vec<u8>,
}

/// Records crossed calls into a directory of examples.
#[derive(Debug)]
pub struct Recorder {
    sender: Mutex<Option<mpsc::Sender<Crossing>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Recorder {
    /// Records into `dir` the calls to the realms of `realms` (by the
    /// name this project pins each under, with the checker of its public
    /// API).
    pub fn start(dir: PathBuf, realms: HashMap<String, Checker>) -> std::io::Result<Recorder> {
        let (sender, receiver) = mpsc::channel::<Crossing>();
        let writer = std::thread::Builder::new()
            .name("realm-record".into())
            .spawn(move || {
                let mut files = Files::default();
                for crossing in receiver {
                    let Some(checker) = realms.get(&crossing.realm) else {
                        continue;
                    };
                    let path = dir
                        .join(&crossing.realm)
                        .join(format!("{}.{}.json", crossing.module, crossing.verb));
                    match example_of(checker, &crossing) {
                        Ok(example) => files.record(&path, example),
                        Err(why) => tracing::warn!(
                            "not recorded: {}.{}@{}: {why}",
                            crossing.module,
                            crossing.verb,
                            crossing.realm
                        ),
                    }
                }
            })?;
        Ok(Recorder {
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        })
    }
}

impl CallRecorder for Recorder {
    fn record(&self, crossed: Crossed<'_>) {
        let crossing = Crossing {
            realm: crossed.realm.to_string(),
            module: crossed.module.to_string(),
            verb: crossed.verb.name.clone(),
            request: crossed.request.cloned(),
            status: crossed.reply.status.as_u16(),
            body: crossed.reply.body.to_vec(),
        };
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = sender.as_ref() {
            let _ = sender.send(crossing);
        }
    }
}

impl Drop for Recorder {
    /// Writes what is left before the process ends.
    fn drop(&mut self) {
        drop(self.sender.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

/// The example of a crossed call: `{"request", "reply"}` for a success
/// whose body fits the response type, `{"request", "error"}` for a JSON
/// error answer (400-599).
fn example_of(checker: &Checker, crossing: &Crossing) -> Result<Value, String> {
    let Some(Decl::Verb(verb)) = checker.decl(&crossing.module, &crossing.verb) else {
        return Err("the verb is not in the pinned schema".into());
    };
    let mut example = Map::new();
    example.insert(
        "request".into(),
        crossing.request.clone().unwrap_or(Value::Null),
    );
    if (200..300).contains(&crossing.status) {
        let reply = crate::schema::json_read::read_body(&crossing.body)
            .map_err(|e| format!("the reply is not JSON: {}", e.message))?;
        checker
            .check_body(&verb.response, reply.as_ref())
            .map_err(|e| format!("the reply does not fit {}: {e}", verb.response))?;
        example.insert(
            "reply".into(),
            reply.unwrap_or_else(|| Value::Object(Map::new())),
        );
    } else if (400..600).contains(&crossing.status) {
        let error: ErrorBody = serde_json::from_slice(&crossing.body)
            .map_err(|_| format!("answer {} is not a JSON error", crossing.status))?;
        let mut detail = Map::new();
        detail.insert("status".into(), Value::from(crossing.status));
        detail.insert("code".into(), Value::String(error.error.code));
        detail.insert("message".into(), Value::String(error.error.message));
        example.insert("error".into(), Value::Object(detail));
    } else {
        return Err(format!(
            "answer {} is neither a reply nor an error",
            crossing.status
        ));
    }
    Ok(Value::Object(example))
}

/// The examples files written so far, as they are on disk; `None` for a
/// file that was there and is not an array of examples (left alone).
#[derive(Default)]
struct Files {
    files: HashMap<PathBuf, Option<Vec<Value>>>,
}

impl Files {
    fn record(&mut self, path: &Path, example: Value) {
        let examples = self
            .files
            .entry(path.to_path_buf())
            .or_insert_with(|| read_existing(path));
        let Some(examples) = examples else {
            return;
        };
        merge(examples, example);
        let text = match serde_json::to_string_pretty(&examples) {
            Ok(text) => text + "\n",
            Err(_) => return,
        };
        let written = path
            .parent()
            .map_or(Ok(()), crate::files::create_dir_all)
            .and_then(|()| crate::files::write_atomic(path, text.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("cannot record into {}: {e:#}", path.display());
        }
    }
}

/// The examples already in `path` (none when it is not there).
fn read_existing(path: &Path) -> Option<Vec<Value>> {
    if !path.exists() {
        return Some(Vec::new());
    }
    let text = crate::files::read_text(path).ok()?;
    match crate::schema::json_read::read_body(text.as_bytes()) {
        Ok(Some(Value::Array(examples))) => Some(examples),
        _ => {
            tracing::warn!(
                "{} is not an array of examples: nothing is recorded into it",
                path.display()
            );
            None
        }
    }
}

/// Adds `example`, in place of an example of the same request.
fn merge(examples: &mut Vec<Value>, example: Value) {
    match examples
        .iter_mut()
        .find(|e| e.get("request").is_some() && e.get("request") == example.get("request"))
    {
        Some(same) => *same = example,
        None => examples.push(example),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checker() -> Checker {
        let schema = crate::schema::parse_schema(
            "r.ftl",
            "realm bank {\n  module balance {\n    export realm verb withdraw(balance.Req) balance.Res\n\n    export realm data Req {\n      amount Int\n    }\n\n    export realm data Res {\n      balance Int\n    }\n  }\n}\n",
        )
        .unwrap_or_else(|d| panic!("{d}"));
        Checker::new(&schema.realms[0])
    }

    fn crossing(status: u16, body: &str) -> Crossing {
        Crossing {
            realm: "bank".into(),
            module: "balance".into(),
            verb: "withdraw".into(),
            request: Some(json!({"amount": 5})),
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn replies_and_errors_become_examples() {
        let checker = checker();
        assert_eq!(
            example_of(&checker, &crossing(200, r#"{"balance": 3}"#)),
            Ok(json!({"request": {"amount": 5}, "reply": {"balance": 3}}))
        );
        assert_eq!(
            example_of(
                &checker,
                &crossing(
                    409,
                    r#"{"error": {"code": "poor", "message": "no money", "realm": "bank", "request_id": "r1"}}"#
                )
            ),
            Ok(
                json!({"request": {"amount": 5}, "error": {"status": 409, "code": "poor", "message": "no money"}})
            )
        );
        assert!(example_of(&checker, &crossing(200, r#"{"balance": "x"}"#)).is_err());
        assert!(example_of(&checker, &crossing(502, "bad gateway")).is_err());
    }

    #[test]
    fn the_latest_answer_of_a_request_replaces_the_one_before() {
        let mut examples = vec![json!({"request": 1, "reply": 1})];
        merge(&mut examples, json!({"request": 2, "reply": 2}));
        merge(&mut examples, json!({"request": 1, "reply": 3}));
        assert_eq!(
            examples,
            vec![
                json!({"request": 1, "reply": 3}),
                json!({"request": 2, "reply": 2})
            ]
        );
    }
}
