//! What each exporter feature adds to an application's build, checked on the real dependency
//! graph with `cargo tree`:
//!
//! - `otlp`: hyper's HTTP/1.1 client, `base64` and `flate2` (gzip, pure Rust): the protobuf
//!   is written by hand (docs/architecture.md, "Why the OTLP encoder is hand-written"), so no
//!   gRPC stack, no protobuf library, no OpenTelemetry SDK, and no `url`/`idna`.
//! - `remote-write`: the same client, plus `prost` (messages) and `snap` (snappy).
//! - `tls`: rustls with the ring provider; no OpenSSL and no aws-lc.

use std::collections::BTreeSet;

/// The crate names in the normal-dependency tree of vitals-export with `features` only.
fn tree(features: &str) -> BTreeSet<String> {
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
        .args(["--no-default-features", "--features", features, "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(' ').next())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(
        names.contains("vitals-export"),
        "the tree was read: {names:?}"
    );
    names
}

fn assert_none(tree: &BTreeSet<String>, features: &str, heavy: &[&str]) {
    for name in heavy {
        assert!(
            !tree.contains(*name),
            "vitals-export with {features} pulls {name}: {tree:?}"
        );
    }
}

/// Never in any exporter's build.
const NEVER: [&str; 10] = [
    "tonic",
    "h2",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry-proto",
    "openssl",
    "openssl-sys",
    "aws-lc-rs",
    "sqlx",
    "axum",
];

#[test]
fn otlp_pulls_no_grpc_protobuf_or_url_library() {
    let tree = tree("otlp");
    assert_none(&tree, "otlp", &NEVER);
    assert_none(
        &tree,
        "otlp",
        &["prost", "snap", "rustls", "ring", "url", "idna", "sysinfo"],
    );
    for wanted in ["hyper", "base64", "flate2"] {
        assert!(tree.contains(wanted), "{wanted} missing: {tree:?}");
    }
}

#[test]
fn remote_write_pulls_prost_and_snap_only() {
    let tree = tree("remote-write");
    assert_none(&tree, "remote-write", &NEVER);
    assert_none(&tree, "remote-write", &["flate2", "rustls", "ring", "url"]);
    for wanted in ["hyper", "prost", "snap"] {
        assert!(tree.contains(wanted), "{wanted} missing: {tree:?}");
    }
}

#[test]
fn tls_is_rustls_on_ring() {
    let tree = tree("otlp,remote-write,tls");
    assert_none(&tree, "tls", &NEVER);
    for wanted in ["rustls", "ring", "tokio-rustls", "rustls-native-certs"] {
        assert!(tree.contains(wanted), "{wanted} missing: {tree:?}");
    }
}
