//! The CSV file: header once, then one flushed row per poll, so a crash loses nothing.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::record::Row;

/// Writes monitor rows to a CSV file.
#[derive(Debug)]
pub struct CsvSink {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl CsvSink {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path).with_context(|| {
            format!(
                "cannot create {}; check that its folder exists and is writable",
                path.display()
            )
        })?;
        let mut sink = Self {
            path: path.to_owned(),
            writer: csv::Writer::from_writer(file),
        };
        sink.writer
            .write_record(Row::header())
            .and_then(|()| sink.writer.flush().map_err(csv::Error::from))
            .with_context(|| format!("cannot write to {}", path.display()))?;
        Ok(sink)
    }

    /// Appends one row and flushes it to the file.
    pub fn write(&mut self, row: &Row) -> anyhow::Result<()> {
        self.writer
            .write_record(row.cells())
            .and_then(|()| self.writer.flush().map_err(csv::Error::from))
            .with_context(|| format!("cannot write to {}; is the disk full?", self.path.display()))
    }

    /// Flushes what is buffered (every row already is).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot flush {}", self.path.display()))
    }
}
