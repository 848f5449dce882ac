//! `docs/performance.md`, written from one run's figures, and the short summary printed at
//! the end of the run.

use std::fmt::Write as _;

use super::stats::{median, min_max, percentile};
use super::wrk::Run;
use super::{Results, counts};
use crate::instructions::baseline::thousands;

/// One of the project's performance targets against this run's figures.
struct Check {
    what: &'static str,
    baseline: String,
    ours: String,
    target: &'static str,
    met: bool,
}

/// The flood target's margin: 30 MB (10^6 bytes each) in KiB.
const THIRTY_MB_IN_KIB: u64 = 30_000_000 / 1024;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn median_of(runs: &[Run], f: impl Fn(&Run) -> f64) -> f64 {
    median(&runs.iter().map(f).collect::<Vec<_>>())
}

/// The median over paired runs of `f(ours, baseline)`: each run of a stack is compared with
/// the baseline's run of the same round, so slow drifts of the machine cancel out.
fn paired(base: &[f64], other: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let values: Vec<f64> = other.iter().zip(base).map(|(o, b)| f(*o, *b)).collect();
    median(&values)
}

fn oneshot_runs<'a>(r: &'a Results, mode: &str) -> &'a [f64] {
    r.oneshot
        .modes
        .iter()
        .find(|(m, _)| m == mode)
        .map_or(&[], |(_, runs)| runs.as_slice())
}

/// Median over runs of (stack − bare), ns.
fn oneshot_overhead(r: &Results, mode: &str) -> f64 {
    paired(oneshot_runs(r, "bare"), oneshot_runs(r, mode), |o, b| o - b)
}

fn hello_rounds(r: &Results, mode: &str) -> Vec<f64> {
    r.hello
        .iter()
        .find(|m| m.name == mode)
        .map_or_else(Vec::new, |m| m.runs.iter().map(|x| x.rps).collect())
}

/// Median over rounds of (stack rps / bare rps).
fn hello_ratio(r: &Results, mode: &str) -> f64 {
    paired(&hello_rounds(r, "bare"), &hello_rounds(r, mode), |o, b| {
        o / b.max(f64::MIN_POSITIVE)
    })
}

/// Growth of VmRSS under load, MiB.
fn hello_growth(r: &Results, mode: &str) -> f64 {
    r.hello
        .iter()
        .find(|m| m.name == mode)
        .map_or(0.0, |m| mib(m.loaded_kib) - mib(m.idle_kib))
}

fn endpoint<'a>(r: &'a Results, path: &str) -> Option<&'a super::metrics_endpoint::PathFigures> {
    r.endpoints.paths.iter().find(|p| p.path == path)
}

/// Median render time of a case, µs (infinite when the case was not measured).
fn render_us(r: &Results, case: &str) -> f64 {
    r.render
        .iter()
        .find(|c| c.name == case)
        .map_or(f64::INFINITY, |c| median(&c.ns) / 1000.0)
}

/// Median over runs of (stack − bare) / bare: the layer's cost as a share of bare's own.
fn oneshot_share(r: &Results, mode: &str) -> f64 {
    paired(oneshot_runs(r, "bare"), oneshot_runs(r, mode), |o, b| {
        (o - b) / b.max(f64::MIN_POSITIVE)
    })
}

/// Median JSON snapshot time, µs (infinite when not measured).
fn json_us(r: &Results) -> f64 {
    if r.json.ns.is_empty() {
        f64::INFINITY
    } else {
        median(&r.json.ns) / 1000.0
    }
}

/// Instructions per request over bare, `+1,234` (or `—`).
fn instructions_over(r: &Results, mode: &str) -> String {
    counts::signed(r.instructions.over_bare(mode))
}

fn checks(r: &Results) -> Vec<Check> {
    let ours_instr = r.instructions.over_bare("vitals").unwrap_or(f64::INFINITY);
    let bare_instr = r
        .instructions
        .request("bare")
        .map_or(f64::NAN, |b| b.instructions);
    let ours_share = oneshot_share(r, "vitals");
    let theirs_share = oneshot_share(r, "axum-prometheus");
    let otel_share = oneshot_share(r, "opentelemetry");
    let ours_ratio = hello_ratio(r, "vitals");
    let theirs_ratio = hello_ratio(r, "axum-prometheus");
    let otel_ratio = hello_ratio(r, "opentelemetry");
    let bare_growth = hello_growth(r, "bare");
    let ours_growth = hello_growth(r, "vitals") - bare_growth;
    let theirs_growth = hello_growth(r, "axum-prometheus") - bare_growth;
    let otel_growth = hello_growth(r, "opentelemetry") - bare_growth;
    let p99 = |path| endpoint(r, path).map_or(0.0, |p| median_of(&p.runs, |x| x.p99));
    let health_p99 = p99("/health");
    let metrics_p99 = p99("/api/v1/metrics");
    let p99_ratio = metrics_p99 / health_p99.max(f64::MIN_POSITIVE);
    let server_ms = endpoint(r, "/api/v1/metrics").map_or(0.0, |p| median(&p.server_ms));
    let health_ms = endpoint(r, "/health").map_or(0.0, |p| median(&p.server_ms));
    let idle = mib(r.endpoints.idle_kib);
    let f = &r.endpoints.flood;
    let flood_over = mib(f.settled_kib()) - idle;
    vec![
        Check {
            what: "layer cost per request (callgrind), instructions over bare",
            baseline: format!(
                "axum-prometheus {}, OpenTelemetry {}; noop (axum's own layering) {}",
                instructions_over(r, "axum-prometheus"),
                instructions_over(r, "opentelemetry"),
                instructions_over(r, "noop"),
            ),
            ours: format!(
                "{} (bare: {})",
                instructions_over(r, "vitals"),
                thousands(bare_instr.round() as u64)
            ),
            target: "≤ 2,000",
            met: ours_instr <= 2000.0,
        },
        Check {
            what: "layer cost per request (oneshot wall time), share of bare's own cost",
            baseline: format!(
                "axum-prometheus {theirs_share:.2}×, OpenTelemetry {otel_share:.2}×, noop {:.2}×",
                oneshot_share(r, "noop")
            ),
            ours: format!("{ours_share:.2}×"),
            target: "≤ 0.6×",
            met: ours_share <= 0.6,
        },
        Check {
            what: "/hello throughput under wrk, ratio to bare",
            baseline: format!("axum-prometheus {theirs_ratio:.3}×, OpenTelemetry {otel_ratio:.3}×"),
            ours: format!("{ours_ratio:.3}×"),
            target: "≥ 0.95×",
            met: ours_ratio >= 0.95,
        },
        Check {
            what: "RSS growth under load beyond bare's (peak VmRSS − idle, minus bare's)",
            baseline: format!(
                "axum-prometheus {theirs_growth:+.1} MiB, OpenTelemetry {otel_growth:+.1} MiB"
            ),
            ours: format!("{ours_growth:+.1} MiB"),
            target: "≤ 1 MB",
            met: ours_growth <= 1.0,
        },
        Check {
            what: "/api/v1/metrics server time (median X-Response-Time)",
            baseline: format!("/health {health_ms:.2} ms"),
            ours: format!("{server_ms:.2} ms"),
            target: "≤ 0.1 ms",
            met: server_ms <= 0.1,
        },
        Check {
            what: "/api/v1/metrics p99 under wrk -c100, ratio to /health p99",
            baseline: format!("/health p99 {health_p99:.2} ms"),
            ours: format!("{metrics_p99:.2} ms = {p99_ratio:.2}×"),
            target: "≤ 1.5×",
            met: p99_ratio <= 1.5,
        },
        Check {
            what: "/metrics render, default registry (median)",
            baseline: "—".to_owned(),
            ours: format!("{:.0} µs", render_us(r, "default")),
            target: "≤ 200 µs",
            met: render_us(r, "default") <= 200.0,
        },
        Check {
            what: "/metrics render, 1,000 HTTP series (median)",
            baseline: "—".to_owned(),
            ours: format!("{:.0} µs", render_us(r, "thousand")),
            target: "≤ 1 ms",
            met: render_us(r, "thousand") <= 1000.0,
        },
        Check {
            what: "JSON snapshot built (`/api/v1/metrics` body, median)",
            baseline: "—".to_owned(),
            ours: format!("{:.1} µs", json_us(r)),
            target: "≤ 20 µs",
            met: json_us(r) <= 20.0,
        },
        Check {
            what: "vitals-server RSS after a connection flood, over idle (last sample)",
            baseline: format!(
                "{} connections held: {:.1} MiB",
                f.plan.connections,
                mib(f.held_kib)
            ),
            ours: format!("{flood_over:+.1} MiB after {} s", f.plan.follow.as_secs()),
            target: "≤ 30 MB within 60 s",
            met: f.settled_kib() <= r.endpoints.idle_kib + THIRTY_MB_IN_KIB
                && f.plan.follow.as_secs() <= 60,
        },
        Check {
            what: "vitals-server RSS idle",
            baseline: "—".to_owned(),
            ours: format!("{idle:.1} MiB"),
            target: "≤ 15 MB",
            met: idle <= 15.0,
        },
    ]
}

/// The short table printed when the run ends.
pub fn summary(r: &Results) -> String {
    let mut s = String::from("\nbench results (details in the report):\n");
    for c in checks(r) {
        let _ = writeln!(
            s,
            "  {:<4} {}: {} (target {}; {})",
            if c.met { "ok" } else { "MISS" },
            c.what,
            c.ours,
            c.target,
            c.baseline
        );
    }
    s
}

/// The whole report.
pub fn markdown(r: &Results) -> String {
    let mut s = String::new();
    header(&mut s, r);
    targets(&mut s, r);
    oneshot(&mut s, r);
    hello(&mut s, r);
    endpoints(&mut s, r);
    render(&mut s, r);
    r.spans.markdown(&mut s);
    notes(&mut s, r);
    s
}

fn header(s: &mut String, r: &Results) {
    let m = &r.machine;
    let _ = writeln!(
        s,
        "# Performance\n\n\
         Written by `cargo xtask bench` from one run; do not edit by hand — re-run it instead.\n\
         Every comparison below was measured in this same run, baseline and ours side by side, \
         on this machine.\n"
    );
    if r.quick {
        let _ = writeln!(
            s,
            "> **`--quick` run**: every phase was shortened to a smoke test; these figures are \
             indicative only. Run `cargo xtask bench` without `--quick` for the real ones.\n"
        );
    }
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| command | `{}` |", r.command);
    let _ = writeln!(s, "| date | {} |", r.date);
    let _ = writeln!(s, "| CPUs (`nproc`) | {} |", m.cpus);
    let _ = writeln!(s, "| CPU | {} |", m.cpu_model);
    let _ = writeln!(s, "| memory | {} MiB |", m.memory_mib);
    let _ = writeln!(s, "| kernel | {} |", m.kernel);
    let _ = writeln!(
        s,
        "| compiler | {} (release profile: thin LTO, 4 codegen units) |",
        m.rustc
    );
    let _ = writeln!(
        s,
        "| load average before (1/5/15 min) | {} |",
        r.load_before
    );
    let _ = writeln!(s, "| load average after | {} |", r.load_after);
    let busy = r
        .load_before
        .split_whitespace()
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .is_some_and(|l| l > 0.5);
    if busy {
        let _ = writeln!(
            s,
            "\n> **Noisy run**: the machine was already busy when the run started (1-minute load \
             average {} on {} CPUs), so absolute figures are lower and more scattered than on an \
             idle machine. The ratios are fairer than the absolute numbers, because the modes \
             take turns round after round and share the noise; still, re-run on a quiet \
             machine before quoting absolute figures.",
            r.load_before.split_whitespace().next().unwrap_or("?"),
            m.cpus
        );
    }
    s.push('\n');
}

fn targets(s: &mut String, r: &Results) {
    let _ = writeln!(
        s,
        "## Targets at a glance\n\n\
         The project's targets, against this run. \"Baseline\" is the comparison measured in the \
         same run.\n\n\
         | what | baseline (this run) | ours (this run) | target | met |\n\
         |---|---|---|---|---|"
    );
    for c in checks(r) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            c.what,
            c.baseline,
            c.ours,
            c.target,
            if c.met { "yes" } else { "**no**" }
        );
    }
    s.push('\n');
}

fn oneshot(s: &mut String, r: &Results) {
    let p = r.oneshot.plan;
    let _ = writeln!(
        s,
        "## 1. Cost per request, without sockets\n\n\
         `router.clone().oneshot(GET /hello)` with the body collected, in a tight loop on a \
         current-thread Tokio runtime (`vitals-bench oneshot`): {} warm-up requests per stack, \
         then {} runs of {} requests each, the stacks taking turns run after run. Figure: \
         median over the runs of (run time / requests); min–max shows the spread. Overhead and \
         ratio: median over the runs of (stack − bare) and (stack / bare), each run paired \
         with the bare run of the same round. axum-prometheus' histogram samples are drained \
         between runs, outside the timed part, as its upkeep does every second (Vitals and \
         OpenTelemetry aggregate as they record). \"Layer's share\" is the median over runs \
         of (stack − bare) / bare: what the layer adds, as a share of what bare axum itself \
         costs.\n\n\
         - **bare**: `Router::new().route(\"/hello\", get(hello))`.\n\
         - **noop**: bare + a layer that does nothing (`tower::layer::layer_fn(|s| s)`), \
         applied with `Router::layer`: axum's own cost of layering a router, which every layer \
         applied that way (all of the rows below) pays.\n\
         - **vitals**: what a user gets from the builder: `Vitals::builder().build()`, \
         `.merge(vitals.routes())`, `.layer(vitals.layer())` — timing, `X-Response-Time`, \
         `Server-Timing`, `X-Request-ID`, request counter, duration histogram with exemplars \
         (the layer always keeps a trace or request id per histogram bucket, so this row is \
         with exemplars on), in-flight count, slow counter, JSON window. (The reference server \
         adds its own timeout and panic-catching layers, which are not part of this cost.)\n\
         - **perf-only**: bare + `RequestIdLayer` and `TimingLayer` in one `Router::layer` \
         call (the id, both timing headers, the logs' level checks, no metrics): the vitals row \
         minus this one is about what recording the metrics costs.\n\
         - **axum-prometheus**: bare + `axum_prometheus::PrometheusMetricLayer::pair()` \
         (0.10.1; global recorder).\n\
         - **opentelemetry**: bare + `opentelemetry_instrumentation_tower::http::server` layer \
         (0.19, metrics only, tracing off), recording into an OpenTelemetry SDK meter provider \
         whose manual reader is read only by the bench.\n\
         \n\
         A `tracing` subscriber at INFO is installed, as in production. After the runs, each \
         stack that records was asked what it counted (Vitals and axum-prometheus: the \
         `/hello` request counter of their Prometheus text; OpenTelemetry: the data points of \
         `http.server.request.duration` with `http.route=/hello`, collected from its manual \
         reader); the phase fails unless that equals the requests sent: {}.\n\n\
         | stack | ns / request (median) | min – max of runs | overhead over bare | layer's share of bare's cost | ratio to bare |\n\
         |---|---|---|---|---|---|",
        p.warmup,
        p.runs,
        p.iters,
        recorded_in_oneshot(r)
    );
    let bare = oneshot_runs(r, "bare");
    for (mode, runs) in &r.oneshot.modes {
        let med = median(runs);
        let (lo, hi) = min_max(runs);
        let overhead = if mode == "bare" {
            "—".to_owned()
        } else {
            format!("{:+.0} ns", oneshot_overhead(r, mode))
        };
        let ratio = paired(bare, runs, |o, b| o / b.max(f64::MIN_POSITIVE));
        let share = if mode == "bare" {
            "—".to_owned()
        } else {
            format!("{:.2}×", oneshot_share(r, mode))
        };
        let _ = writeln!(
            s,
            "| {} | {med:.0} | {lo:.0} – {hi:.0} | {overhead} | {share} | {ratio:.2}× |",
            counts::label(mode)
        );
    }
    s.push('\n');
    counts::markdown(s, r);
}

/// `vitals 1,850,000 of 1,850,000, …`: what each recording stack counted in the oneshot phase.
fn recorded_in_oneshot(r: &Results) -> String {
    let each: Vec<String> = r
        .oneshot
        .recorded
        .iter()
        .map(|(mode, count, sent)| format!("{mode} {} of {}", thousands(*count), thousands(*sent)))
        .collect();
    if each.is_empty() {
        "no stack reported a count".to_owned()
    } else {
        each.join(", ")
    }
}

fn hello(s: &mut String, r: &Results) {
    let rounds = r.hello.first().map_or(0, |m| m.runs.len());
    let _ = writeln!(
        s,
        "## 2. `/hello` throughput over loopback (wrk)\n\n\
         One `vitals-bench serve --mode <stack>` process per stack (release build, Tokio \
         multi-thread runtime, one worker per CPU), all on 127.0.0.1. Each process gets a \
         warm-up load, then `wrk {}` runs against each in turn, {rounds} round(s). wrk runs on \
         the same {} CPUs as the server, so these figures are for the pair. rps and latencies: \
         median over the rounds; \"rps of each round\" shows the spread; the ratio is the \
         median over rounds of (stack rps / bare rps of the same round). Latencies are wrk's \
         (client-side, ms).\n\n\
         | stack | rps (median) | rps of each round | ratio to bare | p50 ms | p90 ms | p99 ms | max ms | requests |\n\
         |---|---|---|---|---|---|---|---|---|",
        r.hello_load.flags(),
        r.machine.cpus
    );
    for m in &r.hello {
        let rps = median_of(&m.runs, |x| x.rps);
        let each: Vec<String> = m.runs.iter().map(|x| format!("{:.0}", x.rps)).collect();
        let _ = writeln!(
            s,
            "| {} | {rps:.0} | {} | {:.3}× | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            counts::label(&m.name),
            each.join(", "),
            hello_ratio(r, &m.name),
            median_of(&m.runs, |x| x.p50),
            median_of(&m.runs, |x| x.p90),
            median_of(&m.runs, |x| x.p99),
            m.runs.iter().map(|x| x.max).fold(0.0, f64::max),
            m.runs.iter().map(|x| x.requests).sum::<u64>(),
        );
    }
    let _ = writeln!(
        s,
        "\nMemory of each server process, from `/proc/PID/status`: idle = VmRSS after start, \
         before any request; under load = the largest VmRSS sampled every 50 ms during the \
         measured wrk runs; growth = under load − idle; beyond bare = growth − bare's growth \
         (what the layer itself adds; connection buffers and worker stacks are paid by every \
         stack); VmHWM = peak RSS of the process's \
         life (warm-up included). \"Recorded\" is, after the load, how many `/hello` \
         requests the stack's own metrics counted (read by the bench server from the same \
         source as in section 1, through a route added outside the layer) against the \
         responses wrk read, warm-up included — proof the layer did its work. It may exceed \
         them by the requests in flight when a wrk run stopped (at most its connections per \
         run), which the server still answers and counts; \"yes\" means it lies in that \
         range.\n\n\
         | stack | RSS idle MiB | RSS under load MiB | growth MiB | beyond bare MiB | VmHWM MiB | recorded |\n\
         |---|---|---|---|---|---|---|"
    );
    for m in &r.hello {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {:+.1} | {:+.1} | {:.1} | {} |",
            counts::label(&m.name),
            mib(m.idle_kib),
            mib(m.loaded_kib),
            hello_growth(r, &m.name),
            hello_growth(r, &m.name) - hello_growth(r, "bare"),
            mib(m.hwm_kib),
            match m.recorded {
                None => "—".to_owned(),
                Some(rec) => format!(
                    "{}: {} counted, {} answered",
                    if rec.complete() { "yes" } else { "**no**" },
                    thousands(rec.counted),
                    thousands(rec.answered)
                ),
            }
        );
    }
    s.push('\n');
}

fn endpoints(s: &mut String, r: &Results) {
    let p = r.endpoints_plan;
    let _ = writeln!(
        s,
        "## 3. `/api/v1/metrics` against `/health` on the real server\n\n\
         The release `vitals-server` binary with the embedded defaults (SQLite in a temporary \
         data folder, in-process cache, system sampler every 1 s, log level INFO), on \
         127.0.0.1. `/health` is the static baseline; `/metrics` (Prometheus text) is shown \
         too.\n\n\
         **Server time**, one request at a time over one keep-alive connection: {} warm-up \
         requests, then {} measured, per path. \"Server\" is the `X-Response-Time` header the \
         server sets (time inside the performance layer; resolution 0.01 ms), \"round trip\" \
         the client's time from writing the request to reading the last byte.\n\n\
         | path | server median ms | server p99 ms | server max ms | round trip median ms | round trip p99 ms |\n\
         |---|---|---|---|---|---|",
        p.warmup, p.sequential
    );
    for e in &r.endpoints.paths {
        let _ = writeln!(
            s,
            "| `{}` | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} |",
            e.path,
            median(&e.server_ms),
            percentile(&e.server_ms, 99.0),
            min_max(&e.server_ms).1,
            median(&e.round_trip_ms),
            percentile(&e.round_trip_ms, 99.0),
        );
    }
    let _ = writeln!(
        s,
        "\n**Under load**: `wrk {}` per path, the paths taking turns, {} round(s); medians over \
         the rounds (max: the largest).\n\n\
         | path | rps | p50 ms | p99 ms | max ms | p99 ratio to `/health` |\n\
         |---|---|---|---|---|---|",
        p.load.flags(),
        p.rounds
    );
    let health_p99 = endpoint(r, "/health")
        .map_or(0.0, |h| median_of(&h.runs, |x| x.p99))
        .max(f64::MIN_POSITIVE);
    for e in &r.endpoints.paths {
        let p99 = median_of(&e.runs, |x| x.p99);
        let _ = writeln!(
            s,
            "| `{}` | {:.0} | {:.2} | {p99:.2} | {:.2} | {:.2}× |",
            e.path,
            median_of(&e.runs, |x| x.rps),
            median_of(&e.runs, |x| x.p50),
            e.runs.iter().map(|x| x.max).fold(0.0, f64::max),
            p99 / health_p99,
        );
    }
    let _ = writeln!(
        s,
        "\nServer memory: idle {:.1} MiB (VmRSS 1.5 s after start, before any request), \
         {:.1} MiB under load (largest VmRSS sampled during wrk), VmHWM {:.1} MiB.\n\n\
         For scale, the Python service this project started from answered its metrics \
         endpoint in about 102 ms (it blocked on a 0.1 s CPU sample), at most 9.9 rps, in \
         46 MB: its published figures, not measured here.\n",
        mib(r.endpoints.idle_kib),
        mib(r.endpoints.loaded_kib),
        mib(r.endpoints.hwm_kib),
    );
    flood(s, r);
}

fn flood(s: &mut String, r: &Results) {
    let f = &r.endpoints.flood;
    let idle = r.endpoints.idle_kib;
    let _ = writeln!(
        s,
        "**Connection flood**, after the wrk runs: {} connections opened one after the other, \
         each asking for `/api/v1/users/floodN/history` (500 users, cache and SQLite in play) \
         and held open until all are answered, then all closed at once; VmRSS sampled every \
         second for {} s. The server gives freed heap pages back to the system once a surge of \
         connections has closed (`malloc_trim`, crates/vitals-server/src/memory.rs; checked \
         every 10 s).\n\n\
         | moment | VmRSS MiB | over idle MiB |\n|---|---|---|",
        f.plan.connections,
        f.plan.follow.as_secs()
    );
    let row = |s: &mut String, what: &str, kib: u64| {
        let _ = writeln!(
            s,
            "| {what} | {:.1} | {:+.1} |",
            mib(kib),
            mib(kib) - mib(idle)
        );
    };
    row(s, "idle (start)", idle);
    row(s, "before the flood", f.before_kib);
    row(s, "all connections held", f.held_kib);
    for &(second, kib) in &f.after {
        if [1, 5, 10, 15, 30, 60].contains(&second) || second == f.plan.follow.as_secs() {
            row(s, &format!("{second} s after closing"), kib);
        }
    }
    let back = f.back_within(idle, THIRTY_MB_IN_KIB).map_or_else(
        || "not within the run".to_owned(),
        |sec| format!("{sec} s after the last close"),
    );
    let _ = writeln!(
        s,
        "
Back within 30 MB of idle: {back}.
"
    );
}

fn render(s: &mut String, r: &Results) {
    let _ = writeln!(
        s,
        "## 4. `/metrics` render time\n\n\
         `Vitals::render_snapshot(&snapshot)` alone (no HTTP), in the release \
         `vitals-bench render`. Each timed render follows fresh traffic recorded untimed.\n\n\
         - **default**: a `Vitals` as the builder makes it, with the server's 8 \
         `(method, route, status)` label sets; 100 requests between renders.\n\
         - **1,000 series**: a `Vitals` built with `.max_series(1000)`, fed 1,000 distinct \
         routes (`GET /r/0` … `/r/999`, status 200): 1,000 request counters, 1,000 duration \
         histograms and 1,000 slow counters; one request per series between renders. The \
         harness checks the exposition really lists 1,000 request series.\n\n\
         Targets: at most 200 µs for the default registry, 1 ms with 1,000 series (medians). \
         Their instruction counts are in section 1.\n\n\
         | registry | HTTP label sets | renders | median µs | p90 µs | max µs | body bytes |\n\
         |---|---|---|---|---|---|---|"
    );
    for c in &r.render {
        let us: Vec<f64> = c.ns.iter().map(|ns| ns / 1000.0).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            if c.name == "default" {
                "default"
            } else {
                "1,000 series"
            },
            c.series,
            us.len(),
            median(&us),
            percentile(&us, 90.0),
            min_max(&us).1,
            c.bytes
        );
    }
    s.push('\n');
    json(s, r);
}

fn json(s: &mut String, r: &Results) {
    let c = &r.json;
    let us: Vec<f64> = c.ns.iter().map(|ns| ns / 1000.0).collect();
    let _ = writeln!(
        s,
        "## 5. JSON snapshot build time\n\n\
         What `GET /api/v1/metrics` does for its body, without HTTP: `Vitals::snapshot()` (the \
         request figures folded together, each collector's latest figures copied) serialised \
         with `serde_json::to_vec`, in the release `vitals-bench json`, on the default registry \
         of section 4 (the server's {} label sets; 100 requests recorded untimed before each \
         snapshot). The sampling collectors of the real server (system, runtime, pool, cache) \
         are not registered, so their sections hold defaults; the server's own figure for \
         the whole request is in section 3. Target: at most 20 µs (median).\n\n\
         | snapshots | median µs | p90 µs | max µs | body bytes | target | met |\n\
         |---|---|---|---|---|---|---|\n\
         | {} | {:.1} | {:.1} | {:.1} | {} | ≤ 20 µs | {} |\n",
        c.series,
        us.len(),
        median(&us),
        percentile(&us, 90.0),
        min_max(&us).1,
        c.bytes,
        if json_us(r) <= 20.0 { "yes" } else { "**no**" }
    );
}

fn notes(s: &mut String, r: &Results) {
    let _ = writeln!(
        s,
        "## Reading these figures\n\n\
         - **Same run, same machine.** Every baseline was measured in this run next to ours; \
         only the Python service's figures in section 3 come from elsewhere. On a quiet day \
         this machine gives about 104k rps (wrk) and 680 ns (oneshot) for bare axum, and \
         axum-prometheus 0.85× throughput, +1,500 ns and +7 MB; compare the *ratios* above \
         with those, since absolute figures move with load.\n\
         - **Noise.** The machine has {} CPUs and may be shared (other builds, other tests). \
         The load average before and after the run is in the header; a 1-minute figure well \
         above 0 means other work competed for the CPUs and the absolute figures are low. \
         The stacks take turns within each phase so that noise spreads over all of them; the \
         min–max and per-round columns show how much it moved.\n\
         - **wrk shares the CPUs** with the server on loopback: the rps figures are for the \
         pair on {} CPUs, not for the server alone.\n\
         - **RSS** is the resident set of the server process as the kernel reports it; growth \
         under load includes the connections' buffers, which every stack pays alike (see bare).\n\
         - **No timed tests.** Tests prove behaviour; this report is where speed is measured.\n\n\
         ## Re-running\n\n\
         ```sh\n\
         apt-get install -y wrk valgrind   # once\n\
         cargo xtask bench                 # about 9 minutes after the build; writes docs/performance.md\n\
         cargo xtask bench --quick         # smoke run, about 3 minutes once built\n\
         cargo xtask bench --out /tmp/perf.md\n\
         ```\n\n\
         All load goes to 127.0.0.1, is bounded in time (wrk `-d`) and stops by itself; the \
         bench servers also exit on their own after 15 minutes.\n\n\
         ## Instruction counts in CI\n\n\
         `cargo xtask ci` runs `cargo xtask instructions` (about half a minute once the \
         release `vitals-bench` is built, which takes 2 to 5 minutes more on these 2 shared \
         CPUs from a cold cache; needs valgrind, which `.ci/setup` installs): callgrind \
         counts, as in section 1, the instructions per request of Vitals' layer over bare (with \
         bare and noop printed beside it), one `/metrics` render with 1,000 series and one \
         JSON snapshot, and compares them with xtask/baseline/instructions.json. A count more \
         than 10 % above its baseline fails, with both figures printed; a smaller one passes \
         and the drop is printed. The counts depend on the code, the compiler (pinned by \
         rust-toolchain.toml) and valgrind's version (both recorded in the file), not on the \
         machine's load.\n\n\
         When a change makes a count grow on purpose, or shrink (to keep the gain), update the \
         baseline and commit it with the change, saying why in the commit message:\n\n\
         ```sh\n\
         cargo xtask instructions            # the check alone, as CI runs it\n\
         cargo xtask instructions --update   # rewrite xtask/baseline/instructions.json\n\
         git add xtask/baseline/instructions.json\n\
         ```",
        r.machine.cpus, r.machine.cpus
    );
}
