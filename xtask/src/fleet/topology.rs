//! The topology picture of docs/fleet.md, drawn with the chart code's font and plotters:
//! instances with their database and cache, one Prometheus per cluster scraping them,
//! Alertmanager, remote write to a long-term store, and the OTLP path through a collector.
//! `cargo xtask docs` writes it to `docs/images/fleet-topology.png`.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::load::charts::{FAMILY, ensure_font};

const SIZE: (u32, u32) = (1400, 820);
const INK: RGBColor = RGBColor(40, 40, 40);
const APP: RGBColor = RGBColor(214, 234, 248);
const ENGINE: RGBColor = RGBColor(253, 235, 208);
const STORE: RGBColor = RGBColor(213, 245, 227);
const OTEL: RGBColor = RGBColor(232, 218, 239);

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A box with one to three centred lines of text.
fn boxed(
    area: &Area<'_>,
    (x, y, w, h): (i32, i32, i32, i32),
    fill: RGBColor,
    text: &[&str],
) -> Result<()> {
    area.draw(&Rectangle::new([(x, y), (x + w, y + h)], fill.filled()))?;
    area.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        INK.stroke_width(2),
    ))?;
    let line_height = 22;
    let top = y + h / 2 - (text.len() as i32 - 1) * line_height / 2;
    for (k, line) in text.iter().enumerate() {
        let size = if k == 0 { 20 } else { 16 };
        let style = TextStyle::from((FAMILY, size).into_font())
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        area.draw(&Text::new(
            *line,
            (x + w / 2, top + k as i32 * line_height),
            style,
        ))?;
    }
    Ok(())
}

/// An arrow from `a` to `b` with a label near its middle.
fn arrow(area: &Area<'_>, a: (i32, i32), b: (i32, i32), label: &str, dashed: bool) -> Result<()> {
    let style = INK.stroke_width(2);
    let (dx, dy) = (f64::from(b.0 - a.0), f64::from(b.1 - a.1));
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    if dashed {
        // 10 px on, 6 px off.
        let at = |d: f64| (a.0 + (ux * d) as i32, a.1 + (uy * d) as i32);
        let mut d = 0.0;
        while d < len {
            area.draw(&PathElement::new(
                vec![at(d), at((d + 10.0).min(len))],
                style,
            ))?;
            d += 16.0;
        }
    } else {
        area.draw(&PathElement::new(vec![a, b], style))?;
    }
    let head = |along: f64, across: f64| {
        (
            b.0 - (ux * along - uy * across) as i32,
            b.1 - (uy * along + ux * across) as i32,
        )
    };
    area.draw(&Polygon::new(
        vec![b, head(14.0, 6.0), head(14.0, -6.0)],
        INK.filled(),
    ))?;
    if !label.is_empty() {
        let style = TextStyle::from((FAMILY, 15).into_font())
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Bottom));
        area.draw(&Text::new(
            label,
            ((a.0 + b.0) / 2 + 6, (a.1 + b.1) / 2 - 4),
            style,
        ))?;
    }
    Ok(())
}

fn caption(area: &Area<'_>, at: (i32, i32), text: &str, size: i32) -> Result<()> {
    let style = TextStyle::from((FAMILY, size).into_font())
        .color(&INK)
        .pos(Pos::new(HPos::Left, VPos::Top));
    area.draw(&Text::new(text, at, style))?;
    Ok(())
}

/// Draws the picture into `path` (PNG).
pub fn draw(path: &Path) -> Result<()> {
    ensure_font()?;
    let area = BitMapBackend::new(path, SIZE).into_drawing_area();
    area.fill(&WHITE)?;
    caption(
        &area,
        (30, 20),
        "A Vitals fleet: one Prometheus per cluster, remote write to a long-term store, OTLP to a collector",
        22,
    )?;

    // The cluster frame.
    area.draw(&Rectangle::new(
        [(20, 70), (900, 800)],
        RGBColor(150, 150, 150).stroke_width(2),
    ))?;
    caption(&area, (34, 78), "one cluster (or data centre)", 17)?;

    // Instances: three drawn, "…" for the rest.
    let xs = [50, 330, 610];
    for (k, &x) in xs.iter().enumerate() {
        let name = if k == 2 {
            "vitals-server N"
        } else if k == 0 {
            "vitals-server 1"
        } else {
            "vitals-server 2"
        };
        boxed(
            &area,
            (x, 520, 240, 90),
            APP,
            &[name, "GET /metrics (text 0.0.4)", "--otlp-endpoint (push)"],
        )?;
        boxed(
            &area,
            (x, 680, 110, 60),
            STORE,
            &["PostgreSQL", "own database"],
        )?;
        boxed(
            &area,
            (x + 130, 680, 110, 60),
            STORE,
            &["Redis", "own server"],
        )?;
        arrow(&area, (x + 55, 610), (x + 55, 680), "", false)?;
        arrow(&area, (x + 185, 610), (x + 185, 680), "", false)?;
    }
    caption(&area, (575, 560), "…", 28)?;

    // Prometheus, discovery, Alertmanager.
    boxed(
        &area,
        (300, 250, 300, 110),
        ENGINE,
        &[
            "Prometheus",
            "file_sd targets, alerts.yml",
            "scrape every 15 s",
        ],
    )?;
    for &x in &xs {
        arrow(&area, (450, 360), (x + 120, 520), "", false)?;
    }
    caption(&area, (470, 430), "scrape /metrics", 15)?;
    boxed(
        &area,
        (40, 110, 220, 90),
        ENGINE,
        &["targets/*.yml", "file_sd: host:port", "+ labels"],
    )?;
    arrow(&area, (260, 170), (300, 270), "discover", false)?;
    boxed(
        &area,
        (620, 110, 250, 90),
        ENGINE,
        &["Alertmanager (×2)", "route by severity", "inhibit, group"],
    )?;
    arrow(&area, (560, 250), (680, 200), "alerts", false)?;
    boxed(
        &area,
        (660, 300, 210, 70),
        ENGINE,
        &["pager / chat", "webhooks"],
    )?;
    arrow(&area, (765, 200), (765, 300), "notify", false)?;

    // Long-term store.
    boxed(
        &area,
        (980, 230, 380, 130),
        STORE,
        &[
            "Long-term store",
            "VictoriaMetrics, Mimir, Thanos",
            "PromQL over every cluster",
            "months of retention",
        ],
    )?;
    arrow(
        &area,
        (600, 290),
        (980, 290),
        "remote write (snappy)",
        false,
    )?;
    caption(&area, (980, 380), "other clusters' Prometheus servers", 15)?;
    arrow(&area, (1170, 405), (1170, 360), "", false)?;

    // OTLP path.
    boxed(
        &area,
        (980, 520, 380, 110),
        OTEL,
        &[
            "OpenTelemetry Collector",
            "(otelcol, rotel-agent)",
            "OTLP/HTTP :4318",
        ],
    )?;
    arrow(&area, (850, 560), (980, 560), "OTLP push", true)?;
    boxed(
        &area,
        (980, 680, 380, 80),
        OTEL,
        &["any OTLP back end", "or Prometheus via the collector"],
    )?;
    arrow(&area, (1170, 630), (1170, 680), "", false)?;
    caption(
        &area,
        (920, 780),
        "solid: pull or forward; dashed: the instances push (no scrape needed)",
        14,
    )?;
    area.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
