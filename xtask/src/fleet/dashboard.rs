//! Every PromQL query of `deploy/grafana/dashboards/vitals.json` against the fleet's
//! Prometheus, with Grafana's variables filled in as a user looking at all instances would
//! have them. Each must return at least one series, except the few that are empty by nature
//! on this fleet (listed in [`EMPTY_BY_NATURE`] with the reason).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use serde_json::Value;

use super::Check;
use super::promql;

/// Queries that have no series on a fleet like this one, and why. A query is matched by a
/// piece of its text.
pub const EMPTY_BY_NATURE: &[(&str, &str)] = &[
    (
        "container_memory_limit_bytes",
        "the instances run without a cgroup memory limit, and an unset limit is not exported",
    ),
    (
        "container_cpu_quota_cores",
        "the instances run without a CPU quota, and an unset quota is not exported",
    ),
];

/// The dashboard's queries: `(panel title, expr)`, the annotation included.
fn queries(dash: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, title: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                let title = map
                    .get("title")
                    .or_else(|| map.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or(title);
                if let Some(expr) = map.get("expr").and_then(Value::as_str) {
                    out.push((title.to_owned(), expr.to_owned()));
                }
                for child in map.values() {
                    walk(child, title, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, title, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dash, "", &mut out);
    out
}

/// Grafana's variables as a user watching every instance over the last few minutes has them.
fn fill(expr: &str) -> String {
    expr.replace("$__rate_interval", "30s")
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
        .replace("$instance", ".*")
}

/// One check per query, plus the queries' outcome as a table for the report.
pub async fn check(prometheus: SocketAddr) -> Result<(Vec<Check>, Vec<(String, String, usize)>)> {
    let path = crate::workspace_root().join("deploy/grafana/dashboards/vitals.json");
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )?;
    let mut checks = Vec::new();
    let mut table = Vec::new();
    let mut empty_ok = Vec::new();
    for (title, expr) in queries(&dash) {
        let promql = fill(&expr);
        let series = promql::query(prometheus, &promql, None).await?;
        let nature = EMPTY_BY_NATURE
            .iter()
            .find(|(piece, _)| expr.contains(piece));
        table.push((title.clone(), expr.clone(), series.len()));
        match (series.is_empty(), nature) {
            (false, None) => {}
            (true, Some((_, why))) => empty_ok.push(format!("{title}: {why}")),
            (false, Some(_)) => checks.push(Check {
                name: format!("dashboard query of \"{title}\""),
                passed: false,
                detail: format!(
                    "`{expr}` is listed as empty by nature but returned {} series; \
                     take it off the list",
                    series.len()
                ),
            }),
            (true, None) => checks.push(Check {
                name: format!("dashboard query of \"{title}\""),
                passed: false,
                detail: format!("`{promql}` returned no series from the fleet"),
            }),
        }
    }
    let answered = table.iter().filter(|t| t.2 > 0).count();
    checks.push(Check {
        name: "every dashboard query returns data".into(),
        passed: checks.is_empty(),
        detail: format!(
            "{answered} of {} queries returned series; empty by nature: {}",
            table.len(),
            if empty_ok.is_empty() {
                "none".to_owned()
            } else {
                empty_ok.join("; ")
            }
        ),
    });
    Ok((checks, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_query_of_the_dashboard() {
        let path = crate::workspace_root().join("deploy/grafana/dashboards/vitals.json");
        let dash: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
        let found = queries(&dash);
        assert!(found.len() >= 40, "{}", found.len());
        assert!(
            found
                .iter()
                .any(|(t, e)| t == "Firing alerts" && e.starts_with("ALERTS"))
        );
        assert!(found.iter().all(|(_, e)| !fill(e).contains('$')));
        for (piece, _) in EMPTY_BY_NATURE {
            assert!(
                found.iter().any(|(_, e)| e.contains(piece)),
                "{piece} is not in the dashboard any more"
            );
        }
    }
}
