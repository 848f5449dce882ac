//! `POST /api/v1/chat` and `GET /api/v1/users/{user_id}/history`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::store::{self, HISTORY_WINDOW, Message};
use crate::{ApiError, AppState};
use vitals_axum::layer::is_valid_request_id;

/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4_000;

/// Largest request body accepted on the chat route, in bytes (a maximal message in any
/// script fits; anything larger is answered 413 before it is read).
pub const MAX_BODY_BYTES: usize = 32 * 1024;

/// Messages of history the agent sees when replying.
const AGENT_CONTEXT: usize = 10;

/// Default `limit` of a history read.
const DEFAULT_LIMIT: u32 = 20;

/// The chat request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// Who is talking: 1–64 characters of `A-Za-z0-9._-`.
    pub user_id: String,
    /// What they say: 1–4000 characters, not only spaces.
    pub message: String,
}

/// The chat answer, sent once the exchange is committed.
#[derive(Debug, Serialize)]
pub struct ChatResponse {
    /// The agent's reply.
    pub reply: String,
    /// The conversation (one per user).
    pub conversation_id: String,
    /// Id of the stored user message.
    pub user_message_id: i64,
    /// Id of the stored reply.
    pub reply_message_id: i64,
    /// Messages in the user's history now.
    pub history_len: i64,
}

/// Query of a history read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// How many of the latest messages, 1–50 (default 20).
    pub limit: Option<u32>,
}

/// A history read's answer.
#[derive(Debug, Serialize)]
pub struct HistoryResponse {
    /// Whose history.
    pub user_id: String,
    /// Messages, oldest first.
    pub messages: Vec<Message>,
}

/// The agent's reply, timed as the `agent.reply` span (arguments are not recorded).
#[tracing::instrument(name = "agent.reply", skip_all)]
async fn ask_agent(
    state: &AppState,
    user_id: &str,
    message: &str,
    context: &[Message],
) -> Result<String, crate::agent::AgentError> {
    state.agent().reply(user_id, message, context).await
}

/// Answers a message: reads the history (cache first), asks the agent, stores both messages
/// in one transaction, drops the cached history.
pub async fn chat(
    State(state): State<AppState>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Json<ChatResponse>, ApiError> {
    let Json(request) = body.map_err(|r| rejected(r.status(), r.body_text(), "invalid_json"))?;
    let user_id = checked_user_id(&request.user_id, StatusCode::UNPROCESSABLE_ENTITY)?;
    let message = request.message.trim();
    if message.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
            "message is empty; send some text",
        ));
    }
    let chars = message.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
            format!("message has {chars} characters; the limit is {MAX_MESSAGE_CHARS}"),
        ));
    }
    let history = store::recent(&state, user_id).await?;
    let context = &history[history.len().saturating_sub(AGENT_CONTEXT)..];
    let reply = ask_agent(&state, user_id, message, context)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "agent failed");
            ApiError::unavailable("the agent could not reply; retry shortly")
        })?;
    let exchange = store::append_exchange(&state, user_id, message, &reply).await?;
    Ok(Json(ChatResponse {
        reply,
        conversation_id: user_id.to_owned(),
        user_message_id: exchange.user_message_id,
        reply_message_id: exchange.reply_message_id,
        history_len: exchange.history_len,
    }))
}

/// The latest `limit` messages of a user, oldest first (cached).
pub async fn history(
    State(state): State<AppState>,
    user_id: Result<Path<String>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let Path(user_id) = user_id.map_err(|r| rejected(r.status(), r.body_text(), "invalid_path"))?;
    let Query(query) = query.map_err(|r| rejected(r.status(), r.body_text(), "invalid_query"))?;
    let user_id = checked_user_id(&user_id, StatusCode::BAD_REQUEST)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=HISTORY_WINDOW).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            format!("limit must be between 1 and {HISTORY_WINDOW}; got {limit}"),
        ));
    }
    let mut messages = store::recent(&state, user_id).await?;
    let keep = usize::try_from(limit).unwrap_or(usize::MAX);
    messages.drain(..messages.len().saturating_sub(keep));
    Ok(Json(HistoryResponse {
        user_id: user_id.to_owned(),
        messages,
    }))
}

fn checked_user_id(user_id: &str, status: StatusCode) -> Result<&str, ApiError> {
    if is_valid_request_id(user_id.as_bytes()) {
        Ok(user_id)
    } else {
        Err(ApiError::new(
            status,
            "invalid_user_id",
            "user_id must be 1 to 64 characters of letters, digits, '.', '_' or '-'",
        ))
    }
}

/// Extractor rejections become the one JSON error shape, keeping axum's status (400, 413,
/// 415, 422) and its explanation, which names the problem without internals.
fn rejected(status: StatusCode, text: String, code: &'static str) -> ApiError {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else {
        code
    };
    ApiError::new(status, code, text)
}
