//! Log output, and the span timings of the server's own parts.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};
use vitals_axum::spans::{SpanLayer, SpanTimings};

use crate::settings::LogFormat;

static SPANS: OnceLock<SpanTimings> = OnceLock::new();

/// The span timings of this process, once [`init`] (or [`span_layer`]) made them: the
/// server's own spans (`agent.reply`, `store.read`, `store.write`, `cache.get`, `cache.set`;
/// target `vitals_server`). [`AppState`](crate::AppState) records them into its `Vitals`.
pub fn span_timings() -> Option<&'static SpanTimings> {
    SPANS.get()
}

/// The layer timing the server's spans, for a subscriber of your own (tests install it on
/// their thread). Only one `AppState` per process can then record them.
pub fn span_layer() -> SpanLayer {
    SPANS
        .get_or_init(|| {
            SpanTimings::builder()
                .allow_target(env!("CARGO_CRATE_NAME"))
                // `cache.get` / `cache.set` are MeteredCache's own spans.
                .allow_target("vitals_cache")
                .build()
        })
        .layer()
}

/// Installs the global subscriber: text or JSON lines on stdout, filtered by `filter`
/// (`RUST_LOG` syntax), and the span-timing layer (which sees spans whatever the log filter
/// says). Returns an error when a subscriber is already installed.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
    // Colours only for a person at a terminal, and never when NO_COLOR is set.
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let fmt = tracing_subscriber::fmt::layer().with_ansi(ansi);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(span_layer())
        .try_init()
        .map_err(|e| e.to_string())
}
