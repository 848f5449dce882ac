//! The run's report: `report.md` (set-up, checks, figures, dashboard queries) and PNG charts
//! drawn from the fleet's Prometheus and VictoriaMetrics with the load report's chart code.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Check;
use super::measure::Figures;
use super::promql;
use crate::load::charts::{COLOURS, Chart, Line, draw_into, ensure_font};

/// What the report tells.
pub struct Summary<'a> {
    /// Instances.
    pub instances: usize,
    /// Namespaces or loopback, and why.
    pub mode: &'a str,
    /// `host address` of each instance.
    pub members: Vec<String>,
    /// Engine versions.
    pub versions: &'a [String],
    /// Every check.
    pub checks: &'a [Check],
    /// Per-instance figures.
    pub figures: Option<&'a Figures>,
    /// `(panel, expr, series)` of every dashboard query.
    pub queries: &'a [(String, String, usize)],
    /// Seconds the run took.
    pub seconds: f64,
    /// Charts written, as file names.
    pub charts: &'a [PathBuf],
}

/// Writes `report.md` into `dir`; its path.
pub fn write(s: &Summary<'_>, dir: &Path) -> Result<PathBuf> {
    let mut md = String::new();
    let passed = s.checks.iter().filter(|c| c.passed).count();
    let _ = writeln!(md, "# Fleet run\n");
    let _ = writeln!(
        md,
        "{} instances of vitals-server, each on a PostgreSQL database and a redis-server of \
         its own, placed on {}. Around them a real Prometheus (file-based discovery, \
         `deploy/prometheus/alerts.yml` unchanged, scrape and evaluation every second), \
         Alertmanager (the routing tree of `deploy/alertmanager/alertmanager.yml`, its \
         webhooks pointed at this run and its grouping waits cut to 1 s) and VictoriaMetrics \
         (fed by Prometheus' remote write). {passed} of {} checks passed in {:.0} s.\n",
        s.instances,
        s.mode,
        s.checks.len(),
        s.seconds
    );
    let _ = writeln!(md, "Engines: {}.\n", s.versions.join("; "));
    let _ = writeln!(md, "Instances: {}.\n", s.members.join(", "));
    let _ = writeln!(
        md,
        "## Checks\n\n| check | result | what was seen |\n|---|---|---|"
    );
    for c in s.checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            c.name,
            if c.passed { "pass" } else { "**FAIL**" },
            c.detail.replace('|', "\\|")
        );
    }
    if let Some(f) = s.figures {
        let _ = writeln!(
            md,
            "\n## Per-instance figures\n\n| figure | value | how |\n|---|---|---|"
        );
        for (what, value, how) in &f.rows {
            let _ = writeln!(md, "| {what} | {value} | {how} |");
        }
    }
    if !s.queries.is_empty() {
        let _ = writeln!(
            md,
            "\n## Dashboard queries on Prometheus\n\n| panel | series | query |\n|---|---|---|"
        );
        for (panel, expr, n) in s.queries {
            let _ = writeln!(md, "| {panel} | {n} | `{}` |", expr.replace('|', "\\|"));
        }
    }
    if !s.charts.is_empty() {
        let _ = writeln!(md, "\n## Charts\n");
        for chart in s.charts {
            let name = chart
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let _ = writeln!(md, "![{name}]({name})\n");
        }
    }
    let path = dir.join("report.md");
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// One chart: each series of `promql` on `api` over `[start, end]`, one line per `by` label
/// value.
async fn lines(
    api: SocketAddr,
    promql: &str,
    by: &str,
    start: f64,
    end: f64,
    dashed: bool,
) -> Result<Vec<Line>> {
    let series = promql::query_range(api, promql, start, end, 1.0).await?;
    Ok(series
        .iter()
        .enumerate()
        .map(|(k, s)| Line {
            name: if by.is_empty() {
                promql.to_owned()
            } else {
                s.label(by).to_owned()
            },
            colour: COLOURS[k % COLOURS.len()],
            points: with_gaps(&s.points, start),
            dashed,
        })
        .collect())
}

/// Points relative to `start`, with a break wherever a step is missing (the series was
/// absent there), so a line does not bridge the gap.
fn with_gaps(points: &[(f64, f64)], start: f64) -> Vec<(f64, Option<f64>)> {
    let mut out = Vec::with_capacity(points.len());
    let mut previous: Option<f64> = None;
    for &(t, v) in points {
        if previous.is_some_and(|p| t - p > 1.5) {
            out.push((t - start - 1.0, None));
        }
        out.push((t - start, Some(v)));
        previous = Some(t);
    }
    out
}

/// The alerts drawn: the three the faults provoke, pending and firing, and any other while it
/// fires (a busy machine keeps the CPU rules pending much of the time; that is noise here).
const LANES: &str = "ALERTS{alertname=~\"InstanceDown|CacheErrors|DatabasePoolExhausted\"} \
                     or ALERTS{alertstate=\"firing\"}";

/// One lane per alert and instance: drawn dashed while pending, solid while firing.
async fn alert_lanes(api: SocketAddr, start: f64, end: f64) -> Result<Vec<Line>> {
    let series = promql::query_range(api, LANES, start, end, 1.0).await?;
    let who = |s: &promql::Series| match s.label("host") {
        "" => s.label("instance").to_owned(),
        host => host.to_owned(),
    };
    let mut lanes: Vec<(String, String)> = series
        .iter()
        .map(|s| (s.label("alertname").to_owned(), who(s)))
        .collect();
    lanes.sort();
    lanes.dedup();
    Ok(series
        .iter()
        .map(|s| {
            let key = (s.label("alertname").to_owned(), who(s));
            let k = lanes.iter().position(|l| *l == key).unwrap_or(0);
            let lane = (k + 1) as f64;
            let pending = s.label("alertstate") == "pending";
            Line {
                name: format!(
                    "{} {}{}",
                    key.0,
                    key.1,
                    if pending { " (pending)" } else { "" }
                ),
                colour: COLOURS[k % COLOURS.len()],
                points: with_gaps(&s.points, start)
                    .into_iter()
                    .map(|(t, v)| (t, v.map(|_| lane)))
                    .collect(),
                dashed: pending,
            }
        })
        .collect())
}

/// Draws the run's charts into `dir`.
pub async fn charts(
    prometheus: SocketAddr,
    victoria: SocketAddr,
    start: f64,
    end: f64,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    ensure_font()?;
    let x = "Seconds since the fleet started";
    let mut requests = lines(
        prometheus,
        "sum by (host) (rate(health_agent_http_requests_total[5s]))",
        "host",
        start,
        end,
        false,
    )
    .await?;
    for line in lines(
        victoria,
        "sum(rate(health_agent_http_requests_total[5s]))",
        "",
        start,
        end,
        true,
    )
    .await?
    {
        requests.push(Line {
            name: "whole fleet, from VictoriaMetrics".into(),
            colour: plotters::style::RGBColor(60, 60, 60),
            ..line
        });
    }
    let lanes = alert_lanes(prometheus, start, end).await?;
    let lanes_top = lanes
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .fold(0.0f64, f64::max);
    let charts = [
        Chart {
            file: "fleet_requests.png",
            title: "Requests per second by instance (Prometheus) and in all (VictoriaMetrics)"
                .into(),
            x_label: x,
            y_label: "requests / s",
            y_max: None,
            lines: requests,
        },
        Chart {
            file: "fleet_up.png",
            title: "up: whether Prometheus reached each instance".into(),
            x_label: x,
            y_label: "up (1 = scraped)",
            y_max: None,
            lines: lines(prometheus, "up", "host", start, end, false).await?,
        },
        Chart {
            file: "fleet_pool.png",
            title: "Database pool utilization by instance".into(),
            x_label: x,
            y_label: "percent",
            y_max: None,
            lines: lines(
                prometheus,
                "max by (host) (health_agent_db_pool_utilization_percent)",
                "host",
                start,
                end,
                false,
            )
            .await?,
        },
        Chart {
            file: "fleet_alerts.png",
            title: "Alerts (Prometheus ALERTS): one lane per alert and instance".into(),
            x_label: x,
            y_label: "lane (dashed: pending, solid: firing)",
            // The lanes in the lower half, the legend above them.
            y_max: Some((lanes_top * 2.2).max(2.0)),
            lines: lanes,
        },
    ];
    draw_into(&charts, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_step_breaks_the_line() {
        let points = [(100.0, 1.0), (101.0, 1.0), (105.0, 1.0)];
        let drawn = with_gaps(&points, 100.0);
        assert_eq!(
            drawn,
            [
                (0.0, Some(1.0)),
                (1.0, Some(1.0)),
                (4.0, None),
                (5.0, Some(1.0))
            ]
        );
    }
}
