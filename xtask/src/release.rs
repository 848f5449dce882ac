//! `cargo xtask release`: builds the release binaries and packs them, with the README, the
//! licences and `deploy/`, into `vitals-<version>-<target>.tar.gz` plus a `SHA256SUMS` file.
//!
//! Packing uses the system's GNU `tar` (with a fixed file order, owner and mtime, so the same
//! commit packs the same bytes) and `sha256sum`, which also verifies the sum it wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::{cargo, workspace_root};

/// The binaries shipped, and the packages that build them.
const BINARIES: [(&str, &str); 2] = [("vitals-server", "vitals-server"), ("vitals-cli", "vitals")];

/// Files and folders from the repository root shipped beside the binaries (licences are
/// found by their `LICENSE` prefix).
const EXTRAS: [&str; 2] = ["README.md", "deploy"];

struct Options {
    allow_dirty: bool,
    out: PathBuf,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        allow_dirty: false,
        out: PathBuf::from("target/dist"),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--allow-dirty" => options.allow_dirty = true,
            "--out" => {
                options.out = it
                    .next()
                    .context("--out needs a folder, e.g. --out target/dist")?
                    .into();
            }
            other => bail!("unknown release option {other:?}: use --allow-dirty and --out DIR"),
        }
    }
    Ok(options)
}

/// Runs the task.
pub fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let root = workspace_root();
    if !options.allow_dirty {
        ensure_clean(&root)?;
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .context("cannot read the workspace Cargo.toml")?;
    let version = workspace_version(&manifest)
        .context("no `version` under [workspace.package] in Cargo.toml")?;
    let target = host_triple()?;
    let out = if options.out.is_absolute() {
        options.out
    } else {
        root.join(options.out)
    };

    let mut build = vec!["build", "--release", "--locked"];
    for (package, _) in BINARIES {
        build.extend(["--package", package]);
    }
    cargo(&build, &[])?;

    let name = format!("vitals-{version}-{target}");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let staging = out.join(&name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging)?;
    let release = crate::target_dir().join("release");
    for (_, binary) in BINARIES {
        copy(&release.join(binary), &staging.join(binary))?;
    }
    for extra in EXTRAS.iter().map(|e| e.to_string()).chain(licences(&root)?) {
        copy(&root.join(&extra), &staging.join(&extra))?;
    }

    let archive = format!("{name}.tar.gz");
    let mtime = format!("--mtime=@{}", commit_time(&root));
    run_in(
        &out,
        "tar",
        &[
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            &mtime,
            "-czf",
            &archive,
            &name,
        ],
    )?;
    std::fs::remove_dir_all(&staging)?;
    let sums = run_in(&out, "sha256sum", &[&archive])?;
    std::fs::write(out.join("SHA256SUMS"), &sums).context("cannot write SHA256SUMS")?;
    run_in(&out, "sha256sum", &["--check", "--strict", "SHA256SUMS"])
        .context("the archive does not match the SHA256SUMS just written")?;
    eprintln!("release: {}", out.join(&archive).display());
    eprintln!("release: {} (verified)", out.join("SHA256SUMS").display());
    Ok(())
}

/// Refuses uncommitted changes, so an archive always matches a commit.
fn ensure_clean(root: &Path) -> Result<()> {
    let status = run_in(root, "git", &["status", "--porcelain"])?;
    if !status.trim().is_empty() {
        bail!(
            "the git tree has uncommitted changes:\n{status}commit or stash them, or pass \
             --allow-dirty for a local test build"
        );
    }
    Ok(())
}

/// `version = "x"` of the `[workspace.package]` table.
fn workspace_version(manifest: &str) -> Option<String> {
    let mut in_table = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[workspace.package]";
        } else if in_table && let Some(rest) = line.strip_prefix("version") {
            let value = rest.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// The host's target triple (`rustc -vV`).
fn host_triple() -> Result<String> {
    let info = run_in(&workspace_root(), "rustc", &["-vV"])?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host line")
}

/// `LICENSE*` files at the root; at least one.
fn licences(root: &Path) -> Result<Vec<String>> {
    let mut found: Vec<String> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("LICENSE"))
        .collect();
    found.sort();
    ensure!(
        !found.is_empty(),
        "no LICENSE file at the repository root; add LICENSE-MIT and LICENSE-APACHE"
    );
    Ok(found)
}

/// The last commit's time (Unix seconds), 0 outside git.
fn commit_time(root: &Path) -> String {
    run_in(root, "git", &["log", "-1", "--format=%ct"])
        .map(|t| t.trim().to_owned())
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "0".to_owned())
}

/// Copies a file or a whole folder.
fn copy(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to)
            .map(drop)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
    }
}

/// Runs `program args` in `dir`; its stdout, or an error with its stderr.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run {program}; is it installed?"))?;
    if !output.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::workspace_version;

    #[test]
    fn reads_the_workspace_version_only() {
        let manifest = "[package]\nversion = \"9.9.9\"\n\n[workspace.package]\nedition = \"2024\"\n\
                        version = \"0.3.1\"\n\n[dependencies]\nversion = \"1\"\n";
        assert_eq!(workspace_version(manifest).as_deref(), Some("0.3.1"));
        assert_eq!(workspace_version("[package]\nversion = \"1\"\n"), None);
    }
}
