//! Message history: PostgreSQL or SQLite behind a versioned cache-aside read path.
//!
//! Every exchange bumps the user's row in `history_versions` in the same transaction as its
//! messages; a history read reads that version first and goes through
//! [`CacheAside`](vitals_cache::CacheAside) under `(user, version)`. A history cached before a
//! write is therefore never served after the write was acknowledged: not when a slow read
//! fills the cache after the write, not when the cache missed an invalidation during an
//! outage (there is no invalidation to miss). See docs/health-agent.md.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Row};
use vitals_cache::CacheAside;

use super::outcome::{self, db_error};
use crate::db::Db;
use crate::message::Message;
use crate::state::AppState;
use vitals_axum::ApiError;

/// Messages kept in a user's cached history, and the largest `limit` a read may ask for.
pub const HISTORY_WINDOW: u32 = 50;

/// How long a cached history lives. Correctness does not depend on it (a write makes every
/// older copy unreachable at once, whether or not the cache is reachable); it bounds how long
/// a superseded copy that could not be retired uses cache memory.
pub const HISTORY_TTL: Duration = Duration::from_secs(120);

/// The ids of one committed exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The user's message.
    pub user_message_id: i64,
    /// The reply.
    pub reply_message_id: i64,
    /// Messages the user's history holds after this exchange.
    pub history_len: i64,
}

/// Claims an idempotency key in the exchange's transaction; affects no row when the key is
/// taken (see [`super::idempotency`]).
const CLAIM_SQL: &str = "INSERT INTO chat_idempotency \
     (user_id, idempotency_key, user_message_id, reply_message_id, history_len, created_at_us) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, idempotency_key) DO NOTHING";

/// Cache keys of histories start with this.
const HISTORY_PREFIX: &str = "history";

/// A user's history version as the database has it: the database's own cache token (so a
/// recreated database never meets an older one's keys) and the number of exchanges written.
struct HistoryVersion {
    token: String,
    number: i64,
}

impl fmt::Display for HistoryVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.token, self.number)
    }
}

fn histories(state: &AppState) -> CacheAside<vitals_cache::Backend> {
    CacheAside::new(state.cache().clone(), HISTORY_PREFIX, HISTORY_TTL)
}

/// The user's latest [`HISTORY_WINDOW`] messages, oldest first: the version from the
/// database, then the history from the cache when it holds that version, otherwise from the
/// database (then cached under that version). While the cache's circuit is open, straight
/// from the database.
pub async fn recent(state: &AppState, user_id: &str) -> Result<Vec<Message>, ApiError> {
    histories(state)
        .read_versioned(
            user_id,
            || version(state.db(), user_id),
            || load(state.db(), user_id),
        )
        .await
        .map_err(db_error)
}

/// Stores the user's message and the reply and bumps the user's history version, in one
/// transaction; returns once it is committed. The copy of the previous version is then
/// dropped from the cache as a courtesy (to free memory): whether that succeeds does not
/// matter, no reader asks for that version any more.
///
/// With an idempotency key the key is claimed in the same transaction; when another request
/// already holds it, nothing is stored and the answer is `None` (read the first answer with
/// [`super::idempotency::lookup`]).
///
/// The write gives up at `deadline`: before its commit was sent the transaction is dropped
/// and can never commit (503 `database_unavailable`); after, the answer is 504
/// `outcome_unknown` (see [`outcome`]).
pub async fn append_exchange(
    state: &AppState,
    user_id: &str,
    message: &str,
    reply: &str,
    idempotency_key: Option<&str>,
    deadline: tokio::time::Instant,
) -> Result<Option<Exchange>, ApiError> {
    let committing = AtomicBool::new(false);
    let write = insert(
        state.db(),
        user_id,
        message,
        reply,
        idempotency_key,
        &committing,
    );
    let stored = match tokio::time::timeout_at(deadline, write).await {
        Ok(Ok(stored)) => stored,
        Ok(Err(e)) => {
            return Err(outcome::write_failed(e, committing.load(Ordering::SeqCst)));
        }
        Err(_) => return Err(outcome::write_timed_out(committing.load(Ordering::SeqCst))),
    };
    let Some((exchange, superseded)) = stored else {
        return Ok(None);
    };
    histories(state).retire(user_id, superseded).await;
    Ok(Some(exchange))
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend `$db` is; the
/// SQL is written once, in the dialect both backends accept (`$n` parameters, RETURNING).
macro_rules! on_either_backend {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            Db::Postgres(pool) => {
                let mut $conn = pool.acquire().await?;
                $body
            }
            Db::Sqlite(pool) => {
                let mut $conn = pool.acquire().await?;
                $body
            }
        }
    };
}

async fn version(db: &Db, user_id: &str) -> Result<HistoryVersion, sqlx::Error> {
    on_either_backend!(db, |conn| {
        let row = sqlx::query(
            "SELECT n.token, COALESCE(v.version, 0) AS version FROM cache_namespace n \
             LEFT JOIN history_versions v ON v.user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(HistoryVersion {
            token: row.try_get("token")?,
            number: row.try_get("version")?,
        })
    })
}

#[tracing::instrument(name = "store.read", skip_all)]
async fn load(db: &Db, user_id: &str) -> Result<Vec<Message>, sqlx::Error> {
    on_either_backend!(db, |conn| {
        let rows = sqlx::query(
            "SELECT id, role, content, created_at_us FROM messages \
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(HISTORY_WINDOW))
        .fetch_all(&mut *conn)
        .await?;
        let mut messages = rows
            .iter()
            .map(|row| {
                Ok(Message {
                    id: row.try_get("id")?,
                    role: row.try_get("role")?,
                    content: row.try_get("content")?,
                    created_at: format_micros(row.try_get("created_at_us")?),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        messages.reverse();
        Ok(messages)
    })
}

#[tracing::instrument(name = "store.write", skip_all)]
async fn insert(
    db: &Db,
    user_id: &str,
    message: &str,
    reply: &str,
    idempotency_key: Option<&str>,
    committing: &AtomicBool,
) -> Result<Option<(Exchange, HistoryVersion)>, sqlx::Error> {
    let now = now_micros();
    on_either_backend!(db, |conn| {
        let mut tx = conn.begin().await?;
        let insert = "INSERT INTO messages (user_id, role, content, created_at_us) \
                      VALUES ($1, $2, $3, $4) RETURNING id";
        let user_message_id: i64 = sqlx::query_scalar(insert)
            .bind(user_id)
            .bind("user")
            .bind(message)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let reply_message_id: i64 = sqlx::query_scalar(insert)
            .bind(user_id)
            .bind("assistant")
            .bind(reply)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO history_versions (user_id, version) VALUES ($1, 1) \
             ON CONFLICT (user_id) DO UPDATE SET version = history_versions.version + 1 \
             RETURNING version",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT count(*) AS history_len, (SELECT token FROM cache_namespace) AS token \
             FROM messages WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let history_len: i64 = row.try_get("history_len")?;
        let token: String = row.try_get("token")?;
        if let Some(key) = idempotency_key {
            let claimed = sqlx::query(CLAIM_SQL)
                .bind(user_id)
                .bind(key)
                .bind(user_message_id)
                .bind(reply_message_id)
                .bind(history_len)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        committing.store(true, Ordering::SeqCst);
        tx.commit().await?;
        let exchange = Exchange {
            user_message_id,
            reply_message_id,
            history_len,
        };
        let superseded = HistoryVersion {
            token,
            number: version - 1,
        };
        Ok(Some((exchange, superseded)))
    })
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn format_micros(micros: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0));
    vitals_core::rfc3339_micros(t)
}
