//! PNG charts of a run (plotters, bitmap backend). Text is drawn with DejaVu Sans, shipped in
//! `assets/` and compiled in, so charts render the same on a machine without fonts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::csv::Parsed;
use super::stats::{interval_hit_rates, rss_fit_line, utilization};

/// Pixel size of every chart.
pub const SIZE: (u32, u32) = (1200, 600);

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Axis bound for absurd inputs, so a corrupt cell cannot make a range infinite.
const LIMIT: f64 = 1e15;

/// Line colours per host (no red: red is the warning line).
const SERIES_COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

/// Warning line on the pool chart, in percent (the DatabasePoolHigh threshold).
fn pool_warning() -> f64 {
    vitals_core::alerts::RULES
        .iter()
        .find(|r| r.name == "DatabasePoolHigh")
        .and_then(|r| match r.condition {
            vitals_core::alerts::Condition::Above(t) => Some(t),
            _ => None,
        })
        .unwrap_or(80.0)
}

fn ensure_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the bundled chart font could not be loaded"))
    }
}

/// Where a chart's points come from, given one host's rows sorted by time.
#[derive(Clone, Copy)]
enum Source {
    /// A figure of each row.
    Column(fn(&Parsed) -> Option<f64>),
    /// The hit rate of each poll interval, from the deltas of `cache_hits` / `cache_misses`;
    /// the since-start `redis_hit_rate` for a host whose rows have no counters.
    IntervalHitRate,
}

/// One chart to draw.
struct Spec {
    file: &'static str,
    title: &'static str,
    y_label: &'static str,
    source: Source,
    percent: bool,
    threshold: Option<(f64, String)>,
    /// Draw each host's least-squares RSS line over the second half (the drift fit).
    rss_fit: bool,
}

fn specs() -> Vec<Spec> {
    let warn = pool_warning();
    vec![
        Spec {
            file: "cpu.png",
            title: "CPU usage",
            y_label: "CPU %",
            source: Source::Column(|p| p.record.cpu_percent),
            percent: true,
            threshold: None,
            rss_fit: false,
        },
        Spec {
            file: "memory.png",
            title: "Memory usage",
            y_label: "Memory %",
            source: Source::Column(|p| p.record.memory_percent),
            percent: true,
            threshold: None,
            rss_fit: false,
        },
        Spec {
            file: "db_pool_utilization.png",
            title: "Database pool utilization",
            y_label: "Pool utilization %",
            source: Source::Column(|p| utilization(&p.record)),
            percent: true,
            threshold: Some((warn, format!("Warning threshold ({warn:.0}%)"))),
            rss_fit: false,
        },
        Spec {
            file: "cache_hit_rate.png",
            title: "Cache hit rate per poll interval (hits / reads between polls)",
            y_label: "Hit rate %",
            source: Source::IntervalHitRate,
            percent: true,
            threshold: None,
            rss_fit: false,
        },
        Spec {
            file: "api_latency.png",
            title: "Poll latency (round trip of /api/v1/metrics)",
            y_label: "Latency (ms)",
            source: Source::Column(|p| p.record.api_ms),
            percent: false,
            threshold: None,
            rss_fit: false,
        },
        Spec {
            file: "process_rss.png",
            title: "Server process resident memory (RSS)",
            y_label: "RSS (MB)",
            source: Source::Column(|p| p.process_rss_mb),
            percent: false,
            threshold: None,
            rss_fit: true,
        },
    ]
}

/// The points of one host (rows sorted by time) and its legend label.
fn host_points(source: Source, host: &str, rows: &[&Parsed], start: f64) -> (String, Vec<Point>) {
    let x = |p: &Parsed| p.record.timestamp - start;
    match source {
        Source::Column(f) => (host.to_owned(), rows.iter().map(|p| (x(p), f(p))).collect()),
        Source::IntervalHitRate
            if rows
                .iter()
                .any(|p| p.cache_hits.zip(p.cache_misses).is_some()) =>
        {
            let rates = interval_hit_rates(rows);
            (
                host.to_owned(),
                rows.iter().zip(rates).map(|(p, r)| (x(p), r)).collect(),
            )
        }
        Source::IntervalHitRate => (
            format!("{host} (since start: no counters in the CSV)"),
            rows.iter()
                .map(|p| (x(p), p.record.cache_hit_rate))
                .collect(),
        ),
    }
}

/// Draws every chart into `dir` (created if missing) and returns the files written.
pub fn draw_all(rows: &[Parsed], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    ensure_font()?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the chart folder {}", dir.display()))?;
    let start = rows
        .iter()
        .map(|p| p.record.timestamp)
        .reduce(f64::min)
        .unwrap_or(0.0);
    let mut hosts: Vec<(&str, Vec<&Parsed>)> = Vec::new();
    for p in rows {
        match hosts.iter_mut().find(|(h, _)| *h == p.record.host) {
            Some((_, mine)) => mine.push(p),
            None => hosts.push((&p.record.host, vec![p])),
        }
    }
    for (_, mine) in &mut hosts {
        mine.sort_by(|a, b| a.record.timestamp.total_cmp(&b.record.timestamp));
    }
    let mut written = Vec::new();
    for spec in specs() {
        let path = dir.join(spec.file);
        draw(&spec, &hosts, start, &path)
            .with_context(|| format!("cannot draw {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Seconds since start, and the figure (absent for a failed poll).
type Point = (f64, Option<f64>);

/// Runs of consecutive points (a failed poll breaks the line).
fn segments(points: &[Point]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        match (y, out.last_mut()) {
            (Some(y), Some(last)) => last.push((x, y)),
            (None, Some(last)) if !last.is_empty() => out.push(Vec::new()),
            _ => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The axes' ranges.
#[derive(Clone, Copy)]
struct Bounds {
    x_max: f64,
    y_min: f64,
    y_max: f64,
}

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Each host's points, cleaned, and the axes that hold them all.
fn prepare(
    spec: &Spec,
    hosts: &[(&str, Vec<&Parsed>)],
    start: f64,
) -> (Vec<(String, Vec<Point>)>, Bounds) {
    let mut series: Vec<(String, Vec<Point>)> = hosts
        .iter()
        .map(|(host, rows)| {
            let (label, mut pts) = host_points(spec.source, host, rows, start);
            for (_, y) in &mut pts {
                *y = y.filter(|v| v.is_finite());
            }
            (label, pts)
        })
        .collect();
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
        .fold(1.0f64, f64::max)
        .min(LIMIT);
    let ys = || {
        series
            .iter()
            .flat_map(|(_, p)| p.iter().filter_map(|&(_, y)| y))
    };
    let y_data = ys().fold(0.0f64, f64::max);
    let y_min = ys().fold(0.0f64, f64::min).max(-LIMIT);
    let y_max = if spec.percent {
        (y_data * 1.05).max(100.0)
    } else {
        (y_data * 1.1).max(1.0)
    }
    .min(LIMIT);
    // Plotters maps coordinates to i32 pixels; keep every point inside the axes so an absurd
    // cell cannot overflow that arithmetic.
    for (_, pts) in &mut series {
        for (x, y) in pts.iter_mut() {
            *x = x.clamp(0.0, x_max);
            *y = y.map(|v| v.clamp(y_min, y_max));
        }
    }
    (
        series,
        Bounds {
            x_max,
            y_min,
            y_max,
        },
    )
}

fn draw(
    spec: &Spec,
    hosts: &[(&str, Vec<&Parsed>)],
    start: f64,
    path: &Path,
) -> anyhow::Result<()> {
    let (series, bounds) = prepare(spec, hosts, start);
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!(
        "{} — from {}",
        spec.title,
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(start.max(0.0))
        )
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FAMILY, 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..bounds.x_max, bounds.y_min..bounds.y_max)?;
    chart
        .configure_mesh()
        .x_desc("Seconds since start")
        .y_desc(spec.y_label)
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 18))
        .draw()?;
    draw_hosts(&mut chart, &series)?;
    if spec.rss_fit {
        draw_rss_fits(&mut chart, hosts, start, bounds)?;
    }
    if let Some((y, label)) = &spec.threshold {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, *y), (bounds.x_max, *y)],
                10,
                6,
                RED.stroke_width(2),
            ))?
            .label(label.as_str())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        // RSS tends to sit near the top of its axis; keep the legend off its line.
        .position(if spec.rss_fit {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .label_font((FAMILY, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// One line with dots per host, broken where a poll failed.
fn draw_hosts(chart: &mut Chart<'_, '_>, series: &[(String, Vec<Point>)]) -> anyhow::Result<()> {
    for (i, (host, pts)) in series.iter().enumerate() {
        let colour = SERIES_COLOURS[i % SERIES_COLOURS.len()];
        let mut labelled = false;
        for seg in segments(pts) {
            let drawn = chart.draw_series(LineSeries::new(seg.clone(), colour.stroke_width(2)))?;
            if !labelled {
                drawn.label(host.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
                labelled = true;
            }
            chart.draw_series(seg.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    Ok(())
}

/// The dashed line fitted to each host's RSS over the second half (the drift slope).
fn draw_rss_fits(
    chart: &mut Chart<'_, '_>,
    hosts: &[(&str, Vec<&Parsed>)],
    start: f64,
    bounds: Bounds,
) -> anyhow::Result<()> {
    for (host, rows) in hosts {
        let Some(line) = rss_fit_line(rows) else {
            continue;
        };
        let ends: Vec<(f64, f64)> = line
            .iter()
            .map(|&(t, y)| {
                (
                    (t - start).clamp(0.0, bounds.x_max),
                    y.clamp(bounds.y_min, bounds.y_max),
                )
            })
            .collect();
        let label = if hosts.len() > 1 {
            format!("{host}: fit over the second half")
        } else {
            "Fit over the second half (drift slope)".to_owned()
        };
        chart
            .draw_series(DashedLineSeries::new(ends, 8, 5, BLACK.stroke_width(2)))?
            .label(label)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_lines() {
        let pts = [
            (0.0, Some(1.0)),
            (1.0, None),
            (2.0, Some(2.0)),
            (3.0, Some(3.0)),
            (4.0, None),
        ];
        assert_eq!(
            segments(&pts),
            vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]
        );
        assert!(segments(&[(0.0, None)]).is_empty());
    }

    #[test]
    fn absurd_values_draw_without_panicking() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rec = |t: f64, v: Option<f64>| Parsed {
            record: crate::record::Record {
                timestamp: t,
                host: "h".into(),
                status: 200,
                api_ms: v,
                cpu_percent: v,
                memory_percent: v.map(|v| -v),
                cache_hit_rate: v,
                db_pool_active: v,
                db_pool_size: Some(0.0),
                ..crate::record::Record::default()
            },
            cache_hits: v,
            cache_misses: v.map(|v| v / 2.0),
            process_rss_mb: v,
            ..Parsed::default()
        };
        let cases = [
            vec![rec(0.0, Some(1e300)), rec(-1e300, Some(-1e300))],
            vec![rec(5.0, None)],
            vec![rec(5.0, Some(3.0))],
            vec![rec(1e18, Some(0.0)), rec(0.0, Some(f64::MAX))],
        ];
        for rows in cases {
            let files = draw_all(&rows, dir.path()).expect("charts drawn");
            assert_eq!(files.len(), 6);
        }
    }

    #[test]
    fn pool_warning_comes_from_the_rule_table() {
        assert_eq!(pool_warning(), 80.0);
    }
}
