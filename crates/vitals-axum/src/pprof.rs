//! `GET /debug/pprof/profile`: a CPU profile of the whole process on demand (feature `pprof`).
//!
//! The profiler samples every thread about 99 times a second for `seconds` (1–60, default 10)
//! and answers with a flame graph SVG (`format=svg`, the default) or a pprof protobuf
//! (`format=pb`, for `go tool pprof` or speedscope). One profile runs at a time: the
//! sampling signal is process-wide. The route is protected like the metrics endpoints and is
//! only mounted when the builder was given `.pprof(true)`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::ApiError;
use crate::vitals::Vitals;

/// Samples per second; a prime near 100 so sampling does not beat with periodic work.
pub const FREQUENCY_HZ: i32 = 99;
/// Profile length when the request names none.
pub const DEFAULT_SECONDS: u64 = 10;
/// The longest profile a request may ask for.
pub const MAX_SECONDS: u64 = 60;

/// What a profile is returned as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Svg,
    Pb,
}

/// Whether a profile is being taken (one at a time per process: the profiler's signal is).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Clears [`RUNNING`] when the profile is over, whatever happened to the request.
struct Running;

impl Running {
    fn claim() -> Option<Self> {
        RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Self)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// `seconds` and `format` from a query string; other parameters are ignored.
fn parse(query: Option<&str>) -> Result<(u64, Format), ApiError> {
    let mut seconds = DEFAULT_SECONDS;
    let mut format = Format::Svg;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "seconds" => {
                seconds = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_SECONDS).contains(s))
                    .ok_or_else(|| {
                        bad_request(format!(
                            "parameter seconds must be a whole number from 1 to {MAX_SECONDS} (default {DEFAULT_SECONDS})"
                        ))
                    })?;
            }
            "format" => {
                format = match value {
                    "svg" => Format::Svg,
                    "pb" => Format::Pb,
                    _ => {
                        return Err(bad_request(
                            "parameter format must be svg (flame graph, the default) or pb (pprof protobuf)"
                                .to_owned(),
                        ));
                    }
                };
            }
            _ => {}
        }
    }
    Ok((seconds, format))
}

/// The handler [`Vitals::routes`] mounts when profiling is on.
pub async fn profile(
    State(vitals): State<Vitals>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let _own = crate::request_id::own_request();
    if let Err(e) = vitals.guard(&headers) {
        return e.into_response();
    }
    let (seconds, format) = match parse(query.as_deref()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(running) = Running::claim() else {
        return busy().into_response();
    };
    // Sampling sleeps and symbolising is CPU work: both stay off the async workers. The claim
    // moves along, so an abandoned request still frees the profiler when sampling ends.
    let engine = vitals.engine().clone();
    let task = tokio::task::spawn_blocking(move || {
        let _running = running;
        take(Duration::from_secs(seconds), format, &engine)
    });
    match task.await {
        Ok(Ok(body)) => {
            let content_type = match format {
                Format::Svg => "image/svg+xml",
                Format::Pb => "application/octet-stream",
            };
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                body,
            )
                .into_response()
        }
        Ok(Err(Failure::Busy)) => busy().into_response(),
        Ok(Err(Failure::Profiler(e))) => {
            tracing::error!(error = %e, "CPU profile failed");
            ApiError::internal().into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "CPU profile task failed");
            ApiError::internal().into_response()
        }
    }
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "profile_running",
        "another CPU profile is being taken; try again when it is done",
    )
}

enum Failure {
    /// The profiler is held by someone else in this process (not through this route).
    Busy,
    Profiler(pprof::Error),
}

/// Samples the process for `length` (less when the application starts shutting down: the
/// report then covers the time sampled), then renders the report. Blocks.
fn take(
    length: Duration,
    format: Format,
    engine: &vitals_engine::Engine,
) -> Result<Vec<u8>, Failure> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| match e {
            pprof::Error::Running => Failure::Busy,
            e => Failure::Profiler(e),
        })?;
    let started = std::time::Instant::now();
    if engine.wait_for_shutdown(length) {
        tracing::info!(
            sampled_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "CPU profile cut short by shutdown; answering with what was sampled"
        );
    }
    let report = guard.report().build().map_err(Failure::Profiler)?;
    drop(guard);
    let mut body = Vec::new();
    match format {
        // An idle process gets no samples (they are taken on CPU time), and the flame graph
        // writer then writes nothing: say so in an SVG, so the answer is always an image.
        Format::Svg if report.data.is_empty() => body = idle_svg(length).into_bytes(),
        Format::Svg => report.flamegraph(&mut body).map_err(Failure::Profiler)?,
        Format::Pb => {
            use pprof::protos::Message as _;
            body = report.pprof().map_err(Failure::Profiler)?.encode_to_vec();
        }
    }
    Ok(body)
}

/// The flame graph of a profile without samples.
fn idle_svg(length: Duration) -> String {
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
<svg version=\"1.1\" width=\"1200\" height=\"60\" xmlns=\"http://www.w3.org/2000/svg\">\
<text x=\"600\" y=\"34\" text-anchor=\"middle\" font-family=\"Verdana\" font-size=\"14\">\
No CPU samples in {} s: the process was idle</text></svg>\n",
        length.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        assert_eq!(parse(None).ok().map(|p| p.0), Some(DEFAULT_SECONDS));
        assert_eq!(
            parse(Some("seconds=2&format=pb")).ok(),
            Some((2, Format::Pb))
        );
        for bad in [
            "seconds=0",
            "seconds=61",
            "seconds=abc",
            "seconds=",
            "format=xml",
        ] {
            let e = parse(Some(bad))
                .err()
                .map(|e| e.message)
                .unwrap_or_default();
            let name = bad.split('=').next().unwrap_or_default();
            assert!(e.contains(name), "{bad}: {e}");
        }
    }
}
