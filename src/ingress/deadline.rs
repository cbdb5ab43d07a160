//! The deadline a gRPC or Connect caller gives its call: gRPC's
//! `grpc-timeout` (1 to 8 digits and a unit: `H`, `M`, `S`, `m`, `u`, `n`)
//! and Connect's `connect-timeout-ms` (1 to 10 digits). The verb service
//! gives up on a call when it passes (`DEADLINE_EXCEEDED`), as FTL's
//! connect-go server does, instead of holding an upstream for an answer
//! nobody waits for.

use std::time::Duration;

use http::HeaderMap;

pub const GRPC_TIMEOUT: &str = "grpc-timeout";
pub const CONNECT_TIMEOUT: &str = "connect-timeout-ms";

/// The caller's deadline, if it gave one; an error naming the header when
/// its value is malformed.
pub fn of(headers: &HeaderMap, connect: bool) -> Result<Option<Duration>, String> {
    let name = if connect {
        CONNECT_TIMEOUT
    } else {
        GRPC_TIMEOUT
    };
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    let parsed = if connect {
        connect_timeout(text)
    } else {
        grpc_timeout(text)
    };
    parsed.map(Some).ok_or_else(|| {
        format!(
            "`{name}: {}` is not a timeout: {}",
            text.escape_debug(),
            if connect {
                "give 1 to 10 digits of milliseconds"
            } else {
                "give 1 to 8 digits and a unit (H, M, S, m, u or n), such as 5S"
            }
        )
    })
}

fn grpc_timeout(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    let n = digits_value(digits, 8)?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

fn connect_timeout(text: &str) -> Option<Duration> {
    digits_value(text, 10).map(Duration::from_millis)
}

/// `text` as a number of at most `max` ASCII digits.
fn digits_value(text: &str, max: usize) -> Option<u64> {
    if text.is_empty() || text.len() > max || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().expect("header value"));
        headers
    }

    #[test]
    fn grpc_timeouts_read_as_the_spec_writes_them() {
        for (text, want) in [
            ("5S", Duration::from_secs(5)),
            ("2H", Duration::from_secs(7200)),
            ("3M", Duration::from_secs(180)),
            ("250m", Duration::from_millis(250)),
            ("99999999u", Duration::from_micros(99_999_999)),
            ("1n", Duration::from_nanos(1)),
        ] {
            assert_eq!(
                of(&headers(GRPC_TIMEOUT, text), false),
                Ok(Some(want)),
                "{text}"
            );
        }
        for bad in ["", "S", "5", "5s", "123456789S", "-5S", "5 S", "5SS", "٥S"] {
            let found = of(&headers(GRPC_TIMEOUT, bad), false);
            assert!(found.is_err(), "{bad:?}: {found:?}");
        }
        assert_eq!(of(&HeaderMap::new(), false), Ok(None));
    }

    #[test]
    fn connect_timeouts_are_milliseconds() {
        assert_eq!(
            of(&headers(CONNECT_TIMEOUT, "1500"), true),
            Ok(Some(Duration::from_millis(1500)))
        );
        for bad in ["", "1.5", "12345678901", "1s"] {
            assert!(of(&headers(CONNECT_TIMEOUT, bad), true).is_err(), "{bad:?}");
        }
        // Each protocol reads its own header only.
        assert_eq!(of(&headers(GRPC_TIMEOUT, "5S"), true), Ok(None));
    }
}
