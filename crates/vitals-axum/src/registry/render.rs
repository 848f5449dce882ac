//! The Prometheus text exposition (format 0.0.4), written straight from the snapshot and the
//! stores: no intermediate copy of the series, numbers formatted once.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use vitals_core::Snapshot;
use vitals_core::catalogue::{self, CATALOGUE, MetricDef, MetricKind, Source};

use super::{Registry, Series, read};

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
        let _ = write!(out, "{v}");
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

/// Every series: the snapshot-fed catalogue metrics, then the ones recorded as things
/// happened, then the application's.
pub(crate) fn render(registry: &Registry, snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let ns = registry.namespace();
    for def in CATALOGUE {
        snapshot_fed(&mut out, ns, def, snapshot);
    }
    let own = Grouped::of(registry, &registry.own);
    for def in CATALOGUE
        .iter()
        .filter(|d| matches!(d.source, Source::Recorded))
    {
        let name = catalogue::full_name(ns, def);
        own.write(&mut out, &name, def.help, def.kind);
    }
    let app = Grouped::of(registry, &registry.app);
    let described = read(&registry.described);
    for (name, kind) in app.names() {
        let help = described
            .get(name)
            .map_or("recorded by the application", |d| d.help.as_str());
        app.write(&mut out, name, help, kind);
    }
    out
}

fn snapshot_fed(out: &mut String, ns: &str, def: &MetricDef, s: &Snapshot) {
    let mut values: Vec<(String, f64)> = Vec::new();
    match def.source {
        Source::Recorded => return,
        Source::System(f) => values.push((String::new(), f(&s.system))),
        Source::Process(f) => values.extend(s.process.as_ref().map(|p| (String::new(), f(p)))),
        Source::Http(f) => values.extend(s.http.as_ref().map(|h| (String::new(), f(h)))),
        Source::Runtime(f) => values.extend(s.runtime.as_ref().map(|r| (String::new(), f(r)))),
        Source::Container(f) => values.extend(
            s.system
                .container
                .as_ref()
                .and_then(f)
                .map(|v| (String::new(), v)),
        ),
        Source::Database(f) => {
            values.push((String::new(), f(&s.database)));
            for (name, d) in &s.databases {
                values.push((label_text([("pool", name.as_str())].into_iter()), f(d)));
            }
        }
        Source::Cache(f) => {
            values.push((String::new(), f(&s.cache)));
            for (name, c) in &s.caches {
                values.push((label_text([("cache", name.as_str())].into_iter()), f(c)));
            }
        }
    }
    if values.is_empty() {
        return;
    }
    let name = catalogue::full_name(ns, def);
    header(out, &name, def.help, kind_name(def.kind));
    for (labels, v) in values {
        sample(out, &name, "", &labels, None);
        number(out, v);
        out.push('\n');
    }
}

/// One store's series, grouped by name and sorted by labels.
struct Grouped<'a> {
    counters: BTreeMap<String, Vec<std::sync::Arc<Series<std::sync::atomic::AtomicU64>>>>,
    gauges: BTreeMap<String, Vec<std::sync::Arc<Series<std::sync::atomic::AtomicU64>>>>,
    histograms: BTreeMap<String, Vec<std::sync::Arc<Series<super::BucketHistogram>>>>,
    _registry: &'a Registry,
}

impl<'a> Grouped<'a> {
    fn of(registry: &'a Registry, store: &super::Store) -> Self {
        fn group<T>(
            family: &std::sync::RwLock<super::Family<T>>,
        ) -> BTreeMap<String, Vec<std::sync::Arc<Series<T>>>> {
            let mut by_name: BTreeMap<String, Vec<std::sync::Arc<Series<T>>>> = BTreeMap::new();
            for (key, series) in &read(family).by_key {
                by_name
                    .entry(key.name().to_owned())
                    .or_default()
                    .push(std::sync::Arc::clone(series));
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
            _registry: registry,
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

    fn write(&self, out: &mut String, name: &str, help: &str, kind: MetricKind) {
        use std::sync::atomic::Ordering::Relaxed;
        match kind {
            MetricKind::Counter => {
                let Some(list) = self.counters.get(name) else {
                    return;
                };
                header(out, name, help, "counter");
                for s in list {
                    sample(out, name, "", &s.labels, None);
                    out.push_str(itoa::Buffer::new().format(s.value.load(Relaxed)));
                    out.push('\n');
                }
            }
            MetricKind::Gauge => {
                let Some(list) = self.gauges.get(name) else {
                    return;
                };
                header(out, name, help, "gauge");
                for s in list {
                    sample(out, name, "", &s.labels, None);
                    number(out, f64::from_bits(s.value.load(Relaxed)));
                    out.push('\n');
                }
            }
            MetricKind::Histogram => {
                let Some(list) = self.histograms.get(name) else {
                    return;
                };
                header(out, name, help, "histogram");
                for s in list {
                    let (count, sum) = s.value.visit(|le, n| {
                        sample(out, name, "_bucket", &s.labels, Some(("le", le)));
                        out.push_str(itoa::Buffer::new().format(n));
                        out.push('\n');
                    });
                    sample(out, name, "_bucket", &s.labels, Some(("le", "+Inf")));
                    out.push_str(itoa::Buffer::new().format(count));
                    out.push('\n');
                    sample(out, name, "_sum", &s.labels, None);
                    number(out, sum);
                    out.push('\n');
                    sample(out, name, "_count", &s.labels, None);
                    out.push_str(itoa::Buffer::new().format(count));
                    out.push('\n');
                }
            }
        }
    }
}
