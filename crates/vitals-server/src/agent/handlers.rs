//! `POST /api/v1/chat` and `GET /api/v1/users/{user_id}/history`.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::idempotency;
use super::store::{self, HISTORY_WINDOW};
use crate::brain::AgentError;
use crate::message::Message;
use crate::state::AppState;
use vitals_axum::ApiError;

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
) -> Result<String, AgentError> {
    state.agent().reply(user_id, message, context).await
}

/// Answers a message: reads the history (cache first), asks the agent, stores both messages
/// in one transaction, drops the cached history.
///
/// The body is read within the state's body deadline (408 `request_timeout` past it), then
/// checked field by field so that every refusal names the field and the problem. With an
/// `Idempotency-Key` header a repeat of a stored exchange returns the first answer.
pub async fn chat(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Json<ChatResponse>, ApiError> {
    // The handler answers before the request deadline (the timeout layer's 504 says nothing
    // was stored, which only the handler can know about its write).
    let deadline = tokio::time::Instant::now() + state.answer_within();
    let key = idempotency_key(request.headers())?;
    let request = read_chat_body(&state, request).await?;
    let user_id = checked_user_id(&request.user_id, StatusCode::UNPROCESSABLE_ENTITY)?;
    let message = request.message.trim();
    if message.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
            "message is empty; send some text",
        ));
    }
    if message.contains('\0') {
        // PostgreSQL cannot store U+0000 in text; refuse it on every backend alike.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
            "message contains a NUL character (U+0000), which cannot be stored; remove it",
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
    if let Some(key) = key.as_deref()
        && let Some(first) = idempotency::lookup(&state, user_id, key).await?
    {
        return repeat(user_id, message, first);
    }
    let history = store::recent(&state, user_id).await?;
    let context = &history[history.len().saturating_sub(AGENT_CONTEXT)..];
    let reply = ask_agent(&state, user_id, message, context)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "agent failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "agent_unavailable",
                "the agent could not reply; nothing was stored; retry shortly",
            )
        })?;
    let stored =
        store::append_exchange(&state, user_id, message, &reply, key.as_deref(), deadline).await?;
    let Some(exchange) = stored else {
        // Another request with the same key committed first: answer as it did.
        let key = key.as_deref().unwrap_or_default();
        return match idempotency::lookup(&state, user_id, key).await? {
            Some(first) => repeat(user_id, message, first),
            None => Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is being stored; retry shortly with the same key",
            )),
        };
    };
    Ok(Json(ChatResponse {
        reply,
        conversation_id: user_id.to_owned(),
        user_message_id: exchange.user_message_id,
        reply_message_id: exchange.reply_message_id,
        history_len: exchange.history_len,
    }))
}

fn repeat(
    user_id: &str,
    message: &str,
    first: idempotency::FirstAnswer,
) -> Result<Json<ChatResponse>, ApiError> {
    if first.message != message {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different message; use a new key for a new message",
        ));
    }
    Ok(Json(ChatResponse {
        reply: first.reply,
        conversation_id: user_id.to_owned(),
        user_message_id: first.exchange.user_message_id,
        reply_message_id: first.exchange.reply_message_id,
        history_len: first.exchange.history_len,
    }))
}

fn idempotency_key(headers: &http::HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(idempotency::IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || !idempotency::is_valid_idempotency_key(value.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_idempotency_key",
            "Idempotency-Key must be one header of 1 to 64 characters of letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(value.to_str().ok().map(str::to_owned))
}

/// Reads and checks the chat body: JSON content type, size limit, arrival deadline, then the
/// fields, with messages in the client's terms.
async fn read_chat_body(
    state: &AppState,
    request: axum::extract::Request,
) -> Result<ChatRequest, ApiError> {
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !(essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json")))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_json",
            "send the body as JSON with the header Content-Type: application/json",
        ));
    }
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        // Refused before reading a byte of it: a body that large could never be accepted.
        return Err(body_too_large());
    }
    let deadline = state.body_timeout();
    let read = tokio::time::timeout(
        deadline,
        axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES),
    )
    .await;
    let bytes = match read {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} ms; send it in one go",
                    deadline.as_millis()
                ),
            ));
        }
        Ok(Err(e)) => {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            return Err(if too_large {
                body_too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "the request body could not be read (malformed or cut short); send it again",
                )
            });
        }
        Ok(Ok(bytes)) => bytes,
    };
    parse_chat_request(&bytes)
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// The chat body's fields, each problem named in the client's terms (no Rust type names).
fn parse_chat_request(bytes: &[u8]) -> Result<ChatRequest, ApiError> {
    let unprocessable =
        |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json", message);
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!(
                "the body is not valid JSON (line {}, column {}); send an object like {{\"user_id\": \"u1\", \"message\": \"hi\"}}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let serde_json::Value::Object(mut fields) = value else {
        return Err(unprocessable(
            "the body must be a JSON object with the fields user_id and message".to_owned(),
        ));
    };
    // A JSON map keeps the last of two members with one name; which one the client meant
    // cannot be known (RFC 8259 §4), so a repeated name is refused.
    if let Ok(FirstRepeat(Some(name))) = serde_json::from_slice::<FirstRepeat>(bytes) {
        let shown: String = name.chars().take(40).collect();
        return Err(unprocessable(format!(
            "the field {shown:?} is given twice; send each field once"
        )));
    }
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "user_id" | "message"))
    {
        let shown: String = unknown.chars().take(40).collect();
        return Err(unprocessable(format!(
            "unknown field {shown:?}; only user_id and message are accepted"
        )));
    }
    let mut text = |name: &str| match fields.remove(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(unprocessable(format!("{name} must be a string"))),
        None => Err(unprocessable(format!("{name} is missing"))),
    };
    Ok(ChatRequest {
        user_id: text("user_id")?,
        message: text("message")?,
    })
}

/// The first member name a JSON object repeats, if any (read from a body already known to
/// be an object).
struct FirstRepeat(Option<String>);

impl<'de> Deserialize<'de> for FirstRepeat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = FirstRepeat;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FirstRepeat, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut repeat = None;
                while let Some(name) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if repeat.is_none() && !seen.insert(name.clone()) {
                        repeat = Some(name);
                    }
                }
                Ok(FirstRepeat(repeat))
            }
        }
        deserializer.deserialize_map(Names)
    }
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
    if idempotency::is_valid_idempotency_key(user_id.as_bytes()) {
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
