//! `realm serve --record DIR`: the calls that crossed to other realms,
//! kept as examples `realm fake` replays: `DIR/<realm>/<module>.<verb>.json`,
//! one example per request (`request` and `reply`, or `error` for a JSON
//! error answer), the latest answer of a request replacing the one before.
//!
//! Bodies only: no header, signature or request id is written. Members
//! at the redacted paths (`--record-redact '$.card.number'`) are not
//! written either: left out of a request (whose example then matches the
//! rest of it, `match`), and in a reply replaced by a generated value (or
//! left out when the reply fits without it). A reply that does not fit
//! the verb's response type in the pinned schema is not kept (the fake
//! would refuse to start with it). Files are written by a thread of their
//! own, through [`crate::files`], so no call waits on a write; a file that
//! is there already and is not an array of examples is left alone (and
//! nothing is recorded into it).
//!
//! Bounded: at most [`QUEUE`] calls wait to be written (more are not
//! recorded), bodies over [`MAX_BODY`] are not recorded, and a file holds
//! at most [`MAX_EXAMPLES`] examples (new requests beyond are not
//! recorded; known ones still get their latest answer) and about
//! [`MAX_FILE`] bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

use serde_json::{Map, Value};

use super::generate::Generator;
use crate::ingress::record::{CallRecorder, Crossed};
use crate::ingress::reply::ErrorBody;
use crate::schema::Decl;
use crate::schema::json::Checker;

/// Calls waiting to be written, at most.
pub const QUEUE: usize = 256;
/// The largest request or reply body recorded (1 MiB).
pub const MAX_BODY: usize = 1 << 20;
/// Examples in one file, at most.
pub const MAX_EXAMPLES: usize = 1000;
/// The bytes of one file, about (16 MiB; `realm fake` reads files of up
/// to 64 MiB).
pub const MAX_FILE: usize = 16 << 20;

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
    sender: Mutex<Option<mpsc::SyncSender<Crossing>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Recorder {
    /// Records into `dir` the calls to the realms of `realms` (by the
    /// name this project pins each under, with its public API's checker),
    /// the members at `redact` left out.
    pub fn start(
        dir: PathBuf,
        realms: HashMap<String, Checker>,
        redact: Vec<Redacted>,
    ) -> std::io::Result<Recorder> {
        let realms: HashMap<String, Generator> = realms
            .into_iter()
            .map(|(name, checker)| (name, Generator::new(checker)))
            .collect();
        let (sender, receiver) = mpsc::sync_channel::<Crossing>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("realm-record".into())
            .spawn(move || {
                let mut files = Files::default();
                for crossing in receiver {
                    let Some(generator) = realms.get(&crossing.realm) else {
                        continue;
                    };
                    let path = dir
                        .join(&crossing.realm)
                        .join(format!("{}.{}.json", crossing.module, crossing.verb));
                    match example_of(generator, &crossing, &redact) {
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
        let request_size = crossed.request.map_or(0, |r| r.to_string().len());
        if crossed.reply.body.len() > MAX_BODY || request_size > MAX_BODY {
            tracing::warn!(
                "not recorded: {}.{}@{}: a body over {} MiB",
                crossed.module,
                crossed.verb.name,
                crossed.realm,
                MAX_BODY >> 20
            );
            return;
        }
        let crossing = Crossing {
            realm: crossed.realm.to_string(),
            module: crossed.module.to_string(),
            verb: crossed.verb.name.clone(),
            request: crossed.request.cloned(),
            status: crossed.reply.status.as_u16(),
            body: crossed.reply.body.to_vec(),
        };
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = sender.as_ref()
            && let Err(mpsc::TrySendError::Full(c)) = sender.try_send(crossing)
        {
            tracing::warn!(
                "not recorded: {}.{}@{}: {QUEUE} calls are waiting to be written",
                c.module,
                c.verb,
                c.realm
            );
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

/// A member path whose values are not recorded: `$.card.number`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted {
    members: Vec<String>,
}

impl Redacted {
    /// `$.a.b` (or `a.b`): members of objects, from the body's top.
    pub fn parse(text: &str) -> Result<Redacted, String> {
        let rest = text.strip_prefix('$').unwrap_or(text);
        let rest = rest.strip_prefix('.').unwrap_or(rest);
        let members: Vec<String> = rest.split('.').map(str::to_string).collect();
        if members
            .iter()
            .any(|m| m.is_empty() || m.contains(['[', ']', '*']))
        {
            return Err(format!(
                "`{text}` is not a path of members; write e.g. $.card.number (arrays are not indexed)"
            ));
        }
        Ok(Redacted { members })
    }

    /// Takes the member at this path out of `value`; whether it was there.
    fn take(&self, value: &mut Value) -> Option<Value> {
        let (last, parents) = self.members.split_last()?;
        let mut at = value;
        for member in parents {
            at = at.get_mut(member)?;
        }
        at.as_object_mut()?.shift_remove(last)
    }

    /// Puts `member` at this path in `value` (whose parents are there).
    fn put(&self, value: &mut Value, member: Value) {
        let Some((last, parents)) = self.members.split_last() else {
            return;
        };
        let mut at = value;
        for parent in parents {
            match at.get_mut(parent) {
                Some(next) => at = next,
                None => return,
            }
        }
        if let Some(object) = at.as_object_mut() {
            object.insert(last.clone(), member);
        }
    }

    fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.members.iter().try_fold(value, |at, m| at.get(m))
    }
}

/// The example of a crossed call: `{"request", "reply"}` for a success
/// whose body fits the response type, `{"request", "error"}` for a JSON
/// error answer (400-599); `match` in place of `request` when a member of
/// the request was redacted.
fn example_of(
    generator: &Generator,
    crossing: &Crossing,
    redact: &[Redacted],
) -> Result<Value, String> {
    let checker = generator.checker();
    let Some(Decl::Verb(verb)) = checker.decl(&crossing.module, &crossing.verb) else {
        return Err("the verb is not in the pinned schema".into());
    };
    let mut example = Map::new();
    let mut request = crossing.request.clone().unwrap_or(Value::Null);
    let mut redacted = false;
    for path in redact {
        redacted |= path.take(&mut request).is_some();
    }
    let when = if redacted { "match" } else { "request" };
    example.insert(when.into(), request);
    if (200..300).contains(&crossing.status) {
        let reply = crate::schema::json_read::read_body(&crossing.body)
            .map_err(|e| format!("the reply is not JSON: {}", e.message))?;
        let mut reply = reply.unwrap_or_else(|| Value::Object(Map::new()));
        // A redacted member: a generated one in its place, or none.
        let stand_in = generator.value(&verb.response, 0);
        for path in redact {
            if path.take(&mut reply).is_none() {
                continue;
            }
            if let Some(value) = path.get(&stand_in) {
                path.put(&mut reply, value.clone());
                if checker.check_body(&verb.response, Some(&reply)).is_err() {
                    path.take(&mut reply);
                }
            }
        }
        checker
            .check_body(&verb.response, Some(&reply))
            .map_err(|e| format!("the reply does not fit {}: {e}", verb.response))?;
        example.insert("reply".into(), reply);
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
    /// Per file, its examples and the bytes last written.
    files: HashMap<PathBuf, Option<(Vec<Value>, usize)>>,
}

impl Files {
    fn record(&mut self, path: &Path, example: Value) {
        let examples = self
            .files
            .entry(path.to_path_buf())
            .or_insert_with(|| read_existing(path));
        let Some((examples, size)) = examples else {
            return;
        };
        if *size + example.to_string().len() > MAX_FILE {
            tracing::warn!(
                "not recorded: {} would grow past {} MiB",
                path.display(),
                MAX_FILE >> 20
            );
            return;
        }
        if !merge(examples, example) {
            tracing::warn!(
                "not recorded: {} holds {MAX_EXAMPLES} examples already",
                path.display()
            );
            return;
        }
        let text = match serde_json::to_string_pretty(&examples) {
            Ok(text) => text + "\n",
            Err(_) => return,
        };
        let written = path
            .parent()
            .map_or(Ok(()), crate::files::create_dir_all)
            .and_then(|()| crate::files::write_atomic(path, text.as_bytes()));
        match written {
            Ok(()) => *size = text.len(),
            Err(e) => tracing::warn!("cannot record into {}: {e:#}", path.display()),
        }
    }
}

/// The examples already in `path` (none when it is not there).
fn read_existing(path: &Path) -> Option<(Vec<Value>, usize)> {
    if !path.exists() {
        return Some((Vec::new(), 0));
    }
    let text = crate::files::read_text(path).ok()?;
    match crate::schema::json_read::read_body(text.as_bytes()) {
        Ok(Some(Value::Array(examples))) => Some((examples, text.len())),
        _ => {
            tracing::warn!(
                "{} is not an array of examples: nothing is recorded into it",
                path.display()
            );
            None
        }
    }
}

/// Adds `example`, in place of an example of the same request (or the
/// same part of one); `false` when it is a new one and there are
/// [`MAX_EXAMPLES`] already.
fn merge(examples: &mut Vec<Value>, example: Value) -> bool {
    let same = |e: &Value| {
        ["request", "match"]
            .iter()
            .any(|k| e.get(k).is_some() && e.get(k) == example.get(k))
    };
    let full = examples.len() >= MAX_EXAMPLES;
    match examples.iter_mut().find(|e| same(e)) {
        Some(same) => *same = example,
        None if full => return false,
        None => examples.push(example),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn generator() -> Generator {
        Generator::new(checker())
    }

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
        let checker = generator();
        let example_of = |g: &Generator, c: &Crossing| example_of(g, c, &[]);
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
    fn redacted_members_are_not_written() {
        let generator = generator();
        let redact = [
            Redacted::parse("$.amount").expect("path"),
            Redacted::parse("balance").expect("path"),
            Redacted::parse("$.not.there").expect("path"),
        ];
        let example = example_of(&generator, &crossing(200, r#"{"balance": 31337}"#), &redact)
            .expect("an example");
        assert_eq!(example["match"], json!({}), "{example}");
        assert!(example.get("request").is_none(), "{example}");
        let balance = &example["reply"]["balance"];
        assert!(balance.is_i64() && balance != 31337, "{example}");
        assert!(!example.to_string().contains("31337"));
        for bad in ["$.a[0]", "$..a", "$.*", ""] {
            assert!(Redacted::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_latest_answer_of_a_request_replaces_the_one_before() {
        let mut examples = vec![json!({"request": 1, "reply": 1})];
        assert!(merge(&mut examples, json!({"request": 2, "reply": 2})));
        assert!(merge(&mut examples, json!({"request": 1, "reply": 3})));
        assert!(merge(&mut examples, json!({"match": 1, "reply": 4})));
        assert!(merge(&mut examples, json!({"match": 1, "reply": 5})));
        assert_eq!(
            examples,
            vec![
                json!({"request": 1, "reply": 3}),
                json!({"request": 2, "reply": 2}),
                json!({"match": 1, "reply": 5})
            ]
        );
        // Full: known requests still get their latest answer.
        let mut full: Vec<Value> = (0..MAX_EXAMPLES)
            .map(|i| json!({"request": i, "reply": 0}))
            .collect();
        assert!(!merge(&mut full, json!({"request": -1, "reply": 1})));
        assert!(merge(&mut full, json!({"request": 7, "reply": 1})));
        assert_eq!((full.len(), &full[7]["reply"]), (MAX_EXAMPLES, &json!(1)));
    }
}
