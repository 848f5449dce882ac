//! The alert evaluator: a pure state machine over the rules of [`crate::alerts::RULES`],
//! shared by `vitals alerts` and the dashboard's `GET /api/v1/alerts`.
//!
//! It never reads a clock. Each [`Evaluator::observe`] gets the time of the poll (an offset
//! from any fixed origin, e.g. `start.elapsed()`) and a way to read figures by their JSON
//! path, so tests drive it with plain durations. Per rule it keeps a phase, as Prometheus does:
//!
//! - *inactive*: the condition does not hold;
//! - *pending*: it holds, for less than the rule's `for` duration so far;
//! - *firing*: it has held for at least `for` (at once when `for` is 0);
//! - *not evaluable*: the figure is absent from the snapshot (e.g. no `http` section).
//!
//! `Increased` rules compare a counter with its oldest reading of the last
//! [`INCREASE_WINDOW_SECONDS`] (as Prometheus' `increase(x[5m]) > 0` does), so they need two
//! polls and keep firing while the growth is inside the window. In [`Mode::Instant`] (one-shot checks) `for` durations are ignored: a condition
//! that holds fires at once.
//!
//! A poll that reached no server at all goes to [`Evaluator::observe_unreachable`]: only
//! InstanceDown (the rules reading [`UP_FIGURE`]) learns from it; every other rule keeps the
//! state it had, as nothing was read to move it.

use std::collections::VecDeque;
use std::time::Duration;

use crate::alerts::{
    AlertRule, Condition, INCREASE_WINDOW_SECONDS, RULES, SLO_FAST_BURN, Severity, UP_FIGURE,
};
use serde::Serialize;

/// How `for` durations are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Honour each rule's `for` (watching).
    Sustained,
    /// A holding condition fires at once (one-shot check).
    Instant,
}

/// Where a rule stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The condition does not hold.
    Inactive,
    /// The condition holds, not yet for long enough.
    Pending,
    /// The alert fires.
    Firing,
    /// The figure is missing (or needs a previous poll).
    NotEvaluable,
}

/// A change worth printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// Started to hold.
    Pending,
    /// Started to fire.
    Firing,
    /// Stopped firing.
    Resolved,
}

/// The state of one rule after a poll.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleStatus {
    /// The rule.
    #[serde(serialize_with = "rule_name")]
    pub rule: &'static AlertRule,
    /// Its phase.
    pub phase: Phase,
    /// The figure read at this poll.
    pub value: Option<f64>,
    /// How long the condition has held so far.
    pub held_for: Option<Duration>,
    /// What changed at this poll.
    pub transition: Option<Transition>,
    /// The objective an SLO alert is about ([`SLO_FAST_BURN`] only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<String>,
}

fn rule_name<S: serde::Serializer>(rule: &&'static AlertRule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule.name)
}

#[derive(Clone, Debug, Default)]
struct State {
    /// Since when the condition holds without a break.
    since: Option<Duration>,
    firing: bool,
    /// Readings of the figure: the last one for threshold rules, those of the last
    /// [`INCREASE_WINDOW_SECONDS`] for `Increased` ones.
    readings: VecDeque<(Duration, f64)>,
}

impl State {
    /// Keeps the reading `v` taken at `now`; gives the one to compare it with (the previous
    /// reading, or for `Increased` the oldest inside the window).
    fn keep(&mut self, condition: Condition, now: Duration, v: f64) -> Option<f64> {
        let window = Duration::from_secs(INCREASE_WINDOW_SECONDS);
        let reference = if condition == Condition::Increased {
            while self
                .readings
                .front()
                .is_some_and(|&(at, _)| now.saturating_sub(at) > window)
            {
                self.readings.pop_front();
            }
            self.readings.front().map(|&(_, r)| r)
        } else {
            let last = self.readings.back().map(|&(_, r)| r);
            self.readings.clear();
            last
        };
        self.readings.push_back((now, v));
        reference
    }
}

/// The evaluator.
#[derive(Debug)]
pub struct Evaluator {
    mode: Mode,
    rules: &'static [AlertRule],
    states: Vec<State>,
    /// [`SLO_FAST_BURN`]'s state for each objective seen, by name.
    slo_states: Vec<(String, State)>,
}

impl Evaluator {
    /// An evaluator of every rule in [`RULES`].
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            rules: RULES,
            states: vec![State::default(); RULES.len()],
            slo_states: Vec::new(),
        }
    }

    /// Feeds one snapshot document (the JSON of `/api/v1/metrics`) taken at `now`: every rule
    /// of [`RULES`] on its figure ([`figure`]), then [`SLO_FAST_BURN`] on each objective of
    /// its `slos` section. What `vitals alerts` and the dashboard both call.
    pub fn observe_document(&mut self, now: Duration, doc: &serde_json::Value) -> Vec<RuleStatus> {
        let mut all = self.observe(now, |p| figure(doc, p));
        all.extend(self.observe_slos(now, doc));
        all
    }

    /// [`SLO_FAST_BURN`] on each objective of `doc`'s `slos` list, in its order; an objective
    /// that left the list resolves if it was firing.
    fn observe_slos(&mut self, now: Duration, doc: &serde_json::Value) -> Vec<RuleStatus> {
        let listed = doc
            .get("slos")
            .and_then(serde_json::Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let mut kept = Vec::with_capacity(listed.len());
        let mut out = Vec::with_capacity(listed.len());
        for slo in listed {
            let Some(name) = slo.get("name").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let rate = |key: &str| slo.get(key).and_then(serde_json::Value::as_f64);
            let value = match (rate("burn_rate_5m"), rate("burn_rate_1h")) {
                (Some(short), Some(long)) => Some(short.min(long)),
                _ => None,
            };
            let mut state = self
                .slo_states
                .iter()
                .position(|(n, _)| n == name)
                .map_or_else(State::default, |i| self.slo_states.swap_remove(i).1);
            let mut status = step(self.mode, &SLO_FAST_BURN, &mut state, now, value);
            status.slo = Some(name.to_owned());
            out.push(status);
            kept.push((name.to_owned(), state));
        }
        for (name, gone) in std::mem::replace(&mut self.slo_states, kept) {
            if gone.firing {
                out.push(RuleStatus {
                    rule: &SLO_FAST_BURN,
                    phase: Phase::NotEvaluable,
                    value: None,
                    held_for: None,
                    transition: Some(Transition::Resolved),
                    slo: Some(name),
                });
            }
        }
        out
    }

    /// Feeds one poll taken at `now`; `read` gives a figure by its JSON path.
    pub fn observe(
        &mut self,
        now: Duration,
        read: impl Fn(&str) -> Option<f64>,
    ) -> Vec<RuleStatus> {
        self.rules
            .iter()
            .zip(self.states.iter_mut())
            .map(|(rule, state)| step(self.mode, rule, state, now, read(rule.json)))
            .collect()
    }

    /// Feeds a poll taken at `now` that reached no server (refused, timed out, no route):
    /// [`UP_FIGURE`] reads 0, so InstanceDown pends, then fires once its `for` has passed
    /// (at once in [`Mode::Instant`]). The other rules are reported not evaluable for this
    /// poll and keep their state: one missed poll neither fires nor resolves them.
    pub fn observe_unreachable(&mut self, now: Duration) -> Vec<RuleStatus> {
        self.rules
            .iter()
            .zip(self.states.iter_mut())
            .map(|(rule, state)| {
                if rule.json == UP_FIGURE {
                    step(self.mode, rule, state, now, Some(0.0))
                } else {
                    RuleStatus {
                        rule,
                        phase: Phase::NotEvaluable,
                        value: None,
                        held_for: None,
                        transition: None,
                        slo: None,
                    }
                }
            })
            .collect()
    }
}

fn step(
    mode: Mode,
    rule: &'static AlertRule,
    state: &mut State,
    now: Duration,
    value: Option<f64>,
) -> RuleStatus {
    let was_firing = state.firing;
    let Some(v) = value else {
        *state = State::default();
        return RuleStatus {
            rule,
            phase: Phase::NotEvaluable,
            value: None,
            held_for: None,
            transition: was_firing.then_some(Transition::Resolved),
            slo: None,
        };
    };
    let previous = state.keep(rule.condition, now, v);
    if rule.condition == Condition::Increased && previous.is_none() {
        return RuleStatus {
            rule,
            phase: Phase::NotEvaluable,
            value: Some(v),
            held_for: None,
            transition: None,
            slo: None,
        };
    }
    if !rule.condition.holds(v, previous) {
        state.since = None;
        state.firing = false;
        return RuleStatus {
            rule,
            phase: Phase::Inactive,
            value: Some(v),
            held_for: None,
            transition: was_firing.then_some(Transition::Resolved),
            slo: None,
        };
    }
    let since = *state.since.get_or_insert(now);
    let held = now.saturating_sub(since);
    let needed = match mode {
        Mode::Sustained => Duration::from_secs(rule.for_seconds),
        Mode::Instant => Duration::ZERO,
    };
    state.firing = held >= needed;
    let transition = match (was_firing, state.firing) {
        (false, true) => Some(Transition::Firing),
        (false, false) if held.is_zero() => Some(Transition::Pending),
        _ => None,
    };
    RuleStatus {
        rule,
        phase: if state.firing {
            Phase::Firing
        } else {
            Phase::Pending
        },
        value: Some(v),
        held_for: Some(held),
        transition,
        slo: None,
    }
}

/// The plugin verdict: OK, WARNING, CRITICAL or UNKNOWN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Nothing above info fires.
    Ok,
    /// A warning fires.
    Warning,
    /// A critical alert fires.
    Critical,
    /// The target could not be read.
    Unknown,
}

impl Verdict {
    /// Exit status of a monitoring plugin.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
            Verdict::Unknown => 3,
        }
    }

    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warning => "WARNING",
            Verdict::Critical => "CRITICAL",
            Verdict::Unknown => "UNKNOWN",
        }
    }
}

/// The worst firing severity; `info` alone is OK.
pub fn verdict(statuses: &[RuleStatus]) -> Verdict {
    statuses
        .iter()
        .filter(|s| s.phase == Phase::Firing)
        .map(|s| match s.rule.severity {
            Severity::Info => Verdict::Ok,
            Severity::Warning => Verdict::Warning,
            Severity::Critical => Verdict::Critical,
        })
        .max()
        .unwrap_or(Verdict::Ok)
}

/// The recent hit rate the LowCacheHitRate rule reads.
pub const RECENT_HIT_RATE: &str = "cache.hit_rate_recent_percent";

/// The since-start hit rate: all a server from before the recent figure has.
pub const SINCE_START_HIT_RATE: &str = "cache.hit_rate_percent";

/// A rule's figure read from a snapshot document (the JSON of `/api/v1/metrics`), by its
/// dotted path; what `vitals alerts` and the dashboard both hand to [`Evaluator::observe`].
///
/// [`UP_FIGURE`] is not a field: a document in hand means its server answered, so it reads 1
/// (InstanceDown stays quiet); unreachable servers go to [`Evaluator::observe_unreachable`].
///
/// A hit rate means nothing without cache reads (or with the cache disabled), so it is absent
/// then: LowCacheHitRate is not evaluable on an idle server instead of firing on its 0 %, as
/// the Prometheus rule's rate of nothing does not fire. A server that predates
/// `hit_rate_recent_percent` is judged on `hit_rate_percent`.
///
/// ```
/// use vitals_core::evaluator::{figure, RECENT_HIT_RATE};
///
/// let idle = serde_json::json!({"cache": {"hit_rate_recent_percent": 0.0, "total_reads_recent": 0}});
/// assert_eq!(figure(&idle, RECENT_HIT_RATE), None);
/// let doc = serde_json::json!({"system": {"cpu_percent": 12.5}});
/// assert_eq!(figure(&doc, "system.cpu_percent"), Some(12.5));
/// assert_eq!(figure(&doc, vitals_core::alerts::UP_FIGURE), Some(1.0));
/// ```
pub fn figure(doc: &serde_json::Value, path: &str) -> Option<f64> {
    if path == UP_FIGURE {
        return Some(1.0);
    }
    let number = |p: &str| {
        p.split('.')
            .try_fold(doc, |node, key| node.get(key))
            .and_then(serde_json::Value::as_f64)
    };
    if path != RECENT_HIT_RATE {
        return number(path);
    }
    let enabled = doc
        .get("cache")
        .and_then(|c| c.get("enabled"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true);
    let (rate, reads) = match number(RECENT_HIT_RATE) {
        Some(rate) => (rate, number("cache.total_reads_recent")),
        None => (number(SINCE_START_HIT_RATE)?, number("cache.total_reads")),
    };
    (enabled && reads != Some(0.0)).then_some(rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recent_hit_rate_is_absent_without_recent_reads() {
        let rule = RULES
            .iter()
            .find(|r| r.name == "LowCacheHitRate")
            .expect("rule");
        assert_eq!(rule.json, RECENT_HIT_RATE);
        // Read a lot since start, nothing in the last minute: no verdict on the cache.
        let idle = json!({"cache": {"enabled": true, "total_reads": 900, "hit_rate_percent": 80.0,
                                    "hit_rate_recent_percent": 0.0, "total_reads_recent": 0}});
        assert_eq!(figure(&idle, RECENT_HIT_RATE), None);
        let busy = json!({"cache": {"enabled": true, "total_reads": 900, "hit_rate_percent": 80.0,
                                    "hit_rate_recent_percent": 12.5, "total_reads_recent": 8}});
        assert_eq!(figure(&busy, RECENT_HIT_RATE), Some(12.5));
        let off = json!({"cache": {"enabled": false, "hit_rate_recent_percent": 0.0, "total_reads_recent": 9}});
        assert_eq!(figure(&off, RECENT_HIT_RATE), None);
        assert_eq!(figure(&busy, "cache.errors"), None);
        assert_eq!(figure(&busy, "http.slow_requests_total"), None);
    }

    #[test]
    fn a_server_without_the_recent_rate_is_judged_on_the_since_start_one() {
        let old = json!({"cache": {"enabled": true, "total_reads": 9, "hit_rate_percent": 12.5}});
        assert_eq!(figure(&old, RECENT_HIT_RATE), Some(12.5));
        let fresh = json!({"cache": {"enabled": true, "total_reads": 0, "hit_rate_percent": 0.0}});
        assert_eq!(figure(&fresh, RECENT_HIT_RATE), None);
    }

    /// The poll time a test moves by hand.
    struct FakeClock(Duration);

    impl FakeClock {
        fn advance(&mut self, secs: u64) -> Duration {
            self.0 += Duration::from_secs(secs);
            self.0
        }
    }

    fn rule(name: &str) -> &'static AlertRule {
        RULES.iter().find(|r| r.name == name).expect("rule exists")
    }

    fn status<'a>(all: &'a [RuleStatus], name: &str) -> &'a RuleStatus {
        all.iter().find(|s| s.rule.name == name).expect("status")
    }

    fn cpu(v: f64) -> impl Fn(&str) -> Option<f64> {
        move |path| match path {
            "system.cpu_percent" => Some(v),
            "system.memory_percent" | "database.pool_utilization_percent" => Some(10.0),
            "cache.hit_rate_recent_percent" => Some(90.0),
            "cache.errors" => Some(0.0),
            _ => None,
        }
    }

    #[test]
    fn shorter_than_for_does_not_fire_longer_does_and_it_resolves() {
        let high = rule("HighCPUUsage");
        assert_eq!(high.for_seconds, 300);
        let mut clock = FakeClock(Duration::from_secs(1000));
        let mut ev = Evaluator::new(Mode::Sustained);

        let s = ev.observe(clock.0, cpu(85.0));
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::Pending);
        assert_eq!(
            status(&s, "HighCPUUsage").transition,
            Some(Transition::Pending)
        );
        assert_eq!(verdict(&s), Verdict::Ok);

        let s = ev.observe(clock.advance(299), cpu(85.0));
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::Pending);
        assert_eq!(
            status(&s, "HighCPUUsage").held_for,
            Some(Duration::from_secs(299))
        );
        assert_eq!(verdict(&s), Verdict::Ok);

        let s = ev.observe(clock.advance(1), cpu(85.0));
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::Firing);
        assert_eq!(
            status(&s, "HighCPUUsage").transition,
            Some(Transition::Firing)
        );
        assert_eq!(verdict(&s), Verdict::Warning);

        let s = ev.observe(clock.advance(15), cpu(85.0));
        assert_eq!(
            status(&s, "HighCPUUsage").transition,
            None,
            "no repeat transition"
        );

        let s = ev.observe(clock.advance(15), cpu(20.0));
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::Inactive);
        assert_eq!(
            status(&s, "HighCPUUsage").transition,
            Some(Transition::Resolved)
        );
        assert_eq!(verdict(&s), Verdict::Ok);
    }

    #[test]
    fn a_break_in_the_condition_restarts_the_for_timer() {
        let mut clock = FakeClock(Duration::ZERO);
        let mut ev = Evaluator::new(Mode::Sustained);
        ev.observe(clock.0, cpu(97.0));
        ev.observe(clock.advance(100), cpu(97.0));
        ev.observe(clock.advance(10), cpu(50.0));
        let s = ev.observe(clock.advance(10), cpu(97.0));
        assert_eq!(status(&s, "CriticalCPUUsage").phase, Phase::Pending);
        let s = ev.observe(clock.advance(119), cpu(97.0));
        assert_eq!(status(&s, "CriticalCPUUsage").phase, Phase::Pending);
        let s = ev.observe(clock.advance(1), cpu(97.0));
        assert_eq!(status(&s, "CriticalCPUUsage").phase, Phase::Firing);
        assert_eq!(verdict(&s), Verdict::Critical);
    }

    #[test]
    fn zero_for_fires_on_the_first_poll() {
        let mut ev = Evaluator::new(Mode::Sustained);
        let read = |p: &str| (p == "system.memory_percent").then_some(96.0);
        let s = ev.observe(Duration::ZERO, read);
        assert_eq!(status(&s, "CriticalMemoryUsage").phase, Phase::Firing);
        assert_eq!(status(&s, "HighMemoryUsage").phase, Phase::Pending);
    }

    #[test]
    fn instant_mode_ignores_for() {
        let mut ev = Evaluator::new(Mode::Instant);
        let s = ev.observe(Duration::ZERO, cpu(85.0));
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::Firing);
        assert_eq!(status(&s, "CacheErrors").phase, Phase::NotEvaluable);
        assert_eq!(verdict(&s), Verdict::Warning);
    }

    #[test]
    fn counters_fire_on_increase_only() {
        let mut clock = FakeClock(Duration::ZERO);
        let mut ev = Evaluator::new(Mode::Sustained);
        let errors = |n: f64| move |p: &str| (p == "cache.errors").then_some(n);
        let s = ev.observe(clock.0, errors(3.0));
        assert_eq!(status(&s, "CacheErrors").phase, Phase::NotEvaluable);
        let s = ev.observe(clock.advance(5), errors(3.0));
        assert_eq!(status(&s, "CacheErrors").phase, Phase::Inactive);
        let s = ev.observe(clock.advance(5), errors(4.0));
        assert_eq!(status(&s, "CacheErrors").phase, Phase::Firing);
        assert_eq!(verdict(&s), Verdict::Warning);
        // Still firing while the growth is inside the 5-minute window, as in Prometheus...
        let s = ev.observe(clock.advance(5), errors(4.0));
        assert_eq!(status(&s, "CacheErrors").phase, Phase::Firing);
        let s = ev.observe(clock.advance(200), errors(4.0));
        assert_eq!(status(&s, "CacheErrors").phase, Phase::Firing);
        // ...and resolved once it has left it.
        let s = ev.observe(clock.advance(120), errors(4.0));
        assert_eq!(
            status(&s, "CacheErrors").transition,
            Some(Transition::Resolved)
        );
    }

    #[test]
    fn absent_http_section_makes_slow_requests_not_evaluable_and_info_alone_is_ok() {
        let mut ev = Evaluator::new(Mode::Sustained);
        let s = ev.observe(Duration::ZERO, cpu(1.0));
        assert_eq!(status(&s, "SlowRequests").phase, Phase::NotEvaluable);

        let mut ev = Evaluator::new(Mode::Sustained);
        let slow = |n: f64| move |p: &str| (p == "http.slow_requests_total").then_some(n);
        ev.observe(Duration::ZERO, slow(1.0));
        let s = ev.observe(Duration::from_secs(5), slow(2.0));
        assert_eq!(status(&s, "SlowRequests").phase, Phase::Firing);
        assert_eq!(verdict(&s), Verdict::Ok);
    }

    #[test]
    fn slo_fast_burn_fires_when_both_windows_burn_and_resolves() {
        let doc = |short: f64, long: f64| {
            json!({"slos": [{"name": "chat", "burn_rate_5m": short, "burn_rate_1h": long},
                            {"name": "calm", "burn_rate_5m": 0.0, "burn_rate_1h": 0.0}]})
        };
        let mut ev = Evaluator::new(Mode::Sustained);
        let slo = |all: &[RuleStatus], name: &str| {
            all.iter()
                .find(|s| s.slo.as_deref() == Some(name))
                .cloned()
                .expect("objective evaluated")
        };
        let all = ev.observe_document(Duration::ZERO, &doc(20.0, 14.0));
        assert_eq!(slo(&all, "chat").phase, Phase::Inactive, "1 h below 14.4");
        assert_eq!(slo(&all, "chat").value, Some(14.0));
        let all = ev.observe_document(Duration::from_secs(1), &doc(14.5, 15.0));
        assert_eq!(slo(&all, "chat").phase, Phase::Firing);
        assert_eq!(slo(&all, "chat").transition, Some(Transition::Firing));
        assert_eq!(slo(&all, "calm").phase, Phase::Inactive);
        assert_eq!(verdict(&all), Verdict::Critical);
        let all = ev.observe_document(Duration::from_secs(2), &doc(14.4, 15.0));
        assert_eq!(
            slo(&all, "chat").phase,
            Phase::Inactive,
            "14.4 is not above"
        );
        assert_eq!(slo(&all, "chat").transition, Some(Transition::Resolved));
        ev.observe_document(Duration::from_secs(3), &doc(30.0, 30.0));
        let all = ev.observe_document(Duration::from_secs(4), &json!({}));
        let gone = slo(&all, "chat");
        assert_eq!(
            (gone.phase, gone.transition),
            (Phase::NotEvaluable, Some(Transition::Resolved))
        );
        let serialized = serde_json::to_value(&gone).expect("serializes");
        assert_eq!(serialized["rule"], "SLOFastBurn");
        assert_eq!(serialized["slo"], "chat");
    }

    #[test]
    fn an_answering_server_is_up_and_an_unreachable_one_pends_then_fires() {
        let down = rule("InstanceDown");
        assert_eq!((down.json, down.for_seconds), (UP_FIGURE, 60));
        let mut clock = FakeClock(Duration::ZERO);
        let mut ev = Evaluator::new(Mode::Sustained);
        // Answering, with the CPU above the warning line: the CPU rule starts its timer.
        let busy = json!({"system": {"cpu_percent": 85.0, "memory_percent": 10.0}});
        let s = ev.observe(clock.0, |p| figure(&busy, p));
        assert_eq!(status(&s, "InstanceDown").phase, Phase::Inactive);
        assert_eq!(status(&s, "InstanceDown").value, Some(1.0));
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::Pending);

        let s = ev.observe_unreachable(clock.advance(15));
        assert_eq!(status(&s, "InstanceDown").phase, Phase::Pending);
        assert_eq!(status(&s, "InstanceDown").value, Some(0.0));
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::NotEvaluable);
        assert_eq!(status(&s, "HighCPUUsage").transition, None);
        assert_eq!(verdict(&s), Verdict::Ok, "pending is not firing");
        let s = ev.observe_unreachable(clock.advance(59));
        assert_eq!(
            status(&s, "InstanceDown").phase,
            Phase::Pending,
            "59 s < 1 min"
        );
        let s = ev.observe_unreachable(clock.advance(1));
        assert_eq!(status(&s, "InstanceDown").phase, Phase::Firing);
        assert_eq!(
            status(&s, "InstanceDown").transition,
            Some(Transition::Firing)
        );
        assert_eq!(verdict(&s), Verdict::Critical);

        // Back: resolved, and the CPU rule kept its timer through the outage (held since 0).
        let s = ev.observe(clock.advance(225), |p| figure(&busy, p));
        assert_eq!(
            status(&s, "InstanceDown").transition,
            Some(Transition::Resolved)
        );
        assert_eq!(status(&s, "HighCPUUsage").phase, Phase::Firing);
        assert_eq!(
            status(&s, "HighCPUUsage").held_for,
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn a_one_shot_check_of_an_unreachable_server_fires_instance_down_at_once() {
        let mut ev = Evaluator::new(Mode::Instant);
        let s = ev.observe_unreachable(Duration::ZERO);
        assert_eq!(status(&s, "InstanceDown").phase, Phase::Firing);
        let firing: Vec<_> = s
            .iter()
            .filter(|st| st.phase == Phase::Firing)
            .map(|st| st.rule.name)
            .collect();
        assert_eq!(firing, ["InstanceDown"]);
        assert_eq!(verdict(&s), Verdict::Critical);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            [
                Verdict::Ok,
                Verdict::Warning,
                Verdict::Critical,
                Verdict::Unknown
            ]
            .map(Verdict::exit_code),
            [0, 1, 2, 3]
        );
    }
}
