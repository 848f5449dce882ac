//! Chaos for the cache, bounded to well under a minute: concurrent chats and history reads
//! on a PostgreSQL database and a Redis of the test's own while Redis is killed, restarted
//! with its data (append-only file), frozen with SIGSTOP and resumed.
//!
//! What must hold, in every phase: every chat is answered 200 (the cache is optional); every
//! chat answered 200 is in its user's very next history read (read-your-writes) and in every
//! read that began after it (no stale read, before or after Redis comes back); all of them are
//! in history at the end; during the hung Redis, after its first second, throughput stays at
//! least half of normal. A table of what was done and what held is printed.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use common::{OwnRedis, embedded, free_port, get, state};
use http::StatusCode;
use vitals_server::{Settings, app};
use vitals_testkit::OwnDatabase;

const WRITERS: usize = 6;
const READERS: usize = 2;
/// Exchanges per user before a writer moves to a new user, so a user's whole history (two
/// messages per exchange) stays within the 50 messages a history read returns.
const EXCHANGES_PER_USER: usize = 20;
const PHASE: Duration = Duration::from_secs(4);

/// Messages acknowledged (answered 200) per user.
type Acked = Arc<Mutex<HashMap<String, Vec<String>>>>;

#[derive(Clone, Copy)]
struct Sample {
    end: Instant,
    took: Duration,
    /// The read missed a message acknowledged before it began.
    stale: bool,
    /// A chat (otherwise a history read).
    chat: bool,
    ok: bool,
}

async fn chat(app: &Router, user: &str, message: &str) -> StatusCode {
    common::chat(app, user, message).await.status
}

/// The user's whole history (at most 50 messages, which a user here never exceeds), or
/// `None` on a non-200 answer.
async fn history(app: &Router, user: &str) -> Option<Vec<String>> {
    let answer = get(app, &format!("/api/v1/users/{user}/history?limit=50")).await;
    (answer.status == StatusCode::OK).then(|| {
        answer.json["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["content"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    })
}

fn acked_of(acked: &Acked, user: &str) -> Vec<String> {
    acked
        .lock()
        .expect("acked")
        .get(user)
        .cloned()
        .unwrap_or_default()
}

/// Reads `user`'s history and checks it holds every message acknowledged before the read.
async fn checked_read(app: &Router, acked: &Acked, user: &str) -> Sample {
    let expected = acked_of(acked, user);
    let began = Instant::now();
    let seen = history(app, user).await;
    let stale = seen
        .as_ref()
        .is_some_and(|seen| expected.iter().any(|m| !seen.contains(m)));
    Sample {
        end: Instant::now(),
        took: began.elapsed(),
        stale,
        chat: false,
        ok: seen.is_some(),
    }
}

async fn writer(app: Router, acked: Acked, stop: Arc<AtomicBool>, id: usize) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut n = 0;
    // Bounded by the stop flag and, as a safety net, in count.
    while !stop.load(Ordering::Relaxed) && n < 100_000 {
        let user = format!("chaos-w{id}-u{}", n / EXCHANGES_PER_USER);
        let user = format!("{user}-{}", std::process::id());
        let message = format!("w{id} message {n}");
        let began = Instant::now();
        let status = chat(&app, &user, &message).await;
        samples.push(Sample {
            end: Instant::now(),
            took: began.elapsed(),
            stale: false,
            chat: true,
            ok: status == StatusCode::OK,
        });
        if status == StatusCode::OK {
            acked
                .lock()
                .expect("acked")
                .entry(user.clone())
                .or_default()
                .push(message);
        }
        // The very next read of the writer's own history.
        samples.push(checked_read(&app, &acked, &user).await);
        n += 1;
    }
    samples
}

async fn reader(app: Router, acked: Acked, stop: Arc<AtomicBool>, id: usize) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut n = id;
    while !stop.load(Ordering::Relaxed) && samples.len() < 100_000 {
        let users: Vec<String> = acked.lock().expect("acked").keys().cloned().collect();
        if users.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        n = n.wrapping_mul(31).wrapping_add(7);
        samples.push(checked_read(&app, &acked, &users[n % users.len()]).await);
    }
    samples
}

struct Phase {
    name: &'static str,
    start: Instant,
    end: Instant,
    circuit: String,
    /// Cache hits counted during the phase.
    hits: u64,
}

struct Row {
    ops_per_s: f64,
    p99: Duration,
    chats_ok: usize,
    failed: usize,
    reads: usize,
    stale: usize,
}

fn row(samples: &[Sample], from: Instant, to: Instant) -> Row {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.end >= from && s.end < to)
        .collect();
    let mut took: Vec<Duration> = inside.iter().map(|s| s.took).collect();
    took.sort();
    Row {
        ops_per_s: inside.len() as f64 / (to - from).as_secs_f64(),
        p99: took
            .get((took.len() * 99 / 100).min(took.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default(),
        chats_ok: inside.iter().filter(|s| s.chat && s.ok).count(),
        failed: inside.iter().filter(|s| !s.ok).count(),
        reads: inside.iter().filter(|s| !s.chat).count(),
        stale: inside.iter().filter(|s| s.stale).count(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_restarted_and_hung_under_load_hides_no_acknowledged_chat() {
    let test_start = Instant::now();
    let database = OwnDatabase::create();
    let port = free_port();
    let data = tempfile::tempdir().expect("redis data dir");
    let mut redis = Some(OwnRedis::start_persistent(port, data.path()));
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(database.url()),
        redis_url: Some(format!("redis://127.0.0.1:{port}")),
        pool_min: 2,
        pool_max: 12,
        ..embedded(&dir)
    };
    let state = state(&settings).await;
    let app = app(state.clone());

    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for id in 0..WRITERS {
        tasks.push(tokio::spawn(writer(
            app.clone(),
            Arc::clone(&acked),
            Arc::clone(&stop),
            id,
        )));
    }
    for id in 0..READERS {
        tasks.push(tokio::spawn(reader(
            app.clone(),
            Arc::clone(&acked),
            Arc::clone(&stop),
            id,
        )));
    }

    let mut phases = Vec::new();
    let mut hits_so_far = 0;
    let mut run = |name: &'static str, start: Instant| {
        let circuit = state.cache().circuit().as_str().to_owned();
        let hits = state.cache().counts().hits;
        phases.push(Phase {
            name,
            start,
            end: Instant::now(),
            circuit,
            hits: hits - hits_so_far,
        });
        hits_so_far = hits;
    };
    let start = Instant::now();
    tokio::time::sleep(PHASE).await;
    run("normal", start);

    let start = Instant::now();
    if let Some(r) = redis.take() {
        r.stop(); // SIGKILL; the append-only file keeps what it held
    }
    tokio::time::sleep(PHASE).await;
    run("killed (SIGKILL)", start);

    let start = Instant::now();
    let restarted = OwnRedis::start_persistent(port, data.path());
    tokio::time::sleep(PHASE).await;
    run("restarted with its data", start);

    let start = Instant::now();
    restarted.pause();
    tokio::time::sleep(PHASE).await;
    run("hung (SIGSTOP)", start);

    let start = Instant::now();
    restarted.resume();
    tokio::time::sleep(PHASE).await;
    run("resumed (SIGCONT)", start);

    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for task in tasks {
        let done = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("workers stop within 10 s")
            .expect("worker");
        samples.extend(done);
    }

    // Every acknowledged chat is in its user's history at the end.
    let acked = acked.lock().expect("acked").clone();
    let mut missing_at_end = 0;
    let mut acked_total = 0;
    for (user, messages) in &acked {
        let seen = history(&app, user).await.expect("final read");
        acked_total += messages.len();
        missing_at_end += messages.iter().filter(|m| !seen.contains(m)).count();
    }

    println!(
        "\n{:<24} {:>7} {:>8} {:>8} {:>6} {:>6} {:>6} {:>9} {:>6}",
        "phase", "ops/s", "p99 ms", "chats ok", "reads", "non200", "stale", "circuit", "hits"
    );
    let mut rows = Vec::new();
    for p in &phases {
        let r = row(&samples, p.start, p.end);
        println!(
            "{:<24} {:>7.0} {:>8.1} {:>8} {:>6} {:>6} {:>6} {:>9} {:>6}",
            p.name,
            r.ops_per_s,
            r.p99.as_secs_f64() * 1000.0,
            r.chats_ok,
            r.reads,
            r.failed,
            r.stale,
            p.circuit,
            p.hits
        );
        rows.push(r);
    }
    let hung = &phases[3];
    let hung_after_1s = row(&samples, hung.start + Duration::from_secs(1), hung.end);
    let floor = rows[0].ops_per_s * 0.5;
    let counts = state.cache().counts();
    println!(
        "hung Redis after its first second: {:.0} ops/s (floor {floor:.0}), p99 {:.1} ms; \
         cache hits {} misses {} errors {} skipped {}",
        hung_after_1s.ops_per_s,
        hung_after_1s.p99.as_secs_f64() * 1000.0,
        counts.hits,
        counts.misses,
        counts.errors,
        state.cache().skipped()
    );
    let stale: usize = rows.iter().map(|r| r.stale).sum();
    let failed: usize = rows.iter().map(|r| r.failed).sum();
    let checks = [
        ("every request answered 200", failed == 0),
        (
            "no read missed an acknowledged chat (read-your-writes, no stale read)",
            stale == 0,
        ),
        (
            "every acknowledged chat in history at the end",
            missing_at_end == 0,
        ),
        (
            "throughput during the hung Redis >= 50 % of normal",
            hung_after_1s.ops_per_s >= floor,
        ),
        (
            "the cache served hits again after the restart and after SIGCONT",
            phases[2].hits > 0 && phases[4].hits > 0,
        ),
        (
            "whole run within 60 s",
            test_start.elapsed() < Duration::from_secs(60),
        ),
    ];
    println!("acknowledged chats: {acked_total}, missing at the end: {missing_at_end}");
    for (what, held) in checks {
        println!("{:<72} {}", what, if held { "held" } else { "FAILED" });
    }
    for (what, held) in checks {
        assert!(held, "{what}");
    }
}
