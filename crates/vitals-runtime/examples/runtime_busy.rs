//! The example of this crate's README: how busy the Tokio runtime is.
//! `cargo run -p vitals-runtime --example runtime_busy`.

use std::time::Duration;

use vitals_core::{Collector, Snapshot};
use vitals_runtime::RuntimeCollector;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?;
    let collector = RuntimeCollector::new(runtime.handle(), Duration::from_millis(100))?;
    // Some work for the workers, then one interval's figures.
    runtime.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_millis(50))))
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    // What an engine's scheduler does every interval: a reading, since the last one.
    collector.sample();
    let mut snapshot = Snapshot::now();
    collector.collect(&mut snapshot);
    if let Some(r) = snapshot.runtime {
        println!(
            "{} workers, busy {:.2}, global queue {}, alive tasks {}",
            r.workers, r.busy_ratio, r.global_queue_depth, r.alive_tasks
        );
    }
    Ok(())
}
