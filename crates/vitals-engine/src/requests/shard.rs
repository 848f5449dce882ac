//! Per-thread cells: every thread that records gets a shard of its own (threads past the
//! shard count share one, still correctly: the cells are atomics), so recording never stores
//! to a cache line that another worker writes too. Readers add the shards up.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The size cells are aligned to: two cache lines, since x86 prefetches lines in pairs.
pub(crate) const LINE_BYTES: usize = 128;

/// Words of one line.
pub(crate) const LINE_WORDS: usize = LINE_BYTES / 8;

/// A value alone on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Padded<T>(pub(crate) T);

/// Shards per set of cells: the machine's threads rounded up to a power of two, at least 4,
/// at most 64.
pub(crate) fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(4, std::num::NonZero::get)
            .next_power_of_two()
            .clamp(4, 64)
    })
}

/// The calling thread's shard, handed out round-robin on its first record.
pub(crate) fn current() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SHARD.with(|shard| {
        let mut n = shard.get();
        if n == usize::MAX {
            n = NEXT.fetch_add(1, Ordering::Relaxed) & (count() - 1);
            shard.set(n);
        }
        n
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_get_distinct_shards_up_to_the_count() {
        assert!(count().is_power_of_two() && count() >= 4);
        let mine = current();
        assert_eq!(mine, current(), "a thread keeps its shard");
        let other = std::thread::spawn(current).join().expect("thread runs");
        assert!(other < count());
        assert_eq!(std::mem::align_of::<Padded<u8>>(), LINE_BYTES);
    }
}
