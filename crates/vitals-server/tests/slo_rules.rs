//! The SLO rules `vitals-server --print-slo-rules` writes for the reference objectives, checked
//! by the real `promtool`: they load (`check rules`), and on synthetic series (`test rules`)
//! each burn-rate alert fires when the budget burns just above its rate over both its windows
//! and stays quiet just below it, and a burn that has stopped no longer pages.
//!
//! The rates and windows are the *Site Reliability Workbook*'s, written here on their own (not
//! read from the generator): page at 14.4× over 1 h and 5 min and at 6× over 6 h and 30 min,
//! ticket at 1× over 3 days and 6 h.

mod common;

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

use common::server_command;

/// Each alert: name, burn rate, severity, action.
const ALERTS: [(&str, f64, &str, &str); 3] = [
    ("SLOFastBurn", 14.4, "critical", "page"),
    ("SLOMediumBurn", 6.0, "critical", "page"),
    ("SLOSlowBurn", 1.0, "warning", "ticket"),
];

/// The reference objectives, as the server ships them.
const CHAT: &str = "chat-availability"; // 99.9 % of POST /api/v1/chat not 5xx
const HISTORY: &str = "history-latency"; // 99 % of GET history reads within 250 ms

/// Answers per minute in the synthetic series.
const PER_MINUTE: f64 = 100_000.0;

/// Minutes of the steady series. A steady burn gives every window the same share of bad
/// answers, however much of a long window the series fill (both sides of the ratio are rates
/// over the same samples), so an hour and a half says what three days would, in a fraction of
/// promtool's time.
const MINUTES: u32 = 90;

fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool is installed (.ci/setup installs Debian's prometheus package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// The series of both objectives with their budgets burning `burn` times too fast: chat
/// answers with 5xx for `burn` × 0.1 % of them, history reads over 250 ms for `burn` × 1 %.
fn series(out: &mut String, burn: f64) {
    let chat_bad = burn * 0.001 * PER_MINUTE;
    let history_bad = burn * 0.01 * PER_MINUTE;
    let chat = "job=\"vitals\",instance=\"vitals-1:8000\",method=\"POST\",route=\"/api/v1/chat\"";
    let history = "job=\"vitals\",instance=\"vitals-1:8000\",method=\"GET\",route=\"/api/v1/users/{user_id}/history\"";
    for (name, values) in [
        (
            format!("health_agent_http_requests_total{{{chat},status=\"200\"}}"),
            format!("0+{}x{MINUTES}", PER_MINUTE - chat_bad),
        ),
        (
            format!("health_agent_http_requests_total{{{chat},status=\"503\"}}"),
            format!("0+{chat_bad}x{MINUTES}"),
        ),
        (
            format!("health_agent_http_request_duration_seconds_bucket{{{history},le=\"0.25\"}}"),
            format!("0+{}x{MINUTES}", PER_MINUTE - history_bad),
        ),
        (
            format!("health_agent_http_request_duration_seconds_count{{{history}}}"),
            format!("0+{PER_MINUTE}x{MINUTES}"),
        ),
    ] {
        let _ = writeln!(out, "      - series: '{name}'\n        values: '{values}'");
    }
}

/// The annotations the rules give `alert` of `slo`, as YAML lines of an expected alert.
fn annotations(rules: &serde_yaml::Value, slo: &str, alert: &str) -> String {
    let groups = rules["groups"].as_sequence().expect("groups");
    let rule = groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .find(|r| r["alert"].as_str() == Some(alert) && r["labels"]["slo"].as_str() == Some(slo))
        .unwrap_or_else(|| panic!("no {alert} for {slo}"));
    let text = |key: &str| {
        rule["annotations"][key]
            .as_str()
            .expect("annotation")
            .replace('\'', "''")
    };
    format!(
        "            exp_annotations:\n              summary: '{}'\n              description: '{}'\n",
        text("summary"),
        text("description")
    )
}

/// An `alert_rule_test` expecting `alert` to fire for `firing` objectives at `eval_time`.
fn expect(
    out: &mut String,
    rules: &serde_yaml::Value,
    eval_time: &str,
    alert: &str,
    firing: &[&str],
) {
    let (_, _, severity, action) = ALERTS.iter().find(|a| a.0 == alert).expect("known alert");
    let _ = writeln!(
        out,
        "      - eval_time: {eval_time}\n        alertname: {alert}"
    );
    if firing.is_empty() {
        out.push_str("        exp_alerts: []\n");
        return;
    }
    out.push_str("        exp_alerts:\n");
    for slo in firing {
        let _ = writeln!(
            out,
            "          - exp_labels:\n              job: vitals\n              slo: '{slo}'\n              severity: {severity}\n              action: {action}"
        );
        out.push_str(&annotations(rules, slo, alert));
    }
}

#[test]
fn generated_rules_load_and_each_alert_fires_at_its_burn_rate_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let printed = server_command()
        .arg("--print-slo-rules")
        .output()
        .expect("vitals-server runs");
    assert!(printed.status.success(), "{printed:?}");
    std::fs::write(dir.path().join("slo.yml"), &printed.stdout).expect("write rules");
    let rules: serde_yaml::Value =
        serde_yaml::from_slice(&printed.stdout).expect("the rules are YAML");
    // Two objectives, each with five recording rules and three alerts.
    let checked = promtool(dir.path(), &["check", "rules", "slo.yml"]);
    assert!(checked.contains("SUCCESS: 16 rules found"), "{checked}");

    let mut tests = String::from("rule_files:\n  - slo.yml\nevaluation_interval: 5m\ntests:\n");
    let eval_time = format!("{}m", MINUTES - 10);
    for (name, factor, _, _) in ALERTS {
        for (how, burn) in [("just above", factor * 1.02), ("just below", factor * 0.98)] {
            let _ = writeln!(
                tests,
                "  - name: 'budgets burning {burn:.3}x, {how} {name}'\n    interval: 1m\n    input_series:"
            );
            series(&mut tests, burn);
            tests.push_str("    alert_rule_test:\n");
            // At a steady burn every window sees the same rate: an alert fires exactly when
            // that rate is above its own.
            for (alert, rate, _, _) in ALERTS {
                let firing: &[&str] = if burn > rate { &[CHAT, HISTORY] } else { &[] };
                expect(&mut tests, &rules, &eval_time, alert, firing);
            }
        }
    }
    // A 20x burn for two hours that stopped 10 minutes ago: the last hour still burns above
    // 14.4x, the last 5 minutes do not, so the fast alert has resolved.
    let bad = 20.0 * 0.001 * PER_MINUTE;
    let chat = "job=\"vitals\",instance=\"vitals-1:8000\",method=\"POST\",route=\"/api/v1/chat\"";
    let _ = write!(
        tests,
        "  - name: 'a fast burn that stopped pages no more'\n    interval: 1m\n    input_series:\n\
         \x20     - series: 'health_agent_http_requests_total{{{chat},status=\"200\"}}'\n\
         \x20       values: '0+{good}x180'\n\
         \x20     - series: 'health_agent_http_requests_total{{{chat},status=\"503\"}}'\n\
         \x20       values: '0+{bad}x120 {stopped}+0x60'\n    alert_rule_test:\n",
        good = PER_MINUTE - bad,
        stopped = bad * 120.0,
    );
    expect(&mut tests, &rules, "115m", "SLOFastBurn", &[CHAT]);
    expect(&mut tests, &rules, "130m", "SLOFastBurn", &[]);
    std::fs::write(dir.path().join("slo.test.yml"), &tests).expect("write tests");
    let report = promtool(dir.path(), &["test", "rules", "slo.test.yml"]);
    assert!(report.contains("SUCCESS"), "{report}\n{tests}");
}
