//! A remote-write 1.0 `WriteRequest` (Prometheus' prompb/types.proto and remote.proto: the
//! four messages a push of samples needs), built from the walk over the series that
//! `/metrics` renders, then snappy-compressed (block format).

use vitals_core::Snapshot;
use vitals_engine::Engine;
use vitals_engine::walk::{HistogramPoint, Labels, MetricFamily, Value, Visitor};

/// `prometheus.WriteRequest` (field 3, metadata, is not sent).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub(crate) timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, `__name__` among them.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub(crate) labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Label {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}

/// `prometheus.Sample`: a value and its time in milliseconds since the Unix epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Sample {
    #[prost(double, tag = "1")]
    pub(crate) value: f64,
    #[prost(int64, tag = "2")]
    pub(crate) timestamp: i64,
}

/// The labels every series gets, telling this instance apart from the others.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) job: String,
    pub(crate) instance: String,
}

/// Walks the series into time series of one sample each.
struct Series<'t> {
    target: &'t Target,
    timestamp: i64,
    out: Vec<TimeSeries>,
}

impl Series<'_> {
    /// One time series: `name{labels, extra}` = `value`, with `job` and `instance` added
    /// (a series' own `job` or `instance` label is kept as `exported_job` or
    /// `exported_instance`, as a Prometheus scrape does without `honor_labels`), empty
    /// values left out (an empty label is no label in Prometheus), sorted by name.
    fn push(&mut self, name: String, labels: Labels<'_>, extra: Option<(&str, &str)>, value: f64) {
        let mut all = Vec::with_capacity(6);
        all.push(Label {
            name: "__name__".to_owned(),
            value: name,
        });
        for (k, v) in labels.pairs().chain(extra) {
            if v.is_empty() {
                continue;
            }
            let name = match k {
                "job" | "instance" => format!("exported_{k}"),
                k => k.to_owned(),
            };
            all.push(Label {
                name,
                value: v.to_owned(),
            });
        }
        for (name, value) in [
            ("job", &self.target.job),
            ("instance", &self.target.instance),
        ] {
            if !value.is_empty() {
                all.push(Label {
                    name: name.to_owned(),
                    value: value.clone(),
                });
            }
        }
        all.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        self.out.push(TimeSeries {
            labels: all,
            samples: vec![Sample {
                value,
                timestamp: self.timestamp,
            }],
        });
    }
}

impl Visitor for Series<'_> {
    fn family(&mut self, _family: &MetricFamily<'_>) {}

    fn number(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, value: Value) {
        let value = match value {
            Value::Int(n) => n as f64,
            Value::Float(v) => v,
        };
        self.push(family.name.to_owned(), labels, None, value);
    }

    /// The classic histogram series, as `/metrics` shows them: `_bucket{le}` counting
    /// cumulatively up to `+Inf`, `_sum` and `_count`.
    fn histogram(&mut self, family: &MetricFamily<'_>, labels: Labels<'_>, h: &HistogramPoint<'_>) {
        let bucket = format!("{}_bucket", family.name);
        let mut running = 0u64;
        for (le, n) in h.le.iter().zip(h.counts) {
            running += n;
            self.push(bucket.clone(), labels, Some(("le", le)), running as f64);
        }
        self.push(bucket, labels, Some(("le", "+Inf")), h.count as f64);
        self.push(format!("{}_sum", family.name), labels, None, h.sum);
        self.push(
            format!("{}_count", family.name),
            labels,
            None,
            h.count as f64,
        );
    }

    fn end(&mut self, _family: &MetricFamily<'_>) {}

    /// Remote write 1.0 carries samples only.
    fn wants_exemplars(&self) -> bool {
        false
    }
}

/// Every series of `engine` and `snapshot` as one `WriteRequest`, each with one sample at
/// `unix_millis`.
pub(crate) fn request(
    engine: &Engine,
    snapshot: &Snapshot,
    target: &Target,
    unix_millis: i64,
) -> WriteRequest {
    let mut series = Series {
        target,
        timestamp: unix_millis,
        out: Vec::with_capacity(512),
    };
    engine.walk(snapshot, &mut series);
    WriteRequest {
        timeseries: series.out,
    }
}

/// The request in protobuf, then in snappy's block format (what `Content-Encoding: snappy`
/// means in remote write 1.0): `(compressed, uncompressed length)`.
pub(crate) fn body(request: &WriteRequest) -> (Vec<u8>, usize) {
    let raw = prost::Message::encode_to_vec(request);
    // Compressing a slice into a Vec fails only past 4 GiB of input.
    let packed = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default();
    (packed, raw.len())
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use vitals_core::catalogue::{self, HTTP_REQUEST_DURATION};

    use super::*;

    fn target() -> Target {
        Target {
            job: "shop".to_owned(),
            instance: "host-1:9000".to_owned(),
        }
    }

    /// Four requests (0.05, 0.1, 0.5 and 3 s; edges 0.1 and 1), an application counter
    /// whose own labels include `instance`, and a gauge.
    fn engine() -> Engine {
        let engine = Engine::builder()
            .namespace("shop")
            .slow_threshold(std::time::Duration::from_millis(100))
            .buckets(
                catalogue::full_name("shop", &HTTP_REQUEST_DURATION),
                &[0.1, 1.0],
            )
            .build()
            .expect("valid settings");
        for v in [0.05, 0.1, 0.5, 3.0] {
            let requests = engine.requests();
            let series = requests.series(&http::Method::GET, Some("/orders"));
            let took = std::time::Duration::from_secs_f64(v);
            requests.record(series, 200, took, std::time::Instant::now(), None);
        }
        let recorder = engine.recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("jobs_done_total", "instance" => "worker-3", "queue" => "")
                .increment(7);
            metrics::gauge!("queue_depth").set(2.5);
        });
        engine
    }

    fn labels(series: &TimeSeries) -> Vec<(&str, &str)> {
        series
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    fn find<'r>(request: &'r WriteRequest, name: &str, extra: &[(&str, &str)]) -> &'r TimeSeries {
        request
            .timeseries
            .iter()
            .find(|s| {
                let l = labels(s);
                l.contains(&("__name__", name)) && extra.iter().all(|e| l.contains(e))
            })
            .unwrap_or_else(|| panic!("{name} {extra:?} missing"))
    }

    /// A snapshot with the sections a server with a pool and a cache fills.
    fn snapshot() -> Snapshot {
        Snapshot {
            system: Some(vitals_core::SystemSection::default()),
            database: Some(vitals_core::DatabaseSection::default()),
            cache: Some(vitals_core::CacheSection::default()),
            ..Snapshot::now()
        }
    }

    fn decoded(engine: &Engine) -> WriteRequest {
        let request = request(engine, &snapshot(), &target(), 1_700_000_000_123);
        let (packed, raw_len) = body(&request);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&packed)
            .expect("snappy block format");
        assert_eq!(raw.len(), raw_len);
        WriteRequest::decode(raw.as_slice()).expect("a valid WriteRequest")
    }

    #[test]
    fn every_series_has_sorted_labels_job_instance_and_one_sample() {
        let engine = engine();
        let request = decoded(&engine);
        assert!(request.timeseries.len() > 20);
        for series in &request.timeseries {
            let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted, "sorted, each name once");
            let l = labels(series);
            assert!(l.contains(&("job", "shop")) && l.contains(&("instance", "host-1:9000")));
            assert!(l.iter().all(|(_, v)| !v.is_empty()), "{l:?}");
            assert_eq!(series.samples.len(), 1);
            assert_eq!(series.samples[0].timestamp, 1_700_000_000_123);
        }
        // The application's own `instance` label is kept under another name; its empty
        // `queue` label is no label.
        let jobs = find(&request, "jobs_done_total", &[]);
        assert_eq!(
            labels(jobs),
            vec![
                ("__name__", "jobs_done_total"),
                ("exported_instance", "worker-3"),
                ("instance", "host-1:9000"),
                ("job", "shop"),
            ]
        );
        assert_eq!(jobs.samples[0].value, 7.0);
        assert_eq!(find(&request, "queue_depth", &[]).samples[0].value, 2.5);
    }

    #[test]
    fn histograms_become_cumulative_buckets_sum_and_count() {
        let engine = engine();
        let request = decoded(&engine);
        let name = "shop_http_request_duration_seconds";
        let route = ("route", "/orders");
        let value = |suffix: &str, extra: &[(&str, &str)]| {
            let mut all = vec![route];
            all.extend_from_slice(extra);
            find(&request, &format!("{name}{suffix}"), &all).samples[0].value
        };
        // 0.05 and 0.1 at or below 0.1; 0.5 below 1; 3.0 only in +Inf.
        assert_eq!(value("_bucket", &[("le", "0.1")]), 2.0);
        assert_eq!(value("_bucket", &[("le", "1")]), 3.0);
        assert_eq!(value("_bucket", &[("le", "+Inf")]), 4.0);
        assert_eq!(value("_count", &[]), 4.0);
        assert!((value("_sum", &[]) - 3.65).abs() < 1e-9);
        // The same samples as the text exposition, one time series per sample line.
        let text = engine.render_snapshot(&snapshot());
        let lines = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(request.timeseries.len(), lines, "{text}");
    }

    #[test]
    fn empty_target_labels_are_left_out() {
        let engine = Engine::builder().build().expect("valid");
        let request = request(
            &engine,
            &Snapshot::now(),
            &Target {
                job: String::new(),
                instance: String::new(),
            },
            0,
        );
        assert!(request.timeseries.iter().all(|s| {
            s.labels
                .iter()
                .all(|l| l.name != "job" && l.name != "instance")
        }));
    }
}
