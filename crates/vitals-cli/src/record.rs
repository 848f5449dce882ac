//! One row of the monitor CSV: the columns docs/cli.md fixes, in its order, then the extras.
//!
//! `monitor` writes rows, `analyze` reads them back; both use the names below, so they cannot
//! drift apart. Figures of a failed poll are empty cells (pandas reads them as NaN and leaves
//! them out of means), never zeros that would drag averages down.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::http::{Host, Poll};
use crate::json_path::number;
use crate::text;

/// The fixed columns (docs/cli.md), in order. `analyze` requires all of them.
pub const REQUIRED: [&str; 11] = [
    "timestamp",
    "host",
    "status",
    "api_ms",
    "cpu_percent",
    "memory_percent",
    "memory_mb",
    "db_pool_active",
    "db_pool_size",
    "db_pool_utilization_percent",
    "redis_hit_rate",
];

/// Extra columns after the fixed ones: the figures that describe now (recent hit rate, the
/// server process), more figures of the same snapshot, and the error text.
pub const EXTRAS: [&str; 10] = [
    "cache_hit_rate_recent",
    "process_rss_mb",
    "process_cpu_percent",
    "memory_available_mb",
    "cache_hits",
    "cache_misses",
    "cache_errors",
    "http_slow_requests_total",
    "server_timestamp",
    "error",
];

/// One poll of one host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Unix seconds, fractional, when the poll was sent.
    pub timestamp: f64,
    /// Base URL of the host.
    pub host: String,
    /// HTTP status; 0 when unreachable.
    pub status: u16,
    /// Round trip of the poll in milliseconds (absent when there was no answer).
    pub api_ms: Option<f64>,
    /// `system.cpu_percent`.
    pub cpu_percent: Option<f64>,
    /// `system.memory_percent`.
    pub memory_percent: Option<f64>,
    /// `system.memory_mb`.
    pub memory_mb: Option<f64>,
    /// `database.pool_active`.
    pub db_pool_active: Option<f64>,
    /// `database.pool_size`.
    pub db_pool_size: Option<f64>,
    /// `database.pool_utilization_percent`.
    pub db_pool_utilization_percent: Option<f64>,
    /// `cache.hit_rate_percent`, whatever the backend: written in the `redis_hit_rate` column,
    /// the name the analysis scripts of the monitor CSV expect.
    pub cache_hit_rate: Option<f64>,
}

impl Record {
    /// Whether the poll returned a snapshot.
    pub fn answered(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A row to write: the record plus the extras.
#[derive(Clone, Debug)]
pub struct Row {
    /// The fixed columns' figures.
    pub record: Record,
    /// `cache.hit_rate_recent_percent` (absent on servers that predate it).
    pub cache_hit_rate_recent: Option<f64>,
    /// `process.rss_mb` (absent on servers without a `process` section).
    pub process_rss_mb: Option<f64>,
    /// `process.cpu_percent`.
    pub process_cpu_percent: Option<f64>,
    /// `system.memory_available_mb`.
    pub memory_available_mb: Option<f64>,
    /// `cache.hits`.
    pub cache_hits: Option<f64>,
    /// `cache.misses`.
    pub cache_misses: Option<f64>,
    /// `cache.errors`.
    pub cache_errors: Option<f64>,
    /// `http.slow_requests_total` (absent on servers without an `http` section).
    pub slow_requests: Option<f64>,
    /// The snapshot's own `timestamp` (control characters removed: it is server text).
    pub server_timestamp: Option<String>,
    /// Why the poll failed (control characters removed).
    pub error: Option<String>,
}

impl Row {
    /// Builds the row of one poll.
    pub fn from_poll(host: &Host, poll: &Poll) -> Self {
        let status = poll.outcome.status();
        let answered = status != 0;
        let body = match &poll.outcome {
            crate::http::Outcome::Ok { body, .. } => Some(body.clone()),
            _ => None,
        };
        let get = |path: &str| body.as_ref().and_then(|b| number(b, path));
        let record = Record {
            timestamp: unix_seconds(poll.started),
            host: text::clean(host.as_str()),
            status,
            api_ms: answered.then(|| round3(poll.elapsed.as_secs_f64() * 1000.0)),
            cpu_percent: get("system.cpu_percent"),
            memory_percent: get("system.memory_percent"),
            memory_mb: get("system.memory_mb"),
            db_pool_active: get("database.pool_active"),
            db_pool_size: get("database.pool_size"),
            db_pool_utilization_percent: get("database.pool_utilization_percent"),
            cache_hit_rate: get("cache.hit_rate_percent"),
        };
        Self {
            record,
            cache_hit_rate_recent: get("cache.hit_rate_recent_percent"),
            process_rss_mb: get("process.rss_mb"),
            process_cpu_percent: get("process.cpu_percent"),
            memory_available_mb: get("system.memory_available_mb"),
            cache_hits: get("cache.hits"),
            cache_misses: get("cache.misses"),
            cache_errors: get("cache.errors"),
            slow_requests: get("http.slow_requests_total"),
            server_timestamp: body
                .as_ref()
                .and_then(|b| b.get("timestamp"))
                .and_then(Value::as_str)
                .map(text::clean),
            error: poll.outcome.error().map(text::clean),
        }
    }

    /// The header line's cells.
    pub fn header() -> impl Iterator<Item = &'static str> {
        REQUIRED.into_iter().chain(EXTRAS)
    }

    /// The cells of this row, in header order.
    pub fn cells(&self) -> Vec<String> {
        let r = &self.record;
        let num = |v: Option<f64>| v.map(fmt_number).unwrap_or_default();
        vec![
            format!("{:.6}", r.timestamp),
            r.host.clone(),
            r.status.to_string(),
            num(r.api_ms),
            num(r.cpu_percent),
            num(r.memory_percent),
            num(r.memory_mb),
            num(r.db_pool_active),
            num(r.db_pool_size),
            num(r.db_pool_utilization_percent),
            num(r.cache_hit_rate),
            num(self.cache_hit_rate_recent),
            num(self.process_rss_mb),
            num(self.process_cpu_percent),
            num(self.memory_available_mb),
            num(self.cache_hits),
            num(self.cache_misses),
            num(self.cache_errors),
            num(self.slow_requests),
            self.server_timestamp.clone().unwrap_or_default(),
            self.error.clone().unwrap_or_default(),
        ]
    }
}

/// Shortest exact form: `5`, `38.46`.
fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Seconds since the Unix epoch, fractional.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Outcome;
    use std::time::Duration;

    #[test]
    fn answered_poll_fills_every_contract_column() {
        let body = serde_json::json!({
            "timestamp": "2026-01-18T14:23:45.123456Z",
            "system": {"cpu_percent": 45.2, "memory_percent": 62.3, "memory_mb": 1024.5},
            "database": {"pool_active": 5, "pool_size": 13, "pool_utilization_percent": 38.46},
            "cache": {"hit_rate_percent": 73.02, "errors": 0, "hits": 9, "misses": 3,
                      "hit_rate_recent_percent": 81.5},
            "process": {"rss_mb": 14.2, "cpu_percent": 3.5}
        });
        let poll = Poll {
            started: UNIX_EPOCH + Duration::from_millis(1_768_746_225_500),
            elapsed: Duration::from_micros(85_250),
            outcome: Outcome::Ok { status: 200, body },
        };
        let host = Host::parse("127.0.0.1:8000").expect("host");
        let row = Row::from_poll(&host, &poll);
        let cells = row.cells();
        assert_eq!(cells.len(), Row::header().count());
        assert_eq!(
            &cells[..11],
            [
                "1768746225.500000",
                "http://127.0.0.1:8000",
                "200",
                "85.25",
                "45.2",
                "62.3",
                "1024.5",
                "5",
                "13",
                "38.46",
                "73.02"
            ]
        );
        let header: Vec<&str> = Row::header().collect();
        let cell = |name: &str| {
            let i = header.iter().position(|h| *h == name).expect(name);
            cells[i].as_str()
        };
        assert_eq!(cell("cache_hit_rate_recent"), "81.5");
        assert_eq!(cell("process_rss_mb"), "14.2");
        assert_eq!(cell("process_cpu_percent"), "3.5");
        assert_eq!(cell("cache_hits"), "9");
        assert_eq!(cell("cache_misses"), "3");
    }

    #[test]
    fn server_text_loses_its_control_characters() {
        let body = serde_json::json!({
            "timestamp": "2026-01-18T14:23:45Z\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}\u{2028}x",
        });
        let poll = Poll {
            started: UNIX_EPOCH,
            elapsed: Duration::from_millis(1),
            outcome: Outcome::Ok { status: 200, body },
        };
        let host = Host::parse("127.0.0.1:8000").expect("host");
        let row = Row::from_poll(&host, &poll);
        assert_eq!(
            row.server_timestamp.as_deref(),
            Some("2026-01-18T14:23:45Z x")
        );
    }

    #[test]
    fn unreachable_poll_leaves_figures_empty() {
        let poll = Poll {
            started: UNIX_EPOCH,
            elapsed: Duration::from_millis(3),
            outcome: Outcome::Unreachable {
                message: "connection refused".into(),
            },
        };
        let host = Host::parse("127.0.0.1:9").expect("host");
        let cells = Row::from_poll(&host, &poll).cells();
        assert_eq!(cells[2], "0");
        assert!(cells[3..11].iter().all(String::is_empty));
        assert_eq!(cells.last().map(String::as_str), Some("connection refused"));
    }
}
