//! The OpenMetrics 1.0 exposition (<https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>),
//! written from the same walk as the text format: the same families, labels and values, with
//! what OpenMetrics adds or asks for:
//!
//! - a counter family is named without `_total`, and its samples with it;
//! - `# UNIT` for families in seconds or bytes whose name ends with the unit;
//! - exemplars on the request-duration buckets: `# {trace_id="…"} <value> <timestamp>`, the
//!   newest request that fell into the bucket, with the id it came with;
//! - `# EOF` at the end.

use std::sync::atomic::Ordering;

use vitals_core::Snapshot;
use vitals_core::catalogue::{MetricKind, Unit};

use crate::prometheus::sample;
use crate::registry::Registry;
use crate::requests::{Exemplar, RequestMetrics};
use crate::text::{label_text, number};
use crate::walk::{HistogramPoint, Labels, MetricFamily, Value, Visitor, walk};

/// The `Content-Type` of an OpenMetrics answer.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The family name OpenMetrics gives `name` (a counter's without `_total`).
fn family_name(name: &str, kind: MetricKind) -> &str {
    match kind {
        MetricKind::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

fn escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// The OpenMetrics exposition, written as the walk goes.
struct OpenMetrics {
    out: String,
}

impl OpenMetrics {
    /// The labels of a sample as text, borrowed where they already are.
    fn labels<'a>(
        labels: Labels<'a>,
        owned: &'a mut String,
    ) -> (&'a str, Option<(&'a str, &'a str)>) {
        match labels {
            Labels::None => ("", None),
            Labels::One(k, v) => {
                *owned = label_text([(k, v)].into_iter());
                (owned.as_str(), None)
            }
            Labels::Recorded { text, .. } => (text, None),
            Labels::Route { text, status, .. } => (text, status.map(|s| ("status", s))),
        }
    }

    /// ` # {trace_id="…"} <value> <timestamp>` after a bucket's count.
    fn exemplar(&mut self, e: &Exemplar) {
        let out = &mut self.out;
        out.push_str(" # {trace_id=\"");
        escaped(out, &e.id);
        out.push_str("\"} ");
        number(out, e.value_seconds);
        out.push(' ');
        // Seconds since the epoch, to the millisecond (an f64 of nanoseconds would not be
        // exact).
        out.push_str(itoa::Buffer::new().format(e.unix_nanos / 1_000_000_000));
        out.push('.');
        let millis = (e.unix_nanos / 1_000_000) % 1000;
        out.push_str(&format!("{millis:03}"));
    }
}

impl Visitor for OpenMetrics {
    fn family(&mut self, family: &MetricFamily<'_>) {
        let name = family_name(family.name, family.kind);
        let out = &mut self.out;
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escaped(out, family.help);
        out.push_str("\n# TYPE ");
        out.push_str(name);
        out.push_str(match family.kind {
            MetricKind::Counter => " counter\n",
            MetricKind::Gauge => " gauge\n",
            MetricKind::Histogram => " histogram\n",
        });
        if let Some(unit @ (Unit::Seconds | Unit::Bytes)) = family.unit {
            let unit = unit.as_str();
            if name.strip_suffix(unit).is_some_and(|n| n.ends_with('_')) {
                out.push_str("# UNIT ");
                out.push_str(name);
                out.push(' ');
                out.push_str(unit);
                out.push('\n');
            }
        }
    }

    fn number(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, value: Value) {
        let mut owned = String::new();
        let (labels, extra) = Self::labels(labels, &mut owned);
        let name = family_name(family.name, family.kind);
        let suffix = if family.kind == MetricKind::Counter {
            "_total"
        } else {
            ""
        };
        sample(&mut self.out, name, suffix, labels, extra);
        match value {
            Value::Int(n) => self.out.push_str(itoa::Buffer::new().format(n)),
            Value::Float(v) => number(&mut self.out, v),
        }
        self.out.push('\n');
    }

    fn histogram(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, h: &HistogramPoint<'_>) {
        let mut owned = String::new();
        let (labels, _) = Self::labels(labels, &mut owned);
        let name = family.name;
        let mut running = 0u64;
        let buckets = h.le.iter().map(|b| b.as_ref()).chain(["+Inf"]);
        for (i, le) in buckets.enumerate() {
            // The finite buckets count up; +Inf is the total.
            running = match h.counts.get(i) {
                Some(n) if i < h.le.len() => running + n,
                _ => h.count,
            };
            sample(&mut self.out, name, "_bucket", labels, Some(("le", le)));
            self.out.push_str(itoa::Buffer::new().format(running));
            if let Some(Some(e)) = h.exemplars.get(i) {
                self.exemplar(e);
            }
            self.out.push('\n');
        }
        sample(&mut self.out, name, "_count", labels, None);
        self.out.push_str(itoa::Buffer::new().format(h.count));
        self.out.push('\n');
        sample(&mut self.out, name, "_sum", labels, None);
        number(&mut self.out, h.sum);
        self.out.push('\n');
    }

    fn end(&mut self, _family: &MetricFamily<'_>) {}
}

/// Every series as OpenMetrics text, ending with `# EOF`.
pub(crate) fn render(
    registry: &Registry,
    requests: &RequestMetrics,
    snapshot: &Snapshot,
) -> String {
    let last = registry.last_render_len.load(Ordering::Relaxed);
    let mut om = OpenMetrics {
        out: String::with_capacity((last + last / 4).max(16 * 1024)),
    };
    walk(registry, requests, snapshot, &mut om);
    om.out.push_str("# EOF\n");
    om.out
}

/// Whether an `Accept` header value asks for OpenMetrics: it names
/// `application/openmetrics-text` with a quality above 0. Prometheus sends it first, with the
/// text format as a fallback.
///
/// ```
/// use vitals_engine::accepts_openmetrics;
///
/// assert!(accepts_openmetrics("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"));
/// assert!(!accepts_openmetrics("text/plain"));
/// assert!(!accepts_openmetrics("application/openmetrics-text; q=0"));
/// ```
pub fn accepts_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        if !media.eq_ignore_ascii_case("application/openmetrics-text") {
            return false;
        }
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, v)| v.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        q > 0.0
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use http::Method;

    use super::*;
    use crate::{Engine, ExemplarId};

    fn engine_with_traffic() -> Engine {
        let engine = Engine::builder().namespace("shop").build().expect("builds");
        let m = engine.requests();
        let get = m.series(&Method::GET, Some("/orders/{id}"));
        let trace = [
            0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
            0x47, 0x36,
        ];
        m.record(
            get,
            200,
            Duration::from_millis(3),
            Instant::now(),
            Some(ExemplarId::Trace(trace)),
        );
        m.record(
            get,
            500,
            Duration::from_millis(700),
            Instant::now(),
            Some(ExemplarId::Request(b"req-9")),
        );
        m.record(
            get,
            200,
            Duration::from_secs(12),
            Instant::now(),
            Some(ExemplarId::Request(b"17")),
        );
        engine
    }

    #[test]
    fn families_samples_exemplars_and_eof_follow_openmetrics() {
        let engine = engine_with_traffic();
        let om = engine.render_openmetrics();
        assert!(om.ends_with("\n# EOF\n"), "{om}");
        assert_eq!(om.matches("# EOF").count(), 1);
        // Counters: the family without `_total`, its samples with it.
        assert!(om.contains("# TYPE shop_http_requests counter\n"), "{om}");
        assert!(om.contains(
            "shop_http_requests_total{method=\"GET\",route=\"/orders/{id}\",status=\"500\"} 1\n"
        ));
        assert!(!om.contains("# TYPE shop_http_requests_total"));
        assert!(om.contains("# UNIT shop_http_request_duration_seconds seconds\n"));
        // Each exemplar on the bucket its request fell into, with its id, value and time.
        let line = |le: &str| {
            om.lines()
                .find(|l| {
                    l.starts_with("shop_http_request_duration_seconds_bucket{")
                        && l.contains(&format!("le=\"{le}\""))
                })
                .unwrap_or_else(|| panic!("bucket {le} in {om}"))
                .to_owned()
        };
        let fast = line("0.005");
        let (sample, exemplar) = fast.split_once(" # ").expect("exemplar on the 5 ms bucket");
        assert!(sample.ends_with(" 1"), "{fast}");
        let mut parts = exemplar.split(' ');
        assert_eq!(
            parts.next(),
            Some("{trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"}")
        );
        assert_eq!(parts.next(), Some("0.003"));
        let ts: f64 = parts
            .next()
            .and_then(|t| t.parse().ok())
            .expect("timestamp");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        assert!((now - ts).abs() < 60.0, "{ts} vs {now}");
        assert!(
            line("1").contains("# {trace_id=\"req-9\"} 0.7 "),
            "{}",
            line("1")
        );
        assert!(
            line("+Inf").contains("# {trace_id=\"17\"} 12 "),
            "{}",
            line("+Inf")
        );
        assert!(
            !line("0.0001").contains('#'),
            "an empty bucket has no exemplar"
        );
        // Every sample belongs to the family announced last.
        let mut family = String::new();
        for l in om.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap_or("").to_owned();
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap_or("");
                let suffix = name.strip_prefix(family.as_str()).unwrap_or("?");
                assert!(
                    ["", "_total", "_bucket", "_count", "_sum"].contains(&suffix),
                    "{name} outside family {family}"
                );
            }
        }
        // The text format is unchanged: no exemplar, no EOF.
        let text = engine.render_prometheus();
        assert!(!text.contains("trace_id") && !text.contains("# EOF"));
        assert!(text.contains("# TYPE shop_http_requests_total counter\n"));
    }

    #[test]
    fn the_le_text_of_the_rules_is_the_exposition_s() {
        for &edge in vitals_core::slo::default_edges(Duration::from_millis(300)).iter() {
            let mut text = String::new();
            number(&mut text, edge);
            assert_eq!(text, vitals_core::slo::le_text(edge), "edge {edge}");
        }
    }

    #[test]
    fn accept_headers() {
        assert!(accepts_openmetrics(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(accepts_openmetrics("Application/OpenMetrics-Text"));
        assert!(!accepts_openmetrics("text/plain;version=0.0.4"));
        assert!(!accepts_openmetrics("*/*"));
        assert!(!accepts_openmetrics(""));
    }
}
