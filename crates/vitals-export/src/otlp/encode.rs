//! `ExportMetricsServiceRequest` in protobuf, written by hand: the handful of OTLP messages
//! the exporter sends (opentelemetry-proto's `metrics/v1`, `common/v1`, `resource/v1` and
//! `collector/metrics/v1`), each field by its number, straight from the walk over the series
//! that `/metrics` renders.

use vitals_core::Snapshot;
use vitals_core::catalogue::{MetricKind, Unit};

use vitals_engine::Engine;
use vitals_engine::Exemplar;
use vitals_engine::walk::{HistogramPoint, Labels, MetricFamily, Value, Visitor};

/// Cumulative temporality (`AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE`).
const CUMULATIVE: u64 = 2;

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;

/// A protobuf writer that fills length prefixes in after the fact.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// A `string` field; proto3 leaves empty ones out.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.string_always(field, s);
        }
    }

    /// A `string` field written even when empty (a oneof member, whose presence counts).
    fn string_always(&mut self, field: u32, s: &str) {
        self.key(field, LEN);
        self.varint(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn fixed64(&mut self, field: u32, v: u64) {
        self.key(field, I64);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn double(&mut self, field: u32, v: f64) {
        self.fixed64(field, v.to_bits());
    }

    fn uint(&mut self, field: u32, v: u64) {
        self.key(field, VARINT);
        self.varint(v);
    }

    /// Opens an embedded message: the key and a one-byte length placeholder; returns where
    /// the placeholder is, for [`Writer::end`].
    fn begin(&mut self, field: u32) -> usize {
        self.key(field, LEN);
        self.buf.push(0);
        self.buf.len() - 1
    }

    /// Closes the message opened at `at`: writes its length, moving the content when the
    /// length takes more than one byte.
    fn end(&mut self, at: usize) {
        let len = self.buf.len() - at - 1;
        let mut prefix = [0u8; 10];
        let mut n = 0;
        let mut v = len as u64;
        while v >= 0x80 {
            prefix[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        prefix[n] = v as u8;
        n += 1;
        self.buf[at] = prefix[0];
        if n > 1 {
            self.buf
                .splice(at + 1..at + 1, prefix[1..n].iter().copied());
        }
    }

    /// A `KeyValue` with a string `AnyValue`, as field `field`.
    fn attribute(&mut self, field: u32, key: &str, value: &str) {
        let kv = self.begin(field);
        self.string(1, key);
        let any = self.begin(2);
        self.string_always(1, value);
        self.end(any);
        self.end(kv);
    }
}

/// The resource and scope every request carries.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    /// Resource attributes, in order (`service.name` first).
    pub(crate) resource: Vec<(&'static str, String)>,
    /// Instrumentation scope name and version.
    pub(crate) scope: (&'static str, &'static str),
}

/// The OTLP unit of a catalogue unit (UCUM, as the semantic conventions spell them). Counts
/// and booleans get none: the Collector's Prometheus exporter appends `_ratio` to gauges of
/// unit `1`, which would rename `db_pool_size`.
pub(crate) fn unit(unit: Option<Unit>) -> &'static str {
    match unit {
        Some(Unit::Seconds) => "s",
        Some(Unit::Bytes) => "By",
        Some(Unit::Percent) => "%",
        Some(Unit::Ratio) => "1",
        Some(Unit::Count | Unit::Boolean) | None => "",
    }
}

/// Walks the series into metrics of one `ScopeMetrics`.
struct Metrics<'w> {
    w: &'w mut Writer,
    start_ns: u64,
    now_ns: u64,
    metric_at: usize,
    data_at: usize,
}

impl Metrics<'_> {
    fn attributes(&mut self, field: u32, labels: Labels<'_>) {
        for (k, v) in labels.pairs() {
            self.w.attribute(field, k, v);
        }
    }

    /// One `Exemplar` (field 8 of `HistogramDataPoint`): a W3C trace id goes into `trace_id`,
    /// any other id (a request's `X-Request-ID`) into `filtered_attributes` as `request_id`.
    fn exemplar(&mut self, exemplar: &Exemplar) {
        let at = self.w.begin(8);
        // time_unix_nano = 2, as_double = 3
        self.w.fixed64(2, exemplar.unix_nanos);
        self.w.double(3, exemplar.value_seconds);
        match trace_id(&exemplar.id) {
            // trace_id = 5 (bytes)
            Some(raw) => {
                self.w.key(5, LEN);
                self.w.varint(raw.len() as u64);
                self.w.buf.extend_from_slice(&raw);
            }
            // filtered_attributes = 7
            None => self.w.attribute(7, "request_id", &exemplar.id),
        }
        self.w.end(at);
    }
}

/// The 16 bytes of a W3C trace id written as 32 hex digits; `None` for anything else (a
/// request id), and for the all-zero id, which the W3C Trace Context calls invalid.
fn trace_id(id: &str) -> Option<[u8; 16]> {
    let hex = id.as_bytes();
    if hex.len() != 32 {
        return None;
    }
    // Lower case only, as `traceparent` writes it (W3C Trace Context, section 3.2.2.3).
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut raw = [0u8; 16];
    for (byte, pair) in raw.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    (raw != [0; 16]).then_some(raw)
}

impl Visitor for Metrics<'_> {
    fn family(&mut self, family: &MetricFamily<'_>) {
        // ScopeMetrics.metrics = 2
        self.metric_at = self.w.begin(2);
        self.w.string(1, family.name);
        self.w.string(2, family.help);
        self.w.string(3, unit(family.unit));
        // Metric.gauge = 5, .sum = 7, .histogram = 9
        self.data_at = self.w.begin(match family.kind {
            MetricKind::Gauge => 5,
            MetricKind::Counter => 7,
            MetricKind::Histogram => 9,
        });
    }

    fn number(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, value: Value) {
        // Gauge/Sum.data_points = 1 (NumberDataPoint)
        let point = self.w.begin(1);
        self.attributes(7, labels);
        if family.kind == MetricKind::Counter {
            self.w.fixed64(2, self.start_ns);
        }
        self.w.fixed64(3, self.now_ns);
        match value {
            // as_double = 4
            Value::Float(v) => self.w.double(4, v),
            // as_int = 6 (sfixed64)
            Value::Int(n) => self
                .w
                .fixed64(6, i64::try_from(n).unwrap_or(i64::MAX) as u64),
        }
        self.w.end(point);
    }

    fn histogram(
        &mut self,
        _family: &MetricFamily<'_>,
        labels: Labels<'_>,
        h: &HistogramPoint<'_>,
    ) {
        // Histogram.data_points = 1 (HistogramDataPoint)
        let point = self.w.begin(1);
        self.attributes(9, labels);
        self.w.fixed64(2, self.start_ns);
        self.w.fixed64(3, self.now_ns);
        // bucket_counts = 6: packed fixed64, one per bucket plus the overflow.
        let bounds = h.bounds;
        self.w.key(6, LEN);
        self.w.varint(8 * h.counts.len() as u64);
        for n in h.counts {
            self.w.buf.extend_from_slice(&n.to_le_bytes());
        }
        // explicit_bounds = 7: packed double.
        if !bounds.is_empty() {
            self.w.key(7, LEN);
            self.w.varint(8 * bounds.len() as u64);
            for edge in bounds {
                self.w.buf.extend_from_slice(&edge.to_bits().to_le_bytes());
            }
        }
        // count = 4 (the buckets' total, so the point is consistent), sum = 5.
        self.w.fixed64(4, h.count);
        self.w.double(5, h.sum);
        // exemplars = 8, one per bucket that has one, in bucket order.
        for exemplar in h.exemplars.iter().flatten() {
            self.exemplar(exemplar);
        }
        self.w.end(point);
    }

    fn end(&mut self, family: &MetricFamily<'_>) {
        match family.kind {
            MetricKind::Gauge => {}
            MetricKind::Counter => {
                self.w.uint(2, CUMULATIVE);
                // is_monotonic = 3
                self.w.uint(3, 1);
            }
            MetricKind::Histogram => self.w.uint(2, CUMULATIVE),
        }
        self.w.end(self.data_at);
        self.w.end(self.metric_at);
    }
}

/// One `ExportMetricsServiceRequest` with every series of `engine` and `snapshot`: one
/// resource, one scope, a metric per family.
pub(crate) fn request(
    engine: &Engine,
    snapshot: &Snapshot,
    identity: &Identity,
    start_ns: u64,
    now_ns: u64,
) -> Vec<u8> {
    let mut w = Writer {
        buf: Vec::with_capacity(32 * 1024),
    };
    // ExportMetricsServiceRequest.resource_metrics = 1
    let resource_metrics = w.begin(1);
    // ResourceMetrics.resource = 1; Resource.attributes = 1
    let resource = w.begin(1);
    for (k, v) in &identity.resource {
        w.attribute(1, k, v);
    }
    w.end(resource);
    // ResourceMetrics.scope_metrics = 2; ScopeMetrics.scope = 1 (name = 1, version = 2)
    let scope_metrics = w.begin(2);
    let scope = w.begin(1);
    w.string(1, identity.scope.0);
    w.string(2, identity.scope.1);
    w.end(scope);
    let mut metrics = Metrics {
        w: &mut w,
        start_ns,
        now_ns,
        metric_at: 0,
        data_at: 0,
    };
    engine.walk(snapshot, &mut metrics);
    w.end(scope_metrics);
    w.end(resource_metrics);
    w.buf
}

/// What an `ExportMetricsServiceResponse` says about rejected points, if anything:
/// `(rejected_data_points, error_message)`. Unreadable bytes say nothing.
pub(crate) fn partial_success(body: &[u8]) -> Option<(i64, String)> {
    let mut rejected = 0i64;
    let mut message = String::new();
    let mut seen = false;
    let mut outer = Reader { buf: body };
    while let Some((field, wire)) = outer.key() {
        match (field, wire) {
            (1, LEN) => {
                let mut inner = Reader {
                    buf: outer.bytes()?,
                };
                seen = true;
                while let Some((field, wire)) = inner.key() {
                    match (field, wire) {
                        (1, VARINT) => rejected = inner.varint()? as i64,
                        (2, LEN) => {
                            message = String::from_utf8_lossy(inner.bytes()?).into_owned();
                        }
                        _ => inner.skip(wire)?,
                    }
                }
            }
            _ => outer.skip(wire)?,
        }
    }
    (seen && (rejected != 0 || !message.is_empty())).then_some((rejected, message))
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn key(&mut self) -> Option<(u64, u8)> {
        if self.buf.is_empty() {
            return None;
        }
        let k = self.varint()?;
        Some((k >> 3, (k & 7) as u8))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.buf.len() {
            return None;
        }
        let (bytes, rest) = self.buf.split_at(len);
        self.buf = rest;
        Some(bytes)
    }

    fn skip(&mut self, wire: u8) -> Option<()> {
        match wire {
            VARINT => self.varint().map(|_| ()),
            I64 => self.take(8),
            LEN => self.bytes().map(|_| ()),
            5 => self.take(4),
            _ => None,
        }
    }

    fn take(&mut self, n: usize) -> Option<()> {
        if n > self.buf.len() {
            return None;
        }
        self.buf = &self.buf[n..];
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1::{
        AggregationTemporality, Metric, exemplar, metric::Data, number_data_point,
    };
    use prost::Message;
    use vitals_core::catalogue::{self, CATALOGUE, HTTP_REQUEST_DURATION, HTTP_REQUESTS};
    use vitals_core::{DatabaseSection, Snapshot};
    use vitals_engine::ExemplarId;

    use super::*;

    const TRACE: [u8; 16] = [
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ];

    fn identity() -> Identity {
        Identity {
            resource: vec![
                ("service.name", "shop".to_owned()),
                ("service.instance.id", "host-1:42".to_owned()),
            ],
            scope: ("vitals", "0.1.0"),
        }
    }

    fn attrs(list: &[KeyValue]) -> Vec<(String, String)> {
        list.iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    other => panic!("not a string attribute: {other:?}"),
                };
                (kv.key.clone(), value)
            })
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    /// An engine with four requests (durations 0.05, 0.1, 0.5 and 3 s in a histogram with
    /// edges 0.1 and 1), and an application counter and gauge; a snapshot with a named pool.
    fn fixture() -> (Engine, Snapshot) {
        let engine = Engine::builder()
            .namespace("shop")
            .slow_threshold(std::time::Duration::from_millis(100))
            .buckets(
                catalogue::full_name("shop", &HTTP_REQUEST_DURATION),
                &[0.1, 1.0],
            )
            .build()
            .expect("valid settings");
        // The 0.5 s request came with a `traceparent`, the 3 s one with an `X-Request-ID`.
        let ids = [
            None,
            None,
            Some(ExemplarId::Trace(TRACE)),
            Some(ExemplarId::Request(b"req-42")),
        ];
        for (v, id) in [0.05, 0.1, 0.5, 3.0].into_iter().zip(ids) {
            let took = std::time::Duration::from_secs_f64(v);
            let requests = engine.requests();
            let at = std::time::Instant::now();
            let series = requests.series(&http::Method::GET, Some("/orders"));
            requests.record(series, 200, took, at, id);
        }
        let recorder = engine.recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("orders_created_total", "kind" => "web").increment(7);
            metrics::gauge!("queue_depth").set(2.5);
        });
        let mut snapshot = Snapshot::now();
        snapshot.system.get_or_insert_default().cpu_percent = 12.5;
        snapshot.database.get_or_insert_default().pool_size = 4;
        snapshot.databases.insert(
            "replica".to_owned(),
            DatabaseSection {
                pool_size: 2,
                ..DatabaseSection::default()
            },
        );
        (engine, snapshot)
    }

    fn decode(engine: &Engine, snapshot: &Snapshot) -> ExportMetricsServiceRequest {
        let bytes = request(engine, snapshot, &identity(), 1_000, 2_000);
        ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("a valid protobuf request")
    }

    fn metric<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
        metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn the_official_definitions_read_resource_scope_and_every_family() {
        let (engine, snapshot) = fixture();
        let req = decode(&engine, &snapshot);
        assert_eq!(req.resource_metrics.len(), 1);
        let rm = &req.resource_metrics[0];
        let resource = rm.resource.as_ref().expect("resource");
        assert_eq!(
            attrs(&resource.attributes),
            vec![
                pair("service.name", "shop"),
                pair("service.instance.id", "host-1:42")
            ]
        );
        assert_eq!(rm.scope_metrics.len(), 1);
        let scope = rm.scope_metrics[0].scope.as_ref().expect("scope");
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("vitals", "0.1.0")
        );

        // The same families, in the same order, as the Prometheus text.
        let text = engine.render_snapshot(&snapshot);
        let prometheus: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let otlp: Vec<&str> = rm.scope_metrics[0]
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(otlp, prometheus);
    }

    #[test]
    fn counters_are_cumulative_monotonic_sums_and_gauges_are_gauges() {
        let (engine, snapshot) = fixture();
        let req = decode(&engine, &snapshot);
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;

        let requests = metric(metrics, "shop_http_requests_total");
        assert_eq!(requests.description, HTTP_REQUESTS.help);
        let Some(Data::Sum(sum)) = &requests.data else {
            panic!("a Sum: {requests:?}")
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let point = &sum.data_points[0];
        assert_eq!(point.value, Some(number_data_point::Value::AsInt(4)));
        assert_eq!(
            (point.start_time_unix_nano, point.time_unix_nano),
            (1_000, 2_000)
        );
        assert_eq!(
            attrs(&point.attributes),
            vec![
                pair("method", "GET"),
                pair("route", "/orders"),
                pair("status", "200")
            ]
        );

        let cpu = metric(metrics, "shop_cpu_percent");
        assert_eq!(cpu.unit, "%");
        let Some(Data::Gauge(gauge)) = &cpu.data else {
            panic!("a Gauge: {cpu:?}")
        };
        assert_eq!(
            gauge.data_points[0].value,
            Some(number_data_point::Value::AsDouble(12.5))
        );
        assert_eq!(
            gauge.data_points[0].start_time_unix_nano, 0,
            "gauges have no start"
        );

        // The named pool is a second point with a `pool` attribute.
        let Some(Data::Gauge(pool)) = &metric(metrics, "shop_db_pool_size").data else {
            panic!("a Gauge")
        };
        let points: Vec<_> = pool
            .data_points
            .iter()
            .map(|p| (attrs(&p.attributes), p.value))
            .collect();
        assert_eq!(
            points,
            vec![
                (vec![], Some(number_data_point::Value::AsDouble(4.0))),
                (
                    vec![pair("pool", "replica")],
                    Some(number_data_point::Value::AsDouble(2.0))
                ),
            ]
        );

        // The application's series, unprefixed, with their labels.
        let Some(Data::Sum(orders)) = &metric(metrics, "orders_created_total").data else {
            panic!("a Sum")
        };
        assert_eq!(
            attrs(&orders.data_points[0].attributes),
            vec![pair("kind", "web")]
        );
        assert_eq!(
            orders.data_points[0].value,
            Some(number_data_point::Value::AsInt(7))
        );
        let Some(Data::Gauge(depth)) = &metric(metrics, "queue_depth").data else {
            panic!("a Gauge")
        };
        assert_eq!(
            depth.data_points[0].value,
            Some(number_data_point::Value::AsDouble(2.5))
        );
    }

    #[test]
    fn histograms_count_per_bucket_with_the_same_edges() {
        let (engine, snapshot) = fixture();
        let req = decode(&engine, &snapshot);
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        let duration = metric(metrics, "shop_http_request_duration_seconds");
        assert_eq!(duration.unit, "s");
        let Some(Data::Histogram(h)) = &duration.data else {
            panic!("a Histogram: {duration:?}")
        };
        assert_eq!(
            h.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let p = &h.data_points[0];
        assert_eq!(p.explicit_bounds, vec![0.1, 1.0]);
        // 0.05 and 0.1 (an edge counts in its own bucket), 0.5, then 3.0 above the last edge;
        // Prometheus says le="0.1" 2, le="1" 3, le="+Inf" 4.
        assert_eq!(p.bucket_counts, vec![2, 1, 1]);
        assert_eq!(p.count, 4);
        assert!((p.sum.expect("sum") - 3.65).abs() < 1e-9);
        assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (1_000, 2_000));
        let text = engine.render_snapshot(&snapshot);
        for line in [
            "shop_http_request_duration_seconds_bucket{method=\"GET\",route=\"/orders\",le=\"0.1\"} 2",
            "shop_http_request_duration_seconds_bucket{method=\"GET\",route=\"/orders\",le=\"1\"} 3",
            "shop_http_request_duration_seconds_bucket{method=\"GET\",route=\"/orders\",le=\"+Inf\"} 4",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }

    #[test]
    fn histogram_points_carry_the_exemplars_of_their_buckets() {
        let before = super::super::unix_nanos(std::time::SystemTime::now());
        let (engine, snapshot) = fixture();
        let after = super::super::unix_nanos(std::time::SystemTime::now());
        let req = decode(&engine, &snapshot);
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        let Some(Data::Histogram(h)) = &metric(metrics, "shop_http_request_duration_seconds").data
        else {
            panic!("a Histogram")
        };
        let exemplars = &h.data_points[0].exemplars;
        assert_eq!(exemplars.len(), 2, "{exemplars:?}");
        // The bucket (0.1, 1]: the traced request, its id as the 16 trace-id bytes.
        let traced = &exemplars[0];
        assert_eq!(traced.trace_id, TRACE.to_vec());
        assert!(traced.span_id.is_empty());
        assert!(traced.filtered_attributes.is_empty());
        assert_eq!(traced.value, Some(exemplar::Value::AsDouble(0.5)));
        // Wall-clock time of the recording (the engine's start plus a monotonic offset, so
        // within a little of the clock read around it).
        let slack = 1_000_000_000;
        assert!(
            (before - slack..=after + slack).contains(&traced.time_unix_nano),
            "{} not within the recording ({before}..{after})",
            traced.time_unix_nano
        );
        // The overflow bucket: the request id, as an attribute.
        let identified = &exemplars[1];
        assert!(identified.trace_id.is_empty());
        assert_eq!(
            attrs(&identified.filtered_attributes),
            vec![pair("request_id", "req-42")]
        );
        assert_eq!(identified.value, Some(exemplar::Value::AsDouble(3.0)));
    }

    #[test]
    fn only_lowercase_32_hex_ids_are_trace_ids() {
        assert_eq!(trace_id("4bf92f3577b34da6a3ce929d0e0e4736"), Some(TRACE));
        assert_eq!(trace_id("4BF92F3577B34DA6A3CE929D0E0E4736"), None);
        assert_eq!(trace_id("00000000000000000000000000000000"), None);
        assert_eq!(trace_id("4bf92f3577b34da6a3ce929d0e0e473"), None);
        assert_eq!(trace_id("4bf92f3577b34da6a3ce929d0e0e47zz"), None);
        assert_eq!(trace_id("req-42"), None);
    }

    #[test]
    fn long_messages_get_multi_byte_lengths() {
        let engine = Engine::builder().namespace("shop").build().expect("valid");
        let recorder = engine.recorder();
        // Enough series for the metric and scope messages to pass 16 KiB (3-byte lengths),
        // and label values long enough for 2-byte ones.
        metrics::with_local_recorder(&recorder, || {
            for i in 0..400 {
                metrics::counter!("big_total", "id" => format!("{i:0>200}")).increment(i);
            }
        });
        let req = decode(&engine, &Snapshot::now());
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        let Some(Data::Sum(big)) = &metric(metrics, "big_total").data else {
            panic!("a Sum")
        };
        assert_eq!(big.data_points.len(), 400);
        let total: i64 = big
            .data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(n)) => n,
                _ => panic!("an int"),
            })
            .sum();
        assert_eq!(total, (0..400).sum::<i64>());
    }

    #[test]
    fn partial_success_is_read_and_an_empty_answer_says_nothing() {
        use opentelemetry_proto::tonic::collector::metrics::v1::{
            ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
        };
        let body = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: 3,
                error_message: "bad points".to_owned(),
            }),
        }
        .encode_to_vec();
        assert_eq!(partial_success(&body), Some((3, "bad points".to_owned())));
        assert_eq!(partial_success(&[]), None);
        let empty = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess::default()),
        }
        .encode_to_vec();
        assert_eq!(partial_success(&empty), None);
        assert_eq!(partial_success(b"\xff\xff"), None, "garbage says nothing");
    }

    /// What the Collector's `prometheus` exporter does to an OTLP name (its default
    /// `add_metric_suffixes: true`): the unit's Prometheus word is appended unless a name
    /// token already is that word, a monotonic Sum ends in `_total` (any `total` token moved
    /// to the end), a gauge of unit `1` in `_ratio`. Vitals' names come back unchanged.
    #[test]
    fn the_collector_prometheus_exporter_keeps_the_names() {
        fn collector_name(name: &str, unit: &str, kind: MetricKind) -> String {
            let mut tokens: Vec<&str> = name.split('_').filter(|t| !t.is_empty()).collect();
            let word = match unit {
                "s" => "seconds",
                "By" => "bytes",
                "%" => "percent",
                _ => "",
            };
            if !word.is_empty() && !tokens.contains(&word) {
                tokens.push(word);
            }
            if kind == MetricKind::Counter {
                tokens.retain(|t| *t != "total");
                tokens.push("total");
            }
            if unit == "1" && kind == MetricKind::Gauge {
                tokens.retain(|t| *t != "ratio");
                tokens.push("ratio");
            }
            tokens.join("_")
        }
        for def in CATALOGUE {
            let name = catalogue::full_name("health_agent", def);
            assert_eq!(
                collector_name(&name, unit(Some(def.unit)), def.kind),
                name,
                "the Collector would rename {name}"
            );
        }
    }
}
