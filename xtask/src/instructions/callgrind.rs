//! valgrind's callgrind driving `vitals-bench`: instructions executed and heap allocations
//! made by the program's main thread.
//!
//! Only the main thread counts: `vitals-bench oneshot` and `repeat` do all their measured
//! work there (a current-thread Tokio runtime), while Vitals' scheduler thread wakes on a
//! timer, so its share would grow with the wall time of the run, which under valgrind
//! depends on the machine's load. The main thread's count does not (it moves by a few
//! hundredths of a percent from run to run: clock readings land in different buckets).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The allocator entry points counted as one allocation each (Rust's global allocator on
/// Linux ends in one of these).
const ALLOCATORS: [&str; 6] = [
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
];

/// What one run of the main thread cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Count {
    /// Instructions executed (callgrind's `Ir`).
    pub instructions: u64,
    /// Calls into the C allocator ([`ALLOCATORS`]).
    pub allocations: u64,
}

/// Fails early, with how to fix it, when valgrind cannot run.
pub fn require_valgrind() -> Result<()> {
    let ok = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    anyhow::ensure!(
        ok,
        "valgrind is needed to count instructions: apt-get install -y valgrind (.ci/setup does)"
    );
    Ok(())
}

/// Runs `bench args…` under callgrind, its output in `scratch`, and reads the main thread's
/// totals.
pub fn count(bench: &Path, args: &[String], scratch: &Path) -> Result<Count> {
    std::fs::create_dir_all(scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--separate-threads=yes")
        .arg(format!(
            "--callgrind-out-file={}",
            scratch.join("callgrind.out.%p").display()
        ))
        .arg(bench)
        .args(args)
        .output()
        .context("cannot run valgrind: install it (apt-get install -y valgrind; .ci/setup does)")?;
    let shown = || {
        format!(
            "valgrind --tool=callgrind {} {}",
            bench.display(),
            args.join(" ")
        )
    };
    if !output.status.success() {
        bail!(
            "`{}` failed ({}):\n{}",
            shown(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let main = main_thread_file(scratch).with_context(shown)?;
    let text = std::fs::read_to_string(&main)
        .with_context(|| format!("cannot read {}", main.display()))?;
    parse(&text).with_context(|| format!("in {}", main.display()))
}

/// The main thread's output file (`…-01`) in `scratch`.
fn main_thread_file(scratch: &Path) -> Result<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(scratch)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with("-01") {
            found.push(path);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "callgrind wrote no main-thread file in {}",
            scratch.display()
        ),
        _ => bail!("more than one callgrind run in {}", scratch.display()),
    }
}

/// The `totals:` line and the calls into the allocator of one callgrind output file.
fn parse(text: &str) -> Result<Count> {
    // Function names are written once as `fn=(id) name` or `cfn=(id) name`, then as `(id)`.
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut callee_is_allocator = false;
    let mut count = Count::default();
    let mut totals = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("cfn=") {
            callee_is_allocator = ALLOCATORS.contains(&name(rest, &mut names));
        } else if let Some(rest) = line.strip_prefix("fn=") {
            name(rest, &mut names);
        } else if let Some(rest) = line.strip_prefix("calls=") {
            if callee_is_allocator {
                let calls = rest.split_whitespace().next().unwrap_or_default();
                count.allocations += calls
                    .parse::<u64>()
                    .with_context(|| format!("bad line {line:?}"))?;
            }
            callee_is_allocator = false;
        } else if let Some(rest) = line.strip_prefix("totals:") {
            totals = rest.split_whitespace().next().map(str::parse::<u64>);
        }
    }
    count.instructions = totals
        .context("no totals: line (not a callgrind output?)")?
        .context("bad totals: line")?;
    Ok(count)
}

/// The name of `(id) name` or `(id)` (known from before); the id is remembered.
fn name<'a>(rest: &'a str, names: &mut HashMap<&'a str, &'a str>) -> &'a str {
    match rest.split_once(") ") {
        Some((id, name)) => {
            names.insert(id, name);
            name
        }
        None => names
            .get(rest.trim_end_matches(')'))
            .copied()
            .unwrap_or(rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_totals_and_allocator_calls_through_compressed_names() {
        let text = "\
events: Ir
summary: 1000
fn=(1) main
0 10
cfn=(2) malloc
calls=3 0
0 30
cfn=(3) free
calls=3 0
0 12
fn=(4) other
cfn=(2)
calls=2 0
0 20
cfn=(5) realloc
calls=1 0
0 9
totals: 1000
";
        assert_eq!(
            parse(text).expect("parses"),
            Count {
                instructions: 1000,
                allocations: 6
            }
        );
    }

    #[test]
    fn a_file_without_totals_is_an_error() {
        assert!(parse("events: Ir\nfn=(1) main\n0 10\n").is_err());
    }
}
