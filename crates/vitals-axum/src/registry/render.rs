//! The walk over every series, and the Prometheus text exposition (format 0.0.4) written from
//! it straight out of the snapshot and the stores: no intermediate copy of the series, numbers
//! formatted once. The OTLP exporter (`export::otlp`) walks the same series.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use vitals_core::Snapshot;
use vitals_core::catalogue::{self, CATALOGUE, MetricDef, MetricKind, Source, Unit};

use super::{BucketHistogram, Registry, Series, read};

/// `a="1",b="2"`: label pairs escaped for the exposition format (no braces).
pub(crate) fn label_text<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

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

pub(crate) fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        // The shortest text that reads back as the same number (serde_json's formatter).
        out.push_str(zmij::Buffer::new().format_finite(v));
    }
}

fn sample(out: &mut String, name: &str, suffix: &str, labels: &str, extra: Option<(&str, &str)>) {
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

/// One metric family (a name with its help, kind and unit), as every encoder sees it.
pub(crate) struct MetricFamily<'a> {
    /// The exported name (namespace included where the metric carries one).
    pub(crate) name: &'a str,
    /// One-line help text.
    pub(crate) help: &'a str,
    /// Counter, gauge or histogram.
    pub(crate) kind: MetricKind,
    /// The catalogue's unit; `None` for the application's series (the recorder keeps none).
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) unit: Option<Unit>,
}

impl<'a> MetricFamily<'a> {
    /// A catalogue metric's family, exported as `name`.
    fn of(def: &'a MetricDef, name: &'a str) -> Self {
        Self {
            name,
            help: def.help,
            kind: def.kind,
            unit: Some(def.unit),
        }
    }
}

/// The labels of one sample.
#[derive(Clone, Copy)]
pub(crate) enum Labels<'a> {
    /// No labels.
    None,
    /// One label of a snapshot-fed series (`pool` or `cache` of a named section).
    One(&'static str, &'a str),
    /// A recorded series' labels: escaped once at registration, and as pairs.
    Recorded {
        /// `a="1",b="2"`, escaped for the exposition format.
        text: &'a str,
        /// The same labels as pairs.
        pairs: &'a [(String, String)],
    },
}

impl<'a> Labels<'a> {
    /// The labels as pairs, in order.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn pairs(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let (one, many) = match self {
            Labels::None => (None, &[][..]),
            Labels::One(k, v) => (Some((k, v)), &[][..]),
            Labels::Recorded { pairs, .. } => (None, pairs),
        };
        one.into_iter()
            .chain(many.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// A counter's or gauge's value: recorded counters are whole numbers, everything read out of
/// a snapshot (and every gauge) is a float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    /// A recorded counter.
    Int(u64),
    /// A snapshot figure or a gauge.
    Float(f64),
}

/// What walks over the series: the Prometheus renderer and the OTLP encoder.
pub(crate) trait Visitor {
    /// A family starts; its samples follow, then [`Visitor::end`]. Only families with at
    /// least one sample are visited.
    fn family(&mut self, family: &MetricFamily<'_>);
    /// A counter or gauge sample of `family`.
    fn number(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, value: Value);
    /// A histogram sample of `family`.
    fn histogram(
        &mut self,
        family: &MetricFamily<'_>,
        labels: Labels<'_>,
        histogram: &BucketHistogram,
    );
    /// The family's samples are done.
    fn end(&mut self, family: &MetricFamily<'_>);
}

/// Every series, each family once: the snapshot-fed catalogue metrics, then the ones recorded
/// as things happened (in catalogue order), then the application's (by name). This one walk
/// feeds both `/metrics` and the OTLP exporter, so they cannot list different series.
pub(crate) fn walk(registry: &Registry, snapshot: &Snapshot, visitor: &mut impl Visitor) {
    let ns = registry.namespace();
    for def in CATALOGUE {
        snapshot_fed(visitor, ns, def, snapshot);
    }
    let own = Grouped::of(&registry.own);
    for def in CATALOGUE
        .iter()
        .filter(|d| matches!(d.source, Source::Recorded))
    {
        let name = catalogue::full_name(ns, def);
        let family = MetricFamily::of(def, &name);
        own.visit(visitor, &family);
    }
    let app = Grouped::of(&registry.app);
    let described = read(&registry.described);
    for (name, kind) in app.names() {
        let help = described
            .get(name)
            .map_or("recorded by the application", |d| d.help.as_str());
        let family = MetricFamily {
            name,
            help,
            kind,
            unit: None,
        };
        app.visit(visitor, &family);
    }
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
        }
        match value {
            Value::Int(n) => out.push_str(itoa::Buffer::new().format(n)),
            Value::Float(v) => number(out, v),
        }
        out.push('\n');
    }

    fn histogram(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, h: &BucketHistogram) {
        let out = &mut self.out;
        let name = family.name;
        let owned;
        let labels = match labels {
            Labels::None => "",
            Labels::One(k, v) => {
                owned = label_text([(k, v)].into_iter());
                owned.as_str()
            }
            Labels::Recorded { text, .. } => text,
        };
        let (count, sum) = h.visit(|le, n| {
            sample(out, name, "_bucket", labels, Some(("le", le)));
            out.push_str(itoa::Buffer::new().format(n));
            out.push('\n');
        });
        sample(out, name, "_bucket", labels, Some(("le", "+Inf")));
        out.push_str(itoa::Buffer::new().format(count));
        out.push('\n');
        sample(out, name, "_sum", labels, None);
        number(out, sum);
        out.push('\n');
        sample(out, name, "_count", labels, None);
        out.push_str(itoa::Buffer::new().format(count));
        out.push('\n');
    }

    fn end(&mut self, _family: &MetricFamily<'_>) {}
}

/// Every series as Prometheus text.
pub(crate) fn render(registry: &Registry, snapshot: &Snapshot) -> String {
    // Room for what the last exposition needed, plus some: no copying as it grows.
    let last = registry.last_render_len.load(Ordering::Relaxed);
    let mut text = Text {
        out: String::with_capacity((last + last / 8).max(16 * 1024)),
    };
    walk(registry, snapshot, &mut text);
    registry
        .last_render_len
        .store(text.out.len(), Ordering::Relaxed);
    text.out
}

fn snapshot_fed(visitor: &mut impl Visitor, ns: &str, def: &MetricDef, s: &Snapshot) {
    // `None` for recorded metrics and for absent sections (no process figures, an unset
    // container limit): such families are left out, not written as zero.
    let Some(unnamed) = def.read(s) else {
        return;
    };
    let name = catalogue::full_name(ns, def);
    let family = MetricFamily::of(def, &name);
    visitor.family(&family);
    visitor.number(&family, Labels::None, Value::Float(unnamed));
    match def.source {
        Source::Database(f) => {
            for (pool, d) in &s.databases {
                visitor.number(&family, Labels::One("pool", pool), Value::Float(f(d)));
            }
        }
        Source::Cache(f) => {
            for (cache, c) in &s.caches {
                visitor.number(&family, Labels::One("cache", cache), Value::Float(f(c)));
            }
        }
        _ => {}
    }
    visitor.end(&family);
}

type Families<T> = BTreeMap<String, Vec<Arc<Series<T>>>>;

/// One store's series, grouped by name and sorted by labels.
struct Grouped {
    counters: Families<AtomicU64>,
    gauges: Families<AtomicU64>,
    histograms: Families<BucketHistogram>,
}

impl Grouped {
    fn of(store: &super::Store) -> Self {
        fn group<T>(family: &std::sync::RwLock<super::Family<T>>) -> Families<T> {
            let mut by_name: Families<T> = BTreeMap::new();
            for (key, series) in &read(family).by_key {
                by_name
                    .entry(key.name().to_owned())
                    .or_default()
                    .push(Arc::clone(series));
            }
            for list in by_name.values_mut() {
                list.sort_by(|a, b| a.labels.cmp(&b.labels));
            }
            by_name
        }
        Self {
            counters: group(&store.counters),
            gauges: group(&store.gauges),
            histograms: group(&store.histograms),
        }
    }

    fn names(&self) -> Vec<(&str, MetricKind)> {
        let mut names: Vec<(&str, MetricKind)> = self
            .counters
            .keys()
            .map(|n| (n.as_str(), MetricKind::Counter))
            .chain(self.gauges.keys().map(|n| (n.as_str(), MetricKind::Gauge)))
            .chain(
                self.histograms
                    .keys()
                    .map(|n| (n.as_str(), MetricKind::Histogram)),
            )
            .collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        names
    }

    fn visit(&self, visitor: &mut impl Visitor, family: &MetricFamily<'_>) {
        fn labels<T>(s: &Series<T>) -> Labels<'_> {
            Labels::Recorded {
                text: &s.labels,
                pairs: &s.pairs,
            }
        }
        match family.kind {
            MetricKind::Counter => {
                let Some(list) = self.counters.get(family.name) else {
                    return;
                };
                visitor.family(family);
                for s in list {
                    let n = s.value.load(Ordering::Relaxed);
                    visitor.number(family, labels(s), Value::Int(n));
                }
            }
            MetricKind::Gauge => {
                let Some(list) = self.gauges.get(family.name) else {
                    return;
                };
                visitor.family(family);
                for s in list {
                    let v = f64::from_bits(s.value.load(Ordering::Relaxed));
                    visitor.number(family, labels(s), Value::Float(v));
                }
            }
            MetricKind::Histogram => {
                let Some(list) = self.histograms.get(family.name) else {
                    return;
                };
                visitor.family(family);
                for s in list {
                    visitor.histogram(family, labels(s), &s.value);
                }
            }
        }
        visitor.end(family);
    }
}
