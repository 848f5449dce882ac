//! The Health Agent API over the real router: round trips on both backends with exact cache
//! counters, and a table of bad requests that must all be 4xx JSON.

mod common;

use axum::Router;
use axum::body::Body;
use common::{embedded, get, send, state, unique};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use vitals_server::{Settings, app};

fn chat_request(body: &Value) -> Request<Body> {
    Request::post("/api/v1/chat")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

async fn cache(app: &Router) -> (u64, u64, u64, u64) {
    let c = get(app, "/api/v1/metrics").await.json["cache"].clone();
    let n = |k: &str| c[k].as_u64().expect("counter");
    (n("hits"), n("misses"), n("sets"), n("deletes"))
}

async fn round_trip(settings: Settings) {
    let app = app(state(&settings).await);
    let user = unique("ann");

    let first = send(
        &app,
        chat_request(&json!({"user_id": user, "message": "I sleep badly"})),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    assert!(
        first.json["reply"]
            .as_str()
            .is_some_and(|r| r.contains("bedtime"))
    );
    assert_eq!(first.json["history_len"], 2);
    assert_eq!(first.json["conversation_id"], user.as_str());
    // History read for the agent: a miss, filled; the exchange then drops the entry.
    assert_eq!(cache(&app).await, (0, 1, 1, 1));

    let path = format!("/api/v1/users/{user}/history");
    let cold = get(&app, &path).await;
    assert_eq!(cold.status, StatusCode::OK);
    assert_eq!(cache(&app).await, (0, 2, 2, 1), "first history read misses");
    let warm = get(&app, &path).await;
    assert_eq!(cache(&app).await, (1, 2, 2, 1), "second history read hits");
    assert_eq!(
        cold.json, warm.json,
        "the cache serves what the database holds"
    );
    let messages = warm.json["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "I sleep badly");
    assert_eq!(messages[1]["role"], "assistant");

    let second = send(
        &app,
        chat_request(&json!({"user_id": user, "message": "  more water?  "})),
    )
    .await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json["history_len"], 4);
    assert!(second.json["user_message_id"].as_i64() > first.json["reply_message_id"].as_i64());
    assert_eq!(
        cache(&app).await,
        (2, 2, 2, 2),
        "the agent's history read hit the cache"
    );

    let after = get(&app, &format!("{path}?limit=3")).await;
    let messages = after.json["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3, "limit keeps the latest");
    assert_eq!(messages[1]["content"], "more water?", "stored trimmed");
    assert_eq!(
        cache(&app).await,
        (2, 3, 3, 2),
        "the write invalidated the cached history"
    );

    let metrics = get(&app, "/api/v1/metrics").await.json;
    assert!(metrics["database"]["acquires_total"].as_u64() >= Some(5));
    assert_eq!(metrics["http"]["server_errors_total"], 0);
}

#[tokio::test]
async fn chat_round_trip_on_the_embedded_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    round_trip(embedded(&dir)).await;
}

#[tokio::test]
async fn chat_round_trip_on_postgres_and_redis() {
    let dir = tempfile::tempdir().expect("temp dir");
    round_trip(Settings {
        database_url: Some(common::postgres_url()),
        redis_url: Some(common::redis_url()),
        ..embedded(&dir)
    })
    .await;
}

#[tokio::test]
async fn bad_requests_get_4xx_json_and_never_5xx() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(state(&embedded(&dir)).await);
    let raw = |method: &str, uri: &str, content_type: Option<&str>, body: String| {
        let mut r = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r.body(Body::from(body)).expect("request")
    };
    let json_post = |body: &str| {
        raw(
            "POST",
            "/api/v1/chat",
            Some("application/json"),
            body.to_owned(),
        )
    };
    let long_message = "a".repeat(4_001);
    let huge_body = format!(r#"{{"user_id":"u","message":"{}"}}"#, "b".repeat(40_000));
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "no content type",
            raw(
                "POST",
                "/api/v1/chat",
                None,
                r#"{"user_id":"u","message":"hi"}"#.into(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_json",
        ),
        (
            "text content type",
            raw("POST", "/api/v1/chat", Some("text/plain"), "hi".into()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_json",
        ),
        (
            "malformed JSON",
            json_post(r#"{"user_id": "u", "message": "#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "empty body",
            json_post(""),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "array body",
            json_post("[]"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
        ),
        (
            "user_id a number",
            json_post(r#"{"user_id": 7, "message": "hi"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
        ),
        (
            "message null",
            json_post(r#"{"user_id": "u", "message": null}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
        ),
        (
            "missing message",
            json_post(r#"{"user_id": "u"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
        ),
        (
            "missing user_id",
            json_post(r#"{"message": "hi"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
        ),
        (
            "unknown field",
            json_post(r#"{"user_id": "u", "message": "hi", "mood": 3}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
        ),
        (
            "empty message",
            json_post(r#"{"user_id": "u", "message": ""}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
        ),
        (
            "blank message",
            json_post(r#"{"user_id": "u", "message": "  \n\t "}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
        ),
        (
            "message too long",
            json_post(&json!({"user_id": "u", "message": long_message}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
        ),
        (
            "body too large",
            json_post(&huge_body),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "user_id with space",
            json_post(r#"{"user_id": "a b", "message": "hi"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_user_id",
        ),
        (
            "user_id too long",
            json_post(&json!({"user_id": "u".repeat(65), "message": "hi"}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_user_id",
        ),
        (
            "user_id empty",
            json_post(r#"{"user_id": "", "message": "hi"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_user_id",
        ),
        (
            "history limit 0",
            raw(
                "GET",
                "/api/v1/users/u/history?limit=0",
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "history limit 51",
            raw(
                "GET",
                "/api/v1/users/u/history?limit=51",
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "history limit text",
            raw(
                "GET",
                "/api/v1/users/u/history?limit=ten",
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "history limit negative",
            raw(
                "GET",
                "/api/v1/users/u/history?limit=-1",
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "history unknown parameter",
            raw(
                "GET",
                "/api/v1/users/u/history?offset=3",
                None,
                String::new(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "history bad user id",
            raw("GET", "/api/v1/users/a%20b/history", None, String::new()),
            StatusCode::BAD_REQUEST,
            "invalid_user_id",
        ),
        (
            "GET on chat",
            raw("GET", "/api/v1/chat", None, String::new()),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "PUT on chat",
            raw("PUT", "/api/v1/chat", Some("application/json"), "{}".into()),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "unknown route",
            raw(
                "POST",
                "/api/v2/chat",
                Some("application/json"),
                "{}".into(),
            ),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    assert!(cases.len() >= 15);
    for (name, request, status, code) in cases {
        let answer = send(&app, request).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.json);
        assert!(answer.status.is_client_error(), "{name}");
        assert_eq!(
            answer.json["error"]["code"], code,
            "{name}: {}",
            answer.json
        );
        assert!(
            answer.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );
        assert_eq!(
            answer.json["error"]["request_id"].as_str(),
            Some(answer.header("x-request-id")),
            "{name}"
        );
    }
    let metrics = get(&app, "/api/v1/metrics").await.json;
    assert_eq!(metrics["http"]["server_errors_total"], 0, "zero 5xx");
}
