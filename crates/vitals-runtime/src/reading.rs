//! One reading of Tokio's counters, and the figures two readings give.

use std::time::{Duration, Instant};

use tokio::runtime::RuntimeMetrics;
use vitals_core::RuntimeSection;
use vitals_core::math::round_to;

/// Tokio's cumulative counters at one instant.
#[derive(Clone, Debug)]
pub(crate) struct Reading {
    pub(crate) at: Instant,
    /// Per worker: total time spent running tasks.
    pub(crate) busy: Vec<Duration>,
    /// Per worker: times it parked.
    pub(crate) parks: Vec<u64>,
    pub(crate) global_queue_depth: usize,
    pub(crate) alive_tasks: usize,
    /// Mean poll time over all workers (Tokio's per-worker moving average, averaged).
    pub(crate) mean_poll: Option<Duration>,
}

impl Reading {
    pub(crate) fn take(metrics: &RuntimeMetrics) -> Self {
        let workers = metrics.num_workers();
        Self {
            at: Instant::now(),
            busy: (0..workers)
                .map(|w| metrics.worker_total_busy_duration(w))
                .collect(),
            parks: (0..workers).map(|w| metrics.worker_park_count(w)).collect(),
            global_queue_depth: metrics.global_queue_depth(),
            alive_tasks: metrics.num_alive_tasks(),
            mean_poll: mean_poll(metrics),
        }
    }
}

#[cfg(tokio_unstable)]
fn mean_poll(metrics: &RuntimeMetrics) -> Option<Duration> {
    let workers = metrics.num_workers();
    let total: Duration = (0..workers).map(|w| metrics.worker_mean_poll_time(w)).sum();
    u32::try_from(workers)
        .ok()
        .filter(|&n| n > 0)
        .map(|n| total / n)
}

#[cfg(not(tokio_unstable))]
fn mean_poll(_: &RuntimeMetrics) -> Option<Duration> {
    None
}

/// The section for the interval between `previous` and `current`; with no previous reading
/// (before the first interval has passed) the ratios and rates are 0.
///
/// A worker stuck inside one long poll (a blocking call in async code) does not report the
/// time it spends there until the poll returns, so its counters stand still exactly as an
/// idle worker's do. The two differ in one way Tokio lets us see: an idle worker is woken when
/// work arrives, so work waiting in the global queue at both ends of an interval while a
/// worker neither reported busy time nor parked means that worker could not take it: it is
/// counted busy for the whole interval.
pub(crate) fn section(previous: Option<&Reading>, current: &Reading) -> RuntimeSection {
    let workers = current.busy.len();
    let mut section = RuntimeSection {
        workers: u32::try_from(workers).unwrap_or(u32::MAX),
        global_queue_depth: current.global_queue_depth as u64,
        alive_tasks: current.alive_tasks as u64,
        mean_poll_us: current
            .mean_poll
            .map(|d| round_to(d.as_secs_f64() * 1e6, 3)),
        ..RuntimeSection::default()
    };
    let Some(previous) = previous.filter(|p| p.busy.len() == workers) else {
        return section;
    };
    let elapsed = current.at.saturating_duration_since(previous.at);
    if elapsed.is_zero() || workers == 0 {
        return section;
    }
    let work_waited = previous.global_queue_depth > 0 && current.global_queue_depth > 0;
    let mut sum = 0.0;
    let mut max: f64 = 0.0;
    let mut parks = 0u64;
    for w in 0..workers {
        let busy = current.busy[w].saturating_sub(previous.busy[w]);
        let parked = current.parks[w].saturating_sub(previous.parks[w]);
        parks = parks.saturating_add(parked);
        let ratio = if busy.is_zero() && parked == 0 && work_waited {
            1.0
        } else {
            // Tokio publishes busy time in batches, so one interval can receive a little of
            // the previous one's: clamp to the possible range.
            (busy.as_secs_f64() / elapsed.as_secs_f64()).clamp(0.0, 1.0)
        };
        sum += ratio;
        max = max.max(ratio);
    }
    section.busy_ratio = round_to(sum / workers as f64, 4);
    section.max_worker_busy_ratio = round_to(max, 4);
    section.park_rate = round_to(parks as f64 / elapsed.as_secs_f64(), 2);
    section.interval_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: Instant, busy_ms: &[u64], parks: &[u64], queue: usize) -> Reading {
        Reading {
            at,
            busy: busy_ms
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            parks: parks.to_vec(),
            global_queue_depth: queue,
            alive_tasks: 3,
            mean_poll: None,
        }
    }

    #[test]
    fn first_reading_has_counts_but_no_ratios() {
        let now = Instant::now();
        let s = section(None, &reading(now, &[5, 5], &[1, 1], 4));
        assert_eq!((s.workers, s.global_queue_depth, s.alive_tasks), (2, 4, 3));
        assert_eq!((s.busy_ratio, s.park_rate, s.interval_ms), (0.0, 0.0, 0));
        assert_eq!(s.mean_poll_us, None);
    }

    #[test]
    fn ratios_cover_the_interval() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let a = reading(t0, &[100, 100], &[10, 10], 0);
        let b = reading(t1, &[400, 1_100], &[15, 10], 0);
        let s = section(Some(&a), &b);
        assert_eq!(s.busy_ratio, 0.65);
        assert_eq!(s.max_worker_busy_ratio, 1.0);
        assert_eq!(s.park_rate, 5.0);
        assert_eq!(s.interval_ms, 1_000);
    }

    #[test]
    fn batched_busy_time_is_clamped() {
        let t0 = Instant::now();
        let a = reading(t0, &[0], &[0], 0);
        let b = reading(t0 + Duration::from_millis(100), &[130], &[0], 0);
        assert_eq!(section(Some(&a), &b).busy_ratio, 1.0);
    }

    #[test]
    fn a_worker_that_stands_still_while_work_waits_is_busy() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(500);
        // Worker 0 is stuck in one poll; worker 1 ran for half the interval.
        let a = reading(t0, &[100, 100], &[3, 3], 7);
        let b = reading(t1, &[100, 350], &[3, 3], 9);
        let s = section(Some(&a), &b);
        assert_eq!(s.max_worker_busy_ratio, 1.0);
        assert_eq!(s.busy_ratio, 0.75);
    }

    #[test]
    fn a_worker_that_stands_still_with_nothing_queued_is_idle() {
        let t0 = Instant::now();
        let a = reading(t0, &[100], &[3], 0);
        let b = reading(t0 + Duration::from_millis(500), &[100], &[3], 0);
        assert_eq!(section(Some(&a), &b).busy_ratio, 0.0);
    }
}
