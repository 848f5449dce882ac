//! HTTP/1.1 at the edges, over raw sockets: half-closed requests, what hyper refuses before
//! the app, duplicate JSON members, declared sizes, transfer codings.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::status_table::documented;
use crate::wire::{Running, call, exchange, fast, parse_responses, read_until_close};

/// Before: a client that shut down its sending side after the request got no answer to
/// `GET /health` 19 times in 20.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_closed_requests_are_answered() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(fast(&dir)).await;
    let body = r#"{"user_id":"half","message":"closed my side"}"#;
    let post = format!(
        "POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut answered = [0; 2];
    for _ in 0..20 {
        for (i, request) in ["GET /health HTTP/1.1\r\nHost: t\r\n\r\n", post.as_str()]
            .iter()
            .enumerate()
        {
            let mut s = TcpStream::connect(server.addr).await.expect("connect");
            s.write_all(request.as_bytes()).await.expect("write");
            s.shutdown().await.expect("shutdown(SHUT_WR)");
            let (bytes, _) = read_until_close(&mut s, Duration::from_secs(3)).await;
            if parse_responses(&bytes)
                .first()
                .is_some_and(|r| r.status == 200)
            {
                answered[i] += 1;
            }
        }
    }
    assert_eq!(
        answered,
        [20, 20],
        "GET and POST answered after a half-close"
    );
    server.stop().await;
}

/// Before: 400, 414 and 431 on `/api/` routes came back with an empty body and no
/// Content-Type (hyper answered them itself, before the app).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_hyper_refuses_is_answered_in_the_json_error_shape() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(fast(&dir)).await;
    let long_path = format!(
        "GET /api/v1/users/{}/history HTTP/1.1\r\nHost: t\r\n\r\n",
        "u".repeat(100_000)
    );
    let many_headers = format!(
        "GET /api/v1/users/u/history HTTP/1.1\r\nHost: t\r\n{}\r\n",
        (0..120)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "Content-Length: abc",
            b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}".to_vec(),
        ),
        (
            "Idempotency-Key: a\\x7f",
            b"POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nIdempotency-Key: a\x7f\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
        ),
        (
            "X-Request-ID: a\\x00b",
            b"GET /api/v1/users/u/history HTTP/1.1\r\nHost: t\r\nX-Request-ID: a\x00b\r\n\r\n".to_vec(),
        ),
        (
            "a space in the path",
            b"GET /api/v1/users/a b/history HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
        ),
        ("a 100 KB path", long_path.into_bytes()),
        ("120 headers", many_headers.into_bytes()),
    ];
    for (what, bytes) in cases {
        let (raw, _) = exchange(server.addr, &bytes, Duration::from_secs(3)).await;
        let responses = parse_responses(&raw);
        let resp = responses
            .first()
            .unwrap_or_else(|| panic!("{what}: no answer: {:?}", String::from_utf8_lossy(&raw)));
        assert!(
            [400, 414, 431].contains(&resp.status),
            "{what}: {}",
            resp.status
        );
        assert_eq!(
            resp.header("content-type"),
            Some("application/json"),
            "{what}: {:?}",
            String::from_utf8_lossy(&raw)
        );
        let json = resp.json();
        let code = json["error"]["code"].as_str().unwrap_or_default();
        documented(resp.status, Some(code));
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {json}"
        );
    }
    server.stop().await;
}

/// Before: `{"user_id":"a","message":"x","user_id":"b"}` was stored as `b`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_member_given_twice_is_refused_and_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(fast(&dir)).await;
    let json = [("Content-Type", "application/json")];
    for (body, named) in [
        (
            r#"{"user_id":"dup-a","message":"x","user_id":"dup-b"}"#,
            "user_id",
        ),
        (
            r#"{"message":"x","user_id":"dup-a","message":"y"}"#,
            "message",
        ),
    ] {
        let resp = call(server.addr, "POST", "/api/v1/chat", &json, body).await;
        assert_eq!(
            resp.status,
            422,
            "{body}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let error = &resp.json()["error"];
        assert_eq!(error["code"], "invalid_json");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("\"{named}\"")), "{message}");
    }
    for user in ["dup-a", "dup-b"] {
        let history = call(
            server.addr,
            "GET",
            &format!("/api/v1/users/{user}/history"),
            &[],
            "",
        )
        .await;
        assert_eq!(
            history.json()["messages"].as_array().map(Vec::len),
            Some(0),
            "nothing stored for {user}"
        );
    }
    server.stop().await;
}

/// Before: a declared `Content-Length: 107374182400` was waited for until the body timeout
/// (408 after 5 s by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_is_413_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(vitals_server::Settings {
        header_read_timeout_ms: 3000,
        ..fast(&dir)
    })
    .await;
    for expect in ["", "Expect: 100-continue\r\n"] {
        let head = format!(
            "POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n{expect}Content-Length: 107374182400\r\n\r\n"
        );
        let started = Instant::now();
        let (raw, _) = exchange(server.addr, head.as_bytes(), Duration::from_secs(5)).await;
        let took = started.elapsed();
        let resp = parse_responses(&raw).into_iter().next().expect("an answer");
        assert_eq!(resp.status, 413, "{}", String::from_utf8_lossy(&raw));
        assert_eq!(resp.json()["error"]["code"], "body_too_large");
        assert!(
            took < Duration::from_secs(1),
            "at once, not after the body timeout: {took:?}"
        );
        assert!(
            !String::from_utf8_lossy(&raw).contains("100 Continue"),
            "no invitation to send a body that would be refused"
        );
    }
    server.stop().await;
}

/// Before: `Transfer-Encoding: gzip, chunked` was accepted and the body read as if it were
/// not compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unimplemented_transfer_coding_is_501() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(fast(&dir)).await;
    let body = r#"{"user_id":"te","message":"coded"}"#;
    let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    for coding in ["gzip, chunked", "x-custom, chunked"] {
        let request = format!(
            "POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: {coding}\r\nConnection: close\r\n\r\n{chunked}"
        );
        let (raw, _) = exchange(server.addr, request.as_bytes(), Duration::from_secs(3)).await;
        let resp = parse_responses(&raw).into_iter().next().expect("an answer");
        assert_eq!(
            resp.status,
            501,
            "{coding}: {}",
            String::from_utf8_lossy(&raw)
        );
        let code = resp.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(code, "unsupported_transfer_coding");
        documented(501, Some(&code));
    }
    // chunked alone is implemented.
    let request = format!(
        "POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunked}"
    );
    let (raw, _) = exchange(server.addr, request.as_bytes(), Duration::from_secs(3)).await;
    let resp = parse_responses(&raw).into_iter().next().expect("an answer");
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&raw));
    server.stop().await;
}
