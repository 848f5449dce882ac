//! Rendering the summaries: text for people, JSON for scripts, Markdown for reports.

use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::stats::{Agg, HostSummary, Target};
use crate::style::Style;

/// The JSON document of `analyze --format json`.
#[derive(Debug, Serialize)]
struct Document<'a> {
    file: &'a str,
    percentile_method: &'static str,
    hosts: &'a [HostSummary],
}

/// `--format json`.
pub fn json(file: &str, hosts: &[HostSummary]) -> anyhow::Result<String> {
    let doc = Document {
        file,
        percentile_method: "nearest rank over answered polls",
        hosts,
    };
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

fn utc(secs: f64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0));
    humantime::format_rfc3339_seconds(t).to_string()
}

fn pct(a: Option<Agg>) -> (String, String) {
    a.map_or(("n/a".into(), "n/a".into()), |a| {
        (format!("{:.1}%", a.avg), format!("{:.1}%", a.max))
    })
}

fn value(t: &Target) -> String {
    match t.value {
        Some(v) if t.unit == "%" => format!("{v:.1}%"),
        Some(v) => format!("{v:.1} {}", t.unit),
        None => "n/a".into(),
    }
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "n/a",
    }
}

/// The cache line of the text report.
fn cache_text(h: &HostSummary) -> String {
    if h.cache_reads == Some(0.0) {
        return "no cache reads in the run (hit rate undefined)".into();
    }
    let mut parts = vec![match h.cache_hit_rate_steady {
        Some(v) => format!("steady state {v:.1}% ({})", h.cache_hit_rate_steady_method),
        None => format!("steady state n/a ({})", h.cache_hit_rate_steady_method),
    }];
    if let Some(a) = h.cache_hit_rate {
        parts.push(format!("since start avg {:.1}%", a.avg));
    }
    parts.join("  ")
}

/// The server-process line of the text report, when the CSV has its columns.
fn process_text(h: &HostSummary) -> Option<String> {
    let rss = h
        .process_rss_mb
        .map(|r| format!("RSS avg {:.1} MB  max {:.1} MB", r.avg, r.max));
    let cpu = h
        .process_cpu_percent
        .map(|c| format!("CPU avg {:.1}%  max {:.1}%", c.avg, c.max));
    match (rss, cpu) {
        (None, None) => None,
        (a, b) => Some([a, b].into_iter().flatten().collect::<Vec<_>>().join("  ")),
    }
}

/// `--format text`.
pub fn text(file: &str, hosts: &[HostSummary], st: Style) -> String {
    let mut out = String::new();
    let polls: usize = hosts.iter().map(|h| h.polls).sum();
    let _ = writeln!(
        out,
        "{} {file}: {} host(s), {polls} polls",
        st.bold("Run summary of"),
        hosts.len()
    );
    for h in hosts {
        let _ = writeln!(out, "\n{} {}", st.bold("Host"), h.host);
        let row = |out: &mut String, label: &str, text: String| {
            let _ = writeln!(out, "  {label:<14} {text}");
        };
        row(&mut out, "Started", utc(h.start));
        row(
            &mut out,
            "Duration",
            format!(
                "{:.0}s ({} polls: {} answered, {} unreachable, {} HTTP errors)",
                h.duration_seconds, h.polls, h.answered, h.unreachable, h.http_errors
            ),
        );
        let (avg, max) = pct(h.cpu_percent);
        row(&mut out, "CPU", format!("avg {avg}  max {max}"));
        let (avg, max) = pct(h.memory_percent);
        let mb = h.memory_mb.map_or(String::new(), |m| {
            format!("  (avg {:.0} MB, max {:.0} MB)", m.avg, m.max)
        });
        row(&mut out, "Memory", format!("avg {avg}  max {max}{mb}"));
        let pool = match (h.db_pool_active, h.db_pool_utilization_percent) {
            (Some(a), Some(u)) => format!(
                "avg active {:.1}  peak {:.0}  avg utilization {:.1}%  max {:.1}%",
                a.avg, a.max, u.avg, u.max
            ),
            _ => "n/a".into(),
        };
        row(&mut out, "DB pool", pool);
        row(&mut out, "Cache", cache_text(h));
        if let Some(p) = process_text(h) {
            row(&mut out, "Process", p);
        }
        if let Some(d) = &h.memory_drift {
            row(
                &mut out,
                "Memory drift",
                format!(
                    "{}  (RSS slope over the second half: {:.0} s, {} samples; drift above {} MB/min)",
                    d.line, d.window_seconds, d.samples, d.threshold_mb_per_min
                ),
            );
        }
        let lat = h.api_ms.map_or("n/a".into(), |l| {
            format!(
                "p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms  (nearest rank, {} polls)",
                l.p50, l.p95, l.max, l.samples
            )
        });
        row(&mut out, "Poll latency", lat);
        targets_text(&mut out, h, st);
    }
    out
}

/// The targets table of one host, as text.
fn targets_text(out: &mut String, h: &HostSummary, st: Style) {
    let _ = writeln!(out, "\n  {}", st.bold("Performance targets"));
    let _ = writeln!(
        out,
        "  {:<20} {:<10} {:<11} {:<7} Measured as",
        "Target", "Goal", "Measured", "Result"
    );
    for t in &h.targets {
        let v = verdict(t.pass);
        let painted = match t.pass {
            Some(true) => st.ok(v),
            Some(false) => st.error(v),
            None => st.dim(v),
        };
        let pad = " ".repeat(7usize.saturating_sub(v.len()));
        let _ = writeln!(
            out,
            "  {:<20} {:<10} {:<11} {painted}{pad} {}",
            t.name,
            t.goal,
            value(t),
            t.measured_as
        );
    }
}

/// `--format markdown`.
pub fn markdown(file: &str, hosts: &[HostSummary]) -> String {
    let mut out = format!("# Run summary of `{file}`\n");
    for h in hosts {
        let _ = writeln!(out, "\n## {}\n", h.host);
        let _ = writeln!(out, "| Figure | Value |\n|---|---|");
        let _ = writeln!(out, "| Started | {} |", utc(h.start));
        let _ = writeln!(
            out,
            "| Duration | {:.0}s ({} polls, {} answered, {} unreachable, {} HTTP errors) |",
            h.duration_seconds, h.polls, h.answered, h.unreachable, h.http_errors
        );
        let (avg, max) = pct(h.cpu_percent);
        let _ = writeln!(out, "| CPU avg / max | {avg} / {max} |");
        let (avg, max) = pct(h.memory_percent);
        let _ = writeln!(out, "| Memory avg / max | {avg} / {max} |");
        if let (Some(a), Some(u)) = (h.db_pool_active, h.db_pool_utilization_percent) {
            let _ = writeln!(
                out,
                "| DB pool active avg / peak | {:.1} / {:.0} |",
                a.avg, a.max
            );
            let _ = writeln!(out, "| DB pool utilization avg | {:.1}% |", u.avg);
        }
        cache_markdown(&mut out, h);
        if let Some(r) = h.process_rss_mb {
            let _ = writeln!(
                out,
                "| Process RSS avg / max | {:.1} / {:.1} MB |",
                r.avg, r.max
            );
        }
        if let Some(c) = h.process_cpu_percent {
            let _ = writeln!(
                out,
                "| Process CPU avg / max | {:.1}% / {:.1}% |",
                c.avg, c.max
            );
        }
        if let Some(d) = &h.memory_drift {
            let _ = writeln!(
                out,
                "| Memory drift (RSS slope, second half) | {} (threshold {} MB/min) |",
                d.line, d.threshold_mb_per_min
            );
        }
        if let Some(l) = h.api_ms {
            let _ = writeln!(
                out,
                "| Poll latency p50 / p95 / max | {:.1} / {:.1} / {:.1} ms |",
                l.p50, l.p95, l.max
            );
        }
        targets_markdown(&mut out, h);
    }
    out
}

/// The cache rows of one host's Markdown table.
fn cache_markdown(out: &mut String, h: &HostSummary) {
    if h.cache_reads == Some(0.0) {
        let _ = writeln!(out, "| Cache hit rate | no cache reads in the run |");
        return;
    }
    let steady = h
        .cache_hit_rate_steady
        .map_or("n/a".to_owned(), |v| format!("{v:.1}%"));
    let _ = writeln!(
        out,
        "| Cache hit rate, steady state | {steady} ({}) |",
        h.cache_hit_rate_steady_method
    );
    if let Some(a) = h.cache_hit_rate {
        let _ = writeln!(out, "| Cache hit rate since start, avg | {:.1}% |", a.avg);
    }
}

/// The targets table of one host, as Markdown.
fn targets_markdown(out: &mut String, h: &HostSummary) {
    let _ = writeln!(
        out,
        "\n| Target | Goal | Measured | Result |\n|---|---|---|---|"
    );
    for t in &h.targets {
        let _ = writeln!(
            out,
            "| {} | {} | {} — {} | {} |",
            t.name,
            t.goal,
            value(t),
            t.measured_as,
            verdict(t.pass)
        );
    }
}
