//! Who may read the figures: a bearer token and a rate limit, checked in that order (so
//! callers without the token cannot spend the permits).

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Why a read of the figures was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// The token is set and the request did not carry it.
    Unauthorized,
    /// The rate limit is spent for now.
    RateLimited,
}

/// The token and the rate limit of one engine.
pub(crate) struct Access {
    token: Option<String>,
    limit: Option<RateLimit>,
}

impl Access {
    /// Checks the token can travel in a header; `Err` says why not.
    pub(crate) fn new(token: Option<String>, per_second: u32) -> Result<Self, &'static str> {
        if let Some(token) = &token {
            if token.is_empty() {
                return Err("it is empty; set a token or none");
            }
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(
                    "it contains whitespace or control characters, which no Authorization header carries intact",
                );
            }
        }
        Ok(Self {
            token,
            limit: (per_second > 0).then(|| RateLimit::new(per_second)),
        })
    }

    /// Whether the token is set.
    pub(crate) fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Checks an `Authorization` header's value (if any), then takes a permit.
    pub(crate) fn check(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        if let Some(expected) = &self.token {
            let given = authorization.and_then(bearer).unwrap_or(b"");
            if !constant_time_eq(given, expected.as_bytes()) {
                return Err(Denied::Unauthorized);
            }
        }
        match &self.limit {
            Some(limit) if !limit.take() => Err(Denied::RateLimited),
            _ => Ok(()),
        }
    }
}

/// The token of a `Bearer` authorization (the scheme matched without regard to case).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, token) = value.split_at(space);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

/// Compares without stopping at the first difference, so response time does not reveal how
/// much of a guessed token was right. (The length is not secret.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token bucket: `per_second` permits a second, bursts up to `per_second`.
struct RateLimit {
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        Self {
            per_second,
            state: Mutex::new((per_second, Instant::now())),
        }
    }

    fn take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        let refill = now.duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.per_second);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let access = Access::new(Some("s3cret".into()), 0).expect("valid token");
        assert_eq!(access.check(Some(b"bearer s3cret")), Ok(()));
        assert_eq!(access.check(Some(b"Bearer  s3cret ")), Ok(()));
        assert_eq!(
            access.check(Some(b"Basic s3cret")),
            Err(Denied::Unauthorized)
        );
        assert_eq!(access.check(None), Err(Denied::Unauthorized));
    }

    #[test]
    fn the_limit_refuses_past_its_burst() {
        let access = Access::new(None, 2).expect("no token");
        assert_eq!(access.check(None), Ok(()));
        assert_eq!(access.check(None), Ok(()));
        assert_eq!(access.check(None), Err(Denied::RateLimited));
    }
}
