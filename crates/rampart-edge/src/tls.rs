//! TLS termination: one rustls config for the whole node, with the certificate
//! picked per connection from the SNI name (exact, then wildcard, then the
//! default). TLS 1.2 and 1.3 only; ALPN offers h2 and http/1.1.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot create {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot generate the self-signed default certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("certificate or key for {what} is not usable: {source}")]
    Key { what: String, source: rustls::Error },
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads the default certificate from the data dir, creating a self-signed one
/// for localhost on first start.
pub fn default_certificate(data_dir: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("default-cert.pem");
    let key_path = dir.join("default-key.pem");
    if !cert_path.exists() || !key_path.exists() {
        std::fs::create_dir_all(&dir).map_err(|source| TlsError::Write {
            path: dir.clone(),
            source,
        })?;
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let generated = rcgen::generate_simple_self_signed(names)?;
        write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, generated.cert.pem()).map_err(|source| TlsError::Write {
            path: cert_path.clone(),
            source,
        })?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Read {
            path: cert_path.clone(),
            message: e.to_string(),
        })?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| TlsError::Read {
        path: key_path.clone(),
        message: e.to_string(),
    })?;
    certified_key(chain, &key, "the default certificate")
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).map_err(|source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    file.write_all(contents).map_err(|source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

pub fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'static>,
    what: &str,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let provider = provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|source| TlsError::Key {
            what: what.to_string(),
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|source| TlsError::Key {
        what: what.to_string(),
        source,
    })?;
    Ok(Arc::new(certified))
}

/// Reads the current snapshot's certificates on every handshake, so that a
/// reload changes certificates without touching the listener.
pub struct SniResolver {
    pub state: Arc<crate::state::EdgeState>,
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SniResolver")
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let snapshot = self.state.snapshot();
        if let Some(name) = hello.server_name() {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(key) = snapshot.certs.lookup(&name) {
                return Some(key.clone());
            }
        }
        Some(self.state.default_cert.clone())
    }
}

pub fn server_config(
    state: Arc<crate::state::EdgeState>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { state }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
