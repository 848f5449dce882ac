//! Every PromQL query of `deploy/grafana/dashboards/vitals.json` against the fleet's
//! Prometheus, with Grafana's variables filled in as a user looking at all instances would
//! have them. Each must return at least one series, except those empty by nature on this
//! fleet, which [`empty_by_nature`] derives from what the instances report about their
//! container: a limit that is not set is not exported, so its query has nothing to show.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use serde_json::Value;

use super::Check;
use super::promql;

/// Queries that have no series on this fleet, and why, from an instance's `system.container`
/// (JSON): a query is matched by a metric name in its text.
pub fn empty_by_nature(container: &Value) -> Vec<(&'static str, String)> {
    let unset = |field: &str| container.get(field).is_none_or(Value::is_null);
    let cgroup = container
        .get("cgroup")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let mut out = Vec::new();
    if unset("memory_limit_mb") {
        out.push((
            "container_memory_limit_bytes",
            format!("no cgroup memory limit is set (cgroup {cgroup}), and an unset limit is not exported"),
        ));
    }
    if unset("cpu_quota_cores") {
        for metric in [
            "container_cpu_quota_cores",
            "container_cpu_quota_used_percent",
        ] {
            out.push((
                metric,
                format!("no cgroup CPU quota is set (cgroup {cgroup}), so there is no quota to use or show"),
            ));
        }
    }
    if unset("memory_usage_mb") {
        out.push((
            "container_memory_working_set_bytes",
            format!(
                "the instances cannot read their cgroup's memory (cgroup {cgroup}: `ip netns exec` \
                 mounts a /sys of the namespace's own, without the cgroup hierarchy)"
            ),
        ));
    }
    out
}

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

/// One check per query that fails, one for the whole, and the queries' outcome as a table for
/// the report; `container` is an instance's `system.container`.
pub async fn check(
    prometheus: SocketAddr,
    container: &Value,
) -> Result<(Vec<Check>, Vec<(String, String, usize)>)> {
    let empty = empty_by_nature(container);
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
        let nature = empty.iter().find(|(piece, _)| expr.contains(piece));
        table.push((title.clone(), expr.clone(), series.len()));
        match (series.is_empty(), nature) {
            (false, None) => {}
            (true, Some((_, why))) => empty_ok.push(format!("{title}: {why}")),
            (false, Some(_)) => checks.push(Check {
                name: format!("dashboard query of \"{title}\""),
                passed: false,
                detail: format!(
                    "`{expr}` should be empty here (the instances report no such limit) but \
                     returned {} series",
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
        let bare = serde_json::json!({"cgroup": "none"});
        let empty = empty_by_nature(&bare);
        assert_eq!(empty.len(), 4);
        for (piece, _) in &empty {
            assert!(
                found.iter().any(|(_, e)| e.contains(piece)),
                "{piece} is not in the dashboard any more"
            );
        }
        let limited = serde_json::json!({"cgroup": "v2", "memory_limit_mb": 512.0,
            "cpu_quota_cores": 1.5, "memory_usage_mb": 100.0});
        assert!(empty_by_nature(&limited).is_empty());
    }
}
