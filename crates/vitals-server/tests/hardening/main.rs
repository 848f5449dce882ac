//! The server under hostile clients and failing dependencies: connection bounds, malformed
//! input, secrets, idempotency, readiness (this file), and the second round of defects found
//! by probing the release binary (the modules below). Every test talks to a real server over
//! loopback sockets (in-process `serve` or the real binary), on the embedded SQLite file or a
//! PostgreSQL database of its own.

mod cache_auth;
#[path = "../common/mod.rs"]
mod common;
mod outcomes;
mod overload;
mod protocol;
mod secrets;
mod shutdown;
mod status_table;
mod wire;

use std::time::{Duration, Instant};

use common::{Server, server_command};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vitals_server::{AppState, Settings};
use vitals_testkit::{Gate, OwnDatabase};
use wire::{Running, call, chat, exchange, fast, parse_responses, read_until_close, request};

// ---------------------------------------------------------------------------------------
// Connections

/// Before: a silent socket and a half-sent request line stayed open indefinitely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_are_closed_by_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(fast(&dir)).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(b"GET /hea").await.expect("write");
    // /health stays fast meanwhile.
    let health_started = Instant::now();
    let health = call(server.addr, "GET", "/health", &[], "").await;
    assert_eq!(health.status, 200);
    assert!(health_started.elapsed() < Duration::from_millis(300));
    let (_, closed_silent) = read_until_close(&mut silent, Duration::from_secs(3)).await;
    let (_, closed_half) = read_until_close(&mut half, Duration::from_secs(3)).await;
    let took = started.elapsed();
    assert!(closed_silent && closed_half, "both closed");
    assert!(
        took >= Duration::from_millis(350),
        "not before the timeout: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2000),
        "soon after it: {took:?}"
    );
    server.stop().await;
}

/// Keep-alive: a connection may wait up to the idle timeout (longer than the header-read
/// timeout) between requests, and is closed after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_waits_the_idle_timeout_not_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(fast(&dir)).await;
    let mut s = TcpStream::connect(server.addr).await.expect("connect");
    let get = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    s.write_all(get).await.expect("first");
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(900)).await; // > header timeout, < idle
    s.write_all(get).await.expect("second");
    let n = s.read(&mut buf).await.expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "still open after 900 ms idle"
    );
    let started = Instant::now();
    let (_, closed) = read_until_close(&mut s, Duration::from_secs(4)).await;
    assert!(closed, "closed after the idle timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1300) && took < Duration::from_millis(3000),
        "{took:?}"
    );
    server.stop().await;
}

/// Before: after SIGTERM the process stayed alive as long as a silent client did. Now it
/// exits 0 within the shutdown deadline, the connection closed by force.
#[test]
fn sigterm_exits_zero_within_the_deadline_with_a_silent_connection_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = server_command();
    cmd.args([
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
        "--header-read-timeout-ms",
        "60000",
        "--shutdown-timeout-ms",
        "1000",
        "--agent-latency-ms",
        "8000",
    ]);
    let mut server = Server::start(cmd);
    let _silent = std::net::TcpStream::connect(server.addr).expect("connect");
    let _half = {
        let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
        std::io::Write::write_all(&mut s, b"POST /api/v1/chat HTTP/1.1\r\nHost: x\r\n")
            .expect("write");
        s
    };
    // A chat in flight that would take 8 s: cut at the 1 s deadline.
    let addr = server.addr;
    let in_flight = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        let body = r#"{"user_id":"slow","message":"hi"}"#;
        let req = format!(
            "POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        std::io::Write::write_all(&mut s, req.as_bytes()).expect("write");
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut out);
        out
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = server.terminate(Duration::from_secs(8)).expect("exits");
    let took = started.elapsed();
    assert!(status.success(), "exit 0: {status:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3500),
        "at the 1 s deadline, not before and not much after: {took:?}"
    );
    let answer = in_flight.join().expect("client thread");
    assert!(
        answer.is_empty(),
        "the cut request got no answer: {}",
        String::from_utf8_lossy(&answer)
    );
    // The reader thread may still be collecting the last lines: wait for them, bounded.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.output().join("\n").contains("vitals-server stopped") && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = server.output().join("\n");
    assert!(
        out.contains("forced=") && !out.contains("forced=0"),
        "the in-flight and half-sent connections closed by force: {out}"
    );
    assert!(out.contains("open-file limit"), "limit logged: {out}");
}

// ---------------------------------------------------------------------------------------
// Input and errors

/// Before: a body that did not arrive in time was a 504 after 10 s, a server error and a
/// slow request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_408_json_counted_as_a_client_error_not_slow() {
    let dir = tempfile::tempdir().expect("tmp");
    let settings = Settings {
        slow_request_ms: 100,
        ..fast(&dir)
    };
    let server = Running::start(settings).await;
    let head = "POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"user_id\":";
    let started = Instant::now();
    let (bytes, _) = exchange(server.addr, head.as_bytes(), Duration::from_secs(5)).await;
    let resp = parse_responses(&bytes)
        .into_iter()
        .next()
        .expect("a response");
    assert_eq!(resp.status, 408, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(resp.json()["error"]["code"], "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    let http = server.state.vitals().engine().requests().section();
    assert_eq!(http.server_errors_total, 0, "not our fault");
    assert!(http.client_errors_total >= 1, "a client error");
    assert_eq!(http.slow_requests_total, 0, "not a slow request");
    server.stop().await;
}

async fn nul_is_refused(settings: Settings) {
    let server = Running::start(settings).await;
    for message in ["a\u{0}b", "\u{0}"] {
        let resp = chat(server.addr, "nul-user", message, None).await;
        assert_eq!(resp.status, 422, "{}", String::from_utf8_lossy(&resp.body));
        assert!(
            resp.json()["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("NUL")
        );
    }
    let ok = chat(server.addr, "nul-user", "fine", None).await;
    assert_eq!(ok.status, 200);
    server.stop().await;
}

/// Before: 500 on PostgreSQL (invalid byte sequence 0x00), 200 on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_in_a_message_is_422_on_postgres() {
    let db = OwnDatabase::create();
    let dir = tempfile::tempdir().expect("tmp");
    nul_is_refused(Settings {
        database_url: Some(db.url()),
        ..fast(&dir)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_in_a_message_is_422_on_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    nul_is_refused(fast(&dir)).await;
}

/// Before: "invalid type: sequence, expected struct ChatRequest"; a 10 KB path echoed whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_field_in_user_terms_and_404_echoes_little() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(fast(&dir)).await;
    let json = [("Content-Type", "application/json")];
    for (body, needle) in [
        ("[]", "JSON object"),
        ("\"x\"", "JSON object"),
        (
            "{\"user_id\": 1, \"message\": \"m\"}",
            "user_id must be a string",
        ),
        ("{\"user_id\": \"u\"}", "message is missing"),
        (
            "{\"user_id\": \"u\", \"message\": \"m\", \"x\": 1}",
            "unknown field \"x\"",
        ),
    ] {
        let resp = call(server.addr, "POST", "/api/v1/chat", &json, body).await;
        assert_eq!(resp.status, 422, "{body}");
        let message = resp.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(needle), "{body}: {message}");
        assert!(
            !message.contains("struct") && !message.contains("ChatRequest"),
            "{message}"
        );
    }
    let long = format!("/{}", "a".repeat(10_000));
    let resp = call(server.addr, "GET", &long, &[], "").await;
    assert_eq!(resp.status, 404);
    let message = resp.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.len() < 200, "{} characters echoed", message.len());
    server.stop().await;
}

/// Several hundred malformed requests over raw sockets: no 5xx, and every response the app
/// produced (it carries X-Request-ID) has a JSON body.
async fn corpus(settings: Settings) -> usize {
    let server = Running::start(settings).await;
    let mut cases: Vec<Vec<u8>> = Vec::new();
    let json = [("Content-Type", "application/json")];
    let bodies = [
        "",
        "{",
        "}",
        "null",
        "[]",
        "1",
        "\"s\"",
        "{\"user_id\":null}",
        "{\"user_id\":\"\",\"message\":\"\"}",
        "{\"user_id\":\"u\",\"message\":\"   \"}",
        "{\"user_id\":\"u/../x\",\"message\":\"m\"}",
        "{\"user_id\":\"u\",\"message\":\"a\\u0000b\"}",
        "{\"user_id\":\"u\",\"message\":\"\\ud800\"}",
        "{\"user_id\":\"u\",\"message\":1e999}",
        "{\"user_id\":\"u\",\"message\":[1,2]}",
        "{\"user_id\":\"u\",\"message\":{\"a\":1}}",
        "{\"user_id\":\"u\",\"user_id\":\"v\",\"message\":\"m\"}",
        "\u{feff}{\"user_id\":\"u\",\"message\":\"m\"}",
        "{\"user_id\":\"u\",\"message\":\"\u{202e}\u{2028}\"}",
        "{\"user_id\":\"u\u{0}\",\"message\":\"m\"}",
        "{\"user_id\":\"ü\",\"message\":\"m\"}",
    ];
    let long_message = format!("{{\"user_id\":\"u\",\"message\":\"{}\"}}", "x".repeat(4001));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let huge = "x".repeat(40_000);
    let mut all_bodies: Vec<String> = bodies.iter().map(|b| (*b).to_owned()).collect();
    all_bodies.extend([long_message, deep, huge]);
    for body in &all_bodies {
        cases.push(request("POST", "/api/v1/chat", &json, body));
        cases.push(request(
            "POST",
            "/api/v1/chat",
            &[("Content-Type", "text/plain")],
            body,
        ));
        cases.push(request(
            "POST",
            "/api/v1/chat",
            &[
                ("Content-Type", "application/json; charset=latin1"),
                ("Idempotency-Key", "k-1"),
            ],
            body,
        ));
        cases.push(request("PUT", "/api/v1/chat", &json, body));
    }
    let paths = [
        "/",
        "/api",
        "/api/v1/users//history",
        "/api/v1/users/%00/history",
        "/api/v1/users/%E2%80%AE/history",
        "/api/v1/users/u/history?limit=0",
        "/api/v1/users/u/history?limit=-1",
        "/api/v1/users/u/history?limit=99999999999",
        "/api/v1/users/u/history?limit=abc",
        "/api/v1/users/u/history?x=1",
        "/api/v1/users/u/history?limit=5&limit=6",
        "/api/v1/users/%ff%fe/history",
        "/api/v1/users/..%2f..%2fetc/history",
        "/api/v1/metrics?format=x",
        "/health/ready/extra",
        "/%",
        "/%zz",
        "/api/v1/users/u/history/",
        "//health",
        "/health?%00",
        "/api/v1/metrics/history?x=%",
        "/dashboard/../../etc/passwd",
        "/api/v1/users/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/history",
    ];
    for path in paths {
        for method in ["GET", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"] {
            cases.push(request(method, path, &[], ""));
        }
    }
    let long_path = format!("/{}", "p".repeat(8000));
    cases.push(request("GET", &long_path, &[], ""));
    let header_sets: Vec<Vec<(&str, String)>> = vec![
        vec![("X-Request-ID", "ok-id".into())],
        vec![("X-Request-ID", "bad id with spaces".into())],
        vec![("X-Request-ID", "x".repeat(65))],
        vec![("X-Request-ID", "\u{7f}".into())],
        vec![("X-Request-ID", "a".into()), ("X-Request-ID", "b".into())],
        vec![("Authorization", "Bearer".into())],
        vec![("Authorization", "bearer  x".into())],
        vec![("Idempotency-Key", "".into())],
        vec![("Idempotency-Key", "k".repeat(65))],
        vec![("Idempotency-Key", "a b".into())],
        vec![
            ("Idempotency-Key", "a".into()),
            ("Idempotency-Key", "b".into()),
        ],
        vec![
            ("Content-Type", "application/json".into()),
            ("Content-Encoding", "gzip".into()),
        ],
        vec![("Accept", "text/event-stream".into())],
        vec![("Expect", "100-continue".into())],
        vec![
            ("Content-Type", "application/json".into()),
            ("Transfer-Encoding", "gzip".into()),
        ],
        vec![("X-Forwarded-For", "\u{1b}[31m".into())],
    ];
    for set in &header_sets {
        let headers: Vec<(&str, &str)> = set.iter().map(|(n, v)| (*n, v.as_str())).collect();
        for (method, path) in [
            ("GET", "/health"),
            ("GET", "/api/v1/metrics"),
            ("GET", "/api/v1/users/u/history"),
            ("POST", "/api/v1/chat"),
        ] {
            cases.push(request(
                method,
                path,
                &headers,
                "{\"user_id\":\"u\",\"message\":\"hi\"}",
            ));
        }
    }
    // Raw protocol oddities.
    let raw: Vec<&[u8]> = vec![
        b"\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{\"use\r\n0\r\n\r\n",
        b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc\r\n",
        b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n8000\r\n",
        b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: close\r\n\r\n0\r\n\r\n",
        b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{\"a\"",
        b"GET /health HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: t\r\n: novalue\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: t\r\nX: \x00\r\n\r\n",
        b"GET /he\x00alth HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /health HTTP/1.1\nHost: t\n\n",
        b"GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /api/v1/users/u/history HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ];
    for r in raw {
        cases.push(r.to_vec());
    }
    let big_header = format!(
        "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "h".repeat(200_000)
    );
    cases.push(big_header.into_bytes());
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: t\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>()
    );
    cases.push(many_headers.into_bytes());

    let total = cases.len();
    let mut app_responses = 0;
    for (i, case) in cases.iter().enumerate() {
        let (bytes, _) = exchange(server.addr, case, Duration::from_secs(3)).await;
        for resp in parse_responses(&bytes) {
            assert!(
                resp.status < 500,
                "case {i} got {}: {:?} → {}",
                resp.status,
                String::from_utf8_lossy(&case[..case.len().min(200)]),
                String::from_utf8_lossy(&resp.body)
            );
            if resp.header("x-request-id").is_some() && resp.status != 200 && !resp.body.is_empty()
            {
                let _ = resp.json();
                app_responses += 1;
            } else if resp.header("x-request-id").is_some() && resp.status >= 400 {
                // HEAD answers carry no body by definition.
                assert!(
                    resp.body.is_empty() && case.starts_with(b"HEAD"),
                    "case {i}: empty error body"
                );
            }
        }
    }
    let figures = server.state.vitals().engine().requests().section();
    assert_eq!(figures.server_errors_total, 0, "no 5xx recorded");
    server.stop().await;
    assert!(total >= 300, "{total} cases");
    assert!(app_responses >= 200, "{app_responses} JSON error answers");
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_request_corpus_never_gets_a_5xx_on_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = corpus(fast(&dir)).await;
    eprintln!("sqlite: {n} malformed requests, no 5xx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_request_corpus_never_gets_a_5xx_on_postgres() {
    let db = OwnDatabase::create();
    let dir = tempfile::tempdir().expect("tmp");
    let n = corpus(Settings {
        database_url: Some(db.url()),
        ..fast(&dir)
    })
    .await;
    eprintln!("postgres: {n} malformed requests, no 5xx");
}

// ---------------------------------------------------------------------------------------
// Idempotency

async fn idempotent(settings: Settings) {
    let server = Running::start(settings.clone()).await;
    let first = chat(server.addr, "idem", "hello once", Some("key-1")).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let again = chat(server.addr, "idem", "hello once", Some("key-1")).await;
    assert_eq!(again.status, 200);
    let (a, b) = (first.json(), again.json());
    for field in [
        "user_message_id",
        "reply_message_id",
        "reply",
        "history_len",
    ] {
        assert_eq!(a[field], b[field], "{field}");
    }
    let history = call(
        server.addr,
        "GET",
        "/api/v1/users/idem/history?limit=50",
        &[],
        "",
    )
    .await;
    assert_eq!(
        history.json()["messages"].as_array().map(Vec::len),
        Some(2),
        "stored once"
    );
    let reused = chat(server.addr, "idem", "something else", Some("key-1")).await;
    assert_eq!(reused.status, 422);
    for bad in ["", "has space", &"k".repeat(65)] {
        let resp = chat(server.addr, "idem", "x", Some(bad)).await;
        assert_eq!(resp.status, 422, "{bad:?}");
        assert_eq!(resp.json()["error"]["code"], "invalid_idempotency_key");
    }
    // Concurrent repeats: one exchange stored.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            chat(addr, "idem", "race", Some("key-2")).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        ids.insert(r.json()["user_message_id"].as_i64());
    }
    assert_eq!(ids.len(), 1, "one exchange for one key: {ids:?}");
    server.stop().await;
    // Across a restart (a new process would see the same rows).
    let server = Running::start(settings).await;
    let after = chat(server.addr, "idem", "hello once", Some("key-1")).await;
    assert_eq!(after.json()["user_message_id"], a["user_message_id"]);
    let history = call(
        server.addr,
        "GET",
        "/api/v1/users/idem/history?limit=50",
        &[],
        "",
    )
    .await;
    assert_eq!(history.json()["messages"].as_array().map(Vec::len), Some(4));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_returns_the_first_answer_on_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    idempotent(fast(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_returns_the_first_answer_on_postgres() {
    let db = OwnDatabase::create();
    let dir = tempfile::tempdir().expect("tmp");
    idempotent(Settings {
        database_url: Some(db.url()),
        ..fast(&dir)
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Secrets

/// Before: `--print-config` printed `postgres://u:Pw@…`, `redis://:Pw@…` and `?password=`.
#[test]
fn passwords_are_hidden_in_printed_config_and_start_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    for (db, redis) in [
        (
            "postgres://u:DbPw1@127.0.0.1:1/x",
            "redis://:RdPw1@127.0.0.1:1",
        ),
        (
            "postgres://127.0.0.1:1/x?user=u&password=DbPw1",
            "redis://u:RdPw1@127.0.0.1:1/0",
        ),
        (
            "postgresql://u@127.0.0.1:1/x?sslmode=disable&password=DbPw1",
            "redis://127.0.0.1:1/0?password=RdPw1",
        ),
    ] {
        let out = server_command()
            .args([
                "--data-dir",
                dir.path().to_str().expect("utf-8"),
                "--database-url",
                db,
                "--redis-url",
                redis,
                "--print-config",
            ])
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(!text.contains("DbPw1") && !text.contains("RdPw1"), "{text}");
        assert!(text.contains("***"), "{text}");
        // Starting against an unreachable database: the error names it without the password.
        let out = server_command()
            .args([
                "--data-dir",
                dir.path().to_str().expect("utf-8"),
                "--database-url",
                db,
                "--redis-url",
                redis,
                "--listen",
                "127.0.0.1:0",
                "--acquire-timeout-ms",
                "300",
            ])
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(!text.contains("DbPw1") && !text.contains("RdPw1"), "{text}");
    }
}

#[test]
fn metrics_token_file_is_read_and_bad_tokens_name_their_setting() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret-token\n").expect("write");
    let out = server_command()
        .args([
            "--metrics-token-file",
            file.to_str().expect("utf-8"),
            "--print-config",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("metrics_token = \"<hidden>\"") && !text.contains("s3cret"),
        "{text}"
    );
    std::fs::write(&file, "two words\n").expect("write");
    let out = server_command()
        .args([
            "--metrics-token-file",
            file.to_str().expect("utf-8"),
            "--print-config",
        ])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("--metrics-token-file") && !err.contains("two words"),
        "{err}"
    );
    let out = server_command()
        .args(["--metrics-token", "tab\there", "--print-config"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("--metrics-token") && err.lines().count() == 1,
        "{err}"
    );
}

/// The library's bearer scheme handling and Retry-After, seen through the real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_scheme_is_case_insensitive_and_429_says_when_to_retry() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(Settings {
        metrics_token: Some("tok-123".into()),
        metrics_rate_limit: 2,
        ..fast(&dir)
    })
    .await;
    let none = call(server.addr, "GET", "/api/v1/metrics", &[], "").await;
    assert_eq!(none.status, 401);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR", "bearer", "bearer"] {
        let auth = format!("{scheme} tok-123");
        let r = call(
            server.addr,
            "GET",
            "/api/v1/metrics",
            &[("Authorization", &auth)],
            "",
        )
        .await;
        if r.status == 429 {
            retry_after = r.header("retry-after").map(str::to_owned);
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "rate limit reached: {statuses:?}");
    let secs: u64 = retry_after
        .expect("Retry-After on 429")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&secs));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Readiness and start-up

/// Before: 2 s to say 503 when PostgreSQL refused, and `pool_active` showed every connection
/// sqlx was trying to open as active (9/9 during an outage).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_fast_and_pool_active_honest_when_postgres_refuses() {
    let db = OwnDatabase::create();
    let gate = Gate::start("127.0.0.1:5432".parse().expect("addr")).await;
    let proxied = gate.route(&db.url());
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(Settings {
        database_url: Some(proxied),
        pool_min: 1,
        pool_max: 4,
        acquire_timeout_ms: 3000,
        ..fast(&dir)
    })
    .await;
    let ready = call(server.addr, "GET", "/health/ready", &[], "").await;
    assert_eq!(ready.status, 200);
    gate.refuse();
    // Load while refused: requests wait for connections sqlx keeps trying to open.
    let mut load = Vec::new();
    for i in 0..6 {
        let addr = server.addr;
        load.push(tokio::spawn(async move {
            chat(addr, &format!("cut-{i}"), "hi", None).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let ready = call(server.addr, "GET", "/health/ready", &[], "").await;
    let took = started.elapsed();
    assert_eq!(
        ready.status,
        503,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    assert!(
        took < Duration::from_millis(500),
        "503 within 0.5 s: {took:?}"
    );
    let snapshot = server.state.vitals().snapshot();
    let json = serde_json::to_value(&snapshot.database).expect("json");
    assert_eq!(json["pool_active"], 0, "nothing is checked out: {json}");
    for t in load {
        let r = t.await.expect("task");
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    }
    gate.open().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = chat(server.addr, "cut-after", "back", None).await;
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "recovers after the database is back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = call(server.addr, "GET", "/health/ready", &[], "").await;
    assert_eq!(ready.status, 200);
    server.stop().await;
}

/// A bad Redis URL is refused before the database is touched (here: an unreachable one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_url_is_checked_before_the_database() {
    let dir = tempfile::tempdir().expect("tmp");
    let settings = Settings {
        database_url: Some("postgres://127.0.0.1:1/none".into()),
        redis_url: Some("redis://127.0.0.1:notaport".into()),
        ..fast(&dir)
    };
    let started = Instant::now();
    let err = AppState::from_settings(&settings)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("--redis-url"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}
