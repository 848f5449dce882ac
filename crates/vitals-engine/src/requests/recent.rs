//! The last minute of requests, without a second histogram on the request path: every
//! [`STEP`] the scheduler keeps a copy of each series' cumulative counts; the last minute is
//! the counts now minus the newest copy at least a minute old (or minus nothing while the
//! process is younger than that).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::series::{Fold, RouteSeries};

/// Time between two copies.
pub const STEP: Duration = Duration::from_secs(10);

/// Length of the window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The counts of every series at one moment.
struct Copy {
    at: Instant,
    series: Vec<(&'static RouteSeries, Fold)>,
}

/// Copies of the counts over the last minute and a step.
pub(crate) struct Recent {
    copies: Mutex<VecDeque<Copy>>,
}

/// One series over the window.
pub(crate) struct Windowed<'a> {
    pub(crate) series: &'static RouteSeries,
    pub(crate) now: &'a Fold,
    /// What it had at the start of the window (empty for a series born since).
    pub(crate) before: Option<&'a Fold>,
}

impl Recent {
    pub(crate) fn new(started: Instant) -> Self {
        Self {
            copies: Mutex::new(VecDeque::from([Copy {
                at: started,
                series: Vec::new(),
            }])),
        }
    }

    /// Keeps a copy of `series`' counts taken at `at`, and drops copies no window needs.
    pub(crate) fn keep(&self, at: Instant, series: &[&'static RouteSeries]) {
        let copy = Copy {
            at,
            series: series.iter().map(|s| (*s, s.fold())).collect(),
        };
        let mut copies = self.copies.lock().unwrap_or_else(PoisonError::into_inner);
        copies.push_back(copy);
        // Keep the newest copy older than the window; drop what is older still.
        while copies.len() > 1 && copies[1].at + WINDOW <= at {
            copies.pop_front();
        }
    }

    /// Each of `now` against the start of the window ending at `at`, and the window's length.
    pub(crate) fn window<R>(
        &self,
        at: Instant,
        now: &[(&'static RouteSeries, Fold)],
        read: impl FnOnce(&[Windowed<'_>], Duration) -> R,
    ) -> R {
        let copies = self.copies.lock().unwrap_or_else(PoisonError::into_inner);
        let start = copies
            .iter()
            .rev()
            .find(|c| c.at + WINDOW <= at)
            .or_else(|| copies.front());
        let length = start.map_or(Duration::ZERO, |c| at.saturating_duration_since(c.at));
        let windowed: Vec<Windowed<'_>> = now
            .iter()
            .map(|(series, fold)| Windowed {
                series,
                now: fold,
                before: start.and_then(|c| {
                    c.series
                        .iter()
                        .find(|(p, _)| std::ptr::eq(*p, *series))
                        .map(|(_, f)| f)
                }),
            })
            .collect();
        read(&windowed, length)
    }
}

impl Windowed<'_> {
    /// Answers by bucket within the window.
    pub(crate) fn buckets(&self) -> Vec<u64> {
        self.now
            .buckets
            .iter()
            .enumerate()
            .map(|(i, n)| n - self.before.map_or(0, |b| b.buckets[i]))
            .collect()
    }

    /// Answers within the window, and those of them with a 5xx status.
    pub(crate) fn answers_and_errors(&self) -> (u64, u64) {
        let count = |f: &Fold, five: bool| -> u64 {
            f.statuses
                .iter()
                .filter(|(s, _)| !five || (500..600).contains(s))
                .map(|(_, n)| n)
                .sum()
        };
        let before = |five: bool| self.before.map_or(0, |b| count(b, five));
        (
            count(self.now, false) - before(false),
            count(self.now, true) - before(true),
        )
    }
}
