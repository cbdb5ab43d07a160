//! FTL's `+cron` patterns: what its cron package accepts.
//!
//! Three forms: an interval with one unit (`30s`, `10m`, `12h`), a weekday
//! (`Mon` ... `Sun`, any case), or 5 to 7 fields of `*`, numbers, ranges
//! (`1-5`), steps (`*/10`, `1-5/2`) and lists (`1,3,5`). Five fields are
//! minute to day of week (seconds are 0); six are seconds to day of week,
//! or minute to year when the last field holds a year; seven are seconds
//! to year. Every value must be in its field's range, and the pattern must
//! match some time after 2020-01-01 (no 30th of February).

/// Field names, ranges, in the seven-field order.
const FIELDS: [(&str, u32, u32); 7] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
    ("year", 1970, 2099),
];

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Checks a `+cron` pattern; the error says what is wrong.
pub fn check(pattern: &str) -> Result<(), String> {
    let pattern = pattern.trim();
    if WEEKDAYS.contains(&pattern.to_ascii_lowercase().as_str()) {
        return Ok(());
    }
    if let Some(interval) = interval(pattern) {
        return interval;
    }
    let fields: Vec<&str> = pattern.split_whitespace().collect();
    let (offset, count) = match fields.len() {
        5 => (1, 5),
        6 if fields[5].split([',', '-', '/']).any(|n| n.len() >= 4) => (1, 6),
        6 => (0, 6),
        7 => (0, 7),
        n => return Err(format!("expected 5-7 components, got {n}")),
    };
    let mut sets: Vec<Vec<u32>> = Vec::with_capacity(7);
    for (i, field) in fields.iter().enumerate().take(count) {
        sets.push(values(field, FIELDS[offset + i])?);
    }
    // Fields not written: seconds are 0, the year is any.
    if offset == 1 {
        sets.insert(0, vec![0]);
    }
    if sets.len() == 6 {
        sets.push((FIELDS[6].1..=FIELDS[6].2).collect());
    }
    if !feasible(&sets) {
        return Err("the pattern never matches a date after 2020-01-01".to_string());
    }
    Ok(())
}

/// `30s`, `10m`, `12h`: `None` when the pattern is not an interval.
fn interval(pattern: &str) -> Option<Result<(), String>> {
    let digits = pattern.bytes().take_while(u8::is_ascii_digit).count();
    let unit = &pattern[digits..];
    if digits == 0 || unit.is_empty() || !unit.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(match unit {
        "s" | "m" | "h" if crate::schema::parser::is_duration(pattern) => Ok(()),
        "s" | "m" | "h" => Err(format!(
            "interval {pattern} is longer than a duration holds (at most 2562047h)"
        )),
        "d" => Err("durations with days are not allowed".to_string()),
        other => Err(format!(
            "unknown interval unit {other:?}; use s, m or h, e.g. 30s, 10m or 12h"
        )),
    })
}

/// The values a field matches.
fn values(field: &str, (name, min, max): (&str, u32, u32)) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for step in field.split(',') {
        let (range, every) = match step.split_once('/') {
            Some((range, every)) => {
                let every = number(every, name)?;
                if every == 0 {
                    return Err(format!("step of 0 in the {name} field"));
                }
                (range, every)
            }
            None => (step, 1),
        };
        let (start, end) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, name)?, number(b, name)?)
        } else {
            let n = number(range, name)?;
            // `5/10` means from 5 to the end, every 10.
            (n, if every > 1 { max } else { n })
        };
        for n in [start, end] {
            if n < min || n > max {
                return Err(format!(
                    "{n} is out of range for the {name} field ({min}-{max})"
                ));
            }
        }
        if start > end {
            return Err(format!(
                "range {start}-{end} of the {name} field is backwards"
            ));
        }
        out.extend((start..=end).step_by(every as usize));
    }
    Ok(out)
}

fn number(text: &str, field: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not a number, `*`, range or step in the {field} field"
        ));
    }
    text.parse()
        .map_err(|_| format!("{text} is out of range for the {field} field"))
}

/// Whether some day of some month of some year from 2020 on exists, when
/// the day of week does not decide (it is `*`).
fn feasible(sets: &[Vec<u32>]) -> bool {
    let (days, months, weekdays, years) = (&sets[3], &sets[4], &sets[5], &sets[6]);
    if !years.iter().any(|&y| y >= 2020) {
        return false;
    }
    if !(0..=6).all(|d| weekdays.contains(&d)) {
        // Restricted weekdays: every month has each weekday.
        return true;
    }
    let leap = years
        .iter()
        .any(|&y| y >= 2020 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    months.iter().any(|&m| {
        let last = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        days.iter().any(|&d| d <= last)
    })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_ftl_forms() {
        for ok in [
            "Mon",
            "wed",
            "12h",
            "30s",
            "0 * * * *",
            "*/10 * * 1-10,11-31 * * *",
            "* */2 0-23/2,4-5 * * * *",
            "0 0 12 * * 1-5",
            "0 12 * * * 2030",
            "0 0 29 2 *",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_ftl_refuses() {
        for (bad, why) in [
            ("* * * *", "expected 5-7 components, got 4"),
            (
                "60 * * * *",
                "60 is out of range for the minute field (0-59)",
            ),
            ("0 0 30 2 *", "never matches"),
            ("1d", "durations with days are not allowed"),
            ("5 4-2 * * *", "backwards"),
            ("*/0 * * * *", "step of 0"),
            ("a * * * *", "not a number"),
            ("0 0 1 1 * 2001", "never matches"),
            ("99999999999999999999m", "longer than a duration holds"),
        ] {
            let err = check(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
