//! Memory drift: is the server's resident memory still growing once the run has settled?
//!
//! The soak scenario samples the server's RSS every second. The first half of the run is
//! warm-up (caches, pools, allocator arenas filling); over the second half a server without a
//! leak holds flat, so the least-squares slope of RSS against time over that half is the
//! figure to judge, in MB per minute, against [`DRIFT_MB_PER_MIN`] (docs/load-testing.md
//! explains the threshold).

use std::fmt;

/// Growth over the second half above which a run is said to drift, MB per minute.
pub const DRIFT_MB_PER_MIN: f64 = 1.0;

/// Fewest samples the second half needs for a verdict (one a second: two minutes, so a soak
/// of at least four minutes). Shorter runs are still warming up: a 90-second soak on the
/// embedded default still grew +1.5 MB/min over its second half as the cache filled and the
/// database grew, which says nothing about a leak.
pub const MIN_SAMPLES: usize = 120;

/// Least-squares slope of `(seconds, MB)` points, in MB per minute (`None` with fewer than two
/// distinct times).
pub fn slope_mb_per_min(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for &(t, y) in points {
        num += (t - mean_t) * (y - mean_y);
        den += (t - mean_t) * (t - mean_t);
    }
    (den > 0.0).then(|| num / den * 60.0)
}

/// The memory verdict of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RssTrend {
    /// Slope over the second half at or below the threshold.
    Flat {
        /// MB per minute.
        slope: f64,
    },
    /// Slope over the second half above the threshold.
    Drifting {
        /// MB per minute.
        slope: f64,
    },
    /// Too few samples in the second half to judge.
    TooShort {
        /// Samples there were.
        samples: usize,
    },
}

impl RssTrend {
    /// Judges RSS samples `(seconds since start, MB)` of a whole run: the fit covers the
    /// samples at or after half of the last sample's time.
    pub fn judge(points: &[(f64, f64)]) -> Self {
        let end = points.iter().map(|p| p.0).fold(0.0f64, f64::max);
        let half: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|p| p.0 >= end / 2.0 && p.1.is_finite())
            .collect();
        match slope_mb_per_min(&half) {
            Some(slope) if half.len() >= MIN_SAMPLES => {
                if slope > DRIFT_MB_PER_MIN {
                    RssTrend::Drifting { slope }
                } else {
                    RssTrend::Flat { slope }
                }
            }
            _ => RssTrend::TooShort {
                samples: half.len(),
            },
        }
    }

    /// The slope, when judged.
    pub fn slope(self) -> Option<f64> {
        match self {
            RssTrend::Flat { slope } | RssTrend::Drifting { slope } => Some(slope),
            RssTrend::TooShort { .. } => None,
        }
    }

    /// Whether the run passes (a run too short to judge is not a failure).
    pub fn pass(self) -> bool {
        !matches!(self, RssTrend::Drifting { .. })
    }
}

fn rate(slope: f64) -> String {
    // No "-0.00": a slope that rounds to zero is shown as +0.00.
    let slope = if slope.abs() < 0.005 { 0.0 } else { slope };
    if slope.abs() < 1.0 {
        format!("{slope:+.2} MB/min")
    } else {
        format!("{slope:+.1} MB/min")
    }
}

impl fmt::Display for RssTrend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RssTrend::Flat { slope } => write!(f, "no drift: {}", rate(slope)),
            RssTrend::Drifting { slope } => write!(f, "drift: {}", rate(slope)),
            RssTrend::TooShort { samples } => write!(
                f,
                "not judged: {samples} s of RSS samples in the second half, {MIN_SAMPLES} s needed (a soak of at least {} minutes)",
                MIN_SAMPLES * 2 / 60
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(seconds: u32, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (0..seconds)
            .map(|s| (f64::from(s), f(f64::from(s))))
            .collect()
    }

    #[test]
    fn slope_of_a_line_is_exact() {
        let pts = series(100, |t| 10.0 + t * 0.05);
        let slope = slope_mb_per_min(&pts).expect("slope");
        assert!((slope - 3.0).abs() < 1e-9, "{slope}");
        assert_eq!(slope_mb_per_min(&[(1.0, 2.0)]), None);
        assert_eq!(slope_mb_per_min(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }

    #[test]
    fn flat_after_warm_up_is_no_drift() {
        // Fast growth in the first half (warm-up), flat with page-sized noise after.
        let pts = series(600, |t| {
            if t < 300.0 {
                10.0 + t * 0.02
            } else {
                16.0 + if (t as u32).is_multiple_of(2) {
                    0.004
                } else {
                    0.0
                }
            }
        });
        let d = RssTrend::judge(&pts);
        assert!(matches!(d, RssTrend::Flat { .. }), "{d}");
        assert!(d.pass());
        assert_eq!(d.to_string(), "no drift: +0.00 MB/min");
    }

    #[test]
    fn steady_growth_is_drift() {
        let pts = series(600, |t| 10.0 + t * 3.1 / 60.0);
        let d = RssTrend::judge(&pts);
        assert_eq!(d.to_string(), "drift: +3.1 MB/min");
        assert!(!d.pass());
    }

    #[test]
    fn just_under_the_threshold_passes() {
        let pts = series(600, |t| 10.0 + t * 0.9 / 60.0);
        assert_eq!(RssTrend::judge(&pts).to_string(), "no drift: +0.90 MB/min");
    }

    #[test]
    fn short_runs_are_not_judged() {
        let pts = series(200, |t| t);
        assert_eq!(RssTrend::judge(&pts), RssTrend::TooShort { samples: 100 });
        assert!(RssTrend::judge(&pts).pass());
        assert_eq!(RssTrend::judge(&[]), RssTrend::TooShort { samples: 0 });
    }
}
