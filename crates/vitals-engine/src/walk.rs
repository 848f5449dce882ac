//! The walk over every series: what `/metrics`, OpenMetrics and every push exporter read, so
//! they can never list different series. It goes straight over the snapshot and the
//! registry's stores: no intermediate copy of the series.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use vitals_core::Snapshot;
use vitals_core::catalogue::{
    HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_SLOW_REQUESTS, MetricDef, MetricKind, Source, Unit,
};

use crate::registry::{BucketHistogram, Registry, Series, Store, read};
use crate::requests::{Exemplar, OVERFLOW_STATUS, RequestMetrics, RouteSeries};

/// One metric family (a name with its help, kind and unit), as every encoder sees it.
pub struct MetricFamily<'a> {
    /// The exported name (namespace included where the metric carries one).
    pub name: &'a str,
    /// One-line help text.
    pub help: &'a str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The catalogue's unit; `None` for the application's series (the recorder keeps none).
    pub unit: Option<Unit>,
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
pub enum Labels<'a> {
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
    /// A request series: `method` and `route`, and `status` for the answer counter.
    Route {
        /// `method="…",route="…"`, escaped for the exposition format.
        text: &'a str,
        /// The normalised method.
        method: &'a str,
        /// The route template.
        route: &'a str,
        /// The status code as text (`overflow` for the overflow series).
        status: Option<&'a str>,
    },
}

impl<'a> Labels<'a> {
    /// The labels as pairs, in order.
    pub fn pairs(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let (first, many, route) = match self {
            Labels::None => (None, &[][..], None),
            Labels::One(k, v) => (Some((k, v)), &[][..], None),
            Labels::Recorded { pairs, .. } => (None, pairs, None),
            Labels::Route {
                method,
                route,
                status,
                ..
            } => (
                Some(("method", method)),
                &[][..],
                Some([Some(("route", route)), status.map(|s| ("status", s))]),
            ),
        };
        first
            .into_iter()
            .chain(many.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .chain(route.into_iter().flatten().flatten())
    }
}

/// A counter's or gauge's value: recorded counters are whole numbers, everything read out of
/// a snapshot (and every gauge) is a float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A recorded counter.
    Int(u64),
    /// A snapshot figure or a gauge.
    Float(f64),
}

/// One histogram sample: counts per bucket (not cumulative; the last is the overflow above
/// the highest edge), their total and the sum of the observations.
#[derive(Clone, Copy, Debug)]
pub struct HistogramPoint<'a> {
    /// Upper edges of the finite buckets, ascending.
    pub bounds: &'a [f64],
    /// Each edge as the exposition formats write it (`le="…"`), formatted once.
    pub le: &'a [Box<str>],
    /// Observations per bucket; one more entry than `bounds` (the overflow).
    pub counts: &'a [u64],
    /// All observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// For each bucket, a recent observation with the id of what it measured (request
    /// histograms only, for visitors that [want them](Visitor::wants_exemplars); empty
    /// elsewhere).
    pub exemplars: &'a [Option<Exemplar>],
}

/// What walks over the series: the Prometheus renderer and every push exporter.
pub trait Visitor {
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
        point: &HistogramPoint<'_>,
    );
    /// The family's samples are done.
    fn end(&mut self, family: &MetricFamily<'_>);
    /// Whether this visitor writes exemplars. Reading them costs a look at every bucket of
    /// every shard of every request series, so a visitor that leaves them out (the Prometheus
    /// text) says `false` and gets [`HistogramPoint::exemplars`] empty.
    fn wants_exemplars(&self) -> bool {
        true
    }
}

/// Every series, each family once: the snapshot-fed catalogue metrics, then the ones recorded
/// as things happened (in catalogue order), then the application's (by name). This one walk
/// feeds both `/metrics` and the OTLP exporter, so they cannot list different series.
pub(crate) fn walk<V: Visitor + ?Sized>(
    registry: &Registry,
    requests: &RequestMetrics,
    snapshot: &Snapshot,
    visitor: &mut V,
) {
    for (def, name) in &registry.exported {
        snapshot_fed(visitor, name, def, snapshot);
    }
    let own = Grouped::of(&registry.own);
    let routes = RouteFolds::of(requests);
    for (def, name) in registry
        .exported
        .iter()
        .filter(|(d, _)| matches!(d.source, Source::Recorded))
    {
        let family = MetricFamily::of(def, name);
        if [&HTTP_REQUESTS, &HTTP_REQUEST_DURATION, &HTTP_SLOW_REQUESTS]
            .iter()
            .any(|d| d.name == def.name)
        {
            request_family(visitor, def, &family, requests, &routes);
        } else {
            own.visit(visitor, &family);
        }
    }
    let app = Grouped::of(&registry.app);
    let described = read(&registry.described);
    for (name, kind) in app.names() {
        if registry.is_own_name(name) {
            continue;
        }
        let help = described
            .get(name)
            .map_or("recorded by the application", |d| d.0.as_str());
        let family = MetricFamily {
            name,
            help,
            kind,
            unit: None,
        };
        app.visit(visitor, &family);
    }
}

/// Every route series with what it recorded, folded over the shards once for the three
/// request families (into shared storage: no allocation per series), and the order they are
/// listed in: by labels, leaving out series with nothing to show (the overflow one until it
/// counts something).
struct RouteFolds {
    routes: Vec<&'static RouteSeries>,
    folds: Vec<Folded>,
    /// The statuses of every series, each series' run sorted by status.
    statuses: Vec<(u16, u64)>,
    /// The bucket counts of every series, one run after the other.
    buckets: Vec<u64>,
    order: Vec<usize>,
}

/// One series' share of [`RouteFolds`].
struct Folded {
    statuses: Range<usize>,
    buckets: Range<usize>,
    slow: u64,
    sum_nanos: u64,
    count: u64,
}

impl RouteFolds {
    fn of(requests: &RequestMetrics) -> Self {
        let routes = requests.all_series();
        let (edges, _) = requests.edges();
        let mut statuses = Vec::with_capacity(routes.len() * 2);
        let mut buckets = Vec::with_capacity(routes.len() * (edges.len() + 1));
        let folds: Vec<Folded> = routes
            .iter()
            .map(|s| {
                let (first_status, first_bucket) = (statuses.len(), buckets.len());
                let (slow, sum_nanos) = s.fold_into(&mut statuses, &mut buckets);
                statuses[first_status..].sort_unstable();
                Folded {
                    statuses: first_status..statuses.len(),
                    buckets: first_bucket..buckets.len(),
                    slow,
                    sum_nanos,
                    count: buckets[first_bucket..].iter().sum(),
                }
            })
            .collect();
        let mut order: Vec<usize> = (0..routes.len()).filter(|&i| folds[i].count > 0).collect();
        order.sort_by(|&a, &b| routes[a].labels.cmp(&routes[b].labels));
        Self {
            routes,
            folds,
            statuses,
            buckets,
            order,
        }
    }
}

/// One request family from the route series, in the order of [`RouteFolds`].
fn request_family<V: Visitor + ?Sized>(
    visitor: &mut V,
    def: &MetricDef,
    family: &MetricFamily<'_>,
    requests: &RequestMetrics,
    all: &RouteFolds,
) {
    if all.order.is_empty() {
        return;
    }
    visitor.family(family);
    let (bounds, le) = requests.edges();
    let exemplars_wanted = visitor.wants_exemplars();
    for &i in &all.order {
        let (series, fold) = (all.routes[i], &all.folds[i]);
        fn labels<'a>(series: &'a RouteSeries, status: Option<&'a str>) -> Labels<'a> {
            Labels::Route {
                text: &series.labels,
                method: series.method,
                route: &series.route,
                status,
            }
        }
        if def.name == HTTP_REQUESTS.name {
            for &(status, n) in &all.statuses[fold.statuses.clone()] {
                let mut digits = itoa::Buffer::new();
                let text = if status == OVERFLOW_STATUS {
                    crate::requests::OVERFLOW
                } else {
                    digits.format(status)
                };
                visitor.number(family, labels(series, Some(text)), Value::Int(n));
            }
        } else if def.name == HTTP_SLOW_REQUESTS.name {
            visitor.number(family, labels(series, None), Value::Int(fold.slow));
        } else {
            let exemplars = if exemplars_wanted {
                requests.exemplars(series)
            } else {
                Vec::new()
            };
            let point = HistogramPoint {
                bounds,
                le,
                counts: &all.buckets[fold.buckets.clone()],
                count: fold.count,
                sum: fold.sum_nanos as f64 / 1e9,
                exemplars: &exemplars,
            };
            visitor.histogram(family, labels(series, None), &point);
        }
    }
    visitor.end(family);
}

fn snapshot_fed<V: Visitor + ?Sized>(visitor: &mut V, name: &str, def: &MetricDef, s: &Snapshot) {
    // `None` for recorded metrics and for absent sections (no process figures, an unset
    // container limit): such families are left out, not written as zero.
    let Some(unnamed) = def.read(s) else {
        return;
    };
    let family = MetricFamily::of(def, name);
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
    fn of(store: &Store) -> Self {
        fn group<T>(family: &std::sync::RwLock<crate::registry::Family<T>>) -> Families<T> {
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

    fn visit<V: Visitor + ?Sized>(&self, visitor: &mut V, family: &MetricFamily<'_>) {
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
                let mut counts = Vec::new();
                for s in list {
                    let h: &BucketHistogram = &s.value;
                    let (count, sum) = h.read(&mut counts);
                    let point = HistogramPoint {
                        bounds: h.bounds(),
                        le: h.le(),
                        counts: &counts,
                        count,
                        // The noise a long float sum gathers, dropped as in the JSON.
                        sum: vitals_core::math::round_significant(sum),
                        exemplars: &[],
                    };
                    visitor.histogram(family, labels(s), &point);
                }
            }
        }
        visitor.end(family);
    }
}
