//! The default pool size rule.

use sqlx::Database;
use sqlx::pool::PoolOptions;

/// Minimum and maximum connections for a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSizing {
    /// Connections kept open even when idle.
    pub min: u32,
    /// Connections the pool never exceeds.
    pub max: u32,
}

/// Why a sizing was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizingError {
    /// A pool needs at least one connection.
    #[error("the pool maximum must be at least 1; raise it")]
    ZeroMax,
    /// The minimum exceeds the maximum.
    #[error(
        "the pool minimum {min} is above the maximum {max}; lower the minimum or raise the maximum"
    )]
    MinAboveMax {
        /// The minimum asked for.
        min: u32,
        /// The maximum asked for.
        max: u32,
    },
}

impl PoolSizing {
    /// The default rule for a machine with `cores` logical CPUs: min = cores,
    /// max = 2 × cores + 5.
    ///
    /// ```
    /// let s = vitals_pool::PoolSizing::for_cores(4);
    /// assert_eq!((s.min, s.max), (4, 13));
    /// ```
    pub fn for_cores(cores: u32) -> Self {
        let cores = cores.max(1);
        Self {
            min: cores,
            max: cores.saturating_mul(2).saturating_add(5),
        }
    }

    /// The default rule for this machine.
    pub fn detect() -> Self {
        let cores = std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        Self::for_cores(cores)
    }

    /// Replaces either bound with an explicit value.
    ///
    /// When only the maximum is given and it is below the default minimum, the minimum
    /// follows it down; two explicit bounds that contradict each other are an error.
    pub fn with_overrides(self, min: Option<u32>, max: Option<u32>) -> Result<Self, SizingError> {
        let max_value = max.unwrap_or(self.max);
        let min_value = match min {
            Some(min) => min,
            None => self.min.min(max_value),
        };
        if max_value == 0 {
            return Err(SizingError::ZeroMax);
        }
        if min_value > max_value {
            return Err(SizingError::MinAboveMax {
                min: min_value,
                max: max_value,
            });
        }
        Ok(Self {
            min: min_value,
            max: max_value,
        })
    }

    /// Sets these bounds on sqlx pool options.
    pub fn apply<DB: Database>(&self, options: PoolOptions<DB>) -> PoolOptions<DB> {
        options.min_connections(self.min).max_connections(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule() {
        assert_eq!(PoolSizing::for_cores(2), PoolSizing { min: 2, max: 9 });
        assert_eq!(PoolSizing::for_cores(0), PoolSizing { min: 1, max: 7 });
    }

    #[test]
    fn overrides() {
        let base = PoolSizing::for_cores(4);
        assert_eq!(
            base.with_overrides(Some(1), None),
            Ok(PoolSizing { min: 1, max: 13 })
        );
        assert_eq!(
            base.with_overrides(None, Some(2)),
            Ok(PoolSizing { min: 2, max: 2 })
        );
        assert_eq!(
            base.with_overrides(None, Some(0)),
            Err(SizingError::ZeroMax)
        );
        assert_eq!(
            base.with_overrides(Some(5), Some(3)),
            Err(SizingError::MinAboveMax { min: 5, max: 3 })
        );
    }
}
