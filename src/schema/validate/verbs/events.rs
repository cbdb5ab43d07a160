//! `+cron`, `+retry` and `+subscribe` on verbs.

use crate::rules;
use std::time::Duration;

use super::super::{Validator, cron, fmt_pos};
use super::VerbLine;
use crate::schema::model::*;

/// FTL's bounds of a retry backoff.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);
/// FTL's defaults.
const DEFAULT_RETRY_COUNT: i64 = 10;
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// A `+retry` line: count, backoffs as written, catch verb.
pub(super) struct Retry<'a> {
    pub(super) count: Option<i64>,
    pub(super) min: &'a str,
    pub(super) max: Option<&'a str>,
    pub(super) catch: Option<&'a Ref>,
}

impl<'a> Validator<'a> {
    /// A pattern FTL's cron accepts, on a verb taking and giving `Unit`.
    pub(super) fn check_cron(&mut self, line: &VerbLine<'_, 'a>, pattern: &str) {
        let VerbLine { site, verb, pos } = *line;
        if let Err(why) = cron::check(pattern) {
            let d = self
                    .at(
                        pos,
                        site,
                        format!(
                            "verb {}: invalid cron expression {pattern:?}: {why}",
                            verb.name
                        ),
                    )
                    .with_len(5)
                    .with_help("write 5 to 7 fields (`0 * * * *`), an interval (`30s`, `10m`, `12h`) or a weekday (`Mon`)");
            self.report(d.or_code(rules::VERB_EVENTS));
        }
        for (what, ty) in [("request", &verb.request), ("response", &verb.response)] {
            if *ty != Type::Unit {
                let d = self
                    .at(
                        pos,
                        site,
                        format!("verb {}: cron job can not have a {what} type", verb.name),
                    )
                    .with_len(5)
                    .with_help(format!("a cron job is `verb {}(Unit) Unit`", verb.name));
                self.report(d.or_code(rules::VERB_EVENTS));
            }
        }
    }

    pub(super) fn check_retry(&mut self, line: &VerbLine<'_, 'a>, retry: Retry<'a>) {
        let VerbLine { site, verb, pos } = *line;
        let Retry {
            count,
            min,
            max,
            catch,
        } = retry;
        let error = |v: &mut Self, message: String| {
            let d = v
                .at(pos, site, message)
                .with_len("+retry".len())
                .with_help("`+retry [count] min-backoff [max-backoff] [catch verb]`, backoffs from 1s to 1d in d, h, m and s, e.g. `+retry 5 1s 1m`");
            v.report(d.or_code(rules::VERB_EVENTS));
        };
        let count = count.unwrap_or(DEFAULT_RETRY_COUNT);
        if count < 0 {
            error(self, "retry count can not be negative".into());
        }
        let min_backoff = if min.is_empty() {
            if count != 0 {
                error(self, "retry must have a minimum backoff".into());
                return;
            }
            MIN_BACKOFF
        } else {
            match retry_duration(min) {
                Ok(d) => d,
                Err(why) => {
                    error(self, format!("could not parse min backoff duration: {why}"));
                    return;
                }
            }
        };
        let max_backoff = match max {
            None => min_backoff.max(DEFAULT_MAX_BACKOFF),
            Some(max) => match retry_duration(max) {
                Ok(d) => d,
                Err(why) => {
                    error(self, format!("could not parse max backoff duration: {why}"));
                    return;
                }
            },
        };
        if max_backoff < min_backoff {
            error(
                self,
                format!(
                    "max backoff duration ({}) needs to be at least as long as initial backoff ({min})",
                    max.unwrap_or_default()
                ),
            );
        }
        let Some(catch) = catch else {
            if count == 0 && !min.is_empty() {
                error(
                    self,
                    "can not define a backoff duration when retry count is 0 and no catch is declared"
                        .into(),
                );
            }
            return;
        };
        // An unknown or non-verb catch is reported with the reference.
        let Some(target) = self.lookup(site, catch, Some(DeclKind::Verb)) else {
            return;
        };
        let Decl::Verb(catcher) = target.decl else {
            return;
        };
        let catcher_site = target.site();
        let request = self.canonical(site, &verb.request);
        let accepted = match &catcher.request {
            Type::Ref(r) => {
                self.lookup(&catcher_site, r, None)
                    .is_some_and(|t| t.builtin && t.decl.name() == "CatchRequest")
                    && r.type_args.len() == 1
                    && (r.type_args[0] == Type::Any
                        || self.canonical(&catcher_site, &r.type_args[0]) == request)
            }
            _ => false,
        };
        if !accepted {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "catch verb must have a request type of builtin.CatchRequest<{request}> or builtin.CatchRequest<Any>, but found {}",
                        catcher.request
                    ),
                )
                .with_len("+retry".len())
                .with_help(format!(
                    "`{}` is declared{}",
                    target.name(),
                    fmt_pos(catcher.pos.as_ref())
                ));
            self.report(d.or_code(rules::VERB_EVENTS));
        }
        if catcher.response != Type::Unit {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "catch verb must not have a response type but found {}",
                        catcher.response
                    ),
                )
                .with_len("+retry".len())
                .with_help(format!(
                    "a catch verb gives `Unit`: `verb {}({}) Unit`",
                    catcher.name, catcher.request
                ));
            self.report(d.or_code(rules::VERB_EVENTS));
        }
    }

    pub(super) fn check_subscribe(
        &mut self,
        line: &VerbLine<'_, 'a>,
        topic: &'a Ref,
        dead_letter: bool,
    ) {
        let VerbLine { site, verb, pos } = *line;
        let request = self.canonical(site, &verb.request);
        if let Some(target) = self.lookup(site, topic, Some(DeclKind::Topic))
            && let Decl::Topic(t) = target.decl
        {
            let event = self.canonical(&target.site(), &t.event);
            if request != event {
                let d = self
                    .at(
                        pos,
                        site,
                        format!(
                            "verb {}: request type {request} differs from subscription's event type {event}",
                            verb.name
                        ),
                    )
                    .with_len("+subscribe".len())
                    .with_help(format!("a subscriber takes the topic's event: `verb {}({event}) Unit`", verb.name));
                self.report(d.or_code(rules::VERB_EVENTS));
            }
        }
        if verb.response != Type::Unit {
            let d = self
                .at(
                    pos,
                    site,
                    format!(
                        "verb {}: must be a sink to subscribe but found response type {}",
                        verb.name, verb.response
                    ),
                )
                .with_len("+subscribe".len())
                .with_help("a subscriber gives `Unit`");
            self.report(d.or_code(rules::VERB_EVENTS));
        }
        if !dead_letter {
            return;
        }
        // FTL declares the dead-letter topic when it is missing; one that
        // is declared must be a topic of failed events.
        let name = format!("{}Failed", verb.name);
        let Some(decl) = site.module.decls.iter().find(|d| d.name() == name) else {
            return;
        };
        let qualified = format!("{}.{name}", site.module.name);
        let expected = format!("builtin.FailedEvent<{request}>");
        let message = match decl {
            Decl::Topic(t) => {
                let event = self.canonical(site, &t.event);
                if event == expected {
                    return;
                }
                format!(
                    "dead letter topic {qualified} must have the same event type ({expected}) as the subscription request type, not {event}"
                )
            }
            other => format!(
                "expected {qualified} to be a dead letter topic but was already declared{} as {}",
                fmt_pos(other.pos()),
                other.kind()
            ),
        };
        let d = self
            .at(pos, site, message)
            .with_len("+subscribe".len())
            .with_help(format!(
                "declare `topic {name} {expected}`, or let FTL declare it"
            ));
        self.report(d.or_code(rules::VERB_EVENTS));
    }
}

/// A retry backoff as FTL reads it ([`crate::duration::ftl_units`]),
/// between 1s and 1d.
fn retry_duration(text: &str) -> Result<Duration, String> {
    let total = crate::duration::ftl_units(text)
        .map_err(|e| format!("could not parse retry duration: {e}"))?;
    if total < MIN_BACKOFF {
        return Err("retry must have a minimum backoff of 1s".to_string());
    }
    if total > MAX_BACKOFF {
        return Err("retry backoff can not be larger than 1d".to_string());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_durations_are_ftls() {
        assert_eq!(retry_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(retry_duration("1d"), Ok(Duration::from_secs(86_400)));
        for (bad, why) in [
            ("500ms", "unknown unit \"ms\""),
            ("5s1m", "out of order"),
            ("0s", "minimum backoff of 1s"),
            ("1d1s", "larger than 1d"),
            ("99999999999999999999h", "larger than 1d"),
        ] {
            let err = retry_duration(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
