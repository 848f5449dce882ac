//! Log output.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the global log subscriber: text or JSON lines on stdout, filtered by `filter`
/// (`RUST_LOG` syntax). Returns an error when a subscriber is already installed.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
    // Colours only for a person at a terminal, and never when NO_COLOR is set.
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match format {
        // Text lines pass through an escaper: a client-sent control or bidi character (in a
        // path, an error message…) cannot break or reorder a line. Colour codes stay intact
        // only when colours are on, i.e. for a person at a terminal.
        LogFormat::Text if !ansi => builder
            .with_writer(|| EscapingWriter(std::io::stdout()))
            .try_init(),
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
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
        let escaped = vitals_axum::layer::escape_for_log(body);
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
