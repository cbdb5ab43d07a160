//! proto3 JSON's forms of single values, as protobuf's JSON mapping
//! defines them and its parsers (Go's protojson first) read them: integers
//! of each width as numbers or decimal strings, floats with "NaN" and
//! "Infinity", base64 in either alphabet, Timestamp, Duration and
//! FieldMask strings. The structure (messages, lists, maps, presence) is
//! [`super::json`]'s.
//!
//! Each check answers `Err(message)` in realm's words: what was expected,
//! and what was found. Pure.

use serde_json::{Number, Value};

use super::protobuf::IntRange;
use super::values::{self, is_json_number};

/// 2^63 and 2^64 as floats.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// ±10,000 years, protobuf's bound on a Duration.
const MAX_DURATION: u64 = 315_576_000_000;

/// An integer of `range`, written as a number (`5`, `5.0`, `5e2`) or a
/// decimal string (`"5"`, `"-12"`).
pub fn int(value: &Value, range: IntRange, kind: &str) -> Result<(), String> {
    let (min, max) = range.bounds();
    let expected = || {
        format!(
            "expected {} ({kind}): a number or a decimal string from {min} to {max}",
            range.describe()
        )
    };
    let n: Option<i128> = match value {
        Value::Number(n) => match number_as_integer(n) {
            Integer::Exact(i) => Some(i),
            Integer::Fraction => {
                return Err(format!(
                    "{}, found {}, which is not whole",
                    expected(),
                    found(value)
                ));
            }
            Integer::Huge => None,
        },
        Value::String(s) => {
            if !is_decimal(s) {
                return Err(format!("{}, found {}", expected(), found(value)));
            }
            // Beyond i128: out of range all the same.
            Some(s.parse::<i128>().unwrap_or(i128::MAX))
        }
        _ => return Err(format!("{}, found {}", expected(), found(value))),
    };
    match n {
        Some(n) if n >= min && n <= max => Ok(()),
        _ => Err(format!(
            "{}, found {}, which is out of range",
            expected(),
            found(value)
        )),
    }
}

enum Integer {
    Exact(i128),
    Fraction,
    /// A float beyond 64 bits (serde_json reads such integers as floats).
    Huge,
}

fn number_as_integer(n: &Number) -> Integer {
    if let Some(i) = n.as_i64() {
        return Integer::Exact(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Integer::Exact(u.into());
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() != 0.0 || !f.is_finite() {
        return Integer::Fraction;
    }
    // Exclusive bounds: an integer just beyond 64 bits reads as exactly
    // ±2^63 or 2^64.
    if f > -TWO_POW_63 && f < TWO_POW_64 {
        Integer::Exact(f as i128)
    } else {
        Integer::Huge
    }
}

/// `-?(0|[1-9][0-9]*)`: JSON's integer grammar, as protojson reads integer
/// strings (no blanks, no `+`, no leading zeros).
fn is_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
}

/// A float or double: a number, a numeric string, "NaN", "Infinity" or
/// "-Infinity". A float (32 bits) must be within its range.
pub fn float(value: &Value, bits32: bool, kind: &str) -> Result<(), String> {
    let expected = || {
        format!(
            "expected a number ({kind}), as a JSON number, a numeric string, \"NaN\", \"Infinity\" or \"-Infinity\""
        )
    };
    let f = match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {
            return Ok(());
        }
        Value::String(s) if is_json_number(s) => match s.parse::<f64>() {
            Ok(f) if f.is_finite() => f,
            _ => {
                return Err(format!(
                    "{}, found {}, which is out of range",
                    expected(),
                    found(value)
                ));
            }
        },
        _ => return Err(format!("{}, found {}", expected(), found(value))),
    };
    if bits32 && !(f as f32).is_finite() {
        return Err(format!(
            "{}, found {}, which is beyond a float's range (±3.4028235e38)",
            expected(),
            found(value)
        ));
    }
    Ok(())
}

/// Base64 as protojson reads it: the URL-safe alphabet when the text has
/// `-` or `_`, else the standard one; padded when its length is a multiple
/// of 4, else unpadded; line breaks skipped and unused bits ignored (Go's
/// `base64` decoder).
pub fn bytes(value: &Value) -> Result<(), String> {
    use base64::Engine;
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const fn engine(alphabet: &alphabet::Alphabet, padding: DecodePaddingMode) -> GeneralPurpose {
        GeneralPurpose::new(
            alphabet,
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(padding),
        )
    }
    const STANDARD: GeneralPurpose =
        engine(&alphabet::STANDARD, DecodePaddingMode::RequireCanonical);
    const STANDARD_NO_PAD: GeneralPurpose =
        engine(&alphabet::STANDARD, DecodePaddingMode::RequireNone);
    const URL_SAFE: GeneralPurpose =
        engine(&alphabet::URL_SAFE, DecodePaddingMode::RequireCanonical);
    const URL_SAFE_NO_PAD: GeneralPurpose =
        engine(&alphabet::URL_SAFE, DecodePaddingMode::RequireNone);
    let Value::String(s) = value else {
        return Err(format!(
            "expected a base64 string (bytes), found {}",
            found(value)
        ));
    };
    let engine = match (s.contains(['-', '_']), s.len() % 4 == 0) {
        (false, true) => STANDARD,
        (false, false) => STANDARD_NO_PAD,
        (true, true) => URL_SAFE,
        (true, false) => URL_SAFE_NO_PAD,
    };
    let decoded = if s.contains(['\r', '\n']) {
        engine.decode(s.replace(['\r', '\n'], ""))
    } else {
        engine.decode(s)
    };
    decoded.map(drop).map_err(|_| {
        "expected base64 (bytes: the standard or the URL-safe alphabet, = padding where the length is a multiple of 4 and none otherwise), found a string that is not base64"
            .into()
    })
}

/// A Timestamp, as protojson reads one: RFC 3339 as Go's `time.Parse`
/// reads it ([`values::read_time`]), at most 9 digits after a `.`, from
/// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z; but a two-digit
/// hour and a `.` before the fraction, the only forms the ingress's
/// transcoder reads.
pub fn timestamp(value: &Value) -> Result<(), String> {
    const EXPECTED: &str = "expected an RFC 3339 time with an upper-case T and Z or an offset, such as \"2024-05-01T12:00:00Z\" or \"2024-05-01T14:00:00.5+02:00\", from year 1 to 9999 (google.protobuf.Timestamp)";
    let Value::String(s) = value else {
        return Err(format!("{EXPECTED}, found {}", found(value)));
    };
    let time =
        values::read_time(s).map_err(|e| format!("{EXPECTED}, found {}: {e}", found(value)))?;
    // protojson also reads a one-digit hour and a comma before the
    // fraction (Go's time.Parse does), but the ingress transcodes with
    // prost-reflect, which does not: refused here rather than by it.
    if s.as_bytes().get(12) == Some(&b':') {
        return Err(format!(
            "{EXPECTED}, found {}: write the hour with two digits (realm's protobuf transcoder reads no other form)",
            found(value)
        ));
    }
    if let Some((b',', _)) = time.fraction {
        return Err(format!(
            "{EXPECTED}, found {}: write a `.` before the fraction of a second, not a `,` (realm's protobuf transcoder reads no other form)",
            found(value)
        ));
    }
    if let Some((b'.', digits)) = time.fraction
        && digits > 9
    {
        return Err(format!(
            "{EXPECTED}, found {}: more than 9 digits of a second",
            found(value)
        ));
    }
    if !(values::MIN_TIMESTAMP..=values::MAX_TIMESTAMP).contains(&time.instant.seconds) {
        return Err(format!(
            "{EXPECTED}, found {}, which is out of range",
            found(value)
        ));
    }
    Ok(())
}

/// A Duration: seconds with up to 9 fractional digits and an `s`, within
/// ±315,576,000,000 s.
pub fn duration(value: &Value) -> Result<(), String> {
    const EXPECTED: &str = "expected a duration in seconds ending in \"s\", such as \"1.5s\" or \"-0.000000001s\", within ±315576000000s (google.protobuf.Duration)";
    let Value::String(s) = value else {
        return Err(format!("{EXPECTED}, found {}", found(value)));
    };
    let Some(number) = s.strip_suffix('s') else {
        return Err(format!("{EXPECTED}, found {}", found(value)));
    };
    let unsigned = number.strip_prefix('-').unwrap_or(number);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && all_digits(whole)
        && all_digits(fraction)
        && fraction.len() <= 9
        && (fraction.is_empty() != unsigned.contains('.'));
    if !well_formed {
        return Err(format!("{EXPECTED}, found {}", found(value)));
    }
    match whole.parse::<u64>() {
        Ok(seconds) if seconds <= MAX_DURATION => Ok(()),
        _ => Err(format!(
            "{EXPECTED}, found {}, which is out of range",
            found(value)
        )),
    }
}

/// A FieldMask: comma-separated paths of lowerCamelCase names joined by
/// dots (no `_`: the JSON form converts each capital to `_` and a lower
/// case letter).
pub fn field_mask(value: &Value) -> Result<(), String> {
    const EXPECTED: &str = "expected field paths in lowerCamelCase separated by commas, such as \"displayName,address.postCode\" (google.protobuf.FieldMask)";
    let Value::String(s) = value else {
        return Err(format!("{EXPECTED}, found {}", found(value)));
    };
    if s.is_empty() {
        return Ok(());
    }
    let valid_name = |name: &str| {
        name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    match s.split(',').find(|path| !path.split('.').all(valid_name)) {
        None => Ok(()),
        Some(path) => Err(format!(
            "{EXPECTED}, found the path {path:?} in {}",
            found(value)
        )),
    }
}

/// `null`, `"NULL_VALUE"` or `0`: google.protobuf.NullValue.
pub fn null_value(value: &Value) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        Value::String(s) if s == "NULL_VALUE" => Ok(()),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(()),
        _ => Err(format!(
            "expected null (google.protobuf.NullValue), found {}",
            found(value)
        )),
    }
}

/// A map key of an integer type (keys are strings in JSON), read as
/// protojson reads it (`strconv.ParseInt`/`ParseUint`: an optional sign,
/// leading zeros allowed), to its value: `"5"` and `"05"` are one key.
pub fn int_key(key: &str, range: IntRange, kind: &str) -> Result<i128, String> {
    let (min, max) = range.bounds();
    // ParseUint takes no sign at all.
    let unsigned = matches!(range, IntRange::U32 | IntRange::U64);
    let parsed = if unsigned && key.starts_with(['+', '-']) {
        None
    } else {
        values::parse_int(key, min, max)
    };
    parsed.ok_or_else(|| {
        format!(
            "expected a key that is {} ({kind}) from {min} to {max}, found {key:?}",
            range.describe()
        )
    })
}

/// "string \"5\"", "number 5", "null", ... (shared with [`super::json`]).
pub fn found(value: &Value) -> String {
    let mut text = match value {
        Value::Null => return "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => return "an array".into(),
        Value::Object(_) => return "an object".into(),
    };
    if text.len() > 60 {
        let mut end = 57;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers() {
        let i32_ = |v: Value| int(&v, IntRange::I32, "int32").is_ok();
        let u64_ = |v: Value| int(&v, IntRange::U64, "uint64").is_ok();
        let i64_ = |v: Value| int(&v, IntRange::I64, "int64").is_ok();
        assert!(i32_(json!(5)) && i32_(json!("5")) && i32_(json!(5.0)) && i32_(json!(-2147483648)));
        assert!(i32_(json!(1e3)) && i32_(json!("-7")));
        assert!(!i32_(json!(3000000000u64)) && !i32_(json!("2147483648")));
        assert!(!i32_(json!(1.5)) && !i32_(json!("1.5")) && !i32_(json!(" 5")));
        assert!(!i32_(json!("+5")) && !i32_(json!("05")) && !i32_(json!(true)));
        assert!(!i32_(json!(null)) && !i32_(json!("")) && !i32_(json!("-")));
        assert!(u64_(json!(18446744073709551615u64)) && u64_(json!("18446744073709551615")));
        assert!(!u64_(json!(-1)) && !u64_(json!("18446744073709551616")));
        assert!(!u64_(
            serde_json::from_str("18446744073709551616").expect("json")
        ));
        assert!(i64_(json!("-9223372036854775808")) && !i64_(json!("9223372036854775808")));
        assert!(!i64_(json!("99999999999999999999999999999999999999999999")));
        assert_eq!(
            int(&json!(3000000000u64), IntRange::I32, "int32"),
            Err("expected a 32-bit integer (int32): a number or a decimal string from -2147483648 to 2147483647, found number 3000000000, which is out of range".into())
        );
    }

    #[test]
    fn floats() {
        let f = |v: Value| float(&v, true, "float").is_ok();
        let d = |v: Value| float(&v, false, "double").is_ok();
        assert!(f(json!("NaN")) && f(json!("Infinity")) && f(json!("-Infinity")));
        assert!(f(json!(1.5)) && f(json!("1.5")) && f(json!("-1e3")) && f(json!(3)));
        assert!(!f(json!("nan")) && !f(json!("inf")) && !f(json!(" 1")) && !f(json!("1.")));
        assert!(!f(json!(1e39)) && !f(json!("1e39")) && d(json!(1e39)));
        assert!(!d(json!("1e400")) && !d(json!(true)) && !d(json!("0x10")));
    }

    #[test]
    fn well_known_strings() {
        assert!(timestamp(&json!("2024-05-01T12:00:00Z")).is_ok());
        assert!(timestamp(&json!("0001-01-01T00:00:00Z")).is_ok());
        assert!(timestamp(&json!("9999-12-31T23:59:59.999999999Z")).is_ok());
        assert!(timestamp(&json!("2024-05-01T12:00:00.5+02:00")).is_ok());
        assert!(timestamp(&json!("2024-05-01 12:00:00Z")).is_err());
        assert!(timestamp(&json!("2024-05-01t12:00:00z")).is_err());
        assert!(timestamp(&json!("2024-13-01T12:00:00Z")).is_err());
        assert!(timestamp(&json!("2024-05-01T12:00:00.1234567890Z")).is_err());
        assert!(timestamp(&json!("0001-01-01T00:00:00+01:00")).is_err());
        assert!(duration(&json!("1.5s")).is_ok() && duration(&json!("-0.000000001s")).is_ok());
        assert!(duration(&json!("315576000000s")).is_ok());
        assert!(duration(&json!("315576000001s")).is_err());
        for bad in [
            "soon",
            "1",
            "1.s",
            ".5s",
            "+1s",
            "1.0000000001s",
            "1m",
            "s",
            "-s",
        ] {
            assert!(duration(&json!(bad)).is_err(), "{bad}");
        }
        assert!(field_mask(&json!("a.bC,d")).is_ok() && field_mask(&json!("")).is_ok());
        assert!(field_mask(&json!("a_b")).is_err() && field_mask(&json!("a,,b")).is_err());
        assert!(bytes(&json!("aGk=")).is_ok() && bytes(&json!("aGk")).is_ok());
        assert!(bytes(&json!("-_8=")).is_ok() && bytes(&json!("!!")).is_err());
    }
}
