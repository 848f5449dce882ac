//! A histogram that counts into fixed buckets as it records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use vitals_core::HistogramSnapshot;

/// Fixed upper edges, one atomic count per bucket plus the overflow (+Inf), and the sum.
pub struct BucketHistogram {
    bounds: Arc<[f64]>,
    /// Each edge as the exposition writes it in `le="…"`, formatted once.
    le: Arc<[Box<str>]>,
    buckets: Box<[AtomicU64]>,
    /// Sum of the observations, as `f64` bits.
    sum: AtomicU64,
}

impl BucketHistogram {
    /// An empty histogram over ascending finite `bounds` (checked by the builder).
    pub fn new(bounds: Arc<[f64]>) -> Self {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        let le = bounds
            .iter()
            .map(|edge| {
                let mut text = String::new();
                super::render::number(&mut text, *edge);
                text.into_boxed_str()
            })
            .collect();
        Self {
            bounds,
            le,
            buckets,
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records one observation; NaN is ignored (it belongs in no bucket).
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let slot = self.bounds.partition_point(|&b| b < value);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let mut current = self.sum.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + value).to_bits();
            match self.sum.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Counts per bucket (not cumulative; the last is the overflow), and the sum.
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
            sum_seconds: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }

    /// Visits cumulative counts per edge, then gives the total and the sum, without
    /// allocating (the renderer's path).
    pub fn visit(&self, mut per_edge: impl FnMut(&str, u64)) -> (u64, f64) {
        let mut running = 0u64;
        for (le, bucket) in self.le.iter().zip(self.buckets.iter()) {
            running += bucket.load(Ordering::Relaxed);
            per_edge(le, running);
        }
        if let Some(overflow) = self.buckets.last() {
            running += overflow.load(Ordering::Relaxed);
        }
        (running, f64::from_bits(self.sum.load(Ordering::Relaxed)))
    }
}

#[cfg(feature = "otlp")]
impl BucketHistogram {
    /// The upper edges of the finite buckets.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Visits the count of each bucket (not cumulative; the last is the overflow above the
    /// highest edge), then gives the sum of the observations.
    pub fn per_bucket(&self, mut each: impl FnMut(u64)) -> f64 {
        for bucket in self.buckets.iter() {
            each(bucket.load(Ordering::Relaxed));
        }
        f64::from_bits(self.sum.load(Ordering::Relaxed))
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
        let mut seen = Vec::new();
        let (count, sum) = h.visit(|edge, n| seen.push((edge.to_owned(), n)));
        assert_eq!(seen, vec![("0.1".to_owned(), 1), ("1".to_owned(), 3)]);
        assert_eq!(count, 4);
        assert!((sum - 8.6).abs() < 1e-9);
    }
}
