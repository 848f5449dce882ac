//! `vitals alerts`: the alert rules against live polls, with monitoring-plugin exit codes.

mod render;

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use vitals_core::alerts::{RULES, UP_FIGURE};
use vitals_core::{Snapshot, rfc3339_micros};

use crate::http::{Client, DEFAULT_HOST, Host, Outcome, Poll};
use crate::json_path;
use crate::monitor::schedule;
use crate::signal::Stop;
use crate::style::Style;
use crate::text;
use vitals_core::evaluator::{
    self as eval, Evaluator, Mode, RECENT_HIT_RATE, SINCE_START_HIT_RATE, Verdict,
};

/// Evaluate the alert rules against a server; exit like a monitoring plugin.
///
/// Rules: HighCPUUsage, CriticalCPUUsage, HighMemoryUsage, CriticalMemoryUsage,
/// DatabasePoolExhausted, DatabasePoolHigh, LowCacheHitRate, CacheErrors, SlowRequests,
/// RuntimeSaturated, InstanceDown; and, for each service-level objective the server reports
/// (its `slos` section), SLOFastBurn: the error budget burning more than 14.4 times too fast
/// over both the last hour and the last 5 minutes (critical). A server without an `http` or
/// `runtime` section leaves SlowRequests or RuntimeSaturated not evaluable (n/a); the other
/// rules are still checked. A server that cannot be reached at all (refused, timed out) holds
/// InstanceDown: CRITICAL at once in a one-shot check; when watching, UNKNOWN until it has
/// been unreachable for 1m.
/// A one-shot check tests each condition once (a `for` duration is not waited for, and the
/// counter rules CacheErrors / SlowRequests cannot fire without a second poll). With --watch
/// the rules are evaluated at every poll, each `for` duration is honoured and counters are
/// compared with the previous poll; the exit status is that of the last poll.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
vitals alerts\n  \
vitals alerts --host http://10.0.0.5:8000 --format json\n  \
vitals alerts --watch --interval 15\n  \
vitals alerts --watch --interval 5 --count 12\n\n\
Exit status: 0 OK (nothing firing, or only info), 1 WARNING, 2 CRITICAL (also: server\n\
unreachable, InstanceDown), 3 UNKNOWN (its answer unreadable, or bad arguments).")]
pub struct Args {
    /// Server base URL.
    #[arg(long, default_value = DEFAULT_HOST, value_name = "URL")]
    host: String,
    /// Keep polling and honour each rule's `for` duration.
    #[arg(long)]
    watch: bool,
    /// Time between polls when watching (seconds, or e.g. 30s, 1m).
    #[arg(long, default_value = "15", value_parser = crate::duration::parse, value_name = "SECS", requires = "watch")]
    interval: Duration,
    /// Stop watching after this many polls (at least 1).
    #[arg(long, value_name = "N", requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Per-request timeout [default: 5s, or 80% of the interval when watching, at most 10s].
    #[arg(long, value_parser = crate::duration::parse, value_name = "SECS")]
    timeout: Option<Duration>,
}

/// How to print results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A plugin-style report (one-shot) or one status line per poll (watch).
    Text,
    /// One JSON object (one-shot) or one per line per poll (watch).
    Json,
}

/// Runs the command.
pub fn run(args: &Args, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let host = Host::parse(&args.host)?;
    let default_timeout = if args.watch {
        args.interval.mul_f64(0.8).min(Duration::from_secs(10))
    } else {
        Duration::from_secs(5)
    };
    let client = Client::new(args.timeout.unwrap_or(default_timeout), token);
    let verdict = if args.watch {
        watch(args, &host, &client)?
    } else {
        once(args, &host, &client)
    };
    Ok(ExitCode::from(verdict.exit_code()))
}

/// Why a poll gave no snapshot to evaluate.
enum Failure {
    /// No answer at all (refused, timed out, reset): InstanceDown's condition.
    Unreachable(String),
    /// An answer that is not a usable snapshot (an HTTP error, not JSON, figures missing):
    /// the server is there but cannot be judged, so UNKNOWN.
    Unreadable(String),
}

/// The snapshot of a poll, or why it cannot be evaluated: no answer, an answer that is not a
/// snapshot, or a snapshot without the figures the rules read.
fn readable(host: &Host, poll: Poll) -> Result<Value, Failure> {
    let unreadable = |message: String| Err(Failure::Unreadable(message));
    match poll.outcome {
        Outcome::Ok { body, .. } => {
            let missing = missing_for_rules(&body);
            if !missing.is_empty() {
                return unreadable(format!(
                    "{host} answered a snapshot without {}, which the alert rules read; \
                     is it a Vitals server (or a proxy answering in its place)?",
                    json_path::describe_missing(&body, &missing)
                ));
            }
            match serde_json::from_value::<Snapshot>(body.clone()) {
                Ok(_) => Ok(body),
                Err(e) => unreadable(text::clean(&format!(
                    "{host} answered JSON that is not a Vitals snapshot ({e})"
                ))),
            }
        }
        Outcome::Http { message, .. } => unreadable(message),
        Outcome::Unreachable { message } => Err(Failure::Unreachable(format!(
            "cannot reach {host}: {message}"
        ))),
    }
}

/// Sections a Vitals server may lack: `http` (an app without the request layer) and
/// `runtime` (no runtime collector registered, or a server from before it). A rule reading one
/// of them is then not evaluable, and the other rules are checked as usual.
const OPTIONAL_SECTIONS: [&str; 2] = ["http", "runtime"];

/// Whether `path` (`section.field`) lies in an optional section.
fn is_optional(path: &str) -> bool {
    path.split('.')
        .next()
        .is_some_and(|section| OPTIONAL_SECTIONS.contains(&section))
}

/// A line naming the rules that cannot be evaluated because `body` lacks an optional section,
/// e.g. ``RuntimeSaturated n/a: the server reports no `runtime` section``; `None` when it has them all.
fn absent_sections_note(body: &Value) -> Option<String> {
    let parts: Vec<String> = OPTIONAL_SECTIONS
        .iter()
        .filter(|section| json_path::lookup(body, section).is_none_or(Value::is_null))
        .filter_map(|section| {
            let rules: Vec<&str> = RULES
                .iter()
                .filter(|r| r.json.split('.').next() == Some(*section))
                .map(|r| r.name)
                .collect();
            (!rules.is_empty()).then(|| format!("{} (no `{section}` section)", rules.join(", ")))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("not evaluable on this server: {}", parts.join("; ")))
}

/// The rule figures `body` lacks, outside the optional sections; a server without the recent
/// hit rate is judged on its since-start one.
fn missing_for_rules(body: &Value) -> Vec<&'static str> {
    let mut needed: Vec<&'static str> = Vec::new();
    for rule in RULES.iter().filter(|r| r.json != UP_FIGURE) {
        let path =
            if rule.json == RECENT_HIT_RATE && json_path::lookup(body, RECENT_HIT_RATE).is_none() {
                SINCE_START_HIT_RATE
            } else {
                rule.json
            };
        if !is_optional(path) && !needed.contains(&path) {
            needed.push(path);
        }
    }
    json_path::missing(body, &needed)
}

fn now_text() -> String {
    rfc3339_micros(SystemTime::now())
}

fn once(args: &Args, host: &Host, client: &Client) -> Verdict {
    let st = Style::stdout();
    let at = now_text();
    match readable(host, client.poll(host)) {
        Ok(body) => {
            let mut ev = Evaluator::new(Mode::Instant);
            let statuses = ev.observe_document(Duration::ZERO, &body);
            let verdict = eval::verdict(&statuses);
            match args.format {
                Format::Text => {
                    print!("{}", render::table(host.as_str(), verdict, &statuses, st));
                    if let Some(note) = absent_sections_note(&body) {
                        println!("{}", st.dim(&note));
                    }
                }
                Format::Json => println!(
                    "{:#}",
                    render::json(host.as_str(), &at, "instant", verdict, &statuses, None)
                ),
            }
            verdict
        }
        Err(Failure::Unreachable(e)) => {
            let mut ev = Evaluator::new(Mode::Instant);
            let statuses = ev.observe_unreachable(Duration::ZERO);
            let verdict = eval::verdict(&statuses);
            match args.format {
                Format::Text => {
                    print!("{}", render::table(host.as_str(), verdict, &statuses, st));
                    println!("{}", st.dim(&e));
                }
                Format::Json => println!(
                    "{:#}",
                    render::json(host.as_str(), &at, "instant", verdict, &statuses, Some(&e))
                ),
            }
            verdict
        }
        Err(Failure::Unreadable(e)) => {
            unknown(args.format, host, &at, "instant", &e, st);
            Verdict::Unknown
        }
    }
}

fn unknown(format: Format, host: &Host, at: &str, mode: &str, error: &str, st: Style) {
    match format {
        Format::Text => println!("{} - {error}", st.error("UNKNOWN")),
        Format::Json => println!(
            "{}",
            render::json(host.as_str(), at, mode, Verdict::Unknown, &[], Some(error))
        ),
    }
}

/// One watch poll's output: transitions and a status line (then the error, if any), or one
/// JSON line.
fn print_poll(
    format: Format,
    host: &Host,
    at: &str,
    verdict: Verdict,
    statuses: &[eval::RuleStatus],
    error: Option<&str>,
    st: Style,
) {
    match format {
        Format::Text => {
            let time = chrono::Local::now().format("%H:%M:%S").to_string();
            print!(
                "{}",
                render::watch_lines(&time, host.as_str(), verdict, statuses, st)
            );
            if let Some(e) = error {
                println!("{time} {}", st.dim(e));
            }
        }
        Format::Json => println!(
            "{}",
            render::json(host.as_str(), at, "watch", verdict, statuses, error)
        ),
    }
}

fn watch(args: &Args, host: &Host, client: &Client) -> anyhow::Result<Verdict> {
    let st = Style::stdout();
    let stop = Stop::install()?;
    let start = Instant::now();
    let mut ev = Evaluator::new(Mode::Sustained);
    let mut last = Verdict::Unknown;
    let (mut tick, mut polls) = (0u64, 0u64);
    loop {
        if args.count.is_some_and(|n| polls >= n) {
            break;
        }
        if !stop.sleep_until(start + schedule::offset(tick, args.interval)) {
            break;
        }
        let at = now_text();
        let poll = client.poll(host);
        let now = start.elapsed();
        match readable(host, poll) {
            Ok(body) => {
                let statuses = ev.observe_document(now, &body);
                last = eval::verdict(&statuses);
                print_poll(args.format, host, &at, last, &statuses, None, st);
            }
            Err(Failure::Unreachable(e)) => {
                // Only InstanceDown moves; the other rules keep their states. Until it fires,
                // nothing was judged: UNKNOWN rather than OK.
                let statuses = ev.observe_unreachable(now);
                last = match eval::verdict(&statuses) {
                    Verdict::Ok => Verdict::Unknown,
                    v => v,
                };
                print_poll(args.format, host, &at, last, &statuses, Some(&e), st);
            }
            Err(Failure::Unreadable(e)) => {
                // Keep the rule states: one unreadable poll neither fires nor resolves anything.
                last = Verdict::Unknown;
                unknown(args.format, host, &at, "watch", &e, st);
            }
        }
        polls += 1;
        if stop.requested() {
            break;
        }
        tick = schedule::next_tick(tick, start.elapsed(), args.interval);
    }
    eprintln!(
        "vitals alerts: {polls} polls of {host}; last status {}",
        last.as_str()
    );
    Ok(last)
}

#[cfg(test)]
mod agreement;

#[cfg(test)]
mod tests {
    use super::{absent_sections_note, missing_for_rules};
    use serde_json::json;
    use std::time::Duration;
    use vitals_core::evaluator::figure;

    #[test]
    fn rule_figures_that_are_missing_are_listed() {
        let full = json!({
            "system": {"cpu_percent": 1.0, "memory_percent": 2.0},
            "database": {"pool_utilization_percent": 0.0},
            "cache": {"errors": 0, "hit_rate_percent": 0.0}
        });
        assert!(missing_for_rules(&full).is_empty());
        let bare = json!({"timestamp": "2026-01-18T14:23:45.123456Z"});
        assert_eq!(
            missing_for_rules(&bare),
            [
                "system.cpu_percent",
                "system.memory_percent",
                "database.pool_utilization_percent",
                "cache.hit_rate_percent",
                "cache.errors"
            ]
        );
    }

    #[test]
    fn runtime_and_http_sections_are_optional_the_others_are_not() {
        let older = json!({
            "system": {"cpu_percent": 1.0, "memory_percent": 2.0},
            "database": {"pool_utilization_percent": 0.0},
            "cache": {"errors": 0, "hit_rate_percent": 0.0}
        });
        assert!(missing_for_rules(&older).is_empty());
        assert_eq!(
            absent_sections_note(&older).as_deref(),
            Some(
                "not evaluable on this server: SlowRequests (no `http` section); \
                 RuntimeSaturated (no `runtime` section)"
            )
        );
        assert_eq!(figure(&older, "runtime.busy_ratio"), None);

        let mut current = older.clone();
        current["http"] = json!({"slow_requests_total": 0});
        current["runtime"] = json!({"workers": 2, "busy_ratio": 0.93});
        assert_eq!(absent_sections_note(&current), None);
        assert_eq!(figure(&current, "runtime.busy_ratio"), Some(0.93));

        // An optional section does not excuse a missing required one.
        let partial = json!({"runtime": {"busy_ratio": 0.5}, "http": {}});
        assert_eq!(
            missing_for_rules(&partial),
            [
                "system.cpu_percent",
                "system.memory_percent",
                "database.pool_utilization_percent",
                "cache.hit_rate_percent",
                "cache.errors"
            ]
        );
    }

    /// A snapshot as a current server sends it, with the runtime `busy` (0 to 1).
    fn with_runtime(busy: f64) -> serde_json::Value {
        json!({
            "system": {"cpu_percent": 10.0, "memory_percent": 20.0},
            "database": {"pool_utilization_percent": 0.0},
            "cache": {"enabled": true, "errors": 0, "hit_rate_percent": 90.0,
                      "hit_rate_recent_percent": 90.0, "total_reads_recent": 10},
            "runtime": {"workers": 2, "busy_ratio": busy, "global_queue_depth": 40}
        })
    }

    /// RuntimeSaturated through the real path of a watch poll (JSON → figure → evaluator) on a
    /// clock the test moves by hand.
    #[test]
    fn runtime_saturated_pends_under_five_minutes_then_fires_and_resolves() {
        use super::eval::{Evaluator, Mode, Phase, Verdict, verdict};
        let mut now = Duration::from_secs(1_000);
        let mut ev = Evaluator::new(Mode::Sustained);
        let mut poll = |advance: u64, busy: f64| {
            now += Duration::from_secs(advance);
            let body = with_runtime(busy);
            let all = ev.observe(now, |p| figure(&body, p));
            let s = all
                .iter()
                .find(|s| s.rule.name == "RuntimeSaturated")
                .expect("RuntimeSaturated is evaluated")
                .clone();
            (s, verdict(&all))
        };
        let (s, v) = poll(0, 0.95);
        assert_eq!((s.phase, v), (Phase::Pending, Verdict::Ok));
        let (s, v) = poll(299, 0.97);
        assert_eq!((s.phase, v), (Phase::Pending, Verdict::Ok), "4m59s < 5m");
        assert_eq!(s.held_for, Some(Duration::from_secs(299)));
        let (s, v) = poll(1, 0.93);
        assert_eq!((s.phase, v), (Phase::Firing, Verdict::Warning), "5m");
        assert_eq!(s.value, Some(0.93));
        // At the threshold is not above it: resolved.
        let (s, v) = poll(15, 0.9);
        assert_eq!((s.phase, v), (Phase::Inactive, Verdict::Ok));
        // Saturated again, briefly: the timer starts over.
        let (s, _) = poll(15, 0.99);
        assert_eq!(s.phase, Phase::Pending);
        let (s, _) = poll(120, 0.99);
        assert_eq!(s.phase, Phase::Pending);
        assert_eq!(s.held_for, Some(Duration::from_secs(120)));
    }

    /// A server that drops its runtime section mid-watch: the rule becomes not evaluable (and a
    /// firing alert resolves) while the other rules go on.
    #[test]
    fn runtime_saturated_without_a_runtime_section_is_not_evaluable() {
        use super::eval::{Evaluator, Mode, Phase, Transition, Verdict, verdict};
        let mut ev = Evaluator::new(Mode::Sustained);
        let saturated = with_runtime(0.99);
        ev.observe(Duration::ZERO, |p| figure(&saturated, p));
        let all = ev.observe(Duration::from_secs(300), |p| figure(&saturated, p));
        assert_eq!(verdict(&all), Verdict::Warning);

        let mut older = with_runtime(0.0);
        older.as_object_mut().expect("object").remove("runtime");
        older["system"]["cpu_percent"] = json!(99.0);
        assert!(missing_for_rules(&older).is_empty(), "no UNKNOWN for it");
        let all = ev.observe(Duration::from_secs(315), |p| figure(&older, p));
        let runtime = all
            .iter()
            .find(|s| s.rule.name == "RuntimeSaturated")
            .expect("status");
        assert_eq!(runtime.phase, Phase::NotEvaluable);
        assert_eq!(runtime.transition, Some(Transition::Resolved));
        let cpu = all
            .iter()
            .find(|s| s.rule.name == "CriticalMemoryUsage")
            .expect("status");
        assert_eq!(cpu.phase, Phase::Inactive, "the other rules still run");
        let cpu = all
            .iter()
            .find(|s| s.rule.name == "HighCPUUsage")
            .expect("status");
        assert_eq!(cpu.phase, Phase::Pending);
    }
}
