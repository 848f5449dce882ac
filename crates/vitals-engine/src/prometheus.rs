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
    match (labels.is_empty(), extra) {
        (true, None) => out.push(' '),
        (_, extra) => {
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
            out.push_str("} ");
        }
    }
}

/// A whole number and the end of the line.
fn int_line(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
    out.push('\n');
}

/// The Prometheus text exposition, written as the walk goes into one string. Each line is a
/// few copies of text made once (label sets at registration, `le` edges at build, the start
/// of a histogram's bucket lines once per series) and one formatted number.
struct Text {
    out: String,
    /// `\nname_bucket{labels,le="`: the end of the previous line and the start of the next
    /// bucket line of the current histogram.
    bucket: String,
    /// Each `le` edge of [`Text::tails_of`] followed by `"} `.
    tails: Vec<String>,
    /// The edges `tails` were made for. Every histogram's edges stay where they are for the
    /// whole walk (the request metrics live as long as the process, the registry's series
    /// are held by the walk), so the request histograms share one set of tails.
    tails_of: Option<*const [Box<str>]>,
    /// A snapshot-fed sample's one label, escaped (reused, so no allocation per sample).
    one: String,
}

impl Text {
    fn new(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
            bucket: String::new(),
            tails: Vec::new(),
            tails_of: None,
            one: String::new(),
        }
    }
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
        let name = family.name;
        match labels {
            Labels::None => sample(out, name, "", "", None),
            Labels::One(k, v) => {
                out.push_str(name);
                out.push('{');
                push_label_text(out, [(k, v)].into_iter());
                out.push_str("} ");
            }
            Labels::Recorded { text, .. }
            | Labels::Route {
                text, status: None, ..
            } => sample(out, name, "", text, None),
            Labels::Route {
                text,
                status: Some(status),
                ..
            } => {
                out.push_str(name);
                out.push('{');
                if !text.is_empty() {
                    out.push_str(text);
                    out.push(',');
                }
                out.push_str("status=\"");
                out.push_str(status);
                out.push_str("\"} ");
            }
        }
        match value {
            Value::Int(n) => int_line(out, n),
            Value::Float(v) => {
                number(out, v);
                out.push('\n');
            }
        }
    }

    fn histogram(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, h: &HistogramPoint<'_>) {
        let Text {
            out,
            bucket,
            tails,
            tails_of,
            one,
        } = self;
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
        let edges = std::ptr::from_ref(h.le);
        if !tails_of.is_some_and(|of| std::ptr::eq(of, edges)) {
            tails.clear();
            tails.extend(h.le.iter().map(|le| format!("{le}\"}} ")));
            *tails_of = Some(edges);
        }
        bucket.clear();
        bucket.push('\n');
        bucket.push_str(name);
        bucket.push_str("_bucket{");
        if !labels.is_empty() {
            bucket.push_str(labels);
            bucket.push(',');
        }
        bucket.push_str("le=\"");
        // The first line has no line before it to end.
        let mut start = &bucket[1..];
        let mut running = 0u64;
        for (tail, n) in tails.iter().zip(h.counts) {
            running += n;
            out.push_str(start);
            out.push_str(tail);
            out.push_str(itoa::Buffer::new().format(running));
            start = bucket;
        }
        out.push_str(start);
        out.push_str("+Inf\"} ");
        int_line(out, h.count);
        sample(out, name, "_sum", labels, None);
        number(out, h.sum);
        out.push('\n');
        sample(out, name, "_count", labels, None);
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
    let mut text = Text::new((last + last / 8).max(16 * 1024));
    walk(registry, requests, snapshot, &mut text);
    registry
        .last_render_len
        .store(text.out.len(), Ordering::Relaxed);
    text.out
}
