//! The standard process figures (the ones Prometheus client libraries export as `process_*`),
//! read from Linux's `/proc/<pid>`.
//!
//! Parsing is pure (text in, figures out) so it can be tested on fixed inputs; [`read_process`]
//! does the reading.

use std::path::Path;

/// The standard figures of one process.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessFigures {
    /// User plus system CPU time since the process started, in seconds.
    pub cpu_seconds_total: f64,
    /// Resident memory, bytes.
    pub resident_memory_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_memory_bytes: u64,
    /// File descriptors open right now.
    pub open_fds: u64,
    /// Soft limit on open file descriptors; `None` when unlimited or unreadable.
    pub max_fds: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// Operating-system threads.
    pub threads: u32,
}

/// The fields of `/proc/<pid>/stat` the standard figures need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// User-mode CPU time, in clock ticks.
    pub utime_ticks: u64,
    /// Kernel-mode CPU time, in clock ticks.
    pub stime_ticks: u64,
    /// Threads.
    pub num_threads: u32,
    /// Start time after boot, in clock ticks.
    pub starttime_ticks: u64,
    /// Virtual memory size, bytes.
    pub vsize_bytes: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may hold
/// spaces and parentheses itself, so fields are counted from the last `)`.
///
/// ```
/// use vitals_system::parse_proc_stat;
/// let line = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615";
/// let s = parse_proc_stat(line).expect("parses");
/// assert_eq!((s.utime_ticks, s.stime_ticks, s.num_threads), (250, 75, 7));
/// assert_eq!((s.starttime_ticks, s.vsize_bytes), (12345, 104_857_600));
/// ```
pub fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let (_, rest) = text.rsplit_once(')')?;
    // `rest` starts at field 3 (state): field N is at index N − 3.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(ProcStat {
        utime_ticks: field(14)?,
        stime_ticks: field(15)?,
        num_threads: u32::try_from(field(20)?).ok()?,
        starttime_ticks: field(22)?,
        vsize_bytes: field(23)?,
    })
}

/// The soft limit of "Max open files" in `/proc/<pid>/limits`; `None` when it reads
/// `unlimited` or is missing.
///
/// ```
/// use vitals_system::parse_max_open_files;
/// let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
///               Max open files            1024                 524288               files\n";
/// assert_eq!(parse_max_open_files(limits), Some(1024));
/// ```
pub fn parse_max_open_files(text: &str) -> Option<u64> {
    let rest = text
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    rest.split_ascii_whitespace().next()?.parse().ok()
}

/// The boot time (`btime`, seconds since the Unix epoch) in `/proc/stat`.
pub fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A `key:   N kB` line of `/proc/<pid>/status`, in bytes.
fn status_kb(text: &str, key: &str) -> Option<u64> {
    let rest = text.lines().find_map(|l| l.strip_prefix(key))?;
    let kb: u64 = rest
        .trim_start_matches(':')
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb.saturating_mul(1024))
}

/// The kernel's clock tick (`USER_HZ`), the unit of CPU times in `/proc`.
///
/// The kernel hands it to every process in the auxiliary vector (`AT_CLKTCK`), which is where
/// the C library's `sysconf(_SC_CLK_TCK)` reads it too; reading `/proc/self/auxv` needs no
/// unsafe code. Falls back to 100, the value on every architecture Linux runs on today.
pub fn clock_ticks_per_second() -> u64 {
    std::fs::read("/proc/self/auxv")
        .ok()
        .and_then(|auxv| parse_auxv_clock_ticks(&auxv))
        .unwrap_or(100)
}

/// `AT_CLKTCK` out of an auxiliary vector: pairs of native-endian machine words.
fn parse_auxv_clock_ticks(auxv: &[u8]) -> Option<u64> {
    const AT_CLKTCK: u64 = 17;
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |chunk: &[u8]| -> Option<u64> {
        let bytes: [u8; WORD] = chunk.try_into().ok()?;
        u64::try_from(usize::from_ne_bytes(bytes)).ok()
    };
    auxv.chunks_exact(2 * WORD)
        .find_map(|pair| {
            let (key, value) = pair.split_at(WORD);
            (word(key)? == AT_CLKTCK).then(|| word(value)).flatten()
        })
        .filter(|&hz| hz > 0)
}

/// Reads the standard figures of the process whose `/proc` directory is `proc_pid`
/// (`/proc/self`, `/proc/1234`), with `proc_root` the `/proc` holding `stat` (boot time).
pub fn read_process(proc_root: &Path, proc_pid: &Path) -> std::io::Result<ProcessFigures> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let stat = parse_proc_stat(&std::fs::read_to_string(proc_pid.join("stat"))?)
        .ok_or_else(|| invalid("unreadable stat"))?;
    let status = std::fs::read_to_string(proc_pid.join("status"))?;
    let boot = parse_boot_time(&std::fs::read_to_string(proc_root.join("stat"))?)
        .ok_or_else(|| invalid("no btime in /proc/stat"))?;
    let limits = std::fs::read_to_string(proc_pid.join("limits")).unwrap_or_default();
    let open_fds = std::fs::read_dir(proc_pid.join("fd"))?.count() as u64;
    let hz = clock_ticks_per_second() as f64;
    Ok(ProcessFigures {
        cpu_seconds_total: (stat.utime_ticks + stat.stime_ticks) as f64 / hz,
        resident_memory_bytes: status_kb(&status, "VmRSS").unwrap_or(0),
        virtual_memory_bytes: stat.vsize_bytes,
        open_fds,
        max_fds: parse_max_open_files(&limits),
        start_time_seconds: boot as f64 + stat.starttime_ticks as f64 / hz,
        threads: stat.num_threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_a_kernel_thread_style_name() {
        let line = "7 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 12 0 0 20 0 1 0 8 0 0 18446744073709551615 0 0";
        let s = parse_proc_stat(line).expect("parses");
        assert_eq!((s.utime_ticks, s.stime_ticks, s.num_threads), (0, 12, 1));
        assert_eq!(s.vsize_bytes, 0);
    }

    #[test]
    fn truncated_stat_is_none() {
        assert_eq!(parse_proc_stat("1 (init) S 0 1"), None);
        assert_eq!(parse_proc_stat(""), None);
    }

    #[test]
    fn unlimited_open_files_is_none() {
        let limits = "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_max_open_files(limits), None);
        assert_eq!(parse_max_open_files(""), None);
    }

    #[test]
    fn boot_time_and_status_lines() {
        assert_eq!(
            parse_boot_time("cpu 1 2 3\nbtime 1795788576\nprocesses 9\n"),
            Some(1_795_788_576)
        );
        let status = "Name:\tx\nVmSize:\t  10240 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(status_kb(status, "VmRSS"), Some(2048 * 1024));
        assert_eq!(status_kb(status, "VmSize"), Some(10240 * 1024));
    }

    #[test]
    fn auxv_clock_ticks() {
        let mut auxv = Vec::new();
        for (k, v) in [(6usize, 4096usize), (17, 250), (0, 0)] {
            auxv.extend_from_slice(&k.to_ne_bytes());
            auxv.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(parse_auxv_clock_ticks(&auxv), Some(250));
        assert_eq!(parse_auxv_clock_ticks(&auxv[..16]), None);
    }
}
