//! The alert rules, written down once.
//!
//! `deploy/prometheus/alerts.yml` is checked against this table, and `vitals alerts`
//! evaluates it against live polls, so a threshold changes in one place.

use crate::catalogue::{self, MetricDef, MetricKind, Source, Unit};

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth a look.
    Info,
    /// Needs attention soon.
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// Lowercase name, as the `severity` label spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// When a rule's condition holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Condition {
    /// value > threshold.
    Above(f64),
    /// value >= threshold.
    AtLeast(f64),
    /// value < threshold.
    Below(f64),
    /// value == threshold (for 0/1 figures such as `up`).
    Equals(f64),
    /// The counter grew over the last [`INCREASE_WINDOW_SECONDS`].
    Increased,
}

/// How far back an [`Condition::Increased`] rule looks: `increase(x[5m]) > 0` in Prometheus,
/// and the same in the evaluator, so an alert fires for as long in both.
pub const INCREASE_WINDOW_SECONDS: u64 = 300;

impl Condition {
    /// Whether the condition holds for `value`, given the `previous` reading of the same
    /// figure (only [`Condition::Increased`] looks at it; without one it does not hold).
    pub fn holds(self, value: f64, previous: Option<f64>) -> bool {
        match self {
            Condition::Above(t) => value > t,
            Condition::AtLeast(t) => value >= t,
            Condition::Below(t) => value < t,
            Condition::Equals(t) => value == t,
            Condition::Increased => previous.is_some_and(|p| value > p),
        }
    }

    /// The comparison as PromQL text after the metric, e.g. `> 80`.
    fn promql_suffix(self) -> String {
        match self {
            Condition::Above(t) => format!("> {t}"),
            Condition::AtLeast(t) => format!(">= {t}"),
            Condition::Below(t) => format!("< {t}"),
            Condition::Equals(t) => format!("== {t}"),
            Condition::Increased => "> 0".to_owned(),
        }
    }
}

/// What the Prometheus expression of a rule compares with its threshold.
#[derive(Clone, Copy, Debug)]
pub enum Expr {
    /// The rule's metric as exported: each series on its own (gauges), or, for
    /// [`Condition::Increased`], its growth over 5 minutes added up per instance.
    Metric,
    /// The rule's metric as a percentage of itself plus `rest`, from how much both counters grew
    /// over the last `window_seconds`, per instance and `cache` label: the same figure as a
    /// recent window in the JSON snapshot (`cache.hit_rate_recent_percent` for hits and
    /// misses). A window without any growth gives 0/0, which has no value in PromQL, so the
    /// rule neither fires nor stays pending then.
    RecentShare {
        /// The other counter of the whole (misses, for a hit rate).
        rest: MetricDef,
        /// The window, in seconds.
        window_seconds: u64,
    },
}

/// One alert rule.
#[derive(Clone, Copy, Debug)]
pub struct AlertRule {
    /// Alert name, e.g. `HighCPUUsage`.
    pub name: &'static str,
    /// The metric it watches (for [`Expr::RecentShare`], the part whose share is taken).
    pub metric: MetricDef,
    /// How the Prometheus expression reads `metric`.
    pub expr: Expr,
    /// The JSON snapshot field carrying the same figure (`section.field`).
    pub json: &'static str,
    /// When it holds.
    pub condition: Condition,
    /// How long it must hold before the alert fires, in seconds (0: at once).
    pub for_seconds: u64,
    /// How urgent.
    pub severity: Severity,
    /// One-line summary.
    pub summary: &'static str,
}

/// Rules are equal when they have the same name (names are unique in [`RULES`]).
impl PartialEq for AlertRule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl AlertRule {
    /// The Prometheus expression for this rule with metric names under `namespace`.
    ///
    /// ```
    /// let rule = &vitals_core::alerts::RULES[0];
    /// assert_eq!(rule.promql("health_agent"), "health_agent_cpu_percent > 80");
    /// ```
    pub fn promql(&self, namespace: &str) -> String {
        let name = catalogue::full_name(namespace, &self.metric);
        let suffix = self.condition.promql_suffix();
        match (self.expr, self.condition) {
            (
                Expr::RecentShare {
                    rest,
                    window_seconds,
                },
                _,
            ) => {
                let rest = catalogue::full_name(namespace, &rest);
                let window = duration(window_seconds);
                // Per cache as well: an unnamed cache has no `cache` label, so its series is
                // the one `vitals alerts` judges; named caches get alerts of their own.
                let by = "sum by (instance, cache)";
                format!(
                    "100 * {by} (increase({name}[{window}])) / {by} \
                     (increase({name}[{window}]) + increase({rest}[{window}])) {suffix}"
                )
            }
            // Per instance, so an alert names the server it is about.
            (Expr::Metric, Condition::Increased) => {
                let window = duration(INCREASE_WINDOW_SECONDS);
                format!("sum by (instance) (increase({name}[{window}])) {suffix}")
            }
            (Expr::Metric, _) => format!("{name} {suffix}"),
        }
    }

    /// The `for` duration as Prometheus writes it (`5m`, `0s`).
    pub fn promql_for(&self) -> String {
        duration(self.for_seconds)
    }
}

/// Seconds as Prometheus writes a duration (`5m`, `0s`, `90s`).
fn duration(s: u64) -> String {
    if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

const fn rule(
    name: &'static str,
    metric: MetricDef,
    json: &'static str,
    condition: Condition,
    for_seconds: u64,
    severity: Severity,
    summary: &'static str,
) -> AlertRule {
    AlertRule {
        name,
        metric,
        expr: Expr::Metric,
        json,
        condition,
        for_seconds,
        severity,
        summary,
    }
}

/// The series a Prometheus server writes for every target at every scrape: 1 when the scrape
/// succeeded, 0 when it did not (refused, timed out, or answered with an error). Vitals does
/// not export it, so it is not in [`catalogue::CATALOGUE`]; InstanceDown watches it.
pub const UP: MetricDef = MetricDef {
    name: "up",
    kind: MetricKind::Gauge,
    unit: Unit::Boolean,
    help: "1 when the scraper reached the target, 0 when it did not (written by the scraper)",
    labels: &[],
    json: None,
    source: Source::Recorded,
    namespaced: false,
};

/// The figure InstanceDown reads in place of a JSON field: 1 for a target whose snapshot was
/// read, 0 for one that could not be reached (see [`crate::evaluator::figure`]).
pub const UP_FIGURE: &str = "up";

/// The same rule with another Prometheus expression.
const fn with_expr(rule: AlertRule, expr: Expr) -> AlertRule {
    AlertRule { expr, ..rule }
}

/// Every rule, in the order `deploy/prometheus/alerts.yml` lists them (docs/metrics.md has
/// the table): the nine machine, pool, cache and request rules, then RuntimeSaturated and
/// InstanceDown.
pub const RULES: &[AlertRule] = &[
    rule(
        "HighCPUUsage",
        catalogue::CPU_PERCENT,
        "system.cpu_percent",
        Condition::Above(80.0),
        300,
        Severity::Warning,
        "CPU use above 80% for 5 minutes",
    ),
    rule(
        "CriticalCPUUsage",
        catalogue::CPU_PERCENT,
        "system.cpu_percent",
        Condition::Above(95.0),
        120,
        Severity::Critical,
        "CPU use above 95% for 2 minutes",
    ),
    rule(
        "HighMemoryUsage",
        catalogue::MEMORY_PERCENT,
        "system.memory_percent",
        Condition::Above(85.0),
        300,
        Severity::Warning,
        "memory use above 85% for 5 minutes",
    ),
    rule(
        "CriticalMemoryUsage",
        catalogue::MEMORY_PERCENT,
        "system.memory_percent",
        Condition::Above(95.0),
        0,
        Severity::Critical,
        "memory use above 95%",
    ),
    rule(
        "DatabasePoolExhausted",
        catalogue::DB_POOL_UTILIZATION_PERCENT,
        "database.pool_utilization_percent",
        Condition::AtLeast(100.0),
        60,
        Severity::Critical,
        "every pool connection in use for 1 minute",
    ),
    rule(
        "DatabasePoolHigh",
        catalogue::DB_POOL_UTILIZATION_PERCENT,
        "database.pool_utilization_percent",
        Condition::Above(80.0),
        300,
        Severity::Warning,
        "pool utilization above 80% for 5 minutes",
    ),
    // Judged on the last minute's hit rate, here and in Prometheus alike: the since-start one
    // lags more the longer a server runs (see docs/cli.md, "LowCacheHitRate here and in
    // Prometheus"). Without reads in that minute there is no rate, so no alert.
    with_expr(
        rule(
            "LowCacheHitRate",
            catalogue::CACHE_HITS,
            "cache.hit_rate_recent_percent",
            Condition::Below(30.0),
            600,
            Severity::Warning,
            "cache hit rate below 30% for 10 minutes",
        ),
        Expr::RecentShare {
            rest: catalogue::CACHE_MISSES,
            window_seconds: 60,
        },
    ),
    rule(
        "CacheErrors",
        catalogue::CACHE_ERRORS,
        "cache.errors",
        Condition::Increased,
        0,
        Severity::Warning,
        "the cache backend is failing operations",
    ),
    rule(
        "SlowRequests",
        catalogue::HTTP_SLOW_REQUESTS,
        "http.slow_requests_total",
        Condition::Increased,
        0,
        Severity::Info,
        "requests slower than the slow-request threshold",
    ),
    // Needs the `runtime` section, which a server without a runtime collector lacks: the rule
    // is then not evaluable in `vitals alerts` and has no series in Prometheus.
    rule(
        "RuntimeSaturated",
        catalogue::TOKIO_BUSY_RATIO,
        "runtime.busy_ratio",
        Condition::Above(0.9),
        300,
        Severity::Warning,
        "Tokio workers busy more than 90% of the time for 5 minutes",
    ),
    // The first alert a fleet needs: a server that stopped answering. In Prometheus it reads
    // the scraper's own `up` series; in `vitals alerts` an unreachable target holds it (a
    // snapshot that was read means the target is up), see docs/cli.md.
    rule(
        "InstanceDown",
        UP,
        UP_FIGURE,
        Condition::Equals(0.0),
        60,
        Severity::Critical,
        "the instance has not answered a scrape for 1 minute",
    ),
];

/// The SLO alert the dashboard and `vitals alerts` evaluate, once for each objective of the
/// snapshot's `slos` section: the first of [`crate::slo::BURN_ALERTS`], whose windows (1 h and
/// 5 min) the server keeps. Its figure is the smaller of the two burn rates, so it holds when
/// both are above 14.4, as the Prometheus alert of the same name. The longer windows of the
/// other two burn-rate alerts are Prometheus' alone.
pub const SLO_FAST_BURN: AlertRule = AlertRule {
    name: crate::slo::BURN_ALERTS[0].name,
    metric: catalogue::HTTP_REQUESTS,
    expr: Expr::Metric,
    json: "slos[].min(burn_rate_5m, burn_rate_1h)",
    condition: Condition::Above(crate::slo::BURN_ALERTS[0].factor),
    for_seconds: 0,
    severity: crate::slo::BURN_ALERTS[0].severity,
    summary: "error budget burning over 14.4 times too fast over both the last hour and 5 minutes",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_rules_with_unique_names() {
        assert_eq!(RULES.len(), 11);
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 11);
    }

    #[test]
    fn conditions() {
        assert!(Condition::Above(80.0).holds(80.01, None));
        assert!(!Condition::Above(80.0).holds(80.0, None));
        assert!(Condition::AtLeast(100.0).holds(100.0, None));
        assert!(Condition::Below(30.0).holds(29.9, None));
        assert!(Condition::Equals(0.0).holds(0.0, None));
        assert!(!Condition::Equals(0.0).holds(1.0, None));
        assert!(!Condition::Increased.holds(5.0, None));
        assert!(!Condition::Increased.holds(5.0, Some(5.0)));
        assert!(Condition::Increased.holds(6.0, Some(5.0)));
    }

    #[test]
    fn promql_renders() {
        let by_name = |n: &str| RULES.iter().find(|r| r.name == n).copied();
        let exhausted = by_name("DatabasePoolExhausted").expect("rule");
        assert_eq!(
            exhausted.promql("health_agent"),
            "health_agent_db_pool_utilization_percent >= 100"
        );
        assert_eq!(exhausted.promql_for(), "1m");
        let errors = by_name("CacheErrors").expect("rule");
        assert_eq!(
            errors.promql("ns"),
            "sum by (instance) (increase(ns_cache_errors_total[5m])) > 0"
        );
        assert_eq!(errors.promql_for(), "0s");
        let runtime = by_name("RuntimeSaturated").expect("rule");
        assert_eq!(
            runtime.promql("health_agent"),
            "health_agent_tokio_busy_ratio > 0.9"
        );
        assert_eq!(runtime.promql_for(), "5m");
        assert_eq!(runtime.severity, Severity::Warning);
        let cache = by_name("LowCacheHitRate").expect("rule");
        assert_eq!(
            cache.promql("ns"),
            "100 * sum by (instance, cache) (increase(ns_cache_hits_total[1m])) / \
             sum by (instance, cache) (increase(ns_cache_hits_total[1m]) + \
             increase(ns_cache_misses_total[1m])) < 30"
        );
        assert_eq!(cache.promql_for(), "10m");
        // `up` is the scraper's series: never under the namespace.
        let down = by_name("InstanceDown").expect("rule");
        assert_eq!(down.promql("health_agent"), "up == 0");
        assert_eq!(down.promql("ns"), "up == 0");
        assert_eq!(down.promql_for(), "1m");
        assert_eq!(down.severity, Severity::Critical);
    }
}
