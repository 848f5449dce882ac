//! The run second by second: requests and errors per endpoint, latency quantiles, virtual
//! users, and the server's memory and CPU.
//!
//! Recording must cost the engine next to nothing, so each worker counts into its own
//! [`Local`] second and hands it over to the shared [`Timeline`] only when its second
//! changes (and once at the end): one short, practically uncontended lock per worker per
//! second instead of shared atomics per request. Latency per second goes into
//! [`Buckets`], a small log-bucketed histogram (8 buckets per doubling, so a quantile is
//! within about 6 % of the truth), which merges by adding counts. The run's exact figures stay
//! in the per-endpoint HDR histograms of [`super::stats::Stats`].

use std::sync::Mutex;
use std::time::Duration;

use super::stats::Endpoint;

/// Buckets per doubling of latency.
const SUB: u32 = 8;
/// Doublings covered from 1 µs: 2^31 µs is about 36 minutes.
const DOUBLINGS: u32 = 31;
/// Number of latency buckets.
const BUCKETS: usize = (SUB * DOUBLINGS) as usize;

/// Bucket of a latency in microseconds.
fn bucket(micros: u64) -> usize {
    let v = micros.max(1);
    let e = 63 - v.leading_zeros();
    let sub = if e >= 3 {
        (v >> (e - 3)) & 7
    } else {
        (v << (3 - e)) & 7
    };
    (e as usize * SUB as usize + sub as usize).min(BUCKETS - 1)
}

/// Lower edge of a bucket, microseconds.
fn lower_edge(index: usize) -> f64 {
    let e = (index / SUB as usize) as i32;
    let sub = (index % SUB as usize) as f64;
    2f64.powi(e) * (1.0 + sub / f64::from(SUB))
}

/// Latency counts in log buckets: cheap to record, merged by adding.
#[derive(Clone)]
pub struct Buckets {
    counts: Box<[u32; BUCKETS]>,
}

impl Default for Buckets {
    fn default() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
        }
    }
}

impl Buckets {
    /// Counts one latency.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let slot = &mut self.counts[bucket(micros)];
        *slot = slot.saturating_add(1);
    }

    /// Adds another's counts.
    pub fn add(&mut self, other: &Buckets) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// Number of latencies counted.
    pub fn len(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// The `q` quantile in milliseconds (0 when empty), interpolated within its bucket.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.len();
        if total == 0 {
            return 0.0;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let before = seen as f64;
            seen += u64::from(c);
            if seen as f64 >= rank {
                let (lo, hi) = (lower_edge(i), lower_edge(i + 1));
                let within = (rank - before) / f64::from(c);
                return (lo + (hi - lo) * within) / 1000.0;
            }
        }
        lower_edge(BUCKETS) / 1000.0
    }

    fn clear(&mut self) {
        self.counts.fill(0);
    }
}

/// Number of endpoint kinds.
pub const ENDPOINTS: usize = 4;

fn slot(e: Endpoint) -> usize {
    match e {
        Endpoint::Chat => 0,
        Endpoint::History => 1,
        Endpoint::Metrics => 2,
        Endpoint::Path => 3,
    }
}

/// Endpoint of a slot (the inverse of the order above).
pub const ENDPOINT_ORDER: [Endpoint; ENDPOINTS] = [
    Endpoint::Chat,
    Endpoint::History,
    Endpoint::Metrics,
    Endpoint::Path,
];

/// What happened in one second (one worker's share, or everyone's once merged).
#[derive(Clone, Default)]
pub struct Counts {
    /// Requests finished, per endpoint (see [`ENDPOINT_ORDER`]).
    pub requests: [u64; ENDPOINTS],
    /// Of those, errors.
    pub errors: [u64; ENDPOINTS],
    /// History reads of a user id no earlier read in the run asked for (a miss no cache can
    /// avoid: the cache is still warming).
    pub cold_reads: u64,
    /// Latency of every request finished in the second.
    pub latency: Buckets,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        for i in 0..ENDPOINTS {
            self.requests[i] += other.requests[i];
            self.errors[i] += other.errors[i];
        }
        self.cold_reads += other.cold_reads;
        self.latency.add(&other.latency);
    }

    /// Requests of every endpoint.
    pub fn total(&self) -> u64 {
        self.requests.iter().sum()
    }

    /// Errors of every endpoint.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// A worker's current second, handed to the timeline when the second changes.
pub struct Local {
    second: usize,
    counts: Counts,
    dirty: bool,
}

impl Default for Local {
    fn default() -> Self {
        Self::new()
    }
}

impl Local {
    /// Empty, at second 0.
    pub fn new() -> Self {
        Self {
            second: 0,
            counts: Counts::default(),
            dirty: false,
        }
    }

    /// Records one finished request in `second` of the run.
    pub fn record(
        &mut self,
        timeline: &Timeline,
        second: usize,
        endpoint: Endpoint,
        latency: Duration,
        error: bool,
        cold_read: bool,
    ) {
        if second != self.second {
            self.flush(timeline);
            self.second = second;
        }
        let i = slot(endpoint);
        self.counts.requests[i] += 1;
        if error {
            self.counts.errors[i] += 1;
        }
        if cold_read {
            self.counts.cold_reads += 1;
        }
        self.counts.latency.record(latency);
        self.dirty = true;
    }

    /// Hands what this worker counted to the timeline.
    pub fn flush(&mut self, timeline: &Timeline) {
        if !self.dirty {
            return;
        }
        timeline.add(self.second, &self.counts);
        self.counts.requests = [0; ENDPOINTS];
        self.counts.errors = [0; ENDPOINTS];
        self.counts.cold_reads = 0;
        self.counts.latency.clear();
        self.dirty = false;
    }
}

/// One second of the run, every worker merged, plus what the sampler saw.
#[derive(Clone, Default)]
pub struct Second {
    /// What the workers counted.
    pub counts: Counts,
    /// Most virtual users active during the second.
    pub users: u32,
    /// Server resident memory at the end of the second, MB (when the run started it).
    pub rss_mb: Option<f64>,
    /// Server CPU over the second, percent of the whole machine (all cores).
    pub cpu_percent: Option<f64>,
}

/// The whole run, one slot per second, allocated up front.
pub struct Timeline {
    seconds: Box<[Mutex<Second>]>,
}

impl Timeline {
    /// Room for `seconds` seconds (later records land in the last slot).
    pub fn new(seconds: usize) -> Self {
        Self {
            seconds: (0..seconds.max(1))
                .map(|_| Mutex::new(Second::default()))
                .collect(),
        }
    }

    fn with<R>(&self, second: usize, f: impl FnOnce(&mut Second) -> R) -> R {
        let slot = &self.seconds[second.min(self.seconds.len() - 1)];
        let mut guard = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    fn add(&self, second: usize, counts: &Counts) {
        self.with(second, |s| s.counts.add(counts));
    }

    /// Notes the users active at some moment of `second` (the second keeps the most).
    pub fn users(&self, second: usize, users: u32) {
        self.with(second, |s| s.users = s.users.max(users));
    }

    /// Notes the server's memory and CPU of `second`.
    pub fn process(&self, second: usize, rss_mb: Option<f64>, cpu_percent: Option<f64>) {
        self.with(second, |s| {
            s.rss_mb = rss_mb.or(s.rss_mb);
            s.cpu_percent = cpu_percent.or(s.cpu_percent);
        });
    }

    /// A copy of one second.
    pub fn second(&self, second: usize) -> Option<Second> {
        (second < self.seconds.len()).then(|| self.with(second, |s| s.clone()))
    }

    /// Seconds `from..to` merged: most users, all counts.
    pub fn span(&self, from: usize, to: usize) -> Second {
        let mut out = Second::default();
        for i in from..to.min(self.seconds.len()) {
            self.with(i, |s| {
                out.counts.add(&s.counts);
                out.users = out.users.max(s.users);
            });
        }
        out
    }

    /// Every second, in order (the report and the charts read this once the run is over).
    pub fn rows(&self) -> Vec<Second> {
        (0..self.seconds.len())
            .map(|i| self.with(i, |s| s.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for micros in 1..200_000u64 {
            let b = bucket(micros);
            assert!(b >= last, "bucket order at {micros}");
            last = b;
            let (lo, hi) = (lower_edge(b), lower_edge(b + 1));
            assert!(
                (lo..hi).contains(&(micros as f64)),
                "{micros} µs in [{lo}, {hi})"
            );
            assert!(hi / lo <= 1.0 + 1.0 / 8.0 + 1e-9 || micros < 8);
        }
    }

    #[test]
    fn quantiles_are_close() {
        let mut b = Buckets::default();
        for ms in 1..=1000u64 {
            b.record(Duration::from_millis(ms));
        }
        for (q, want) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = b.quantile_ms(q);
            assert!((got - want).abs() / want < 0.07, "p{q}: {got} vs {want}");
        }
        assert_eq!(Buckets::default().quantile_ms(0.5), 0.0);
    }

    #[test]
    fn workers_flush_when_their_second_changes() {
        let t = Timeline::new(3);
        let mut a = Local::new();
        let mut b = Local::new();
        let ms = Duration::from_millis;
        a.record(&t, 0, Endpoint::History, ms(2), false, true);
        b.record(&t, 0, Endpoint::Chat, ms(3), true, false);
        assert_eq!(
            t.second(0).map(|s| s.counts.total()),
            Some(0),
            "still local"
        );
        a.record(&t, 1, Endpoint::History, ms(2), false, false);
        b.flush(&t);
        let s0 = t.second(0).expect("second 0");
        assert_eq!((s0.counts.total(), s0.counts.total_errors()), (2, 1));
        assert_eq!(s0.counts.requests[slot(Endpoint::History)], 1);
        assert_eq!(s0.counts.cold_reads, 1);
        a.record(&t, 9, Endpoint::Path, ms(1), false, false);
        a.flush(&t);
        assert_eq!(
            t.second(2).map(|s| s.counts.total()),
            Some(1),
            "late records land in the last slot"
        );
        t.users(1, 4);
        t.users(1, 2);
        assert_eq!(t.span(0, 3).users, 4);
        assert_eq!(t.span(0, 3).counts.total(), 4);
    }
}
