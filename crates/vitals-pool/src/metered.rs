//! The metered pool: a drop-in for `sqlx::Pool` whose acquires are timed and counted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, SqlSafeStr, Transaction};
use vitals_core::catalogue::DB_POOL_ACQUIRE_SECONDS;
use vitals_core::{
    Collector, DatabaseSection, HistogramSnapshot, MetricSink, PoolFigures, ReadinessProbe, Slot,
    Snapshot,
};

use crate::meter::{Meter, WINDOW_SLICE, WINDOW_SLICES};
use crate::occupancy::{self, Occupancy};

/// A [`sqlx::Pool`] whose every acquire is timed and counted: use it where the pool was used.
///
/// `&MeteredPool<DB>` is an sqlx [`Executor`](sqlx::Executor) and [`Acquire`](sqlx::Acquire),
/// and the pool's own methods are here with the same signatures ([`acquire`](Self::acquire),
/// [`try_acquire`](Self::try_acquire), [`begin`](Self::begin), [`begin_with`](Self::begin_with),
/// [`try_begin`](Self::try_begin), [`try_begin_with`](Self::try_begin_with)); every other
/// `Pool` method (`close`, `is_closed`, `size`, `options`…) is reached through `Deref`. So an
/// application changes the type of its pool and nothing else:
/// `sqlx::query(..).execute(&pool)`, `fetch_one`, `fetch_all`, `fetch` streams, `query_as`,
/// `query_scalar`, `pool.begin()` transactions and `sqlx::migrate!().run(&pool)` compile as
/// before, and each connection they take counts in `acquires_total` with its wait timed. A
/// function that takes `&PgPool` still accepts `&pool` (by deref); the connections it takes
/// are not timed, but the pool figures below include them.
///
/// Cloning is cheap and shares the pool and the counters.
///
/// # The figures
///
/// - `pool_size`: open connections (idle, handed out, or for a moment being checked or
///   returned). Connections still being opened are not counted, so during a database outage,
///   when every waiting caller's connection attempt fails and is retried, they do not appear
///   as open or as in use; [`connecting`](Self::connecting) counts them.
/// - `pool_available`: open connections idle in the pool.
/// - `pool_active`: `pool_size − pool_available`, the connections handed out.
///
/// These three read the pool itself, so they hold however the application takes its
/// connections: through this wrapper, through a plain `sqlx::Pool` clone of the same pool,
/// or through the pool's own upkeep. How connections being opened are told apart (sqlx does
/// not count them separately) is explained in the [`Occupancy`] docs.
///
/// - `acquires_total`: connections asked of this wrapper since start (any of the forms
///   above), failed ones included; `acquire_errors_total` the failed ones (the database
///   refused or did not answer, or the wait timed out) and `acquire_timeouts_total` those that
///   gave up after the pool's acquire timeout. Connections taken through a plain `Pool`
///   clone are not seen here. Readiness probes are not counted either: they are Vitals'
///   traffic, not the application's.
/// - `acquire_wait_p50_ms` / `acquire_wait_p99_ms`: waits of the last minute (see
///   [`with_wait_window`](Self::with_wait_window)), also recorded into the
///   `db_pool_acquire_duration_seconds` histogram once registered with Vitals.
///
/// As a [`Collector`] it fills the snapshot's `database` section, or `databases[name]` when
/// given a name with [`MeteredPool::named`], and offers a readiness probe (a round trip on an
/// idle connection, or a single direct connection attempt when none is idle).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
/// use vitals_core::{Collector, Snapshot};
/// use vitals_pool::MeteredPool;
///
/// // One connection: each SQLite in-memory connection is a database of its own.
/// let sqlite = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1);
/// let pool = MeteredPool::new(sqlite.connect("sqlite::memory:").await?);
/// sqlx::query("CREATE TABLE t (n INTEGER)").execute(&pool).await?; // timed
/// let mut tx = pool.begin().await?;                                // timed
/// sqlx::query("INSERT INTO t VALUES (1)").execute(&mut *tx).await?;
/// tx.commit().await?;
/// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t").fetch_one(&pool).await?;
/// assert_eq!(n, 1);
///
/// let replica = MeteredPool::new(sqlx::SqlitePool::connect("sqlite::memory:").await?)
///     .named("replica");
/// let conn = replica.acquire().await?;
/// let mut snapshot = Snapshot::now();
/// pool.collect(&mut snapshot);
/// replica.collect(&mut snapshot);
/// let primary = snapshot.database.as_ref().expect("the unnamed pool fills `database`");
/// assert_eq!(primary.backend, "sqlite");
/// assert_eq!(primary.acquires_total, 3);
/// assert_eq!(snapshot.databases["replica"].pool_active, 1);
/// # drop(conn); Ok(()) }
/// ```
pub struct MeteredPool<DB: Database> {
    pool: Pool<DB>,
    name: Option<Arc<str>>,
    backend: Arc<str>,
    meter: Arc<Meter>,
}

/// The connection type [`MeteredPool::acquire`] hands out: sqlx's own, as `Pool::acquire`.
#[deprecated(
    since = "0.1.0",
    note = "MeteredPool::acquire returns sqlx's PoolConnection; name that type instead"
)]
pub type MeteredConnection<DB> = PoolConnection<DB>;

impl<DB: Database> Clone for MeteredPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            name: self.name.clone(),
            backend: Arc::clone(&self.backend),
            meter: Arc::clone(&self.meter),
        }
    }
}

impl<DB: Database> std::fmt::Debug for MeteredPool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredPool")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("occupancy", &self.occupancy())
            .finish_non_exhaustive()
    }
}

/// Every `sqlx::Pool` method this type does not define itself (`close`, `is_closed`,
/// `close_event`, `size`, `num_idle`, `options`, `connect_options`, `set_connect_options`),
/// and `&MeteredPool` where a function asks for `&Pool`.
impl<DB: Database> std::ops::Deref for MeteredPool<DB> {
    type Target = Pool<DB>;
    fn deref(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<DB: Database> From<Pool<DB>> for MeteredPool<DB> {
    fn from(pool: Pool<DB>) -> Self {
        Self::new(pool)
    }
}

impl<DB: Database> MeteredPool<DB> {
    /// Wraps `pool`; the backend is named after sqlx's database name, lowercased
    /// (`postgresql`, `sqlite`), or for an `AnyPool` (feature `any`) after its URL's scheme.
    pub fn new(pool: Pool<DB>) -> Self {
        let backend = Arc::from(backend_name::<DB>(&pool));
        Self {
            pool,
            name: None,
            backend,
            meter: Arc::new(Meter::new(WINDOW_SLICE, WINDOW_SLICES)),
        }
    }

    /// The same pool with an acquire-wait window of `slices` slices of `slice` each instead of
    /// the last minute (6 × 10 s); `acquire_wait_window_seconds` reports the length. Waits
    /// recorded so far are dropped; the counters are kept.
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
        self.meter = Arc::new(self.meter.with_window(slice, slices));
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

    /// The wrapped pool. Connections taken through it directly are not timed or counted in
    /// `acquires_total`, but are in the size, idle and active figures.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The wrapped pool, by value.
    pub fn into_inner(self) -> Pool<DB> {
        self.pool
    }

    /// The backend name shown as `database.backend`.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// Takes a connection, as [`Pool::acquire`], timing the wait and counting the acquire
    /// (and its failure: timed out, or the database refused a new connection). Like sqlx's,
    /// the returned future does not borrow the pool.
    pub fn acquire(
        &self,
    ) -> impl Future<Output = Result<PoolConnection<DB>, sqlx::Error>> + Send + 'static {
        let meter = Arc::clone(&self.meter);
        let acquire = self.pool.acquire();
        async move { meter.acquire(acquire).await }
    }

    /// An idle connection if there is one at once, as [`Pool::try_acquire`]; a connection
    /// taken this way counts as an acquire that did not wait.
    pub fn try_acquire(&self) -> Option<PoolConnection<DB>> {
        let conn = self.pool.try_acquire()?;
        self.meter.took_at_once();
        Some(conn)
    }

    /// Takes a connection and starts a transaction on it, as [`Pool::begin`]; the acquire is
    /// timed and counted.
    pub async fn begin(&self) -> Result<Transaction<'static, DB>, sqlx::Error> {
        Transaction::begin(self.acquire().await?, None).await
    }

    /// Takes a connection and starts a transaction with `statement`, as
    /// [`Pool::begin_with`]; the acquire is timed and counted.
    pub async fn begin_with(
        &self,
        statement: impl SqlSafeStr,
    ) -> Result<Transaction<'static, DB>, sqlx::Error> {
        let statement = statement.into_sql_str();
        Transaction::begin(self.acquire().await?, Some(statement)).await
    }

    /// A transaction on an idle connection if there is one at once, as [`Pool::try_begin`].
    pub async fn try_begin(&self) -> Result<Option<Transaction<'static, DB>>, sqlx::Error> {
        match self.try_acquire() {
            Some(conn) => Transaction::begin(conn, None).await.map(Some),
            None => Ok(None),
        }
    }

    /// A transaction started with `statement` on an idle connection if there is one at once,
    /// as [`Pool::try_begin_with`].
    pub async fn try_begin_with(
        &self,
        statement: impl SqlSafeStr,
    ) -> Result<Option<Transaction<'static, DB>>, sqlx::Error> {
        let statement = statement.into_sql_str();
        match self.try_acquire() {
            Some(conn) => Transaction::begin(conn, Some(statement)).await.map(Some),
            None => Ok(None),
        }
    }

    /// Connections being opened right now: not yet usable, so part of neither `pool_size`
    /// nor `pool_active`. Above zero for a moment while the pool grows; for as long as the
    /// acquire timeout while the database refuses or does not answer.
    pub fn connecting(&self) -> u32 {
        self.occupancy().connecting
    }

    /// Open, idle and connecting connections right now, read from the pool itself.
    pub fn occupancy(&self) -> Occupancy {
        occupancy::read(&self.pool)
    }

    /// The pool's figures right now.
    pub fn figures(&self) -> PoolFigures {
        let options = self.pool.options();
        let now = self.occupancy();
        let wait = self.acquire_wait();
        let counts = self.meter.counts();
        PoolFigures {
            size: now.open,
            idle: now.idle,
            min: options.get_min_connections(),
            max: options.get_max_connections(),
            acquires: counts.acquires,
            acquire_errors: counts.errors,
            acquire_timeouts: counts.timeouts,
            acquire_wait_p50_seconds: wait.quantile(0.5),
            acquire_wait_p99_seconds: wait.quantile(0.99),
            acquire_wait_window_seconds: self.meter.window_length().as_secs(),
        }
    }

    /// Also records every acquire wait, in seconds, into `histogram` (a handle from any
    /// `metrics` recorder). Only the first call takes effect; registering the pool with
    /// Vitals makes this call itself.
    pub fn record_waits_into(&self, histogram: metrics::Histogram) {
        let _ = self.meter.wait_facade.set(histogram);
    }

    /// The acquire waits of the recent window (the last minute by default).
    pub fn acquire_wait(&self) -> HistogramSnapshot {
        self.meter.waits()
    }
}

impl<DB: Database> Collector for MeteredPool<DB> {
    fn collect(&self, snapshot: &mut Snapshot) {
        let section = DatabaseSection::from_figures(&self.backend, &self.figures());
        match &self.name {
            None => snapshot.database = Some(section),
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
        Some(crate::probe::readiness(
            self.pool.clone(),
            self.name.as_deref(),
            &self.backend,
        ))
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
