//! Machine and process figures for Vitals, measured off the request path.
//!
//! A [`SystemSampler`] reads CPU (via `sysinfo`), memory, disk IO (`/proc/diskstats` on
//! Linux), this process's own CPU, memory, threads and file descriptors (the standard
//! `process_*` figures, from `/proc/self`), and the limits of the cgroup it runs in
//! ([`Cgroup`]) each time it is asked to sample — registered with Vitals, by the engine's
//! scheduler every interval — and keeps the latest reading. Reading that is a lock and an
//! `Arc` clone, so `GET /api/v1/metrics` never waits for a measurement.
//!
//! ```
//! use std::time::Duration;
//! use vitals_core::{Collector, Snapshot};
//! use vitals_system::SystemSampler;
//!
//! let sampler = SystemSampler::new(Duration::from_secs(1))?;
//! sampler.sample(); // what the scheduler does every second
//! let mut snapshot = Snapshot::now();
//! sampler.collect(&mut snapshot);
//! let system = snapshot.system.expect("the sampler fills the system section");
//! println!("cpu {}%", system.cpu_percent);
//! # Ok::<(), vitals_system::SamplerError>(())
//! ```
//!
//! CPU percentages need two readings some time apart; `sysinfo` refuses to measure over less
//! than [`MIN_INTERVAL`], so the sampler refuses shorter intervals too. Until the first
//! window has passed (that minimum, after start) CPU figures read 0.

mod cgroup;
mod diskstats;
mod procfs;
mod sampler;

pub use cgroup::{
    Cgroup, CgroupLine, CgroupMount, CgroupReading, CgroupVersion, parse_mountinfo,
    parse_proc_cgroup,
};
pub use diskstats::{DiskTotals, parse_diskstats};
pub use procfs::{
    ProcStat, ProcessFigures, clock_ticks_per_second, parse_boot_time, parse_max_open_files,
    parse_proc_stat, read_process,
};
pub use sampler::{MIN_INTERVAL, Sample, SamplerError, SystemSampler};
