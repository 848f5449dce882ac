//! A histogram that counts into fixed buckets as it records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use vitals_core::HistogramSnapshot;

use crate::text::number;

/// Fixed upper edges, one atomic count per bucket plus the overflow (+Inf), the sum, and the
/// smallest and largest value recorded.
pub struct BucketHistogram {
    bounds: Arc<[f64]>,
    /// Each edge as the exposition writes it in `le="…"`, formatted once.
    le: Box<[Box<str>]>,
    buckets: Box<[AtomicU64]>,
    /// Sum of the observations, as `f64` bits.
    sum: AtomicU64,
    /// Smallest and largest observation, as `f64` bits (infinities while empty).
    min: AtomicU64,
    max: AtomicU64,
}

/// Replaces the float in `cell` by `f(current, value)` until no other thread raced it.
fn update(cell: &AtomicU64, value: f64, f: impl Fn(f64, f64) -> f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = f(f64::from_bits(current), value).to_bits();
        if next == current {
            return;
        }
        match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

impl BucketHistogram {
    /// An empty histogram over ascending finite `bounds` (checked by the builder).
    pub fn new(bounds: Arc<[f64]>) -> Self {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        let le = bounds
            .iter()
            .map(|edge| {
                let mut text = String::new();
                number(&mut text, *edge);
                text.into_boxed_str()
            })
            .collect();
        Self {
            bounds,
            le,
            buckets,
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(f64::INFINITY.to_bits()),
            max: AtomicU64::new(f64::NEG_INFINITY.to_bits()),
        }
    }

    /// Records one observation; NaN is ignored (it belongs in no bucket).
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let slot = self.bounds.partition_point(|&b| b < value);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        update(&self.sum, value, |a, b| a + b);
        update(&self.min, value, f64::min);
        update(&self.max, value, f64::max);
    }

    /// The upper edges of the finite buckets.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// The edges as exposition text.
    pub fn le(&self) -> &[Box<str>] {
        &self.le
    }

    /// Copies the count of each bucket (not cumulative; the last is the overflow) into
    /// `counts`, and gives their total and the sum, without allocating once `counts` has room.
    pub fn read(&self, counts: &mut Vec<u64>) -> (u64, f64) {
        counts.clear();
        counts.extend(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)));
        (
            counts.iter().sum(),
            f64::from_bits(self.sum.load(Ordering::Relaxed)),
        )
    }

    /// The smallest and the largest value recorded, once there is one.
    pub fn range(&self) -> Option<(f64, f64)> {
        let min = f64::from_bits(self.min.load(Ordering::Relaxed));
        let max = f64::from_bits(self.max.load(Ordering::Relaxed));
        (min <= max).then_some((min, max))
    }

    /// Counts per bucket and the sum, for quantile estimates.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut counts = Vec::with_capacity(self.buckets.len());
        let (count, sum) = self.read(&mut counts);
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            count,
            counts,
            sum_seconds: sum,
        }
    }
}

impl metrics::HistogramFn for BucketHistogram {
    fn record(&self, value: f64) {
        self.observe(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_on_an_edge_count_in_that_bucket() {
        let h = BucketHistogram::new(Arc::from(&[0.1, 1.0][..]));
        for v in [0.1, 0.5, 1.0, 7.0, f64::NAN] {
            h.observe(v);
        }
        let mut counts = Vec::new();
        let (count, sum) = h.read(&mut counts);
        assert_eq!(counts, vec![1, 2, 1]);
        assert_eq!(&*h.le()[1], "1");
        assert_eq!(count, 4);
        assert!((sum - 8.6).abs() < 1e-9);
        assert_eq!(h.range(), Some((0.1, 7.0)));
    }

    #[test]
    fn an_empty_histogram_has_no_range() {
        let h = BucketHistogram::new(Arc::from(&[1.0][..]));
        assert_eq!(h.range(), None);
    }
}
