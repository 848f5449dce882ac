//! Derived figures, kept as pure functions so every rendering computes them the same way.
//!
//! The rules: a ratio with a zero denominator is 0 (never NaN or infinity), percentages are
//! rounded to 2 decimals and megabytes to 1.

use std::time::Duration;

/// Bytes in one megabyte as docs/metrics-endpoint.md counts it (MiB).
pub const BYTES_PER_MB: f64 = 1_048_576.0;

/// Rounds `value` to `decimals` places; a non-finite input becomes 0.
///
/// ```
/// assert_eq!(vitals_core::math::round_to(38.461538, 2), 38.46);
/// assert_eq!(vitals_core::math::round_to(f64::NAN, 2), 0.0);
/// ```
pub fn round_to(value: f64, decimals: i32) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    let factor = 10f64.powi(decimals);
    let rounded = (value * factor).round() / factor;
    // Avoid "-0.0" in the JSON.
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years), without the
/// 128-bit arithmetic of `Duration::as_nanos` (the request path calls this).
///
/// ```
/// use std::time::Duration;
/// use vitals_core::math::nanos;
/// assert_eq!(nanos(Duration::new(2, 5)), 2_000_000_005);
/// assert_eq!(nanos(Duration::MAX), u64::MAX);
/// ```
pub fn nanos(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(duration.subsec_nanos()))
}

/// `value` rounded to 15 significant digits: a sum of many floats carries the rounding of
/// each addition in its last digits (`242.50000000000003`); this drops that noise, which is
/// below what such a sum can claim anyway.
///
/// ```
/// use vitals_core::math::round_significant;
/// assert_eq!(round_significant(242.50000000000003), 242.5);
/// assert_eq!(round_significant(0.1 + 0.2), 0.3);
/// assert_eq!(round_significant(123456789.123), 123456789.123);
/// ```
pub fn round_significant(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    // Keep 15 digits: scale by an exact power of ten, round, scale back. Division by an
    // exact power gives the f64 nearest the decimal, as parsing it would; without an
    // allocation (the walk calls this for every histogram series).
    let digits_after_point = 14 - value.abs().log10().floor() as i32;
    if let Ok(k) = usize::try_from(digits_after_point)
        && let Some(&scale) = EXACT_POWERS_OF_TEN.get(k)
    {
        return (value * scale).round() / scale;
    }
    format!("{value:.14e}").parse().unwrap_or(value)
}

/// 10⁰ to 10²², every one exact in an f64.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `part / whole × 100`, rounded to 2 decimals; 0 when `whole` is 0.
///
/// ```
/// use vitals_core::math::percent;
/// assert_eq!(percent(5.0, 13.0), 38.46);
/// assert_eq!(percent(3.0, 0.0), 0.0);
/// ```
pub fn percent(part: f64, whole: f64) -> f64 {
    if whole == 0.0 {
        return 0.0;
    }
    round_to(part / whole * 100.0, 2)
}

/// Pool utilization: active connections over the pool's current size, in percent.
pub fn pool_utilization(active: u32, size: u32) -> f64 {
    percent(f64::from(active), f64::from(size))
}

/// Cache hit rate: hits over all reads (hits + misses), in percent.
pub fn hit_rate(hits: u64, misses: u64) -> f64 {
    let reads = hits.saturating_add(misses);
    // u64 → f64 loses precision only past 2^53 reads, far beyond any process lifetime.
    percent(hits as f64, reads as f64)
}

/// Bytes as megabytes rounded to 1 decimal.
pub fn bytes_to_mb(bytes: u64) -> f64 {
    round_to(bytes as f64 / BYTES_PER_MB, 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounding_keeps_fifteen_digits_and_agrees_with_rounding_by_text() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let magnitude = 10f64.powi((x % 20) as i32 - 6);
            let value = (x >> 11) as f64 / (1u64 << 53) as f64 * magnitude;
            let by_text: f64 = format!("{value:.14e}").parse().expect("a number");
            let rounded = super::round_significant(value);
            // The two may split a near-tie differently: one unit of the 15th digit at most.
            assert!((rounded - by_text).abs() <= value * 1e-14, "{value:e}");
            let shortest = format!("{rounded:e}");
            let mantissa = shortest.split('e').next().expect("mantissa");
            let digits = mantissa.chars().filter(char::is_ascii_digit).count();
            assert!(digits <= 15, "{value:e} → {shortest}");
        }
    }

    use super::*;

    #[test]
    fn zero_denominators_give_zero() {
        assert_eq!(percent(0.0, 0.0), 0.0);
        assert_eq!(percent(7.0, 0.0), 0.0);
        assert_eq!(pool_utilization(0, 0), 0.0);
        assert_eq!(pool_utilization(3, 0), 0.0);
        assert_eq!(hit_rate(0, 0), 0.0);
    }

    #[test]
    fn percentages_round_to_two_decimals() {
        assert_eq!(pool_utilization(5, 13), 38.46);
        assert_eq!(pool_utilization(13, 13), 100.0);
        assert_eq!(hit_rate(1234, 456), 73.02);
        assert_eq!(hit_rate(2, 1), 66.67);
        assert_eq!(hit_rate(1, 2), 33.33);
    }

    #[test]
    fn megabytes_round_to_one_decimal() {
        assert_eq!(bytes_to_mb(0), 0.0);
        assert_eq!(bytes_to_mb(1_048_576), 1.0);
        assert_eq!(bytes_to_mb(1_074_266_112), 1024.5);
        assert_eq!(bytes_to_mb(104_857), 0.1);
        assert_eq!(bytes_to_mb(52_428), 0.0);
    }

    #[test]
    fn rounding_never_yields_nan_or_negative_zero() {
        assert_eq!(round_to(f64::NAN, 2), 0.0);
        assert_eq!(round_to(f64::INFINITY, 1), 0.0);
        assert!(round_to(-0.001, 2).is_sign_positive());
        assert_eq!(round_to(2.675_000_1, 2), 2.68);
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        assert_eq!(hit_rate(u64::MAX, 1), 100.0);
    }
}
