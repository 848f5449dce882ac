//! The pool's readiness probe.

use sqlx::{ConnectOptions, Connection, Database, Pool};
use vitals_core::{Importance, ReadinessProbe};

/// A probe of `pool`: a round trip on an idle connection, or one direct connection attempt
/// when none is idle. It is Vitals' own traffic, so it touches none of the pool's counters
/// (`acquires_total`, `acquire_errors_total`, the acquire waits); its outcome is reported by
/// the readiness endpoint only.
pub(crate) fn readiness<DB: Database>(
    pool: Pool<DB>,
    name: Option<&str>,
    backend: &str,
) -> ReadinessProbe {
    ReadinessProbe {
        name: name.map_or_else(|| "database".to_owned(), |n| format!("database:{n}")),
        backend: backend.to_owned(),
        importance: Importance::Required,
        probe: Box::new(move || {
            let pool = pool.clone();
            Box::pin(async move {
                if pool.is_closed() {
                    return Err(describe(&sqlx::Error::PoolClosed));
                }
                // An idle pooled connection answers at once. Without one, open a single
                // connection directly: sqlx's acquire retries a refused connection until the
                // acquire timeout, while one attempt fails within milliseconds when the
                // database refuses outright.
                if let Some(mut conn) = pool.try_acquire() {
                    return conn.ping().await.map_err(|e| describe(&e));
                }
                // A copy of the options, not the pool's shared `Arc`: holding that during the
                // attempt would count it as one of the pool's connections being opened
                // (see `Occupancy`).
                let options = (*pool.connect_options()).clone();
                let mut conn = options.connect().await.map_err(|e| describe(&e))?;
                let result = conn.ping().await.map_err(|e| describe(&e));
                let _ = conn.close().await;
                result
            })
        }),
    }
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
