//! The three `/hello` services every comparison uses: bare axum, axum with the Vitals
//! layer, and axum with axum-prometheus's layer.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_prometheus::PrometheusMetricLayer;
use vitals_axum::Vitals;
use vitals_axum::layer::{RequestIdLayer, TimingLayer};

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
    /// Bare plus `RequestIdLayer` and `TimingLayer`: the three headers,
    /// without recording metrics — splits the Vitals cost into its two halves.
    PerfOnly,
    /// Bare plus a layer that does nothing, applied with `Router::layer`: what axum's
    /// per-route layering costs by itself, the floor under any layer applied that way.
    Noop,
}

impl Mode {
    /// Every mode, the baseline first.
    pub const ALL: [Mode; 6] = [
        Mode::Bare,
        Mode::Vitals,
        Mode::AxumPrometheus,
        Mode::OpenTelemetry,
        Mode::PerfOnly,
        Mode::Noop,
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

/// A built service plus what keeps its metrics storage bounded.
pub struct App {
    /// The router answering `/hello` (and `/metrics` when the mode records metrics).
    pub router: Router,
    /// Drains histogram samples, as the real servers do every few seconds.
    pub upkeep: Box<dyn Fn() + Send + Sync>,
}

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
        },
        Mode::Vitals => {
            let vitals = Vitals::builder()
                .slow_threshold(SLOW)
                .build()
                .expect("default settings are valid");
            App {
                router: base.merge(vitals.routes()).layer(vitals.layer()),
                // Vitals' histograms count into buckets as they record: nothing to drain.
                upkeep: Box::new(|| {}),
            }
        }
        Mode::Noop => App {
            router: base.layer(tower::layer::layer_fn(|inner| inner)),
            upkeep: Box::new(|| {}),
        },
        Mode::PerfOnly => App {
            router: base.layer(TimingLayer).layer(RequestIdLayer::new()),
            upkeep: Box::new(|| {}),
        },
        Mode::OpenTelemetry => {
            // Recorded for real into the SDK's aggregations; the reader is only read on
            // demand, so nothing leaves the process.
            let reader = opentelemetry_sdk::metrics::ManualReader::builder().build();
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_reader(reader)
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
            }
        }
        Mode::AxumPrometheus => {
            let (layer, handle) = PrometheusMetricLayer::pair();
            let render = handle.clone();
            let router = base
                .route("/metrics", get(move || async move { render.render() }))
                .layer(layer);
            App {
                router,
                upkeep: Box::new(move || handle.run_upkeep()),
            }
        }
    }
}
