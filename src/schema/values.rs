//! Single values as Go reads them, each to a canonical value: RFC 3339
//! times (`time.Parse(time.RFC3339, s)`, which FTL's Go runtime and
//! protojson both use), integers written as text (`strconv.ParseInt(s,
//! 10, 64)`, how `encoding/json` reads an integer map key), base64 as
//! `encoding/json` reads `[]byte` (`base64.StdEncoding`), and the keys of
//! FTL maps.
//!
//! One reader for each, so that the FTL `Time` path and the proto3
//! `Timestamp` path cannot disagree about what a date is, and so that two
//! map keys that Go reads as one are seen to be one (`"5"` and `"05"`).
//! `tests/it/hostile_values.rs` compares every reader here with Go's, case by
//! case, on a few thousand generated inputs.
//!
//! Pure.

use std::fmt;

/// An instant: seconds since 1970-01-01T00:00:00Z and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instant {
    pub seconds: i64,
    pub nanos: u32,
}

/// In UTC, with its nanoseconds: `2024-05-01T12:00:00.500000000Z`.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.seconds.div_euclid(86_400);
        let second = self.seconds.rem_euclid(86_400);
        let date = i32::try_from(days + UNIX_EPOCH_JULIAN_DAY)
            .ok()
            .and_then(|day| time::Date::from_julian_day(day).ok());
        match date {
            Some(date) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
                date.year(),
                u8::from(date.month()),
                date.day(),
                second / 3600,
                second / 60 % 60,
                second % 60,
                self.nanos
            ),
            None => write!(
                f,
                "{}.{:09}s after 1970-01-01T00:00:00Z",
                self.seconds, self.nanos
            ),
        }
    }
}

const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// A time read from RFC 3339 text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoTime {
    /// The instant it names.
    pub instant: Instant,
    /// The offset from UTC in seconds (`Z` is 0).
    pub offset: i32,
    /// Written with `Z` rather than an offset.
    pub utc: bool,
    /// The fraction's separator (`.` or `,`) and its digits, as written.
    pub fraction: Option<(u8, usize)>,
}

/// The form every refusal of a time names.
pub const RFC3339_FORM: &str = "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)";

/// Why a text is not a time Go reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeError {
    pub reason: String,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Reads `s` as Go's `time.Parse(time.RFC3339, s)` does (Go 1.20 and
/// later, as FTL's runtime is built): `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction of any length after `.` or `,`, then `Z` or `±HH:MM`. Upper
/// case `T` and `Z` only; the year from 0000 to 9999; the day must exist
/// in its month (2023-02-29 does not); hour 0-23 (Go also takes a
/// one-digit hour), minute and second 0-59 (no leap second); the offset
/// at most 24 hours and 60 minutes (Go's own bounds).
///
/// The calendar (leap years, days since the epoch) is the `time` crate's.
pub fn read_time(s: &str) -> Result<GoTime, TimeError> {
    let shape = || TimeError {
        reason: format!("it is not of the form {RFC3339_FORM}"),
    };
    let range = |what: &str, n: u32, bounds: &str| TimeError {
        reason: format!("{what} {n} is out of range ({bounds})"),
    };
    let mut r = Reader { b: s.as_bytes() };
    let year = r.digits(4).ok_or_else(shape)?;
    r.byte(b'-').ok_or_else(shape)?;
    let month = r.digits(2).ok_or_else(shape)?;
    r.byte(b'-').ok_or_else(shape)?;
    let day = r.digits(2).ok_or_else(shape)?;
    r.byte(b'T').ok_or_else(shape)?;
    // Go reads the hour of RFC3339's layout ("15") with one digit or two.
    let hour = r.digits(2).or_else(|| r.digits(1)).ok_or_else(shape)?;
    r.byte(b':').ok_or_else(shape)?;
    let minute = r.digits(2).ok_or_else(shape)?;
    r.byte(b':').ok_or_else(shape)?;
    let second = r.digits(2).ok_or_else(shape)?;
    let mut nanos = 0;
    let mut fraction = None;
    if let [sep @ (b'.' | b','), d, ..] = r.b
        && d.is_ascii_digit()
    {
        let sep = *sep;
        r.b = &r.b[1..];
        let n = r.b.iter().take_while(|b| b.is_ascii_digit()).count();
        for i in 0..9 {
            nanos = nanos * 10
                + r.b
                    .get(i)
                    .filter(|_| i < n)
                    .map_or(0, |d| u32::from(d - b'0'));
        }
        r.b = &r.b[n..];
        fraction = Some((sep, n));
    }
    let (offset, utc) = if r.byte(b'Z').is_some() {
        (0, true)
    } else {
        let sign = match r.b.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(shape()),
        };
        r.b = &r.b[1..];
        let oh = r.digits(2).ok_or_else(shape)?;
        r.byte(b':').ok_or_else(shape)?;
        let om = r.digits(2).ok_or_else(shape)?;
        if oh > 24 {
            return Err(range("the offset's hour", oh, "at most 24"));
        }
        if om > 60 {
            return Err(range("the offset's minute", om, "at most 60"));
        }
        // At most 25 hours: fits.
        (sign * (oh * 3600 + om * 60) as i32, false)
    };
    if !r.b.is_empty() {
        return Err(shape());
    }
    if !(1..=12).contains(&month) {
        return Err(range("month", month, "01 to 12"));
    }
    if hour > 23 {
        return Err(range("hour", hour, "00 to 23"));
    }
    if minute > 59 {
        return Err(range("minute", minute, "00 to 59"));
    }
    if second > 59 {
        return Err(range(
            "second",
            second,
            "00 to 59; Go does not read leap seconds",
        ));
    }
    // Every number read fits: 4 digits of year, 2 of month and day.
    let date = time::Month::try_from(month as u8)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(year as i32, m, day as u8).ok())
        .ok_or_else(|| TimeError {
            reason: format!("{year:04}-{month:02} has no day {day:02}"),
        })?;
    let days = i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY;
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - i64::from(offset);
    Ok(GoTime {
        instant: Instant { seconds, nanos },
        offset,
        utc,
        fraction,
    })
}

struct Reader<'a> {
    b: &'a [u8],
}

impl Reader<'_> {
    /// Exactly `n` ASCII digits, as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let digits = self.b.get(..n)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.b = &self.b[n..];
        Some(
            digits
                .iter()
                .fold(0, |acc, d| acc * 10 + u32::from(d - b'0')),
        )
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        let (first, rest) = self.b.split_first()?;
        (*first == expected).then(|| self.b = rest)
    }
}

/// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range
/// of a google.protobuf.Timestamp.
pub const MIN_TIMESTAMP: i64 = -62_135_596_800;
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// An integer as `strconv.ParseInt(s, 10, 64)` reads it: an optional `+`
/// or `-`, then decimal digits (leading zeros allowed), nothing else, within
/// `min..=max`. That is how Go's `encoding/json` reads an integer map key
/// and protojson an integer map key of any width.
pub fn parse_int(s: &str, min: i128, max: i128) -> Option<i128> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Beyond i128 (40 digits and more): out of range all the same.
    let n: i128 = s.parse().ok()?;
    (min..=max).contains(&n).then_some(n)
}

/// Base64 as Go's `encoding/json` reads a `[]byte`: the standard alphabet
/// with padding (`base64.StdEncoding`), line breaks (`\r`, `\n`) skipped
/// anywhere, unused bits of the last character ignored. Unpadded and
/// URL-safe text are refused, as Go refuses them.
pub fn decode_base64_std(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    if s.contains(['\r', '\n']) {
        let joined: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        GO_STD.decode(joined).ok()
    } else {
        GO_STD.decode(s).ok()
    }
}

/// A map key read as its type, for telling which keys name one entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapKey {
    Int(i128),
    /// A float's bits, `-0` as `0`.
    Float(u64),
    Bool(bool),
    Instant(Instant),
}

impl fmt::Display for MapKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapKey::Int(n) => write!(f, "{n}"),
            MapKey::Float(bits) => write!(f, "{}", f64::from_bits(*bits)),
            MapKey::Bool(b) => write!(f, "{b}"),
            MapKey::Instant(i) => write!(f, "{i}"),
        }
    }
}

/// An `Int` key: Go's `strconv.ParseInt(s, 10, 64)` (`"05"`, `"+5"` and
/// `"5"` are one key; so are `"-0"` and `"0"`).
pub fn int_key(key: &str) -> Result<MapKey, String> {
    parse_int(key, i64::MIN.into(), i64::MAX.into())
        .map(MapKey::Int)
        .ok_or_else(|| {
            format!(
                "expected an integer key (Int: decimal digits with an optional sign, from -9223372036854775808 to 9223372036854775807), found {key:?}"
            )
        })
}

/// A `Float` key: JSON's number grammar, finite (`"1"`, `"1.0"` and
/// `"1e0"` are one key; so are `"-0"` and `"0"`).
pub fn float_key(key: &str) -> Result<MapKey, String> {
    let value = is_json_number(key)
        .then(|| key.parse::<f64>().ok())
        .flatten()
        .filter(|f| f.is_finite());
    match value {
        Some(f) => Ok(MapKey::Float(if f == 0.0 { 0 } else { f.to_bits() })),
        None => Err(format!(
            "expected a number key (Float, such as \"1.5\" or \"-2e3\"), found {key:?}"
        )),
    }
}

/// A `Bool` key: `"true"` or `"false"`.
pub fn bool_key(key: &str) -> Result<MapKey, String> {
    match key {
        "true" => Ok(MapKey::Bool(true)),
        "false" => Ok(MapKey::Bool(false)),
        _ => Err(format!(
            "expected a key that is true or false (Bool), found {key:?}"
        )),
    }
}

/// A `Time` key: RFC 3339 as [`read_time`] reads it; two keys naming
/// one instant are one key (`"...12:00:00Z"`, `"...12:00:00.000Z"`,
/// `"...14:00:00+02:00"`).
pub fn time_key(key: &str) -> Result<MapKey, String> {
    read_time(key)
        .map(|t| MapKey::Instant(t.instant))
        .map_err(|e| {
            format!(
                "expected an RFC 3339 time key such as \"2024-05-01T12:00:00Z\" (Time), found {key:?}: {e}"
            )
        })
}

/// JSON's number grammar: `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`.
pub(crate) fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(s: &str) -> bool {
        read_time(s).is_ok()
    }

    #[test]
    fn times_as_go_reads_them() {
        for ok in [
            "2024-05-01T12:00:00Z",
            "0000-01-01T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "2024-05-01T1:00:00Z",
            "2024-05-01T12:00:00,5Z",
            "2024-05-01T12:00:00.1234567891234Z",
            "2024-05-01T12:00:00-00:00",
            "2024-05-01T12:00:00+24:00",
            "2024-05-01T12:00:00+00:60",
            "9999-12-31T23:59:59.999999999-23:59",
        ] {
            assert!(accepts(ok), "{ok}");
        }
        for bad in [
            "2024-99-99T99:99:99Z",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-00-00T00:00:00Z",
            "2024-13-01T24:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:60Z",
            "2024-05-01T12:60:00Z",
            "2024-05-01T12:00:00+99:99",
            "2024-05-01T12:00:00+25:00",
            "2024-05-01T12:00:00+00:61",
            "2024-05-01t12:00:00Z",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00:00z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00+0100",
            "2024-5-01T12:00:00Z",
            "+024-05-01T12:00:00Z",
            "2024-05-01T12:00:00Z ",
            "",
            "yesterday",
        ] {
            assert!(!accepts(bad), "{bad}");
        }
        assert_eq!(
            read_time("2024-02-30T00:00:00Z").map_err(|e| e.reason),
            Err("2024-02 has no day 30".into())
        );
        assert_eq!(
            read_time("2024-05-01T12:00:60Z").map_err(|e| e.reason),
            Err("second 60 is out of range (00 to 59; Go does not read leap seconds)".into())
        );
    }

    #[test]
    fn instants() {
        let at = |s: &str| read_time(s).expect("valid").instant;
        assert_eq!(
            at("1970-01-01T00:00:00Z"),
            Instant {
                seconds: 0,
                nanos: 0
            }
        );
        assert_eq!(
            at("2024-05-01T14:00:00.5+02:00"),
            Instant {
                seconds: 1_714_564_800,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            at("2024-05-01T12:00:00.5Z"),
            at("2024-05-01T14:00:00,500+02:00")
        );
        assert_eq!(at("0001-01-01T00:00:00Z").seconds, MIN_TIMESTAMP);
        assert_eq!(at("9999-12-31T23:59:59Z").seconds, MAX_TIMESTAMP);
        assert_eq!(at("2024-05-01T12:00:00.1234567899Z").nanos, 123_456_789);
    }

    #[test]
    fn keys() {
        for same in ["5", "05", "+5", "+0005"] {
            assert_eq!(int_key(same), Ok(MapKey::Int(5)));
        }
        assert_eq!(int_key("-0"), int_key("0"));
        for bad in [
            " 5",
            "5 ",
            "0x5",
            "1_0",
            "",
            "+",
            "-",
            "9223372036854775808",
            "1e3",
        ] {
            assert!(int_key(bad).is_err(), "{bad}");
        }
        assert_eq!(float_key("1"), float_key("1.0"));
        assert_eq!(float_key("-0"), float_key("0e5"));
        assert!(
            float_key("NaN").is_err() && float_key("1e999").is_err() && float_key("+1").is_err()
        );
        assert!(
            bool_key("true").is_ok() && bool_key("maybe").is_err() && bool_key("True").is_err()
        );
        assert_eq!(
            time_key("2024-05-01T12:00:00Z"),
            time_key("2024-05-01T14:00:00+02:00")
        );
        assert!(time_key("yesterday").is_err());
    }

    #[test]
    fn base64_as_go_reads_bytes() {
        assert_eq!(decode_base64_std("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64_std("aGl="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64_std("aG\r\nk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64_std(""), Some(Vec::new()));
        for bad in ["AA", "aGk", "-_-_", "a Gk=", "====", "aGk=="] {
            assert_eq!(decode_base64_std(bad), None, "{bad}");
        }
    }
}
