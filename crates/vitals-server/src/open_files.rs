//! The open-file limit, and the connection cap it allows.
//!
//! Every client connection is a file descriptor, and so are the pool's connections, Redis,
//! the database files, the listener, the runtime's own descriptors and the short-lived
//! sockets answered 503 past the cap. A cap above what the limit leaves for clients means
//! that `accept` fails with `EMFILE` before the cap is reached, and clients wait unanswered.

/// The connection cap when none is configured, on a machine whose limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;

/// Descriptors kept apart from client connections besides the pool's: the listener, stdio,
/// the runtime, Redis and export sockets, database files, `/proc` reads of the samplers,
/// and the sockets being answered 503 past the cap.
pub const RESERVED: u64 = 128;

/// Raises the soft limit on open files to the hard limit, so that the connection cap and not
/// the default of 1024 descriptors bounds how many clients are served. Returns the limit
/// in force afterwards (`None` where the platform has no such limit or it cannot be read).
pub fn raise_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(e) => {
                tracing::warn!(error = %e, "cannot raise the open-file limit");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap when none is configured: what this process's open-file limit (once
/// raised) serves with `pool_max` database connections.
pub fn default_cap(pool_max: u32) -> u32 {
    connections_for(reachable_limit(), pool_max)
}

/// The limit [`raise_limit`] will reach: the hard limit (`None` where there is none).
pub fn reachable_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(_, hard)| hard)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The most connections `limit` descriptors serve with `pool_max` database connections
/// open: the limit less the pool and [`RESERVED`] (at least half the limit, at least 1), and
/// never more than [`DEFAULT_MAX_CONNECTIONS`].
///
/// ```
/// use vitals_server::open_files::connections_for;
/// assert_eq!(connections_for(Some(1024), 9), 887);
/// assert_eq!(connections_for(Some(1_048_576), 9), 10_000);
/// assert_eq!(connections_for(Some(100), 9), 50);
/// assert_eq!(connections_for(None, 9), 10_000);
/// ```
pub fn connections_for(limit: Option<u64>, pool_max: u32) -> u32 {
    let Some(limit) = limit else {
        return DEFAULT_MAX_CONNECTIONS;
    };
    let free = limit
        .saturating_sub(u64::from(pool_max) + RESERVED)
        .max(limit / 2)
        .max(1);
    u32::try_from(free)
        .unwrap_or(u32::MAX)
        .min(DEFAULT_MAX_CONNECTIONS)
}
