//! The dashboard's live endpoints over real HTTP on loopback: history shape, the event
//! stream (events arrive, a disconnect frees the slot, the cap answers 429), alerts that fire,
//! and the metrics token and rate limit on every new endpoint.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vitals_axum::{Vitals, VitalsBuilder};

const INTERVAL: Duration = Duration::from_millis(100);

fn builder() -> VitalsBuilder {
    Vitals::builder()
        .dashboard(true)
        .sample_interval(INTERVAL)
        .history(Duration::from_secs(1))
}

/// Serves `vitals` (plus `/work`) on a loopback port for the rest of the test.
async fn serve(vitals: &Vitals) -> SocketAddr {
    let app: Router = Router::new()
        .route("/work", get(|| async { "done" }))
        .merge(vitals.routes())
        .layer(vitals.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// One request on its own connection; returns the status line's code and the body.
async fn request(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut raw))
        .await
        .expect("answer within 5 s")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = request(addr, path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// Opens a stream and returns the connection after its response head (status, head text).
async fn open_stream(addr: SocketAddr, token: Option<&str>) -> (TcpStream, u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    s.write_all(format!("GET /api/v1/metrics/stream HTTP/1.1\r\nHost: t\r\n{auth}\r\n").as_bytes())
        .await
        .expect("write");
    let mut head = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        assert!(Instant::now() < deadline, "no response head");
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("head within 5 s")
            .expect("read");
        assert!(n > 0, "closed before the head");
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let status = text[9..12].parse().expect("status");
    (s, status, text)
}

/// Reads from an open stream until `n` sample events arrived; returns their data.
async fn events(s: &mut TcpStream, already: &str, n: usize) -> Vec<Value> {
    let mut text = already.to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Value> = text
            .split("event: sample\ndata: ")
            .skip(1)
            .filter_map(|chunk| chunk.split_once("\n\n").map(|(d, _)| d))
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{n} events not within 10 s: {text}"
        );
        let mut buf = [0u8; 8192];
        let got = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an event within 5 s")
            .expect("read");
        assert!(got > 0, "stream closed");
        text.push_str(&String::from_utf8_lossy(&buf[..got]));
    }
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ok() {
        assert!(Instant::now() < deadline, "{what} not within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn history_is_columnar_bounded_and_in_time_order() {
    let vitals = builder().build().expect("valid");
    let addr = serve(&vitals).await;
    for _ in 0..3 {
        request(addr, "/work", None).await;
    }
    // 1 s of history at 100 ms: ten rows at most, however long we wait.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let doc = json(addr, "/api/v1/metrics/history").await;
    assert_eq!(doc["interval_ms"], 100);
    assert_eq!(doc["capacity"], 10);
    let len = doc["length"].as_u64().expect("length");
    assert!((8..=10).contains(&len), "length {len}");
    let columns = doc["columns"].as_object().expect("columns");
    for (name, values) in columns {
        assert_eq!(
            values.as_array().map(Vec::len),
            Some(len as usize),
            "{name}"
        );
        assert!(doc["units"][name].is_string(), "unit of {name}");
    }
    let t: Vec<f64> = columns["t"]
        .as_array()
        .expect("t")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        t.windows(2).all(|w| w[1] > w[0]),
        "time goes forward: {t:?}"
    );
    let spacing = (t[t.len() - 1] - t[0]) / (t.len() - 1) as f64;
    assert!(
        (80.0..=250.0).contains(&spacing),
        "about one interval apart: {spacing} ms"
    );
    // The three requests to /work (and this endpoint's own) are in the newest row.
    let requests = columns["http_requests_total"].as_array().expect("requests");
    assert!(
        requests.last().and_then(Value::as_f64) >= Some(3.0),
        "{requests:?}"
    );
    // No pool, no cache here: their columns are null, not zero.
    assert!(
        columns["pool_size"]
            .as_array()
            .expect("pool")
            .iter()
            .all(Value::is_null)
    );
    assert_eq!(vitals.history_bytes(), 10 * columns.len() * 8);
}

#[tokio::test]
async fn the_stream_sends_one_event_per_interval_and_a_disconnect_frees_its_slot() {
    let vitals = builder().max_streams(1).build().expect("valid");
    let addr = serve(&vitals).await;
    let (mut s, status, head) = open_stream(addr, None).await;
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    let body = head.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let started = Instant::now();
    let got = events(&mut s, body, 4).await;
    // Four events take about three intervals (the first is sent at once).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let times: Vec<f64> = got.iter().filter_map(|e| e["row"]["t"].as_f64()).collect();
    assert!(times.windows(2).all(|w| w[1] >= w[0]), "{times:?}");
    assert!(
        got[0]["alerts"]["alerts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(vitals.open_streams(), 1);

    // The cap: one more stream is refused while this one is open.
    let (_, refused, text) = open_stream(addr, None).await;
    assert_eq!(refused, 429, "{text}");

    // The client goes away: the slot is freed (within an interval or two) and a new stream opens.
    drop(s);
    wait_for("slot freed", || vitals.open_streams() == 0).await;
    let (_again, status, _) = open_stream(addr, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn slow_requests_fire_within_an_interval() {
    let vitals = builder()
        .slow_threshold(Duration::ZERO)
        .build()
        .expect("valid");
    let addr = serve(&vitals).await;
    let state = |doc: &Value, name: &str| {
        doc["alerts"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} not listed: {doc}"))
    };
    // Before any slow request the rule is ok.
    tokio::time::sleep(INTERVAL * 2).await;
    let before = json(addr, "/api/v1/alerts").await;
    assert_eq!(state(&before, "SlowRequests")["state"], "ok", "{before}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let firing = loop {
        request(addr, "/work", None).await;
        let doc = json(addr, "/api/v1/alerts").await;
        let rule = state(&doc, "SlowRequests");
        if rule["state"] == "firing" {
            break rule;
        }
        assert!(Instant::now() < deadline, "SlowRequests never fired: {doc}");
        tokio::time::sleep(INTERVAL / 2).await;
    };
    assert_eq!(firing["severity"], "info");
    assert!(firing["value"].as_f64() >= Some(1.0), "{firing}");
    assert!(firing["since"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(
        before["alerts"].as_array().map(Vec::len),
        Some(vitals_core::alerts::RULES.len())
    );
}

#[tokio::test]
async fn the_new_endpoints_obey_the_token_and_the_rate_limit() {
    let vitals = builder().metrics_token("s3cret").build().expect("valid");
    let addr = serve(&vitals).await;
    for path in [
        "/api/v1/metrics/history",
        "/api/v1/metrics/stream",
        "/api/v1/alerts",
    ] {
        let (status, body) = request(addr, path, None).await;
        assert_eq!(status, 401, "{path} without a token: {body}");
        assert!(body.contains("\"error\""), "JSON error: {body}");
        assert!(!body.contains("s3cret"));
        let (status, _) = request(addr, path, Some("wrong")).await;
        assert_eq!(status, 401, "{path} with a wrong token");
    }
    assert_eq!(request(addr, "/api/v1/alerts", Some("s3cret")).await.0, 200);
    let (_s, status, _) = open_stream(addr, Some("s3cret")).await;
    assert_eq!(status, 200);
    // The page itself is open (it asks for the token); the data it loads is not.
    let (status, page) = request(addr, "/dashboard", None).await;
    assert_eq!(status, 200);
    assert!(page.contains("sessionStorage"));

    let limited = builder().metrics_rate_limit(2).build().expect("valid");
    let addr = serve(&limited).await;
    // Two permits a second, shared by all metrics endpoints: a stream takes one when it
    // opens, then none however long it runs.
    let (mut s, status, head) = open_stream(addr, None).await;
    assert_eq!(status, 200);
    assert_eq!(request(addr, "/api/v1/metrics/history", None).await.0, 200);
    let (status, body) = request(addr, "/api/v1/alerts", None).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("rate_limited"));
    let body = head.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    events(&mut s, body, 3).await;
}

#[tokio::test]
async fn dashboard_off_mounts_nothing_and_starts_no_sampler() {
    let vitals = Vitals::builder()
        .build()
        .expect("valid: the dashboard is off by default");
    let addr = serve(&vitals).await;
    for path in [
        "/dashboard",
        "/api/v1/metrics/history",
        "/api/v1/metrics/stream",
        "/api/v1/alerts",
    ] {
        assert_eq!(request(addr, path, None).await.0, 404, "{path}");
    }
    assert_eq!(request(addr, "/api/v1/metrics", None).await.0, 200);
    assert_eq!(vitals.history_bytes(), 0);
}

#[tokio::test]
async fn the_page_is_self_contained() {
    let vitals = builder().build().expect("valid");
    let addr = serve(&vitals).await;
    let (status, page) = request(addr, "/dashboard", None).await;
    assert_eq!(status, 200);
    assert!(
        page.starts_with("<!doctype html>"),
        "{}",
        &page[..40.min(page.len())]
    );
    // Nothing is fetched from elsewhere: no absolute URLs, no external scripts or styles.
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(!page.contains("<script src") && !page.contains("rel=\"stylesheet\""));
    // The token travels in a header, never in a URL.
    assert!(page.contains("Authorization: \"Bearer \" + state.token"));
    assert!(!page.contains("?token") && !page.contains("&token"));
}

#[test]
fn bad_dashboard_settings_fail_loudly() {
    let err = |b: VitalsBuilder| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let dashboard = || Vitals::builder().dashboard(true);
    assert!(err(dashboard().sample_interval(Duration::ZERO)).contains("sample interval"));
    assert!(err(dashboard().history(Duration::ZERO)).contains("history"));
}
