//! The circuit breaker in front of a backend.
//!
//! A hung backend (connected, silent) makes every call wait for the command timeout; with the
//! breaker, only the first few calls of an outage wait. After
//! [`failure_threshold`](BreakerConfig::failure_threshold) consecutive failures the circuit
//! opens and calls are skipped (answered at once as a miss or a no-op) for a backoff window.
//! When the window ends, the next call is let through as a probe (half-open) while the others
//! keep being skipped: its success closes the circuit, its failure reopens it for twice the
//! window (up to [`max_open_for`](BreakerConfig::max_open_for)).
//!
//! The state is a handful of atomics: the healthy path costs one relaxed load per call.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vitals_core::CircuitState;

/// When the breaker trips and how long it stays open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures (errors or timeouts, with no success in between) that open the
    /// circuit. `0` disables the breaker: every call goes to the backend.
    pub failure_threshold: u32,
    /// How long the circuit stays open the first time, before a probe.
    pub open_for: Duration,
    /// The longest the circuit stays open: each failed probe doubles the window up to this.
    pub max_open_for: Duration,
}

impl Default for BreakerConfig {
    /// Opens after 5 consecutive failures, for 1 s, then 2 s, 4 s… up to 5 s between probes.
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(1),
            max_open_for: Duration::from_secs(5),
        }
    }
}

impl BreakerConfig {
    /// A breaker that never opens.
    pub fn disabled() -> Self {
        Self {
            failure_threshold: 0,
            ..Self::default()
        }
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// What the breaker decided for one call.
pub(crate) enum Admission {
    /// Send it; the circuit is closed.
    Normal,
    /// Send it as the probe of a half-open circuit; the guard must see the outcome.
    Probe,
    /// Do not send it.
    Skip,
}

pub(crate) struct Breaker {
    config: BreakerConfig,
    origin: Instant,
    state: AtomicU8,
    failures: AtomicU32,
    /// While open: when the next probe may go, in nanoseconds since `origin`.
    open_until: AtomicU64,
    /// The current open window, in nanoseconds (grows with failed probes).
    window: AtomicU64,
    skipped: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            origin: Instant::now(),
            state: AtomicU8::new(CLOSED),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            window: AtomicU64::new(nanos(config.open_for)),
            skipped: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        nanos(self.origin.elapsed())
    }

    pub(crate) fn state(&self) -> CircuitState {
        match self.state.load(Ordering::Acquire) {
            OPEN => CircuitState::Open,
            HALF_OPEN => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        }
    }

    pub(crate) fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Whether a call made now would be skipped (open, window not over; or a probe in
    /// flight). Changes nothing and counts nothing.
    pub(crate) fn would_skip(&self) -> bool {
        match self.state.load(Ordering::Acquire) {
            OPEN => self.now() < self.open_until.load(Ordering::Acquire),
            HALF_OPEN => true,
            _ => false,
        }
    }

    /// As [`would_skip`](Breaker::would_skip), counting the skip when it says yes.
    pub(crate) fn skip_if_open(&self) -> bool {
        let skip = self.would_skip();
        if skip {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        skip
    }

    /// Decides whether a call may go to the backend; counts the skips.
    pub(crate) fn admit(&self) -> Admission {
        match self.state.load(Ordering::Acquire) {
            CLOSED => Admission::Normal,
            OPEN if self.now() >= self.open_until.load(Ordering::Acquire)
                && self
                    .state
                    .compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok() =>
            {
                Admission::Probe
            }
            _ => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                Admission::Skip
            }
        }
    }

    /// The backend answered (a probe's success closes the circuit). `true` when this closed it.
    pub(crate) fn succeeded(&self) -> bool {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.state.load(Ordering::Acquire) == CLOSED {
            return false;
        }
        self.window
            .store(nanos(self.config.open_for), Ordering::Relaxed);
        self.state.swap(CLOSED, Ordering::AcqRel) != CLOSED
    }

    /// The backend failed or timed out. `true` when this opened the circuit (from closed).
    pub(crate) fn failed(&self, probe: bool) -> bool {
        if self.config.failure_threshold == 0 {
            return false;
        }
        if probe {
            let doubled = self
                .window
                .load(Ordering::Relaxed)
                .saturating_mul(2)
                .min(nanos(self.config.max_open_for));
            self.window.store(doubled, Ordering::Relaxed);
            self.reopen(doubled);
            return false;
        }
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if failures >= self.config.failure_threshold && self.state.load(Ordering::Acquire) == CLOSED
        {
            self.open_until.store(
                self.now()
                    .saturating_add(self.window.load(Ordering::Relaxed)),
                Ordering::Release,
            );
            return self
                .state
                .compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        }
        false
    }

    /// A probe that ended without an outcome (its caller gave up): let the next call probe.
    pub(crate) fn abandoned(&self) {
        self.reopen(0);
    }

    fn reopen(&self, after: u64) {
        self.open_until
            .store(self.now().saturating_add(after), Ordering::Release);
        self.state.store(OPEN, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_millis(40),
            max_open_for: Duration::from_millis(100),
        }
    }

    #[test]
    fn opens_after_the_threshold_skips_then_probes_and_closes() {
        let b = Breaker::new(quick());
        assert!(matches!(b.admit(), Admission::Normal));
        assert!(!b.failed(false));
        assert!(!b.failed(false));
        // A success in between resets the run of failures.
        assert!(!b.succeeded());
        assert!(!b.failed(false));
        assert!(!b.failed(false));
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(b.failed(false), "the third consecutive failure opens it");
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.would_skip());
        assert!(matches!(b.admit(), Admission::Skip));
        assert!(matches!(b.admit(), Admission::Skip));
        assert_eq!(b.skipped(), 2);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!b.would_skip(), "the window is over: the next call probes");
        assert!(matches!(b.admit(), Admission::Probe));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert!(matches!(b.admit(), Admission::Skip), "one probe at a time");
        assert!(b.succeeded(), "the probe's success closes it");
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(matches!(b.admit(), Admission::Normal));
        assert_eq!(b.skipped(), 3);
    }

    #[test]
    fn a_failed_probe_reopens_for_a_longer_window() {
        let b = Breaker::new(quick());
        for _ in 0..3 {
            b.failed(false);
        }
        std::thread::sleep(Duration::from_millis(45));
        assert!(matches!(b.admit(), Admission::Probe));
        b.failed(true);
        assert_eq!(b.state(), CircuitState::Open);
        // The window doubled to 80 ms: still skipped after 45 ms, probed after 85 ms.
        std::thread::sleep(Duration::from_millis(45));
        assert!(matches!(b.admit(), Admission::Skip));
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(b.admit(), Admission::Probe));
        b.abandoned();
        assert!(
            matches!(b.admit(), Admission::Probe),
            "an abandoned probe lets the next call probe at once"
        );
    }

    #[test]
    fn a_disabled_breaker_never_opens() {
        let b = Breaker::new(BreakerConfig::disabled());
        for _ in 0..100 {
            assert!(!b.failed(false));
        }
        assert!(matches!(b.admit(), Admission::Normal));
    }
}
