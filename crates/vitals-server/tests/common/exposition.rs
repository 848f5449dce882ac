//! The Prometheus text exposition as a map of samples, for tests that compare what an
//! exporter sent with what `GET /metrics` showed.

use std::collections::BTreeMap;

/// `(name, sorted labels)` → value.
pub type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// `name{labels} value` lines of the exposition.
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

/// An edge as `le="…"` writes it.
pub fn le(edge: f64) -> String {
    if edge.fract() == 0.0 && edge.abs() < 1e15 {
        (edge as i64).to_string()
    } else {
        format!("{edge}")
    }
}

/// Asserts that `received` (what an exporter delivered) holds exactly the series of
/// `exposition` (one `/metrics` answer read after it) with the same values, `who` naming the
/// receiver in failures. The in-flight gauge is left out: the request reading `/metrics` is in
/// flight while it renders. Returns how many samples were compared.
pub fn assert_same_samples(received: &Samples, exposition: &Samples, who: &str) -> usize {
    let names = |s: &Samples| {
        s.keys()
            .map(|(n, l)| format!("{n}{l:?}"))
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        names(received),
        names(exposition),
        "{who} got the same series /metrics lists"
    );
    let moving = ["health_agent_http_requests_in_flight"];
    let mut compared = 0;
    for (key, value) in exposition {
        if moving.contains(&key.0.as_str()) {
            continue;
        }
        let got = received[key];
        assert!(
            got == *value || (got.is_nan() && value.is_nan()),
            "{key:?}: {who} got {got}, /metrics shows {value}"
        );
        compared += 1;
    }
    compared
}
