//! One thread for all periodic work: collectors that sample, the history ring, exporters.
//!
//! Every task has an interval. When several are due at the same moment they share one
//! [`Tick`]: samplers run first, then the others, and the first of those that asks for the
//! snapshot builds it — the ring, EMF and OTLP of one moment see the same figures. A task is
//! removed when its [`Scheduled`] handle is dropped; the thread stops and is joined when the
//! [`Scheduler`] is dropped. The thread starts with the first task, so an engine with no
//! periodic work has no thread.

use std::cell::OnceCell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime};

use vitals_core::Snapshot;

/// What a task's run sees: when it runs, and the snapshot of that moment.
pub struct Tick<'a> {
    /// Wall-clock time of the tick.
    pub at: SystemTime,
    /// Time since the scheduler started (a monotonic clock for rules with `for` durations).
    pub elapsed: Duration,
    snapshot: &'a OnceCell<Option<Arc<Snapshot>>>,
    source: &'a (dyn Fn() -> Option<Snapshot> + Send + Sync),
}

impl Tick<'_> {
    /// The snapshot of this tick, built by the first task that asks and shared by the others;
    /// `None` once the engine is being dropped.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .get_or_init(|| (self.source)().map(Arc::new))
            .clone()
    }
}

/// Whether a task samples (runs first in its tick) or publishes (reads the snapshot after).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Takes a reading that the tick's snapshot should include (a collector's sample).
    Sample,
    /// Reads the snapshot (the history ring, an exporter).
    Publish,
}

type Run = Box<dyn FnMut(&Tick<'_>) + Send>;

struct Task {
    id: u64,
    phase: Phase,
    every: Duration,
    next: Instant,
    /// `None` while the thread runs it.
    run: Option<Run>,
}

#[derive(Default)]
struct State {
    tasks: Vec<Task>,
    next_id: u64,
    stopping: bool,
    thread: Option<(ThreadId, JoinHandle<()>)>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    started: Instant,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The scheduler of one engine.
pub struct Scheduler {
    shared: Arc<Shared>,
    source: Arc<dyn Fn() -> Option<Snapshot> + Send + Sync>,
    name: String,
}

/// Keeps a task scheduled; dropping it removes the task (a run in progress finishes).
#[must_use = "the task is removed when this handle is dropped"]
pub struct Scheduled {
    shared: Weak<Shared>,
    id: u64,
}

impl std::fmt::Debug for Scheduled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduled").field("id", &self.id).finish()
    }
}

impl Scheduler {
    /// A scheduler whose ticks build their snapshot with `source`; its thread is named
    /// `name` once started.
    pub(crate) fn new(
        name: impl Into<String>,
        source: impl Fn() -> Option<Snapshot> + Send + Sync + 'static,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                started: Instant::now(),
            }),
            source: Arc::new(source),
            name: name.into(),
        }
    }

    /// Runs `run` every `every` (the first time `first_after` from now) until the returned
    /// handle is dropped.
    pub fn every(
        &self,
        phase: Phase,
        every: Duration,
        first_after: Duration,
        run: impl FnMut(&Tick<'_>) + Send + 'static,
    ) -> std::io::Result<Scheduled> {
        let every = every.max(Duration::from_millis(1));
        let mut state = lock(&self.shared);
        state.next_id += 1;
        let id = state.next_id;
        state.tasks.push(Task {
            id,
            phase,
            every,
            next: Instant::now() + first_after,
            run: Some(Box::new(run)),
        });
        if state.thread.is_none() {
            let shared = Arc::clone(&self.shared);
            let source = Arc::clone(&self.source);
            let handle = std::thread::Builder::new()
                .name(self.name.clone())
                .spawn(move || run_loop(&shared, &*source))?;
            state.thread = Some((handle.thread().id(), handle));
        }
        drop(state);
        self.shared.wake.notify_one();
        Ok(Scheduled {
            shared: Arc::downgrade(&self.shared),
            id,
        })
    }

    /// Tasks scheduled now.
    pub fn len(&self) -> usize {
        lock(&self.shared).tasks.len()
    }

    /// Whether no task is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the scheduler's thread is running.
    pub fn running(&self) -> bool {
        lock(&self.shared).thread.is_some()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let thread = {
            let mut state = lock(&self.shared);
            state.stopping = true;
            state.thread.take()
        };
        self.shared.wake.notify_all();
        // The last handle of an engine can be dropped on this very thread (by a task); it
        // then ends by itself once the task returns.
        if let Some((id, handle)) = thread
            && id != std::thread::current().id()
        {
            let _ = handle.join();
        }
    }
}

impl Drop for Scheduled {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            lock(&shared).tasks.retain(|t| t.id != self.id);
        }
    }
}

/// The thread: sleep until the earliest task is due, run every due task, repeat.
fn run_loop(shared: &Shared, source: &(dyn Fn() -> Option<Snapshot> + Send + Sync)) {
    let mut state = lock(shared);
    loop {
        if state.stopping {
            return;
        }
        let now = Instant::now();
        let Some(next) = state.tasks.iter().map(|t| t.next).min() else {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        if next > now {
            state = shared
                .wake
                .wait_timeout(state, next - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        // Take the due tasks out, run them without the lock, put them back.
        let mut due: Vec<(u64, Phase, Run)> = state
            .tasks
            .iter_mut()
            .filter(|t| t.next <= now)
            .filter_map(|t| {
                t.next += t.every;
                if t.next <= now {
                    // Fell behind (a suspended machine, a slow task): go on from now.
                    t.next = now + t.every;
                }
                t.run.take().map(|run| (t.id, t.phase, run))
            })
            .collect();
        drop(state);
        due.sort_by_key(|(_, phase, _)| *phase);
        let snapshot = OnceCell::new();
        let tick = Tick {
            at: SystemTime::now(),
            elapsed: now.duration_since(shared.started),
            snapshot: &snapshot,
            source,
        };
        for (_, _, run) in &mut due {
            run(&tick);
        }
        state = lock(shared);
        for (id, _, run) in due {
            // A task whose handle was dropped meanwhile is gone: its run is dropped here.
            if let Some(task) = state.tasks.iter_mut().find(|t| t.id == id) {
                task.run = Some(run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(
        scheduler: &Scheduler,
        phase: Phase,
        every_ms: u64,
    ) -> (Scheduled, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&runs);
        let handle = scheduler
            .every(
                phase,
                Duration::from_millis(every_ms),
                Duration::ZERO,
                move |_| {
                    seen.fetch_add(1, Ordering::SeqCst);
                },
            )
            .expect("thread starts");
        (handle, runs)
    }

    #[test]
    fn no_task_no_thread_and_dropping_a_handle_stops_its_task() {
        let scheduler = Scheduler::new("test-scheduler", || Some(Snapshot::now()));
        assert!(!scheduler.running());
        let (handle, runs) = counting(&scheduler, Phase::Publish, 10);
        assert!(scheduler.running());
        std::thread::sleep(Duration::from_millis(100));
        drop(handle);
        assert!(scheduler.is_empty());
        let after = runs.load(Ordering::SeqCst);
        assert!(after >= 2, "ran {after} times in 100 ms at 10 ms");
        std::thread::sleep(Duration::from_millis(50));
        // At most one run that had already started when the handle went.
        assert!(runs.load(Ordering::SeqCst) <= after + 1);
    }

    #[test]
    fn tasks_due_together_share_one_snapshot_and_samplers_go_first() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&built);
        let scheduler = Scheduler::new("test-scheduler", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Some(Snapshot::now())
        });
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for (name, phase) in [
            ("publish-a", Phase::Publish),
            ("sample", Phase::Sample),
            ("publish-b", Phase::Publish),
        ] {
            let order = Arc::clone(&order);
            handles.push(
                scheduler
                    .every(
                        phase,
                        Duration::from_secs(3600),
                        Duration::from_millis(50),
                        move |tick| {
                            if phase == Phase::Publish {
                                assert!(tick.snapshot().is_some());
                            }
                            order.lock().expect("lock").push(name);
                        },
                    )
                    .expect("thread starts"),
            );
        }
        std::thread::sleep(Duration::from_millis(300));
        let order = order.lock().expect("lock").clone();
        assert_eq!(order.len(), 3, "{order:?}");
        assert_eq!(order[0], "sample");
        assert_eq!(built.load(Ordering::SeqCst), 1, "one snapshot per tick");
        drop(handles);
    }

    #[test]
    fn dropping_the_scheduler_joins_its_thread() {
        let scheduler = Scheduler::new("test-scheduler", || Some(Snapshot::now()));
        let (handle, runs) = counting(&scheduler, Phase::Sample, 5);
        std::thread::sleep(Duration::from_millis(30));
        drop(scheduler);
        let after = runs.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(runs.load(Ordering::SeqCst), after);
        drop(handle);
    }
}
