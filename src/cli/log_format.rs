//! The text of a log line when stderr is not a terminal: what
//! tracing-subscriber's compact format writes without colours
//! (`2026-12-01T11:00:40.816074Z  INFO call request_id=… status=200`),
//! written without its general machinery.
//!
//! Why: the ingress logs a line per call, and tracing's formatter took
//! about 2 µs of a forwarded call's ~24 (perf: timestamp formatting 0.8 %,
//! field visiting 1.9 % of the ingress's CPU). Here the date and time are
//! formatted once a second per thread, and fields are written straight
//! into the line. The text is the compact format's, byte for byte (the
//! tests format the same events through both); an event inside a span
//! (only other crates' debug logs have them) is handed to the compact
//! format itself. A terminal gets tracing's coloured compact format.

use std::cell::Cell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Compact, Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The line format (see the module's documentation).
pub struct Line {
    /// For events inside spans.
    compact: Format<Compact>,
}

impl Line {
    pub fn new() -> Line {
        Line {
            compact: tracing_subscriber::fmt::format()
                .with_target(false)
                .with_ansi(false)
                .compact(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if ctx.event_scope().is_some() {
            return self.compact.format_event(ctx, writer, event);
        }
        write_time(&mut writer, SystemTime::now())?;
        writer.write_str(match *event.metadata().level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        let mut fields = Fields {
            out: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// `2026-12-01T11:00:40.816074Z`: the date and time up to the second are
/// made once a second per thread.
fn write_time(out: &mut impl Write, now: SystemTime) -> fmt::Result {
    thread_local! {
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    // Before 1970 (a clock set wrong) is written as 1970's first second.
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let text = SECOND.with(|second| {
        let (at, text) = second.get();
        if at == secs {
            return text;
        }
        let text = date_time(secs);
        second.set((secs, text));
        text
    });
    // The bytes are ASCII digits and separators.
    out.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
    let mut micros = *b".000000Z";
    let mut n = since.subsec_micros();
    for digit in micros[1..7].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.write_str(std::str::from_utf8(&micros).map_err(|_| fmt::Error)?)
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of seconds since 1970, by the civil-from-days
/// algorithm (Howard Hinnant's `civil_from_days`), for years up to 9999.
fn date_time(secs: u64) -> [u8; 19] {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = (yoe + era * 400 + u64::from(month <= 2)).min(9999);
    let mut text = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, rest / 3_600);
    put(14, 2, rest / 60 % 60);
    put(17, 2, rest % 60);
    text
}

/// An event's fields as the compact format writes them: the message as it
/// is (terminal control characters escaped), then `name=value` with the
/// value's `Debug`, separated by spaces.
struct Fields<'w, 'a> {
    out: &'w mut Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn write(&mut self, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
        // An event from the `log` crate (rustls, notify) carries its
        // target, module, file and line as `log.*` fields, which the
        // compact format leaves out.
        if field.name().starts_with("log.") {
            return Ok(());
        }
        if !std::mem::take(&mut self.first) {
            self.out.write_char(' ')?;
        }
        match field.name() {
            "message" => write!(Escaping(&mut *self.out), "{value:?}"),
            name => {
                self.out
                    .write_str(name.strip_prefix("r#").unwrap_or(name))?;
                write!(self.out, "={value:?}")
            }
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = if field.name() == "message" {
                self.write(field, &format_args!("{value}"))
            } else {
                self.write(field, &value)
            };
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.result = match value.source() {
                Some(source) => self.write(
                    field,
                    &format_args!(
                        "{} {}.sources={}",
                        Escaped(value),
                        field.name(),
                        Sources(source)
                    ),
                ),
                None => self.write(field, &format_args!("{}", Escaped(value))),
            };
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self.write(field, value);
        }
    }
}

/// A value displayed with terminal control characters escaped.
struct Escaped<'a>(&'a dyn fmt::Display);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaping(f), "{}", self.0)
    }
}

/// An error's sources, `[first, second]`, escaped.
struct Sources<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        let mut next = Some(self.0);
        let mut first = true;
        while let Some(error) = next {
            if !std::mem::take(&mut first) {
                f.write_str(", ")?;
            }
            write!(f, "{}", Escaped(error))?;
            next = error.source();
        }
        f.write_char(']')
    }
}

/// Writes through, escaping what a terminal would take as a command: ESC,
/// BEL, BS, FF, DEL and the C1 controls (tracing-subscriber's rules, so a
/// logged value cannot move the cursor or recolour the terminal).
struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let plain = |c: char| {
            !matches!(
                c,
                '\x07' | '\x08' | '\x0c' | '\x1b' | '\x7f' | '\u{80}'..='\u{9f}'
            )
        };
        if s.chars().all(plain) {
            return self.0.write_str(s);
        }
        for c in s.chars() {
            match c {
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().expect("buffer").clone())
                .expect("utf-8")
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    #[derive(Debug)]
    struct Failure(&'static str, Option<Box<Failure>>);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    /// Events of every kind the ingress and its libraries log.
    fn events() {
        let id = "5f0c6a1e-0000-4000-8000-000000000001";
        tracing::info!(
            request_id = %id,
            trace_id = %format_args!("{:032x}", 0xabc_u128),
            caller_realm = "shop",
            caller_module = "",
            call = %"balance.account@bank",
            status = 200u16,
            refused = None::<&str>,
            micros = 1093u64,
            "call"
        );
        tracing::info!(status = 400u16, refused = Some("invalid_body"), "call");
        tracing::warn!("a warning with {} and \u{1b}[31mcolour\u{1b}[0m", "args");
        tracing::error!("a\nmessage over two lines, \u{7} \u{85} \u{7f} \u{8}\u{c}");
        tracing::info!(
            quoted = "a \"b\"\n\u{1b}",
            r#type = "t",
            flag = true,
            ratio = 0.5,
            delta = -3i64,
            "kinds"
        );
        let failure = Failure("outer", Some(Box::new(Failure("in\u{1b}ner", None))));
        tracing::warn!(
            error = &failure as &(dyn std::error::Error + 'static),
            "failed"
        );
        let single = Failure("alone", None);
        tracing::warn!(error = &single as &(dyn std::error::Error + 'static));
        tracing::debug!(addr = %"127.0.0.1:1", ?single, "no message first");
        // As the `log` crate's records arrive (through tracing-log).
        tracing::warn!(
            log.target = "rustls::common_state",
            log.module_path = "rustls::common_state",
            log.file = "src/common_state.rs",
            log.line = 11u32,
            "TLS alert warning received: {}",
            5
        );
        tracing::info!(log.target = "notify", flag = true);
        let span = tracing::info_span!("outer", conn = 7);
        span.in_scope(|| tracing::info!(inner = 1, "in a span"));
    }

    /// The lines of [`events`] through a formatter, timestamps cut off.
    fn lines_of(line: bool) -> Vec<String> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(Level::TRACE)
            .with_ansi(false);
        if line {
            tracing::subscriber::with_default(builder.event_format(Line::new()).finish(), events);
        } else {
            let compact = builder.with_target(false).compact().finish();
            tracing::subscriber::with_default(compact, events);
        }
        buffer
            .lines()
            .into_iter()
            .map(|l| {
                // A message over two lines: the second has no time.
                match l.split_at_checked(27) {
                    Some((time, rest)) if time.starts_with("20") && time.ends_with('Z') => {
                        rest.to_string()
                    }
                    _ => l,
                }
            })
            .collect()
    }

    #[test]
    fn lines_are_the_compact_formats() {
        let (ours, tracings) = (lines_of(true), lines_of(false));
        assert_eq!(ours.len(), 12, "{ours:#?}");
        for (a, b) in ours.iter().zip(&tracings) {
            assert_eq!(a, b);
        }
        assert_eq!(ours, tracings);
        // The line a call writes.
        assert_eq!(
            ours[0],
            "  INFO call request_id=5f0c6a1e-0000-4000-8000-000000000001 trace_id=00000000000000000000000000000abc caller_realm=\"shop\" caller_module=\"\" call=balance.account@bank status=200 micros=1093"
        );
        assert!(ours[2].contains("\\x1b[31mcolour"), "{}", ours[2]);
        assert_eq!(ours[9], "  WARN TLS alert warning received: 5");
        assert_eq!(ours[10], "  INFO flag=true");
    }

    #[test]
    fn times_are_written_as_tracing_writes_them() {
        for (secs, micros, text) in [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.000005Z"),
            (1_798_761_599, 999_999, "2026-12-31T23:59:59.999999Z"),
            (1_796_124_040, 816_074, "2026-12-01T11:20:40.816074Z"),
            (4_107_542_400, 1, "2100-03-01T00:00:00.000001Z"),
        ] {
            let at = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
            let mut ours = String::new();
            write_time(&mut ours, at).expect("write");
            assert_eq!(ours, text);
            // The same second again comes from the cache.
            let mut again = String::new();
            write_time(&mut again, at).expect("write");
            assert_eq!(again, text);
        }
    }
}
