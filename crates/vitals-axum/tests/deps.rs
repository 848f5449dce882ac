//! An application that takes only the layer and the JSON endpoint compiles no database or
//! cache client: checked on the real dependency graph with `cargo tree`.

#[test]
fn layer_only_pulls_no_database_or_cache_client() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            "vitals-axum",
        ])
        .args(["--no-default-features", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
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
