//! Log output, and the span timings of the server's own parts.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};
use vitals_axum::spans::{SpanLayer, SpanTimings};

/// Log line format.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

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
        // Text lines pass through an escaper: a client-sent control or bidi character (in a
        // path, an error message…) cannot break or reorder a line. Colour codes stay intact
        // only when colours are on, i.e. for a person at a terminal.
        LogFormat::Text if !ansi => fmt
            .with_writer(|| EscapingWriter(std::io::stdout()))
            .boxed(),
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(span_layer())
        .try_init()
        .map_err(|e| e.to_string())
}

/// Writes log lines with control characters (other than the final newline) and Unicode
/// bidi / line-separator characters as `\u{…}` escapes.
pub struct EscapingWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, newline) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let escaped = vitals_core::text::escape_for_log(body);
        self.0.write_all(escaped.as_bytes())?;
        self.0.write_all(newline.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::EscapingWriter;

    #[test]
    fn log_lines_escape_separators_bidi_and_controls() {
        let mut w = EscapingWriter(Vec::new());
        w.write_all("user \u{202e}gpj.exe\u{2028}forged line\r\n".as_bytes())
            .expect("write");
        let out = String::from_utf8(w.0).expect("utf-8");
        assert_eq!(out, "user \\u{202e}gpj.exe\\u{2028}forged line\\u{d}\n");
    }
}
