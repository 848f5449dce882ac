//! The Prometheus rules of a set of objectives: one recording rule per objective and window
//! (the share of bad answers), and three multiwindow, multi-burn-rate alerts per objective.
//!
//! Each alert needs both a long and a short window to burn faster than its factor: the long
//! one proves the burn is significant, the short one that it is still going on, so the alert
//! resolves minutes after the trouble stops instead of hours. Factors and windows follow the
//! *Site Reliability Workbook* for a 30-day objective: 14.4× over 1 h (2 % of the budget in an
//! hour) and 6× over 6 h (5 % in six hours) page; 1× over 3 days (10 % in three days) opens a
//! ticket.

use std::fmt::Write;

use super::{Objective, SloKind};
use crate::alerts::Severity;
use crate::catalogue::{self, HTTP_REQUEST_DURATION, HTTP_REQUESTS};
use crate::math::round_to;

/// A window of a burn-rate alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BurnWindow {
    /// As PromQL writes it (`5m`, `3d`), and as the recording rules' names end.
    pub label: &'static str,
    /// Its length in seconds.
    pub seconds: u64,
}

const M5: BurnWindow = BurnWindow {
    label: "5m",
    seconds: 300,
};
const M30: BurnWindow = BurnWindow {
    label: "30m",
    seconds: 1800,
};
const H1: BurnWindow = BurnWindow {
    label: "1h",
    seconds: 3600,
};
const H6: BurnWindow = BurnWindow {
    label: "6h",
    seconds: 6 * 3600,
};
const D3: BurnWindow = BurnWindow {
    label: "3d",
    seconds: 3 * 86_400,
};

/// Every window a recording rule is written for, shortest first.
const WINDOWS: [BurnWindow; 5] = [M5, M30, H1, H6, D3];

/// One multiwindow burn-rate alert.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnAlert {
    /// The alert's name.
    pub name: &'static str,
    /// `critical` for a page, `warning` for a ticket.
    pub severity: Severity,
    /// `page` or `ticket`.
    pub action: &'static str,
    /// The burn rate both windows must exceed.
    pub factor: f64,
    /// The long window.
    pub long: BurnWindow,
    /// The short window.
    pub short: BurnWindow,
}

/// The three alerts written for every objective. The first, over 1 h and 5 min, is also the
/// one the dashboard and `vitals alerts` evaluate from the JSON `slos` section.
pub const BURN_ALERTS: [BurnAlert; 3] = [
    BurnAlert {
        name: "SLOFastBurn",
        severity: Severity::Critical,
        action: "page",
        factor: 14.4,
        long: H1,
        short: M5,
    },
    BurnAlert {
        name: "SLOMediumBurn",
        severity: Severity::Critical,
        action: "page",
        factor: 6.0,
        long: H6,
        short: M30,
    },
    BurnAlert {
        name: "SLOSlowBurn",
        severity: Severity::Warning,
        action: "ticket",
        factor: 1.0,
        long: D3,
        short: H6,
    },
];

/// The name of the recording rules, before the window: `slo:sli_error:ratio_rate5m` holds
/// each objective's share of bad answers over 5 minutes, labelled `slo="<name>"`.
pub const RECORD_PREFIX: &str = "slo:sli_error:ratio_rate";

/// An edge as the exposition writes its `le` label (`0.25`, `3`), for the latency rules'
/// bucket selector.
///
/// ```
/// assert_eq!(vitals_core::slo::le_text(0.25), "0.25");
/// assert_eq!(vitals_core::slo::le_text(3.0), "3");
/// ```
pub fn le_text(seconds: f64) -> String {
    format!("{seconds}")
}

/// A PromQL string literal.
fn promql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as a regular expression matching itself (RE2 syntax).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A YAML single-quoted scalar.
fn yaml(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The label matchers selecting an objective's series (without braces).
fn selector(o: &Objective) -> String {
    let mut out = match o.route_prefix() {
        Some(prefix) => format!(
            "route=~{}",
            promql_string(&format!("{}.*", regex_literal(prefix)))
        ),
        None => format!("route={}", promql_string(&o.route)),
    };
    if let Some(m) = &o.method {
        let _ = write!(out, ",method={}", promql_string(m));
    }
    out
}

/// The share of bad answers of `o` over `window`, per Prometheus job.
fn error_ratio(namespace: &str, o: &Objective, window: &str) -> String {
    let sel = selector(o);
    match o.kind {
        SloKind::Availability => {
            let total = catalogue::full_name(namespace, &HTTP_REQUESTS);
            // Without a single 5xx series the numerator is empty: `or … * 0` makes it 0.
            let all = format!("sum by (job) (rate({total}{{{sel}}}[{window}]))");
            format!(
                "(sum by (job) (rate({total}{{{sel},status=~\"5..\"}}[{window}])) or {all} * 0) / {all}"
            )
        }
        SloKind::Latency => {
            let h = catalogue::full_name(namespace, &HTTP_REQUEST_DURATION);
            let le = le_text(o.threshold_seconds().unwrap_or(0.0));
            format!(
                "1 - sum by (job) (rate({h}_bucket{{{sel},le={}}}[{window}])) / sum by (job) (rate({h}_count{{{sel}}}[{window}]))",
                promql_string(&le)
            )
        }
    }
}

/// What the objective promises, in words (`99.9 % of POST /api/v1/chat answers are not
/// 5xx`).
fn promise(o: &Objective) -> String {
    let route = match &o.method {
        Some(m) => format!("{m} {}", o.route),
        None => o.route.clone(),
    };
    match o.kind {
        SloKind::Availability => format!("{}% of {route} answers are not 5xx", o.target_percent),
        SloKind::Latency => format!(
            "{}% of {route} answers take at most {} ms",
            o.target_percent,
            o.threshold_ms.unwrap_or(0.0)
        ),
    }
}

/// The recording rules and burn-rate alerts of `objectives`, as a Prometheus rule file
/// (YAML), for series named under `namespace`. Check the objectives first
/// ([`check_all`](super::check_all)): the rules are written as given.
pub fn rules_yaml(namespace: &str, objectives: &[Objective]) -> String {
    let mut out = String::from(
        "# Service-level objectives: recording rules and multiwindow, multi-burn-rate alerts.\n\
         # Generated by `vitals slo rules` / `vitals-server --print-slo-rules`; see docs/slo.md.\n\
         groups:\n",
    );
    if objectives.is_empty() {
        out.push_str("  []\n");
        return out;
    }
    for o in objectives {
        let _ = writeln!(out, "  - name: {}", yaml(&format!("slo-{}", o.name)));
        out.push_str("    rules:\n");
        for w in WINDOWS {
            let _ = writeln!(out, "      - record: {RECORD_PREFIX}{}", w.label);
            let _ = writeln!(
                out,
                "        expr: {}",
                yaml(&error_ratio(namespace, o, w.label))
            );
            let _ = writeln!(out, "        labels:\n          slo: {}", yaml(&o.name));
        }
        let name = promql_string(&o.name);
        let budget = format!("(100 - {}) / 100", o.target_percent);
        for a in BURN_ALERTS {
            let over = |w: BurnWindow| {
                format!(
                    "{RECORD_PREFIX}{}{{slo={name}}} > {} * {budget}",
                    w.label, a.factor
                )
            };
            let _ = writeln!(out, "      - alert: {}", a.name);
            let _ = writeln!(
                out,
                "        expr: {}",
                yaml(&format!("{} and {}", over(a.long), over(a.short)))
            );
            let _ = writeln!(
                out,
                "        labels:\n          severity: {}\n          action: {}\n          slo: {}",
                a.severity.as_str(),
                a.action,
                yaml(&o.name)
            );
            let summary = format!(
                "{}: error budget burning {}x faster than allowed over {} and {}",
                o.name, a.factor, a.long.label, a.short.label
            );
            let description = format!(
                "Objective: {}. Over the last {} and {}, bad answers spent the error budget ({}% of answers) more than {}x as fast as the objective allows: at this pace a 30-day budget lasts {} days.",
                promise(o),
                a.long.label,
                a.short.label,
                round_to(100.0 - o.target_percent, 6),
                a.factor,
                round_to(30.0 / a.factor, 1)
            );
            let _ = writeln!(
                out,
                "        annotations:\n          summary: {}\n          description: {}",
                yaml(&summary),
                yaml(&description)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn availability_rules_select_the_route_and_5xx() {
        let o = Objective::availability("chat", "/api/v1/chat", 99.9).method("POST");
        let yaml = rules_yaml("health_agent", &[o]);
        assert!(
            yaml.contains("record: slo:sli_error:ratio_rate5m"),
            "{yaml}"
        );
        assert!(yaml.contains(
            "sum by (job) (rate(health_agent_http_requests_total{route=\"/api/v1/chat\",method=\"POST\",status=~\"5..\"}[5m]))"
        ), "{yaml}");
        for w in ["5m", "30m", "1h", "6h", "3d"] {
            assert!(yaml.contains(&format!("ratio_rate{w}\n")), "{w}: {yaml}");
        }
        assert_eq!(yaml.matches("- alert: ").count(), 3);
        assert!(yaml.contains(
            "slo:sli_error:ratio_rate1h{slo=\"chat\"} > 14.4 * (100 - 99.9) / 100 and slo:sli_error:ratio_rate5m{slo=\"chat\"} > 14.4 * (100 - 99.9) / 100"
        ), "{yaml}");
    }

    #[test]
    fn latency_rules_read_the_bucket_at_the_threshold_and_groups_are_regexes() {
        let o = Objective::latency(
            "history",
            "/api/v1/users/{user_id}/*",
            99.0,
            Duration::from_millis(250),
        );
        let yaml = rules_yaml("ns", &[o]);
        assert!(
            yaml.contains(
                "ns_http_request_duration_seconds_bucket{route=~\"/api/v1/users/\\\\{user_id\\\\}/.*\",le=\"0.25\"}[1h]"
            ),
            "{yaml}"
        );
        assert!(yaml.contains("ns_http_request_duration_seconds_count{"));
    }

    #[test]
    fn quotes_in_names_stay_inside_their_strings() {
        assert_eq!(yaml("it's"), "'it''s'");
        assert_eq!(promql_string("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(regex_literal("/a.b{c}"), "/a\\.b\\{c\\}");
    }
}
