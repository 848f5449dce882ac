//! The slowest recent requests, read from the exemplars the series already keep (the newest
//! request of each histogram bucket): nothing more is recorded for them.
//!
//! The slowest request of a window lies in the highest bucket anything fell into during the
//! window, and that bucket's exemplar is at least as recent as it; so the exemplars recorded
//! within the window, slowest first, start with a request of the slowest bucket.

use std::time::{Duration, Instant, UNIX_EPOCH};

use vitals_core::SlowRequest;
use vitals_core::math::round_to;

use super::{Exemplar, RequestMetrics, RouteSeries};

/// Most requests the `http` section's `slowest_requests` lists.
pub(crate) const SLOWEST_LISTED: usize = 5;

impl RequestMetrics {
    /// When `at` is, in nanoseconds since these metrics started (the exemplars' clock).
    pub(crate) fn nanos_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The exemplars of `series` recorded at or after `since` (see
    /// [`nanos_at`](Self::nanos_at)), slowest first. Only the buckets whose count in
    /// `counted` is above zero are read: a bucket nothing fell into since then has no newer
    /// exemplar.
    pub(crate) fn exemplars_since(
        &self,
        series: &RouteSeries,
        since: u64,
        counted: &[u64],
    ) -> Vec<Exemplar> {
        let mut kept: Vec<Exemplar> = counted
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .filter_map(|(bucket, _)| series.newest(bucket, since)?.decode())
            .map(|e| self.dated(e))
            .collect();
        kept.sort_by(|a, b| b.value_seconds.total_cmp(&a.value_seconds));
        kept
    }
}

/// An exemplar of `series` as the JSON shows it.
pub(crate) fn slow_request(series: &RouteSeries, e: &Exemplar) -> SlowRequest {
    SlowRequest {
        method: series.method().to_owned(),
        route: series.route().to_owned(),
        id: e.id.clone(),
        duration_ms: round_to(e.value_seconds * 1000.0, 3),
        timestamp: vitals_core::rfc3339_micros(UNIX_EPOCH + Duration::from_nanos(e.unix_nanos)),
    }
}

/// Keeps the [`SLOWEST_LISTED`] slowest of `all`, slowest first.
pub(crate) fn slowest(mut all: Vec<SlowRequest>) -> Vec<SlowRequest> {
    all.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
    all.truncate(SLOWEST_LISTED);
    all
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Method;

    use super::super::{ExemplarId, MAX_SERIES, duration_buckets};
    use super::*;

    #[test]
    fn routes_and_the_section_list_the_slowest_recent_ids() {
        let m = RequestMetrics::leak(
            &duration_buckets(Duration::from_secs(3), None),
            Duration::from_secs(3),
            MAX_SERIES,
            false,
        );
        let a = m.series(&Method::GET, Some("/a"));
        let b = m.series(&Method::POST, Some("/b"));
        let now = Instant::now();
        let trace = [0xab; 16];
        for (series, ms, id) in [
            (a, 2, ExemplarId::Request(b"r-1")),
            (a, 700, ExemplarId::Request(b"r-2")),
            (b, 40, ExemplarId::Trace(trace)),
        ] {
            m.record(series, 200, Duration::from_millis(ms), now, Some(id));
        }
        // A request without an id is counted, never listed.
        m.record(a, 200, Duration::from_millis(900), now, None);
        let s = m.section();
        let ids: Vec<&str> = s.slowest_requests.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["r-2", "abababababababababababababababab", "r-1"]);
        assert_eq!(s.slowest_requests[0].duration_ms, 700.0);
        assert_eq!(s.slowest_requests[0].route, "/a");
        assert!(s.slowest_requests[0].timestamp.ends_with('Z'));
        let route_a = s.routes.iter().find(|r| r.route == "/a").expect("route");
        assert_eq!(
            route_a.slowest.as_ref().map(|r| r.id.as_str()),
            Some("r-2"),
            "{route_a:?}"
        );
        // Exemplars older than the window are left out.
        let later = m.nanos_at(now) + 1;
        let every_bucket = vec![1; m.edges.len() + 1];
        assert!(m.exemplars_since(a, later, &every_bucket).is_empty());
        assert_eq!(m.exemplars_since(a, 0, &every_bucket).len(), 2);
        // Buckets nothing fell into during the window are not read.
        let none_counted = vec![0; every_bucket.len()];
        assert!(m.exemplars_since(a, 0, &none_counted).is_empty());
    }
}
