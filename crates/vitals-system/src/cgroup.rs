//! Container awareness: the cgroup (v1 or v2) a process runs in, its memory limit and CPU
//! quota, and what it uses against them.
//!
//! Everything is read under a root directory (`/` on a live system, a fixture folder in
//! tests) and for a chosen process (`self` or a pid), so the same code reads this machine
//! and a copy of another one's files:
//!
//! ```
//! use std::path::Path;
//! use vitals_system::{Cgroup, CgroupVersion};
//!
//! let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cgroup/v2-limited");
//! let cgroup = Cgroup::locate(&fixture, None)?;
//! assert_eq!(cgroup.version(), CgroupVersion::V2);
//! let limits = cgroup.read();
//! assert_eq!(limits.memory_limit_bytes, Some(512 * 1024 * 1024));
//! assert_eq!(limits.cpu_quota_cores, Some(1.5));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A limit that is not set (`max` in v2; in v1 a quota of -1, or the kernel's "no limit"
//! sentinel of about 2^63 bytes) reads `None`, never a huge number. A process is held to the
//! tightest limit on its way up the hierarchy, so limits are the minimum over the process's
//! cgroup and its ancestors up to the mount point.

use std::path::{Path, PathBuf};

/// Which cgroup layout governs the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Legacy hierarchies, one per controller (`memory`, `cpu`, …); also chosen on hybrid
    /// hosts where those controllers live in v1 beside an empty v2 tree.
    V1,
    /// The unified hierarchy.
    V2,
    /// No cgroup memory or CPU controller found for the process.
    None,
}

impl CgroupVersion {
    /// `v1`, `v2` or `none`, as `system.container.cgroup` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::None => "none",
        }
    }
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupLine {
    /// Hierarchy id (0 for the v2 unified hierarchy).
    pub hierarchy: u32,
    /// Controllers bound to it (`memory`, `cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// The process's cgroup, relative to the hierarchy's root.
    pub path: String,
}

/// Parses `/proc/<pid>/cgroup`; lines that do not parse are skipped.
pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.parse().ok()?;
            let controllers = parts
                .next()?
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            let path = parts.next()?.to_owned();
            Some(CgroupLine {
                hierarchy,
                controllers,
                path,
            })
        })
        .collect()
}

/// A cgroup filesystem mount, from `/proc/<pid>/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted (`/sys/fs/cgroup/memory`).
    pub mount_point: String,
    /// Which cgroup of the hierarchy appears at the mount point (`/` unless a container
    /// runtime bind-mounted a sub-tree).
    pub root: String,
    /// `true` for `cgroup2`, `false` for `cgroup` (v1).
    pub v2: bool,
    /// Super options (`rw,memory`), naming a v1 mount's controllers.
    pub options: Vec<String>,
}

/// Parses the cgroup mounts out of `/proc/<pid>/mountinfo`.
///
/// A line reads `id parent major:minor root mount-point options [optional…] - fstype source
/// super-options`.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let _source = right.next()?;
            let options = right
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::to_owned)
                .collect();
            Some(CgroupMount {
                mount_point: unescape(left.get(4)?),
                root: unescape(left.get(3)?),
                v2,
                options,
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One controller's place on disk: the process's cgroup directory and the mount point above
/// which limits are not looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Place {
    dir: PathBuf,
    mount: PathBuf,
}

impl Place {
    /// `dir` and each ancestor up to and including the mount point.
    fn upwards(&self) -> impl Iterator<Item = &Path> {
        self.dir
            .ancestors()
            .take_while(move |d| d.starts_with(&self.mount))
    }
}

/// Where a process's cgroup files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    version: CgroupVersion,
    memory: Option<Place>,
    cpu: Option<Place>,
    cpuacct: Option<Place>,
}

/// What a cgroup allows and uses right now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CgroupReading {
    /// Memory limit, bytes; `None` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// Working set: memory charged to the cgroup minus its inactive page cache (which the
    /// kernel reclaims before it kills anything), bytes.
    pub memory_working_set_bytes: Option<u64>,
    /// CPU quota in cores (quota / period); `None` when unlimited.
    pub cpu_quota_cores: Option<f64>,
    /// CPU time the cgroup has used, microseconds (cumulative).
    pub cpu_usage_usec: Option<u64>,
}

/// v1 writes "no limit" as the largest page-aligned counter (9223372036854771712 with 4 KiB
/// pages); anything this large is no limit on any real machine.
const V1_UNLIMITED: u64 = 1 << 62;

impl Cgroup {
    /// Finds the cgroup of process `pid` (this process when `None`) under `root` (`/` on a
    /// live system): reads `root/proc/<pid>/cgroup` and `root/proc/<pid>/mountinfo`.
    pub fn locate(root: &Path, pid: Option<u32>) -> std::io::Result<Self> {
        let proc_pid = root
            .join("proc")
            .join(pid.map_or_else(|| "self".to_owned(), |p| p.to_string()));
        let lines = parse_proc_cgroup(&std::fs::read_to_string(proc_pid.join("cgroup"))?);
        let mounts = parse_mountinfo(&std::fs::read_to_string(proc_pid.join("mountinfo"))?);
        Ok(Self::from_parts(root, &lines, &mounts))
    }

    /// Resolves parsed `/proc/<pid>/cgroup` lines against parsed mounts, under `root`.
    pub fn from_parts(root: &Path, lines: &[CgroupLine], mounts: &[CgroupMount]) -> Self {
        let v1 = |controller: &str| -> Option<Place> {
            let line = lines
                .iter()
                .find(|l| l.hierarchy != 0 && l.controllers.iter().any(|c| c == controller))?;
            let mount = mounts
                .iter()
                .find(|m| !m.v2 && m.options.iter().any(|o| o == controller))?;
            Some(place(root, mount, &line.path))
        };
        let memory = v1("memory");
        let cpu = v1("cpu");
        let cpuacct = v1("cpuacct");
        if memory.is_some() || cpu.is_some() {
            return Self {
                version: CgroupVersion::V1,
                memory,
                cpu,
                cpuacct,
            };
        }
        let unified = lines
            .iter()
            .find(|l| l.hierarchy == 0 && l.controllers.is_empty());
        let mount = mounts.iter().find(|m| m.v2);
        if let (Some(line), Some(mount)) = (unified, mount) {
            let p = place(root, mount, &line.path);
            return Self {
                version: CgroupVersion::V2,
                memory: Some(p.clone()),
                cpu: Some(p.clone()),
                cpuacct: Some(p),
            };
        }
        Self {
            version: CgroupVersion::None,
            memory: None,
            cpu: None,
            cpuacct: None,
        }
    }

    /// The layout governing the process.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The directory of the process's memory cgroup, when there is one.
    pub fn memory_dir(&self) -> Option<&Path> {
        self.memory.as_ref().map(|p| p.dir.as_path())
    }

    /// Reads the limits and usage now. Files that are missing or unreadable give `None`.
    pub fn read(&self) -> CgroupReading {
        match self.version {
            CgroupVersion::V1 => self.read_v1(),
            CgroupVersion::V2 => self.read_v2(),
            CgroupVersion::None => CgroupReading::default(),
        }
    }

    fn read_v2(&self) -> CgroupReading {
        let memory_limit_bytes = self.memory.as_ref().and_then(|p| {
            min_limit(p, |d| {
                read_trimmed(&d.join("memory.max")).map(|v| v.parse::<u64>().ok())
            })
        });
        let memory_working_set_bytes = self.memory.as_ref().and_then(|p| {
            let usage: u64 = read_trimmed(&p.dir.join("memory.current"))?.parse().ok()?;
            let inactive = read_stat(&p.dir.join("memory.stat"), "inactive_file").unwrap_or(0);
            Some(usage.saturating_sub(inactive))
        });
        let cpu_quota_cores = self.cpu.as_ref().and_then(|p| {
            min_quota(p, |d| {
                let text = read_trimmed(&d.join("cpu.max"))?;
                let mut parts = text.split_ascii_whitespace();
                let quota = parts.next()?;
                let period: f64 = parts
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(100_000.0);
                Some(quota.parse::<f64>().ok().map(|q| q / period))
            })
        });
        let cpu_usage_usec = self
            .cpuacct
            .as_ref()
            .and_then(|p| read_stat(&p.dir.join("cpu.stat"), "usage_usec"));
        CgroupReading {
            memory_limit_bytes,
            memory_working_set_bytes,
            cpu_quota_cores,
            cpu_usage_usec,
        }
    }

    fn read_v1(&self) -> CgroupReading {
        let memory_limit_bytes = self.memory.as_ref().and_then(|p| {
            min_limit(p, |d| {
                let v: u64 = read_trimmed(&d.join("memory.limit_in_bytes"))?
                    .parse()
                    .ok()?;
                Some((v < V1_UNLIMITED).then_some(v))
            })
        });
        let memory_working_set_bytes = self.memory.as_ref().and_then(|p| {
            let usage: u64 = read_trimmed(&p.dir.join("memory.usage_in_bytes"))?
                .parse()
                .ok()?;
            let inactive =
                read_stat(&p.dir.join("memory.stat"), "total_inactive_file").unwrap_or(0);
            Some(usage.saturating_sub(inactive))
        });
        let cpu_quota_cores = self.cpu.as_ref().and_then(|p| {
            min_quota(p, |d| {
                let quota: i64 = read_trimmed(&d.join("cpu.cfs_quota_us"))?.parse().ok()?;
                let period: f64 = read_trimmed(&d.join("cpu.cfs_period_us"))?.parse().ok()?;
                Some((quota > 0 && period > 0.0).then(|| quota as f64 / period))
            })
        });
        let cpu_usage_usec = self.cpuacct.as_ref().and_then(|p| {
            let ns: u64 = read_trimmed(&p.dir.join("cpuacct.usage"))?.parse().ok()?;
            Some(ns / 1_000)
        });
        CgroupReading {
            memory_limit_bytes,
            memory_working_set_bytes,
            cpu_quota_cores,
            cpu_usage_usec,
        }
    }
}

/// The directory of cgroup `path` in `mount`, under `root`. A mount whose root is a sub-tree
/// (a container's view) strips that prefix; a path outside the mount's root (cgroup
/// namespaces that show the host path) falls back to the mount point itself.
fn place(root: &Path, mount: &CgroupMount, path: &str) -> Place {
    let mount_dir = root.join(mount.mount_point.trim_start_matches('/'));
    let relative = if mount.root == "/" {
        Some(path)
    } else {
        path.strip_prefix(mount.root.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let dir = match relative.map(|r| r.trim_start_matches('/')) {
        Some(r) if !r.is_empty() && mount_dir.join(r).is_dir() => mount_dir.join(r),
        _ => mount_dir.clone(),
    };
    Place {
        dir,
        mount: mount_dir,
    }
}

/// The smallest limit set on the way up; `read` answers `None` for a missing file,
/// `Some(None)` for "no limit here".
fn min_limit(place: &Place, read: impl Fn(&Path) -> Option<Option<u64>>) -> Option<u64> {
    place.upwards().filter_map(|d| read(d).flatten()).min()
}

fn min_quota(place: &Place, read: impl Fn(&Path) -> Option<Option<f64>>) -> Option<f64> {
    place
        .upwards()
        .filter_map(|d| read(d).flatten())
        .min_by(f64::total_cmp)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// A `key value` line of a flat-keyed cgroup file (`memory.stat`, `cpu.stat`).
fn read_stat(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_lines() {
        let lines = parse_proc_cgroup("4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/\nbad\n");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].controllers, ["memory"]);
        assert_eq!(lines[0].path, "/process_api/abc");
        assert_eq!(lines[1].controllers, ["cpu", "cpuacct"]);
        assert!(lines[2].controllers.is_empty());
    }

    #[test]
    fn mountinfo_keeps_cgroup_mounts_only() {
        let text = "\
23 1 0:21 / / rw - ext4 /dev/vda rw
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
41 31 0:38 /kubepods/pod1 /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /mnt/with\\040space rw - cgroup cgroup rw,cpu,cpuacct
";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 3);
        assert!(!mounts[0].v2 && mounts[0].options.contains(&"memory".to_owned()));
        assert_eq!(mounts[1].root, "/kubepods/pod1");
        assert!(mounts[1].v2);
        assert_eq!(mounts[2].mount_point, "/mnt/with space");
    }

    #[test]
    fn no_cgroup_at_all_is_none() {
        let c = Cgroup::from_parts(Path::new("/nonexistent"), &[], &[]);
        assert_eq!(c.version(), CgroupVersion::None);
        assert_eq!(c.read(), CgroupReading::default());
    }
}
