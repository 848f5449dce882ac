//! Reading a monitor CSV back, strictly: every problem names its line and column.

use std::collections::HashMap;

use crate::record::{REQUIRED, Record};

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
    /// The contract's columns.
    pub record: Record,
    /// `cache_hits + cache_misses`, when the file has those extra columns.
    pub cache_reads: Option<f64>,
}

fn error(line: u64, column: Option<&str>, message: impl Into<String>) -> CsvError {
    CsvError {
        line,
        column: column.map(str::to_owned),
        message: message.into(),
    }
}

/// Parses a whole monitor CSV. Empty cells are missing figures (a failed poll); anything else
/// that is not a number is an error.
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
    let index: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h, i)).collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !index.contains_key(c))
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
    let col = |name: &str| index.get(name).copied();
    let mut rows = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| from_csv(&e, 0))?;
        let line = record.position().map_or(0, csv::Position::line);
        let cell = |name: &str| col(name).and_then(|i| record.get(i)).unwrap_or("");
        let number = |name: &str| -> Result<Option<f64>, CsvError> {
            let text = cell(name);
            if text.is_empty() || text.eq_ignore_ascii_case("nan") {
                return Ok(None);
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(error(line, Some(name), format!("`{text}` is not a number"))),
            }
        };
        let timestamp = number("timestamp")?.ok_or_else(|| {
            error(
                line,
                Some("timestamp"),
                "empty; every row needs its Unix time in seconds",
            )
        })?;
        let host = cell("host");
        if host.is_empty() {
            return Err(error(
                line,
                Some("host"),
                "empty; every row needs the polled host",
            ));
        }
        let status_text = cell("status");
        let status = status_text
            .parse::<f64>()
            .ok()
            .filter(|s| s.fract() == 0.0 && (0.0..=999.0).contains(s));
        let Some(status) = status else {
            return Err(error(
                line,
                Some("status"),
                format!("`{status_text}` is not an HTTP status (0 for unreachable, else 100–999)"),
            ));
        };
        let reads = match (
            number_opt(&number, col("cache_hits"), "cache_hits")?,
            number_opt(&number, col("cache_misses"), "cache_misses")?,
        ) {
            (Some(h), Some(m)) => Some(h + m),
            _ => None,
        };
        rows.push(Parsed {
            record: Record {
                timestamp,
                host: host.to_owned(),
                status: status as u16,
                api_ms: number("api_ms")?,
                cpu_percent: number("cpu_percent")?,
                memory_percent: number("memory_percent")?,
                memory_mb: number("memory_mb")?,
                db_pool_active: number("db_pool_active")?,
                db_pool_size: number("db_pool_size")?,
                db_pool_utilization_percent: number("db_pool_utilization_percent")?,
                redis_hit_rate: number("redis_hit_rate")?,
            },
            cache_reads: reads,
        });
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

/// An optional extra column: parsed when the header has it.
fn number_opt(
    number: &impl Fn(&str) -> Result<Option<f64>, CsvError>,
    present: Option<usize>,
    name: &str,
) -> Result<Option<f64>, CsvError> {
    match present {
        Some(_) => number(name),
        None => Ok(None),
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
}
