//! The sampler against this machine's real /proc and sysinfo.

use std::time::{Duration, Instant};

use vitals_core::{Collector, Snapshot};
use vitals_system::{MIN_INTERVAL, SystemSampler};

fn collect(sampler: &SystemSampler) -> Snapshot {
    let mut snapshot = Snapshot::now();
    sampler.collect(&mut snapshot);
    snapshot
}

#[test]
fn memory_and_disk_are_read_at_start() {
    let sampler = SystemSampler::new(Duration::from_secs(1)).expect("sampler starts");
    let s = collect(&sampler);
    let sys = s.system.as_ref().expect("system section");
    assert!(sys.memory_total_mb > 0.0);
    assert!(sys.memory_mb > 0.0);
    assert!(sys.memory_percent > 0.0 && sys.memory_percent < 100.0);
    let sum = sys.memory_mb + sys.memory_available_mb;
    assert!(
        (sum - sys.memory_total_mb).abs() <= 0.2,
        "used + available = total: {sum} vs {}",
        sys.memory_total_mb
    );
    assert!(sys.cpu_count >= 1);
    if cfg!(target_os = "linux") {
        assert!(sys.error.is_none(), "{:?}", sys.error);
        assert!(
            sys.disk_read_mb > 0.0,
            "a booted Linux machine has read from disk"
        );
    }
    let p = s.process.expect("process section");
    assert_eq!(p.pid, std::process::id());
    assert!(p.rss_mb > 0.0);
    assert!(p.threads >= 1, "{}", p.threads);
}

#[test]
fn cpu_follows_a_busy_thread() {
    let interval = Duration::from_millis(300);
    let sampler = SystemSampler::new(interval).expect("sampler starts");
    assert_eq!(
        collect(&sampler)
            .system
            .expect("system section")
            .cpu_percent,
        0.0,
        "no window has passed yet"
    );

    // Keep one core busy while the sampler is called as the scheduler calls it: once after
    // the minimum window, then every interval.
    let spin = |d: Duration| {
        let until = Instant::now() + d;
        let mut spins = 0u64;
        while Instant::now() < until {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
    };
    spin(MIN_INTERVAL);
    sampler.sample();
    spin(interval);
    sampler.sample();
    let s = collect(&sampler);
    let sys = s.system.clone().expect("system section");
    let p = s.process.expect("process section");
    assert!(
        p.cpu_percent > 30.0,
        "a spinning thread shows in the process CPU: {}",
        p.cpu_percent
    );
    assert!(
        sys.cpu_percent > 10.0 && sys.cpu_percent <= 100.0,
        "{}",
        sys.cpu_percent
    );
    assert!(sys.sample_age_ms < 1_000, "{}", sys.sample_age_ms);
}

#[test]
fn it_asks_to_be_sampled_soon_then_every_interval() {
    let sampler = SystemSampler::new(Duration::from_secs(5)).expect("sampler starts");
    let schedule = sampler.schedule().expect("it samples");
    assert_eq!(schedule.every, Duration::from_secs(5));
    assert_eq!(schedule.first_after, MIN_INTERVAL);
}

#[cfg(target_os = "linux")]
#[test]
fn snapshot_carries_standard_process_figures_and_the_container() {
    let sampler = SystemSampler::new(Duration::from_secs(1)).expect("sampler starts");
    let s = collect(&sampler);
    let p = s.process.expect("process section");
    assert!(p.open_fds >= 3, "{}", p.open_fds);
    assert!(p.max_fds >= p.open_fds, "{} ≥ {}", p.max_fds, p.open_fds);
    assert!(p.virtual_memory_bytes >= p.rss_bytes && p.rss_bytes > 0);
    assert!(p.virtual_memory_mb > 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!(
        p.start_time_seconds > now - 3600.0 && p.start_time_seconds <= now,
        "a test process started within the hour: {}",
        p.start_time_seconds
    );
    let c = s
        .system
        .expect("system section")
        .container
        .expect("Linux reports the container part");
    let expected = vitals_system::Cgroup::locate(std::path::Path::new("/"), None)
        .expect("locates")
        .version();
    assert_eq!(c.cgroup, expected.as_str());
    let json = serde_json::to_value(&c).expect("serializes");
    for key in ["memory_limit_mb", "cpu_quota_cores", "cgroup"] {
        assert!(json.get(key).is_some(), "{key} present, null or not");
    }
    if c.memory_limit_mb.is_none() {
        assert!(json["memory_limit_mb"].is_null(), "unlimited is null");
        assert!(c.memory_percent_of_limit.is_none());
    }
}
