//! TLS for `https://` endpoints (feature `tls`): rustls with the ring provider, TLS 1.2 and
//! 1.3, the receiver's certificate checked against the system's certificate store or, when
//! given, against the certificate authorities of a PEM file of your own.
//!
//! ```no_run
//! use vitals_export::otlp::OtlpSettings;
//! use vitals_export::tls::CaCertificates;
//!
//! let mut otlp = OtlpSettings::new("https://collector.internal:4318/v1/metrics".parse()?);
//! // Only certificates issued by this CA are trusted (the system's store is not read).
//! otlp.ca = Some(CaCertificates::from_pem_file("/etc/vitals/ca.pem")?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Certificate authorities a receiver's certificate must chain to, read from PEM. Cloning is
/// cheap.
#[derive(Clone)]
pub struct CaCertificates {
    roots: Arc<RootCertStore>,
}

impl std::fmt::Debug for CaCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaCertificates")
            .field("certificates", &self.roots.len())
            .finish()
    }
}

/// Why certificate authorities could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}; check the path and its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The PEM text holds no usable `CERTIFICATE` block.
    #[error(
        "no CA certificate found in it: expected PEM text with at least one -----BEGIN CERTIFICATE----- block{0}"
    )]
    NoCertificate(String),
}

impl CaCertificates {
    /// Every `CERTIFICATE` block of the PEM file at `path` (other blocks, such as keys, are
    /// ignored).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(&pem)
    }

    /// Every `CERTIFICATE` block of `pem`.
    pub fn from_pem(pem: &[u8]) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        let mut problem = String::new();
        for cert in CertificateDer::pem_slice_iter(pem) {
            match cert {
                Ok(cert) => {
                    if let Err(e) = roots.add(cert) {
                        problem = format!(" (one was refused: {e})");
                    }
                }
                Err(e) => problem = format!(" ({e})"),
            }
        }
        if roots.is_empty() {
            return Err(TlsError::NoCertificate(problem));
        }
        Ok(Self {
            roots: Arc::new(roots),
        })
    }

    /// How many certificate authorities were read.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether none were read (never, for a value made by the constructors).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

/// The client side of TLS for one exporter: `ca` when given, else the system's store (what
/// `rustls-native-certs` finds: `SSL_CERT_FILE`, `SSL_CERT_DIR`, or the distribution's
/// bundle). A system store that cannot be read leaves no trusted authority: every handshake
/// then fails, and each failure is counted like any other. An error only when the ring
/// provider refuses the default protocol versions, which it does not.
pub(crate) fn connector(
    ca: Option<&CaCertificates>,
) -> std::io::Result<tokio_rustls::TlsConnector> {
    let roots = match ca {
        Some(ca) => Arc::clone(&ca.roots),
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "cannot read part of the system's certificate store");
            }
            let mut roots = RootCertStore::empty();
            let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
            Arc::new(roots)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
