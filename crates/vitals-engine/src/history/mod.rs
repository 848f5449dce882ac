//! The live side of an engine: a bounded history of snapshots, the alert rules evaluated on
//! it, and a tick counter that live streams wait on.
//!
//! The engine's scheduler takes a snapshot every sample interval and hands it to
//! [`Live::record`], which appends one row of figures to a fixed-size ring and feeds the
//! shared alert [`Evaluator`](vitals_core::evaluator::Evaluator).

mod columns;

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;
use vitals_core::alerts::RULES;
use vitals_core::evaluator::{Evaluator, Mode, Phase};
use vitals_core::{Snapshot, rfc3339_micros};

use columns::{COLUMNS, NCOLS, Row};

/// The history ring, the alert board and the tick counter of one engine (when its live side
/// is on, see [`EngineBuilder::live`](crate::EngineBuilder::live)).
pub struct Live {
    interval: Duration,
    capacity: usize,
    ring: Mutex<VecDeque<Row>>,
    alerts: Mutex<Board>,
    /// Bumped after every sample; streams wait on it.
    tick: tokio::sync::watch::Sender<u64>,
    /// The latest snapshot's per-route figures and slowest requests, for the stream.
    latest: Mutex<Latest>,
}

/// What the dashboard shows of the latest snapshot besides the ring's columns.
#[derive(Default)]
struct Latest {
    routes: Value,
    slowest: Value,
}

/// Settings of the live side, from the builder.
pub(crate) struct LiveSettings {
    pub(crate) interval: Duration,
    pub(crate) history: Duration,
}

/// One rule as `GET /api/v1/alerts` shows it.
#[derive(Clone, Debug, Serialize)]
struct AlertView {
    name: &'static str,
    severity: &'static str,
    state: &'static str,
    value: Option<f64>,
    since: String,
    summary: &'static str,
    for_seconds: u64,
    /// The objective an SLO alert is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    slo: Option<String>,
}

struct Board {
    evaluator: Evaluator,
    views: Vec<AlertView>,
    /// The SLO alert of each objective in the latest snapshot.
    slo_views: Vec<AlertView>,
    evaluated_at: Option<String>,
    /// The latest snapshot's `slos` section, each objective with its alert's state.
    slos: Vec<Value>,
}

impl Board {
    /// Evaluates the rules on `doc` (a snapshot as JSON, `elapsed` since the sampler started)
    /// and brings the alert views and the objectives' figures up to date.
    fn observe(&mut self, elapsed: Duration, doc: &Value, now_text: String) {
        let statuses = self.evaluator.observe_document(elapsed, doc);
        let (fixed, slo) = statuses.split_at(RULES.len().min(statuses.len()));
        for (view, status) in self.views.iter_mut().zip(fixed) {
            update(view, status, &now_text);
        }
        let mut slo_views = std::mem::take(&mut self.slo_views);
        slo_views.retain(|v| {
            slo.iter()
                .any(|s| s.slo == v.slo && s.phase != Phase::NotEvaluable)
        });
        for status in slo.iter().filter(|s| s.phase != Phase::NotEvaluable) {
            let at = slo_views.iter().position(|v| v.slo == status.slo);
            let view = match at {
                Some(i) => &mut slo_views[i],
                None => {
                    slo_views.push(AlertView {
                        name: status.rule.name,
                        severity: status.rule.severity.as_str(),
                        state: "ok",
                        value: None,
                        since: now_text.clone(),
                        summary: status.rule.summary,
                        for_seconds: status.rule.for_seconds,
                        slo: status.slo.clone(),
                    });
                    slo_views.last_mut().expect("just pushed")
                }
            };
            update(view, status, &now_text);
        }
        self.slos = doc
            .get("slos")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|figures| {
                        let mut figures = figures.clone();
                        let view = slo_views.iter().find(|v| {
                            v.slo.as_deref() == figures.get("name").and_then(Value::as_str)
                        });
                        if let (Some(obj), Some(view)) = (figures.as_object_mut(), view) {
                            obj.insert("alert".into(), Value::from(view.name));
                            obj.insert("state".into(), Value::from(view.state));
                            obj.insert("since".into(), Value::from(view.since.clone()));
                        }
                        figures
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.slo_views = slo_views;
        self.evaluated_at = Some(now_text);
    }
}

impl Live {
    pub(crate) fn new(settings: &LiveSettings) -> Self {
        let interval = settings.interval.max(Duration::from_millis(10));
        let capacity = capacity(settings.history, interval);
        let started = rfc3339_micros(SystemTime::now());
        let views = RULES
            .iter()
            .map(|r| AlertView {
                name: r.name,
                severity: r.severity.as_str(),
                state: "ok",
                value: None,
                since: started.clone(),
                summary: r.summary,
                for_seconds: r.for_seconds,
                slo: None,
            })
            .collect();
        Self {
            interval,
            capacity,
            ring: Mutex::new(VecDeque::with_capacity(capacity)),
            alerts: Mutex::new(Board {
                evaluator: Evaluator::new(Mode::Sustained),
                views,
                slo_views: Vec::new(),
                evaluated_at: None,
                slos: Vec::new(),
            }),
            tick: tokio::sync::watch::channel(0).0,
            latest: Mutex::new(Latest::default()),
        }
    }

    /// Time between two rows.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The most rows the ring keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most bytes the ring's rows take (its capacity × the size of one row).
    pub fn bytes(&self) -> usize {
        ring_bytes(self.capacity)
    }

    /// A receiver that sees every new row (its value counts the rows recorded so far).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.tick.subscribe()
    }

    /// Appends the figures of `snapshot`, taken at `at` (`elapsed` since the sampler
    /// started), and evaluates the alert rules on it.
    pub fn record(&self, snapshot: &Snapshot, at: SystemTime, elapsed: Duration) {
        let row = columns::row(snapshot, at);
        {
            let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            if self.capacity > 0 {
                if ring.len() == self.capacity {
                    ring.pop_front();
                }
                ring.push_back(row);
            }
        }
        let doc = serde_json::to_value(snapshot).unwrap_or(Value::Null);
        let now_text = rfc3339_micros(at);
        {
            let mut board = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
            board.observe(elapsed, &doc, now_text);
        }
        {
            let http = doc.get("http");
            let pick = |key: &str| {
                http.and_then(|h| h.get(key))
                    .cloned()
                    .unwrap_or_else(|| Value::Array(Vec::new()))
            };
            let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            latest.routes = pick("routes");
            latest.slowest = pick("slowest_requests");
        }
        self.tick.send_modify(|n| *n += 1);
    }

    /// The most recent row, if any.
    fn last_row(&self) -> Option<Row> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.back().copied()
    }

    /// `GET /api/v1/metrics/history` as text: columnar JSON, oldest first.
    pub fn history_json(&self) -> String {
        // Copy out under the lock, format outside it.
        let rows: Vec<Row> = {
            let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            ring.iter().copied().collect()
        };
        let mut out = String::with_capacity(64 + rows.len() * NCOLS * 8);
        out.push_str("{\"interval_ms\":");
        push_u128(&mut out, self.interval.as_millis());
        out.push_str(",\"capacity\":");
        push_u128(&mut out, self.capacity as u128);
        out.push_str(",\"length\":");
        push_u128(&mut out, rows.len() as u128);
        out.push_str(",\"units\":{");
        for (i, c) in COLUMNS.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(c.name);
            out.push_str("\":\"");
            out.push_str(c.unit);
            out.push('"');
        }
        out.push_str("},\"columns\":{");
        for (i, c) in COLUMNS.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(c.name);
            out.push_str("\":[");
            for (j, row) in rows.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_number(&mut out, row[i]);
            }
            out.push(']');
        }
        out.push_str("}}");
        out
    }

    /// `GET /api/v1/alerts` as a JSON value: every rule, then the SLO alert of each
    /// objective (with its `slo`), and the objectives' latest figures with their alert's
    /// state (`slos`).
    pub fn alerts_json(&self) -> Value {
        let board = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        let alerts: Vec<&AlertView> = board.views.iter().chain(&board.slo_views).collect();
        serde_json::json!({
            "evaluated_at": board.evaluated_at,
            "interval_ms": u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
            "alerts": alerts,
            "slos": board.slos,
        })
    }

    /// One stream event's data: the latest row as an object, and the alerts.
    pub fn event_json(&self) -> Option<String> {
        let row = self.last_row()?;
        let mut out = String::with_capacity(NCOLS * 24 + 1024);
        out.push_str("{\"row\":{");
        for (i, c) in COLUMNS.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(c.name);
            out.push_str("\":");
            push_number(&mut out, row[i]);
        }
        out.push_str("},\"alerts\":");
        out.push_str(&self.alerts_json().to_string());
        {
            let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            out.push_str(",\"routes\":");
            out.push_str(&latest.routes.to_string());
            out.push_str(",\"slowest_requests\":");
            out.push_str(&latest.slowest.to_string());
        }
        out.push('}');
        Some(out)
    }
}

/// Sets `view` to what `status` says, restarting `since` when the state changes.
fn update(view: &mut AlertView, status: &vitals_core::evaluator::RuleStatus, now: &str) {
    let state = match status.phase {
        Phase::Pending => "pending",
        Phase::Firing => "firing",
        Phase::Inactive | Phase::NotEvaluable => "ok",
    };
    if state != view.state {
        view.state = state;
        view.since = now.to_owned();
    }
    view.value = status.value.map(|v| (v * 100.0).round() / 100.0);
}

/// Rows the ring holds: `history / interval`, at least one.
pub(crate) fn capacity(history: Duration, interval: Duration) -> usize {
    if history.is_zero() {
        return 0;
    }
    let n = history.as_nanos().div_ceil(interval.as_nanos().max(1));
    usize::try_from(n).unwrap_or(usize::MAX).max(1)
}

/// Bytes the ring's rows take at most (the dominant part of the live side's memory).
pub(crate) fn ring_bytes(capacity: usize) -> usize {
    capacity * std::mem::size_of::<Row>()
}

fn push_u128(out: &mut String, v: u128) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// A figure as JSON: integers without a fraction, others as the shortest exact text, and
/// absent figures (NaN in the ring) as `null`.
fn push_number(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null");
    } else if v.fract() == 0.0 && v.abs() < 9.0e15 {
        // Exact: |v| < 2^53.
        #[allow(clippy::cast_possible_truncation)]
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        // The shortest text that reads back as the same number (what serde_json writes too),
        // several times faster than `Display`: the history is 33,300 of these.
        out.push_str(zmij::Buffer::new().format_finite(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(history_s: u64) -> Live {
        Live::new(&LiveSettings {
            interval: Duration::from_secs(1),
            history: Duration::from_secs(history_s),
        })
    }

    #[test]
    fn the_ring_keeps_the_newest_rows_up_to_its_capacity() {
        let live = live(3);
        assert_eq!(live.capacity(), 3);
        for i in 0..5u32 {
            let mut s = Snapshot::now();
            s.system.get_or_insert_default().cpu_percent = f64::from(i);
            live.record(&s, SystemTime::now(), Duration::from_secs(u64::from(i)));
        }
        let doc: Value = serde_json::from_str(&live.history_json()).expect("valid JSON");
        assert_eq!(doc["length"], 3);
        assert_eq!(doc["columns"]["cpu_percent"], json!([2, 3, 4]));
        assert_eq!(doc["units"]["cpu_percent"], "percent");
        // No runtime section in these snapshots: null, never NaN or 0.
        assert_eq!(
            doc["columns"]["runtime_busy_percent"],
            json!([null, null, null])
        );
        for c in COLUMNS {
            assert_eq!(
                doc["columns"][c.name].as_array().map(Vec::len),
                Some(3),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn capacity_and_memory_bound() {
        assert_eq!(
            capacity(Duration::from_secs(900), Duration::from_secs(1)),
            900
        );
        assert_eq!(
            capacity(Duration::from_secs(900), Duration::from_millis(250)),
            3600
        );
        assert_eq!(
            capacity(Duration::from_millis(1), Duration::from_secs(1)),
            1
        );
        assert_eq!(capacity(Duration::ZERO, Duration::from_secs(1)), 0);
        assert_eq!(ring_bytes(900), 900 * NCOLS * 8);
    }

    #[test]
    fn numbers_are_compact_and_never_nan() {
        let mut s = String::new();
        for v in [3.0, 2.5, f64::NAN, f64::INFINITY, -1.0, 0.1] {
            push_number(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "3 2.5 null null -1 0.1 ");
    }

    #[test]
    fn objectives_get_their_fast_burn_alert_and_the_stream_carries_routes() {
        use vitals_core::slo::{Objective, SloFigures};
        let live = live(10);
        let chat = Objective::availability("chat", "/api/v1/chat", 99.9);
        let mut s = Snapshot::now();
        s.slos = Some(vec![SloFigures::new(&chat, (90, 100), 100.0, 20.0)]);
        s.http = Some(vitals_core::HttpSection {
            routes: vec![vitals_core::RouteFigures {
                route: "/api/v1/chat".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        live.record(&s, SystemTime::now(), Duration::ZERO);
        let doc = live.alerts_json();
        let alerts = doc["alerts"].as_array().expect("alerts");
        assert_eq!(alerts.len(), RULES.len() + 1);
        let burn = alerts.last().expect("the SLO alert");
        assert_eq!(burn["name"], "SLOFastBurn");
        assert_eq!(burn["slo"], "chat");
        assert_eq!(burn["state"], "firing");
        assert_eq!(burn["value"], 20.0);
        assert_eq!(doc["slos"][0]["state"], "firing");
        assert_eq!(doc["slos"][0]["burning"], json!(["5m", "1h"]));
        let event: Value =
            serde_json::from_str(&live.event_json().expect("a row")).expect("event JSON");
        assert_eq!(event["routes"][0]["route"], "/api/v1/chat");
        assert_eq!(event["slowest_requests"], json!([]));
        assert_eq!(event["alerts"]["slos"][0]["name"], "chat");
        // The budget stops burning: resolved; the objective leaves: its alert goes.
        s.slos = Some(vec![SloFigures::new(&chat, (190, 200), 0.0, 20.0)]);
        live.record(&s, SystemTime::now(), Duration::from_secs(1));
        assert_eq!(live.alerts_json()["slos"][0]["state"], "ok");
        s.slos = None;
        live.record(&s, SystemTime::now(), Duration::from_secs(2));
        let doc = live.alerts_json();
        assert_eq!(doc["alerts"].as_array().map(Vec::len), Some(RULES.len()));
        assert_eq!(doc["slos"], json!([]));
    }

    #[test]
    fn alerts_change_state_and_keep_since_while_unchanged() {
        let live = live(10);
        let mut s = Snapshot::now();
        s.system.get_or_insert_default().memory_percent = 50.0;
        live.record(&s, SystemTime::now(), Duration::ZERO);
        let critical = |live: &Live| {
            let doc = live.alerts_json();
            doc["alerts"]
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|r| r["name"] == "CriticalMemoryUsage")
                        .cloned()
                })
                .expect("rule listed")
        };
        assert_eq!(critical(&live)["state"], "ok");
        s.system.get_or_insert_default().memory_percent = 97.0;
        live.record(&s, SystemTime::now(), Duration::from_secs(1));
        let first = critical(&live);
        assert_eq!(first["state"], "firing");
        assert_eq!(first["value"], 97.0);
        assert_eq!(first["severity"], "critical");
        live.record(&s, SystemTime::now(), Duration::from_secs(2));
        assert_eq!(critical(&live)["since"], first["since"]);
        assert_eq!(
            live.alerts_json()["alerts"].as_array().map(Vec::len),
            Some(RULES.len())
        );
    }
}
