//! An application that takes only the layer and the JSON endpoint compiles no database or
//! cache client: checked on the real dependency graph with `cargo tree`.

/// `cargo tree` of vitals-axum with `features` (flags), one crate per line.
fn tree(features: &[&str]) -> String {
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

/// The OTLP exporter writes its protobuf by hand and posts with hyper's HTTP/1.1 client: no
/// gRPC stack, no protobuf library, no OpenTelemetry SDK in an application's build.
#[test]
fn otlp_pulls_no_grpc_or_protobuf_library() {
    let tree = tree(&["--no-default-features", "--features", "otlp"]);
    for heavy in [
        "tonic",
        "prost",
        "opentelemetry",
        "h2",
        "rustls",
        "openssl",
        "sqlx",
        "sysinfo",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(&format!("{heavy} "))
                || l.starts_with(&format!("{heavy}-"))),
            "vitals-axum with otlp pulls {heavy}:\n{tree}"
        );
    }
    assert!(
        tree.lines().any(|l| l.starts_with("hyper ")),
        "the tree was read: {tree}"
    );
}
