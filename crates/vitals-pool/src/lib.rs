//! Database pool figures for Vitals, for any sqlx pool (PostgreSQL and SQLite alike).
//!
//! sqlx tells how many connections a pool holds and how many are idle, but not how long
//! callers wait for one. [`MeteredPool`] wraps a [`sqlx::Pool`] and times every acquire made
//! through it into a histogram, counting timeouts; as a [`Collector`](vitals_core::Collector)
//! it fills the snapshot's `database` section. [`PoolSizing`] holds the default sizing rule
//! (min = cores, max = 2 × cores + 5) and applies it to sqlx's pool options.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sqlx::Error> {
//! use sqlx::Postgres;
//! use vitals_pool::{MeteredPool, PoolSizing};
//!
//! let options = PoolSizing::detect().apply(sqlx::pool::PoolOptions::<Postgres>::new());
//! let pool = MeteredPool::new(options.connect("postgres://127.0.0.1/test").await?);
//!
//! let mut conn = pool.acquire().await?; // timed
//! let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await?;
//! assert_eq!(one, 1);
//! drop(conn);
//! println!("{:?}", pool.figures());
//! # Ok(()) }
//! ```

mod metered;
mod sizing;

pub use metered::{MeteredConnection, MeteredPool, describe as describe_error};
pub use sizing::{PoolSizing, SizingError};
