//! Database pool figures for Vitals, for any sqlx pool (PostgreSQL and SQLite alike).
//!
//! [`MeteredPool`] wraps a [`sqlx::Pool`] and stands in for it: `&MeteredPool` is an sqlx
//! executor, `acquire` / `begin` are there, so an application changes its pool's type and
//! nothing else, and every connection it takes is timed (a one-minute window of acquire waits)
//! and counted (acquires, errors, timeouts). Its size, idle and active figures read the pool
//! itself, so they are right however the application takes connections, and connections
//! still being opened (every waiting caller's attempt, during a database outage) are never
//! shown as open or in use. As a [`Collector`](vitals_core::Collector) it fills the
//! snapshot's `database` section. [`PoolSizing`] holds the default sizing rule
//! (min = cores, max = 2 × cores + 5) and applies it to sqlx's pool options.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sqlx::Error> {
//! use vitals_pool::sqlx::{self, PgPool, Postgres};
//! use vitals_pool::{MeteredPool, PoolSizing};
//!
//! let options = PoolSizing::detect().apply(sqlx::pool::PoolOptions::<Postgres>::new());
//! let pool: MeteredPool<Postgres> = MeteredPool::new(options.connect("postgres://127.0.0.1/test").await?);
//!
//! // The same calls as on a PgPool; each acquire is timed and counted.
//! let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await?;
//! let mut tx = pool.begin().await?;
//! sqlx::query("SELECT pg_advisory_xact_lock(1)").execute(&mut *tx).await?;
//! tx.commit().await?;
//!
//! // Code that takes a &PgPool still accepts it (its acquires are not timed, but are in
//! // the size, idle and active figures).
//! async fn legacy(pool: &PgPool) -> Result<i64, sqlx::Error> {
//!     sqlx::query_scalar("SELECT 2::int8").fetch_one(pool).await
//! }
//! legacy(&pool).await?;
//! println!("{one} {:?}", pool.figures());
//! # Ok(()) }
//! ```
//!
//! # Versions
//!
//! Built for **sqlx 0.9** (`>= 0.9.0, < 0.10`). Use the sqlx this crate re-exports,
//! [`vitals_pool::sqlx`](crate::sqlx), or depend on the same minor version yourself: a pool
//! from another sqlx would be a different type. The crate turns on sqlx's `runtime-tokio`
//! and `macros` features (the latter is in sqlx's defaults; see `src/executor.rs` for why it
//! is needed) and, through its own features `postgres`, `sqlite` and `any`, the drivers.
//! Telling connections being opened from open ones relies on how sqlx 0.9's pool holds its
//! connect options ([`Occupancy`]); the tests check it against PostgreSQL's own view.

mod executor;
mod meter;
mod metered;
mod occupancy;
mod probe;
mod sizing;

/// The sqlx this crate is built against, for applications that want to be sure their pool
/// type is the one [`MeteredPool`] wraps.
pub use sqlx;

#[allow(deprecated)]
pub use metered::MeteredConnection;
pub use metered::MeteredPool;
pub use occupancy::Occupancy;
pub use probe::describe as describe_error;
pub use sizing::{PoolSizing, SizingError};

// The README's example, compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
