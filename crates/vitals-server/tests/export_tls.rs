//! `https://` export endpoints from the real binary: with `--export-ca-file` naming the CA this
//! test makes (rcgen), OTLP (here with `--otlp-gzip false`) and remote-write pushes reach a
//! TLS receiver on loopback; without it the system's store refuses the receiver's
//! certificate and every push is counted as failed. The TLS details are tested in
//! vitals-export's tests/tls.rs; this checks the server's settings get there.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The heads (lower-cased) of the requests a TLS receiver read.
type Heads = Arc<Mutex<Vec<String>>>;

/// A TLS receiver on its own thread: reads each request's head and body, answers 200.
/// Returns its port, what it saw, and the PEM of the CA that issued its certificate.
fn tls_receiver() -> (u16, Heads, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("certificate");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .expect("certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let heads = Heads::default();
    let seen = Arc::clone(&heads);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut data = Vec::new();
                    let mut chunk = [0u8; 8192];
                    while let Ok(n) = tls.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                        data.extend_from_slice(&chunk[..n]);
                        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if data.len() >= end + 4 + length {
                            seen.lock().expect("receiver state").push(head);
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                                .await;
                            let _ = tls.shutdown().await;
                            return;
                        }
                    }
                });
            }
        });
    });
    (port, heads, ca.pem())
}

fn errors(server: &Server, exporter: &str) -> u64 {
    let prefix = format!("health_agent_export_errors_total{{exporter=\"{exporter}\"}} ");
    server
        .request("GET", "/metrics", &[])
        .body
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()).map(str::to_owned))
        .map_or(0, |v| v.parse().expect("a count"))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The server pushing to the receiver every 500 ms; `run` goes into the URLs' query, to
/// tell its pushes apart.
fn server(
    dir: &tempfile::TempDir,
    port: u16,
    run: u32,
    ca_file: Option<&std::path::Path>,
) -> Server {
    let mut cmd = server_command();
    cmd.args(["--data-dir", dir.path().to_str().expect("utf-8")])
        .args(["--export-interval-ms", "500"])
        .args([
            "--otlp-endpoint",
            &format!("https://localhost:{port}/v1/metrics?run={run}"),
        ])
        .args(["--otlp-gzip", "false"])
        .args([
            "--remote-write-url",
            &format!("https://127.0.0.1:{port}/api/v1/write?run={run}"),
        ]);
    if let Some(path) = ca_file {
        cmd.arg("--export-ca-file").arg(path);
    }
    Server::start(cmd)
}

#[test]
fn the_ca_file_lets_pushes_through_and_without_it_they_are_counted() {
    let (port, heads, ca_pem) = tls_receiver();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("write the CA");

    let with_ca = server(&dir, port, 1, Some(&ca_file));
    let has = |heads: &Heads, prefix: &str| {
        heads
            .lock()
            .expect("receiver state")
            .iter()
            .any(|h| h.starts_with(prefix))
    };
    wait_until("an OTLP and a remote-write push over TLS", || {
        has(&heads, "post /v1/metrics?run=1 ") && has(&heads, "post /api/v1/write?run=1 ")
    });
    let otlp_head = heads
        .lock()
        .expect("receiver state")
        .iter()
        .find(|h| h.starts_with("post /v1/metrics?run=1 "))
        .cloned()
        .expect("an OTLP push");
    assert!(
        !otlp_head.contains("content-encoding"),
        "--otlp-gzip false: {otlp_head}"
    );
    let failed = (errors(&with_ca, "otlp"), errors(&with_ca, "remote_write"));
    assert_eq!(failed, (0, 0), "{:#?}", with_ca.output());
    drop(with_ca);

    let dir = tempfile::tempdir().expect("temp dir");
    let without = server(&dir, port, 2, None);
    wait_until("refused handshakes to be counted", || {
        errors(&without, "otlp") >= 1 && errors(&without, "remote_write") >= 1
    });
    drop(without);
    assert!(!has(&heads, "post /v1/metrics?run=2 "));
    assert!(!has(&heads, "post /api/v1/write?run=2 "));
}
