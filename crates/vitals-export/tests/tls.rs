//! `https://` endpoints: a TLS receiver on loopback with a certificate issued by a CA this
//! test makes (rcgen). Given that CA ([`CaCertificates`]), OTLP and remote-write pushes get
//! through and decode; without it (the system's store, which does not know the CA) every
//! handshake is refused and counted in `<ns>_export_errors_total{exporter}`.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vitals_engine::Engine;
use vitals_export::otlp::{OtlpExporter, OtlpSettings};
use vitals_export::remote_write::{RemoteWriteExporter, RemoteWriteSettings};
use vitals_export::tls::CaCertificates;

/// A CA, and a receiver certificate it issued for `localhost` and `127.0.0.1`.
struct Pki {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Vitals test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let key = KeyPair::generate().expect("receiver key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("receiver params")
        .signed_by(&key, &ca)
        .expect("receiver certificate");
    Pki {
        ca_pem: ca.pem(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// One request the receiver read: its head (lower-cased) and body.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A TLS receiver speaking just enough HTTP/1.1: reads one request per connection, answers
/// 200 with no body. Its runtime stops with the test.
async fn receiver(pki: &Pki) -> (u16, Seen) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
        .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let seen = Seen::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing is seen.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut data = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head, body) = loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
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
                        break (head, data[end + 4..end + 4 + length].to_vec());
                    }
                };
                log.lock().expect("receiver state").push((head, body));
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, seen)
}

fn errors(engine: &Engine, exporter: &str) -> u64 {
    let prefix = format!("export_errors_total{{exporter=\"{exporter}\"}} ");
    engine
        .render_prometheus()
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()).map(str::to_owned))
        .map_or(0, |v| v.parse().expect("a count"))
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_ca_pushes_get_through_and_without_it_they_are_refused_and_counted() {
    let pki = pki();
    let (port, seen) = receiver(&pki).await;
    let ca = CaCertificates::from_pem(pki.ca_pem.as_bytes()).expect("the test CA");
    assert_eq!(ca.len(), 1);
    let engine = Engine::builder().build().expect("engine");

    // OTLP to a host name, remote write to an address: both checked against the CA.
    let mut otlp = OtlpSettings::new(
        format!("https://localhost:{port}/v1/metrics")
            .parse()
            .expect("endpoint"),
    );
    otlp.interval = Duration::from_millis(300);
    otlp.ca = Some(ca.clone());
    let mut remote = RemoteWriteSettings::new(
        format!("https://127.0.0.1:{port}/api/v1/write")
            .parse()
            .expect("endpoint"),
    );
    remote.interval = Duration::from_millis(300);
    remote.ca = Some(ca);
    let otlp = OtlpExporter::start(&engine, otlp).expect("starts");
    let remote = RemoteWriteExporter::start(&engine, remote).expect("starts");
    wait_until("a push of each kind", || {
        otlp.sent() >= 1 && remote.sent() >= 1
    })
    .await;
    drop((otlp, remote));
    assert_eq!(errors(&engine, "otlp"), 0);
    assert_eq!(errors(&engine, "remote_write"), 0);
    let requests = seen.lock().expect("receiver state").clone();
    let otlp_push = requests
        .iter()
        .find(|(head, _)| head.starts_with("post /v1/metrics "))
        .expect("an OTLP push");
    assert!(
        otlp_push.0.contains("content-encoding: gzip"),
        "{}",
        otlp_push.0
    );
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(otlp_push.1.as_slice())
        .read_to_end(&mut raw)
        .expect("gzip");
    let decoded = ExportMetricsServiceRequest::decode(raw.as_slice()).expect("OTLP protobuf");
    assert!(
        !decoded.resource_metrics[0].scope_metrics[0]
            .metrics
            .is_empty()
    );
    let remote_push = requests
        .iter()
        .find(|(head, _)| head.starts_with("post /api/v1/write "))
        .expect("a remote-write push");
    assert!(remote_push.0.contains("content-encoding: snappy"));
    snap::raw::Decoder::new()
        .decompress_vec(&remote_push.1)
        .expect("snappy");

    // Without the CA: the system's store does not know it, the handshake fails, each
    // attempt is counted and nothing reaches the receiver.
    let before = seen.lock().expect("receiver state").len();
    let mut otlp = OtlpSettings::new(
        format!("https://localhost:{port}/v1/metrics")
            .parse()
            .expect("endpoint"),
    );
    otlp.interval = Duration::from_millis(300);
    let otlp = OtlpExporter::start(&engine, otlp).expect("starts");
    wait_until("refused handshakes to be counted", || {
        errors(&engine, "otlp") >= 2
    })
    .await;
    assert_eq!(otlp.sent(), 0);
    drop(otlp);
    assert_eq!(seen.lock().expect("receiver state").len(), before);
}

#[test]
fn a_file_without_certificates_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate\n").expect("write");
    let e = CaCertificates::from_pem_file(&path).expect_err("no certificate");
    assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");
    let e = CaCertificates::from_pem_file(dir.path().join("missing.pem")).expect_err("missing");
    assert!(e.to_string().contains("missing.pem"), "{e}");
    let pem = pki().ca_pem;
    std::fs::write(&path, &pem).expect("write");
    assert_eq!(CaCertificates::from_pem_file(&path).expect("a CA").len(), 1);
}
