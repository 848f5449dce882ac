//! Proof that a stack did its work: how many `/hello` requests its own metrics counted, read
//! the way its users read them (the Prometheus exposition, the OpenTelemetry reader). A
//! baseline that records nothing would look cheaper than it is.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

/// The route every stack serves.
const HELLO: &str = "/hello";

/// The sum of the samples of `metric` whose `label` is `/hello` in a Prometheus text
/// exposition (a counter split by status sums to the requests answered).
pub fn in_exposition(text: &str, metric: &str, label: &str) -> Result<u64> {
    let wanted = format!("{label}=\"{HELLO}\"");
    let mut total = 0u64;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(metric).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        if !labels.split(',').any(|l| l == wanted) {
            continue;
        }
        let value: f64 = value
            .trim()
            .parse()
            .with_context(|| format!("bad sample line {line:?}"))?;
        total += value as u64;
    }
    Ok(total)
}

/// A `ManualReader` the meter provider and the bench share: the provider owns a reader, so
/// the bench keeps a second handle to the same one to collect from it.
#[derive(Clone, Debug, Default)]
pub struct SharedReader(Arc<ManualReader>);

impl SharedReader {
    /// The number of data points (requests) of `http.server.request.duration` whose
    /// `http.route` is `/hello`, collected now.
    pub fn hello_requests(&self) -> Result<u64> {
        let mut metrics = ResourceMetrics::default();
        self.0
            .collect(&mut metrics)
            .context("the OpenTelemetry reader could not collect")?;
        let mut total = 0;
        let mut seen = false;
        for metric in metrics.scope_metrics().flat_map(|s| s.metrics()) {
            if metric.name() != "http.server.request.duration" {
                continue;
            }
            seen = true;
            if let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() {
                total += histogram
                    .data_points()
                    .filter(|p| {
                        p.attributes()
                            .any(|kv| kv.key.as_str() == "http.route" && kv.value.as_str() == HELLO)
                    })
                    .map(|p| p.count())
                    .sum::<u64>();
            }
        }
        anyhow::ensure!(
            seen,
            "the OpenTelemetry reader has no http.server.request.duration metric"
        );
        Ok(total)
    }
}

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_hello_samples_of_one_metric() {
        let text = "\
# TYPE x_requests_total counter
x_requests_total{method=\"GET\",route=\"/hello\",status=\"200\"} 40
x_requests_total{method=\"GET\",route=\"/hello\",status=\"500\"} 2
x_requests_total{method=\"GET\",route=\"/hello/2\",status=\"200\"} 7
x_requests_total_other{route=\"/hello\"} 9
y_requests_total{route=\"/hello\"} 9
";
        assert_eq!(
            in_exposition(text, "x_requests_total", "route").expect("parses"),
            42
        );
        assert_eq!(
            in_exposition(text, "x_requests_total", "endpoint").expect("parses"),
            0
        );
    }
}
