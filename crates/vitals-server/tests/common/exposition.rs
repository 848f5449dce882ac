//! The Prometheus text exposition as samples, for comparing it with what a push carried.

use std::collections::BTreeMap;

/// `(name, labels sorted by name)` → value.
pub type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// The `name{labels} value` lines of the exposition.
pub fn parse_exposition(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        let mut pairs = Vec::new();
        let mut chars = labels.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(other) => value.push(other),
                        None => {}
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            if chars.peek() == Some(&',') {
                chars.next();
            }
            pairs.push((key, value));
        }
        pairs.sort();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|e| panic!("{line}: {e}")),
        };
        out.insert((name.to_owned(), pairs), value);
    }
    out
}
