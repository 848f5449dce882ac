//! The `/hello` services every comparison uses: bare axum, a no-op layer, the Vitals layer
//! (whole and timing-only), axum-prometheus's layer and the OpenTelemetry tower layer.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_prometheus::PrometheusMetricLayer;
use vitals_axum::Vitals;
use vitals_axum::layer::{RequestIdLayer, TimingLayer};

use crate::recorded;

/// The server's default slow-request threshold.
const SLOW: Duration = Duration::from_millis(3000);

/// Which stack answers `/hello`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `Router::new().route("/hello", get(hello))`, nothing else.
    Bare,
    /// Bare plus what a user gets from the builder: `Vitals::builder().build()`, its routes
    /// merged and `vitals.layer()` applied with `Router::layer` (the reference server adds a
    /// timeout and a panic-catching layer of its own, which this omits).
    Vitals,
    /// Bare plus `axum_prometheus::PrometheusMetricLayer::pair()` (its global recorder).
    AxumPrometheus,
    /// Bare plus the official OpenTelemetry tower layer
    /// (`opentelemetry-instrumentation-tower`), metrics only, recording into an SDK meter
    /// provider whose reader exports nowhere (no network).
    OpenTelemetry,
    /// Bare plus `RequestIdLayer` and `TimingLayer` in one `Router::layer` call: the three
    /// headers, without recording metrics — splits the Vitals cost into its two halves.
    PerfOnly,
    /// Bare plus a layer that does nothing, applied with `Router::layer`: what axum's
    /// per-route layering costs by itself, the floor under any layer applied that way.
    Noop,
}

impl Mode {
    /// Every mode, the baseline first, then axum's own layering cost, ours, the others'.
    pub const ALL: [Mode; 6] = [
        Mode::Bare,
        Mode::Noop,
        Mode::Vitals,
        Mode::PerfOnly,
        Mode::AxumPrometheus,
        Mode::OpenTelemetry,
    ];

    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bare => "bare",
            Mode::Vitals => "vitals",
            Mode::AxumPrometheus => "axum-prometheus",
            Mode::OpenTelemetry => "opentelemetry",
            Mode::PerfOnly => "perf-only",
            Mode::Noop => "noop",
        }
    }

    /// The mode called `name`.
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown mode {name:?}: bare, vitals, axum-prometheus, opentelemetry, perf-only or noop"
                )
            })
    }
}

/// A built service, what keeps its metrics storage bounded, and how to read back what it
/// recorded.
pub struct App {
    /// The router answering `/hello` (and `/metrics` when the mode records metrics).
    pub router: Router,
    /// Drains histogram samples, as the real servers do every few seconds.
    pub upkeep: Box<dyn Fn() + Send + Sync>,
    /// How many `/hello` requests the stack's own metrics counted, read the way a user
    /// would (its exposition, its reader); `None` for the stacks that record nothing.
    pub recorded: Option<Recorded>,
}

/// Reads a stack's count of `/hello` requests.
pub type Recorded = Box<dyn Fn() -> anyhow::Result<u64> + Send + Sync>;

async fn hello() -> &'static str {
    "Hello, World!"
}

/// Builds `mode`'s service. Must run inside a Tokio runtime (axum-prometheus spawns its
/// upkeep task), and `Mode::AxumPrometheus` at most once per process (global recorder).
pub fn build(mode: Mode) -> App {
    let base = Router::new().route("/hello", get(hello));
    match mode {
        Mode::Bare => App {
            router: base,
            upkeep: Box::new(|| {}),
            recorded: None,
        },
        Mode::Vitals => {
            let vitals = Vitals::builder()
                .slow_threshold(SLOW)
                .build()
                .expect("default settings are valid");
            let router = base.merge(vitals.routes()).layer(vitals.layer());
            App {
                router,
                // Vitals' histograms count into buckets as they record: nothing to drain.
                upkeep: Box::new(|| {}),
                recorded: Some(Box::new(move || {
                    recorded::in_exposition(
                        &vitals.render_prometheus(),
                        "http_requests_total",
                        "route",
                    )
                })),
            }
        }
        Mode::Noop => App {
            router: base.layer(tower::layer::layer_fn(|inner| inner)),
            upkeep: Box::new(|| {}),
            recorded: None,
        },
        Mode::PerfOnly => App {
            // One `Router::layer` call, as `vitals.layer()` is applied, so that both pay
            // axum's per-route layering once.
            router: base.layer(
                tower::ServiceBuilder::new()
                    .layer(RequestIdLayer::new())
                    .layer(TimingLayer),
            ),
            upkeep: Box::new(|| {}),
            recorded: None,
        },
        Mode::OpenTelemetry => {
            // Recorded for real into the SDK's aggregations; the reader is only read on
            // demand (by `recorded`), so nothing leaves the process.
            let reader = recorded::SharedReader::default();
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_reader(reader.clone())
                .build();
            opentelemetry::global::set_meter_provider(provider);
            let layer = opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder()
                .with_tracing(false)
                .with_metrics(true)
                .build()
                .expect("the OpenTelemetry layer builds");
            App {
                router: base.layer(layer),
                upkeep: Box::new(|| {}),
                recorded: Some(Box::new(move || reader.hello_requests())),
            }
        }
        Mode::AxumPrometheus => {
            let (layer, handle) = PrometheusMetricLayer::pair();
            let render = handle.clone();
            let router = base
                .route("/metrics", get(move || async move { render.render() }))
                .layer(layer);
            let exposition = handle.clone();
            App {
                router,
                upkeep: Box::new(move || handle.run_upkeep()),
                recorded: Some(Box::new(move || {
                    recorded::in_exposition(
                        &exposition.render(),
                        "axum_http_requests_total",
                        "endpoint",
                    )
                })),
            }
        }
    }
}
