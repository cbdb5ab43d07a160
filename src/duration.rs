//! Durations as realm writes them: `500ms`, `10s`, `2m`, `1h`, `1d`, sums
//! such as `1m30s` (FTL's form), and in settings a bare number of seconds.
//!
//! One reading of the units for schema text (`+retry 200ms`), the project
//! file (`upstream-timeout = "30s"`) and the command line (`--timeout`),
//! and one way of printing a duration in messages. Pure: no I/O, no clock.

use std::time::Duration;

/// The milliseconds of `<number><unit>...` (units ms, s, m, h, d): `None`
/// when `s` is not written so, `Some(None)` when the sum does not fit in
/// 64 bits.
pub fn millis(s: &str) -> Option<Option<u64>> {
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total = Some(0u64);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n = rest[..digits].parse::<u64>().ok();
        rest = &rest[digits..];
        let (unit, scale) = [
            ("ms", 1),
            ("s", 1000),
            ("m", 60_000),
            ("h", 3_600_000),
            ("d", 86_400_000),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total = total
            .zip(n)
            .and_then(|(t, n)| n.checked_mul(scale).and_then(|ms| t.checked_add(ms)));
    }
    Some(total)
}

/// Parses a setting's duration: `500ms`, `10s`, `2m`, `1h`, `1d`, a sum
/// such as `1m30s`, or a bare number of seconds. Values that overflow are
/// errors, not panics.
pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration; write e.g. 500ms, 10s, 2m or 1m30s");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    match millis(s) {
        Some(Some(ms)) => Ok(Duration::from_millis(ms)),
        _ => Err(bad()),
    }
}

/// A duration as FTL's `+retry` reads it: `<n><unit>` parts with units d,
/// h, m, s, from largest to smallest, each at most once (`1d3h2m`). The
/// errors are FTL's words. Sums that overflow saturate.
pub fn ftl_units(text: &str) -> Result<Duration, String> {
    let mut rest = text;
    let mut total = Duration::ZERO;
    let mut previous: Option<u64> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || letters == 0 {
            return Err(format!(
                "unable to parse duration {rest:?} - expected duration in format like '1m' or '30s'"
            ));
        }
        let unit = &rest[digits..digits + letters];
        let seconds = match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            other => {
                return Err(format!(
                    "duration has unknown unit {other:?} - use 'd', 'h', 'm' or 's', eg '1d' or '30s'"
                ));
            }
        };
        if previous.is_some_and(|p| p <= seconds) {
            return Err(format!(
                "duration has unit {unit:?} out of order - units need to be ordered from largest to smallest - eg '1d3h2m'"
            ));
        }
        previous = Some(seconds);
        let n: u64 = rest[..digits].parse().unwrap_or(u64::MAX);
        total = n
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(Duration::from_secs(s)))
            .unwrap_or(Duration::MAX);
        rest = &rest[digits + letters..];
    }
    Ok(total)
}

/// `1.5s`, `250ms`, `2m`: a duration for messages.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_durations() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        for bad in [
            "",
            "soon",
            "5x",
            "m",
            "1m30",
            "18446744073709551615h",
            "-1s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn millis_tells_not_a_duration_from_too_long() {
        assert_eq!(millis("1h1ms"), Some(Some(3_600_001)));
        assert_eq!(millis("1x"), None);
        assert_eq!(millis("99999999999999999999s"), Some(None));
    }

    #[test]
    fn formats_for_messages() {
        let cases = [
            (250, "250ms"),
            (1000, "1s"),
            (1500, "1.5s"),
            (120_000, "2m"),
            (90_000, "90s"),
        ];
        for (ms, text) in cases {
            assert_eq!(format(Duration::from_millis(ms)), text);
        }
    }
}
