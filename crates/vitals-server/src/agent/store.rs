//! Message history: PostgreSQL or SQLite behind a cache-aside read path.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqlx::{Connection, Row};

use crate::db::Db;
use crate::{ApiError, AppState};

/// Messages kept in a user's cached history, and the largest `limit` a read may ask for.
pub const HISTORY_WINDOW: u32 = 50;

/// How long a cached history lives. Writes invalidate it at once; the TTL bounds how long a
/// copy can outlive an invalidation that failed (the cache was unreachable at that moment).
pub const HISTORY_TTL: Duration = Duration::from_secs(120);

/// One stored message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Database id; grows with time.
    pub id: i64,
    /// `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// When it was stored: RFC 3339, UTC, microseconds.
    pub created_at: String,
}

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

fn cache_key(user_id: &str) -> String {
    format!("history:{user_id}")
}

/// The user's latest [`HISTORY_WINDOW`] messages, oldest first: from the cache when it has
/// them, otherwise from the database, then cached.
pub async fn recent(state: &AppState, user_id: &str) -> Result<Vec<Message>, ApiError> {
    let key = cache_key(user_id);
    if let Some(bytes) = state.cache().get(&key).await {
        match serde_json::from_slice::<Vec<Message>>(&bytes) {
            Ok(messages) => return Ok(messages),
            Err(e) => tracing::warn!(error = %e, "cached history unreadable; reading the database"),
        }
    }
    let messages = load(state.db(), user_id).await.map_err(db_error)?;
    if let Ok(bytes) = serde_json::to_vec(&messages) {
        state.cache().set(&key, bytes, HISTORY_TTL).await;
    }
    Ok(messages)
}

/// Stores the user's message and the reply in one transaction, then drops the cached
/// history. Returns once the transaction is committed.
///
/// With an idempotency key the key is claimed in the same transaction; when another request
/// already holds it, nothing is stored and the answer is `None` (read the first answer with
/// [`super::idempotency::lookup`]).
pub async fn append_exchange(
    state: &AppState,
    user_id: &str,
    message: &str,
    reply: &str,
    idempotency_key: Option<&str>,
) -> Result<Option<Exchange>, ApiError> {
    let exchange = insert(state.db(), user_id, message, reply, idempotency_key)
        .await
        .map_err(db_error)?;
    if exchange.is_some() {
        state.cache().delete(&cache_key(user_id)).await;
    }
    Ok(exchange)
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

async fn insert(
    db: &Db,
    user_id: &str,
    message: &str,
    reply: &str,
    idempotency_key: Option<&str>,
) -> Result<Option<Exchange>, sqlx::Error> {
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
        let history_len: i64 =
            sqlx::query_scalar("SELECT count(*) FROM messages WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        if let Some(key) = idempotency_key {
            let claimed = sqlx::query(super::idempotency::CLAIM_SQL)
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
        tx.commit().await?;
        Ok(Some(Exchange {
            user_message_id,
            reply_message_id,
            history_len,
        }))
    })
}

/// Database failures as the caller sees them: 503 when the database cannot be reached (the
/// client may retry), 500 otherwise. The details go to the log only.
pub(crate) fn db_error(e: sqlx::Error) -> ApiError {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::unavailable("the database is unavailable; retry shortly")
        }
        _ => {
            tracing::error!(error = %e, "database error");
            ApiError::internal()
        }
    }
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
