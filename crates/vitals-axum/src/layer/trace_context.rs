//! W3C Trace Context: the trace id of an inbound `traceparent` header, for log lines.
//!
//! Only the header's bytes are read; nothing is allocated, and a header that does not follow
//! the W3C format (<https://www.w3.org/TR/trace-context/#traceparent-header>) is ignored as if
//! absent, so its text never reaches a log.

use http::HeaderName;

/// `traceparent`.
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A trace id taken from a valid `traceparent`: 32 lowercase hexadecimal digits, not all zero.
///
/// ```
/// use vitals_axum::layer::TraceId;
///
/// let id = TraceId::from_traceparent(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert_eq!(id.as_ref().map(TraceId::as_str), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
/// assert!(TraceId::from_traceparent(b"00-not-a-trace").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceId([u8; 32]);

impl TraceId {
    /// The trace id of a `traceparent` value, or `None` when the value is malformed: wrong
    /// length or separators, upper-case or non-hex digits, version `ff`, an all-zero trace or
    /// parent id. Versions above `00` are accepted when they start with the `00` layout, as
    /// the specification asks.
    pub fn from_traceparent(value: &[u8]) -> Option<Self> {
        // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55 bytes
        if value.len() < 55 {
            return None;
        }
        let (version, trace, parent, flags) =
            (&value[0..2], &value[3..35], &value[36..52], &value[53..55]);
        if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return None;
        }
        if ![version, trace, parent, flags]
            .iter()
            .all(|part| part.iter().all(|&b| is_lower_hex(b)))
        {
            return None;
        }
        match version {
            b"ff" => return None,
            b"00" if value.len() != 55 => return None,
            _ if value.len() > 55 && value[55] != b'-' => return None,
            _ => {}
        }
        if trace.iter().all(|&b| b == b'0') || parent.iter().all(|&b| b == b'0') {
            return None;
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(trace);
        Some(Self(id))
    }

    /// The 16 bytes the digits stand for.
    pub fn bytes(&self) -> [u8; 16] {
        let nibble = |b: u8| {
            if b.is_ascii_digit() {
                b - b'0'
            } else {
                b - b'a' + 10
            }
        };
        std::array::from_fn(|i| nibble(self.0[2 * i]) << 4 | nibble(self.0[2 * i + 1]))
    }

    /// The 32 hexadecimal digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Display for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TraceId({})", self.as_str())
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(s: &str) -> Option<String> {
        TraceId::from_traceparent(s.as_bytes()).map(|t| t.as_str().to_owned())
    }

    #[test]
    fn valid_headers_give_their_trace_id() {
        assert_eq!(
            parse(VALID).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        // A later version may append fields after a dash.
        assert!(parse(&format!("01{}-extra", &VALID[2..])).is_some());
        let id = TraceId::from_traceparent(VALID.as_bytes()).expect("valid");
        assert_eq!(id.bytes()[..3], [0x4b, 0xf9, 0x2f]);
        assert_eq!(id.bytes()[15], 0x36);
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for bad in [
            "",
            "00",
            &VALID[..54],
            &format!("{VALID}0"),
            &format!("{VALID}-extra"),
            &VALID.to_uppercase(),
            &VALID.replace("4bf9", "4bg9"),
            &format!("ff{}", &VALID[2..]),
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
