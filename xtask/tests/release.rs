//! `cargo xtask release --allow-dirty --out <tmp>` packs what it promises and its checksum
//! file verifies. (Builds the release binaries; reuses the release build cache.)

use std::process::Command;

#[test]
fn release_archive_lists_the_files_and_its_checksum_verifies() {
    let out = tempfile::tempdir().expect("temp dir");
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["release", "--allow-dirty", "--out"])
        .arg(out.path())
        .status()
        .expect("xtask runs");
    assert!(status.success(), "xtask release failed: {status}");

    let archives: Vec<String> = std::fs::read_dir(out.path())
        .expect("out dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tar.gz"))
        .collect();
    assert_eq!(archives.len(), 1, "one archive expected: {archives:?}");
    let archive = &archives[0];
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        archive.starts_with(&format!("vitals-{version}-")),
        "archive named vitals-<version>-<target>.tar.gz: {archive}"
    );
    let top = archive.trim_end_matches(".tar.gz");

    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(out.path().join(archive))
        .output()
        .expect("tar runs");
    assert!(listing.status.success());
    let listing = String::from_utf8_lossy(&listing.stdout);
    let entries: Vec<&str> = listing.lines().collect();
    for expected in [
        "vitals-server",
        "vitals",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "deploy/",
        "deploy/docker-compose.yml",
        "deploy/prometheus/alerts.yml",
    ] {
        let path = format!("{top}/{expected}");
        assert!(
            entries.contains(&path.as_str()),
            "{path} missing from the archive: {entries:#?}"
        );
    }

    let sums = std::fs::read_to_string(out.path().join("SHA256SUMS")).expect("SHA256SUMS");
    assert!(
        sums.trim_end().ends_with(&format!("  {archive}")),
        "sha256sum format: {sums}"
    );
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(out.path())
        .status()
        .expect("sha256sum runs");
    assert!(check.success(), "sha256sum -c failed");
}
