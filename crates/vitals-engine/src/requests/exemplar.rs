//! Exemplars: for each bucket of a request histogram, the id of a recent request that fell
//! into it, so a slow bucket leads to a request one can look up (OpenMetrics 1.0, section
//! "Exemplars").
//!
//! A slot is eight words in the recording thread's shard: a sequence word, the id's kind and
//! length, up to 32 bytes of id, the value and when it was recorded. Writing is a seqlock
//! without waiting: a writer that finds the slot being written by another thread of the same
//! shard leaves it (the other request is just as recent), so keeping an exemplar takes no lock
//! and no allocation.

use std::sync::atomic::{AtomicU64, Ordering, fence};

/// Words one slot takes.
pub(crate) const WORDS: usize = 8;

/// The longest id kept; longer request ids leave the slot as it was.
pub const MAX_ID_BYTES: usize = 32;

/// What identifies the request behind an exemplar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExemplarId<'a> {
    /// A W3C trace id (the 16 bytes of an incoming `traceparent`), written as 32 hex digits.
    Trace([u8; 16]),
    /// The request's `X-Request-ID`, as text (at most [`MAX_ID_BYTES`]).
    Request(&'a [u8]),
}

/// An exemplar as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The id as the exposition writes it: 32 hex digits for a trace id, else the request id.
    pub id: String,
    /// The request's duration, in seconds.
    pub value_seconds: f64,
    /// When it was recorded, in nanoseconds since the engine started.
    pub at_nanos: u64,
    /// When it was recorded, in nanoseconds since the Unix epoch.
    pub unix_nanos: u64,
}

const TRACE: u64 = 1;
const REQUEST: u64 = 2;

/// Writes `id` into the slot `words` (eight words); `false` when it was left as it was.
pub(crate) fn write(
    words: &[AtomicU64],
    id: ExemplarId<'_>,
    value_nanos: u64,
    at_nanos: u64,
) -> bool {
    let (kind, bytes): (u64, &[u8]) = match &id {
        ExemplarId::Trace(raw) => (TRACE, raw),
        ExemplarId::Request(text) => (REQUEST, text),
    };
    if bytes.len() > MAX_ID_BYTES {
        return false;
    }
    let seq = words[0].load(Ordering::Relaxed);
    if seq & 1 == 1
        || words[0]
            .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return false;
    }
    words[1].store(kind << 8 | bytes.len() as u64, Ordering::Relaxed);
    let mut packed = [0u64; 4];
    for (i, b) in bytes.iter().enumerate() {
        packed[i / 8] |= u64::from(*b) << ((i % 8) * 8);
    }
    for (word, value) in words[2..6].iter().zip(packed) {
        word.store(value, Ordering::Relaxed);
    }
    words[6].store(value_nanos, Ordering::Relaxed);
    words[7].store(at_nanos, Ordering::Relaxed);
    words[0].store(seq + 2, Ordering::Release);
    true
}

/// A slot's words as read, before the id is turned into text.
#[derive(Clone, Copy)]
pub(crate) struct Raw {
    meta: u64,
    packed: [u64; 4],
    value_nanos: u64,
    /// When it was recorded, in nanoseconds since the engine started.
    pub(crate) at_nanos: u64,
}

/// Reads the slot `words` without allocating; `None` while empty or being written.
pub(crate) fn read_raw(words: &[AtomicU64]) -> Option<Raw> {
    let seq = words[0].load(Ordering::Acquire);
    if seq == 0 || seq & 1 == 1 {
        return None;
    }
    let meta = words[1].load(Ordering::Relaxed);
    let mut packed = [0u64; 4];
    for (value, word) in packed.iter_mut().zip(&words[2..6]) {
        *value = word.load(Ordering::Relaxed);
    }
    let value_nanos = words[6].load(Ordering::Relaxed);
    let at_nanos = words[7].load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    if words[0].load(Ordering::Relaxed) != seq {
        return None;
    }
    Some(Raw {
        meta,
        packed,
        value_nanos,
        at_nanos,
    })
}

impl Raw {
    /// The exemplar with its id as text; `None` for a slot of an unknown kind.
    pub(crate) fn decode(&self) -> Option<Exemplar> {
        let len = usize::try_from(self.meta & 0xff)
            .unwrap_or(0)
            .min(MAX_ID_BYTES);
        let byte = |i: usize| (self.packed[i / 8] >> ((i % 8) * 8)) as u8;
        let id = match self.meta >> 8 {
            TRACE => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut id = String::with_capacity(len * 2);
                for b in (0..len).map(byte) {
                    id.push(char::from(HEX[usize::from(b >> 4)]));
                    id.push(char::from(HEX[usize::from(b & 0xf)]));
                }
                id
            }
            REQUEST => String::from_utf8((0..len).map(byte).collect()).ok()?,
            _ => return None,
        };
        Some(Exemplar {
            id,
            value_seconds: self.value_nanos as f64 / 1e9,
            at_nanos: self.at_nanos,
            unix_nanos: 0,
        })
    }
}

/// Reads the slot `words`; `None` while empty or being written.
#[cfg(test)]
fn read(words: &[AtomicU64]) -> Option<Exemplar> {
    read_raw(words)?.decode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Vec<AtomicU64> {
        (0..WORDS).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn ids_round_trip() {
        let s = slot();
        assert_eq!(read(&s), None, "empty");
        assert!(write(&s, ExemplarId::Request(b"order-17"), 1_500_000, 42));
        let e = read(&s).expect("written");
        assert_eq!(e.id, "order-17");
        assert!((e.value_seconds - 0.0015).abs() < 1e-12);
        assert_eq!(e.at_nanos, 42);
        let trace = [
            0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
            0x47, 0x36,
        ];
        assert!(write(&s, ExemplarId::Trace(trace), 7, 43));
        assert_eq!(
            read(&s).expect("written").id,
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn too_long_ids_and_busy_slots_leave_it_as_it_was() {
        let s = slot();
        assert!(write(&s, ExemplarId::Request(b"1"), 1, 1));
        assert!(!write(&s, ExemplarId::Request(&[b'a'; 33]), 2, 2));
        assert_eq!(read(&s).expect("kept").id, "1");
        // A writer in the middle of its write: others skip, readers see nothing torn.
        s[0].fetch_add(1, Ordering::Relaxed);
        assert!(!write(&s, ExemplarId::Request(b"2"), 3, 3));
        assert_eq!(read(&s), None);
    }
}
