//! Service-level objectives: what a route promises ([`Objective`]), how its error budget is
//! burning ([`SloFigures`], the JSON `slos` section), and the Prometheus rules that alert on
//! it ([`rules_yaml`]: recording rules plus multiwindow, multi-burn-rate alerts, as in
//! chapter 5 of Google's *Site Reliability Workbook*, "Alerting on SLOs").
//!
//! An objective is either
//! - *availability*: the share of answers that are not 5xx, or
//! - *latency*: the share of answers no slower than a threshold, which must be an edge of the
//!   request-duration histogram (the count at or below an edge is exact; anywhere else it
//!   would be a guess).
//!
//! The *burn rate* over a window is the share of bad answers in it divided by the error
//! budget (`1 - target`): at 1 the budget lasts exactly the objective's period, at 14.4 a
//! 30-day budget is gone in a little over two days.
//!
//! ```
//! use std::time::Duration;
//! use vitals_core::slo::Objective;
//!
//! let chat = Objective::availability("chat-availability", "/api/v1/chat", 99.9).method("POST");
//! let history = Objective::latency("history-latency", "/api/v1/users/{user_id}/history", 99.0,
//!     Duration::from_millis(250));
//! vitals_core::slo::check_all(&[chat.clone(), history], vitals_core::LATENCY_BUCKETS_SECONDS)?;
//! assert!(chat.matches("POST", "/api/v1/chat"));
//! assert!(!chat.matches("GET", "/api/v1/chat"));
//! let rules = vitals_core::slo::rules_yaml("shop", &[chat]);
//! assert!(rules.contains("alert: SLOFastBurn"));
//! # Ok::<(), vitals_core::slo::SloError>(())
//! ```

mod figures;
mod rules;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use figures::SloFigures;
pub use rules::{BURN_ALERTS, BurnAlert, BurnWindow, RECORD_PREFIX, le_text, rules_yaml};

/// What an objective counts as a good answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloKind {
    /// Any answer that is not a 5xx.
    Availability,
    /// Any answer no slower than the objective's threshold.
    Latency,
}

impl SloKind {
    /// `availability` or `latency`.
    pub fn as_str(self) -> &'static str {
        match self {
            SloKind::Availability => "availability",
            SloKind::Latency => "latency",
        }
    }
}

/// One service-level objective: a share of good answers a route (or a group of routes) keeps.
///
/// In the server's TOML file it is a `[[slo]]` table with the same fields:
///
/// ```toml
/// [[slo]]
/// name = "history-latency"
/// route = "/api/v1/users/{user_id}/history"
/// method = "GET"          # optional: every method when absent
/// kind = "latency"
/// target_percent = 99.0
/// threshold_ms = 250      # latency only: an edge of the request-duration histogram
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// A short name, unique among the objectives: 1–64 characters of `A-Za-z0-9._-`. It is
    /// the `slo` label of the generated rules.
    pub name: String,
    /// The route template as the layer records it (`/api/v1/users/{user_id}/history`), or a
    /// group of routes: a prefix followed by `*` (`/api/v1/*`).
    pub route: String,
    /// Only answers to this method (`GET`, `POST`, …); every method when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// What a good answer is.
    pub kind: SloKind,
    /// The share of good answers promised, in percent, above 0 and below 100 (e.g. 99.9).
    pub target_percent: f64,
    /// For a latency objective, the slowest good answer in milliseconds; it must be an edge
    /// of the request-duration histogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<f64>,
}

/// Why an objective cannot be used; the message names it and says how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("service-level objective {name:?}: {problem}")]
pub struct SloError {
    /// The objective's name (as given, possibly empty).
    pub name: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl Objective {
    /// An availability objective: `target_percent` of the answers of `route` are not 5xx.
    pub fn availability(
        name: impl Into<String>,
        route: impl Into<String>,
        target_percent: f64,
    ) -> Self {
        Self {
            name: name.into(),
            route: route.into(),
            method: None,
            kind: SloKind::Availability,
            target_percent,
            threshold_ms: None,
        }
    }

    /// A latency objective: `target_percent` of the answers of `route` take no longer than
    /// `threshold` (an edge of the request-duration histogram).
    pub fn latency(
        name: impl Into<String>,
        route: impl Into<String>,
        target_percent: f64,
        threshold: Duration,
    ) -> Self {
        Self {
            name: name.into(),
            route: route.into(),
            method: None,
            kind: SloKind::Latency,
            target_percent,
            threshold_ms: Some(threshold.as_secs_f64() * 1000.0),
        }
    }

    /// The same objective for answers to `method` only.
    #[must_use]
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// The route prefix when [`route`](Self::route) names a group (`/api/v1/*`).
    pub fn route_prefix(&self) -> Option<&str> {
        self.route.strip_suffix('*')
    }

    /// Whether answers recorded under `method` and `route` count for this objective.
    pub fn matches(&self, method: &str, route: &str) -> bool {
        let route_ok = match self.route_prefix() {
            Some(prefix) => route.starts_with(prefix),
            None => route == self.route,
        };
        route_ok && self.method.as_deref().is_none_or(|m| m == method)
    }

    /// The error budget: the share of answers allowed to be bad (`1 - target`), e.g. 0.001.
    pub fn error_budget(&self) -> f64 {
        (100.0 - self.target_percent) / 100.0
    }

    /// The latency threshold in seconds (latency objectives only).
    pub fn threshold_seconds(&self) -> Option<f64> {
        self.threshold_ms.map(|ms| ms / 1000.0)
    }

    /// The burn rate of `bad` answers out of `total`: their share over the error budget;
    /// 0 without answers.
    pub fn burn_rate(&self, bad: u64, total: u64) -> f64 {
        if total == 0 {
            return 0.0;
        }
        (bad as f64 / total as f64) / self.error_budget()
    }

    /// Checks the objective on its own against the request histogram's `edges` (seconds):
    /// its name, route, method, target, and for latency that the threshold is an edge.
    pub fn check(&self, edges: &[f64]) -> Result<(), SloError> {
        let fail = |problem: String| SloError {
            name: self.name.clone(),
            problem,
        };
        let name_ok = (1..=64).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !name_ok {
            return Err(fail(
                "the name must be 1 to 64 characters of A-Za-z0-9._- (e.g. \"chat-availability\")"
                    .into(),
            ));
        }
        if self.route.is_empty() || self.route == "*" {
            return Err(fail(
                "the route is empty; give a route template (\"/api/v1/chat\") or a prefix and * (\"/api/v1/*\")".into(),
            ));
        }
        if self.route[..self.route.len() - 1].contains('*') {
            return Err(fail(format!(
                "route {:?} has a * before its end; only a trailing * (a prefix group) is understood",
                self.route
            )));
        }
        if let Some(m) = &self.method
            && (m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(fail(format!(
                "method {m:?} is not an upper-case HTTP method; use GET, POST, … or leave it out for every method"
            )));
        }
        if !(self.target_percent > 0.0 && self.target_percent < 100.0) {
            return Err(fail(format!(
                "target_percent {} is out of range; use a share above 0 and below 100 (e.g. 99.9)",
                self.target_percent
            )));
        }
        match (self.kind, self.threshold_ms) {
            (SloKind::Availability, Some(_)) => Err(fail(
                "an availability objective takes no threshold_ms; remove it or make the kind \"latency\"".into(),
            )),
            (SloKind::Latency, None) => Err(fail(
                "a latency objective needs threshold_ms, an edge of the request-duration histogram".into(),
            )),
            (SloKind::Latency, Some(ms)) => {
                let seconds = ms / 1000.0;
                if edges.iter().any(|&e| same_edge(e, seconds)) {
                    Ok(())
                } else {
                    let listed: Vec<String> =
                        edges.iter().map(|e| format!("{}", e * 1000.0)).collect();
                    Err(fail(format!(
                        "threshold_ms {ms} is not an edge of the request-duration histogram, so the share of answers under it cannot be counted exactly; use one of {} ms, or add the edge to the histogram's buckets",
                        listed.join(", ")
                    )))
                }
            }
            (SloKind::Availability, None) => Ok(()),
        }
    }

    /// The index of the threshold among `edges` (latency objectives whose threshold is one).
    pub fn edge_index(&self, edges: &[f64]) -> Option<usize> {
        let seconds = self.threshold_seconds()?;
        edges.iter().position(|&e| same_edge(e, seconds))
    }
}

/// Whether two edges in seconds are the same (thresholds come from milliseconds).
fn same_edge(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-9)
}

/// Checks every objective ([`Objective::check`]) and that no two share a name.
pub fn check_all(objectives: &[Objective], edges: &[f64]) -> Result<(), SloError> {
    for (i, o) in objectives.iter().enumerate() {
        o.check(edges)?;
        if objectives[..i].iter().any(|p| p.name == o.name) {
            return Err(SloError {
                name: o.name.clone(),
                problem: "two objectives have this name; give each its own".into(),
            });
        }
    }
    Ok(())
}

/// The request-duration edges of a server with the default latency buckets and the slow
/// threshold `slow` among them: what a server's latency thresholds are checked against.
pub fn default_edges(slow: Duration) -> Vec<f64> {
    crate::histogram::with_edge(crate::LATENCY_BUCKETS_SECONDS, slow.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges() -> Vec<f64> {
        default_edges(Duration::from_millis(3000))
    }

    #[test]
    fn groups_methods_and_budgets() {
        let all = Objective::availability("api", "/api/v1/*", 99.0);
        assert!(all.matches("GET", "/api/v1/chat"));
        assert!(all.matches("POST", "/api/v1/users/{user_id}/history"));
        assert!(!all.matches("GET", "/health"));
        assert!((all.error_budget() - 0.01).abs() < 1e-12);
        assert_eq!(all.burn_rate(0, 0), 0.0);
        assert!((all.burn_rate(1, 100) - 1.0).abs() < 1e-9);
        assert!((all.burn_rate(144, 1000) - 14.4).abs() < 1e-9);
    }

    #[test]
    fn bad_objectives_are_refused_with_the_fix() {
        let e = edges();
        let err = |o: Objective| o.check(&e).expect_err("refused").to_string();
        assert!(err(Objective::availability("", "/a", 99.0)).contains("1 to 64"));
        assert!(err(Objective::availability("a b", "/a", 99.0)).contains("A-Za-z0-9"));
        assert!(err(Objective::availability("a", "", 99.0)).contains("route is empty"));
        assert!(err(Objective::availability("a", "/a*/b", 99.0)).contains("trailing"));
        assert!(err(Objective::availability("a", "/a", 100.0)).contains("below 100"));
        assert!(err(Objective::availability("a", "/a", f64::NAN)).contains("out of range"));
        assert!(err(Objective::availability("a", "/a", 99.0).method("get")).contains("upper"));
        let slow = Objective::latency("a", "/a", 99.0, Duration::from_millis(300));
        let message = err(slow);
        assert!(message.contains("not an edge"), "{message}");
        assert!(message.contains("250"), "lists the edges: {message}");
        let mut no_threshold = Objective::latency("a", "/a", 99.0, Duration::from_millis(250));
        no_threshold.threshold_ms = None;
        assert!(err(no_threshold).contains("needs threshold_ms"));
        let ok = Objective::latency("a", "/a", 99.0, Duration::from_millis(250));
        assert!(ok.check(&e).is_ok());
        assert_eq!(ok.edge_index(&e), e.iter().position(|&x| x == 0.25));
        // The slow threshold is an edge too.
        assert!(
            Objective::latency("b", "/b", 99.0, Duration::from_secs(3))
                .check(&e)
                .is_ok()
        );
        let twice = [ok.clone(), ok];
        assert!(
            check_all(&twice, &e)
                .expect_err("duplicate")
                .to_string()
                .contains("two objectives")
        );
    }

    #[test]
    fn objectives_read_from_toml_tables() {
        #[derive(Deserialize)]
        struct File {
            slo: Vec<Objective>,
        }
        let file: File = toml_like(
            r#"{"slo": [{"name": "h", "route": "/h", "kind": "latency", "target_percent": 99, "threshold_ms": 250}]}"#,
        );
        assert_eq!(file.slo[0].threshold_seconds(), Some(0.25));
        assert_eq!(file.slo[0].kind, SloKind::Latency);
    }

    fn toml_like<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).expect("parses")
    }
}
