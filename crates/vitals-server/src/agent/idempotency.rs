//! `Idempotency-Key` on `POST /api/v1/chat`: a client that did not get an answer (timeout,
//! 503, dropped connection) can send the same request again with the same key and is sure
//! the exchange is stored once.
//!
//! The key is claimed by a row of `chat_idempotency` written in the exchange's own
//! transaction, under a primary key on (user, key): the exchange and its key commit together
//! or not at all, and two requests with one key cannot both commit, whichever instance or
//! process serves them. A repeat finds the row and gets the first answer back.

use sqlx::Row;

use super::outcome::db_error;
use super::store::Exchange;
use crate::db::Db;
use crate::state::AppState;
use vitals_axum::ApiError;

/// The request header carrying the key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

const LOOKUP_SQL: &str = "SELECT i.user_message_id, i.reply_message_id, i.history_len, \
     u.content AS message, r.content AS reply \
     FROM chat_idempotency i \
     JOIN messages u ON u.id = i.user_message_id \
     JOIN messages r ON r.id = i.reply_message_id \
     WHERE i.user_id = $1 AND i.idempotency_key = $2";

/// 1–64 characters of `A-Za-z0-9._-`, the same alphabet as request ids and user ids.
pub fn is_valid_idempotency_key(key: &[u8]) -> bool {
    (1..=64).contains(&key.len())
        && key
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The first answer given under `key`.
pub(crate) struct FirstAnswer {
    /// Ids and history length of the stored exchange.
    pub exchange: Exchange,
    /// The message that was sent with the key.
    pub message: String,
    /// The reply that was given.
    pub reply: String,
}

/// The exchange stored under (`user_id`, `key`), if any.
pub(crate) async fn lookup(
    state: &AppState,
    user_id: &str,
    key: &str,
) -> Result<Option<FirstAnswer>, ApiError> {
    let row = match state.db() {
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await.map_err(db_error)?;
            sqlx::query(LOOKUP_SQL)
                .bind(user_id)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?
                .map(|r| read(&r))
        }
        Db::Sqlite(pool) => {
            let mut conn = pool.acquire().await.map_err(db_error)?;
            sqlx::query(LOOKUP_SQL)
                .bind(user_id)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?
                .map(|r| read(&r))
        }
    };
    row.transpose().map_err(db_error)
}

fn read<R: Row>(row: &R) -> Result<FirstAnswer, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(FirstAnswer {
        exchange: Exchange {
            user_message_id: row.try_get("user_message_id")?,
            reply_message_id: row.try_get("reply_message_id")?,
            history_len: row.try_get("history_len")?,
        },
        message: row.try_get("message")?,
        reply: row.try_get("reply")?,
    })
}
