//! PromQL over the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`), which
//! Prometheus and VictoriaMetrics both serve.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::load::server::get;

/// One series of an answer.
#[derive(Clone, Debug)]
pub struct Series {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)`; one point for an instant query.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// The (last) value.
    pub fn value(&self) -> f64 {
        self.points.last().map_or(f64::NAN, |p| p.1)
    }

    /// A label, or "".
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// An instant query at `at` (unix seconds) or now.
pub async fn query(api: SocketAddr, promql: &str, at: Option<f64>) -> Result<Vec<Series>> {
    let mut path = format!("/api/v1/query?query={}", encode(promql));
    if let Some(t) = at {
        path.push_str(&format!("&time={t:.3}"));
    }
    fetch(api, &path, promql).await
}

/// A range query from `start` to `end` (unix seconds) every `step` seconds.
pub async fn query_range(
    api: SocketAddr,
    promql: &str,
    start: f64,
    end: f64,
    step: f64,
) -> Result<Vec<Series>> {
    let path = format!(
        "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
        encode(promql)
    );
    fetch(api, &path, promql).await
}

/// The sum of the values of an instant query (0 for an empty answer).
pub async fn scalar(api: SocketAddr, promql: &str, at: Option<f64>) -> Result<Option<f64>> {
    let series = query(api, promql, at).await?;
    Ok((!series.is_empty()).then(|| series.iter().map(Series::value).sum()))
}

async fn fetch(api: SocketAddr, path: &str, promql: &str) -> Result<Vec<Series>> {
    let (status, body) = get(api, path)
        .await
        .with_context(|| format!("cannot reach the PromQL API on {api}"))?;
    let doc: Value = serde_json::from_str(&body)
        .with_context(|| format!("{api} answered {status} with something that is not JSON"))?;
    if status != 200 || doc["status"] != "success" {
        bail!(
            "{api} refused `{promql}` ({status}): {}",
            doc["error"].as_str().unwrap_or(&body)
        );
    }
    parse(&doc["data"])
}

fn parse(data: &Value) -> Result<Vec<Series>> {
    let number = |v: &Value| -> Option<(f64, f64)> {
        let pair = v.as_array()?;
        let t = pair.first()?.as_f64()?;
        let v = pair.get(1)?.as_str()?;
        Some((t, parse_value(v)))
    };
    match data["resultType"].as_str() {
        Some("scalar") => Ok(vec![Series {
            labels: BTreeMap::new(),
            points: number(&data["result"]).into_iter().collect(),
        }]),
        Some("vector" | "matrix") => Ok(data["result"]
            .as_array()
            .context("no result list")?
            .iter()
            .map(|s| Series {
                labels: labels_of(&s["metric"]),
                points: match s.get("values").and_then(Value::as_array) {
                    Some(values) => values.iter().filter_map(number).collect(),
                    None => number(&s["value"]).into_iter().collect(),
                },
            })
            .collect()),
        other => bail!("unexpected result type {other:?}"),
    }
}

/// A JSON object of string labels (`{"instance": "…"}`) as a map; other values read as "".
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_value(v: &str) -> f64 {
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => v.parse().unwrap_or(f64::NAN),
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986, section 2.3).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_promql() {
        assert_eq!(
            encode(r#"sum(rate(x{a="b"}[1m]))"#),
            "sum%28rate%28x%7Ba%3D%22b%22%7D%5B1m%5D%29%29"
        );
    }

    #[test]
    fn reads_vectors_matrices_and_scalars() {
        let vector = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"instance": "a"}, "value": [1.5, "2"]},
            {"metric": {"instance": "b"}, "value": [1.5, "NaN"]}]});
        let s = parse(&vector).expect("vector");
        assert_eq!(s[0].label("instance"), "a");
        assert_eq!(s[0].value(), 2.0);
        assert!(s[1].value().is_nan());
        let matrix = serde_json::json!({"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1, "1"], [2, "3"]]}]});
        assert_eq!(
            parse(&matrix).expect("matrix")[0].points,
            [(1.0, 1.0), (2.0, 3.0)]
        );
        let scalar = serde_json::json!({"resultType": "scalar", "result": [3, "7"]});
        assert_eq!(parse(&scalar).expect("scalar")[0].value(), 7.0);
    }
}
