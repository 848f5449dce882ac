//! Service-level objectives on the request series: good and total answers of each objective
//! since start, and its error budget's burn rate over the last 5 minutes and the last hour.
//!
//! Nothing is added to the request path. Every [`STEP`](crate::STEP) the scheduler folds the
//! series an objective covers into its good and total counts and keeps that copy (two numbers
//! per objective) for an hour and a step; a window's burn rate is the counts now minus the
//! newest copy at least a window old (or minus nothing while the process is younger).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use vitals_core::slo::{Objective, SloFigures, SloKind};

use crate::requests::{OVERFLOW, RequestMetrics};

/// The windows of the JSON figures.
const SHORT: Duration = Duration::from_secs(5 * 60);
const LONG: Duration = Duration::from_secs(60 * 60);

/// Good and total answers of one objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    good: u64,
    total: u64,
}

/// The counts of every objective at one moment.
struct Copy {
    at: Instant,
    counts: Vec<Counts>,
}

/// The objectives of one engine and the copies behind their windows.
pub(crate) struct Slos {
    /// Each objective with its threshold's bucket index (latency objectives).
    objectives: Vec<(Objective, usize)>,
    copies: Mutex<VecDeque<Copy>>,
}

impl Slos {
    /// The objectives (already checked against `edges`), counted from `started`.
    pub(crate) fn new(objectives: Vec<Objective>, edges: &[f64], started: Instant) -> Self {
        let objectives: Vec<(Objective, usize)> = objectives
            .into_iter()
            .map(|o| {
                let edge = o.edge_index(edges).unwrap_or(edges.len());
                (o, edge)
            })
            .collect();
        let zero = vec![Counts::default(); objectives.len()];
        Self {
            objectives,
            copies: Mutex::new(VecDeque::from([Copy {
                at: started,
                counts: zero,
            }])),
        }
    }

    /// Each objective's counts since start.
    fn counts(&self, requests: &RequestMetrics) -> Vec<Counts> {
        let mut counts = vec![Counts::default(); self.objectives.len()];
        for series in requests.all_series() {
            if series.route() == OVERFLOW && series.method() == OVERFLOW {
                continue;
            }
            let mine: Vec<usize> = (0..self.objectives.len())
                .filter(|&i| {
                    self.objectives[i]
                        .0
                        .matches(series.method(), series.route())
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            let fold = series.fold();
            for i in mine {
                let (objective, edge) = &self.objectives[i];
                let c = &mut counts[i];
                match objective.kind {
                    SloKind::Availability => {
                        for &(status, n) in &fold.statuses {
                            c.total += n;
                            if !(500..600).contains(&status) {
                                c.good += n;
                            }
                        }
                    }
                    SloKind::Latency => {
                        c.total += fold.count();
                        c.good += fold.buckets.iter().take(edge + 1).sum::<u64>();
                    }
                }
            }
        }
        counts
    }

    /// Keeps a copy of the counts taken at `at`, and drops the copies no window needs.
    pub(crate) fn keep(&self, at: Instant, requests: &RequestMetrics) {
        let copy = Copy {
            at,
            counts: self.counts(requests),
        };
        let mut copies = self.copies.lock().unwrap_or_else(PoisonError::into_inner);
        copies.push_back(copy);
        while copies.len() > 1 && copies[1].at + LONG <= at {
            copies.pop_front();
        }
    }

    /// Every objective's figures as of `at`.
    pub(crate) fn section(&self, at: Instant, requests: &RequestMetrics) -> Vec<SloFigures> {
        let now = self.counts(requests);
        let copies = self.copies.lock().unwrap_or_else(PoisonError::into_inner);
        let start = |window: Duration| {
            copies
                .iter()
                .rev()
                .find(|c| c.at + window <= at)
                .or_else(|| copies.front())
        };
        let (short, long) = (start(SHORT), start(LONG));
        self.objectives
            .iter()
            .enumerate()
            .map(|(i, (objective, _))| {
                let burn = |from: Option<&Copy>| {
                    let before = from.map_or_else(Counts::default, |c| c.counts[i]);
                    let total = now[i].total.saturating_sub(before.total);
                    let good = now[i].good.saturating_sub(before.good);
                    objective.burn_rate(total.saturating_sub(good), total)
                };
                SloFigures::new(
                    objective,
                    (now[i].good, now[i].total),
                    burn(short),
                    burn(long),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::requests::MAX_SERIES;

    fn metrics() -> &'static RequestMetrics {
        RequestMetrics::leak(
            &vitals_core::slo::default_edges(Duration::from_secs(3)),
            Duration::from_secs(3),
            MAX_SERIES,
            false,
        )
    }

    #[test]
    fn availability_and_latency_count_their_routes_and_burn_over_their_windows() {
        let m = metrics();
        let edges = vitals_core::slo::default_edges(Duration::from_secs(3));
        let start = Instant::now();
        let slos = Slos::new(
            vec![
                Objective::availability("chat", "/chat", 99.0).method("POST"),
                Objective::latency("api", "/api/*", 90.0, Duration::from_millis(250)),
            ],
            &edges,
            start,
        );
        let chat = m.series(&Method::POST, Some("/chat"));
        let chat_get = m.series(&Method::GET, Some("/chat"));
        let api = m.series(&Method::GET, Some("/api/a"));
        let record = |series, status, ms| {
            m.record(
                series,
                status,
                Duration::from_millis(ms),
                Instant::now(),
                None,
            );
        };
        // An hour ago: 100 good chats.
        for _ in 0..100 {
            record(chat, 200, 1);
        }
        slos.keep(start + Duration::from_secs(10), m);
        // Since: 98 good, 2 server errors, a 404 (not bad), and a GET that is not counted.
        for _ in 0..98 {
            record(chat, 200, 1);
        }
        record(chat, 503, 1);
        record(chat, 500, 1);
        record(chat, 404, 1);
        record(chat_get, 500, 1);
        // API: 8 fast, 2 slow (at the edge is good, above it is not).
        for _ in 0..7 {
            record(api, 200, 10);
        }
        record(api, 200, 250);
        record(api, 200, 251);
        record(api, 500, 900);
        let at = start + Duration::from_secs(3700);
        let s = slos.section(at, m);
        assert_eq!((s[0].good, s[0].total), (199, 201));
        // The last hour: 2 bad of 101 answers, against a 1 % budget.
        let expected = (2.0 / 101.0) / 0.01;
        assert!((s[0].burn_rate_1h - expected).abs() < 1e-3, "{:?}", s[0]);
        assert_eq!(s[0].burning, ["5m", "1h"]);
        assert_eq!((s[1].good, s[1].total), (8, 10));
        // 2 bad of 10 against a 10 % budget, in both windows (all of it is recent).
        assert!((s[1].burn_rate_5m - 2.0).abs() < 1e-9, "{:?}", s[1]);
        assert!((s[1].burn_rate_1h - 2.0).abs() < 1e-9);
        assert_eq!(s[1].threshold_ms, Some(250.0));
        // Nothing new: no answers in the window burn nothing.
        slos.keep(at, m);
        let later = slos.section(at + SHORT, m);
        assert_eq!(later[1].burn_rate_5m, 0.0);
        assert!(later[1].burning.iter().all(|w| w != "5m"));
    }
}
