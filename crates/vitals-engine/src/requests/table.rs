//! Which cells a request records into: a map from `(method, route)` to its series, read
//! through a small cache per thread so the request path takes no lock and writes nothing
//! shared. Series live as long as the process (a bounded set: routes are templates, and the
//! cap sends the rest to one overflow series), so the path holds plain `&'static` references
//! and no reference count.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::series::{OVERFLOW_STATUS, RouteSeries};

/// The label values of the series past the cap.
pub const OVERFLOW: &str = "overflow";

/// Entries of the per-thread cache.
const CACHE_SLOTS: usize = 64;

#[derive(Clone, Copy)]
struct Entry {
    table: usize,
    method: u8,
    route_ptr: usize,
    series: &'static RouteSeries,
}

thread_local! {
    static CACHE: [Cell<Option<Entry>>; CACHE_SLOTS] = const { [const { Cell::new(None) }; CACHE_SLOTS] };
}

/// Every series of one engine.
pub(crate) struct Table {
    by_key: Mutex<HashMap<(u8, Box<str>), &'static RouteSeries>>,
    /// The same series in the order they came, for readers.
    all: Mutex<Vec<&'static RouteSeries>>,
    overflow: &'static RouteSeries,
    /// `(method, route, status)` label sets so far, and the most allowed.
    label_sets: AtomicUsize,
    max_label_sets: usize,
    edges: usize,
    shards: usize,
}

impl Table {
    pub(crate) fn new(max_label_sets: usize, edges: usize, shards: usize) -> Self {
        let overflow: &'static RouteSeries = Box::leak(Box::new(RouteSeries::new(
            OVERFLOW, OVERFLOW, edges, shards,
        )));
        let _ = overflow.status_slot(OVERFLOW_STATUS, || true, || {});
        Self {
            by_key: Mutex::new(HashMap::new()),
            all: Mutex::new(Vec::new()),
            overflow,
            label_sets: AtomicUsize::new(0),
            max_label_sets,
            edges,
            shards,
        }
    }

    /// The series of `method` (an index from [`super::method`]) and `route`.
    pub(crate) fn series(
        &'static self,
        method: (u8, &'static str),
        route: &str,
    ) -> &'static RouteSeries {
        let table = std::ptr::from_ref(self) as usize;
        let route_ptr = route.as_ptr() as usize;
        let slot =
            (route_ptr >> 3 ^ route.len() ^ usize::from(method.0) << 5 ^ table >> 6) % CACHE_SLOTS;
        let hit = CACHE.with(|cache| {
            cache[slot].get().and_then(|e| {
                (e.table == table
                    && e.method == method.0
                    && e.route_ptr == route_ptr
                    && *e.series.route == *route)
                    .then_some(e.series)
            })
        });
        if let Some(series) = hit {
            return series;
        }
        let series = self.series_slow(method, route);
        CACHE.with(|cache| {
            cache[slot].set(Some(Entry {
                table,
                method: method.0,
                route_ptr,
                series,
            }));
        });
        series
    }

    #[cold]
    fn series_slow(&self, method: (u8, &'static str), route: &str) -> &'static RouteSeries {
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = by_key.get(&(method.0, Box::from(route))) {
            return series;
        }
        if !self.may_claim() {
            return self.overflow;
        }
        let series: &'static RouteSeries = Box::leak(Box::new(RouteSeries::new(
            method.1,
            route,
            self.edges,
            self.shards,
        )));
        by_key.insert((method.0, Box::from(route)), series);
        self.all
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(series);
        series
    }

    /// The slot of `status` in `series`, or the overflow series' slot past the cap.
    pub(crate) fn slot(
        &self,
        series: &'static RouteSeries,
        status: u16,
    ) -> (&'static RouteSeries, usize) {
        match series.status_slot(
            status,
            || self.may_claim(),
            || {
                self.label_sets.fetch_add(1, Ordering::Relaxed);
            },
        ) {
            Some(slot) => (series, slot),
            None => (self.overflow, 0),
        }
    }

    fn may_claim(&self) -> bool {
        self.label_sets.load(Ordering::Relaxed) < self.max_label_sets
    }

    /// Every series, the overflow one last (when it counted anything).
    pub(crate) fn all(&self) -> Vec<&'static RouteSeries> {
        let mut all = self
            .all
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        all.push(self.overflow);
        all
    }

    /// `(method, route, status)` label sets recorded so far.
    pub(crate) fn label_sets(&self) -> usize {
        self.label_sets.load(Ordering::Relaxed)
    }
}
