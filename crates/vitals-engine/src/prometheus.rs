//! The Prometheus text exposition (format 0.0.4), written straight from the walk over the
//! series: no intermediate copy, every number formatted once.

use std::sync::atomic::Ordering;

use vitals_core::Snapshot;
use vitals_core::catalogue::MetricKind;

use crate::registry::Registry;
use crate::requests::RequestMetrics;
use crate::text::{label_text, number};
use crate::walk::{HistogramPoint, Labels, MetricFamily, Value, Visitor, walk};

fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// One sample's name and labels, up to its value: `name<suffix>{labels,extra="…"} `
/// (OpenMetrics writes them the same way).
pub(crate) fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    extra: Option<(&str, &str)>,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some((k, v)) = extra {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            out.push_str(v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
}

/// The Prometheus text exposition, written as the walk goes.
struct Text {
    out: String,
}

impl Visitor for Text {
    fn family(&mut self, family: &MetricFamily<'_>) {
        header(
            &mut self.out,
            family.name,
            family.help,
            kind_name(family.kind),
        );
    }

    fn number(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, value: Value) {
        let out = &mut self.out;
        match labels {
            Labels::None => sample(out, family.name, "", "", None),
            Labels::One(k, v) => {
                sample(
                    out,
                    family.name,
                    "",
                    &label_text([(k, v)].into_iter()),
                    None,
                );
            }
            Labels::Recorded { text, .. } => sample(out, family.name, "", text, None),
            Labels::Route { text, status, .. } => {
                sample(out, family.name, "", text, status.map(|s| ("status", s)));
            }
        }
        match value {
            Value::Int(n) => out.push_str(itoa::Buffer::new().format(n)),
            Value::Float(v) => number(out, v),
        }
        out.push('\n');
    }

    fn histogram(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, h: &HistogramPoint<'_>) {
        let out = &mut self.out;
        let name = family.name;
        let owned;
        let labels = match labels {
            Labels::None => "",
            Labels::One(k, v) => {
                owned = label_text([(k, v)].into_iter());
                owned.as_str()
            }
            Labels::Recorded { text, .. } | Labels::Route { text, .. } => text,
        };
        let mut running = 0u64;
        for (le, n) in h.le.iter().zip(h.counts) {
            running += n;
            sample(out, name, "_bucket", labels, Some(("le", le)));
            out.push_str(itoa::Buffer::new().format(running));
            out.push('\n');
        }
        let count = h.count;
        sample(out, name, "_bucket", labels, Some(("le", "+Inf")));
        out.push_str(itoa::Buffer::new().format(count));
        out.push('\n');
        sample(out, name, "_sum", labels, None);
        number(out, h.sum);
        out.push('\n');
        sample(out, name, "_count", labels, None);
        out.push_str(itoa::Buffer::new().format(count));
        out.push('\n');
    }

    fn end(&mut self, _family: &MetricFamily<'_>) {}
}

/// Every series as Prometheus text.
pub(crate) fn render(
    registry: &Registry,
    requests: &RequestMetrics,
    snapshot: &Snapshot,
) -> String {
    // Room for what the last exposition needed, plus some: no copying as it grows.
    let last = registry.last_render_len.load(Ordering::Relaxed);
    let mut text = Text {
        out: String::with_capacity((last + last / 8).max(16 * 1024)),
    };
    walk(registry, requests, snapshot, &mut text);
    registry
        .last_render_len
        .store(text.out.len(), Ordering::Relaxed);
    text.out
}
