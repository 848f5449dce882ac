//! The report's instruction counts: per request of each stack, per render and per JSON
//! snapshot, and the checked ones against the committed baseline.

use std::fmt::Write as _;

use super::Results;
use crate::instructions::baseline::{self, thousands};

/// `+1,234` / `-56` / `—` for a missing figure.
pub fn signed(v: Option<f64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(v) if v < 0.0 => format!("-{}", thousands((-v).round() as u64)),
        Some(v) => format!("+{}", thousands(v.round() as u64)),
    }
}

fn whole(v: f64) -> String {
    thousands(v.round().max(0.0) as u64)
}

/// The stack's name in the tables (the vitals row says it keeps exemplars).
pub fn label(mode: &str) -> String {
    if mode == "vitals" {
        "vitals (exemplars on)".to_owned()
    } else {
        mode.to_owned()
    }
}

/// The section.
pub fn markdown(s: &mut String, r: &Results) {
    let c = &r.instructions;
    let _ = writeln!(
        s,
        "### Instructions per request (callgrind)\n\n\
         valgrind's callgrind counting what the main thread of the release `vitals-bench \
         oneshot --only <stack>` executes, for 20,000 and then 40,000 `/hello` requests after \
         100 warm-up ones: the figure is the difference divided by 20,000, so start-up, \
         building the stack and exiting cancel out (`cargo xtask instructions`, \
         xtask/src/instructions/). Only the main thread is counted, where the requests run; \
         Vitals' scheduler thread wakes on a timer, so its share would follow the wall time. \
         These counts do not move with the machine's load (a few instructions per request \
         from run to run) and are what `cargo xtask ci` checks. Allocations: calls into the \
         C allocator (`malloc`, `calloc`, `realloc`, `posix_memalign`) per request, counted \
         the same way; bare's include the harness' own (the request, the collected body).\n\n\
         | stack | instructions / request | over bare | layer's share of bare's cost | over noop | allocations / request | over bare |\n\
         |---|---|---|---|---|---|---|"
    );
    let bare = c.request("bare").unwrap_or_default();
    let noop = c.request("noop");
    for (mode, figures) in &c.requests {
        let first = mode == "bare";
        let over = (!first).then_some(figures.instructions - bare.instructions);
        let share = over.map_or_else(
            || "—".to_owned(),
            |o| format!("{:.2}×", o / bare.instructions.max(1.0)),
        );
        let over_noop = match noop {
            Some(n) if !first && mode != "noop" => {
                signed(Some(figures.instructions - n.instructions))
            }
            _ => "—".to_owned(),
        };
        let allocs_over = if first {
            "—".to_owned()
        } else {
            format!("{:+.1}", figures.allocations - bare.allocations)
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {share} | {over_noop} | {:.1} | {allocs_over} |",
            label(mode),
            whole(figures.instructions),
            signed(over),
            figures.allocations,
        );
    }
    let _ = writeln!(
        s,
        "\n**noop** is axum's own cost of `Router::layer` (each route's service wrapped, its \
         future boxed per request): every layer applied that way pays it, so \"over noop\" is \
         what a layer's own work costs.\n\n\
         The same counting on the other measured pieces of work (`vitals-bench repeat`: 10 \
         and 20 renders, 1,000 and 2,000 snapshots, each reading unchanged figures):\n\n\
         | work | instructions | allocations |\n|---|---|---|"
    );
    let mut rows = Vec::new();
    if let Some(d) = c.render_default {
        rows.push(("`/metrics` render, default registry (8 label sets)", d));
    }
    rows.push(("`/metrics` render, 1,000 HTTP series", c.render_thousand));
    rows.push(("one JSON snapshot (`/api/v1/metrics` body)", c.json));
    for (what, f) in rows {
        let _ = writeln!(
            s,
            "| {what} | {} | {} |",
            whole(f.instructions),
            whole(f.allocations)
        );
    }
    s.push('\n');
    check_table(s, r);
}

/// The checked counts of this run against the committed baseline.
fn check_table(s: &mut String, r: &Results) {
    let now = r.instructions.checked();
    let Some(base) = &r.baseline else {
        let _ = writeln!(
            s,
            "The committed baseline (xtask/baseline/instructions.json) could not be read, so \
             this run's counts were not compared with it.\n"
        );
        return;
    };
    let _ = writeln!(
        s,
        "`cargo xtask ci` fails when one of these grows more than {:.0} % over the baseline \
         committed in xtask/baseline/instructions.json; this run against it:\n\n\
         | count | baseline | this run | change | within {:.0} % |\n|---|---|---|---|---|",
        baseline::TOLERANCE * 100.0,
        baseline::TOLERANCE * 100.0
    );
    for v in baseline::compare(base, &now) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:+.1} % | {} |",
            v.what,
            thousands(v.baseline),
            thousands(v.now),
            v.change() * 100.0,
            if v.failed() { "**no**" } else { "yes" }
        );
    }
    s.push('\n');
}
