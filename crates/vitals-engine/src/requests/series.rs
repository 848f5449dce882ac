//! The cells of one `(method, route)`: answers by status, the duration histogram, the slow
//! count and the exemplars, one block of whole cache lines per shard.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use super::exemplar::{self, Exemplar, ExemplarId};
use super::shard::{LINE_WORDS, Padded};

/// Distinct statuses one route keeps; further ones go to the overflow series.
pub(crate) const MAX_STATUSES: usize = 8;

/// Where each figure sits in a shard's block, in words.
const SLOW: usize = MAX_STATUSES;
const SUM: usize = SLOW + 1;
const BUCKETS: usize = SUM + 1;
/// The counting words of a block with the most buckets a request histogram takes.
const FOLDED: usize = BUCKETS + super::MAX_EDGES + 1;

type Line = [AtomicU64; LINE_WORDS];

/// One `(method, route)`: its labels, the statuses it has answered with, and per shard a
/// block of cells.
pub struct RouteSeries {
    pub(crate) method: &'static str,
    pub(crate) route: Box<str>,
    /// `method="GET",route="/x"`, escaped for the exposition formats.
    pub(crate) labels: Box<str>,
    /// Status codes by slot; 0 is free, [`OVERFLOW_STATUS`] the overflow series' one.
    codes: [AtomicU16; MAX_STATUSES],
    /// Histogram buckets (the edges plus the overflow).
    buckets: usize,
    /// First word of the exemplar slots in a block.
    exemplars_at: usize,
    /// Lines per shard.
    lines_per_shard: usize,
    lines: Box<[Padded<Line>]>,
}

/// The status code under which the overflow series counts everything.
pub(crate) const OVERFLOW_STATUS: u16 = u16::MAX;

/// Everything one series recorded, summed over the shards.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Fold {
    /// `(status, answers)` for each status seen.
    pub(crate) statuses: Vec<(u16, u64)>,
    pub(crate) slow: u64,
    pub(crate) sum_nanos: u64,
    /// Per bucket, not cumulative; the last one is the overflow.
    pub(crate) buckets: Vec<u64>,
}

impl Fold {
    /// All answers: the buckets added up.
    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

impl RouteSeries {
    /// Cells for `method` and `route` over a histogram of `edges` edges, for `shards` shards.
    pub(crate) fn new(method: &'static str, route: &str, edges: usize, shards: usize) -> Self {
        // The builder refuses more edges; folding reads at most this many.
        debug_assert!(edges <= super::MAX_EDGES, "{edges} edges");
        let buckets = edges + 1;
        let exemplars_at = (BUCKETS + buckets).next_multiple_of(exemplar::WORDS);
        let words = exemplars_at + buckets * exemplar::WORDS;
        let lines_per_shard = words.div_ceil(LINE_WORDS);
        let lines = (0..lines_per_shard * shards)
            .map(|_| Padded(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Self {
            method,
            route: route.into(),
            labels: crate::text::label_text([("method", method), ("route", route)].into_iter())
                .into_boxed_str(),
            codes: std::array::from_fn(|_| AtomicU16::new(0)),
            buckets,
            exemplars_at,
            lines_per_shard,
            lines,
        }
    }

    /// The normalised method.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The route template (`unmatched` for requests that matched none, `overflow` past the
    /// series cap).
    pub fn route(&self) -> &str {
        &self.route
    }

    fn word(&self, shard: usize, word: usize) -> &AtomicU64 {
        let line = &self.lines[shard * self.lines_per_shard + word / LINE_WORDS];
        &line.0[word % LINE_WORDS]
    }

    fn exemplar_slot(&self, shard: usize, bucket: usize) -> &[AtomicU64] {
        let word = self.exemplars_at + bucket * exemplar::WORDS;
        let line = &self.lines[shard * self.lines_per_shard + word / LINE_WORDS];
        let start = word % LINE_WORDS;
        &line.0[start..start + exemplar::WORDS]
    }

    /// The slot counting `status`, claimed on first use; `None` when every slot is taken by
    /// other statuses or `may_claim` refuses a new one (the series cap). `claimed` runs once
    /// for each slot this call claims.
    pub(crate) fn status_slot(
        &self,
        status: u16,
        may_claim: impl Fn() -> bool,
        claimed: impl Fn(),
    ) -> Option<usize> {
        for (i, code) in self.codes.iter().enumerate() {
            loop {
                match code.load(Ordering::Acquire) {
                    c if c == status => return Some(i),
                    0 => {
                        if !may_claim() {
                            return None;
                        }
                        if code
                            .compare_exchange(0, status, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                        {
                            claimed();
                            return Some(i);
                        }
                        // Another thread took this slot meanwhile: look at it again.
                    }
                    _ => break,
                }
            }
        }
        None
    }

    /// Counts one answer in `shard`: `slot` from [`status_slot`](Self::status_slot), the
    /// histogram `bucket`, the duration, whether it was slow, and its exemplar.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &self,
        shard: usize,
        slot: usize,
        bucket: usize,
        nanos: u64,
        slow: bool,
        exemplar: Option<(ExemplarId<'_>, u64)>,
    ) {
        self.word(shard, slot).fetch_add(1, Ordering::Relaxed);
        self.word(shard, BUCKETS + bucket)
            .fetch_add(1, Ordering::Relaxed);
        self.word(shard, SUM).fetch_add(nanos, Ordering::Relaxed);
        if slow {
            self.word(shard, SLOW).fetch_add(1, Ordering::Relaxed);
        }
        if let Some((id, at_nanos)) = exemplar {
            exemplar::write(self.exemplar_slot(shard, bucket), id, nanos, at_nanos);
        }
    }

    /// Everything recorded, summed over the shards.
    pub(crate) fn fold(&self) -> Fold {
        let mut fold = Fold::default();
        (fold.slow, fold.sum_nanos) = self.fold_into(&mut fold.statuses, &mut fold.buckets);
        fold
    }

    /// [`fold`](Self::fold) into storage the caller reuses across series: the statuses
    /// appended to `statuses`, the buckets to `buckets`; gives the slow count and the sum.
    /// Each shard's counting words are read in one pass over its block.
    pub(crate) fn fold_into(
        &self,
        statuses: &mut Vec<(u16, u64)>,
        buckets: &mut Vec<u64>,
    ) -> (u64, u64) {
        // The statuses first: a slot is claimed before anything counts into it.
        let codes: [u16; MAX_STATUSES] =
            std::array::from_fn(|i| self.codes[i].load(Ordering::Acquire));
        // Statuses, slow, sum, then the buckets: the first lines of every shard's block,
        // added up whole (the rest of the last one is exemplar words, left out below).
        let mut sums = [[0u64; LINE_WORDS]; FOLDED.div_ceil(LINE_WORDS)];
        let words = (BUCKETS + self.buckets).min(FOLDED);
        let lines = words.div_ceil(LINE_WORDS);
        for block in self.lines.chunks_exact(self.lines_per_shard) {
            for (sums, line) in sums[..lines].iter_mut().zip(block) {
                for (sum, cell) in sums.iter_mut().zip(&line.0) {
                    *sum += cell.load(Ordering::Relaxed);
                }
            }
        }
        let sums = sums.as_flattened();
        statuses.extend(
            codes
                .iter()
                .zip(sums)
                .filter(|&(&status, _)| status != 0)
                .map(|(&status, &n)| (status, n)),
        );
        buckets.extend_from_slice(&sums[BUCKETS..words]);
        (sums[SLOW], sums[SUM])
    }

    /// The newest exemplar of each bucket, over the shards.
    pub(crate) fn exemplars(&self) -> Vec<Option<Exemplar>> {
        (0..self.buckets)
            .map(|b| self.newest(b, 0).and_then(|raw| raw.decode()))
            .collect()
    }

    /// The newest exemplar of `bucket` over the shards, if it was recorded at or after `since`
    /// (nanoseconds on the exemplars' clock); nothing is decoded or allocated.
    pub(crate) fn newest(&self, bucket: usize, since: u64) -> Option<exemplar::Raw> {
        let shards = self.lines.len() / self.lines_per_shard;
        (0..shards)
            .filter_map(|s| exemplar::read_raw(self.exemplar_slot(s, bucket)))
            .max_by_key(|e| e.at_nanos)
            .filter(|e| e.at_nanos >= since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_add_up_and_blocks_stay_on_their_own_lines() {
        let s = RouteSeries::new("GET", "/x", 17, 4);
        assert_eq!(s.labels.as_ref(), "method=\"GET\",route=\"/x\"");
        let ok = s.status_slot(200, || true, || {}).expect("slot");
        let missing = s.status_slot(404, || true, || {}).expect("slot");
        assert_ne!(ok, missing);
        let known = s.status_slot(200, || panic!("no claim for a known status"), || {});
        assert_eq!(known, Some(ok));
        for shard in 0..4 {
            s.record(shard, ok, 3, 1_000, false, None);
        }
        s.record(
            2,
            missing,
            17,
            9_000_000_000,
            true,
            Some((ExemplarId::Request(b"7"), 5)),
        );
        let fold = s.fold();
        assert_eq!(fold.statuses, vec![(200, 4), (404, 1)]);
        assert_eq!(fold.buckets[3], 4);
        assert_eq!(fold.buckets[17], 1);
        assert_eq!(fold.count(), 5);
        assert_eq!(fold.slow, 1);
        assert_eq!(fold.sum_nanos, 9_000_004_000);
        let exemplars = s.exemplars();
        assert_eq!(exemplars[17].as_ref().map(|e| e.id.as_str()), Some("7"));
        assert!(exemplars[0].is_none());
        // Each shard's block starts on a line of its own.
        assert_eq!(s.lines.len() % 4, 0);
    }

    #[test]
    fn the_most_edges_fold_whole() {
        let edges = crate::requests::MAX_EDGES;
        let s = RouteSeries::new("GET", "/x", edges, 2);
        let ok = s.status_slot(200, || true, || {}).expect("slot");
        s.record(0, ok, edges, 5, true, None);
        s.record(1, ok, edges, 7, false, None);
        s.record(1, ok, 0, 1, false, None);
        let fold = s.fold();
        assert_eq!(fold.buckets.len(), edges + 1);
        assert_eq!((fold.buckets[0], fold.buckets[edges]), (1, 2));
        assert_eq!(fold.statuses, vec![(200, 3)]);
        assert_eq!((fold.slow, fold.sum_nanos), (1, 13));
        let (mut statuses, mut buckets) = (vec![(404, 9)], vec![42]);
        assert_eq!(s.fold_into(&mut statuses, &mut buckets), (1, 13));
        assert_eq!(statuses, vec![(404, 9), (200, 3)], "appended");
        assert_eq!(buckets.len(), edges + 2);
    }

    #[test]
    fn a_full_route_or_a_refused_claim_gives_no_slot() {
        let s = RouteSeries::new("GET", "/x", 1, 1);
        for status in 200..208 {
            assert!(s.status_slot(status, || true, || {}).is_some());
        }
        assert_eq!(s.status_slot(500, || true, || {}), None);
        let t = RouteSeries::new("GET", "/y", 1, 1);
        assert_eq!(t.status_slot(200, || false, || {}), None);
        assert_eq!(t.status_slot(200, || true, || {}), Some(0));
    }
}
