//! Durations on the command line: plain seconds (`5`, `0.5`) or humantime (`10m`, `1h30m`).

use std::time::Duration;

/// Parses `5`, `2.5` (seconds) or `500ms`, `10m`, `1h 30m`; rejects zero and negatives.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Duration::from_secs_f64(secs),
        Ok(_) => return Err(format!("`{text}` must be a positive number of seconds")),
        Err(_) => humantime::parse_duration(text).map_err(|e| {
            format!("`{text}` is not a duration ({e}); write seconds (`5`, `0.5`) or `500ms`, `10m`, `1h`")
        })?,
    };
    if duration.is_zero() {
        return Err(format!("`{text}` must be longer than zero"));
    }
    Ok(duration)
}

/// `300` seconds as `5m`, `90` as `1m30s`, `0.5` as `500ms`.
pub fn short(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(
        d.as_millis().min(u128::from(u64::MAX)) as u64,
    ))
    .to_string()
    .replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_humantime() {
        assert_eq!(parse("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse("0").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("soon").is_err());
        assert!(parse("NaN").is_err());
    }

    #[test]
    fn short_form() {
        assert_eq!(short(Duration::from_secs(300)), "5m");
        assert_eq!(short(Duration::from_secs(90)), "1m30s");
        assert_eq!(short(Duration::from_millis(500)), "500ms");
    }
}
