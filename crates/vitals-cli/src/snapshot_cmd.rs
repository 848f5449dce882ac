//! `vitals snapshot`: one fetch of `/api/v1/metrics`, as a summary, raw JSON or one field.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use vitals_core::Snapshot;

use crate::http::{Client, DEFAULT_HOST, Fetched, Host, Outcome};
use crate::json_path;
use crate::style::Style;
use crate::text;

/// Fetch /api/v1/metrics once and print it.
///
/// On a terminal the default is a readable summary; when the output is piped it is the raw
/// JSON document, ready for jq. --field prints a single value.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
vitals snapshot\n  \
vitals snapshot --host http://10.0.0.5:8000 --format json | jq .cache\n  \
vitals snapshot --field database.pool_active\n  \
vitals snapshot --routes\n\n\
Exit status: 0 printed, 1 server unreachable, not a (complete) Vitals snapshot, or unknown\n\
--field, 2 bad arguments (a bad --host included).")]
pub struct Args {
    /// Server base URL.
    #[arg(long, default_value = DEFAULT_HOST, value_name = "URL")]
    host: String,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Print only this field, as a dotted path (e.g. database.pool_active, system.cpu_percent).
    #[arg(long, value_name = "PATH", conflicts_with = "format")]
    field: Option<String>,
    /// Print the routes of the last minute (http.routes: rate, 5xx share, p50/p95/p99, the
    /// slowest request's id) as a table, or as JSON with --format json.
    #[arg(long, conflicts_with = "field")]
    routes: bool,
    /// Give up after this long (seconds, or e.g. 500ms).
    #[arg(long, default_value = "5", value_parser = crate::duration::parse, value_name = "SECS")]
    timeout: Duration,
}

/// How to print the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A readable summary.
    Text,
    /// The server's JSON document, unchanged.
    Json,
}

/// Runs the command.
pub fn run(args: &Args, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let host = Host::parse(&args.host)?;
    let client = Client::new(args.timeout, token);
    let poll = client.poll(&host);
    let body = match poll.outcome {
        Outcome::Ok { body, .. } => body,
        Outcome::Http { message, .. } => bail!("{message}"),
        Outcome::Unreachable { message } => bail!("cannot reach {host}: {message}"),
    };
    if let Some(path) = &args.field {
        println!("{}", field(&body, path)?);
        return Ok(ExitCode::SUCCESS);
    }
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Text
    } else {
        Format::Json
    });
    if args.routes {
        return routes(&host, body, format);
    }
    match format {
        Format::Json => println!("{body}"),
        Format::Text => {
            // Absent sections would read as zeros: say what is missing instead.
            let missing = json_path::missing(&body, &json_path::SEED_FIELDS);
            if !missing.is_empty() {
                bail!(
                    "{host} answered a snapshot without {}; try --format json to see what it sent",
                    json_path::describe_missing(&body, &missing)
                );
            }
            // Every string the summary may show is server text: clean them all at once.
            let mut body = body;
            text::clean_json(&mut body);
            let snapshot: Snapshot = serde_json::from_value(body).with_context(|| {
                format!("{host} answered JSON that is not a Vitals snapshot; try --format json to see it")
            })?;
            let style = Style::stdout();
            print!("{}", summary(&host, &snapshot, poll.elapsed, style));
            for problem in readiness_problems(&client, &host) {
                println!("{} {problem}", style.warn("warning:"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--routes`: the `http.routes` list, as JSON or as a table.
fn routes(host: &Host, mut body: Value, format: Format) -> anyhow::Result<ExitCode> {
    let Some(http) = body.get("http").filter(|h| h.is_object()) else {
        bail!("{host} reports no `http` section (no request layer), so no routes");
    };
    match format {
        Format::Json => println!("{}", http.get("routes").unwrap_or(&Value::Null)),
        Format::Text => {
            text::clean_json(&mut body);
            let http: vitals_core::HttpSection = serde_json::from_value(body["http"].take())
                .with_context(|| format!("{host} answered an `http` section Vitals cannot read"))?;
            print!(
                "{}",
                crate::routes_table::table(
                    &http.routes,
                    http.latency_window_seconds,
                    Style::stdout()
                )
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The value at `path`: strings bare, numbers as JSON writes them, objects as JSON.
fn field(body: &Value, path: &str) -> anyhow::Result<String> {
    match json_path::lookup(body, path) {
        Some(Value::String(s)) => Ok(text::clean(s)),
        Some(v) => Ok(v.to_string()),
        None => {
            let (at, keys) = json_path::siblings(body, path);
            let keys: Vec<String> = keys.iter().map(|k| text::clean(k)).collect();
            let path = text::clean(path);
            let place = if at.is_empty() {
                "the top level".to_owned()
            } else {
                format!("`{at}`")
            };
            bail!(
                "no field `{path}` in the snapshot; {place} has: {}",
                keys.join(", ")
            )
        }
    }
}

/// The readable summary.
fn summary(host: &Host, s: &Snapshot, elapsed: Duration, st: Style) -> String {
    let mut out = String::new();
    let line = |out: &mut String, label: &str, text: String| {
        out.push_str(&format!("{}  {text}\n", st.bold(&format!("{label:<9}"))));
    };
    out.push_str(&format!(
        "{} {} at {} {}\n",
        st.bold("Vitals snapshot of"),
        host,
        s.timestamp,
        st.dim(&format!("({:.1} ms)", elapsed.as_secs_f64() * 1000.0))
    ));
    line(&mut out, "System", system_text(s));
    line(&mut out, "Database", database_text(s));
    line(&mut out, "Cache", cache_text(s));
    if let Some(h) = &s.http {
        line(
            &mut out,
            "HTTP",
            format!(
                "{} requests, {} in flight, {} slow; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
                h.requests_total,
                h.in_flight,
                h.slow_requests_total,
                h.latency_p50_ms,
                h.latency_p95_ms,
                h.latency_p99_ms
            ),
        );
    }
    if let Some(p) = &s.process {
        line(
            &mut out,
            "Process",
            format!(
                "pid {}  CPU {:.1}%  RSS {:.1} MB  {} threads  up {}s",
                p.pid, p.cpu_percent, p.rss_mb, p.threads, p.uptime_seconds
            ),
        );
    }
    if let Some(e) = s.system.as_ref().and_then(|sys| sys.error.as_ref()) {
        out.push_str(&format!("{} system: {e}\n", st.warn("warning:")));
    }
    out
}

/// A section the server does not report (nothing registered it).
const ABSENT: &str = "not reported";

fn system_text(s: &Snapshot) -> String {
    s.system.as_ref().map_or_else(|| ABSENT.to_owned(), |sys| {
        format!(
            "CPU {:.1}%  memory {:.1}% ({:.0} MB used, {:.0} MB available)  disk read {:.1} MB, written {:.1} MB",
            sys.cpu_percent,
            sys.memory_percent,
            sys.memory_mb,
            sys.memory_available_mb,
            sys.disk_read_mb,
            sys.disk_write_mb
        )
    })
}

fn database_text(s: &Snapshot) -> String {
    s.database.as_ref().map_or_else(
        || ABSENT.to_owned(),
        |db| {
            format!(
                "pool {}/{} active ({:.1}%), {} idle, min {} max {}{}",
                db.pool_active,
                db.pool_size,
                db.pool_utilization_percent,
                db.pool_available,
                db.pool_min_size,
                db.pool_max_size,
                tag(&db.backend)
            )
        },
    )
}

fn cache_text(s: &Snapshot) -> String {
    match &s.cache {
        Some(c) if c.enabled => format!(
            "hit rate {:.1}% last minute ({} reads), {:.1}% since start ({} hits / {} reads)  {} sets, {} deletes, {} errors{}",
            c.hit_rate_recent_percent,
            c.total_reads_recent,
            c.hit_rate_percent,
            c.hits,
            c.total_reads,
            c.sets,
            c.deletes,
            c.errors,
            tag(&c.backend)
        ),
        Some(_) => "disabled".to_owned(),
        None => ABSENT.to_owned(),
    }
}

/// What `/health/ready` says about each dependency that is not `ok`, one line each (e.g.
/// `cache degraded: … authentication failed …`); nothing when it cannot be read.
fn readiness_problems(client: &Client, host: &Host) -> Vec<String> {
    let Fetched::Ok(body) = client.get_bytes(host, "/health/ready") else {
        return Vec::new();
    };
    let Ok(ready) = serde_json::from_slice::<Value>(&body) else {
        return Vec::new();
    };
    problems(&ready)
}

fn problems(ready: &Value) -> Vec<String> {
    let Some(checks) = ready["checks"].as_object() else {
        return Vec::new();
    };
    checks
        .iter()
        .filter(|(_, check)| check["status"] != "ok")
        .map(|(name, check)| {
            let status = check["status"].as_str().unwrap_or("unknown");
            let error = check["error"].as_str().unwrap_or("no reason given");
            text::clean(&format!("{name} {status}: {error}"))
        })
        .collect()
}

fn tag(backend: &str) -> String {
    if backend.is_empty() {
        String::new()
    } else {
        format!("  [{backend}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_prints_scalars_bare() {
        let body = json!({"database": {"pool_active": 5, "backend": "sqlite"}, "cache": {"enabled": true}});
        assert_eq!(field(&body, "database.pool_active").expect("field"), "5");
        assert_eq!(field(&body, "database.backend").expect("field"), "sqlite");
        assert_eq!(field(&body, "cache.enabled").expect("field"), "true");
        let err = field(&body, "database.pool_actve").expect_err("unknown");
        assert!(err.to_string().contains("pool_active"), "{err}");
    }

    #[test]
    fn readiness_problems_name_the_check_and_its_reason() {
        let ready = json!({"status": "ready", "checks": {
            "database": {"status": "ok", "backend": "sqlite"},
            "cache": {"status": "degraded", "backend": "redis", "error": "authentication failed (WRONGPASS)\u{1b}[2J"}
        }});
        assert_eq!(
            problems(&ready),
            vec!["cache degraded: authentication failed (WRONGPASS)".to_owned()]
        );
        assert!(problems(&json!({})).is_empty());
    }

    #[test]
    fn summary_mentions_every_section() {
        let mut s = Snapshot {
            timestamp: "2026-01-18T14:23:45.123456Z".into(),
            ..Snapshot::default()
        };
        let db = s.database.get_or_insert_default();
        db.pool_active = 5;
        db.pool_size = 13;
        s.cache = Some(vitals_core::CacheSection::default());
        let host = Host::parse("127.0.0.1:8000").expect("host");
        let text = summary(&host, &s, Duration::from_millis(2), Style::plain());
        for needle in [
            "not reported",
            "Database",
            "pool 5/13 active",
            "Cache",
            "disabled",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}
