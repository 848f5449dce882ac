//! The reference Health Agent API: a small real service on the pool and the cache.
//!
//! `POST /api/v1/chat` reads the user's recent history (cache first, then the database,
//! then fills the cache), asks an [`Agent`] for a reply, stores the message and the reply in
//! one transaction and drops the cached history. `GET /api/v1/users/{user_id}/history`
//! serves the history through the same cache. Every number on `/api/v1/metrics` moves for a
//! reason: pool acquires, cache hits and misses, request latencies.
//!
//! It is built only from the collector crates' public APIs, as a user's own service would be.
//! The agent itself (the [`Agent`] seam and the built-in rules) lives in src/brain.rs, below
//! the shared state that holds it.

mod handlers;
mod idempotency;
mod outcome;
mod store;

pub use crate::brain::{Agent, AgentError, AgentFuture, RuleAgent};
pub use crate::message::Message;
pub use handlers::{
    ChatRequest, ChatResponse, HistoryQuery, HistoryResponse, MAX_BODY_BYTES, MAX_MESSAGE_CHARS,
    chat, history,
};
pub use idempotency::{IDEMPOTENCY_KEY, is_valid_idempotency_key};
pub use outcome::{DATABASE_UNAVAILABLE, OUTCOME_UNKNOWN};
pub use store::{Exchange, HISTORY_TTL, HISTORY_WINDOW};
