//! Chaos, server half (issue 13): under concurrent chat and history load, PostgreSQL refused
//! and stalled behind a test-owned gate, slow-header and silent sockets, SIGTERM mid-load.
//! Loopback only; each phase is bounded in time, the whole suite well under 90 s. Prints a
//! table of what was done and what held.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, server_command};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vitals_server::{AppState, ConnectionLimits, Settings};
use vitals_testkit::{Gate, OwnDatabase};

/// Minimal async HTTP/1.1 call with `Connection: close`; (status, body, elapsed).
/// How long until the load sees its first 200 (from now), if within `limit`.
async fn first_ok_within(tally: &Mutex<Tally>, limit: Duration) -> Option<Duration> {
    let back = Instant::now();
    loop {
        if tally.lock().expect("tally").ok > 0 {
            return Some(back.elapsed());
        }
        if back.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Duration) {
    let started = Instant::now();
    let attempt = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
        Some((status, body))
    };
    match tokio::time::timeout(Duration::from_secs(15), attempt).await {
        Ok(Some((status, body))) => (status, body, started.elapsed()),
        _ => (0, String::new(), started.elapsed()),
    }
}

/// Acknowledged chats: (user, user_message_id) for every 200.
type Acked = Arc<Mutex<Vec<(String, i64)>>>;

#[derive(Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    /// 504 `outcome_unknown`: the database went away with the chat's commit in doubt (the
    /// answer says so, and a retry with the same key settles it).
    unknown: usize,
    other: BTreeMap<u16, usize>,
    slowest_503: Duration,
}

/// Chat and history load from `workers` tasks until `stop`; records every acknowledged chat.
fn start_load(
    addr: SocketAddr,
    workers: usize,
    stop: Arc<AtomicBool>,
    acked: Acked,
    tally: Arc<Mutex<Tally>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|w| {
            let (stop, acked, tally) = (Arc::clone(&stop), Arc::clone(&acked), Arc::clone(&tally));
            tokio::spawn(async move {
                let user = format!("chaos-{w}");
                let mut n = 0u32;
                // Bounded: at most 100 000 requests per worker, and `stop` ends it earlier.
                while !stop.load(Ordering::Relaxed) && n < 100_000 {
                    n += 1;
                    let key = format!("w{w}-{n}");
                    let body = serde_json::json!({"user_id": user, "message": format!("m {n}")})
                        .to_string();
                    let (status, text, took) = call(
                        addr,
                        "POST",
                        "/api/v1/chat",
                        &[
                            ("Content-Type", "application/json"),
                            ("Idempotency-Key", &key),
                        ],
                        &body,
                    )
                    .await;
                    {
                        let mut t = tally.lock().expect("tally");
                        match status {
                            200 => t.ok += 1,
                            503 => {
                                t.unavailable += 1;
                                t.slowest_503 = t.slowest_503.max(took);
                            }
                            504 if text.contains("\"outcome_unknown\"") => t.unknown += 1,
                            s => *t.other.entry(s).or_default() += 1,
                        }
                    }
                    if status == 200 {
                        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                        if let Some(id) = v["user_message_id"].as_i64() {
                            acked.lock().expect("acked").push((user.clone(), id));
                        }
                    } else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let _ = call(
                        addr,
                        "GET",
                        &format!("/api/v1/users/{user}/history?limit=5"),
                        &[],
                        "",
                    )
                    .await;
                }
            })
        })
        .collect()
}

struct Row {
    what: String,
    held: String,
    ok: bool,
}

fn print_table(rows: &[Row]) {
    eprintln!("\n| phase | what held | |\n|---|---|---|");
    for r in rows {
        eprintln!(
            "| {} | {} | {} |",
            r.what,
            r.held,
            if r.ok { "ok" } else { "FAILED" }
        );
    }
}

/// All acknowledged chats are stored (counted in the database directly).
async fn all_acknowledged_stored(db_url: &str, acked: &Acked) -> (usize, usize) {
    let pool = sqlx::PgPool::connect(db_url)
        .await
        .expect("direct connection");
    let list = acked.lock().expect("acked").clone();
    let mut missing = 0;
    for (user, id) in &list {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM messages WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user)
                .fetch_optional(&pool)
                .await
                .expect("query");
        if found.is_none() {
            missing += 1;
        }
    }
    pool.close().await;
    (list.len(), missing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_postgres_refused_and_stalled_sockets_and_sigterm() {
    let suite = Instant::now();
    let mut rows = Vec::new();
    let db = OwnDatabase::create();
    let gate = Gate::start("127.0.0.1:5432".parse().expect("addr")).await;
    let proxied = gate.route(&db.url());
    let dir = tempfile::tempdir().expect("tmp");
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(proxied),
        pool_min: 1,
        pool_max: 6,
        acquire_timeout_ms: 1000,
        sample_interval_ms: 200,
        header_read_timeout_ms: 1000,
        ..Settings::default()
    };
    let state = AppState::from_settings(&settings).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(vitals_server::serve(
        listener,
        state.clone(),
        ConnectionLimits::from(&settings),
        async {
            let _ = stop_rx.await;
        },
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let load = start_load(
        addr,
        4,
        Arc::clone(&stop),
        Arc::clone(&acked),
        Arc::clone(&tally),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = tally.lock().expect("tally").ok;
    rows.push(Row {
        what: "baseline: 4 chat+history workers, 2 s".into(),
        held: format!("{before} chats acknowledged"),
        ok: before > 0,
    });

    // Phase 1: PostgreSQL refuses outright.
    *tally.lock().expect("tally") = Tally::default();
    gate.refuse();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (ready, _, took) = call(addr, "GET", "/health/ready", &[], "").await;
    let (health, _, health_took) = call(addr, "GET", "/health", &[], "").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = std::mem::take(&mut *tally.lock().expect("tally"));
    let ok = ready == 503
        && took < Duration::from_millis(500)
        && health == 200
        && t.unavailable > 0
        && t.other.is_empty()
        && t.slowest_503 < Duration::from_millis(2500);
    rows.push(Row {
        what: "PostgreSQL refused for 3 s".into(),
        held: format!(
            "ready {ready} in {took:?}; /health {health} in {health_took:?}; {} × 503 (slowest {:?}), {} × 200, {} × 504 outcome_unknown, other {:?}",
            t.unavailable, t.slowest_503, t.ok, t.unknown, t.other
        ),
        ok,
    });
    gate.open().await;
    let recovered = first_ok_within(&tally, Duration::from_secs(10)).await;
    rows.push(Row {
        what: "PostgreSQL back".into(),
        held: format!("first 200 after {recovered:?}"),
        ok: recovered.is_some(),
    });

    // Phase 2: PostgreSQL stalls (connections accepted, nothing answered).
    *tally.lock().expect("tally") = Tally::default();
    gate.stall();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (ready, _, took) = call(addr, "GET", "/health/ready", &[], "").await;
    let (health, _, health_took) = call(addr, "GET", "/health", &[], "").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = std::mem::take(&mut *tally.lock().expect("tally"));
    let ok = ready == 503
        && took < Duration::from_millis(2500)
        && health == 200
        && health_took < Duration::from_millis(200)
        && t.other.keys().all(|s| *s == 504 || *s == 503);
    rows.push(Row {
        what: "PostgreSQL stalled for 3 s".into(),
        held: format!(
            "ready {ready} in {took:?}; /health {health} in {health_took:?}; {} × 503 (slowest {:?}), {} × 200, other {:?}",
            t.unavailable, t.slowest_503, t.ok, t.other
        ),
        ok,
    });
    gate.open().await;
    let recovered = first_ok_within(&tally, Duration::from_secs(15)).await;
    rows.push(Row {
        what: "PostgreSQL back after the stall".into(),
        held: format!("first 200 after {recovered:?}"),
        ok: recovered.is_some(),
    });

    // Phase 3: slow-header and silent sockets while the load goes on.
    let mut sockets = Vec::new();
    for _ in 0..200 {
        sockets.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let dribblers: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    return false;
                };
                let started = Instant::now();
                // One byte every 100 ms, at most 100 of them: never a whole head.
                for b in b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                    if s.write_all(&[*b]).await.is_err() {
                        return started.elapsed() < Duration::from_secs(3);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                false
            })
        })
        .collect();
    let mut health_worst = Duration::ZERO;
    for _ in 0..10 {
        let (status, _, took) = call(addr, "GET", "/health", &[], "").await;
        assert_eq!(status, 200);
        health_worst = health_worst.max(took);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut closed = 0;
    for s in &mut sockets {
        let mut buf = [0u8; 64];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
            closed += 1;
        }
    }
    let mut dribblers_cut = 0;
    for d in dribblers {
        if d.await.unwrap_or(false) {
            dribblers_cut += 1;
        }
    }
    rows.push(Row {
        what: "200 silent + 20 slow-header sockets".into(),
        held: format!(
            "{closed}/200 silent and {dribblers_cut}/20 slow closed by the 1 s header timeout; /health worst {health_worst:?}"
        ),
        ok: closed == 200 && dribblers_cut == 20 && health_worst < Duration::from_millis(300),
    });

    stop.store(true, Ordering::Relaxed);
    for l in load {
        let _ = tokio::time::timeout(Duration::from_secs(20), l).await;
    }
    let (count, missing) = all_acknowledged_stored(&db.url(), &acked).await;
    rows.push(Row {
        what: "after the load".into(),
        held: format!("{count} acknowledged chats, {missing} missing from the database"),
        ok: missing == 0 && count > 0,
    });
    let _ = stop_tx.send(());
    let report = tokio::time::timeout(Duration::from_secs(15), serving)
        .await
        .expect("serve returns")
        .expect("task");
    rows.push(Row {
        what: "in-process shutdown".into(),
        held: format!("{} drained, {} forced", report.drained, report.forced),
        ok: true,
    });

    // Phase 4: SIGTERM mid-load on the real binary, a silent connection open.
    let mut cmd = server_command();
    cmd.args([
        "--database-url",
        &db.url(),
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
        "--header-read-timeout-ms",
        "60000",
        "--shutdown-timeout-ms",
        "2000",
        "--agent-latency-ms",
        "20",
    ]);
    let mut server = Server::start(cmd);
    let baddr = server.addr;
    let _silent = std::net::TcpStream::connect(baddr).expect("connect");
    let stop = Arc::new(AtomicBool::new(false));
    let acked2: Acked = Arc::default();
    let tally2: Arc<Mutex<Tally>> = Arc::default();
    let load = start_load(
        baddr,
        4,
        Arc::clone(&stop),
        Arc::clone(&acked2),
        Arc::clone(&tally2),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let s = server.terminate(Duration::from_secs(10));
        (s, server)
    })
    .await
    .expect("join");
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for l in load {
        let _ = tokio::time::timeout(Duration::from_secs(20), l).await;
    }
    let exited = status.0;
    let (count, missing) = all_acknowledged_stored(&db.url(), &acked2).await;
    rows.push(Row {
        what: "SIGTERM mid-load (binary, silent socket open, 2 s deadline)".into(),
        held: format!(
            "exit {exited:?} after {took:?}; {count} acknowledged chats, {missing} missing"
        ),
        ok: exited.is_some_and(|s| s.success())
            && took < Duration::from_millis(4500)
            && missing == 0,
    });
    drop(status.1);

    print_table(&rows);
    eprintln!("suite took {:?}", suite.elapsed());
    assert!(suite.elapsed() < Duration::from_secs(90), "bounded");
    assert!(rows.iter().all(|r| r.ok), "a phase failed; see the table");
}
