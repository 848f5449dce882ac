//! A fixed-rate schedule: tick `n` is due at `start + n × interval`, whatever the polls cost,
//! so time never drifts. A tick that is already past when the previous one finishes is skipped
//! rather than fired late in a burst.

use std::time::Duration;

/// The tick to run after `done` when `elapsed` has passed since the start: `done + 1` when
/// still ahead, else the first tick not yet due (the ones in between are skipped).
pub fn next_tick(done: u64, elapsed: Duration, interval: Duration) -> u64 {
    let step = interval.as_nanos().max(1);
    let next = done.saturating_add(1);
    if u128::from(next) * step >= elapsed.as_nanos() {
        return next;
    }
    let first_not_due = elapsed.as_nanos().div_ceil(step);
    u64::try_from(first_not_due).unwrap_or(u64::MAX)
}

/// When tick `n` is due, as an offset from the start.
pub fn offset(n: u64, interval: Duration) -> Duration {
    let nanos = interval.as_nanos().saturating_mul(u128::from(n));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn on_time_ticks_follow_each_other() {
        assert_eq!(next_tick(0, Duration::from_millis(300), S), 1);
        assert_eq!(next_tick(4, Duration::from_millis(4999), S), 5);
        assert_eq!(offset(5, S), Duration::from_secs(5));
    }

    #[test]
    fn a_slow_poll_does_not_shift_later_ticks() {
        // Tick 2 took until 3.4 s: ticks 3 (due 3.0 s) is skipped, 4 stays at 4.0 s.
        assert_eq!(next_tick(2, Duration::from_millis(3400), S), 4);
        assert_eq!(offset(4, S), Duration::from_secs(4));
    }

    #[test]
    fn exactly_due_tick_is_kept() {
        assert_eq!(next_tick(2, Duration::from_secs(3), S), 3);
    }
}
