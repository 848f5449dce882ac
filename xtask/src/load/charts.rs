//! PNG charts of the run itself, from the engine's per-second timeline: throughput per
//! endpoint, latency quantiles, errors, virtual users, and the server's memory and CPU.
//! They sit beside the server-side charts `vitals analyze` draws from the monitor CSV.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::drift::{DRIFT_MB_PER_MIN, slope_mb_per_min};
use super::timeline::{ENDPOINT_ORDER, Second};

/// Pixel size of every chart (the same as `vitals analyze`'s).
const SIZE: (u32, u32) = (1200, 600);

/// DejaVu Sans, shipped with vitals-cli; plotters cannot draw text without a registered font.
const FONT: &[u8] = include_bytes!("../../../crates/vitals-cli/assets/DejaVuSans.ttf");
/// The font family name charts draw text with.
pub const FAMILY: &str = "sans-serif";

/// The palette, in order.
pub const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

/// Registers the chart font once; every chart needs it.
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ok.then_some(())
        .ok_or_else(|| anyhow!("the chart font could not be loaded"))
}

/// One line: its name, colour and points (`None` breaks the line).
pub struct Line {
    /// In the legend.
    pub name: String,
    /// Its colour.
    pub colour: RGBColor,
    /// `(x, y)`; `None` breaks the line.
    pub points: Vec<(f64, Option<f64>)>,
    /// Drawn dashed (thresholds, fits).
    pub dashed: bool,
}

/// One chart: a file name, a title, axis labels and its lines.
pub struct Chart<'a> {
    /// File name inside the output folder.
    pub file: &'a str,
    /// Caption.
    pub title: String,
    /// What the x axis counts.
    pub x_label: &'a str,
    /// What the y axis shows.
    pub y_label: &'a str,
    /// The top of the y axis; `None`: the data's maximum plus room for the legend.
    pub y_max: Option<f64>,
    /// The lines.
    pub lines: Vec<Line>,
}

/// The x axis of the load charts.
const LOAD_X: &str = "Seconds since the load started";

/// The chart files, for the report.
pub const FILES: [(&str, &str); 6] = [
    ("load_throughput.png", "requests per second"),
    ("load_latency.png", "latency per second"),
    ("load_errors.png", "errors per second"),
    ("load_users.png", "virtual users"),
    ("server_rss.png", "server memory"),
    ("server_cpu.png", "server CPU"),
];

/// Draws the run's charts into `dir`; returns the files written (the server charts only when
/// the run sampled the server).
pub fn draw_all(rows: &[Second], run_seconds: usize, dir: &Path) -> Result<Vec<PathBuf>> {
    ensure_font()?;
    // The last slot collects anything finished after the planned end; leave it out.
    let rows = &rows[..rows.len().min(run_seconds.max(1))];
    let x = |i: usize| i as f64;
    let mut charts = Vec::new();

    let mut lines = vec![Line {
        name: "all".into(),
        colour: RGBColor(60, 60, 60),
        points: rows
            .iter()
            .enumerate()
            .map(|(i, s)| (x(i), Some(s.counts.total() as f64)))
            .collect(),
        dashed: false,
    }];
    for (slot, endpoint) in ENDPOINT_ORDER.iter().enumerate() {
        if rows.iter().all(|s| s.counts.requests[slot] == 0) {
            continue;
        }
        lines.push(Line {
            name: endpoint.name().into(),
            colour: COLOURS[slot % COLOURS.len()],
            points: rows
                .iter()
                .enumerate()
                .map(|(i, s)| (x(i), Some(s.counts.requests[slot] as f64)))
                .collect(),
            dashed: false,
        });
    }
    charts.push(Chart {
        file: FILES[0].0,
        title: "Requests per second, by endpoint (load engine)".into(),
        x_label: LOAD_X,
        y_label: "requests / s",
        y_max: None,
        lines,
    });

    let quantile = |q: f64| -> Vec<(f64, Option<f64>)> {
        rows.iter()
            .enumerate()
            .map(|(i, s)| {
                let some = s.counts.total() > 0;
                (x(i), some.then(|| s.counts.latency.quantile_ms(q)))
            })
            .collect()
    };
    charts.push(Chart {
        file: FILES[1].0,
        title: "Latency per second, all endpoints (load engine)".into(),
        x_label: LOAD_X,
        y_label: "latency (ms)",
        y_max: None,
        // p99 first, so p95 stays visible where the two meet (few requests in a second).
        lines: [(0.99, "p99", 2), (0.95, "p95", 1), (0.50, "p50", 0)]
            .iter()
            .map(|&(q, name, k)| Line {
                name: name.into(),
                colour: COLOURS[k],
                points: quantile(q),
                dashed: false,
            })
            .collect(),
    });

    let total_errors: u64 = rows.iter().map(|s| s.counts.total_errors()).sum();
    let mut lines = vec![Line {
        name: "all".into(),
        colour: RGBColor(200, 30, 30),
        points: rows
            .iter()
            .enumerate()
            .map(|(i, s)| (x(i), Some(s.counts.total_errors() as f64)))
            .collect(),
        dashed: false,
    }];
    for (slot, endpoint) in ENDPOINT_ORDER.iter().enumerate() {
        if rows.iter().all(|s| s.counts.errors[slot] == 0) {
            continue;
        }
        lines.push(Line {
            name: endpoint.name().into(),
            colour: COLOURS[slot % COLOURS.len()],
            points: rows
                .iter()
                .enumerate()
                .map(|(i, s)| (x(i), Some(s.counts.errors[slot] as f64)))
                .collect(),
            dashed: false,
        });
    }
    charts.push(Chart {
        file: FILES[2].0,
        title: format!("Errors per second (load engine; {total_errors} in all)"),
        x_label: LOAD_X,
        y_label: "errors / s",
        y_max: None,
        lines,
    });

    charts.push(Chart {
        file: FILES[3].0,
        title: "Virtual users (connections) active".into(),
        x_label: LOAD_X,
        y_label: "users",
        y_max: None,
        lines: vec![Line {
            name: "users".into(),
            colour: COLOURS[0],
            points: rows
                .iter()
                .enumerate()
                .map(|(i, s)| (x(i), Some(f64::from(s.users))))
                .collect(),
            dashed: false,
        }],
    });

    let rss: Vec<(f64, Option<f64>)> = rows
        .iter()
        .enumerate()
        .map(|(i, s)| (x(i), s.rss_mb))
        .collect();
    if rss.iter().any(|p| p.1.is_some()) {
        let mut lines = vec![Line {
            name: "RSS".into(),
            colour: COLOURS[0],
            points: rss.clone(),
            dashed: false,
        }];
        let end = rss.last().map_or(0.0, |p| p.0);
        let half: Vec<(f64, f64)> = rss
            .iter()
            .filter_map(|&(t, y)| Some((t, y?)))
            .filter(|p| p.0 >= end / 2.0)
            .collect();
        if let Some(slope) = slope_mb_per_min(&half) {
            let n = half.len() as f64;
            let (mt, my) = (
                half.iter().map(|p| p.0).sum::<f64>() / n,
                half.iter().map(|p| p.1).sum::<f64>() / n,
            );
            let at = |t: f64| Some(my + slope / 60.0 * (t - mt));
            lines.push(Line {
                name: format!(
                    "fit over the second half: {slope:+.2} MB/min (drift above {DRIFT_MB_PER_MIN} MB/min)"
                ),
                colour: RGBColor(200, 30, 30),
                points: vec![(end / 2.0, at(end / 2.0)), (end, at(end))],
                dashed: true,
            });
        }
        charts.push(Chart {
            file: FILES[4].0,
            title: "Server resident memory (sampled by the load run every second)".into(),
            x_label: LOAD_X,
            y_label: "RSS (MB)",
            y_max: None,
            lines,
        });
    }
    let cpu: Vec<(f64, Option<f64>)> = rows
        .iter()
        .enumerate()
        .map(|(i, s)| (x(i), s.cpu_percent))
        .collect();
    if cpu.iter().any(|p| p.1.is_some()) {
        charts.push(Chart {
            file: FILES[5].0,
            title: "Server process CPU, percent of all cores".into(),
            x_label: LOAD_X,
            y_label: "CPU %",
            y_max: None,
            lines: vec![Line {
                name: "server process".into(),
                colour: COLOURS[1],
                points: cpu,
                dashed: false,
            }],
        });
    }

    draw_into(&charts, dir)
}

/// Draws every chart into `dir` (created if missing); the files written.
pub fn draw_into(charts: &[Chart<'_>], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for chart in charts {
        let path = dir.join(chart.file);
        draw(chart, &path).with_context(|| format!("cannot draw {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Runs of consecutive points (`None` breaks the line).
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        match (y.filter(|v| v.is_finite()), out.last_mut()) {
            (Some(y), Some(last)) => last.push((x, y)),
            (None, Some(last)) if !last.is_empty() => out.push(Vec::new()),
            _ => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Draws `chart` into the PNG file `path` (call [`ensure_font`] first).
pub fn draw(chart: &Chart<'_>, path: &Path) -> Result<()> {
    let x_max = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(1.0f64, f64::max);
    let y_max = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    // Headroom above the data for the legend box in the upper right.
    let y_max = chart
        .y_max
        .unwrap_or_else(|| (y_max * if chart.lines.len() > 1 { 1.4 } else { 1.15 }).max(1.0));
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut c = ChartBuilder::on(&root)
        .caption(&chart.title, (FAMILY, 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    let y_decimals = if y_max >= 20.0 { 0 } else { 1 };
    c.configure_mesh()
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.y_decimals$}"))
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 18))
        .draw()?;
    for line in &chart.lines {
        let colour = line.colour;
        let mut labelled = false;
        for seg in segments(&line.points) {
            let style = colour.stroke_width(2);
            let drawn = if line.dashed {
                c.draw_series(DashedLineSeries::new(seg, 10, 6, style))?
            } else {
                c.draw_series(LineSeries::new(seg, style))?
            };
            if !labelled {
                drawn.label(line.name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
                labelled = true;
            }
        }
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::stats::Endpoint;
    use crate::load::timeline::{Local, Timeline};
    use std::time::Duration;

    #[test]
    fn draws_every_chart_of_a_small_run() {
        let t = Timeline::new(6);
        let mut local = Local::new();
        for second in 0..5 {
            for k in 0..=second {
                local.record(
                    &t,
                    second,
                    if k % 2 == 0 {
                        Endpoint::History
                    } else {
                        Endpoint::Chat
                    },
                    Duration::from_millis(k as u64 + 1),
                    k == 3,
                    false,
                );
            }
            t.users(second, 5);
            t.process(second, Some(10.0 + second as f64), Some(12.5));
        }
        local.flush(&t);
        let dir = tempfile::tempdir().expect("temp dir");
        let files = draw_all(&t.rows(), 5, dir.path()).expect("charts");
        assert_eq!(files.len(), 6);
        for f in files {
            assert!(std::fs::metadata(&f).expect("file").len() > 1000);
        }
        let empty = draw_all(&Timeline::new(1).rows(), 1, dir.path()).expect("empty run");
        assert_eq!(empty.len(), 4, "no server charts without samples");
    }
}
