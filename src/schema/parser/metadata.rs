//! `+metadata` lines: each kind's grammar, ingress paths, retry and
//! cron durations, migration digests.

use super::lexer::ident_prefix;
use super::{Parser, Result, exact};
use crate::schema::diagnostic::Diagnostic;
use crate::schema::model::*;

impl<'a> Parser<'a> {
    /// Zero or more `+...` metadata: on the lines under a declaration, or
    /// several on one line, as FTL writes them.
    pub(super) fn metadata_lines(&mut self) -> Result<ThinVec<Metadata>> {
        // Room for one to start with: most hosts of metadata have one line
        // or none (a push would make room for four).
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() != Some(b'+') {
                // Moved into an allocation of exactly their number (see
                // `exact`; a `shrink_to_fit` may keep the block it had).
                return Ok(out.into());
            }
            self.inline = true;
            let result = self.metadata();
            self.inline = false;
            if out.capacity() == 0 {
                out.reserve_exact(1);
            }
            out.push(result?);
        }
    }

    pub(super) fn metadata(&mut self) -> Result<Metadata> {
        let pos = self.pos();
        self.bump();
        let keyword = self.ident_here("a metadata name after `+`")?;
        let kind = match keyword {
            "calls" => MetadataKind::Calls(self.refs("a verb reference")?),
            "ingress" => self.ingress()?,
            "cron" => {
                self.skip_ws();
                let rest = &self.src[self.i..];
                let end = rest.find('\n').unwrap_or(rest.len());
                let cron = rest[..end].trim();
                if cron.is_empty() {
                    return Err(self.expected(
                        "a cron expression, interval or weekday such as `0 * * * *`, `1h` or `Mon`",
                    ));
                }
                self.i += end;
                self.token_end();
                MetadataKind::Cron(cron.to_string())
            }
            "retry" => self.retry()?,
            "subscribe" => self.subscribe()?,
            "publish" => MetadataKind::Publish(self.refs("a topic reference")?),
            "typemap" => {
                let runtime = self.one_of("a runtime", TYPEMAP_RUNTIMES)?;
                let native_name = self.string("the native type name as a string")?;
                MetadataKind::TypeMap {
                    runtime,
                    native_name,
                }
            }
            "alias" => {
                let kind = self.one_of("an alias kind", &["json"])?;
                let alias = self.string("the alias as a string")?;
                MetadataKind::Alias { kind, alias }
            }
            "encoding" => {
                let kind = self.one_of("an encoding", &["json"])?;
                let lenient = self.eat_keyword("lenient");
                MetadataKind::Encoding { kind, lenient }
            }
            "database" => {
                self.expect_keyword("uses", "+database")?;
                MetadataKind::DatabaseUses(self.refs("a database reference")?)
            }
            // FTL writes `+config x`; realm wrote `+config uses x` until
            // FTL parity, and still reads it.
            "config" => {
                self.eat_uses();
                MetadataKind::ConfigUses(self.refs("a config reference")?)
            }
            "secrets" | "secret" => {
                self.eat_uses();
                MetadataKind::SecretsUses(self.refs("a secret reference")?)
            }
            "partitions" => {
                self.skip_ws();
                let pos = self.pos();
                let digits = self.src[self.i..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count();
                if digits == 0 {
                    return Err(self.expected("a number of partitions"));
                }
                let text = &self.src[self.i..self.i + digits];
                let n = text.parse::<i64>().map_err(|_| {
                    self.error_at(pos, format!("number `{text}` does not fit in 64 bits"))
                        .with_len(digits)
                })?;
                self.i += digits;
                self.token_end();
                MetadataKind::Partitions(n)
            }
            "egress" => {
                let mut targets = vec![self.string("an egress target as a string")?];
                // FTL's grammar separates targets with commas; its printer
                // with blanks.
                loop {
                    let comma = self.eat_list_comma();
                    self.skip_ws();
                    if !comma && self.peek() != Some(b'"') {
                        break;
                    }
                    targets.push(self.string("an egress target as a string")?);
                }
                MetadataKind::Egress(exact(targets))
            }
            "generated" => MetadataKind::Generated,
            "transaction" => MetadataKind::Transaction,
            "fixture" => MetadataKind::Fixture {
                manual: self.eat_keyword("manual"),
            },
            "sql" => {
                let (what, what_pos) = self.expect_ident("`query` or `column`")?;
                match what {
                    "query" => {
                        let (command, _) = self
                            .expect_ident("a query command such as one, many, exec or copyfrom")?;
                        let query = self.string("the SQL query as a string")?;
                        MetadataKind::SqlQuery {
                            command: command.to_string(),
                            query,
                        }
                    }
                    "column" => {
                        let table = self.sql_name("a table name")?;
                        self.skip_ws();
                        if self.peek() != Some(b'.') {
                            return Err(self.expected("`.` between table and column"));
                        }
                        self.bump();
                        let name = self.sql_name("a column name")?;
                        MetadataKind::SqlColumn { table, name }
                    }
                    other => {
                        return Err(self
                            .error_at(what_pos, format!("unknown +sql metadata `{other}`"))
                            .with_len(other.len())
                            .with_label("expected `query` or `column`"));
                    }
                }
            }
            "migration" => {
                let (digest, digest_pos) = self.word("a migration digest such as sha256:...")?;
                if !is_migration_digest(digest) {
                    return Err(self
                        .error_at(digest_pos, format!("invalid migration digest `{digest}`"))
                        .with_len(digest.chars().count())
                        .with_label("expected `sha256:` and 64 hex digits")
                        .with_help("a migration is named by the SHA-256 of its files: `+migration sha256:<64 hex digits>`"));
                }
                MetadataKind::Migration(digest.to_string())
            }
            "artefact" => {
                let path = self.string("the artefact path as a string")?;
                let digest = self.string_or_word("the artefact digest as a string")?;
                let executable = self.eat_keyword("executable");
                MetadataKind::Artefact {
                    path,
                    digest,
                    executable,
                }
            }
            "git" => {
                let repository = self.string("the repository as a string")?;
                let commit = self.string_or_word("the commit as a string")?;
                let dirty = self.eat_keyword("dirty");
                MetadataKind::Git {
                    repository,
                    commit,
                    dirty,
                }
            }
            "image" => {
                let image = self.string("the image as a string")?;
                // FTL: `"image":"digest"`; realm wrote `"image" digest`.
                let digest = if self.peek() == Some(b':') {
                    self.bump();
                    self.string("the image digest as a string after `:`")?
                } else {
                    self.string_or_word("the image digest")?
                };
                MetadataKind::Image { image, digest }
            }
            "oneof" => MetadataKind::Oneof(
                self.expect_ident("the name of the oneof group")?
                    .0
                    .to_string(),
            ),
            "grpc" => MetadataKind::Grpc(
                self.string("the gRPC method as a string, e.g. \"pkg.Service/Method\"")?,
            ),
            "protobuf" => self.protobuf()?,
            other => {
                return Err(Diagnostic::new(
                    format!("unknown metadata `+{other}`"),
                    // The keyword follows the `+` on its line.
                    Some(Pos {
                        column: pos.column + 1,
                        ..pos
                    }),
                )
                .with_len(other.len())
                .with_label("unknown metadata")
                .with_help(format!("known metadata: {}", METADATA_NAMES.join(", "))));
            }
        };
        self.end_of_metadata(keyword)?;
        Ok(Metadata {
            pos: Some(pos),
            kind,
        })
    }

    /// `uses` after `+config` / `+secrets` (the form realm printed before
    /// FTL parity), unless it is the name of the first reference.
    pub(super) fn eat_uses(&mut self) {
        if self.peek_ident() != Some("uses") {
            return;
        }
        let after = &self.src[self.i + "uses".len()..];
        let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
        if blanks > 0 && after[blanks..].bytes().next().is_some_and(is_ident_start) {
            self.eat_keyword("uses");
        }
    }

    /// `+protobuf "package.Message"` (data) or `+protobuf <type>
    /// ["proto_name"]` (fields).
    pub(super) fn protobuf(&mut self) -> Result<MetadataKind> {
        self.skip_ws();
        if self.peek() == Some(b'"') {
            let name = self.string("the message's full name as a string")?;
            return Ok(MetadataKind::ProtobufMessage(name));
        }
        let pos = self.pos();
        let rest = &self.src[self.i..];
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '+' || c == '}')
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.expected(
                "a protobuf type such as int64 or map<string,int32>, or a message name as a string",
            ));
        }
        let text = &rest[..len];
        let ty: crate::schema::protobuf::ProtoType = text.parse().map_err(|e: String| {
            self.error_at(pos.clone(), e)
                .with_len(text.len())
                .with_label("not a protobuf type")
                .with_help(format!(
                    "a protobuf type is one of: {} (or map<K,V>)",
                    crate::schema::protobuf::kind_names()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
        })?;
        self.i += len;
        self.token_end();
        self.skip_ws();
        let name = if self.peek() == Some(b'"') {
            Some(self.string("the field's .proto name as a string")?)
        } else {
            None
        };
        Ok(MetadataKind::ProtobufField { ty, name })
    }

    /// One of `allowed` identifiers.
    pub(super) fn one_of(&mut self, what: &str, allowed: &[&str]) -> Result<String> {
        let expected = format!("{what} ({})", allowed.join(", "));
        self.skip_ws();
        let pos = self.pos();
        let (word, _) = self.expect_ident(&expected)?;
        if !allowed.contains(&word) {
            return Err(self
                .error_at(pos, format!("`{word}` is not {what}"))
                .with_len(word.len())
                .with_label(format!("expected {}", allowed.join(", "))));
        }
        Ok(word.to_string())
    }

    /// A string, or (as realm wrote digests and commits before FTL parity)
    /// a bare word.
    pub(super) fn string_or_word(&mut self, what: &str) -> Result<String> {
        self.skip_ws();
        if self.peek() == Some(b'"') {
            return self.string(what);
        }
        let rest = &self.src[self.i..];
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '+')
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.expected(what));
        }
        let word = &rest[..len];
        self.i += len;
        self.token_end();
        Ok(word.to_string())
    }

    /// A table or column name of `+sql column`: an identifier or a string.
    pub(super) fn sql_name(&mut self, what: &str) -> Result<String> {
        self.skip_ws();
        if self.peek() == Some(b'"') {
            return self.string(what);
        }
        Ok(self.ident_here(what)?.to_string())
    }

    /// `+ingress [http] METHOD /path/{param}`, the path as FTL's grammar
    /// has it: literal segments and `{name}` parameters.
    pub(super) fn ingress(&mut self) -> Result<MetadataKind> {
        self.skip_ws();
        let kind_pos = self.pos();
        match self.peek_ident() {
            Some("http") => {
                self.eat_keyword("http");
            }
            Some(word) if word.bytes().any(|b| b.is_ascii_lowercase()) => {
                return Err(self
                    .error_at(kind_pos, format!("unknown ingress type `{word}`"))
                    .with_len(word.len())
                    .with_label("expected http"));
            }
            _ => {}
        }
        let (method, method_pos) = self.word("an HTTP method")?;
        if !HTTP_METHODS.contains(&method) {
            return Err(self
                .error_at(method_pos, format!("unknown HTTP method `{method}`"))
                .with_len(method.chars().count())
                .with_label(format!("expected one of {}", HTTP_METHODS.join(", "))));
        }
        let (path, path_pos) = self.word("an ingress path such as /orders/{id}")?;
        check_ingress_path(path, &path_pos)?;
        Ok(MetadataKind::Ingress {
            kind: "http".to_string(),
            method: method.to_string(),
            path: path.to_string(),
        })
    }

    /// `+subscribe topic from=beginning|latest [deadletter]`.
    pub(super) fn subscribe(&mut self) -> Result<MetadataKind> {
        let topic = self.metadata_ref("a topic reference")?;
        let mut from = None;
        let mut dead_letter = false;
        loop {
            self.skip_ws();
            let option_pos = self.pos();
            match self.peek_ident() {
                Some("from") => {
                    self.eat_keyword("from");
                    self.expect(b'=', "`=` after `from`")?;
                    self.skip_ws();
                    let value_pos = self.pos();
                    let (value, _) = self.expect_ident("`beginning` or `latest` after `from=`")?;
                    from = Some(match value {
                        "beginning" => SubscribeFrom::Beginning,
                        "latest" => SubscribeFrom::Latest,
                        other => {
                            return Err(self
                                .error_at(value_pos, format!("unknown offset `{other}`"))
                                .with_len(other.len())
                                .with_label("expected beginning or latest"));
                        }
                    });
                }
                Some("deadletter") => {
                    self.eat_keyword("deadletter");
                    dead_letter = true;
                }
                Some(other) => {
                    return Err(self
                        .error_at(option_pos, format!("unknown +subscribe option `{other}`"))
                        .with_len(other.len())
                        .with_label("expected from=beginning, from=latest or deadletter"));
                }
                None => break,
            }
        }
        Ok(MetadataKind::Subscribe {
            topic: Box::new(topic),
            from,
            dead_letter,
        })
    }

    pub(super) fn expect_keyword(&mut self, keyword: &str, after: &str) -> Result<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{keyword}` after `{after}`")))
        }
    }

    /// After metadata arguments: the end of the line, another `+...`, the
    /// `}` closing a one-line block, or (FTL's grammar ignores line breaks)
    /// the next field or declaration on the same line.
    pub(super) fn end_of_metadata(&mut self, keyword: &str) -> Result<()> {
        self.skip_ws();
        match self.peek() {
            None | Some(b'\n' | b'+' | b'}') => Ok(()),
            Some(c) if is_ident_start(c) => Ok(()),
            _ if self.at_comment() => Err(Diagnostic::new(
                "a comment must stand on its own line",
                Some(self.pos()),
            )
            .with_len(2)
            .with_label("comment after code")
            .with_help("move the comment to its own line above the declaration it describes")),
            _ => {
                let (found, len) = self.describe_next();
                Err(Diagnostic::new(
                    format!("`+{keyword}` ends here, but {found} follows"),
                    Some(self.pos()),
                )
                .with_len(len)
                .with_label("expected the end of the line"))
            }
        }
    }

    /// `+retry [count] [min-backoff [max-backoff]] [catch verb]`: every part
    /// is optional in FTL's grammar; what must be there is the validator's
    /// business.
    pub(super) fn retry(&mut self) -> Result<MetadataKind> {
        let mut count = None;
        if let Some(word) = self.peek_word()
            && word.bytes().all(|b| b.is_ascii_digit())
        {
            let (word, pos) = self.word("a retry count")?;
            count = Some(word.parse::<i64>().map_err(|_| {
                self.error_at(pos, format!("retry count `{word}` is too large"))
                    .with_len(word.len())
            })?);
        }
        let mut backoffs = Vec::new();
        while backoffs.len() < 2
            && self
                .peek_word()
                .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        {
            let (word, pos) = self.word("a backoff such as `5s`")?;
            check_duration(word, &pos)?;
            backoffs.push(word.to_string());
        }
        let mut backoffs = backoffs.into_iter();
        let min_backoff = backoffs.next().unwrap_or_default();
        let max_backoff = backoffs.next();
        let catch = if self.eat_keyword("catch") {
            Some(Box::new(
                self.metadata_ref("a verb reference after `catch`")?,
            ))
        } else {
            None
        };
        Ok(MetadataKind::Retry {
            count,
            min_backoff,
            max_backoff,
            catch,
        })
    }
}

/// Checks an ingress path against FTL's grammar: `/`, then segments
/// separated by `/`, each a literal (no blanks, `{` or `}`) or a
/// `{parameter}`.
fn check_ingress_path(path: &str, pos: &Pos) -> Result<()> {
    let Some(problem) = ingress_path_problem(path) else {
        return Ok(());
    };
    let mut p = pos.clone();
    p.column += path[..problem.offset].chars().count() as u32;
    let mut d = Diagnostic::new(problem.message, Some(p)).with_len(problem.len);
    if let Some(label) = problem.label {
        d = d.with_label(label);
    }
    Err(d.with_help(problem.help))
}

/// What is wrong with an ingress path, and where (a byte offset).
pub(crate) struct PathProblem {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub label: Option<&'static str>,
    pub help: &'static str,
}

/// `None` when `path` is an ingress path of FTL's grammar.
pub(crate) fn ingress_path_problem(path: &str) -> Option<PathProblem> {
    let Some(rest) = path.strip_prefix('/') else {
        return Some(PathProblem {
            offset: 0,
            len: path.chars().count().max(1),
            message: format!("ingress path `{path}` does not start with `/`"),
            label: None,
            help: "write the path from the root: `/orders/{id}`",
        });
    };
    if rest.is_empty() {
        return None;
    }
    let mut offset = 1;
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Some(PathProblem {
                offset,
                len: 1,
                message: format!("empty segment in ingress path `{path}`"),
                label: None,
                help: "segments are separated by one `/`, and the path does not end with `/`",
            });
        }
        let param = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        let valid = match param {
            Some(name) => !name.is_empty() && ident_prefix(name) == name,
            None => !segment.contains(['{', '}']) && !segment.contains(char::is_whitespace),
        };
        if !valid {
            return Some(PathProblem {
                offset,
                len: segment.chars().count(),
                message: format!("invalid segment `{segment}` in ingress path `{path}`"),
                label: Some("a segment is a literal or a whole `{parameter}`"),
                help: "write parameters as whole segments: `/orders/{id}`",
            });
        }
        offset += segment.len() + 1;
    }
    None
}

/// What FTL's grammar takes as the method of `+ingress`.
pub(crate) const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
/// What FTL's grammar takes as the runtime of `+typemap`.
pub(crate) const TYPEMAP_RUNTIMES: &[&str] = &["go", "kotlin", "java"];

/// Whether `digest` is `sha256:` and 64 alphanumerics (FTL's migrations).
pub(crate) fn is_migration_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Metadata names for the "known metadata" hint.
pub const METADATA_NAMES: &[&str] = &[
    "+calls",
    "+ingress",
    "+cron",
    "+retry",
    "+subscribe",
    "+publish",
    "+typemap",
    "+alias",
    "+encoding",
    "+database uses",
    "+config",
    "+secrets",
    "+partitions",
    "+egress",
    "+generated",
    "+transaction",
    "+fixture",
    "+sql query",
    "+sql column",
    "+migration",
    "+artefact",
    "+git",
    "+image",
    "+grpc",
    "+oneof",
    "+protobuf",
];

/// The longest duration FTL can hold (Go's `time.Duration`, 2^63 - 1 ns,
/// about 292 years), in milliseconds.
const MAX_DURATION_MS: u64 = i64::MAX as u64 / 1_000_000;

/// A duration: one or more `<number><unit>` with units ms, s, m, h, d,
/// no longer than FTL can hold.
pub fn is_duration(s: &str) -> bool {
    matches!(duration_ms(s), Some(Ok(_)))
}

/// A duration's length in milliseconds: `None` when `s` is not written as
/// a duration, `Some(Err(()))` when it is longer than FTL can hold.
fn duration_ms(s: &str) -> Option<Result<u64, ()>> {
    crate::duration::millis(s).map(|ms| ms.filter(|ms| *ms <= MAX_DURATION_MS).ok_or(()))
}

fn check_duration(word: &str, pos: &Pos) -> Result<()> {
    match duration_ms(word) {
        Some(Ok(_)) => Ok(()),
        Some(Err(())) => Err(Diagnostic::new(
            format!("duration `{word}` is too long"),
            Some(pos.clone()),
        )
        .with_len(word.chars().count())
        .with_label("longer than about 292 years")
        .with_help("FTL holds durations of up to 2562047h (Go's time.Duration); write a shorter one")),
        None => {
        Err(Diagnostic::new(format!("invalid duration `{word}`"), Some(pos.clone()))
            .with_len(word.chars().count())
            .with_label("expected a duration")
            .with_help("write durations as a number and a unit (ms, s, m, h, d), e.g. 500ms, 5s, 1m30s"))
        }
    }
}
