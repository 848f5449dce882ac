//! The Prometheus text exposition (format 0.0.4), written straight from the walk over the
//! series: no intermediate copy, every number formatted once.

use std::sync::atomic::Ordering;

use vitals_core::Snapshot;
use vitals_core::catalogue::MetricKind;

use crate::registry::Registry;
use crate::requests::RequestMetrics;
use crate::text::{number, push_label_text};
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

/// `{labels}` after a sample's name; nothing for no labels.
fn braces(out: &mut String, labels: &str) {
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
}

/// A whole number and the end of the line.
fn int_line(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
    out.push('\n');
}

/// The Prometheus text exposition, written as the walk goes into one string: each line is
/// copied from text made once (label sets at registration, `le` edges at build, a
/// histogram's bucket line start once per series) and one formatted number.
struct Text {
    out: String,
    /// `name_bucket{labels,le="`: the start of every bucket line of the current histogram.
    bucket: String,
    /// A snapshot-fed sample's one label, escaped (reused, so no allocation per sample).
    one: String,
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
        out.push_str(family.name);
        match labels {
            Labels::None => {}
            Labels::One(k, v) => {
                out.push('{');
                push_label_text(out, [(k, v)].into_iter());
                out.push('}');
            }
            Labels::Recorded { text, .. } => braces(out, text),
            Labels::Route { text, status, .. } => match status {
                None => braces(out, text),
                Some(status) => {
                    out.push('{');
                    if !text.is_empty() {
                        out.push_str(text);
                        out.push(',');
                    }
                    out.push_str("status=\"");
                    out.push_str(status);
                    out.push_str("\"}");
                }
            },
        }
        out.push(' ');
        match value {
            Value::Int(n) => int_line(out, n),
            Value::Float(v) => {
                number(out, v);
                out.push('\n');
            }
        }
    }

    fn histogram(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, h: &HistogramPoint<'_>) {
        let Text { out, bucket, one } = self;
        let name = family.name;
        let labels = match labels {
            Labels::None => "",
            Labels::One(k, v) => {
                one.clear();
                push_label_text(one, [(k, v)].into_iter());
                one.as_str()
            }
            Labels::Recorded { text, .. } | Labels::Route { text, .. } => text,
        };
        bucket.clear();
        bucket.push_str(name);
        bucket.push_str("_bucket{");
        if !labels.is_empty() {
            bucket.push_str(labels);
            bucket.push(',');
        }
        bucket.push_str("le=\"");
        let mut running = 0u64;
        for (le, n) in h.le.iter().zip(h.counts) {
            running += n;
            out.push_str(bucket);
            out.push_str(le);
            out.push_str("\"} ");
            int_line(out, running);
        }
        out.push_str(bucket);
        out.push_str("+Inf\"} ");
        int_line(out, h.count);
        out.push_str(name);
        out.push_str("_sum");
        braces(out, labels);
        out.push(' ');
        number(out, h.sum);
        out.push('\n');
        out.push_str(name);
        out.push_str("_count");
        braces(out, labels);
        out.push(' ');
        int_line(out, h.count);
    }

    fn end(&mut self, _family: &MetricFamily<'_>) {}

    /// The text format 0.0.4 has no exemplars.
    fn wants_exemplars(&self) -> bool {
        false
    }
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
        bucket: String::new(),
        one: String::new(),
    };
    walk(registry, requests, snapshot, &mut text);
    registry
        .last_render_len
        .store(text.out.len(), Ordering::Relaxed);
    text.out
}
