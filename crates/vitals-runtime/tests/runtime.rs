//! The collector against real multi-thread runtimes: idle, saturated by blocking tasks, and
//! with every worker stuck; each figure is checked against Tokio's own counters.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Handle, Runtime, RuntimeMetrics};
use vitals_core::{Collector, RuntimeSection, Slot, Snapshot};
use vitals_engine::Engine;
use vitals_runtime::RuntimeCollector;

const INTERVAL: Duration = Duration::from_millis(200);

fn runtime(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime builds")
}

/// A collector of `handle`'s runtime, sampled every `interval` by an engine's scheduler as in
/// an application (keep the engine alive while reading).
fn start(handle: &Handle, interval: Duration) -> (Arc<RuntimeCollector>, Engine) {
    let collector = Arc::new(RuntimeCollector::new(handle, interval).expect("starts"));
    let engine = Engine::builder()
        .collector(Arc::clone(&collector))
        .build()
        .expect("engine builds");
    assert!(engine.scheduler_running(), "the scheduler samples it");
    (collector, engine)
}

fn collect(collector: &RuntimeCollector) -> RuntimeSection {
    let mut snapshot = Snapshot::now();
    collector.collect(&mut snapshot);
    snapshot.runtime.expect("runtime section")
}

/// Tokio's own busy share over `[a, b]`, all workers.
fn tokio_busy_ratio(a: &[Duration], b: &[Duration], elapsed: Duration) -> f64 {
    let busy: Duration = a.iter().zip(b).map(|(a, b)| b.saturating_sub(*a)).sum();
    busy.as_secs_f64() / (elapsed.as_secs_f64() * a.len() as f64)
}

fn busy_totals(m: &RuntimeMetrics) -> Vec<Duration> {
    (0..m.num_workers())
        .map(|w| m.worker_total_busy_duration(w))
        .collect()
}

#[test]
fn an_idle_runtime_is_near_zero() {
    let rt = runtime(2);
    let (collector, _engine) = start(rt.handle(), INTERVAL);
    assert_eq!(collector.slot(), Some(Slot::Section("runtime")));
    std::thread::sleep(INTERVAL * 3);
    let s = collect(&collector);
    let m = rt.handle().metrics();
    assert_eq!(s.workers as usize, m.num_workers());
    assert_eq!(s.workers, 2);
    assert!(s.busy_ratio < 0.05, "idle busy ratio {}", s.busy_ratio);
    assert!(
        s.max_worker_busy_ratio < 0.05,
        "{}",
        s.max_worker_busy_ratio
    );
    assert_eq!(s.global_queue_depth, 0);
    assert_eq!(s.alive_tasks, 0);
    assert!(
        s.interval_ms >= 150 && s.interval_ms < 1_000,
        "{}",
        s.interval_ms
    );
    #[cfg(not(tokio_unstable))]
    assert_eq!(s.mean_poll_us, None, "absent without tokio_unstable");
    #[cfg(tokio_unstable)]
    assert!(s.mean_poll_us.is_some());
}

#[test]
fn a_runtime_saturated_by_blocking_tasks_is_near_one_with_a_queue() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    let m = handle.metrics();
    // Tokio publishes busy time in batches (every 61 polls here, ~20 ms of work): a longer
    // interval keeps that granularity small against the window.
    let interval = Duration::from_millis(500);
    let (collector, _engine) = start(&handle, interval);

    // Keep the global queue topped up with tasks that block their worker for 250 µs each
    // (a blocking call in async code), spawned from outside the runtime as a server's
    // acceptor would, for 2 s.
    let started = Instant::now();
    let busy_at_start = busy_totals(&m);
    let mut spawned = 0u64;
    let mut seen: Option<(RuntimeSection, usize)> = None;
    while started.elapsed() < Duration::from_millis(2_000) {
        if m.global_queue_depth() < 400 {
            for _ in 0..200 {
                handle.spawn(async { std::thread::sleep(Duration::from_micros(250)) });
            }
            spawned += 200;
        }
        if seen.is_none() && started.elapsed() > Duration::from_millis(1_600) {
            // Read the collector and Tokio's own queue depth at the same moment.
            seen = Some((collect(&collector), m.global_queue_depth()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = started.elapsed();
    let truth = tokio_busy_ratio(&busy_at_start, &busy_totals(&m), elapsed);
    let (s, tokio_queue) = seen.expect("read during saturation");
    eprintln!(
        "saturated: {s:?}, tokio queue {tokio_queue}, tokio busy {truth:.3}, {spawned} tasks"
    );

    assert!(
        s.busy_ratio >= 0.9,
        "busy ratio under saturation {}",
        s.busy_ratio
    );
    assert!(
        s.max_worker_busy_ratio >= 0.9,
        "{}",
        s.max_worker_busy_ratio
    );
    assert!(s.global_queue_depth > 0, "the queue grows: {s:?}");
    assert!(tokio_queue > 0, "Tokio sees the queue too");
    assert!(s.alive_tasks >= s.global_queue_depth, "{s:?}");
    // Tokio's own counters agree that the runtime was saturated over the whole run.
    assert!(truth >= 0.85, "Tokio's own busy share {truth}");
    assert!(
        (s.busy_ratio - truth).abs() < 0.15,
        "collector {} vs Tokio {truth}",
        s.busy_ratio
    );

    // Once the queue drains, the runtime goes back to idle.
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.num_alive_tasks() > 0 {
        assert!(Instant::now() < deadline, "tasks drain");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(interval * 3);
    let after = collect(&collector);
    assert!(
        after.busy_ratio < 0.05,
        "back to idle: {}",
        after.busy_ratio
    );
    assert_eq!((after.global_queue_depth, after.alive_tasks), (0, 0));
    assert!(after.park_rate >= 0.0);
}

#[test]
fn workers_stuck_in_a_blocking_call_count_as_busy() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    let m = handle.metrics();
    let (collector, _engine) = start(&handle, INTERVAL);

    // Block both workers inside one poll each, until released.
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let mut releases = Vec::new();
    for _ in 0..2 {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        releases.push(release_tx);
        let started = started_tx.clone();
        handle.spawn(async move {
            let _ = started.send(());
            let _ = release_rx.recv();
        });
    }
    for _ in 0..2 {
        started_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("both workers took a blocking task");
    }
    // Work arrives that nobody can take.
    for _ in 0..50 {
        handle.spawn(async {});
    }
    let busy_blocked = busy_totals(&m);
    std::thread::sleep(INTERVAL * 3);
    let s = collect(&collector);
    eprintln!("stuck: {s:?}");

    // Exact counts, the same as Tokio's.
    assert_eq!(s.global_queue_depth, 50);
    assert_eq!(m.global_queue_depth(), 50);
    assert_eq!(s.alive_tasks, 52);
    assert_eq!(m.num_alive_tasks(), 52);
    // Tokio's busy counters stand still while the workers are stuck...
    assert_eq!(
        busy_totals(&m),
        busy_blocked,
        "a stuck worker reports nothing until its poll returns"
    );
    // ...yet the collector reports them busy, which they are.
    assert_eq!(s.busy_ratio, 1.0);
    assert_eq!(s.max_worker_busy_ratio, 1.0);
    assert_eq!(s.park_rate, 0.0);

    drop(releases);
    let deadline = Instant::now() + Duration::from_secs(5);
    while m.num_alive_tasks() > 0 {
        assert!(Instant::now() < deadline, "tasks drain once released");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Now Tokio reports the time the workers spent stuck.
    let busy_after = busy_totals(&m);
    for (before, after) in busy_blocked.iter().zip(&busy_after) {
        assert!(
            after.saturating_sub(*before) >= INTERVAL * 3,
            "{before:?} → {after:?}"
        );
    }
}

#[test]
fn serializes_without_mean_poll_unless_unstable() {
    let rt = runtime(1);
    let collector = RuntimeCollector::new(rt.handle(), INTERVAL).expect("starts");
    let mut snapshot = Snapshot::now();
    collector.collect(&mut snapshot);
    let json = serde_json::to_value(&snapshot).expect("serializes");
    let runtime = json["runtime"].as_object().expect("runtime section");
    for key in [
        "workers",
        "busy_ratio",
        "max_worker_busy_ratio",
        "global_queue_depth",
        "alive_tasks",
        "park_rate",
    ] {
        assert!(runtime[key].is_number(), "{key}");
    }
    assert_eq!(runtime.contains_key("mean_poll_us"), cfg!(tokio_unstable));
}

#[test]
fn rejects_a_zero_interval_and_asks_for_its_own() {
    let rt = runtime(1);
    let err = RuntimeCollector::new(rt.handle(), Duration::ZERO)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("too short"), "{err}");
    let collector = RuntimeCollector::new(rt.handle(), Duration::from_secs(30)).expect("starts");
    let schedule = collector.schedule().expect("it samples");
    assert_eq!(schedule.every, Duration::from_secs(30));
}
