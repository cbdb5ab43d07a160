//! W3C trace context: the `traceparent` header
//! (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`). A call keeps
//! the trace id it came with (or starts a trace) and gets a new span id for
//! the hop it makes, so every ingress and runner of one call logs the same
//! trace id.
//!
//! Pure: no I/O.

/// The header.
pub const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// A parsed or new trace context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: u128,
    pub parent_id: u64,
    pub flags: u8,
}

impl TraceContext {
    /// The context of an incoming `traceparent`, when it is valid.
    pub fn parse(value: &[u8]) -> Option<TraceContext> {
        let text = std::str::from_utf8(value).ok()?.trim();
        let mut parts = text.split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let parent = parts.next()?;
        let flags = parts.next()?;
        // Version 00 has exactly four parts; later versions may add more.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        if trace.len() != 32 || parent.len() != 16 || flags.len() != 2 {
            return None;
        }
        let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags) || !lower_hex(version) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok()?;
        let parent_id = u64::from_str_radix(parent, 16).ok()?;
        if trace_id == 0 || parent_id == 0 {
            return None;
        }
        Some(TraceContext {
            trace_id,
            parent_id,
            flags: u8::from_str_radix(flags, 16).ok()?,
        })
    }

    /// A new trace (sampled).
    pub fn start(random: u128, span: u64) -> TraceContext {
        TraceContext {
            trace_id: random.max(1),
            parent_id: span.max(1),
            flags: 1,
        }
    }

    /// The context for the next hop: same trace, new span id.
    pub fn child(&self, span: u64) -> TraceContext {
        TraceContext {
            parent_id: span.max(1),
            ..*self
        }
    }

    /// The trace id as 32 hex digits, for log lines.
    pub fn trace_id_hex(&self) -> TraceId {
        TraceId(self.trace_id)
    }

    /// The `traceparent` value of this context (made at every hop: on the
    /// stack, not allocated).
    pub fn header(&self) -> [u8; 55] {
        let mut value = *b"00-00000000000000000000000000000000-0000000000000000-00";
        put_hex(&mut value[3..35], self.trace_id);
        put_hex(&mut value[36..52], u128::from(self.parent_id));
        put_hex(&mut value[53..55], u128::from(self.flags));
        value
    }
}

/// A trace id, displayed as 32 lower-case hex digits.
pub struct TraceId(u128);

impl std::fmt::Display for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Writes the low `out.len()` hex digits of `value` into `out`.
fn put_hex(out: &mut [u8], mut value: u128) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_continues_a_trace() {
        let value = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let tc = TraceContext::parse(value).expect("valid");
        assert_eq!(
            tc.trace_id_hex().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let child = tc.child(0x1234);
        assert_eq!(
            &child.header(),
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000001234-01"
        );
        // Leading zeros are kept, the flags written as two digits.
        let small = TraceContext::start(0xab, 0xcd);
        assert_eq!(
            &small.header(),
            b"00-000000000000000000000000000000ab-00000000000000cd-01"
        );
        assert_eq!(
            TraceContext::parse(&small.header()),
            Some(small),
            "what is sent parses back"
        );
    }

    #[test]
    fn refuses_invalid_headers() {
        for bad in [
            &b""[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(
                TraceContext::parse(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
