//! `//ftl:` directives: `//ftl:verb export:realm`, `//ftl:data`,
//! `//ftl:ingress http GET /orders/{id}`, `//ftl:retry 3 1s catch
//! recover`, ... parsed into [`Directive`] values, with FTL's grammar
//! (`go-runtime/schema/common/directive.go`) and a position for every error.
//!
//! Pure: a directive line and its position in, a value or a
//! [`Diagnostic`] out.

use crate::schema::parser::is_duration;
use crate::schema::{Diagnostic, Pos, SubscribeFrom, Visibility};

use super::syntax::{DirectiveLine, unquote};

/// A parsed directive and where it starts (the `f` of `ftl:`).
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    pub kind: DirectiveKind,
    pub pos: Pos,
    /// Characters of the directive's first word (`ftl:verb`), for carets.
    pub len: usize,
}

/// A reference written in a directive: `payins` or `pubsub.payins`.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectiveRef {
    pub module: Option<String>,
    pub name: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DirectiveKind {
    /// `verb [export | export:realm]`
    Verb(Visibility),
    /// `data [export]`
    Data { export: bool },
    /// `enum [export]`
    Enum { export: bool },
    /// `typealias [export]`
    TypeAlias { export: bool },
    /// `export`
    Export,
    /// `ingress [http] METHOD /path`
    Ingress { method: String, path: String },
    /// `cron <pattern>`
    Cron(String),
    /// `retry [count] [min-backoff [max-backoff]] [catch verb]`
    Retry {
        count: Option<i64>,
        min_backoff: String,
        max_backoff: Option<String>,
        catch: Option<DirectiveRef>,
    },
    /// `subscribe topic from=beginning|latest [deadletter]`
    Subscribe {
        topic: DirectiveRef,
        from: SubscribeFrom,
        dead_letter: bool,
    },
    /// `topic [export] partitions=N`
    Topic { export: bool, partitions: i64 },
    /// `typemap go|kotlin|java "native.Name"`
    TypeMap {
        runtime: String,
        native_name: String,
    },
    /// `encoding [json] lenient`
    Encoding { lenient: bool },
    /// `database postgres|mysql name`
    Database { engine: String, name: String },
    /// `fixture [manual]`
    Fixture { manual: bool },
    /// `transaction`
    Transaction,
    /// `egress name="target" ...`
    Egress(Vec<(String, String)>),
}

/// The directive names FTL knows, for "did you mean".
pub const NAMES: &[&str] = &[
    "verb",
    "data",
    "enum",
    "typealias",
    "export",
    "ingress",
    "cron",
    "retry",
    "subscribe",
    "topic",
    "typemap",
    "encoding",
    "database",
    "fixture",
    "transaction",
    "egress",
];

impl DirectiveKind {
    /// The directive's name as written after `ftl:`.
    pub fn name(&self) -> &'static str {
        match self {
            DirectiveKind::Verb(_) => "verb",
            DirectiveKind::Data { .. } => "data",
            DirectiveKind::Enum { .. } => "enum",
            DirectiveKind::TypeAlias { .. } => "typealias",
            DirectiveKind::Export => "export",
            DirectiveKind::Ingress { .. } => "ingress",
            DirectiveKind::Cron(_) => "cron",
            DirectiveKind::Retry { .. } => "retry",
            DirectiveKind::Subscribe { .. } => "subscribe",
            DirectiveKind::Topic { .. } => "topic",
            DirectiveKind::TypeMap { .. } => "typemap",
            DirectiveKind::Encoding { .. } => "encoding",
            DirectiveKind::Database { .. } => "database",
            DirectiveKind::Fixture { .. } => "fixture",
            DirectiveKind::Transaction => "transaction",
            DirectiveKind::Egress(_) => "egress",
        }
    }

    /// The visibility a directive gives, when it gives one (FTL's
    /// `Exportable`): the first such directive of a declaration decides.
    pub fn visibility(&self) -> Option<Visibility> {
        let export = |e: bool| {
            if e {
                Visibility::Export
            } else {
                Visibility::Private
            }
        };
        Some(match self {
            DirectiveKind::Verb(v) => *v,
            DirectiveKind::Data { export: e }
            | DirectiveKind::Enum { export: e }
            | DirectiveKind::TypeAlias { export: e }
            | DirectiveKind::Topic { export: e, .. } => export(*e),
            DirectiveKind::Export | DirectiveKind::Ingress { .. } => Visibility::Export,
            DirectiveKind::Cron(_)
            | DirectiveKind::Fixture { .. }
            | DirectiveKind::Transaction
            | DirectiveKind::Egress(_) => Visibility::Private,
            _ => return None,
        })
    }
}

/// A word of a directive line and where it starts.
struct Token {
    text: String,
    pos: Pos,
    len: usize,
}

fn tokens(line: &DirectiveLine) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = line.text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut quoted = false;
        while i < chars.len() && (quoted || !chars[i].is_whitespace()) {
            if chars[i] == '"' {
                quoted = !quoted;
            } else if chars[i] == '\\' && quoted {
                i += 1;
            }
            i += 1;
        }
        let end = i.min(chars.len());
        out.push(Token {
            text: chars[start..end].iter().collect(),
            pos: Pos {
                column: line.pos.column + start as u32,
                ..line.pos.clone()
            },
            len: end - start,
        });
    }
    out
}

fn err(t: &Token, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(message, Some(t.pos.clone())).with_len(t.len)
}

fn at_end(line: &DirectiveLine, name: &str) -> Diagnostic {
    let column = line.pos.column + line.text.chars().count() as u32;
    Diagnostic::new(
        format!("`//ftl:{name}` is incomplete"),
        Some(Pos {
            column,
            ..line.pos.clone()
        }),
    )
}

/// Parses one `//ftl:` line (`line.text` starts with `ftl:`).
pub fn parse(line: &DirectiveLine) -> Result<Directive, Diagnostic> {
    let toks = tokens(line);
    let Some(first) = toks.first() else {
        return Err(Diagnostic::new("empty directive", Some(line.pos.clone())));
    };
    let head = first.text.strip_prefix("ftl:").unwrap_or(&first.text);
    // `ftl:verb export:realm` has no space after the name; FTL's lexer
    // splits `verb` from anything else that follows.
    let name_len = head
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let name = &head[..name_len];
    let glued = &head[name_len..];
    let rest: Vec<&Token> = toks.iter().skip(1).collect();
    if !glued.is_empty() {
        return Err(
            err(first, format!("unexpected `{glued}` after `ftl:{name}`"))
                .with_help("separate the directive's words with spaces"),
        );
    }
    let kind = match name {
        "verb" => verb(first, &rest)?,
        "data" => DirectiveKind::Data {
            export: optional_export(name, &rest)?,
        },
        "enum" => DirectiveKind::Enum {
            export: optional_export(name, &rest)?,
        },
        "typealias" => DirectiveKind::TypeAlias {
            export: optional_export(name, &rest)?,
        },
        "export" => {
            no_more(name, &rest, 0)?;
            DirectiveKind::Export
        }
        "ingress" => ingress(line, &rest)?,
        "cron" => cron(line, first, &rest)?,
        "retry" => retry(line, &rest)?,
        "subscribe" => subscribe(line, &rest)?,
        "topic" => topic(line, &rest)?,
        "typemap" => typemap(line, &rest)?,
        "encoding" => encoding(line, &rest)?,
        "database" => database(line, &rest)?,
        "fixture" => {
            let manual = rest.first().is_some_and(|t| t.text == "manual");
            no_more(name, &rest, usize::from(manual))?;
            DirectiveKind::Fixture { manual }
        }
        "transaction" => {
            no_more(name, &rest, 0)?;
            DirectiveKind::Transaction
        }
        "egress" => egress(line, &rest)?,
        _ => {
            let mut d = err(first, format!("unknown directive `//ftl:{name}`"));
            if let Some(best) = NAMES
                .iter()
                .filter(|n| strsim::levenshtein(n, name) <= 2)
                .min_by_key(|n| strsim::levenshtein(n, name))
            {
                d = d.with_help(format!("did you mean `//ftl:{best}`?"));
            } else {
                d = d.with_help(format!(
                    "FTL's directives are {}",
                    NAMES
                        .iter()
                        .map(|n| format!("ftl:{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            return Err(d);
        }
    };
    Ok(Directive {
        kind,
        pos: line.pos.clone(),
        len: first.len,
    })
}

fn no_more(name: &str, rest: &[&Token], used: usize) -> Result<(), Diagnostic> {
    match rest.get(used) {
        Some(t) => Err(err(t, format!("unexpected `{}` in `//ftl:{name}`", t.text))
            .with_label("not part of the directive")),
        None => Ok(()),
    }
}

fn verb(first: &Token, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let _ = first;
    let vis = match rest.first().map(|t| t.text.as_str()) {
        None => Visibility::Private,
        Some("export") => Visibility::Export,
        Some("export:realm") => Visibility::ExportRealm,
        Some(_) => {
            return Err(err(
                rest[0],
                format!("unexpected `{}` in `//ftl:verb`", rest[0].text),
            )
            .with_help("write `//ftl:verb`, `//ftl:verb export` or `//ftl:verb export:realm`"));
        }
    };
    no_more("verb", rest, usize::from(vis != Visibility::Private))?;
    Ok(DirectiveKind::Verb(vis))
}

fn optional_export(name: &str, rest: &[&Token]) -> Result<bool, Diagnostic> {
    let export = match rest.first().map(|t| t.text.as_str()) {
        None => false,
        Some("export") => true,
        Some("export:realm") => {
            return Err(
                err(rest[0], format!("`//ftl:{name}` cannot be `export:realm`")).with_help(
                    format!(
                        "write `//ftl:{name} export`: a type becomes `export realm` when an \
                     `//ftl:verb export:realm` uses it"
                    ),
                ),
            );
        }
        Some(other) => {
            return Err(
                err(rest[0], format!("unexpected `{other}` in `//ftl:{name}`"))
                    .with_help(format!("write `//ftl:{name}` or `//ftl:{name} export`")),
            );
        }
    };
    no_more(name, rest, usize::from(export))?;
    Ok(export)
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];

fn ingress(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let mut i = 0;
    if rest.first().is_some_and(|t| t.text == "http") {
        i = 1;
    }
    let Some(method) = rest.get(i) else {
        return Err(at_end(line, "ingress").with_help("write `//ftl:ingress http GET /path`"));
    };
    if !METHODS.contains(&method.text.as_str()) {
        return Err(
            err(method, format!("unknown HTTP method `{}`", method.text))
                .with_label(format!("expected one of {}", METHODS.join(", "))),
        );
    }
    let Some(path) = rest.get(i + 1) else {
        return Err(at_end(line, "ingress").with_help("add the path, e.g. `/orders/{id}`"));
    };
    check_ingress_path(path)?;
    no_more("ingress", rest, i + 2)?;
    Ok(DirectiveKind::Ingress {
        method: method.text.clone(),
        path: path.text.clone(),
    })
}

fn check_ingress_path(path: &Token) -> Result<(), Diagnostic> {
    let help = "write the path as `/segment/{param}`: segments of letters, digits and `-_.~%`, \
                parameters as `{name}`";
    let Some(body) = path.text.strip_prefix('/') else {
        return Err(err(
            path,
            format!("ingress path `{}` does not start with `/`", path.text),
        )
        .with_help(help));
    };
    for segment in body.split('/') {
        let ok = if let Some(param) = segment.strip_prefix('{') {
            param
                .strip_suffix('}')
                .is_some_and(super::naming::is_schema_ident)
        } else {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~%+*@!$&'(),;=:".contains(c))
        };
        if !ok {
            return Err(err(path, format!("invalid ingress path `{}`", path.text)).with_help(help));
        }
    }
    Ok(())
}

fn cron(line: &DirectiveLine, first: &Token, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    if rest.is_empty() {
        return Err(at_end(line, "cron").with_help(
            "write a cron expression (`*/5 * * * *`), an interval (`1h`) or a day (`Mon`)",
        ));
    }
    let pattern = rest
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if let Err(problem) = check_cron(&rest.iter().map(|t| t.text.as_str()).collect::<Vec<_>>()) {
        let last = rest[rest.len() - 1];
        let len = (last.pos.column + last.len as u32).saturating_sub(rest[0].pos.column) as usize;
        let _ = first;
        return Err(Diagnostic::new(
            format!("invalid cron expression `{pattern}`: {problem}"),
            Some(rest[0].pos.clone()),
        )
        .with_len(len)
        .with_help(
            "write 5 to 7 fields (`[second] minute hour day-of-month month day-of-week [year]`), \
             an interval such as `30m`, or a weekday such as `Mon`",
        ));
    }
    Ok(DirectiveKind::Cron(pattern))
}

/// Checks a cron pattern as FTL's `cron.Pattern` reads it.
fn check_cron(words: &[&str]) -> Result<(), String> {
    if let [one] = words {
        let digits = one.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && matches!(&one[digits..], "s" | "m" | "h") {
            return if crate::schema::parser::is_duration(one) {
                Ok(())
            } else {
                Err("the interval is longer than a duration holds (at most 2562047h)".to_string())
            };
        }
        if ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .contains(&one.to_ascii_lowercase().as_str())
        {
            return Ok(());
        }
    }
    // (name, min, max) for the seven-field layout.
    const FIELDS: [(&str, u32, u32); 7] = [
        ("second", 0, 59),
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
        ("year", 1970, 2099),
    ];
    let fields: &[(&str, u32, u32)] = match words.len() {
        5 => &FIELDS[1..6],
        6 => {
            let year_like = words[5]
                .split(|c: char| !c.is_ascii_digit())
                .any(|n| n.parse::<u32>().is_ok_and(|n| n >= 1000));
            if year_like {
                &FIELDS[1..7]
            } else {
                &FIELDS[0..6]
            }
        }
        7 => &FIELDS,
        n => return Err(format!("expected 5 to 7 fields, found {n}")),
    };
    for (word, &(name, min, max)) in words.iter().zip(fields) {
        for part in word.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step
                && step.parse::<u32>().map_or(true, |s| s == 0)
            {
                return Err(format!("{name} field: invalid step `{step}`"));
            }
            if range == "*" || range == "?" {
                continue;
            }
            let bounds: Vec<&str> = range.split('-').collect();
            if bounds.len() > 2 || bounds.iter().any(|b| b.is_empty()) {
                return Err(format!("{name} field: invalid value `{part}`"));
            }
            for b in bounds {
                if b.bytes()
                    .all(|c| c.is_ascii_alphabetic() || c == b'#' || c.is_ascii_digit())
                    && b.bytes().any(|c| c.is_ascii_alphabetic() || c == b'#')
                {
                    // Names (JAN, MON) and L/W/# forms: cronexpr's business.
                    continue;
                }
                match b.parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => {}
                    _ => {
                        return Err(format!("{name} field: `{b}` is not in {min}-{max}"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn directive_ref(t: &Token) -> Result<DirectiveRef, Diagnostic> {
    let (module, name) = match t.text.split_once('.') {
        Some((m, n)) => (Some(m.to_string()), n.to_string()),
        None => (None, t.text.clone()),
    };
    let valid = super::naming::is_schema_ident(&name)
        && module.as_deref().is_none_or(super::naming::is_schema_ident);
    if !valid {
        return Err(err(t, format!("`{}` is not a reference", t.text))
            .with_label("expected `name` or `module.name`"));
    }
    Ok(DirectiveRef {
        module,
        name,
        pos: t.pos.clone(),
    })
}

fn retry(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let mut i = 0;
    let mut count = None;
    if let Some(t) = rest.first()
        && t.text.bytes().all(|b| b.is_ascii_digit())
    {
        count = Some(
            t.text
                .parse::<i64>()
                .map_err(|_| err(t, format!("retry count `{}` is too large", t.text)))?,
        );
        i = 1;
    }
    let mut backoffs = Vec::new();
    while let Some(t) = rest.get(i) {
        if t.text == "catch" || backoffs.len() == 2 {
            break;
        }
        if !is_duration(&t.text) {
            return Err(err(t, format!("invalid duration `{}`", t.text))
                .with_label("expected a backoff")
                .with_help("write backoffs as a number and a unit (ms, s, m, h, d), e.g. `//ftl:retry 5 1s 30s`"));
        }
        backoffs.push(t.text.clone());
        i += 1;
    }
    let mut catch = None;
    if let Some(t) = rest.get(i)
        && t.text == "catch"
    {
        let Some(target) = rest.get(i + 1) else {
            return Err(err(t, "`catch` needs a verb").with_help("write `catch <verb>`"));
        };
        catch = Some(directive_ref(target)?);
        i += 2;
    }
    no_more("retry", rest, i)?;
    let mut backoffs = backoffs.into_iter();
    let Some(min_backoff) = backoffs.next() else {
        return Err(at_end(line, "retry")
            .with_help("give a minimum backoff: `//ftl:retry [count] <min-backoff> [max-backoff]`, e.g. `//ftl:retry 5 1s`"));
    };
    Ok(DirectiveKind::Retry {
        count,
        min_backoff,
        max_backoff: backoffs.next(),
        catch,
    })
}

fn subscribe(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let help = "write `//ftl:subscribe <topic> from=beginning` (or `from=latest`), optionally followed by `deadletter`";
    let Some(topic) = rest.first() else {
        return Err(at_end(line, "subscribe").with_help(help));
    };
    let topic = directive_ref(topic)?;
    let from = match rest.get(1).map(|t| t.text.as_str()) {
        Some("from=beginning") => SubscribeFrom::Beginning,
        Some("from=latest") => SubscribeFrom::Latest,
        Some(_) => {
            return Err(err(
                rest[1],
                format!("unexpected `{}` in `//ftl:subscribe`", rest[1].text),
            )
            .with_label("expected from=beginning or from=latest")
            .with_help(help));
        }
        None => return Err(at_end(line, "subscribe").with_help(help)),
    };
    let dead_letter = rest.get(2).is_some_and(|t| t.text == "deadletter");
    no_more("subscribe", rest, 2 + usize::from(dead_letter))?;
    Ok(DirectiveKind::Subscribe {
        topic,
        from,
        dead_letter,
    })
}

fn topic(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let mut i = 0;
    let export = rest.first().is_some_and(|t| t.text == "export");
    if export {
        i = 1;
    }
    let help = "write `//ftl:topic [export] partitions=<n>`";
    let Some(t) = rest.get(i) else {
        return Err(at_end(line, "topic").with_help(help));
    };
    let partitions = t
        .text
        .strip_prefix("partitions=")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            err(t, format!("unexpected `{}` in `//ftl:topic`", t.text)).with_help(help)
        })?;
    no_more("topic", rest, i + 1)?;
    Ok(DirectiveKind::Topic { export, partitions })
}

fn typemap(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let help = "write `//ftl:typemap go \"example.com/pkg.Type\"` (runtimes: go, kotlin, java)";
    let Some(runtime) = rest.first() else {
        return Err(at_end(line, "typemap").with_help(help));
    };
    if !["go", "kotlin", "java"].contains(&runtime.text.as_str()) {
        return Err(err(runtime, format!("unknown runtime `{}`", runtime.text))
            .with_label("expected go, kotlin or java"));
    }
    let Some(native) = rest.get(1) else {
        return Err(at_end(line, "typemap").with_help(help));
    };
    let native_name = unquote(&native.text)
        .filter(|_| native.text.starts_with('"'))
        .ok_or_else(|| err(native, "expected a quoted type name").with_help(help))?;
    no_more("typemap", rest, 2)?;
    Ok(DirectiveKind::TypeMap {
        runtime: runtime.text.clone(),
        native_name,
    })
}

fn encoding(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let mut i = 0;
    if rest.first().is_some_and(|t| t.text == "json") {
        i = 1;
    }
    match rest.get(i) {
        Some(t) if t.text == "lenient" => {}
        Some(t) => {
            return Err(
                err(t, format!("unexpected `{}` in `//ftl:encoding`", t.text))
                    .with_help("write `//ftl:encoding lenient`"),
            );
        }
        None => {
            return Err(at_end(line, "encoding").with_help("write `//ftl:encoding lenient`"));
        }
    }
    no_more("encoding", rest, i + 1)?;
    Ok(DirectiveKind::Encoding { lenient: true })
}

fn database(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let help = "write `//ftl:database postgres <name>` or `//ftl:database mysql <name>`";
    let Some(engine) = rest.first() else {
        return Err(at_end(line, "database").with_help(help));
    };
    if !["postgres", "mysql"].contains(&engine.text.as_str()) {
        return Err(
            err(engine, format!("unknown database engine `{}`", engine.text))
                .with_label("expected postgres or mysql"),
        );
    }
    let Some(name) = rest.get(1) else {
        return Err(at_end(line, "database").with_help(help));
    };
    if !super::naming::is_schema_ident(&name.text) {
        return Err(err(name, format!("`{}` is not a database name", name.text)).with_help(help));
    }
    no_more("database", rest, 2)?;
    Ok(DirectiveKind::Database {
        engine: engine.text.clone(),
        name: name.text.clone(),
    })
}

fn egress(line: &DirectiveLine, rest: &[&Token]) -> Result<DirectiveKind, Diagnostic> {
    let help = "write `//ftl:egress <parameter>=\"<url or config>\"`, one per parameter";
    if rest.is_empty() {
        return Err(at_end(line, "egress").with_help(help));
    }
    let mut targets = Vec::new();
    for t in rest {
        let parsed = t.text.split_once('=').and_then(|(name, target)| {
            let target = unquote(target).filter(|_| target.starts_with('"'))?;
            super::naming::is_schema_ident(name).then(|| (name.to_string(), target))
        });
        match parsed {
            Some(p) => targets.push(p),
            None => {
                return Err(
                    err(t, format!("unexpected `{}` in `//ftl:egress`", t.text)).with_help(help)
                );
            }
        }
    }
    Ok(DirectiveKind::Egress(targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> DirectiveLine {
        DirectiveLine {
            text: text.to_string(),
            pos: Pos {
                file: "a.go".into(),
                line: 3,
                column: 3,
            },
        }
    }

    fn kind(text: &str) -> DirectiveKind {
        parse(&line(text))
            .unwrap_or_else(|d| panic!("{text}: {d}"))
            .kind
    }

    fn error(text: &str) -> Diagnostic {
        parse(&line(text)).expect_err(text)
    }

    #[test]
    fn parses_every_directive() {
        assert_eq!(kind("ftl:verb"), DirectiveKind::Verb(Visibility::Private));
        assert_eq!(
            kind("ftl:verb export"),
            DirectiveKind::Verb(Visibility::Export)
        );
        assert_eq!(
            kind("ftl:verb export:realm"),
            DirectiveKind::Verb(Visibility::ExportRealm)
        );
        assert_eq!(
            kind("ftl:data export"),
            DirectiveKind::Data { export: true }
        );
        assert_eq!(kind("ftl:enum"), DirectiveKind::Enum { export: false });
        assert_eq!(
            kind("ftl:typealias export"),
            DirectiveKind::TypeAlias { export: true }
        );
        assert_eq!(kind("ftl:export"), DirectiveKind::Export);
        assert_eq!(
            kind("ftl:ingress http GET /orders/{id}"),
            DirectiveKind::Ingress {
                method: "GET".into(),
                path: "/orders/{id}".into()
            }
        );
        assert_eq!(
            kind("ftl:ingress POST /x"),
            kind("ftl:ingress http POST /x")
        );
        assert_eq!(
            kind("ftl:cron */5 * * * *"),
            DirectiveKind::Cron("*/5 * * * *".into())
        );
        assert_eq!(kind("ftl:cron 1h"), DirectiveKind::Cron("1h".into()));
        assert!(
            error("ftl:cron 99999999999999999999m")
                .message
                .contains("longer than a duration holds")
        );
        assert_eq!(kind("ftl:cron Mon"), DirectiveKind::Cron("Mon".into()));
        assert_eq!(
            kind("ftl:retry 10 1s 1m catch shop.recover"),
            DirectiveKind::Retry {
                count: Some(10),
                min_backoff: "1s".into(),
                max_backoff: Some("1m".into()),
                catch: Some(DirectiveRef {
                    module: Some("shop".into()),
                    name: "recover".into(),
                    pos: Pos {
                        file: "a.go".into(),
                        line: 3,
                        column: 28
                    }
                }),
            }
        );
        assert!(matches!(
            kind("ftl:subscribe payins from=latest deadletter"),
            DirectiveKind::Subscribe {
                from: SubscribeFrom::Latest,
                dead_letter: true,
                ..
            }
        ));
        assert_eq!(
            kind("ftl:topic export partitions=4"),
            DirectiveKind::Topic {
                export: true,
                partitions: 4
            }
        );
        assert_eq!(
            kind("ftl:typemap go \"example.com/x.Y\""),
            DirectiveKind::TypeMap {
                runtime: "go".into(),
                native_name: "example.com/x.Y".into()
            }
        );
        assert_eq!(
            kind("ftl:encoding lenient"),
            DirectiveKind::Encoding { lenient: true }
        );
        assert_eq!(
            kind("ftl:database postgres orders"),
            DirectiveKind::Database {
                engine: "postgres".into(),
                name: "orders".into()
            }
        );
        assert_eq!(
            kind("ftl:fixture manual"),
            DirectiveKind::Fixture { manual: true }
        );
        assert_eq!(kind("ftl:transaction"), DirectiveKind::Transaction);
        assert_eq!(
            kind("ftl:egress url=\"https://x.y/z\" other=\"${cfg}\""),
            DirectiveKind::Egress(vec![
                ("url".into(), "https://x.y/z".into()),
                ("other".into(), "${cfg}".into())
            ])
        );
    }

    #[test]
    fn errors_point_at_the_offending_word() {
        let d = error("ftl:verb exported");
        assert_eq!(d.pos.as_ref().map(|p| p.column), Some(12));
        let d = error("ftl:verv");
        assert_eq!(d.help(), Some("did you mean `//ftl:verb`?"));
        let d = error("ftl:ingress GETS /x");
        assert!(d.message.contains("GETS"));
        let d = error("ftl:cron * * * * * 9999");
        assert!(d.message.contains("year field"), "{}", d.message);
        let d = error("ftl:cron 0 0 0 0 0");
        assert!(d.message.contains("day-of-month"), "{}", d.message);
        assert!(error("ftl:retry 5").message.contains("incomplete"));
        assert!(error("ftl:retry 5 1x").message.contains("invalid duration"));
        assert!(error("ftl:subscribe payins").message.contains("incomplete"));
        assert!(
            error("ftl:data export:realm")
                .message
                .contains("export:realm")
        );
        assert!(
            error("ftl:topic partitions=0")
                .message
                .contains("partitions=0")
        );
        assert!(
            error("ftl:ingress GET orders")
                .message
                .contains("does not start")
        );
    }
}
