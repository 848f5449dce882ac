//! [`SloFigures`]: one objective as the JSON `slos` section shows it.

use serde::{Deserialize, Serialize};

use super::{Objective, SloKind};
use crate::math::round_to;

/// One objective with how it is doing: an entry of the snapshot's `slos` list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloFigures {
    /// The objective's name.
    pub name: String,
    /// Its route, or route group (`/api/v1/*`).
    pub route: String,
    /// Its method, when it covers one only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `availability` or `latency`.
    pub kind: SloKind,
    /// The share of good answers promised, in percent.
    pub target_percent: f64,
    /// The latency threshold in milliseconds (latency objectives only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<f64>,
    /// Good answers since the server started.
    pub good: u64,
    /// All answers counted for the objective since the server started.
    pub total: u64,
    /// How fast the error budget burned over the last 5 minutes (1 = exactly as fast as the
    /// objective allows; 0 without answers).
    pub burn_rate_5m: f64,
    /// The same over the last hour (or since the start, for a younger server).
    pub burn_rate_1h: f64,
    /// The windows (`"5m"`, `"1h"`) whose burn rate is above 1: spending the budget faster
    /// than the objective allows.
    pub burning: Vec<String>,
}

impl SloFigures {
    /// The figures of `objective` from its good and total counts since start and the burn
    /// rates of its two windows.
    pub fn new(
        objective: &Objective,
        (good, total): (u64, u64),
        burn_rate_5m: f64,
        burn_rate_1h: f64,
    ) -> Self {
        let (burn_rate_5m, burn_rate_1h) = (round_to(burn_rate_5m, 3), round_to(burn_rate_1h, 3));
        let burning = [("5m", burn_rate_5m), ("1h", burn_rate_1h)]
            .iter()
            .filter(|(_, rate)| *rate > 1.0)
            .map(|(window, _)| (*window).to_owned())
            .collect();
        Self {
            name: objective.name.clone(),
            route: objective.route.clone(),
            method: objective.method.clone(),
            kind: objective.kind,
            target_percent: objective.target_percent,
            threshold_ms: objective.threshold_ms,
            good,
            total,
            burn_rate_5m,
            burn_rate_1h,
            burning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burning_lists_the_windows_above_one() {
        let o = Objective::availability("chat", "/api/v1/chat", 99.9).method("POST");
        let f = SloFigures::new(&o, (990, 1000), 20.0, 0.5);
        assert_eq!(f.burning, ["5m"]);
        let json = serde_json::to_value(&f).expect("serializes");
        assert_eq!(json["kind"], "availability");
        assert!(json.get("threshold_ms").is_none());
        assert_eq!(json["method"], "POST");
        assert_eq!(json["good"], 990);
        let calm = SloFigures::new(&o, (0, 0), 0.0, 1.0);
        assert!(calm.burning.is_empty(), "exactly 1 is not burning faster");
    }
}
