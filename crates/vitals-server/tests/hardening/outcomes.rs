//! What an answer says about the exchange, checked against the database: a commit held in
//! PostgreSQL past the request deadline, a commit whose confirmation is lost on the way, a
//! database that refuses the server's login. Each answer must mean what the table "What each
//! status means" of docs/health-agent.md says it means.

use std::time::{Duration, Instant};

use sqlx::Connection;
use vitals_server::Settings;
use vitals_testkit::{Gate, OwnDatabase, OwnRole};

use crate::common::{Logs, embedded, get, state};
use crate::status_table::{Retry, Stored, documented};
use crate::wire::{Resp, Running, chat, fast};

/// Makes every commit that inserted messages wait for advisory lock 4242 (a deferred
/// constraint trigger runs at COMMIT), so a test holding the lock holds commits.
const HOLD_COMMITS: &str = "CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS \
     $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$; \
     CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON messages \
     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit();";

/// A direct connection (not through any gate) holding advisory lock 4242.
struct CommitLock {
    conn: sqlx::PgConnection,
}

impl CommitLock {
    async fn take(url: &str) -> Self {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query("SELECT pg_advisory_lock(4242)")
            .execute(&mut conn)
            .await
            .expect("lock");
        Self { conn }
    }

    /// Commits of this database in progress (`waiting`: only those waiting for a lock).
    async fn commits(&mut self, waiting: bool) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state = 'active' AND query ILIKE 'commit%' \
             AND (NOT $1 OR wait_event_type = 'Lock')",
        )
        .bind(waiting)
        .fetch_one(&mut self.conn)
        .await
        .expect("pg_stat_activity")
    }

    /// Waits (at most 5 s) until a commit waits for the lock.
    async fn until_a_commit_waits(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.commits(true).await == 0 {
            assert!(
                Instant::now() < deadline,
                "no commit came to wait for the lock"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn release(&mut self) {
        sqlx::query("SELECT pg_advisory_unlock(4242)")
            .execute(&mut self.conn)
            .await
            .expect("unlock");
    }

    /// Waits (at most 5 s) until no commit is in progress, so what is stored is final.
    async fn until_settled(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.commits(false).await > 0 {
            assert!(Instant::now() < deadline, "a commit is still running");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many times `message` of `user` is stored.
    async fn stored(&mut self, user: &str, message: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM messages WHERE user_id = $1 AND role = 'user' AND content = $2",
        )
        .bind(user)
        .bind(message)
        .fetch_one(&mut self.conn)
        .await
        .expect("count")
    }
}

fn code(resp: &Resp) -> Option<String> {
    (resp.status != 200).then(|| {
        resp.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
}

/// The docs' promise for `resp`, held against `stored` (copies in the database).
fn keeps_its_promise(resp: &Resp, stored: i64) {
    let code = code(resp);
    let row = documented(resp.status, code.as_deref());
    match row.stored {
        Stored::Yes => assert_eq!(stored, 1, "{} {code:?} says stored", resp.status),
        Stored::No => assert_eq!(stored, 0, "{} {code:?} says not stored", resp.status),
        Stored::Unknown => assert!(stored <= 1, "stored at most once"),
    }
}

/// Before: the request deadline answered 504 `timeout` ("its work is dropped") while the
/// commit waited in PostgreSQL, and the commit went through once the lock was released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_held_in_postgres_past_the_deadline_is_rolled_back_not_stored_late() {
    let db = OwnDatabase::create();
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(Settings {
        database_url: Some(db.url()),
        request_timeout_ms: 2000,
        ..fast(&dir)
    })
    .await;
    db.execute(HOLD_COMMITS);
    let mut lock = CommitLock::take(&db.url()).await;
    let started = Instant::now();
    let answer = chat(server.addr, "held", "held at commit", None).await;
    let took = started.elapsed();
    lock.release().await;
    lock.until_settled().await;
    let stored = lock.stored("held", "held at commit").await;
    assert_eq!(
        (answer.status, code(&answer).as_deref()),
        (503, Some("database_unavailable")),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        took < Duration::from_secs(2),
        "before the deadline: {took:?}"
    );
    keeps_its_promise(&answer, stored);
    assert_eq!(
        documented(503, Some("database_unavailable")).retry,
        Retry::Safe
    );
    // The database is fine again: the same chat is stored once.
    let again = chat(server.addr, "held", "held at commit", None).await;
    assert_eq!(again.status, 200);
    assert_eq!(lock.stored("held", "held at commit").await, 1);
    server.stop().await;
}

/// Before: 504 `timeout` ("dropped") for a commit that PostgreSQL had made, its confirmation
/// held up on the network. Now 504 `outcome_unknown`, and the retry with the same key
/// answers the stored exchange without storing it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_confirmation_is_lost_is_outcome_unknown_and_the_keyed_retry_answers_it() {
    let db = OwnDatabase::create();
    let gate = Gate::start("127.0.0.1:5432".parse().expect("addr")).await;
    let proxied = gate.route(&db.url());
    let dir = tempfile::tempdir().expect("tmp");
    let server = Running::start(Settings {
        database_url: Some(proxied),
        request_timeout_ms: 2000,
        pool_min: 1,
        pool_max: 3,
        ..fast(&dir)
    })
    .await;
    db.execute(HOLD_COMMITS);
    let mut lock = CommitLock::take(&db.url()).await;
    let addr = server.addr;
    let first = tokio::spawn(async move { chat(addr, "lost", "confirm me", Some("k-lost")).await });
    lock.until_a_commit_waits().await;
    // The commit is inside PostgreSQL; hold the way back, then let it commit.
    gate.hold();
    lock.release().await;
    lock.until_settled().await;
    let first = first.await.expect("task");
    gate.open().await;
    let stored = lock.stored("lost", "confirm me").await;
    assert_eq!(stored, 1, "PostgreSQL committed it");
    assert_eq!(
        (first.status, code(&first).as_deref()),
        (504, Some("outcome_unknown")),
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    keeps_its_promise(&first, stored);
    assert_eq!(
        documented(504, Some("outcome_unknown")).retry,
        Retry::SameKey
    );
    let retry = chat(addr, "lost", "confirm me", Some("k-lost")).await;
    assert_eq!(
        retry.status,
        200,
        "{}",
        String::from_utf8_lossy(&retry.body)
    );
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM messages WHERE user_id = 'lost' AND role = 'user'")
            .fetch_one(&mut lock.conn)
            .await
            .expect("id");
    assert_eq!(retry.json()["user_message_id"], id, "the stored exchange");
    assert_eq!(lock.stored("lost", "confirm me").await, 1, "stored once");
    server.stop().await;
}

/// Before: 500 `internal` and an ERROR line for every chat and history read once the
/// database refused the server's login (readiness already said 28000).
#[tokio::test]
async fn a_refused_login_is_503_database_unavailable_counted_and_never_internal() {
    let role = OwnRole::create();
    let db = OwnDatabase::create();
    role.owns(&db);
    let dir = tempfile::tempdir().expect("tmp");
    let (logs, _guard) = Logs::capture();
    let settings = Settings {
        database_url: Some(db.url_as(&role)),
        acquire_timeout_ms: 1000,
        ..embedded(&dir)
    };
    let app = vitals_server::app(state(&settings).await);
    assert_eq!(
        crate::common::chat(&app, "refused", "before").await.status,
        200
    );
    role.admin("ALTER ROLE {role} NOLOGIN");
    role.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'");
    let errors_before = get(&app, "/api/v1/metrics").await.json["database"]["acquire_errors_total"]
        .as_u64()
        .unwrap_or(0);
    let chat = crate::common::chat(&app, "refused", "during").await;
    let history = get(&app, "/api/v1/users/refused/history").await;
    for answer in [&chat, &history] {
        assert_eq!(answer.status, 503, "{}", answer.json);
        assert_eq!(answer.json["error"]["code"], "database_unavailable");
        let message = answer.json["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.contains(&role.name), "no internals: {message}");
    }
    assert_eq!(
        documented(503, Some("database_unavailable")).stored,
        Stored::No
    );
    let ready = get(&app, "/health/ready").await;
    assert_eq!(ready.status, 503);
    assert!(
        ready.json["reasons"].to_string().contains("28000"),
        "{}",
        ready.json
    );
    let errors_after = get(&app, "/api/v1/metrics").await.json["database"]["acquire_errors_total"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        errors_after >= errors_before + 2,
        "counted: {errors_before} -> {errors_after}"
    );
    let text = logs.text();
    assert!(
        !text.lines().any(|l| l.contains(" ERROR ")),
        "a dependency failure is not our error:\n{text}"
    );
    assert!(
        !logs.lines_with("database unavailable").is_empty(),
        "{text}"
    );
    role.admin("ALTER ROLE {role} LOGIN");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = crate::common::chat(&app, "refused", "after").await;
        if answer.status == 200 {
            assert_eq!(
                answer.json["history_len"], 4,
                "the refused chat stored nothing"
            );
            break;
        }
        assert!(Instant::now() < deadline, "recovers: {}", answer.json);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
