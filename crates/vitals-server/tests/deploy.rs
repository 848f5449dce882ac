//! The files under `deploy/` against the real tools and against the code they describe.
//!
//! - Prometheus configs, alert rules and the rules' unit tests go through `promtool` (Debian
//!   package `prometheus`); the Alertmanager example through `amtool` (Debian package
//!   `prometheus-alertmanager`). `.ci/run` installs both; a missing tool fails the test.
//! - `alerts.yml` must say what `vitals_core::alerts::RULES` says: same expressions, `for`
//!   durations, severities and summaries, every rule of the table, each with firing and quiet
//!   unit tests.
//! - The Grafana dashboard may only query metrics of `vitals_core::CATALOGUE` (namespaced ones
//!   and the standard `process_*` series), and its PromQL must parse.
//! - The Dockerfile, compose file and systemd unit keep the settings they promise, and
//!   `deploy/README.md` mentions every file.
//!
//! No server is started: these are plain file checks.

use std::collections::{BTreeSet, HashSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use vitals_core::alerts::RULES;
use vitals_core::{CATALOGUE, MetricKind};

const NAMESPACE: &str = "health_agent";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn deploy_file(relative: &str) -> PathBuf {
    deploy_dir().join(relative)
}

fn read(relative: &str) -> String {
    let path = deploy_file(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs `program args…` in `deploy/` and panics with its whole output unless it succeeds.
/// A missing program is a failure too, naming the Debian package that provides it.
fn run_tool(program: &str, package: &str, args: &[&str]) -> String {
    let output = match Command::new(program)
        .args(args)
        .current_dir(deploy_dir())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "`{program}` is not installed. It comes with Debian's `{package}` package, which \
             .ci/run installs; locally: sudo apt-get install -y {package}"
        ),
        Err(e) => panic!("cannot run {program}: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "`{program} {}` failed ({}):\n{text}",
        args.join(" "),
        output.status
    );
    text
}

fn promtool(args: &[&str]) -> String {
    run_tool("promtool", "prometheus", args)
}

// --- Prometheus -------------------------------------------------------------------------------

#[test]
fn prometheus_configs_pass_promtool() {
    let mut configs: Vec<String> = std::fs::read_dir(deploy_file("prometheus"))
        .expect("deploy/prometheus is readable")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with("prometheus") && name.ends_with(".yml"))
        .collect();
    configs.sort();
    for expected in [
        "prometheus.yml",
        "prometheus.multi.yml",
        "prometheus.compose.yml",
    ] {
        assert!(
            configs.iter().any(|c| c == expected),
            "deploy/prometheus/{expected} is missing (found {configs:?})"
        );
    }
    let loaded = format!("SUCCESS: {} rules found", RULES.len());
    for config in &configs {
        let path = format!("prometheus/{config}");
        let out = promtool(&["check", "config", &path]);
        assert!(
            out.contains(&loaded),
            "{path} should load alerts.yml with its {} rules:\n{out}",
            RULES.len()
        );
    }
}

#[test]
fn alert_rules_pass_promtool() {
    let out = promtool(&["check", "rules", "prometheus/alerts.yml"]);
    let loaded = format!("SUCCESS: {} rules found", RULES.len());
    assert!(out.contains(&loaded), "{out}");
}

#[test]
fn slo_rules_are_the_servers_and_pass_promtool() {
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_vitals-server"))
        .arg("--print-slo-rules")
        .env_remove("VITALS_CONFIG")
        .env_remove("VITALS_METRICS_NAMESPACE")
        .env_remove("VITALS_SLOW_REQUEST_MS")
        .output()
        .expect("vitals-server runs");
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(
        read("prometheus/slo-rules.yml"),
        String::from_utf8_lossy(&printed.stdout),
        "deploy/prometheus/slo-rules.yml is out of date: vitals-server --print-slo-rules > deploy/prometheus/slo-rules.yml"
    );
    let out = promtool(&["check", "rules", "prometheus/slo-rules.yml"]);
    assert!(out.contains("SUCCESS: 16 rules found"), "{out}");
}

#[test]
fn alert_rule_unit_tests_pass() {
    promtool(&["test", "rules", "prometheus/alerts.test.yml"]);
}

/// The lines of each `- alert:` entry of alerts.yml, keyed by alert name, in file order.
fn alert_blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("- alert:") {
            blocks.push((name.trim().to_owned(), Vec::new()));
        } else if trimmed.starts_with("- name:") || trimmed.starts_with("- record:") {
            // A new group or a recording rule ends the current alert block.
            blocks.push((String::new(), Vec::new()));
        } else if let Some((_, lines)) = blocks.last_mut() {
            lines.push(trimmed.to_owned());
        }
    }
    blocks.retain(|(name, _)| !name.is_empty());
    blocks
}

#[test]
fn alert_rules_match_the_rule_table() {
    let text = read("prometheus/alerts.yml");
    let blocks = alert_blocks(&text);
    let alert_lines = text
        .lines()
        .filter(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with("alert:")
        })
        .count();
    assert_eq!(
        alert_lines,
        RULES.len(),
        "alerts.yml must hold exactly the rules of vitals_core::alerts::RULES"
    );
    let names: Vec<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        RULES.iter().map(|r| r.name).collect::<Vec<_>>(),
        "alerts.yml should list the rules of vitals_core::alerts::RULES, in its order"
    );
    for rule in RULES {
        let (_, lines) = blocks
            .iter()
            .find(|(name, _)| name == rule.name)
            .expect("checked above");
        let has = |wanted: &str| lines.iter().any(|l| l == wanted);
        let expected = [
            format!("expr: {}", rule.promql(NAMESPACE)),
            format!("for: {}", rule.promql_for()),
            format!("severity: {}", rule.severity.as_str()),
            format!("summary: \"{}\"", rule.summary),
        ];
        for wanted in &expected {
            assert!(
                has(wanted),
                "alert {} in alerts.yml should have the line `{wanted}`; its block is:\n{}",
                rule.name,
                lines.join("\n")
            );
        }
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("expr:")).count(),
            1,
            "alert {} has more than one expr",
            rule.name
        );
        assert!(
            lines.iter().any(|l| l.starts_with("description:")),
            "alert {} needs a description annotation",
            rule.name
        );
    }
}

#[test]
fn every_alert_rule_has_firing_and_quiet_unit_tests() {
    let text = read("prometheus/alerts.test.yml");
    let mut firing: HashSet<String> = HashSet::new();
    let mut quiet: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut awaiting_alerts = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        if let Some(name) = t.strip_prefix("alertname:") {
            current = Some(name.trim().trim_matches('"').to_owned());
            awaiting_alerts = false;
        } else if t.starts_with("- eval_time:") {
            current = None;
            awaiting_alerts = false;
        } else if t == "exp_alerts:" {
            awaiting_alerts = true;
        } else if let Some(name) = &current {
            if t == "exp_alerts: []" {
                quiet.insert(name.clone());
            } else if awaiting_alerts && t.starts_with("- exp_labels:") {
                firing.insert(name.clone());
            }
        }
    }
    let known: HashSet<&str> = RULES.iter().map(|r| r.name).collect();
    for name in firing.iter().chain(&quiet) {
        assert!(
            known.contains(name.as_str()),
            "alerts.test.yml tests an alert `{name}` that vitals_core::alerts::RULES lacks"
        );
    }
    for rule in RULES {
        assert!(
            firing.contains(rule.name),
            "alerts.test.yml has no case where {} fires (exp_alerts with an alert)",
            rule.name
        );
        assert!(
            quiet.contains(rule.name),
            "alerts.test.yml has no case where {} stays quiet (exp_alerts: [])",
            rule.name
        );
    }
}

// --- Alertmanager -----------------------------------------------------------------------------

#[test]
fn alertmanager_config_is_valid_and_routes_by_severity() {
    let config = "--config.file=alertmanager/alertmanager.yml";
    run_tool(
        "amtool",
        "prometheus-alertmanager",
        &["check-config", "alertmanager/alertmanager.yml"],
    );
    for (severity, receiver) in [("critical", "pager"), ("warning", "chat"), ("info", "null")] {
        let label = format!("severity={severity}");
        let out = run_tool(
            "amtool",
            "prometheus-alertmanager",
            &["config", "routes", "test", config, &label, "alertname=Test"],
        );
        let got = out
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with("Warning"))
            .unwrap_or_default()
            .trim();
        assert_eq!(got, receiver, "severity={severity} routes to:\n{out}");
    }
    let text = read("alertmanager/alertmanager.yml");
    for line in text.lines().filter(|l| l.contains("url:")) {
        assert!(
            line.contains(".example.invalid/"),
            "example receivers must point at example.invalid placeholders: {line}"
        );
    }
}

// --- Grafana ----------------------------------------------------------------------------------

fn dashboard() -> Value {
    serde_json::from_str(&read("grafana/dashboards/vitals.json"))
        .expect("grafana/dashboards/vitals.json is valid JSON")
}

/// Every string stored under `key` anywhere in `value`.
fn strings_under<'a>(value: &'a Value, key: &str, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key
                    && let Some(s) = v.as_str()
                {
                    out.push(s);
                }
                strings_under(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

/// Every string anywhere in `value` (keys excluded).
fn all_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Object(map) => map.values().for_each(|v| all_strings(v, out)),
        Value::Array(items) => items.iter().for_each(|v| all_strings(v, out)),
        _ => {}
    }
}

/// `(name, byte offset just after it)` of each metric name in `text`: every `health_agent_…`
/// word, and every `process_…` word (the standard process series carry no namespace).
fn metric_names(text: &str) -> Vec<(&str, usize)> {
    let prefix = format!("{NAMESPACE}_");
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (start, is_word(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                let word = &text[s..i];
                if word.starts_with(&prefix) || word.starts_with("process_") {
                    found.push((word, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    found
}

fn exported_names() -> HashSet<String> {
    let mut names = HashSet::new();
    for metric in CATALOGUE {
        let name = vitals_core::catalogue::full_name(NAMESPACE, metric);
        if metric.kind == MetricKind::Histogram {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
        names.insert(name);
    }
    names
}

fn panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().expect("dashboard has panels") {
        out.push(panel);
        // Collapsed rows carry their panels inside.
        if let Some(inner) = panel["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

#[test]
fn dashboard_queries_only_catalogue_metrics() {
    let dash = dashboard();
    let exported = exported_names();
    let mut exprs = Vec::new();
    strings_under(&dash, "expr", &mut exprs);
    assert!(exprs.len() >= 20, "only {} queries found", exprs.len());
    let mut everywhere = Vec::new();
    all_strings(&dash, &mut everywhere);
    let mut used = BTreeSet::new();
    for text in everywhere {
        for (name, _) in metric_names(text) {
            assert!(
                exported.contains(name),
                "the dashboard uses `{name}`, which is not in vitals_core::CATALOGUE: {text}"
            );
            used.insert(name.trim_end_matches("_bucket").to_owned());
        }
    }
    // Anything the catalogue gains should show up on the dashboard, or be listed here.
    // cache_skipped_total and cache_circuit_open have no panel yet.
    let not_shown = [
        "db_pool_available",
        "db_pool_min_size",
        "cache_enabled",
        "span_duration_seconds",
        "export_errors_total",
        "cache_skipped_total",
        "cache_circuit_open",
    ];
    for metric in CATALOGUE {
        let name = vitals_core::catalogue::full_name(NAMESPACE, metric);
        assert!(
            used.contains(&name) || not_shown.contains(&metric.name),
            "no dashboard panel shows {name}; add one or list it in `not_shown`"
        );
    }
}

#[test]
fn dashboard_queries_filter_by_instance_and_use_the_datasource_variable() {
    let dash = dashboard();
    let ds = serde_json::json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"});
    for panel in panels(&dash) {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().expect("every panel has a title");
        assert_eq!(panel["datasource"], ds, "panel {title}: datasource");
        let targets = panel["targets"].as_array().expect("panel has targets");
        assert!(!targets.is_empty(), "panel {title} has no query");
        for target in targets {
            assert_eq!(target["datasource"], ds, "panel {title}: target datasource");
            assert!(target["refId"].is_string(), "panel {title}: refId");
            let expr = target["expr"].as_str().expect("target has an expr");
            for (name, end) in metric_names(expr) {
                assert!(
                    expr[end..].starts_with("{instance=~\"$instance\""),
                    "panel {title}: `{name}` should be selected with \
                     {{instance=~\"$instance\"…}} in {expr}"
                );
            }
        }
    }
}

#[test]
fn dashboard_has_the_four_groups_variables_and_a_sane_layout() {
    let dash = dashboard();
    assert_eq!(dash["schemaVersion"], 39);
    assert_eq!(dash["uid"], "vitals-overview");
    let rows: Vec<&str> = panels(&dash)
        .iter()
        .filter(|p| p["type"] == "row")
        .filter_map(|p| p["title"].as_str())
        .collect();
    for group in ["System", "Database", "Cache", "API performance"] {
        assert!(rows.contains(&group), "row {group} missing: {rows:?}");
    }
    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("template variable {name} missing"))
    };
    assert_eq!(var("DS_PROMETHEUS")["type"], "datasource");
    assert_eq!(var("DS_PROMETHEUS")["query"], "prometheus");
    assert_eq!(var("instance")["type"], "query");
    assert_eq!(var("instance")["multi"], true);
    assert_eq!(var("instance")["includeAll"], true);

    // Panel types the groups promise.
    let types: Vec<(&str, &str)> = panels(&dash)
        .iter()
        .map(|p| {
            (
                p["type"].as_str().unwrap_or_default(),
                p["title"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for (kind, title) in [
        ("gauge", "Pool utilization"),
        ("gauge", "Hit rate"),
        ("heatmap", "Latency distribution"),
        ("stat", "Error rate (5xx)"),
    ] {
        assert!(
            types.contains(&(kind, title)),
            "{kind} panel {title} missing"
        );
    }

    // Unique ids, and no two panels covering the same grid cell.
    let mut ids = HashSet::new();
    let mut cells = HashSet::new();
    for panel in panels(&dash) {
        let id = panel["id"].as_u64().expect("numeric panel id");
        assert!(ids.insert(id), "duplicate panel id {id}");
        let pos = &panel["gridPos"];
        let get = |k: &str| pos[k].as_u64().expect("gridPos fields are numbers");
        let (x, y, w, h) = (get("x"), get("y"), get("w"), get("h"));
        assert!(x + w <= 24, "panel {id} is wider than the grid");
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(cells.insert((cx, cy)), "panel {id} overlaps another one");
            }
        }
    }
}

/// The dashboard's "Firing alerts" annotation selects `ALERTS` by an `alertname=~"A|B|…"`
/// list; every alert of alerts.yml must be in it, and nothing else.
#[test]
fn firing_alerts_annotation_lists_every_rule_of_alerts_yml() {
    let dash = dashboard();
    let annotation = dash["annotations"]["list"]
        .as_array()
        .expect("annotations list")
        .iter()
        .find(|a| a["name"] == "Firing alerts")
        .expect("a `Firing alerts` annotation");
    let expr = annotation["expr"].as_str().expect("annotation expr");
    let names: BTreeSet<&str> = expr
        .split("alertname=~\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no alertname=~\"…\" in {expr}"))
        .split('|')
        .collect();
    let deployed: BTreeSet<String> = alert_blocks(&read("prometheus/alerts.yml"))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let deployed: BTreeSet<&str> = deployed.iter().map(String::as_str).collect();
    assert_eq!(
        names, deployed,
        "the Firing alerts annotation should list exactly the alerts of alerts.yml"
    );
}

#[test]
fn dashboard_promql_parses() {
    let dash = dashboard();
    let mut exprs = Vec::new();
    strings_under(&dash, "expr", &mut exprs);
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let promql = expr
            .replace("$__rate_interval", "1m")
            .replace("$__interval", "1m")
            .replace("$__range", "1h")
            .replace("$instance", ".*");
        let quoted = serde_json::to_string(&promql).expect("a string serializes");
        rules.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("dashboard-queries.yml");
    std::fs::write(&file, rules).expect("write the queries");
    let path = file.to_str().expect("utf-8 temp path");
    promtool(&["check", "rules", path]);
}

#[test]
fn grafana_provisioning_points_at_the_dashboard() {
    let datasource = read("grafana/provisioning/datasources/prometheus.yml");
    assert!(datasource.contains("type: prometheus"), "{datasource}");
    let provider = read("grafana/provisioning/dashboards/vitals.yml");
    let path = provider
        .lines()
        .find_map(|l| l.trim().strip_prefix("path:"))
        .expect("the dashboard provider has a path")
        .trim();
    let compose = read("docker-compose.yml");
    assert!(
        compose.contains(&format!("./grafana/dashboards:{path}")),
        "docker-compose.yml should mount grafana/dashboards at {path}"
    );
}

// --- containers, systemd, docs ----------------------------------------------------------------

#[test]
fn dockerfile_builds_with_the_pinned_toolchain_and_runs_unprivileged() {
    let toolchain = std::fs::read_to_string(deploy_dir().join("../rust-toolchain.toml"))
        .expect("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.trim().strip_prefix("channel"))
        .and_then(|rest| rest.split('"').nth(1))
        .expect("rust-toolchain.toml names a channel");
    let dockerfile = read("Dockerfile");
    for wanted in [
        format!("FROM rust:{channel}-bookworm AS builder"),
        "FROM debian:bookworm-slim".to_owned(),
        "VITALS_LISTEN=0.0.0.0:8000".to_owned(),
        "HEALTHCHECK".to_owned(),
        "http://127.0.0.1:8000/health".to_owned(),
        "USER vitals".to_owned(),
        "cargo build --release --locked -p vitals-server".to_owned(),
    ] {
        assert!(
            dockerfile.contains(&wanted),
            "deploy/Dockerfile should contain `{wanted}`"
        );
    }
}

#[test]
fn compose_file_refers_to_files_that_exist() {
    let compose = read("docker-compose.yml");
    let mut checked = 0;
    for line in compose.lines() {
        let t = line.trim().trim_start_matches("- ");
        let t = t.strip_prefix("file:").map_or(t, str::trim);
        if let Some(rest) = t.strip_prefix("./") {
            let relative = rest.split(':').next().unwrap_or_default();
            assert!(
                deploy_file(relative).exists(),
                "docker-compose.yml mounts ./{relative}, which does not exist in deploy/"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} local files referenced");
    assert!(compose.contains("dockerfile: deploy/Dockerfile"));
    for service in [
        "vitals:",
        "postgres:",
        "redis:",
        "prometheus:",
        "alertmanager:",
        "grafana:",
    ] {
        assert!(
            compose.lines().any(|l| l == format!("  {service}")),
            "service {service} missing from docker-compose.yml"
        );
    }
}

#[test]
fn systemd_unit_is_hardened() {
    let unit = read("systemd/vitals-server.service");
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for wanted in [
        "ExecStart=/usr/local/bin/vitals-server",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=vitals",
        "Environment=VITALS_DATA_DIR=/var/lib/vitals",
        "EnvironmentFile=-/etc/vitals/vitals-server.env",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
    ] {
        assert!(lines.contains(&wanted), "unit should contain `{wanted}`");
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("ProcSubset=")),
        "ProcSubset hides /proc/stat and /proc/meminfo from the system sampler"
    );
}

#[test]
fn readme_mentions_every_file() {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("readable folder") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let relative = path.strip_prefix(root).expect("inside deploy/");
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = deploy_dir();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let readme = read("README.md");
    for file in files.iter().filter(|f| f.as_str() != "README.md") {
        assert!(
            readme.contains(file.as_str()),
            "deploy/README.md does not mention {file}"
        );
    }
}

// --- OpenTelemetry Collector ------------------------------------------------------------------

#[test]
fn otel_collector_config_takes_otlp_http_and_exposes_it_to_prometheus() {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&read("otel-collector.yml")).expect("otel-collector.yml is YAML");
    let port = |endpoint: &serde_yaml::Value, what: &str| -> u16 {
        endpoint
            .as_str()
            .and_then(|e| e.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("{what} has no host:port endpoint: {endpoint:?}"))
    };
    let otlp_port = port(
        &config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        "receivers.otlp.protocols.http",
    );
    assert_eq!(
        otlp_port, 4318,
        "the OTLP/HTTP port every client defaults to"
    );
    let prometheus = &config["exporters"]["prometheus"];
    let scrape_port = port(&prometheus["endpoint"], "exporters.prometheus");
    // docs/export.md promises the names come out unchanged, which needs the exporter's
    // default suffix handling (idempotent on names that already carry them).
    assert!(
        prometheus["add_metric_suffixes"].is_null() || prometheus["add_metric_suffixes"] == true,
        "exporters.prometheus.add_metric_suffixes must stay at its default"
    );

    let pipeline = &config["service"]["pipelines"]["metrics"];
    let names = |key: &str| -> Vec<String> {
        pipeline[key]
            .as_sequence()
            .unwrap_or_else(|| panic!("service.pipelines.metrics.{key} is not a list"))
            .iter()
            .map(|v| v.as_str().expect("component names are strings").to_owned())
            .collect()
    };
    assert!(names("receivers").contains(&"otlp".to_owned()));
    assert!(names("exporters").contains(&"prometheus".to_owned()));
    // Every component the pipeline names is defined (the Collector refuses the file otherwise).
    for (section, key) in [
        ("receivers", "receivers"),
        ("processors", "processors"),
        ("exporters", "exporters"),
    ] {
        for name in names(key) {
            assert!(
                !config[section][name.as_str()].is_null()
                    || config[section]
                        .as_mapping()
                        .is_some_and(|m| m.contains_key(name.as_str())),
                "the metrics pipeline uses {section}.{name}, which is not defined"
            );
        }
    }

    // The docs point the server and Prometheus at these ports.
    let docs = std::fs::read_to_string(deploy_dir().join("../docs/export.md")).expect("docs");
    assert!(
        docs.contains(&format!("http://127.0.0.1:{otlp_port}/v1/metrics")),
        "docs/export.md should show --otlp-endpoint http://127.0.0.1:{otlp_port}/v1/metrics"
    );
    assert!(
        docs.contains(&format!(":{scrape_port}")),
        "docs/export.md should say Prometheus scrapes the Collector on :{scrape_port}"
    );
    assert!(docs.contains("deploy/otel-collector.yml"));
}
