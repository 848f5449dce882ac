//! The committed instruction counts (`xtask/baseline/instructions.json`) and the comparison
//! of a fresh count with them.
//!
//! The file is small JSON, so a change to it reads well in a diff: one integer per checked
//! count, the toolchain that produced them, and a sentence saying how to update it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// How much a count may grow over its baseline before the check fails: 10 %.
pub const TOLERANCE: f64 = 0.10;

/// The checked counts, each as a key of the file, what it is, and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures(pub Vec<(&'static str, &'static str, u64)>);

/// The keys of the file, in order, with what each counts.
pub const CHECKED: [(&str, &str); 3] = [
    (
        "layer_per_request",
        "Vitals' layer per /hello request (vitals − bare)",
    ),
    ("render_1000_series", "/metrics render, 1,000 HTTP series"),
    ("json_snapshot", "one JSON snapshot (/api/v1/metrics body)"),
];

/// Where the baseline lives.
pub fn path() -> PathBuf {
    crate::workspace_root().join("xtask/baseline/instructions.json")
}

/// Reads the baseline at `path`.
pub fn read(path: &Path) -> Result<Figures> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {}; create it with `cargo xtask instructions --update`",
            path.display()
        )
    })?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let mut figures = Vec::new();
    for (key, what) in CHECKED {
        let count = value.get(key).and_then(Value::as_u64).with_context(|| {
            format!(
                "{} has no whole number `{key}`; rewrite it with `cargo xtask instructions --update`",
                path.display()
            )
        })?;
        figures.push((key, what, count));
    }
    Ok(Figures(figures))
}

/// Writes `figures` to `path`, noting the toolchain that counted them.
pub fn write(path: &Path, figures: &Figures, toolchain: &str) -> Result<()> {
    let mut value = json!({
        "about": "Instruction counts `cargo xtask ci` checks (callgrind on the release \
                  vitals-bench, main thread). A fresh count more than 10 % above one of these \
                  fails CI. Update on purpose with `cargo xtask instructions --update` and \
                  commit this file (docs/performance.md, section 'Instruction counts').",
        "toolchain": toolchain,
    });
    for (key, _, count) in &figures.0 {
        value[*key] = json!(count);
    }
    let text = serde_json::to_string_pretty(&value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The toolchain the baseline was counted with, if it says.
pub fn toolchain(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value.get("toolchain")?.as_str().map(str::to_owned)
}

/// One count against its baseline.
#[derive(Debug, PartialEq)]
pub struct Verdict {
    /// What was counted.
    pub what: &'static str,
    /// The committed figure.
    pub baseline: u64,
    /// This run's figure.
    pub now: u64,
}

impl Verdict {
    /// Relative change, +0.05 for 5 % more instructions.
    pub fn change(&self) -> f64 {
        (self.now as f64 - self.baseline as f64) / (self.baseline.max(1) as f64)
    }

    /// Whether the count grew more than the tolerance.
    pub fn failed(&self) -> bool {
        self.change() > TOLERANCE
    }

    /// One line: `ok`/`FAIL`, the two figures and the change in words.
    pub fn line(&self) -> String {
        let change = self.change() * 100.0;
        let words = if self.now > self.baseline {
            format!("{change:+.1} %")
        } else if self.now < self.baseline {
            format!("{:.1} % fewer", -change)
        } else {
            "unchanged".to_owned()
        };
        format!(
            "  {:<4} {:<50} baseline {:>10}  now {:>10}  {words}",
            if self.failed() { "FAIL" } else { "ok" },
            self.what,
            thousands(self.baseline),
            thousands(self.now),
        )
    }
}

/// Each of `now`'s counts against `baseline`'s.
pub fn compare(baseline: &Figures, now: &Figures) -> Vec<Verdict> {
    now.0
        .iter()
        .filter_map(|(key, what, count)| {
            let (_, _, base) = baseline.0.iter().find(|(k, _, _)| k == key)?;
            Some(Verdict {
                what,
                baseline: *base,
                now: *count,
            })
        })
        .collect()
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        let _ = out.write_char(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(layer: u64) -> Figures {
        Figures(vec![
            ("layer_per_request", "layer", layer),
            ("render_1000_series", "render", 1_000_000),
            ("json_snapshot", "json", 20_000),
        ])
    }

    #[test]
    fn more_than_ten_percent_over_fails_and_anything_else_passes() {
        let base = figures(4_000);
        let grew = compare(&base, &figures(4_401));
        assert!(grew[0].failed(), "{:?}", grew[0]);
        assert!(grew[0].line().starts_with("  FAIL"), "{}", grew[0].line());
        assert!(grew[0].line().contains("4,000") && grew[0].line().contains("4,401"));
        let at_limit = compare(&base, &figures(4_400));
        assert!(!at_limit[0].failed());
        let shrank = compare(&base, &figures(2_000));
        assert!(!shrank[0].failed());
        assert!(
            shrank[0].line().contains("50.0 % fewer"),
            "{}",
            shrank[0].line()
        );
        assert!(compare(&base, &base).iter().all(|v| !v.failed()));
    }

    #[test]
    fn the_file_round_trips() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let file = dir.path().join("instructions.json");
        let mut written = figures(4_321);
        for (key, what, _) in &mut written.0 {
            *what = CHECKED
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, w)| *w)
                .unwrap_or_default();
        }
        write(&file, &written, "rustc 1.0, valgrind-3").expect("writes");
        assert_eq!(read(&file).expect("reads"), written);
        assert_eq!(toolchain(&file).as_deref(), Some("rustc 1.0, valgrind-3"));
        std::fs::write(&file, "{\"layer_per_request\": 1}").expect("writes");
        assert!(read(&file).is_err(), "missing keys must be an error");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4_527), "4,527");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
