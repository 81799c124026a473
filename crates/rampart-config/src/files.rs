//! Files referenced from the configuration (certificates, keys, page
//! templates). They are read at load time so a bad path is a config error, not
//! a failure on the first TLS handshake.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Page templates are HTML snippets; anything bigger is almost certainly the wrong file.
const MAX_PAGE_BYTES: u64 = 1 << 20;
/// Generous for any real chain or key, small enough to notice a wrong file.
const MAX_PEM_BYTES: u64 = 16 << 20;

/// Relative paths are relative to the directory of the config file.
pub(crate) fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

/// Reads a regular file of at most `max` bytes. Devices and FIFOs are refused
/// up front: `/dev/zero` or a pipe given by mistake would otherwise hang the
/// load or exhaust memory.
fn read(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(format!("cannot read {}: it is {what}", path.display()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "{} is larger than {max} bytes; is it the right file?",
            path.display()
        ));
    }
    Ok(bytes)
}

pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, MAX_PEM_BYTES)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot parse {} as PEM: {}", path.display(), pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "no certificate found in {} (expected a PEM \"BEGIN CERTIFICATE\" block)",
            path.display()
        ));
    }
    Ok(certs)
}

pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read(path, MAX_PEM_BYTES)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => Err(format!(
            "no private key found in {} (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)",
            path.display()
        )),
        Err(e) => Err(format!(
            "cannot parse {} as PEM: {}",
            path.display(),
            pem_error(&e)
        )),
    }
}

/// A key that does not belong to the certificate would make every handshake
/// for the site fail; catch it when the file is checked, not at serve time.
pub(crate) fn check_key_matches(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<(), String> {
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| format!("unsupported private key: {e}"))?;
    rustls::sign::CertifiedKey::new(chain.to_vec(), signing_key)
        .keys_match()
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                "the private key does not belong to the certificate (first certificate in the cert file)".to_string()
            }
            other => format!("cannot check the key against the certificate: {other}"),
        })
}

/// pem::Error's Display prints raw byte vectors; say it in words instead.
fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "missing end marker {:?}",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed section start {:?}",
            String::from_utf8_lossy(line)
        ),
        other => other.to_string(),
    }
}

pub(crate) fn load_page(path: &Path) -> Result<String, String> {
    String::from_utf8(read(path, MAX_PAGE_BYTES)?)
        .map_err(|e| format!("{} is not valid UTF-8: {e}", path.display()))
}
