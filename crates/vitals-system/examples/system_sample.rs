//! The example of this crate's README: a background sampler fills the `system` and
//! `process` sections. `cargo run -p vitals-system --example system_sample`.

use std::time::Duration;

use vitals_core::{Collector, Snapshot};
use vitals_system::{SamplerError, SystemSampler};

fn main() -> Result<(), SamplerError> {
    // One background thread measures every second; reading costs a lock and a clone.
    let sampler = SystemSampler::start(Duration::from_secs(1))?;
    std::thread::sleep(Duration::from_millis(1500)); // CPU needs two readings
    let mut snapshot = Snapshot::now();
    sampler.collect(&mut snapshot);
    let system = &snapshot.system;
    println!(
        "cpu {}%  memory {} MB ({}%)  disk read {} MB",
        system.cpu_percent, system.memory_mb, system.memory_percent, system.disk_read_mb
    );
    Ok(())
}
