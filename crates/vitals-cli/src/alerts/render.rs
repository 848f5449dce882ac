//! Alert output: the plugin-style text report, one-line watch updates, and JSON.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};
use vitals_core::alerts::{AlertRule, Condition};

use super::eval::{Phase, RuleStatus, Transition, Verdict};
use crate::duration::short;
use crate::style::Style;

/// `system.cpu_percent > 80`, `cache.errors increased`.
pub fn condition(rule: &AlertRule) -> String {
    let j = rule.json;
    match rule.condition {
        Condition::Above(t) => format!("{j} > {t}"),
        Condition::AtLeast(t) => format!("{j} >= {t}"),
        Condition::Below(t) => format!("{j} < {t}"),
        Condition::Equals(t) => format!("{j} == {t}"),
        Condition::Increased => format!("{j} increased"),
    }
}

fn for_text(rule: &AlertRule) -> String {
    if rule.for_seconds == 0 {
        String::new()
    } else {
        format!(" for {}", short(Duration::from_secs(rule.for_seconds)))
    }
}

fn phase_text(p: Phase) -> &'static str {
    match p {
        Phase::Inactive => "ok",
        Phase::Pending => "pending",
        Phase::Firing => "firing",
        Phase::NotEvaluable => "n/a",
    }
}

fn value_text(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v}"))
}

/// The alert's name, with the objective of an SLO alert: `SLOFastBurn{slo="chat"}`.
fn label(s: &RuleStatus) -> String {
    match &s.slo {
        Some(slo) => format!("{}{{slo=\"{}\"}}", s.rule.name, crate::text::clean(slo)),
        None => s.rule.name.to_owned(),
    }
}

fn firing_names(statuses: &[RuleStatus]) -> Vec<String> {
    statuses
        .iter()
        .filter(|s| s.phase == Phase::Firing)
        .map(label)
        .collect()
}

/// The first line: `WARNING - HighCPUUsage firing on http://…`.
pub fn headline(host: &str, verdict: Verdict, statuses: &[RuleStatus]) -> String {
    let firing = firing_names(statuses);
    if firing.is_empty() {
        format!("{} - no alert firing on {host}", verdict.as_str())
    } else {
        format!(
            "{} - {} firing on {host}",
            verdict.as_str(),
            firing.join(", ")
        )
    }
}

fn paint_verdict(v: Verdict, st: Style) -> String {
    match v {
        Verdict::Ok => st.ok(v.as_str()),
        Verdict::Warning => st.warn(v.as_str()),
        Verdict::Critical | Verdict::Unknown => st.error(v.as_str()),
    }
}

/// The full text report of a one-shot check.
pub fn table(host: &str, verdict: Verdict, statuses: &[RuleStatus], st: Style) -> String {
    let mut out = String::new();
    let head = headline(host, verdict, statuses);
    let rest = head.strip_prefix(verdict.as_str()).unwrap_or(&head);
    let _ = writeln!(out, "{}{rest}", paint_verdict(verdict, st));
    let _ = writeln!(
        out,
        "  {:<8} {:<22} {:<9} {:>10}  Rule",
        "State", "Alert", "Severity", "Value"
    );
    for s in statuses {
        let state = phase_text(s.phase);
        let painted = match s.phase {
            Phase::Firing => st.error(state),
            Phase::Pending => st.warn(state),
            Phase::Inactive => st.ok(state),
            Phase::NotEvaluable => st.dim(state),
        };
        let pad = " ".repeat(8usize.saturating_sub(state.len()));
        let _ = writeln!(
            out,
            "  {painted}{pad} {:<22} {:<9} {:>10}  {}{}",
            label(s),
            s.rule.severity.as_str(),
            value_text(s.value),
            condition(s.rule),
            for_text(s.rule)
        );
    }
    let _ = writeln!(
        out,
        "{}",
        st.dim("one-shot check: `for` durations are not applied and counter rules need two polls; use --watch for both")
    );
    out
}

/// Lines of one watch poll: transitions, then a status line.
pub fn watch_lines(
    time: &str,
    host: &str,
    verdict: Verdict,
    statuses: &[RuleStatus],
    st: Style,
) -> String {
    let mut out = String::new();
    for s in statuses {
        let Some(t) = s.transition else { continue };
        let what = match t {
            Transition::Pending => st.warn("PENDING"),
            Transition::Firing => st.error("FIRING"),
            Transition::Resolved => st.ok("RESOLVED"),
        };
        let _ = writeln!(
            out,
            "{time} {what} {} [{}] {} = {} ({}{})",
            label(s),
            s.rule.severity.as_str(),
            s.rule.json,
            value_text(s.value),
            condition(s.rule),
            for_text(s.rule)
        );
    }
    let pending: Vec<String> = statuses
        .iter()
        .filter(|s| s.phase == Phase::Pending)
        .map(|s| {
            format!(
                "{} {}/{}",
                label(s),
                short(s.held_for.unwrap_or_default()),
                short(Duration::from_secs(s.rule.for_seconds))
            )
        })
        .collect();
    let pending = if pending.is_empty() {
        String::new()
    } else {
        format!("; pending: {}", pending.join(", "))
    };
    let head = headline(host, verdict, statuses);
    let rest = head.strip_prefix(verdict.as_str()).unwrap_or(&head);
    let _ = writeln!(out, "{time} {}{rest}{pending}", paint_verdict(verdict, st));
    out
}

/// The JSON report of one poll.
pub fn json(
    host: &str,
    at: &str,
    mode: &str,
    verdict: Verdict,
    statuses: &[RuleStatus],
    error: Option<&str>,
) -> Value {
    let rules: Vec<Value> = statuses
        .iter()
        .map(|s| {
            json!({
                "name": s.rule.name,
                "slo": s.slo,
                "severity": s.rule.severity.as_str(),
                "state": s.phase,
                "value": s.value,
                "condition": condition(s.rule),
                "for_seconds": s.rule.for_seconds,
                "held_seconds": s.held_for.map(|d| d.as_secs_f64()),
                "transition": s.transition,
                "summary": s.rule.summary,
            })
        })
        .collect();
    json!({
        "host": host,
        "checked_at": at,
        "mode": mode,
        "status": verdict,
        "exit_code": verdict.exit_code(),
        "firing": firing_names(statuses),
        "error": error,
        "rules": rules,
    })
}
