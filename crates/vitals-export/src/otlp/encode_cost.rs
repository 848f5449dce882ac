//! The alternative to the hand-written encoder, kept to measure it: the same request built as
//! opentelemetry-proto's (prost) messages from the same walk, then encoded by prost.
//! docs/architecture.md ("Why the OTLP encoder is hand-written") quotes what
//! `encode_time_of_both_encoders` prints; run it with
//! `cargo test --release -p vitals-export --all-features --lib encode_cost -- --ignored --nocapture`.
//!
//! `both_encoders_write_the_same_request` also checks the hand-written encoder against the
//! official definitions field by field, on the reference server's kind of series.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    self as pb, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use vitals_core::Snapshot;
use vitals_core::catalogue::MetricKind;
use vitals_engine::walk::{HistogramPoint, Labels, MetricFamily, Value, Visitor};
use vitals_engine::{Engine, ExemplarId};

use super::encode::{self, Identity, unit};

fn string_value(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn attributes(labels: Labels<'_>) -> Vec<KeyValue> {
    labels.pairs().map(|(k, v)| string_value(k, v)).collect()
}

/// Builds the metrics of one scope as prost messages.
struct Messages {
    start_ns: u64,
    now_ns: u64,
    metrics: Vec<Metric>,
}

impl Visitor for Messages {
    fn family(&mut self, family: &MetricFamily<'_>) {
        let data = match family.kind {
            MetricKind::Gauge => Data::Gauge(Gauge::default()),
            MetricKind::Counter => Data::Sum(Sum {
                aggregation_temporality: pb::AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
                ..Sum::default()
            }),
            MetricKind::Histogram => Data::Histogram(Histogram {
                aggregation_temporality: pb::AggregationTemporality::Cumulative as i32,
                ..Histogram::default()
            }),
        };
        self.metrics.push(Metric {
            name: family.name.to_owned(),
            description: family.help.to_owned(),
            unit: unit(family.unit).to_owned(),
            data: Some(data),
            ..Metric::default()
        });
    }

    fn number(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, value: Value) {
        let point = NumberDataPoint {
            attributes: attributes(labels),
            start_time_unix_nano: if family.kind == MetricKind::Counter {
                self.start_ns
            } else {
                0
            },
            time_unix_nano: self.now_ns,
            value: Some(match value {
                Value::Float(v) => number_data_point::Value::AsDouble(v),
                Value::Int(n) => {
                    number_data_point::Value::AsInt(i64::try_from(n).unwrap_or(i64::MAX))
                }
            }),
            ..NumberDataPoint::default()
        };
        match self.metrics.last_mut().and_then(|m| m.data.as_mut()) {
            Some(Data::Gauge(g)) => g.data_points.push(point),
            Some(Data::Sum(s)) => s.data_points.push(point),
            _ => {}
        }
    }

    fn histogram(
        &mut self,
        _family: &MetricFamily<'_>,
        labels: Labels<'_>,
        h: &HistogramPoint<'_>,
    ) {
        let exemplars = h
            .exemplars
            .iter()
            .flatten()
            .map(|e| {
                let trace = e.id.len() == 32
                    && e.id
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                let (trace_id, filtered_attributes) = if trace {
                    let raw = (0..16)
                        .map(|i| u8::from_str_radix(&e.id[2 * i..2 * i + 2], 16).unwrap_or(0))
                        .collect();
                    (raw, Vec::new())
                } else {
                    (Vec::new(), vec![string_value("request_id", &e.id)])
                };
                pb::Exemplar {
                    filtered_attributes,
                    time_unix_nano: e.unix_nanos,
                    value: Some(pb::exemplar::Value::AsDouble(e.value_seconds)),
                    span_id: Vec::new(),
                    trace_id,
                }
            })
            .collect();
        let point = HistogramDataPoint {
            attributes: attributes(labels),
            start_time_unix_nano: self.start_ns,
            time_unix_nano: self.now_ns,
            count: h.count,
            sum: Some(h.sum),
            bucket_counts: h.counts.to_vec(),
            explicit_bounds: h.bounds.to_vec(),
            exemplars,
            ..HistogramDataPoint::default()
        };
        if let Some(Data::Histogram(histogram)) =
            self.metrics.last_mut().and_then(|m| m.data.as_mut())
        {
            histogram.data_points.push(point);
        }
    }

    fn end(&mut self, _family: &MetricFamily<'_>) {}
}

/// The request as messages, then encoded by prost.
fn with_prost(
    engine: &Engine,
    snapshot: &Snapshot,
    identity: &Identity,
    start_ns: u64,
    now_ns: u64,
) -> Vec<u8> {
    let mut messages = Messages {
        start_ns,
        now_ns,
        metrics: Vec::new(),
    };
    engine.walk(snapshot, &mut messages);
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: identity
                    .resource
                    .iter()
                    .map(|(k, v)| string_value(k, v))
                    .collect(),
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: identity.scope.0.to_owned(),
                    version: identity.scope.1.to_owned(),
                    ..InstrumentationScope::default()
                }),
                metrics: messages.metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
    .encode_to_vec()
}

/// An engine with the reference server's kind of traffic: eight routes, a few statuses each,
/// with trace and request ids, on the default buckets; and a snapshot with every section the
/// server fills (one named pool and one named cache besides the defaults).
fn reference() -> (Engine, Snapshot, Identity) {
    let engine = Engine::builder()
        .namespace("health_agent")
        .build()
        .expect("valid");
    let requests = engine.requests();
    let routes = [
        ("POST", "/api/v1/chat"),
        ("GET", "/api/v1/users/{user_id}/history"),
        ("GET", "/api/v1/conversations/{id}"),
        ("DELETE", "/api/v1/conversations/{id}"),
        ("GET", "/api/v1/items"),
        ("PUT", "/api/v1/items/{id}"),
        ("GET", "/api/v1/search"),
        ("GET", "unmatched"),
    ];
    for (i, (method, route)) in routes.into_iter().enumerate() {
        let method: http::Method = method.parse().expect("method");
        let series = requests.series(&method, Some(route));
        for (j, status) in [200, 201, 400, 404, 500].into_iter().enumerate() {
            for k in 0..20u64 {
                let took = Duration::from_micros(300 * (k + 1) * (i as u64 + j as u64 + 1));
                let trace = [(i * 16 + j) as u8 + 1; 16];
                let id = if k % 2 == 0 {
                    ExemplarId::Trace(trace)
                } else {
                    ExemplarId::Request(b"3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")
                };
                requests.record(series, status, took, Instant::now(), Some(id));
            }
        }
    }
    let mut snapshot = Snapshot::now();
    snapshot.system = Some(vitals_core::SystemSection::default());
    snapshot.database = Some(vitals_core::DatabaseSection::default());
    snapshot.cache = Some(vitals_core::CacheSection::default());
    snapshot.process = Some(vitals_core::ProcessSection::default());
    snapshot.runtime = Some(vitals_core::RuntimeSection::default());
    snapshot.app = Some(vitals_core::AppSection::default());
    snapshot.databases.insert(
        "replica".to_owned(),
        vitals_core::DatabaseSection::default(),
    );
    snapshot
        .caches
        .insert("sessions".to_owned(), vitals_core::CacheSection::default());
    let identity = Identity {
        resource: vec![
            ("service.name", "health-agent".to_owned()),
            ("service.instance.id", "host-1:4242".to_owned()),
        ],
        scope: ("vitals", "0.1.0"),
    };
    (engine, snapshot, identity)
}

#[test]
fn both_encoders_write_the_same_request() {
    let (engine, snapshot, identity) = reference();
    let hand = encode::request(&engine, &snapshot, &identity, 1, 2);
    let prost = with_prost(&engine, &snapshot, &identity, 1, 2);
    let hand = ExportMetricsServiceRequest::decode(hand.as_slice()).expect("valid");
    let prost = ExportMetricsServiceRequest::decode(prost.as_slice()).expect("valid");
    assert_eq!(hand, prost);
    let metrics = &hand.resource_metrics[0].scope_metrics[0].metrics;
    assert!(metrics.len() > 35, "{} families", metrics.len());
}

/// Median time of `f` over `runs` runs.
fn median(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let at = Instant::now();
        size = std::hint::black_box(f());
        times.push(at.elapsed());
    }
    times.sort_unstable();
    (times[runs / 2], size)
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn encode_time_of_both_encoders() {
    let (engine, snapshot, identity) = reference();
    let lines = engine
        .render_snapshot(&snapshot)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    let runs = 2001;
    let (hand, hand_bytes) = median(runs, || {
        encode::request(&engine, &snapshot, &identity, 1, 2).len()
    });
    let (prost, prost_bytes) = median(runs, || {
        with_prost(&engine, &snapshot, &identity, 1, 2).len()
    });
    let (gzip, gzip_bytes) = median(runs, || {
        super::gzip::compress(&encode::request(&engine, &snapshot, &identity, 1, 2)).len()
    });
    println!(
        "{lines} samples: hand-written {hand:?} ({hand_bytes} B), prost messages {prost:?} ({prost_bytes} B), hand-written + gzip {gzip:?} ({gzip_bytes} B); median of {runs}"
    );
}
