//! A stored message, as history reads return it and the agent sees it.

use serde::{Deserialize, Serialize};

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
