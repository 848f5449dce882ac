//! `GET /health` (liveness) and `GET /health/ready` (readiness).

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;

/// Liveness: answers while the process serves, touching nothing else.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness document.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ready` or `unready`.
    pub status: &'static str,
    /// Why the service is unready (empty when ready).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Each dependency's state.
    pub checks: Checks,
}

/// Per-dependency results.
#[derive(Debug, Serialize)]
pub struct Checks {
    /// The database.
    pub database: Check,
    /// The cache.
    pub cache: Check,
}

/// One dependency's result.
#[derive(Debug, Serialize)]
pub struct Check {
    /// `ok`, `down` (database) or `degraded` (cache).
    pub status: &'static str,
    /// Backend name.
    pub backend: String,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
    /// What failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Readiness: 200 while the database answers, 503 with reasons when it does not.
///
/// An unreachable cache leaves the service ready (it works without it) and is reported as
/// `degraded`, so a Redis outage never takes every instance out of a load balancer at once.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let timeout = state.check_timeout();
    let db = async {
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, state.db().ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(describe_db_error(&e)),
            Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
        };
        (result, millis(started))
    };
    let cache = async {
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, state.cache().ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
        };
        (result, millis(started))
    };
    let ((db_error, db_ms), (cache_error, cache_ms)) = tokio::join!(db, cache);

    let mut reasons = Vec::new();
    if let Some(e) = &db_error {
        tracing::warn!(error = %e, "readiness: database unavailable");
        reasons.push(format!("database: {e}"));
    }
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if status == StatusCode::OK {
            "ready"
        } else {
            "unready"
        },
        reasons,
        checks: Checks {
            database: Check {
                status: if db_error.is_some() { "down" } else { "ok" },
                backend: state.db().backend().to_owned(),
                latency_ms: db_ms,
                error: db_error,
            },
            cache: Check {
                status: if cache_error.is_some() {
                    "degraded"
                } else {
                    "ok"
                },
                backend: state.cache().backend_name().to_owned(),
                latency_ms: cache_ms,
                error: cache_error,
            },
        },
    };
    (status, Json(body))
}

fn millis(started: Instant) -> f64 {
    vitals_core::math::round_to(started.elapsed().as_secs_f64() * 1000.0, 2)
}

/// A short description of a database failure that leaks no query or credential.
fn describe_db_error(e: &sqlx::Error) -> String {
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
