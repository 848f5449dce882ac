//! LowCacheHitRate gives the same verdict in `vitals alerts` and in
//! `deploy/prometheus/alerts.yml` on the same data (docs/cli.md, "LowCacheHitRate here and in
//! Prometheus").
//!
//! Each scenario is one instance's cache counters, read every 15 seconds. They go two ways:
//!
//! - the CLI's: the hits and misses of the last 60 seconds make the snapshot's `cache` section
//!   (through `vitals_core::CacheSection`, as a server derives it), [`figure`] reads the rule's
//!   figure from that JSON, and the evaluator is fed one poll per 15 s on a fake clock;
//! - Prometheus': the same counters become the input series of a `promtool test rules` file,
//!   evaluated every 15 s, with the rule's `expr` and `for` copied from alerts.yml.
//!
//! The test writes the CLI's firing set at every step as the expected alerts of that step, so
//! promtool passes only when Prometheus fires for exactly the same instances at exactly the
//! same times.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use vitals_core::alerts::{AlertRule, RULES};
use vitals_core::{CacheCounts, CacheSection};

use super::eval::{Evaluator, Mode, Phase};
use vitals_core::evaluator::{RECENT_HIT_RATE, figure};

/// Time between two readings (a Prometheus scrape, a `vitals alerts --watch` poll).
const STEP_SECONDS: u64 = 15;
/// Readings in the 60-second recent window.
const WINDOW_STEPS: usize = 4;
/// Readings per scenario after the first: 30 minutes.
const STEPS: usize = 120;

/// Cumulative hit and miss counters of one instance, one reading per step, starting at 0.
struct Scenario {
    instance: &'static str,
    hits: Vec<u64>,
    misses: Vec<u64>,
}

/// Counters that grow by `(hits, misses)` per step for `steps` steps, phase after phase.
fn scenario(instance: &'static str, phases: &[(usize, u64, u64)]) -> Scenario {
    let (mut hits, mut misses) = (vec![0u64], vec![0u64]);
    for &(steps, dh, dm) in phases {
        for _ in 0..steps {
            let (h, m) = (hits[hits.len() - 1], misses[misses.len() - 1]);
            hits.push(h + dh);
            misses.push(m + dm);
        }
    }
    assert_eq!(
        hits.len(),
        STEPS + 1,
        "{instance}: phases must cover {STEPS} steps"
    );
    Scenario {
        instance,
        hits,
        misses,
    }
}

fn scenarios() -> Vec<Scenario> {
    vec![
        // 10 minutes at 80%, then 10%.
        scenario("good-then-bad", &[(40, 40, 10), (80, 5, 45)]),
        // Never read: no rate at all.
        scenario("idle", &[(120, 0, 0)]),
        // Two minutes of misses only, then no reads: pending, then nothing to judge.
        scenario("misses-then-idle", &[(8, 0, 10), (112, 0, 0)]),
        // Low for 6 minutes, one good minute (the timer restarts), low again.
        scenario("interrupted", &[(24, 1, 9), (4, 8, 2), (92, 1, 9)]),
        // Low long enough to fire, then recovers: resolved in both.
        scenario("recovers", &[(60, 2, 8), (60, 9, 1)]),
        // Just above and just below the threshold.
        scenario("at-31-percent", &[(120, 31, 69)]),
        scenario("at-29-percent", &[(120, 29, 71)]),
    ]
}

fn low_cache_hit_rate() -> &'static AlertRule {
    RULES
        .iter()
        .find(|r| r.name == "LowCacheHitRate")
        .expect("the rule exists")
}

/// The CLI's verdict at every step: whether LowCacheHitRate fires for `s`.
fn cli_firing(s: &Scenario) -> Vec<bool> {
    // Every rule, as `vitals alerts --watch` runs them; only the cache section is given, so
    // the others are not evaluable and only LowCacheHitRate is read below.
    let mut ev = Evaluator::new(Mode::Sustained);
    (0..=STEPS)
        .map(|k| {
            let from = k.saturating_sub(WINDOW_STEPS);
            let counts = CacheCounts {
                hits: s.hits[k],
                misses: s.misses[k],
                ..CacheCounts::default()
            };
            let section = CacheSection::from_counts("memory", counts)
                .with_recent(s.hits[k] - s.hits[from], s.misses[k] - s.misses[from]);
            let body = json!({ "cache": section });
            let now = Duration::from_secs(k as u64 * STEP_SECONDS);
            let statuses = ev.observe(now, |path| figure(&body, path));
            let status = statuses
                .iter()
                .find(|st| st.rule.name == "LowCacheHitRate")
                .expect("LowCacheHitRate is evaluated");
            assert_eq!(status.rule.json, RECENT_HIT_RATE);
            status.phase == Phase::Firing
        })
        .collect()
}

/// The `expr:` and `for:` of LowCacheHitRate in deploy/prometheus/alerts.yml.
fn deployed_rule(alerts_yml: &str) -> (String, String) {
    let mut lines = alerts_yml
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "- alert: LowCacheHitRate")
        .skip(1)
        .take_while(|l| !l.starts_with("- alert:"));
    let mut field = |key: &str| {
        lines
            .by_ref()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("LowCacheHitRate in alerts.yml has no `{key}` line"))
            .trim()
            .to_owned()
    };
    let expr = field("expr:");
    let for_ = field("for:");
    (expr, for_)
}

fn values(series: &[u64]) -> String {
    series
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `promtool test rules` file whose expected alerts at each step are `expected[instance][step]`.
fn promtool_test(rule_file: &Path, all: &[Scenario], expected: &[Vec<bool>]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "rule_files:\n  - {}", rule_file.display());
    let _ = writeln!(t, "evaluation_interval: {STEP_SECONDS}s\ntests:");
    let _ = writeln!(t, "  - interval: {STEP_SECONDS}s\n    input_series:");
    for s in all {
        for (name, series) in [("hits", &s.hits), ("misses", &s.misses)] {
            let _ = writeln!(
                t,
                "      - series: 'health_agent_cache_{name}_total{{instance=\"{}\",job=\"vitals\"}}'\n        values: '{}'",
                s.instance,
                values(series)
            );
        }
    }
    let _ = writeln!(t, "    alert_rule_test:");
    for step in 0..=STEPS {
        let _ = writeln!(
            t,
            "      - eval_time: {}s\n        alertname: LowCacheHitRate",
            step as u64 * STEP_SECONDS
        );
        let firing: Vec<&str> = all
            .iter()
            .zip(expected)
            .filter(|(_, e)| e[step])
            .map(|(s, _)| s.instance)
            .collect();
        if firing.is_empty() {
            let _ = writeln!(t, "        exp_alerts: []");
        } else {
            let _ = writeln!(t, "        exp_alerts:");
            for instance in firing {
                let _ = writeln!(
                    t,
                    "          - exp_labels:\n              severity: warning\n              instance: \"{instance}\""
                );
            }
        }
    }
    t
}

/// First step at which `firing` holds, if any.
fn first(firing: &[bool]) -> Option<usize> {
    firing.iter().position(|f| *f)
}

#[test]
fn low_cache_hit_rate_fires_at_the_same_steps_in_the_cli_and_in_prometheus() {
    let all = scenarios();
    let expected: Vec<Vec<bool>> = all.iter().map(cli_firing).collect();
    let by_name = |name: &str| {
        let i = all
            .iter()
            .position(|s| s.instance == name)
            .expect("scenario");
        &expected[i]
    };

    // What the CLI decides, worked out by hand, so the comparison below is not between two
    // evaluators that both never fire.
    let minute = |m: usize| m * 60 / STEP_SECONDS as usize;
    // The window holds bad readings from 10m15s on (62.5%, then 45%), and falls below 30% at
    // 10m45s with one good reading of four left (27.5%): firing 10 minutes after that.
    assert_eq!(first(by_name("good-then-bad")), Some(minute(20) + 3));
    assert!(by_name("good-then-bad")[STEPS]);
    assert_eq!(first(by_name("idle")), None);
    assert_eq!(first(by_name("misses-then-idle")), None);
    assert_eq!(first(by_name("at-31-percent")), None);
    // Below from the first reading (15 s) on: firing at 10m15s.
    assert_eq!(first(by_name("at-29-percent")), Some(minute(10) + 1));
    let interrupted = first(by_name("interrupted")).expect("fires in the end");
    assert!(
        interrupted > minute(16),
        "the good minute restarted the timer"
    );
    let recovers = by_name("recovers");
    assert!(
        recovers[minute(14)] && !recovers[STEPS],
        "fires, then resolves"
    );

    // The same data through Prometheus' rule.
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus");
    let alerts_yml = std::fs::read_to_string(deploy.join("alerts.yml")).expect("alerts.yml");
    let (expr, for_) = deployed_rule(&alerts_yml);
    let rule = low_cache_hit_rate();
    assert_eq!(expr, rule.promql("health_agent"), "alerts.yml vs RULES");
    assert_eq!(for_, rule.promql_for(), "alerts.yml vs RULES");

    let dir = tempfile::tempdir().expect("temp dir");
    // The rule alone, without its annotations, so the expected alerts need only labels.
    let rule_file = dir.path().join("low-cache-hit-rate.yml");
    std::fs::write(
        &rule_file,
        format!(
            "groups:\n  - name: agreement\n    rules:\n      - alert: LowCacheHitRate\n        \
             expr: {expr}\n        for: {for_}\n        labels:\n          severity: {}\n",
            rule.severity.as_str()
        ),
    )
    .expect("write the rule");
    let test_file = dir.path().join("agreement.test.yml");
    std::fs::write(&test_file, promtool_test(&rule_file, &all, &expected)).expect("write test");

    let out = match Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(&test_file)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run promtool ({e}); it comes with Debian's `prometheus` package, which \
             .ci/run installs"
        ),
    };
    assert!(
        out.status.success(),
        "Prometheus and `vitals alerts` disagree on LowCacheHitRate (expected = the CLI's \
         verdicts):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
