//! `GET /debug/pprof/profile` against the real profiler: a function spinning on arithmetic
//! while the profile runs is found by name in the flame graph SVG and in the pprof
//! protobuf's string table (decoded with the pprof crate's own protos). Also: one profile at
//! a time (409), bad parameters (400), the token (401), off unless enabled (404).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Request, header};
use http_body_util::BodyExt;
use pprof::protos::Message as _;
use tower::ServiceExt;
use vitals_axum::Vitals;

/// The CPU-heavy work the profile must show.
#[inline(never)]
fn vitals_pprof_spin(rounds: u64) -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15_u64);
    for i in 0..rounds {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i) ^ (x >> 29);
    }
    x
}

async fn call(app: &Router, uri: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::empty()).expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, body.to_vec())
}

fn app(vitals: &Vitals) -> Router {
    Router::new().merge(vitals.routes())
}

/// Spins on two threads until the flag drops.
fn spinners(stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    (0..2)
        .map(|_| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    black_box(vitals_pprof_spin(black_box(200_000)));
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_find_the_busy_function_and_the_route_guards_itself() {
    let vitals = Vitals::builder()
        .metrics_token("s3cret")
        .pprof(true)
        .build()
        .expect("vitals");
    let app = app(&vitals);
    let token = Some("s3cret");

    // Cheap refusals first: none of them starts the profiler.
    let (status, body) = call(&app, "/debug/pprof/profile?seconds=1", None).await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    for (query, parameter) in [
        ("seconds=0", "seconds"),
        ("seconds=61", "seconds"),
        ("seconds=abc", "seconds"),
        ("format=xml", "format"),
    ] {
        let (status, body) = call(&app, &format!("/debug/pprof/profile?{query}"), token).await;
        assert_eq!(status, 400, "{query}");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(parameter), "{query}: {message}");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let threads = spinners(&stop);

    // SVG, with a second request while it runs.
    let first = {
        let app = app.clone();
        tokio::spawn(
            async move { call(&app, "/debug/pprof/profile?seconds=2", Some("s3cret")).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = call(&app, "/debug/pprof/profile?seconds=1", token).await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    let (status, svg) = first.await.expect("first profile");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&svg));
    let svg = String::from_utf8(svg).expect("SVG is text");
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "an SVG");
    assert!(
        svg.contains("vitals_pprof_spin"),
        "the spinning function is in the flame graph"
    );

    // pprof protobuf.
    let (status, pb) = call(&app, "/debug/pprof/profile?seconds=2&format=pb", token).await;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("spinner");
    }
    assert_eq!(status, 200);
    let profile = pprof::protos::Profile::decode(pb.as_slice()).expect("a pprof Profile");
    assert!(!profile.sample.is_empty(), "samples were taken");
    assert!(
        profile
            .string_table
            .iter()
            .any(|s| s.contains("vitals_pprof_spin")),
        "the spinning function is in the string table"
    );
    let spin_samples: i64 = profile
        .sample
        .iter()
        .filter(|s| {
            s.location_id.iter().any(|id| {
                profile
                    .location
                    .iter()
                    .filter(|l| l.id == *id)
                    .flat_map(|l| &l.line)
                    .filter_map(|line| profile.function.iter().find(|f| f.id == line.function_id))
                    .any(|f| {
                        usize::try_from(f.name)
                            .ok()
                            .and_then(|i| profile.string_table.get(i))
                            .is_some_and(|n| n.contains("vitals_pprof_spin"))
                    })
            })
        })
        .map(|s| s.value.first().copied().unwrap_or(0))
        .sum();
    // Two spinning threads for 2 s at 99 Hz make about 400 samples; a loaded machine fewer.
    assert!(spin_samples >= 50, "{spin_samples} samples in the spinner");

    // The profiler is free again.
    let (status, _) = call(&app, "/debug/pprof/profile?seconds=1&format=pb", token).await;
    assert_eq!(status, 200);

    // Off unless enabled.
    let off = Vitals::builder().build().expect("vitals");
    let (status, _) = call(&self::app(&off), "/debug/pprof/profile?seconds=1", None).await;
    assert_eq!(status, 404);
}
