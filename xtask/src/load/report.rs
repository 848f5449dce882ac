//! The end of a run: the count check, the server-side analysis, the report and the verdict.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::drift::{DRIFT_MB_PER_MIN, RssTrend};
use super::engine::{KNEE_ERROR_RATE, KNEE_P95_MS, Plan};
use super::scenario::Scenario;
use super::stats::{Endpoint, Stats};
use super::timeline::{ENDPOINT_ORDER, Second, Timeline};

/// A performance target (docs/load-testing.md): API P95 under 3 s.
const P95_TARGET_MS: f64 = 3_000.0;

/// Monitor polls the server answered (rows of the CSV with an HTTP status).
pub fn answered_polls(csv: &Path) -> Result<u64> {
    let text =
        std::fs::read_to_string(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let mut lines = text.lines();
    let header = lines.next().context("the monitor CSV is empty")?;
    let column = header
        .split(',')
        .position(|c| c == "status")
        .context("the monitor CSV has no status column")?;
    Ok(lines
        .filter_map(|l| l.split(',').nth(column)?.parse::<u16>().ok())
        .filter(|&s| s != 0)
        .count() as u64)
}

/// Requests the server counted against those the run accounts for. The server counts the
/// application's traffic only: the engine's polls of `/api/v1/metrics`, the readiness probes
/// and the monitor's polls reach Vitals' own endpoints, which are left out of the figures.
pub struct Consistency {
    /// Application requests (chat, history, `--path`) the load engine got an answer to.
    pub engine_answered: u64,
    /// Application requests that broke or timed out (the server may or may not count them).
    pub engine_unanswered: u64,
    /// Requests to Vitals' own endpoints: readiness probes before the run, the engine's
    /// metrics polls and the monitor's polls (not counted by the server).
    pub own: u64,
    /// The sum of `health_agent_http_requests_total` after the run.
    pub server_counted: u64,
}

impl Consistency {
    /// From a run's figures.
    pub fn new(stats: &Stats, probes: u64, monitor_polls: u64, server_counted: u64) -> Self {
        let app = |e: Endpoint| e != Endpoint::Metrics;
        let engine_answered = stats.count(|e, o| app(e) && o.answered());
        Self {
            engine_answered,
            engine_unanswered: stats.count(|e, _| app(e)) - engine_answered,
            own: probes + monitor_polls + stats.count(|e, _| !app(e)),
            server_counted,
        }
    }

    /// What the server should have counted.
    pub fn expected(&self) -> u64 {
        self.engine_answered
    }

    /// Exact, give or take requests the client abandoned.
    pub fn ok(&self) -> bool {
        let expected = self.expected();
        (expected..=expected + self.engine_unanswered).contains(&self.server_counted)
    }
}

/// `vitals analyze` of the monitor CSV.
pub struct Analysis {
    /// Its JSON report.
    pub json: Value,
    /// Its markdown report.
    pub markdown: String,
}

/// Runs `vitals analyze` (JSON, then markdown with charts into `out`).
pub fn analyze(bin: &Path, csv: &Path, out: &Path) -> Result<Analysis> {
    let run = |args: &[&str]| -> Result<String> {
        let output = Command::new(bin.join("vitals"))
            .arg("analyze")
            .arg(csv)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .context("cannot run vitals analyze")?;
        if !output.status.success() {
            bail!(
                "vitals analyze failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let json = serde_json::from_str(&run(&["--format", "json"])?).context("vitals analyze JSON")?;
    let out_arg = out.to_string_lossy().into_owned();
    let markdown = run(&["--format", "markdown", "--out", &out_arg])?;
    Ok(Analysis { json, markdown })
}

/// Everything the report needs.
pub struct Summary<'a> {
    /// The scenario.
    pub scenario: Scenario,
    /// How it was driven.
    pub plan: &'a Plan,
    /// The server.
    pub url: &'a str,
    /// What the engine saw.
    pub stats: &'a Stats,
    /// Second by second.
    pub timeline: &'a Timeline,
    /// The count check (only when the run started the server).
    pub consistency: Option<&'a Consistency>,
    /// The server-side analysis.
    pub analysis: &'a Analysis,
    /// Server RSS after start, MB.
    pub rss_start: Option<f64>,
    /// Server RSS at the end, MB.
    pub rss_end: Option<f64>,
}

/// The verdict lines and whether every target passed.
pub struct Verdict {
    /// Short lines for the terminal.
    pub lines: Vec<String>,
    /// Every target passed.
    pub targets_pass: bool,
}

fn ms(micros: u64) -> f64 {
    (micros as f64 / 10.0).round() / 100.0
}

/// Writes `report.json` and `report.md` into `out`.
pub fn write(s: &Summary<'_>, out: &Path) -> Result<Verdict> {
    let elapsed = s.plan.duration.as_secs_f64().max(1.0);
    let total = s.stats.total();
    let overall = s.stats.overall();
    let endpoints: Vec<Value> = s
        .stats
        .latency
        .iter()
        .map(|(e, h)| {
            json!({
                "endpoint": e.name(),
                "requests": h.len(),
                "p50_ms": ms(h.value_at_quantile(0.50)),
                "p90_ms": ms(h.value_at_quantile(0.90)),
                "p95_ms": ms(h.value_at_quantile(0.95)),
                "p99_ms": ms(h.value_at_quantile(0.99)),
                "p999_ms": ms(h.value_at_quantile(0.999)),
                "max_ms": ms(h.max()),
            })
        })
        .collect();
    let p95 = ms(overall.value_at_quantile(0.95));
    let errors = s.stats.errors();
    let error_rate = if total == 0 {
        0.0
    } else {
        errors as f64 / total as f64
    };
    let mut targets = vec![json!({
        "name": "API P95 (load engine, all endpoints)",
        "goal": "< 3000 ms",
        "value": p95,
        "pass": p95 < P95_TARGET_MS && total > 0,
    })];
    let server_targets: Vec<Value> = s.analysis.json["hosts"][0]["targets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rows = s.timeline.rows();
    let run_seconds = usize::try_from(s.plan.duration.as_secs())
        .unwrap_or(0)
        .max(1);
    let cold = ColdReads::of(&rows, run_seconds);
    let server_cpu = mean(rows.iter().take(run_seconds).filter_map(|r| r.cpu_percent));
    for mut t in server_targets {
        let name = t["name"].as_str().unwrap_or_default().to_owned();
        if name.starts_with("Cache hit rate") && !cold.steady() && s.plan.path.is_none() {
            t["applies"] = json!(false);
            t["why"] = json!(cold.why());
        }
        if name == "CPU" && server_cpu.is_some() {
            t["applies"] = json!(false);
            t["why"] = json!(
                "whole machine: it also counts the load engine, the monitor and anything else running here; the server's own share is judged below"
            );
        }
        targets.push(t);
    }
    if let Some(cpu) = server_cpu {
        let cpu = (cpu * 100.0).round() / 100.0;
        targets.push(json!({
            "name": "CPU (server process)",
            "goal": "< 70%",
            "measured_as": "average over the run, percent of all cores, from /proc/PID/stat",
            "value": cpu,
            "unit": "%",
            "pass": cpu < 70.0,
        }));
    }
    let drift = (s.scenario == Scenario::Soak).then(|| {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .take(run_seconds)
            .enumerate()
            .filter_map(|(i, r)| Some((i as f64, r.rss_mb?)))
            .collect();
        RssTrend::judge(&points)
    });
    if let Some(d) = drift {
        let judged = d.slope().is_some();
        targets.push(json!({
            "applies": judged,
            "why": (!judged).then(|| d.to_string().trim_start_matches("not judged: ").to_owned()),
            "name": "Server RSS drift",
            "goal": format!("<= +{DRIFT_MB_PER_MIN} MB/min"),
            "measured_as": "least-squares slope of the server's RSS over the second half, sampled every second",
            "value": d.slope().map(|v| (v * 1000.0).round() / 1000.0),
            "unit": "MB/min",
            "verdict": d.to_string(),
            "pass": d.pass(),
        }));
    }
    for t in &mut targets {
        if t.get("applies").is_none() {
            t["applies"] = json!(true);
        }
    }
    let targets_pass = targets
        .iter()
        .filter(|t| t["applies"] != false)
        .all(|t| t["pass"].as_bool().unwrap_or(true));
    let charts = super::charts::draw_all(&rows, run_seconds, out)?;
    let knee = (s.scenario == Scenario::Stress).then(|| knee(s));
    let consistency = s.consistency.map(|c| {
        json!({
            "engine_answered": c.engine_answered,
            "engine_unanswered": c.engine_unanswered,
            "own_endpoint_requests": c.own,
            "expected": c.expected(),
            "server_counted": c.server_counted,
            "ok": c.ok(),
        })
    });
    let doc = json!({
        "scenario": s.scenario.name(),
        "target": s.url,
        "model": if s.plan.rate.is_some() { "open" } else { "closed" },
        "users": s.plan.users,
        "rate_per_second": s.plan.rate,
        "think_ms": s.plan.think.as_millis() as u64,
        "duration_seconds": s.plan.duration.as_secs_f64(),
        "requests": total,
        "errors": errors,
        "error_rate": error_rate,
        "throughput_rps": (total as f64 / elapsed * 100.0).round() / 100.0,
        "endpoints": endpoints,
        "errors_by_kind": s.stats.errors_by_kind(),
        "consistency": consistency,
        "server_rss_mb": {"start": s.rss_start, "end": s.rss_end},
        "stress_knee": knee,
        "memory_drift": drift.map(|d| json!({"verdict": d.to_string(), "slope_mb_per_min": d.slope(), "threshold_mb_per_min": DRIFT_MB_PER_MIN})),
        "cache_warmth": cold.to_json(),
        "charts": charts.iter().filter_map(|p| p.file_name()?.to_str()).collect::<Vec<_>>(),
        "timeline": timeline_json(&rows, run_seconds),
        "targets": targets,
        "targets_pass": targets_pass,
        "server": s.analysis.json,
    });
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    std::fs::write(out.join("report.md"), markdown(s, &doc))?;

    let mut lines = vec![format!(
        "{total} requests, {errors} errors, {} rps, p95 {p95} ms",
        doc["throughput_rps"]
    )];
    if let Some(c) = s.consistency {
        lines.push(format!(
            "counts: server {} = engine {} (and {} to Vitals' own endpoints, not counted): {}",
            c.server_counted,
            c.engine_answered,
            c.own,
            if c.ok() { "consistent" } else { "MISMATCH" }
        ));
    }
    if let Some(d) = drift {
        lines.push(format!("server memory: {d}"));
    }
    for t in &targets {
        lines.push(format!(
            "  {} {}: {} (goal {}){}",
            result(t),
            t["name"].as_str().unwrap_or("?"),
            t["value"],
            t["goal"].as_str().unwrap_or("?"),
            t["why"]
                .as_str()
                .map_or_else(String::new, |w| format!(" not judged: {w}"))
        ));
    }
    Ok(Verdict {
        lines,
        targets_pass,
    })
}

/// Share of first reads above which the cache is still warming: see [`ColdReads`].
pub const COLD_READ_LIMIT: f64 = 0.05;

/// How warm the cache was over the second half of the run, the part the cache-hit-rate
/// target is judged on.
///
/// A history read of a user id no earlier read in the run asked for is a miss no cache can
/// avoid. With this request mix the best steady hit rate is about 79 % (a read misses when
/// that user chatted since the last read: 20 chats to 75 reads), only 9 points above the 70 %
/// target, and every cold read costs about a point; so once more than
/// [`COLD_READ_LIMIT`] of the judged reads are cold, the hit rate measures warm-up, not the
/// steady state the target speaks of, and the target is not judged. Short, light runs (the
/// smoke) end there; a run with enough reads per distinct user id does not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColdReads {
    /// History reads answered in the second half.
    pub reads: u64,
    /// Of those, first reads of their user id.
    pub cold: u64,
}

impl ColdReads {
    /// Counts over the second half of `rows`' first `run_seconds` seconds.
    pub fn of(rows: &[Second], run_seconds: usize) -> Self {
        let history = ENDPOINT_ORDER
            .iter()
            .position(|e| *e == Endpoint::History)
            .unwrap_or(0);
        let judged = rows.iter().take(run_seconds).skip(run_seconds / 2);
        let (mut reads, mut cold) = (0, 0);
        for r in judged {
            reads += r.counts.requests[history] - r.counts.errors[history];
            cold += r.counts.cold_reads;
        }
        Self { reads, cold }
    }

    /// Share of cold reads (1 when there were no reads: nothing shows a warm cache).
    pub fn share(self) -> f64 {
        if self.reads == 0 {
            1.0
        } else {
            self.cold as f64 / self.reads as f64
        }
    }

    /// Whether the cache had reached its steady state.
    pub fn steady(self) -> bool {
        self.share() <= COLD_READ_LIMIT
    }

    /// Why the target is not judged.
    pub fn why(self) -> String {
        format!(
            "the cache was still warming: {} of {} history reads in the second half ({:.0} %) were the run's first read of their user id, misses no cache avoids; the steady-state target applies once at most {:.0} % are (a longer or busier run)",
            self.cold,
            self.reads,
            self.share() * 100.0,
            COLD_READ_LIMIT * 100.0
        )
    }

    fn to_json(self) -> Value {
        json!({
            "judged_part": "second half",
            "history_reads": self.reads,
            "first_reads": self.cold,
            "first_read_share": (self.share() * 10_000.0).round() / 10_000.0,
            "steady_limit": COLD_READ_LIMIT,
            "steady": self.steady(),
        })
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u32);
    for v in values {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / f64::from(n))
}

fn result(t: &Value) -> &'static str {
    if t["applies"] == false {
        "n/a "
    } else if t["pass"].as_bool().unwrap_or(true) {
        "PASS"
    } else {
        "FAIL"
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The timeline as columns (compact in JSON, easy to plot elsewhere).
fn timeline_json(rows: &[Second], run_seconds: usize) -> Value {
    let rows = &rows[..rows.len().min(run_seconds)];
    let col = |f: &dyn Fn(&Second) -> Value| -> Vec<Value> { rows.iter().map(f).collect() };
    let mut by_endpoint = serde_json::Map::new();
    for (slot, e) in ENDPOINT_ORDER.iter().enumerate() {
        if rows.iter().any(|r| r.counts.requests[slot] > 0) {
            by_endpoint.insert(
                e.name().to_owned(),
                json!(col(&|r| json!(r.counts.requests[slot]))),
            );
        }
    }
    json!({
        "second": col(&|_| Value::Null).iter().enumerate().map(|(i, _)| i).collect::<Vec<_>>(),
        "users": col(&|r| json!(r.users)),
        "requests": col(&|r| json!(r.counts.total())),
        "requests_by_endpoint": by_endpoint,
        "errors": col(&|r| json!(r.counts.total_errors())),
        "p50_ms": col(&|r| json!(round2(r.counts.latency.quantile_ms(0.50)))),
        "p95_ms": col(&|r| json!(round2(r.counts.latency.quantile_ms(0.95)))),
        "p99_ms": col(&|r| json!(round2(r.counts.latency.quantile_ms(0.99)))),
        "first_reads": col(&|r| json!(r.counts.cold_reads)),
        "server_rss_mb": col(&|r| json!(r.rss_mb.map(|v| (v * 10.0).round() / 10.0))),
        "server_cpu_percent": col(&|r| json!(r.cpu_percent.map(round2))),
    })
}

/// Per-step figures of a stress run and the first step that broke the targets.
fn knee(s: &Summary<'_>) -> Value {
    let seconds = s.plan.duration.as_secs();
    let rows: Vec<Value> = (1..=5u64)
        .map(|step| {
            let from = usize::try_from(seconds * (step - 1) / 5).unwrap_or(0);
            let to = usize::try_from(seconds * step / 5).unwrap_or(0);
            let span = s.timeline.span(from, to);
            let (users, requests, errors) = (span.users, span.counts.total(), span.counts.total_errors());
            let rate = if requests == 0 { 0.0 } else { errors as f64 / requests as f64 };
            let p95 = (span.counts.latency.quantile_ms(0.95) * 100.0).round() / 100.0;
            json!({"step": step, "users": users, "requests": requests, "p95_ms": p95, "error_rate": rate,
                   "breaks_targets": p95 > KNEE_P95_MS || rate > KNEE_ERROR_RATE})
        })
        .collect();
    let knee = rows.iter().find(|r| r["breaks_targets"] == true).cloned();
    json!({"steps": rows, "knee": knee, "p95_note": "per-step p95 from the timeline's log buckets (8 per doubling), interpolated"})
}

fn markdown(s: &Summary<'_>, doc: &Value) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Load test: {}\n", s.scenario.name());
    let _ = writeln!(
        md,
        "Target {}, {} model, {} users, {} s{}. {} requests, {} errors, {} rps.\n",
        s.url,
        doc["model"].as_str().unwrap_or("?"),
        s.plan.users,
        s.plan.duration.as_secs(),
        s.plan.rate.map_or_else(
            || format!(", think {} ms", s.plan.think.as_millis()),
            |r| format!(", {r} arrivals/s")
        ),
        doc["requests"],
        doc["errors"],
        doc["throughput_rps"]
    );
    let _ = writeln!(md, "## Latency seen by the load engine (ms)\n");
    let _ = writeln!(
        md,
        "| endpoint | requests | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|---|"
    );
    for e in doc["endpoints"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            e["endpoint"].as_str().unwrap_or("?"),
            e["requests"],
            e["p50_ms"],
            e["p90_ms"],
            e["p95_ms"],
            e["p99_ms"],
            e["p999_ms"],
            e["max_ms"]
        );
    }
    let _ = writeln!(
        md,
        "\nLatency runs from the intended send time (open model) or the send time (closed model) to the last byte of the answer; percentiles come from an HDR histogram (3 significant figures).\n"
    );
    let _ = writeln!(md, "## Errors\n");
    let by_kind = doc["errors_by_kind"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if by_kind.is_empty() {
        let _ = writeln!(md, "None.\n");
    } else {
        for (kind, n) in by_kind {
            let _ = writeln!(md, "- {kind}: {n}");
        }
        let _ = writeln!(md);
    }
    if let Some(c) = s.consistency {
        let _ = writeln!(
            md,
            "## Counts\n\nThe server's `health_agent_http_requests_total` after the run: {}. The run sent {} application requests that were answered: {}. Another {} went to Vitals' own endpoints (readiness probes, metrics polls, monitor polls), which the server leaves out of its figures.\n",
            c.server_counted,
            c.expected(),
            if c.ok() { "consistent" } else { "**mismatch**" },
            c.own,
        );
    }
    if let (Some(a), Some(b)) = (s.rss_start, s.rss_end) {
        let _ = writeln!(
            md,
            "## Server memory\n\nRSS {a:.1} MB after start, {b:.1} MB at the end ({:+.1} MB).\n",
            b - a
        );
    }
    if let Some(d) = doc["memory_drift"].as_object() {
        let _ = writeln!(
            md,
            "Memory drift (least-squares slope of RSS over the second half of the run, sampled every second; drift above +{DRIFT_MB_PER_MIN} MB/min): **{}**.\n",
            d.get("verdict").and_then(Value::as_str).unwrap_or("?")
        );
    }
    let _ = writeln!(md, "## The run, second by second\n");
    for (file, what) in super::charts::FILES {
        let drawn = doc["charts"]
            .as_array()
            .is_some_and(|c| c.iter().any(|f| f == file));
        if drawn {
            let _ = writeln!(md, "![{what}]({file})\n");
        }
    }
    let _ = writeln!(
        md,
        "From the engine's own per-second timeline (latency quantiles per second from log buckets, within about 6 %; the tables above use the exact HDR histograms). Server memory and CPU are sampled from /proc every second when the run started the server.\n"
    );
    if let Some(k) = doc["stress_knee"].as_object() {
        let _ = writeln!(
            md,
            "## Stress steps\n\n| step | users | requests | p95 (ms) | error rate | breaks targets |\n|---|---|---|---|---|---|"
        );
        for r in k
            .get("steps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.4} | {} |",
                r["step"],
                r["users"],
                r["requests"],
                r["p95_ms"],
                r["error_rate"].as_f64().unwrap_or(0.0),
                r["breaks_targets"]
            );
        }
        let _ =
            writeln!(
                md,
                "\nKnee: {}\n",
                k.get("knee").filter(|v| !v.is_null()).map_or(
                    "not reached".to_owned(),
                    |v| format!("step {} ({} users)", v["step"], v["users"])
                )
            );
    }
    let _ = writeln!(
        md,
        "## Targets\n\n| target | goal | value | result |\n|---|---|---|---|"
    );
    let mut notes = Vec::new();
    for t in doc["targets"].as_array().into_iter().flatten() {
        let outcome = match result(t) {
            "PASS" => "pass".to_owned(),
            "FAIL" => "**fail**".to_owned(),
            _ => {
                notes.push(format!(
                    "{}: {}",
                    t["name"].as_str().unwrap_or("?"),
                    t["why"].as_str().unwrap_or("")
                ));
                format!("not judged ({})", notes.len())
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            t["name"].as_str().unwrap_or("?"),
            t["goal"].as_str().unwrap_or("?"),
            t["value"],
            outcome
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(md);
        for (i, n) in notes.iter().enumerate() {
            let _ = writeln!(md, "({}) {n}.", i + 1);
        }
    }
    let _ = writeln!(
        md,
        "\n## Server side (`vitals analyze` of the monitor CSV)\n"
    );
    md.push_str(&s.analysis.markdown);
    let _ = writeln!(
        md,
        "\nServer-side charts (from the monitor CSV): ![cpu](cpu.png) ![memory](memory.png) ![pool](db_pool_utilization.png) ![cache](cache_hit_rate.png) ![latency](api_latency.png)"
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_allows_only_abandoned_requests() {
        let c = Consistency {
            engine_answered: 100,
            engine_unanswered: 2,
            own: 11,
            server_counted: 100,
        };
        assert!(c.ok());
        assert!(
            Consistency {
                server_counted: 102,
                ..c
            }
            .ok()
        );
        let c = Consistency {
            engine_answered: 100,
            engine_unanswered: 0,
            own: 11,
            server_counted: 111,
        };
        assert!(!c.ok(), "own requests are not the application's");
    }

    #[test]
    fn cache_target_waits_for_a_warm_cache() {
        use crate::load::timeline::Local;
        use std::time::Duration;
        // Ten seconds; the second half (seconds 5..10) has 100 history reads.
        let t = Timeline::new(11);
        let mut local = Local::new();
        for second in 0..10 {
            for k in 0..20 {
                let cold = second >= 5 && k < 1; // 5 of the 100 judged reads are cold
                local.record(
                    &t,
                    second,
                    Endpoint::History,
                    Duration::from_millis(1),
                    false,
                    cold || (second < 5 && k < 10),
                );
            }
        }
        local.flush(&t);
        let c = ColdReads::of(&t.rows(), 10);
        assert_eq!((c.reads, c.cold), (100, 5));
        assert!(c.steady(), "5 % is the limit, inclusive");
        let warming = ColdReads {
            reads: 61,
            cold: 28,
        };
        assert!(!warming.steady());
        assert!(warming.why().contains("28 of 61"), "{}", warming.why());
        assert!(
            !ColdReads { reads: 0, cold: 0 }.steady(),
            "no reads: nothing shows a warm cache"
        );
    }

    #[test]
    fn counts_answered_polls_from_the_csv() {
        let dir = std::env::temp_dir().join(format!("xtask-polls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let csv = dir.join("m.csv");
        std::fs::write(
            &csv,
            "timestamp,host,status,api_ms\n1,h,200,1\n2,h,0,\n3,h,503,2\n",
        )
        .expect("write");
        assert_eq!(answered_polls(&csv).expect("read"), 2);
        let _ = std::fs::remove_dir_all(dir);
    }
}
