//! A pool wrapper that times acquires.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{ConnectOptions, Connection, Database, Pool};
use vitals_core::catalogue::DB_POOL_ACQUIRE_SECONDS;
use vitals_core::{
    Collector, DatabaseSection, HistogramSnapshot, Importance, LATENCY_BUCKETS_SECONDS, MetricSink,
    PoolFigures, ReadinessProbe, Slot, Snapshot, Window,
};

/// Length of one slice of the acquire-wait window.
const WINDOW_SLICE: Duration = Duration::from_secs(10);
/// Slices in the acquire-wait window: 6 × 10 s = the last minute.
const WINDOW_SLICES: usize = 6;

/// A [`sqlx::Pool`] whose acquires are timed and counted.
///
/// Cloning is cheap and shares the pool and the counters. Only acquires made through
/// [`MeteredPool::acquire`] are timed and counted as active: a connection is active while
/// the [`MeteredConnection`] it returned is alive. `size` is idle + active, i.e. the open
/// connections; sqlx's own size also counts connections still being opened (during a
/// database outage, every waiting request's failing attempt), which are neither idle nor in
/// use, so it is not shown as such. Queries run directly on [`MeteredPool::pool`] are not
/// counted as active.
///
/// As a [`Collector`] it fills the snapshot's `database` section, or `databases[name]` when
/// given a name with [`MeteredPool::named`]; registered with Vitals it also records every
/// acquire wait into the `db_pool_acquire_duration_seconds` histogram (labelled
/// `pool="name"` when named) and offers a readiness probe (a round trip on a pooled
/// connection).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
/// use vitals_core::{Collector, Snapshot};
/// use vitals_pool::MeteredPool;
///
/// let primary = MeteredPool::new(sqlx::SqlitePool::connect("sqlite::memory:").await?);
/// let replica = MeteredPool::new(sqlx::SqlitePool::connect("sqlite::memory:").await?)
///     .named("replica");
/// let conn = replica.acquire().await?; // timed and counted
/// let mut snapshot = Snapshot::now();
/// primary.collect(&mut snapshot);
/// replica.collect(&mut snapshot);
/// assert_eq!(snapshot.database.backend, "sqlite");
/// assert_eq!(snapshot.databases["replica"].pool_active, 1);
/// assert_eq!(snapshot.databases["replica"].acquires_total, 1);
/// # drop(conn); Ok(()) }
/// ```
pub struct MeteredPool<DB: Database> {
    pool: Pool<DB>,
    name: Option<Arc<str>>,
    meter: Arc<Meter>,
}

impl<DB: Database> Clone for MeteredPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            name: self.name.clone(),
            meter: Arc::clone(&self.meter),
        }
    }
}

struct Meter {
    backend: String,
    /// Acquire waits over the last minute, for the JSON percentiles.
    recent: Window,
    /// Where waits are also recorded through the `metrics` facade, once attached.
    wait_facade: OnceLock<metrics::Histogram>,
    acquires: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    /// Connections handed out by [`MeteredPool::acquire`] and not yet returned.
    checked_out: Arc<AtomicU32>,
}

/// A pooled connection handed out by [`MeteredPool::acquire`]: it counts as active until it
/// is dropped (and so returned to the pool). It dereferences to the database connection,
/// so it is used like sqlx's own `PoolConnection` (`&mut *conn` as an executor).
pub struct MeteredConnection<DB: Database> {
    conn: PoolConnection<DB>,
    checked_out: Arc<AtomicU32>,
}

impl<DB: Database> std::ops::Deref for MeteredConnection<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> std::ops::DerefMut for MeteredConnection<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl<DB: Database> Drop for MeteredConnection<DB> {
    fn drop(&mut self) {
        self.checked_out.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<DB: Database> std::fmt::Debug for MeteredConnection<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredConnection").finish_non_exhaustive()
    }
}

impl<DB: Database> MeteredPool<DB> {
    /// Wraps `pool`; the backend is named after sqlx's database name, lowercased
    /// (`postgresql`, `sqlite`), or for an `AnyPool` (feature `any`) after its URL's scheme.
    pub fn new(pool: Pool<DB>) -> Self {
        let backend = backend_name::<DB>(&pool);
        Self {
            pool,
            name: None,
            meter: Arc::new(Meter {
                backend,
                recent: Window::new(WINDOW_SLICE, WINDOW_SLICES, LATENCY_BUCKETS_SECONDS),
                wait_facade: OnceLock::new(),
                acquires: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
                checked_out: Arc::new(AtomicU32::new(0)),
            }),
        }
    }

    /// The same pool with an acquire-wait window of `slices` slices of `slice` each instead of
    /// the last minute (6 × 10 s); `acquire_wait_window_seconds` reports the length. Waits
    /// recorded so far are dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
    /// use std::time::Duration;
    /// let pool = vitals_pool::MeteredPool::new(sqlx::SqlitePool::connect("sqlite::memory:").await?)
    ///     .with_wait_window(Duration::from_secs(5), 3);
    /// assert_eq!(pool.figures().acquire_wait_window_seconds, 15);
    /// # Ok(()) }
    /// ```
    pub fn with_wait_window(mut self, slice: Duration, slices: usize) -> Self {
        let meter = Meter {
            backend: self.meter.backend.clone(),
            recent: Window::new(slice, slices, LATENCY_BUCKETS_SECONDS),
            wait_facade: OnceLock::new(),
            acquires: AtomicU64::new(self.meter.acquires.load(Ordering::Relaxed)),
            errors: AtomicU64::new(self.meter.errors.load(Ordering::Relaxed)),
            timeouts: AtomicU64::new(self.meter.timeouts.load(Ordering::Relaxed)),
            checked_out: Arc::clone(&self.meter.checked_out),
        };
        if let Some(h) = self.meter.wait_facade.get() {
            let _ = meter.wait_facade.set(h.clone());
        }
        self.meter = Arc::new(meter);
        self
    }

    /// The same pool under `name`: it fills `databases[name]` instead of `database`, and its
    /// Prometheus series carry `pool="name"`.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The name given with [`MeteredPool::named`].
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
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
    pub async fn acquire(&self) -> Result<MeteredConnection<DB>, sqlx::Error> {
        self.meter.acquire(&self.pool).await
    }

    /// The pool's figures right now.
    pub fn figures(&self) -> PoolFigures {
        let options = self.pool.options();
        let wait = self.acquire_wait();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        // sqlx's size counts connections being opened; only open ones (idle or handed out)
        // are shown, so that `active = size - idle` is the connections really in use.
        let active = self
            .meter
            .checked_out
            .load(Ordering::Relaxed)
            .min(self.pool.size().saturating_sub(idle));
        PoolFigures {
            size: idle + active,
            idle,
            min: options.get_min_connections(),
            max: options.get_max_connections(),
            acquires: self.meter.acquires.load(Ordering::Relaxed),
            acquire_errors: self.meter.errors.load(Ordering::Relaxed),
            acquire_timeouts: self.meter.timeouts.load(Ordering::Relaxed),
            acquire_wait_p50_seconds: wait.quantile(0.5),
            acquire_wait_p99_seconds: wait.quantile(0.99),
            acquire_wait_window_seconds: self.meter.recent.length().as_secs(),
        }
    }

    /// Also records every acquire wait, in seconds, into `histogram` (a handle from any
    /// `metrics` recorder). Only the first call takes effect; registering the pool with
    /// Vitals makes this call itself.
    pub fn record_waits_into(&self, histogram: metrics::Histogram) {
        let _ = self.meter.wait_facade.set(histogram);
    }

    /// The acquire waits of the last minute.
    pub fn acquire_wait(&self) -> HistogramSnapshot {
        self.meter.recent.snapshot(Instant::now())
    }
}

impl Meter {
    async fn acquire<DB: Database>(
        &self,
        pool: &Pool<DB>,
    ) -> Result<MeteredConnection<DB>, sqlx::Error> {
        let started = Instant::now();
        self.acquires.fetch_add(1, Ordering::Relaxed);
        let result = pool.acquire().await;
        let waited = started.elapsed();
        self.recent.record(started + waited, waited);
        if let Some(facade) = self.wait_facade.get() {
            facade.record(waited.as_secs_f64());
        }
        if let Err(e) = &result {
            self.errors.fetch_add(1, Ordering::Relaxed);
            if matches!(e, sqlx::Error::PoolTimedOut) {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
            }
        }
        let conn = result?;
        self.checked_out.fetch_add(1, Ordering::Relaxed);
        Ok(MeteredConnection {
            conn,
            checked_out: Arc::clone(&self.checked_out),
        })
    }
}

impl<DB: Database> Collector for MeteredPool<DB> {
    fn collect(&self, snapshot: &mut Snapshot) {
        let section = DatabaseSection::from_figures(&self.meter.backend, &self.figures());
        match &self.name {
            None => snapshot.database = section,
            Some(name) => {
                snapshot.databases.insert(name.to_string(), section);
            }
        }
    }

    fn slot(&self) -> Option<Slot> {
        Some(Slot::Pool(self.name.as_deref().map(str::to_owned)))
    }

    fn attach(&self, metrics: &dyn MetricSink) {
        let labels: Vec<(&'static str, String)> =
            self.name.iter().map(|n| ("pool", n.to_string())).collect();
        self.record_waits_into(metrics.histogram(&DB_POOL_ACQUIRE_SECONDS, &labels));
    }

    fn readiness(&self) -> Option<ReadinessProbe> {
        let pool = self.pool.clone();
        let meter = Arc::clone(&self.meter);
        Some(ReadinessProbe {
            name: self
                .name
                .as_deref()
                .map_or_else(|| "database".to_owned(), |n| format!("database:{n}")),
            backend: self.meter.backend.clone(),
            importance: Importance::Required,
            probe: Box::new(move || {
                let pool = pool.clone();
                let meter = Arc::clone(&meter);
                Box::pin(async move {
                    // An idle pooled connection answers at once. Without one, open a single
                    // connection directly: sqlx's acquire retries a refused connection until
                    // the acquire timeout, while one attempt fails within milliseconds when
                    // the database refuses outright.
                    if pool.is_closed() {
                        return Err(describe(&sqlx::Error::PoolClosed));
                    }
                    // Each probe counts as one acquire, as before.
                    meter.acquires.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    let record = |meter: &Meter| {
                        let waited = started.elapsed();
                        meter.recent.record(started + waited, waited);
                        if let Some(facade) = meter.wait_facade.get() {
                            facade.record(waited.as_secs_f64());
                        }
                    };
                    if let Some(mut conn) = pool.try_acquire() {
                        record(&meter);
                        return conn.ping().await.map_err(|e| describe(&e));
                    }
                    let connected = pool.connect_options().connect().await;
                    record(&meter);
                    let mut conn = match connected {
                        Ok(conn) => conn,
                        Err(e) => {
                            meter.errors.fetch_add(1, Ordering::Relaxed);
                            return Err(describe(&e));
                        }
                    };
                    let result = conn.ping().await.map_err(|e| describe(&e));
                    let _ = conn.close().await;
                    result
                })
            }),
        })
    }
}

/// `postgresql`, `sqlite`…: sqlx's name for the database, or the real one behind `Any`.
fn backend_name<DB: Database>(pool: &Pool<DB>) -> String {
    #[cfg(feature = "any")]
    {
        let options = pool.connect_options();
        let options: &dyn std::any::Any = options.as_ref();
        if let Some(any) = options.downcast_ref::<sqlx::any::AnyConnectOptions>() {
            return match any.database_url.scheme() {
                "postgres" | "postgresql" => "postgresql".to_owned(),
                other => other.to_ascii_lowercase(),
            };
        }
    }
    let _ = pool;
    DB::NAME.to_ascii_lowercase()
}

/// A short description of a database failure that leaks no query or credential.
pub fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::PoolTimedOut => "no connection available within the acquire timeout".into(),
        sqlx::Error::PoolClosed => "the pool is closed".into(),
        sqlx::Error::Io(io) => format!("connection failed ({})", io.kind()),
        sqlx::Error::Database(db) => {
            format!("database error (code {})", db.code().unwrap_or_default())
        }
        _ => "database unavailable".into(),
    }
}
