//! The background sampler.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use vitals_core::math::{bytes_to_mb, round_to};
use vitals_core::{
    Collector, ContainerFigures, ContainerSection, ProcessSection, Schedule, Snapshot,
    SystemFigures, SystemSection,
};

use crate::cgroup::{Cgroup, CgroupReading, CgroupVersion};
use crate::diskstats::{DiskTotals, parse_diskstats};
use crate::procfs::ProcessFigures;

/// The shortest sampling interval: CPU use measured over less time is meaningless.
pub const MIN_INTERVAL: Duration = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;

/// Why a sampler could not start.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// The interval is below [`MIN_INTERVAL`].
    #[error(
        "sampling interval {given:?} is too short: CPU use needs at least {min:?} between readings; use {min:?} or more"
    )]
    IntervalTooShort {
        /// What was asked for.
        given: Duration,
        /// The minimum.
        min: Duration,
    },
    /// `sysinfo` cannot read this platform.
    #[error("system figures are not available on this platform: {0}")]
    Unsupported(String),
}

/// One reading of the machine and this process.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Machine figures.
    pub system: SystemFigures,
    /// CPU of this process in percent of one core.
    pub process_cpu_percent: f64,
    /// Resident memory of this process, bytes.
    pub process_rss_bytes: u64,
    /// Threads of this process.
    pub process_threads: u32,
    /// The standard process figures (`process_*` series), where `/proc` is readable.
    pub process_figures: Option<ProcessFigures>,
    /// The cgroup layout of this process and its limits and usage (Linux only).
    pub cgroup: Option<(CgroupVersion, CgroupReading)>,
    /// CPU the cgroup used over the last window, in percent of its quota (when it has one).
    pub cgroup_cpu_percent_of_quota: Option<f64>,
    /// When the reading was taken (`None` before the first one).
    pub taken_at: Option<Instant>,
    /// What went wrong in the last reading, if anything; other figures keep their last good
    /// values.
    pub error: Option<String>,
}

/// Reads the machine and this process each time its registry's scheduler asks (see
/// [`Collector::schedule`]), and fills the snapshot's `system` and `process` sections from the
/// latest reading.
///
/// It has no thread of its own: registered with Vitals, the engine's scheduler calls
/// [`sample`](Collector::sample) every interval (the first one [`MIN_INTERVAL`] after start,
/// so CPU figures appear soon). Used alone, call `sample` yourself.
pub struct SystemSampler {
    interval: Duration,
    reader: Mutex<Reader>,
    latest: Mutex<Arc<Sample>>,
    started: Instant,
    pid: u32,
}

impl SystemSampler {
    /// A sampler for every `interval` (at least [`MIN_INTERVAL`]). Memory and disk figures
    /// are read before this returns; CPU figures need a second reading.
    pub fn new(interval: Duration) -> Result<Self, SamplerError> {
        if interval < MIN_INTERVAL {
            return Err(SamplerError::IntervalTooShort {
                given: interval,
                min: MIN_INTERVAL,
            });
        }
        let mut reader = Reader::new()?;
        let first = reader.read(None);
        let pid = reader.pid.as_u32();
        Ok(Self {
            interval,
            reader: Mutex::new(reader),
            latest: Mutex::new(Arc::new(first)),
            started: Instant::now(),
            pid,
        })
    }

    /// The latest sample.
    pub fn latest(&self) -> Arc<Sample> {
        Arc::clone(&self.latest.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The interval it was made for.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Collector for SystemSampler {
    fn schedule(&self) -> Option<Schedule> {
        Some(Schedule {
            every: self.interval,
            first_after: MIN_INTERVAL,
        })
    }

    /// Takes a reading now (the CPU figures cover the time since the previous one).
    fn sample(&self) {
        let previous = self.latest();
        let sample = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read(Some(&previous));
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(sample);
    }

    fn collect(&self, snapshot: &mut Snapshot) {
        let sample = self.latest();
        let age_ms = sample.taken_at.map_or(0, |t| {
            u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
        });
        let system = snapshot.system.insert(SystemSection::from_figures(
            &sample.system,
            age_ms,
            sample.error.clone(),
        ));
        system.container = sample.cgroup.map(|(version, reading)| {
            ContainerSection::from_figures(
                version.as_str(),
                &ContainerFigures {
                    memory_limit_bytes: reading.memory_limit_bytes,
                    memory_usage_bytes: reading.memory_working_set_bytes,
                    cpu_quota_cores: reading.cpu_quota_cores,
                    cpu_percent_of_quota: sample.cgroup_cpu_percent_of_quota,
                },
            )
        });
        let standard = sample.process_figures.unwrap_or_default();
        snapshot.process = Some(ProcessSection {
            pid: self.pid,
            cpu_percent: round_to(sample.process_cpu_percent, 2),
            rss_mb: bytes_to_mb(sample.process_rss_bytes),
            threads: sample.process_threads,
            uptime_seconds: self.started.elapsed().as_secs(),
            cpu_seconds_total: round_to(standard.cpu_seconds_total, 2),
            virtual_memory_mb: bytes_to_mb(standard.virtual_memory_bytes),
            open_fds: standard.open_fds,
            max_fds: standard.max_fds.unwrap_or(0),
            start_time_seconds: round_to(standard.start_time_seconds, 2),
            rss_bytes: sample.process_rss_bytes,
            virtual_memory_bytes: standard.virtual_memory_bytes,
        });
    }

    fn slot(&self) -> Option<vitals_core::Slot> {
        Some(vitals_core::Slot::System)
    }
}

/// Owns the `sysinfo` state.
struct Reader {
    system: System,
    pid: Pid,
    cgroup: Option<Cgroup>,
}

impl Reader {
    fn new() -> Result<Self, SamplerError> {
        let mut system = System::new().map_err(|e| SamplerError::Unsupported(e.to_string()))?;
        let pid =
            sysinfo::get_current_pid().map_err(|e| SamplerError::Unsupported(e.to_string()))?;
        // Baselines for the first CPU window.
        system.refresh_cpu_usage();
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing().with_cpu(),
        );
        Ok(Self {
            system,
            pid,
            cgroup: locate_cgroup(),
        })
    }

    fn read(&mut self, previous: Option<&Sample>) -> Sample {
        let mut errors = Vec::new();
        let sys = &mut self.system;
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            false,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        let disk = match read_disk_totals() {
            Ok(d) => d,
            Err(e) => {
                errors.push(format!("disk figures unavailable: {e}"));
                previous.map_or_else(DiskTotals::default, |p| DiskTotals {
                    read_bytes: p.system.disk_read_bytes,
                    written_bytes: p.system.disk_written_bytes,
                })
            }
        };
        let (process_cpu_percent, process_rss_bytes) = match sys.process(self.pid) {
            Some(p) => (f64::from(p.cpu_usage()), p.memory()),
            None => {
                errors.push("this process is missing from the process table".into());
                previous.map_or((0.0, 0), |p| (p.process_cpu_percent, p.process_rss_bytes))
            }
        };
        let process_figures = match read_process_figures() {
            Ok(f) => f,
            Err(e) => {
                errors.push(format!("process figures unavailable: {e}"));
                previous.and_then(|p| p.process_figures)
            }
        };
        let now = Instant::now();
        let cgroup = self.cgroup.as_ref().map(|c| (c.version(), c.read()));
        let cgroup_cpu_percent_of_quota = cgroup.and_then(|(_, now_reading)| {
            let prev = previous?;
            let (_, before) = prev.cgroup?;
            cpu_percent_of_quota(&before, &now_reading, now.duration_since(prev.taken_at?))
        });
        let first_window = previous.is_none();
        let process_rss_bytes =
            process_figures.map_or(process_rss_bytes, |f| f.resident_memory_bytes);
        let process_threads = process_figures
            .map(|f| f.threads)
            .or_else(read_thread_count)
            .unwrap_or(0);
        Sample {
            system: SystemFigures {
                cpu_percent: if first_window {
                    0.0
                } else {
                    f64::from(sys.global_cpu_usage())
                },
                cpu_count: u32::try_from(sys.cpus().len()).unwrap_or(u32::MAX),
                memory_total_bytes: sys.total_memory(),
                memory_used_bytes: sys.used_memory(),
                memory_available_bytes: sys.available_memory(),
                disk_read_bytes: disk.read_bytes,
                disk_written_bytes: disk.written_bytes,
            },
            process_cpu_percent: if first_window {
                0.0
            } else {
                process_cpu_percent
            },
            process_rss_bytes,
            process_threads,
            process_figures,
            cgroup,
            cgroup_cpu_percent_of_quota,
            taken_at: Some(now),
            error: (!errors.is_empty()).then(|| errors.join("; ")),
        }
    }
}

#[cfg(target_os = "linux")]
fn read_disk_totals() -> std::io::Result<DiskTotals> {
    let text = std::fs::read_to_string("/proc/diskstats")?;
    let whole: Vec<String> = std::fs::read_dir("/sys/block")?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    Ok(parse_diskstats(&text, |name| {
        whole.iter().any(|w| w == name)
    }))
}

#[cfg(not(target_os = "linux"))]
fn read_disk_totals() -> std::io::Result<DiskTotals> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "only Linux's /proc/diskstats is read",
    ))
}

/// CPU a cgroup used between two readings `elapsed` apart, in percent of its quota.
fn cpu_percent_of_quota(
    before: &CgroupReading,
    now: &CgroupReading,
    elapsed: Duration,
) -> Option<f64> {
    let cores = now.cpu_quota_cores?;
    let used = now.cpu_usage_usec?.checked_sub(before.cpu_usage_usec?)?;
    let available_usec = cores * elapsed.as_secs_f64() * 1e6;
    (available_usec > 0.0).then(|| used as f64 / available_usec * 100.0)
}

#[cfg(target_os = "linux")]
fn read_process_figures() -> std::io::Result<Option<ProcessFigures>> {
    let proc_root = std::path::Path::new("/proc");
    crate::procfs::read_process(proc_root, &proc_root.join("self")).map(Some)
}

#[cfg(not(target_os = "linux"))]
fn read_process_figures() -> std::io::Result<Option<ProcessFigures>> {
    Ok(None)
}

#[cfg(target_os = "linux")]
fn locate_cgroup() -> Option<Cgroup> {
    Cgroup::locate(std::path::Path::new("/"), None).ok()
}

#[cfg(not(target_os = "linux"))]
fn locate_cgroup() -> Option<Cgroup> {
    None
}

#[cfg(target_os = "linux")]
fn read_thread_count() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(not(target_os = "linux"))]
fn read_thread_count() -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_cpu_is_measured_against_the_quota() {
        let reading = |usec| CgroupReading {
            cpu_quota_cores: Some(0.5),
            cpu_usage_usec: Some(usec),
            ..CgroupReading::default()
        };
        // 250 ms of CPU in 1 s with half a core allowed: 50 % of the quota.
        let p = cpu_percent_of_quota(
            &reading(1_000_000),
            &reading(1_250_000),
            Duration::from_secs(1),
        );
        assert_eq!(p, Some(50.0));
        let unlimited = CgroupReading {
            cpu_usage_usec: Some(2_000_000),
            ..CgroupReading::default()
        };
        assert_eq!(
            cpu_percent_of_quota(&reading(0), &unlimited, Duration::from_secs(1)),
            None
        );
        assert_eq!(
            cpu_percent_of_quota(&reading(5), &reading(4), Duration::from_secs(1)),
            None,
            "a counter reset"
        );
    }

    #[test]
    fn refuses_intervals_below_the_cpu_minimum() {
        let err = SystemSampler::new(Duration::from_millis(50))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("too short"), "{err}");
    }
}
