//! What a database failure tells the caller: whether the work was stored, and whose fault it
//! was. The table "What each status means" in docs/health-agent.md is the same list in words.
//!
//! - A failure of the database itself (unreachable, refused login or permission, shut down,
//!   out of resources, a statement cancelled by its timeout) is 503 `database_unavailable`:
//!   a dependency failure, never our `internal` 500.
//! - A write whose commit was sent but not answered (the connection broke, or the request's
//!   deadline came first) is 504 `outcome_unknown`: the database may have committed it. A retry
//!   with the same `Idempotency-Key` answers the stored exchange if there is one.
//! - Anything else (a constraint the code should have prevented, a decoding error) is our bug:
//!   500 `internal`, logged at ERROR.

use http::StatusCode;

use vitals_axum::ApiError;

/// The code of a database failure on the request path.
pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";

/// The code of a write whose commit may or may not have happened.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";

/// A read, or a write that failed before its commit was sent (so nothing was stored).
pub(crate) fn db_error(e: sqlx::Error) -> ApiError {
    if is_dependency_failure(&e) {
        tracing::warn!(error = %e, "database unavailable");
        unavailable("the database is unavailable; nothing was stored; retry shortly")
    } else {
        tracing::error!(error = %e, "database error");
        ApiError::internal()
    }
}

/// A write that failed; `committing` says whether its commit had been sent.
pub(crate) fn write_failed(e: sqlx::Error, committing: bool) -> ApiError {
    // An error answer from the database means the transaction was rolled back; a broken
    // connection after the commit was sent leaves it open whether the commit arrived.
    let answered_by_database = matches!(e, sqlx::Error::Database(_));
    if committing && !answered_by_database && is_dependency_failure(&e) {
        tracing::warn!(error = %e, "connection lost during commit; outcome unknown");
        return outcome_unknown();
    }
    db_error(e)
}

/// A write still running at the request's deadline; `committing` as for [`write_failed`].
/// Before the commit the transaction is abandoned and can never commit (it is dropped with
/// its connection); after it, only the database knows.
pub(crate) fn write_timed_out(committing: bool) -> ApiError {
    if committing {
        tracing::warn!("commit not confirmed within the request deadline; outcome unknown");
        outcome_unknown()
    } else {
        tracing::warn!("database did not answer within the request deadline; nothing stored");
        unavailable("the database did not answer in time; nothing was stored; retry shortly")
    }
}

fn unavailable(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        DATABASE_UNAVAILABLE,
        message,
    )
}

fn outcome_unknown() -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        OUTCOME_UNKNOWN,
        "the exchange may or may not have been stored (the database did not confirm the commit); \
         retry with the same Idempotency-Key to get the stored answer, or to store it once",
    )
}

/// Failures of the database or of the way to it, as opposed to a mistake in our queries.
pub(crate) fn is_dependency_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|code| {
                if sqlite {
                    is_sqlite_dependency_code(&code)
                } else {
                    is_postgres_dependency_code(&code)
                }
            })
        }
        _ => false,
    }
}

/// SQLite result codes (sqlite.org/rescode.html) that name a failure of the database, not of
/// the query.
fn is_sqlite_dependency_code(code: &str) -> bool {
    // The primary code is the low byte of the extended one.
    code.parse::<u32>().is_ok_and(|extended| {
        matches!(
            extended & 0xff,
            3 // PERM
            | 5 // BUSY
            | 6 // LOCKED
            | 7 // NOMEM
            | 8 // READONLY
            | 9 // INTERRUPT
            | 10 // IOERR
            | 11 // CORRUPT
            | 13 // FULL
            | 14 // CANTOPEN
            | 15 // PROTOCOL
            | 23 // AUTH
            | 26 // NOTADB
        )
    })
}

/// PostgreSQL SQLSTATEs (appendix A of its manual) that name a failure of the database, not
/// of the query.
fn is_postgres_dependency_code(code: &str) -> bool {
    let class = code.get(..2).unwrap_or_default();
    matches!(
        class,
        "08" // connection exception
        | "28" // invalid authorization (28000 login refused, 28P01 wrong password)
        | "40" // transaction rollback (serialization failure, deadlock)
        | "53" // insufficient resources (too many connections, disk full)
        | "57" // operator intervention (statement timeout, shutdown, terminated)
        | "58" // system error
        | "XX" // internal error of the server
    ) || matches!(
        code,
        "42501" // insufficient privilege
        | "3D000" // the database does not exist
        | "55P03" // lock not available
        | "25P03" // idle-in-transaction session timeout
    )
}

#[cfg(test)]
mod tests {
    use super::{is_postgres_dependency_code, is_sqlite_dependency_code};

    #[test]
    fn database_failures_are_told_from_query_mistakes() {
        for code in [
            "28P01", "28000", "42501", "57P01", "57014", "08006", "53300", "3D000", "25P03",
        ] {
            assert!(is_postgres_dependency_code(code), "{code}");
        }
        for code in ["23505", "22P02", "42P01", "42601"] {
            assert!(!is_postgres_dependency_code(code), "{code}");
        }
        for code in ["5", "517", "14", "23", "8"] {
            assert!(is_sqlite_dependency_code(code), "{code}");
        }
        for code in ["1", "19", "2067", "x"] {
            assert!(!is_sqlite_dependency_code(code), "{code}");
        }
    }
}
