//! A fixed-bucket histogram that many threads record into without locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Default upper bucket edges, in seconds, for waits and request latencies: 100 µs to 10 s.
pub const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// `base` (ascending edges in seconds) with `edge` among them, still ascending; `edge` is left
/// out when it is not positive or already there (within a nanosecond).
///
/// ```
/// use vitals_core::histogram::with_edge;
///
/// assert_eq!(with_edge(&[0.1, 1.0], 0.3), [0.1, 0.3, 1.0]);
/// assert_eq!(with_edge(&[0.1, 1.0], 1.0), [0.1, 1.0]);
/// ```
pub fn with_edge(base: &[f64], edge: f64) -> Vec<f64> {
    let mut edges = base.to_vec();
    if edge > 0.0 && !edges.iter().any(|&e| (e - edge).abs() < 1e-9) {
        edges.push(edge);
        edges.sort_by(f64::total_cmp);
    }
    edges
}

/// Counts of observations per bucket, plus their count and sum.
///
/// Recording is one atomic add on the bucket, the count and the sum: cheap enough for every
/// request. Quantiles are estimated from the buckets by linear interpolation, so their
/// precision is the bucket width.
///
/// ```
/// use std::time::Duration;
/// use vitals_core::Histogram;
///
/// let h = Histogram::new(&[0.001, 0.01, 0.1]);
/// h.record(Duration::from_micros(500));
/// h.record(Duration::from_millis(5));
/// let snap = h.snapshot();
/// assert_eq!(snap.count, 2);
/// assert!(snap.quantile(0.5) <= 0.001);
/// ```
#[derive(Debug)]
pub struct Histogram {
    bounds: Box<[f64]>,
    /// One slot per bound, plus the overflow slot (+Inf).
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// A histogram with the given ascending upper bucket edges, in seconds.
    ///
    /// Edges that are not finite, not positive or not ascending are dropped.
    pub fn new(bounds: &[f64]) -> Self {
        let mut clean: Vec<f64> = Vec::with_capacity(bounds.len());
        for &b in bounds {
            if b.is_finite() && b > 0.0 && clean.last().is_none_or(|&last| b > last) {
                clean.push(b);
            }
        }
        let buckets = (0..=clean.len()).map(|_| AtomicU64::new(0)).collect();
        Self {
            bounds: clean.into_boxed_slice(),
            buckets,
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// A histogram with [`LATENCY_BUCKETS_SECONDS`].
    pub fn latency() -> Self {
        Self::new(LATENCY_BUCKETS_SECONDS)
    }

    /// Records one observation.
    pub fn record(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let slot = self.bounds.partition_point(|&b| b < seconds);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
        self.sum_nanos.store(0, Ordering::Relaxed);
    }

    /// A snapshot with this histogram's bounds and no observations.
    pub fn empty_snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            counts: vec![0; self.buckets.len()],
            count: 0,
            sum_seconds: 0.0,
        }
    }

    /// A consistent-enough copy of the counts (each counter is read once; concurrent records
    /// may land in some counters and not yet in others).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            count: counts.iter().sum(),
            counts,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// A copy of a [`Histogram`]'s counts at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bucket edges in seconds.
    pub bounds: Vec<f64>,
    /// Observations per bucket (not cumulative); the last slot is above the last edge.
    pub counts: Vec<u64>,
    /// Total observations.
    pub count: u64,
    /// Sum of observations in seconds.
    pub sum_seconds: f64,
}

impl HistogramSnapshot {
    /// Adds `other`'s observations to these; `other` must have the same bounds (counts of
    /// mismatched slots are ignored).
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_seconds += other.sum_seconds;
    }

    /// Estimates the `q` quantile (0–1) in seconds; 0 with no observations.
    ///
    /// Within a bucket the estimate interpolates linearly; in the overflow bucket it answers
    /// the last edge, the most that can honestly be said.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = q.clamp(0.0, 1.0) * self.count as f64;
        let mut seen = 0u64;
        for (i, &n) in self.counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if (seen + n) as f64 >= rank {
                let Some(&upper) = self.bounds.get(i) else {
                    return self.bounds.last().copied().unwrap_or(0.0);
                };
                let lower = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                let within = ((rank - seen as f64) / n as f64).clamp(0.0, 1.0);
                return lower + (upper - lower) * within;
            }
            seen += n;
        }
        self.bounds.last().copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_has_zero_quantiles() {
        let h = Histogram::latency();
        assert_eq!(h.snapshot().quantile(0.99), 0.0);
    }

    #[test]
    fn values_land_in_the_first_bucket_whose_edge_holds_them() {
        let h = Histogram::new(&[0.001, 0.01]);
        h.record(Duration::from_millis(1)); // on the edge: le="0.001"
        h.record(Duration::from_millis(2));
        h.record(Duration::from_secs(1)); // overflow
        let s = h.snapshot();
        assert_eq!(s.counts, vec![1, 1, 1]);
        assert_eq!(s.count, 3);
        assert!((s.sum_seconds - 1.003).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let h = Histogram::new(&[0.01, 0.02]);
        for _ in 0..100 {
            h.record(Duration::from_millis(15));
        }
        let s = h.snapshot();
        assert!((s.quantile(0.5) - 0.015).abs() < 1e-9);
        assert!((s.quantile(1.0) - 0.02).abs() < 1e-9);
    }

    #[test]
    fn overflow_quantile_answers_the_last_edge() {
        let h = Histogram::new(&[0.01]);
        h.record(Duration::from_secs(30));
        assert_eq!(h.snapshot().quantile(0.99), 0.01);
    }

    #[test]
    fn bad_edges_are_dropped() {
        let h = Histogram::new(&[0.5, f64::NAN, 0.1, -1.0, 1.0]);
        assert_eq!(h.snapshot().bounds, vec![0.5, 1.0]);
    }
}
