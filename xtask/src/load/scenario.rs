//! The load shapes: how many virtual users are active at each moment of a run.

use std::time::Duration;

use clap::ValueEnum;

/// A named load test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// A few users for a few seconds: does everything work? (CI runs it.)
    Smoke,
    /// Constant users after a short ramp: the steady state the targets speak of.
    Steady,
    /// A fifth of the users, a sudden jump to all of them, and back.
    Spike,
    /// Steps of a fifth of the users each, until latency or errors break the targets.
    Stress,
    /// Constant users for a long time, to watch memory drift.
    Soak,
}

impl Scenario {
    /// Default virtual users.
    pub fn default_users(self) -> u32 {
        match self {
            Scenario::Smoke => 5,
            Scenario::Steady | Scenario::Soak => 100,
            Scenario::Spike => 100,
            Scenario::Stress => 250,
        }
    }

    /// Default length.
    pub fn default_duration(self) -> Duration {
        Duration::from_secs(match self {
            Scenario::Smoke => 15,
            Scenario::Steady => 120,
            Scenario::Spike => 120,
            Scenario::Stress => 300,
            Scenario::Soak => 1_800,
        })
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Smoke => "smoke",
            Scenario::Steady => "steady",
            Scenario::Spike => "spike",
            Scenario::Stress => "stress",
            Scenario::Soak => "soak",
        }
    }

    /// Active users `elapsed` into a run of `duration` with at most `users`.
    pub fn users_at(self, elapsed: Duration, duration: Duration, users: u32) -> u32 {
        let f = if duration.is_zero() {
            1.0
        } else {
            (elapsed.as_secs_f64() / duration.as_secs_f64()).clamp(0.0, 1.0)
        };
        let scaled = |share: f64| ((f64::from(users) * share).ceil() as u32).clamp(1, users.max(1));
        match self {
            Scenario::Smoke => users.max(1),
            // Ramp over the first tenth (at most 10 s), then hold.
            Scenario::Steady | Scenario::Soak => {
                let ramp = (duration.as_secs_f64() * 0.1).min(10.0);
                if ramp <= 0.0 || elapsed.as_secs_f64() >= ramp {
                    users.max(1)
                } else {
                    scaled(elapsed.as_secs_f64() / ramp)
                }
            }
            Scenario::Spike => {
                if (0.4..0.6).contains(&f) {
                    users.max(1)
                } else {
                    scaled(0.2)
                }
            }
            Scenario::Stress => {
                let step = (f * 5.0).floor().min(4.0) + 1.0;
                scaled(step / 5.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: Scenario, secs: u64) -> u32 {
        s.users_at(Duration::from_secs(secs), Duration::from_secs(100), 50)
    }

    #[test]
    fn steady_ramps_then_holds() {
        assert_eq!(at(Scenario::Steady, 0), 1);
        assert_eq!(at(Scenario::Steady, 5), 25);
        assert_eq!(at(Scenario::Steady, 10), 50);
        assert_eq!(at(Scenario::Steady, 99), 50);
    }

    #[test]
    fn spike_jumps_and_returns() {
        assert_eq!(at(Scenario::Spike, 10), 10);
        assert_eq!(at(Scenario::Spike, 45), 50);
        assert_eq!(at(Scenario::Spike, 59), 50);
        assert_eq!(at(Scenario::Spike, 60), 10);
    }

    #[test]
    fn stress_climbs_in_five_steps() {
        let steps: Vec<u32> = [0, 20, 40, 60, 80, 100]
            .iter()
            .map(|&s| at(Scenario::Stress, s))
            .collect();
        assert_eq!(steps, vec![10, 20, 30, 40, 50, 50]);
    }

    #[test]
    fn smoke_is_flat_and_never_zero() {
        assert_eq!(at(Scenario::Smoke, 0), 50);
        assert_eq!(
            Scenario::Smoke.users_at(Duration::ZERO, Duration::ZERO, 0),
            1
        );
    }
}
