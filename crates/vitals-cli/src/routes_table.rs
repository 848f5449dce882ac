//! `vitals snapshot --routes`: the `http.routes` list as a table, busiest route first.

use std::fmt::Write;

use vitals_core::RouteFigures;

use crate::style::Style;
use crate::text;

/// The table of `routes` over a window of `window_seconds`.
pub fn table(routes: &[RouteFigures], window_seconds: u64, st: Style) -> String {
    let mut out = String::new();
    if routes.is_empty() {
        let _ = writeln!(out, "no requests in the last {window_seconds} s");
        return out;
    }
    let rows: Vec<[String; 8]> = routes
        .iter()
        .map(|r| {
            let slowest = r.slowest.as_ref().map_or_else(
                || "-".to_owned(),
                |s| format!("{:.1} ms {}", s.duration_ms, text::clean(&s.id)),
            );
            [
                text::clean(&r.method),
                text::clean(&r.route),
                format!("{:.2}", r.requests_per_second),
                format!("{:.2}", r.error_percent),
                format!("{:.1}", r.p50_ms),
                format!("{:.1}", r.p95_ms),
                format!("{:.1}", r.p99_ms),
                slowest,
            ]
        })
        .collect();
    let head = [
        "Method", "Route", "Req/s", "5xx %", "p50 ms", "p95 ms", "p99 ms", "Slowest",
    ];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            // Names left, figures right, the slowest request last as it comes.
            match i {
                0 | 1 => l.push_str(&format!("{c}{}", " ".repeat(pad))),
                7 => l.push_str(c),
                _ => l.push_str(&format!("{}{c}", " ".repeat(pad))),
            }
            if i + 1 < cells.len() {
                l.push_str("  ");
            }
        }
        l
    };
    let head: Vec<String> = head.iter().map(|h| (*h).to_owned()).collect();
    let _ = writeln!(out, "{}", st.bold(line(&head).trim_end()));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row).trim_end());
    }
    let _ = writeln!(
        out,
        "{}",
        st.dim(&format!(
            "last {window_seconds} s; Vitals' own routes left out; slowest: a recent request's trace or request id"
        ))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitals_core::SlowRequest;

    #[test]
    fn columns_line_up_and_ids_are_shown() {
        let routes = vec![
            RouteFigures {
                method: "POST".into(),
                route: "/api/v1/chat".into(),
                requests_per_second: 12.5,
                error_percent: 0.4,
                p50_ms: 3.2,
                p95_ms: 40.0,
                p99_ms: 95.5,
                slowest: Some(SlowRequest {
                    id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                    duration_ms: 734.21,
                    ..SlowRequest::default()
                }),
            },
            RouteFigures {
                method: "GET".into(),
                route: "/api/v1/users/{user_id}/history\u{1b}[2J".into(),
                requests_per_second: 1.0,
                ..RouteFigures::default()
            },
        ];
        let text = table(&routes, 60, Style::plain());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Method  Route"), "{text}");
        assert!(
            lines[1].contains("734.2 ms 4bf92f3577b34da6a3ce929d0e0e4736"),
            "{text}"
        );
        assert!(lines[2].ends_with(" -"), "{text}");
        assert!(!text.contains('\u{1b}'), "server text is cleaned");
        let column = |l: &str| l.find("Req/s").or_else(|| l.find("12.50"));
        assert_eq!(
            column(lines[0]).map(|c| c + 5),
            column(lines[1]).map(|c| c + 5)
        );
        assert!(table(&[], 60, Style::plain()).contains("no requests"));
    }
}
