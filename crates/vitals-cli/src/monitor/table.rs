//! The console table: Time | CPU% | Mem% | Mem(MB) | API(ms) | DB Pool | Redis Hit% | Status,
//! with a Host column after Time when several hosts are polled.

use chrono::{DateTime, Local};

use crate::record::Row;
use crate::style::Style;

/// Formats header and rows with fixed widths.
#[derive(Clone, Debug)]
pub struct Table {
    host_width: Option<usize>,
    style: Style,
}

impl Table {
    /// A table for `hosts`; the Host column appears when there are several.
    pub fn new(hosts: &[String], style: Style) -> Self {
        let host_width =
            (hosts.len() > 1).then(|| hosts.iter().map(String::len).max().unwrap_or(4).max(4));
        Self { host_width, style }
    }

    /// The header line and its rule.
    pub fn header(&self) -> String {
        let host = self
            .host_width
            .map(|w| format!("{:<w$} | ", "Host"))
            .unwrap_or_default();
        let line = format!(
            "{:<10} | {host}{:<6} | {:<6} | {:<8} | {:<7} | {:<8} | {:<10} | Status",
            "Time", "CPU%", "Mem%", "Mem(MB)", "API(ms)", "DB Pool", "Redis Hit%"
        );
        let rule = "-".repeat(line.chars().count() + 2);
        format!("{}\n{rule}", self.style.bold(&line))
    }

    /// One row.
    pub fn row(&self, row: &Row) -> String {
        let r = &row.record;
        let secs = r.timestamp;
        let time: DateTime<Local> = DateTime::from(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs.max(0.0)),
        );
        let host = self
            .host_width
            .map(|w| format!("{:<w$} | ", r.host))
            .unwrap_or_default();
        let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}%"));
        let pool = match (r.db_pool_active, r.db_pool_size) {
            (Some(a), Some(s)) => format!("{a:.0}/{s:.0}"),
            _ => "-".to_owned(),
        };
        let status = match &row.error {
            None => self.style.ok(&format!("✓ {}", r.status)),
            Some(e) => self.style.error(&format!("✗ {} {e}", r.status)),
        };
        format!(
            "{:<10} | {host}{:>6} | {:>6} | {:>8} | {:>7} | {:<8} | {:<10} | {status}",
            time.format("%H:%M:%S").to_string(),
            pct(r.cpu_percent),
            pct(r.memory_percent),
            r.memory_mb.map_or("-".to_owned(), |v| format!("{v:.0}")),
            r.api_ms.map_or("-".to_owned(), |v| format!("{v:.0}")),
            pool,
            pct(r.cache_hit_rate),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Host, Outcome, Poll};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rows_line_up_with_the_header() {
        let body = serde_json::json!({
            "system": {"cpu_percent": 45.2, "memory_percent": 62.3, "memory_mb": 1024.5},
            "database": {"pool_active": 5, "pool_size": 13},
            "cache": {"hit_rate_percent": 72.5}
        });
        let poll = Poll {
            started: UNIX_EPOCH + Duration::from_secs(1_768_746_185),
            elapsed: Duration::from_millis(85),
            outcome: Outcome::Ok { status: 200, body },
        };
        let host = Host::parse("127.0.0.1:8000").expect("host");
        let table = Table::new(&[host.to_string()], Style::plain());
        let row = table.row(&Row::from_poll(&host, &poll));
        let header = table.header();
        let first = header.lines().next().unwrap_or_default();
        assert_eq!(
            first.find("| Status"),
            row.find("| ✓ 200"),
            "\n{first}\n{row}"
        );
        assert!(
            row.contains("  45.2% |  62.3% |     1024 |      85 | 5/13     | 72.5%"),
            "{row}"
        );
    }
}
