//! The standard process figures against this test process's own `/proc` entries and the
//! system tools, read independently. One test in its own binary, so no other test's threads
//! or files move the figures while they are compared.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn sh(command: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{command}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn status_field(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| {
            v.trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("field present")
}

/// utime + stime of `/proc/<pid>/stat`, split by hand.
fn own_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name: Vec<&str> = stat[stat.rfind(')').expect("name") + 2..]
        .split(' ')
        .collect();
    after_name[11].parse::<u64>().expect("utime") + after_name[12].parse::<u64>().expect("stime")
}

#[test]
fn standard_process_figures_match_proc_and_the_system_tools() {
    let pid = std::process::id();
    let hz: f64 = sh("getconf CLK_TCK").parse().expect("CLK_TCK");
    // Use CPU until the kernel has counted at least 0.25 s of it (the machine is shared, so
    // wall time is no measure), within 20 s.
    let until = Instant::now() + Duration::from_secs(20);
    let mut spins = 0u64;
    while own_ticks(pid) < (0.25 * hz) as u64 {
        assert!(Instant::now() < until, "could not get 0.25 s of CPU");
        for _ in 0..100_000 {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
    }
    let page: u64 = sh("getconf PAGESIZE").parse().expect("PAGESIZE");
    assert_eq!(
        vitals_system::clock_ticks_per_second() as f64,
        hz,
        "AT_CLKTCK = getconf CLK_TCK"
    );

    let f = vitals_system::read_process(Path::new("/proc"), Path::new("/proc/self"))
        .expect("reads /proc/self");
    eprintln!("{f:?}");

    // CPU: utime + stime of /proc/<pid>/stat, split by hand.
    let cpu = own_ticks(pid) as f64 / hz;
    assert!(
        f.cpu_seconds_total >= 0.25,
        "we spun 0.25 s: {}",
        f.cpu_seconds_total
    );
    assert!(
        (f.cpu_seconds_total - cpu).abs() <= 0.05,
        "{} vs {cpu}",
        f.cpu_seconds_total
    );

    // Memory: resident from status (kB), virtual from statm (pages) — a different file.
    let rss = status_field("VmRSS") * 1024;
    let diff = f.resident_memory_bytes.abs_diff(rss);
    assert!(diff <= 2 << 20, "rss {} vs {rss}", f.resident_memory_bytes);
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let vsize = statm
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u64>().ok())
        .expect("statm size")
        * page;
    let diff = f.virtual_memory_bytes.abs_diff(vsize);
    assert!(
        diff <= 4 << 20,
        "vsize {} vs {vsize}",
        f.virtual_memory_bytes
    );

    // Descriptors: this process's fd directory, and the soft limit as the shell reports it
    // (a child inherits the limit).
    let fds = std::fs::read_dir("/proc/self/fd").expect("fd dir").count() as u64;
    assert!(f.open_fds.abs_diff(fds) <= 1, "{} vs {fds}", f.open_fds);
    assert!(f.open_fds >= 3, "stdin, stdout, stderr at least");
    let soft = sh("ulimit -Sn");
    match soft.as_str() {
        "unlimited" => assert_eq!(f.max_fds, None),
        n => assert_eq!(f.max_fds, Some(n.parse().expect("a number"))),
    }

    // Start time: now − the elapsed seconds ps reports, to within ps's 1 s resolution.
    let etimes: f64 = sh(&format!("ps -o etimes= -p {pid}"))
        .parse()
        .expect("etimes");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let start = now - etimes;
    assert!(
        (f.start_time_seconds - start).abs() <= 2.0,
        "start {} vs {start}",
        f.start_time_seconds
    );

    // Threads: the status line and the task directory.
    let tasks = std::fs::read_dir("/proc/self/task")
        .expect("task dir")
        .count() as u32;
    assert_eq!(u64::from(f.threads), status_field("Threads"));
    assert_eq!(f.threads, tasks);
}
