//! Cgroup detection against real files of both layouts (see `fixtures/cgroup/README.md`),
//! the live cgroup of this test process, and, where the test may, a cgroup it creates with
//! limits and a child process inside it.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vitals_system::{Cgroup, CgroupReading, CgroupVersion, parse_mountinfo, parse_proc_cgroup};

const MIB: u64 = 1024 * 1024;

fn fixture(name: &str) -> Cgroup {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(name);
    Cgroup::locate(&root, None).expect("fixture readable")
}

#[test]
fn v1_hybrid_host_without_limits() {
    let c = fixture("v1-hybrid-unlimited");
    assert_eq!(c.version(), CgroupVersion::V1);
    let r = c.read();
    assert_eq!(
        r.memory_limit_bytes, None,
        "the kernel's sentinel is no limit"
    );
    assert_eq!(r.cpu_quota_cores, None, "a quota of -1 is no limit");
    assert!(r.memory_working_set_bytes.is_some());
    assert!(r.cpu_usage_usec.is_some_and(|u| u > 0));
}

#[test]
fn v1_with_limits() {
    let c = fixture("v1-limited");
    assert_eq!(c.version(), CgroupVersion::V1);
    assert!(
        c.memory_dir()
            .is_some_and(|d| d.ends_with("memory/vitals-fixture"))
    );
    let r = c.read();
    assert_eq!(r.memory_limit_bytes, Some(256 * MIB));
    assert_eq!(r.cpu_quota_cores, Some(0.5));
    assert_eq!(r.memory_working_set_bytes, Some(0));
}

#[test]
fn v2_container_with_limits() {
    let c = fixture("v2-limited");
    assert_eq!(c.version(), CgroupVersion::V2);
    let r = c.read();
    assert_eq!(
        r,
        CgroupReading {
            memory_limit_bytes: Some(512 * MIB),
            // memory.current minus inactive_file: 128 MiB − 32 MiB.
            memory_working_set_bytes: Some(96 * MIB),
            cpu_quota_cores: Some(1.5),
            cpu_usage_usec: Some(123_456_789),
        }
    );
}

#[test]
fn v2_host_without_limits() {
    let c = fixture("v2-host-unlimited");
    assert_eq!(c.version(), CgroupVersion::V2);
    assert!(
        c.memory_dir()
            .is_some_and(|d| d.ends_with("session-3.scope"))
    );
    let r = c.read();
    assert_eq!(r.memory_limit_bytes, None, "`max` is no limit");
    assert_eq!(r.cpu_quota_cores, None, "`max 100000` is no limit");
    assert_eq!(
        r.memory_working_set_bytes,
        Some(46 * MIB),
        "50 MiB charged − 4 MiB inactive file"
    );
    assert_eq!(r.cpu_usage_usec, Some(9_876_543));
}

#[test]
fn v2_limit_on_a_parent_applies() {
    let r = fixture("v2-parent-limit").read();
    assert_eq!(r.memory_limit_bytes, Some(1024 * MIB));
    assert_eq!(r.cpu_quota_cores, Some(2.0));
}

#[test]
fn no_cgroup_filesystem_is_none() {
    let c = fixture("none");
    assert_eq!(c.version(), CgroupVersion::None);
    assert_eq!(c.read(), CgroupReading::default());
}

/// What this machine says about the test process, worked out here by hand: the layout from
/// `/proc/self/cgroup` and the mounts, the memory limit from the file itself.
#[test]
fn live_cgroup_of_this_process() {
    let text = std::fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    eprintln!("/proc/self/cgroup:\n{text}");
    let c = Cgroup::locate(Path::new("/"), None).expect("locates");
    let r = c.read();
    eprintln!("detected {:?}: {r:?}", c.version());

    let v1_memory = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.to_owned())
    });
    let v1_mount = mounts
        .lines()
        .filter(|l| l.contains(" - cgroup "))
        .find(|l| {
            l.rsplit(' ')
                .next()
                .is_some_and(|options| options.split(',').any(|o| o == "memory"))
        })
        .and_then(|l| l.split(' ').nth(4).map(str::to_owned));
    match (v1_memory, v1_mount) {
        (Some(path), Some(mount)) => {
            assert_eq!(c.version(), CgroupVersion::V1);
            let dir = PathBuf::from(mount).join(path.trim_start_matches('/'));
            if dir.is_dir() {
                assert_eq!(c.memory_dir(), Some(dir.as_path()));
                let raw: u64 = std::fs::read_to_string(dir.join("memory.limit_in_bytes"))
                    .expect("limit file")
                    .trim()
                    .parse()
                    .expect("a number");
                if raw >= 1 << 62 {
                    // No limit here; a parent's limit could still apply.
                    assert!(r.memory_limit_bytes.is_none_or(|l| l < raw));
                } else {
                    assert!(r.memory_limit_bytes.is_some_and(|l| l <= raw));
                }
            }
        }
        _ if text.lines().any(|l| l.starts_with("0::")) && mounts.contains(" - cgroup2 ") => {
            assert_eq!(c.version(), CgroupVersion::V2);
        }
        _ => assert_eq!(c.version(), CgroupVersion::None),
    }
}

/// A cgroup this test creates, limits, runs `sleep` in, reads through `/proc/<pid>` and
/// removes. Needs root and a writable cgroup hierarchy; says so and skips otherwise.
#[test]
fn limits_of_a_cgroup_the_test_creates() {
    let Some(made) = MadeCgroup::create() else {
        return;
    };
    let c = Cgroup::locate(Path::new("/"), Some(made.child.id())).expect("locates the child");
    let r = c.read();
    eprintln!("child in {:?}: {:?}, {r:?}", made.dirs, c.version());
    assert_eq!(c.version(), made.version);
    assert_eq!(r.memory_limit_bytes, Some(256 * MIB));
    assert_eq!(r.cpu_quota_cores, Some(0.5));
    assert!(r.memory_working_set_bytes.is_some());
    // The test process itself is not in it.
    let own = Cgroup::locate(Path::new("/"), None)
        .expect("locates self")
        .read();
    assert_ne!(own.memory_limit_bytes, Some(256 * MIB));
    let dirs = made.dirs.clone();
    drop(made);
    for dir in dirs {
        assert!(!dir.exists(), "the test removed {}", dir.display());
    }
}

struct MadeCgroup {
    version: CgroupVersion,
    dirs: Vec<PathBuf>,
    child: Child,
}

impl MadeCgroup {
    fn create() -> Option<Self> {
        let name = format!(
            "vitals-test-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mounts = parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").ok()?);
        let lines = parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").ok()?);
        let v1_mount = |controller: &str| {
            mounts
                .iter()
                .find(|m| !m.v2 && m.options.iter().any(|o| o == controller))
                .map(|m| PathBuf::from(&m.mount_point))
        };
        let plan: Vec<(PathBuf, Vec<(&str, &str)>)> = if let (Some(memory), Some(cpu)) =
            (v1_mount("memory"), v1_mount("cpu"))
        {
            vec![
                (
                    memory.join(&name),
                    vec![("memory.limit_in_bytes", "268435456")],
                ),
                (
                    cpu.join(&name),
                    vec![
                        ("cpu.cfs_period_us", "100000"),
                        ("cpu.cfs_quota_us", "50000"),
                    ],
                ),
            ]
        } else if let Some(v2) = mounts.iter().find(|m| m.v2) {
            let root = PathBuf::from(&v2.mount_point);
            let controllers =
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            let usable = controllers.contains("memory")
                && controllers.contains("cpu")
                && lines.iter().any(|l| l.hierarchy == 0);
            if !usable {
                eprintln!("SKIPPED the own-cgroup part: the v2 tree has no memory/cpu controllers");
                return None;
            }
            // Children of the root may take controllers the root delegates.
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory +cpu");
            vec![(
                root.join(&name),
                vec![("memory.max", "268435456"), ("cpu.max", "50000 100000")],
            )]
        } else {
            eprintln!("SKIPPED the own-cgroup part: no cgroup hierarchy mounted");
            return None;
        };
        let version = if plan.len() == 2 {
            CgroupVersion::V1
        } else {
            CgroupVersion::V2
        };
        let mut dirs = Vec::new();
        for (dir, files) in &plan {
            if let Err(e) = std::fs::create_dir(dir) {
                eprintln!(
                    "SKIPPED the own-cgroup part: cannot create {}: {e}",
                    dir.display()
                );
                remove(&dirs);
                return None;
            }
            dirs.push(dir.clone());
            for (file, value) in files {
                if let Err(e) = std::fs::write(dir.join(file), value) {
                    eprintln!("SKIPPED the own-cgroup part: cannot write {file}: {e}");
                    remove(&dirs);
                    return None;
                }
            }
        }
        let child = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::null())
            .spawn()
            .expect("sleep runs");
        let made = Self {
            version,
            dirs,
            child,
        };
        for dir in &made.dirs {
            std::fs::write(dir.join("cgroup.procs"), made.child.id().to_string())
                .expect("the child moves into the new cgroup");
        }
        Some(made)
    }
}

fn remove(dirs: &[PathBuf]) {
    for dir in dirs {
        // A cgroup can be removed once its last process has gone; give the kernel a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if dir.exists() {
            eprintln!("could not remove {}", dir.display());
        }
    }
}

impl Drop for MadeCgroup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        remove(&self.dirs);
    }
}
