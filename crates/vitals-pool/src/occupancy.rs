//! What the pool holds right now, read from the pool itself.

use std::sync::Arc;

use sqlx::{Database, Pool};

/// The pool's connections at one moment, read from the `sqlx::Pool` itself.
///
/// sqlx 0.9 offers two counters: `Pool::size()` and `Pool::num_idle()`. `size()` is raised
/// *before* a connection is opened (sqlx-core `src/pool/inner.rs`, `try_increment_size`), so
/// it also counts connections still being opened; during a database outage that is every
/// waiting caller's failing attempt, retried until the acquire timeout, which is neither idle
/// nor in use. sqlx has no counter for those, but each attempt can be seen: the pool keeps its
/// connect options in an `Arc`, and every attempt holds a clone of that `Arc` from its start
/// to its end (`PoolInner::connect` in the same file takes the clone on each pass of its retry
/// loop and keeps it through the back-off sleep). So the `Arc`'s strong count, less the pool's
/// own reference and the one taken to read it, is the number of connections being opened,
/// however they were asked for: through [`MeteredPool`](crate::MeteredPool), through a plain
/// `sqlx::Pool` clone, or by the pool's own `min_connections` upkeep.
///
/// Two things skew it, both rare: code that keeps the `Arc` returned by
/// `Pool::connect_options()` counts as one connection being opened for as long as it keeps
/// it (copy the options out, `(*pool.connect_options()).clone()`, instead), and attempts
/// started before a `Pool::set_connect_options` hold the old `Arc`, so they count as open
/// until they end.
///
/// The crate's tests hold this against PostgreSQL's own view (`pg_stat_activity`) and against
/// a database that refuses connections, so a sqlx release that changed the mechanism fails
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Occupancy {
    /// Open connections: idle, handed out, or being checked or returned.
    pub open: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// Connections being opened (not yet usable); not part of `open`.
    pub connecting: u32,
}

impl Occupancy {
    /// Open connections not idle: handed out to a caller (or, for a moment, being checked
    /// before one is handed out or returned after use).
    pub fn in_use(&self) -> u32 {
        self.open - self.idle
    }
}

/// Reads `pool` now.
pub(crate) fn read<DB: Database>(pool: &Pool<DB>) -> Occupancy {
    let connecting = connecting(pool);
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    // The three figures are read one after the other: clamp so that a connection finishing
    // its opening between two reads cannot make the sum exceed sqlx's size.
    let connecting = connecting.min(size - idle);
    Occupancy {
        open: size - connecting,
        idle,
        connecting,
    }
}

/// Connection attempts in flight: holders of the pool's connect options beyond the pool's
/// own reference and ours.
fn connecting<DB: Database>(pool: &Pool<DB>) -> u32 {
    let options = pool.connect_options();
    let holders = Arc::strong_count(&options);
    drop(options);
    u32::try_from(holders.saturating_sub(2)).unwrap_or(u32::MAX)
}
