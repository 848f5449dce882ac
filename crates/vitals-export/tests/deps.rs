//! The OTLP exporter writes its protobuf by hand and posts with hyper's HTTP/1.1 client: no
//! gRPC stack, no protobuf library, no OpenTelemetry SDK in an application's build. Checked on
//! the real dependency graph with `cargo tree`.

#[test]
fn otlp_pulls_no_grpc_or_protobuf_library() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            "vitals-export",
        ])
        .args(["--no-default-features", "--features", "otlp", "--offline"])
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
        "tonic",
        "prost",
        "opentelemetry",
        "h2",
        "rustls",
        "openssl",
        "sqlx",
        "sysinfo",
        "axum",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(&format!("{heavy} "))
                || l.starts_with(&format!("{heavy}-"))),
            "vitals-export with otlp pulls {heavy}:\n{tree}"
        );
    }
    assert!(
        tree.lines().any(|l| l.starts_with("hyper ")),
        "the tree was read: {tree}"
    );
}
