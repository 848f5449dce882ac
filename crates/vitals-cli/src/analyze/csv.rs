//! Reading a monitor CSV back, strictly: every problem names its line and column.

use std::collections::HashMap;

use crate::record::{REQUIRED, Record};
use crate::text;

/// The largest magnitude a figure of a monitor CSV may have. Real figures (Unix seconds,
/// percentages, megabytes, counters) stay far below it, and sums and averages of values within
/// it cannot overflow to infinity.
pub const MAX_MAGNITUDE: f64 = 1e15;

/// A CSV that cannot be analysed, with where and how to fix it.
#[derive(Debug, PartialEq, Eq)]
pub struct CsvError {
    /// 1-based line of the problem (the header is line 1).
    pub line: u64,
    /// The column involved, if one is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column `{c}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for CsvError {}

/// A parsed row plus the optional figures `analyze` uses when present.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// The fixed columns (docs/cli.md).
    pub record: Record,
    /// `cache_hits + cache_misses`, when the file has those extra columns.
    pub cache_reads: Option<f64>,
    /// `cache_hits` (cumulative since the server started).
    pub cache_hits: Option<f64>,
    /// `cache_misses` (cumulative since the server started).
    pub cache_misses: Option<f64>,
    /// `cache_hit_rate_recent`: the server's own last-minute hit rate.
    pub cache_hit_rate_recent: Option<f64>,
    /// `process_rss_mb`.
    pub process_rss_mb: Option<f64>,
    /// `process_cpu_percent`.
    pub process_cpu_percent: Option<f64>,
}

fn error(line: u64, column: Option<&str>, message: impl Into<String>) -> CsvError {
    CsvError {
        line,
        column: column.map(str::to_owned),
        message: message.into(),
    }
}

/// Parses a whole monitor CSV. Empty cells are missing figures (a failed poll); anything else
/// that is not a finite number within ±[`MAX_MAGNITUDE`] (`NaN`, `inf`, `1e308`, text) is an
/// error naming its line and column.
pub fn parse(bytes: &[u8]) -> Result<Vec<Parsed>, CsvError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(error(
            1,
            None,
            format!(
                "the file is empty; expected a header with {}",
                REQUIRED.join(",")
            ),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader.headers().map_err(|e| from_csv(&e, 1))?.clone();
    let index = columns(&header)?;
    let mut rows = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| from_csv(&e, 0))?;
        rows.push(
            Row {
                record: &record,
                index: &index,
            }
            .parse()?,
        );
    }
    if rows.is_empty() {
        return Err(error(
            2,
            None,
            "the file has a header but no rows; let `vitals monitor` run for at least one poll",
        ));
    }
    Ok(rows)
}

/// Where each column is, once every required one is known to be there.
fn columns(header: &csv::StringRecord) -> Result<HashMap<String, usize>, CsvError> {
    let index: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_owned(), i))
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !index.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        return Err(error(
            1,
            None,
            format!(
                "missing column(s) {}; a monitor CSV starts with {}",
                missing.join(", "),
                REQUIRED.join(",")
            ),
        ));
    }
    Ok(index)
}

/// One data row being read.
struct Row<'a> {
    record: &'a csv::StringRecord,
    index: &'a HashMap<String, usize>,
}

impl Row<'_> {
    fn line(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::line)
    }

    fn cell(&self, name: &str) -> &str {
        self.index
            .get(name)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }

    /// A figure: `None` for an empty cell, an error for anything but a finite number in range.
    fn number(&self, name: &str) -> Result<Option<f64>, CsvError> {
        let raw = self.cell(name);
        if raw.is_empty() {
            return Ok(None);
        }
        let shown = text::clean(raw);
        let problem = match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && v.abs() <= MAX_MAGNITUDE => return Ok(Some(v)),
            Ok(v) if !v.is_finite() => {
                format!("`{shown}` is not a finite number; a missing figure is an empty cell")
            }
            Ok(_) => {
                format!("`{shown}` is out of range; figures of a monitor CSV stay within ±1e15")
            }
            Err(_) => format!("`{shown}` is not a number"),
        };
        Err(error(self.line(), Some(name), problem))
    }

    /// An extra column: `None` when the header lacks it.
    fn extra(&self, name: &str) -> Result<Option<f64>, CsvError> {
        if self.index.contains_key(name) {
            self.number(name)
        } else {
            Ok(None)
        }
    }

    fn required(&self) -> Result<(f64, String, u16), CsvError> {
        let line = self.line();
        let timestamp = self.number("timestamp")?.ok_or_else(|| {
            error(
                line,
                Some("timestamp"),
                "empty; every row needs its Unix time in seconds",
            )
        })?;
        let host = text::clean(self.cell("host"));
        if host.is_empty() {
            return Err(error(
                line,
                Some("host"),
                "empty; every row needs the polled host",
            ));
        }
        let status_text = self.cell("status");
        // Whole numbers only, as written (`200`, or `200.0` from a spreadsheet).
        let status = status_text
            .parse::<f64>()
            .ok()
            .filter(|s| s.fract() == 0.0 && (0.0..=999.0).contains(s))
            .map(|s| s as u16)
            .ok_or_else(|| {
                error(
                    line,
                    Some("status"),
                    format!(
                        "`{}` is not an HTTP status (0 for unreachable, else 100–999)",
                        text::clean(status_text)
                    ),
                )
            })?;
        Ok((timestamp, host, status))
    }

    fn parse(&self) -> Result<Parsed, CsvError> {
        let (timestamp, host, status) = self.required()?;
        let cache_hits = self.extra("cache_hits")?;
        let cache_misses = self.extra("cache_misses")?;
        Ok(Parsed {
            record: Record {
                timestamp,
                host,
                status,
                api_ms: self.number("api_ms")?,
                cpu_percent: self.number("cpu_percent")?,
                memory_percent: self.number("memory_percent")?,
                memory_mb: self.number("memory_mb")?,
                db_pool_active: self.number("db_pool_active")?,
                db_pool_size: self.number("db_pool_size")?,
                db_pool_utilization_percent: self.number("db_pool_utilization_percent")?,
                cache_hit_rate: self.number("redis_hit_rate")?,
            },
            cache_reads: cache_hits.zip(cache_misses).map(|(h, m)| h + m),
            cache_hits,
            cache_misses,
            cache_hit_rate_recent: self.extra("cache_hit_rate_recent")?,
            process_rss_mb: self.extra("process_rss_mb")?,
            process_cpu_percent: self.extra("process_cpu_percent")?,
        })
    }
}

fn from_csv(e: &csv::Error, fallback_line: u64) -> CsvError {
    let line = e.position().map_or(fallback_line, csv::Position::line);
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => error(
            line,
            None,
            format!(
                "{len} fields where the header has {expected_len}; check for a missing or extra comma"
            ),
        ),
        csv::ErrorKind::Utf8 { .. } => error(line, None, "not valid UTF-8 text"),
        _ => error(line, None, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "timestamp,host,status,api_ms,cpu_percent,memory_percent,memory_mb,db_pool_active,db_pool_size,db_pool_utilization_percent,redis_hit_rate";

    #[test]
    fn reads_rows_and_empty_cells() {
        let text = format!("{HEADER}\n1.5,h,200,3.2,10,20,300,1,4,25,50\n2.5,h,0,,,,,,,,\n");
        let rows = parse(text.as_bytes()).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].record.db_pool_utilization_percent, Some(25.0));
        assert_eq!(rows[1].record.status, 0);
        assert_eq!(rows[1].record.cpu_percent, None);
    }

    #[test]
    fn columns_may_come_in_any_order_with_extras() {
        let text = "host,extra,timestamp,status,api_ms,cpu_percent,memory_percent,memory_mb,db_pool_active,db_pool_size,db_pool_utilization_percent,redis_hit_rate\nh,x,1,200,1,2,3,4,5,6,7,8\n";
        let rows = parse(text.as_bytes()).expect("valid");
        assert_eq!(rows[0].record.cpu_percent, Some(2.0));
    }

    #[test]
    fn errors_name_line_and_column() {
        let text =
            format!("{HEADER}\n1,h,200,3,10,20,300,1,4,25,50\n2,h,200,3,abc,20,300,1,4,25,50\n");
        let e = parse(text.as_bytes()).expect_err("bad number");
        assert_eq!(
            e.to_string(),
            "line 3, column `cpu_percent`: `abc` is not a number"
        );

        let e = parse(b"timestamp,host\n1,h\n").expect_err("missing columns");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("status, api_ms"), "{e}");

        let e = parse(b"").expect_err("empty");
        assert!(e.to_string().contains("empty"), "{e}");

        let e = parse(format!("{HEADER}\n").as_bytes()).expect_err("no rows");
        assert!(e.message.contains("no rows"), "{e}");

        let e = parse(format!("{HEADER}\n1,h,200\n").as_bytes()).expect_err("short row");
        assert_eq!(e.line, 2, "{e}");

        let e = parse(format!("{HEADER}\n1,h,ok,3,10,20,300,1,4,25,50\n").as_bytes())
            .expect_err("status");
        assert_eq!(e.column.as_deref(), Some("status"));
    }

    #[test]
    fn non_finite_and_absurd_numbers_are_refused_with_line_and_column() {
        let header = format!("{HEADER},cache_hits,cache_misses,process_rss_mb");
        let good = "1,h,200,3,10,20,300,1,4,25,50,1,2,9.5";
        for (row, column, what) in [
            (
                "1,h,200,3,1e308,20,300,1,4,25,50,1,2,9.5",
                "cpu_percent",
                "out of range",
            ),
            (
                "1,h,200,3,10,20,1e309,1,4,25,50,1,2,9.5",
                "memory_mb",
                "not a finite number",
            ),
            (
                "NaN,h,200,3,10,20,300,1,4,25,50,1,2,9.5",
                "timestamp",
                "not a finite number",
            ),
            (
                "1,h,200,inf,10,20,300,1,4,25,50,1,2,9.5",
                "api_ms",
                "not a finite number",
            ),
            (
                "1,h,200,3,10,20,300,1,4,25,50,-infinity,2,9.5",
                "cache_hits",
                "not a finite number",
            ),
            (
                "1,h,200,3,10,20,300,1,4,25,50,1,2,nan",
                "process_rss_mb",
                "not a finite number",
            ),
            (
                "1,h,200,3,10,20,300,1,4,25,-1e16,1,2,9.5",
                "redis_hit_rate",
                "out of range",
            ),
        ] {
            let text = format!("{header}\n{good}\n{row}\n");
            let e = parse(text.as_bytes()).expect_err(row);
            assert_eq!((e.line, e.column.as_deref()), (3, Some(column)), "{e}");
            assert!(e.message.contains(what), "{e}");
        }
        let rows = parse(format!("{header}\n{good}\n").as_bytes()).expect("valid");
        assert_eq!(rows[0].process_rss_mb, Some(9.5));
        assert_eq!(
            (rows[0].cache_hits, rows[0].cache_misses),
            (Some(1.0), Some(2.0))
        );
    }
}
