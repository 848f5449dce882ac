//! The example of this crate's README: a sampler fills the `system` and
//! `process` sections. `cargo run -p vitals-system --example system_sample`.

use std::time::Duration;

use vitals_core::{Collector, Snapshot};
use vitals_system::{SamplerError, SystemSampler};

fn main() -> Result<(), SamplerError> {
    // Registered with Vitals, the engine's scheduler calls sample() every second; here we do.
    let sampler = SystemSampler::new(Duration::from_secs(1))?;
    std::thread::sleep(Duration::from_millis(300)); // CPU needs two readings apart
    sampler.sample();
    let mut snapshot = Snapshot::now();
    sampler.collect(&mut snapshot);
    let system = snapshot
        .system
        .as_ref()
        .expect("the sampler fills the system section");
    println!(
        "cpu {}%  memory {} MB ({}%)  disk read {} MB",
        system.cpu_percent, system.memory_mb, system.memory_percent, system.disk_read_mb
    );
    Ok(())
}
