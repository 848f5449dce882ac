//! What an application compiles, checked on the real dependency graph with `cargo tree`: the
//! layer and the JSON endpoint pull no database or cache client, and the engine no web
//! framework.

/// `cargo tree` of `package` with `features` (flags), one crate per line.
fn tree_of(package: &str, features: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["tree", "-e", "normal", "--prefix", "none", "-p", package])
        .args(features)
        .arg("--offline")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn layer_only_pulls_no_database_or_cache_client() {
    let tree = tree(&["--no-default-features"]);
    for heavy in [
        "sqlx",
        "fred",
        "moka",
        "sysinfo",
        "pprof",
        "opentelemetry-proto",
        "prost",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(heavy)),
            "vitals-axum without default features pulls {heavy}:\n{tree}"
        );
    }
    assert!(
        tree.lines().any(|l| l.starts_with("axum ")),
        "the tree was read: {tree}"
    );
}

fn tree(features: &[&str]) -> String {
    tree_of("vitals-axum", features)
}

/// The engine serves any framework: no axum, no hyper, no tower in its build.
#[test]
fn the_engine_pulls_no_web_framework() {
    let tree = tree_of("vitals-engine", &["--all-features"]);
    for web in ["axum", "hyper", "tower", "tonic"] {
        assert!(
            !tree
                .lines()
                .any(|l| l.starts_with(&format!("{web} ")) || l.starts_with(&format!("{web}-"))),
            "vitals-engine pulls {web}:\n{tree}"
        );
    }
    assert!(
        tree.lines().any(|l| l.starts_with("metrics ")),
        "the tree was read: {tree}"
    );
}
