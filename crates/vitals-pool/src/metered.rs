//! A pool wrapper that times acquires.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};
use vitals_core::{Collector, DatabaseSection, Histogram, PoolFigures, Snapshot};

/// A [`sqlx::Pool`] whose acquires are timed and counted.
///
/// Cloning is cheap and shares the pool and the counters. Only acquires made through
/// [`MeteredPool::acquire`] are timed; queries run directly on [`MeteredPool::pool`] still
/// show in the size and idle figures, which come from sqlx itself.
pub struct MeteredPool<DB: Database> {
    pool: Pool<DB>,
    meter: Arc<Meter>,
}

impl<DB: Database> Clone for MeteredPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            meter: Arc::clone(&self.meter),
        }
    }
}

struct Meter {
    backend: String,
    wait: Histogram,
    /// Where waits are also recorded through the `metrics` facade, once an exporter asks.
    wait_facade: OnceLock<metrics::Histogram>,
    acquires: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
}

impl<DB: Database> MeteredPool<DB> {
    /// Wraps `pool`; the backend is named after sqlx's database name, lowercased
    /// (`postgresql`, `sqlite`).
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            meter: Arc::new(Meter {
                backend: DB::NAME.to_ascii_lowercase(),
                wait: Histogram::latency(),
                wait_facade: OnceLock::new(),
                acquires: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
            }),
        }
    }

    /// The wrapped pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The backend name shown as `database.backend`.
    pub fn backend(&self) -> &str {
        &self.meter.backend
    }

    /// Acquires a connection, recording how long it took and whether it failed (timed out,
    /// or the database refused a new connection).
    pub async fn acquire(&self) -> Result<PoolConnection<DB>, sqlx::Error> {
        let started = Instant::now();
        self.meter.acquires.fetch_add(1, Ordering::Relaxed);
        let result = self.pool.acquire().await;
        let waited = started.elapsed();
        self.meter.wait.record(waited);
        if let Some(facade) = self.meter.wait_facade.get() {
            facade.record(waited.as_secs_f64());
        }
        if let Err(e) = &result {
            self.meter.errors.fetch_add(1, Ordering::Relaxed);
            if matches!(e, sqlx::Error::PoolTimedOut) {
                self.meter.timeouts.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// The pool's figures right now.
    pub fn figures(&self) -> PoolFigures {
        let options = self.pool.options();
        let wait = self.meter.wait.snapshot();
        PoolFigures {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            min: options.get_min_connections(),
            max: options.get_max_connections(),
            acquires: self.meter.acquires.load(Ordering::Relaxed),
            acquire_errors: self.meter.errors.load(Ordering::Relaxed),
            acquire_timeouts: self.meter.timeouts.load(Ordering::Relaxed),
            acquire_wait_p50_seconds: wait.quantile(0.5),
            acquire_wait_p99_seconds: wait.quantile(0.99),
        }
    }

    /// Also records every acquire wait, in seconds, into `histogram` (a handle from a
    /// `metrics` recorder, e.g. a Prometheus exporter's). Only the first call takes effect.
    pub fn record_waits_into(&self, histogram: metrics::Histogram) {
        let _ = self.meter.wait_facade.set(histogram);
    }

    /// The acquire-wait histogram's counts right now.
    pub fn acquire_wait(&self) -> vitals_core::HistogramSnapshot {
        self.meter.wait.snapshot()
    }
}

impl<DB: Database> Collector for MeteredPool<DB> {
    fn collect(&self, snapshot: &mut Snapshot) {
        snapshot.database = DatabaseSection::from_figures(&self.meter.backend, &self.figures());
    }
}
