//! Certificates, keys and page templates: read from files referenced by the
//! configuration, or given as text in a site spec. Files are read at load
//! time so a bad path is a config error, not a failure on the first TLS
//! handshake; both sources go through the same parsers.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Page templates are HTML snippets; anything bigger is almost certainly the wrong file.
pub(crate) const MAX_PAGE_BYTES: usize = 1 << 20;
/// Generous for any real chain or key, small enough to notice a wrong file.
pub(crate) const MAX_PEM_BYTES: usize = 16 << 20;

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
pub(crate) fn read(path: &Path, max: usize) -> Result<Vec<u8>, String> {
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
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() > max {
        return Err(format!(
            "{} is larger than {max} bytes; is it the right file?",
            path.display()
        ));
    }
    Ok(bytes)
}

pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    parse_certs(&read(path, MAX_PEM_BYTES)?, &path.display().to_string())
}

pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    parse_key(&read(path, MAX_PEM_BYTES)?, &path.display().to_string())
}

/// A PEM certificate chain. `source` names the text in messages (a path, or
/// a field of a site spec).
pub(crate) fn parse_certs(
    bytes: &[u8],
    source: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot parse {source} as PEM: {}", pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "no certificate found in {source} (expected a PEM \"BEGIN CERTIFICATE\" block)"
        ));
    }
    Ok(certs)
}

/// The first PEM private key in `bytes`; `source` as for `parse_certs`.
pub(crate) fn parse_key(bytes: &[u8], source: &str) -> Result<PrivateKeyDer<'static>, String> {
    match PrivateKeyDer::from_pem_slice(bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => Err(format!(
            "no private key found in {source} (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)"
        )),
        Err(e) => Err(format!("cannot parse {source} as PEM: {}", pem_error(&e))),
    }
}

/// Why a key cannot serve a chain; spec validation reports the two cases
/// with different codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyCheckError {
    #[error("unsupported private key: {0}")]
    Unsupported(String),
    #[error(
        "the private key does not belong to the certificate (the first certificate of the chain)"
    )]
    Mismatch,
    #[error("cannot check the key against the certificate: {0}")]
    Other(String),
}

/// A key that does not belong to the certificate would make every handshake
/// for the site fail; catch it when the configuration is checked, not at
/// serve time.
pub(crate) fn check_key_matches(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<(), KeyCheckError> {
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| KeyCheckError::Unsupported(e.to_string()))?;
    rustls::sign::CertifiedKey::new(chain.to_vec(), signing_key)
        .keys_match()
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => KeyCheckError::Mismatch,
            other => KeyCheckError::Other(other.to_string()),
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

/// PEM text of a chain, one "CERTIFICATE" block per certificate.
pub(crate) fn certs_to_pem(chain: &[CertificateDer<'_>]) -> String {
    chain
        .iter()
        .map(|c| pem_block("CERTIFICATE", c.as_ref()))
        .collect()
}

/// PEM text of a key, labelled by its encoding so `parse_key` reads it back
/// as the same variant.
pub(crate) fn key_to_pem(key: &PrivateKeyDer<'_>) -> String {
    let label = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        // Pkcs8, and any encoding a later rustls-pki-types adds: PKCS#8 is
        // the generic container.
        _ => "PRIVATE KEY",
    };
    pem_block(label, key.secret_der())
}

/// RFC 7468 text: base64 in 64-column lines. Written out here rather than
/// pulling in a base64 crate for the one place that encodes.
fn pem_block(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32| {
        let index = usize::try_from(n & 63).unwrap_or(0);
        ALPHABET.get(index).map_or('=', |&b| char::from(b))
    };
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        b64.push(sextet(n >> 18));
        b64.push(sextet(n >> 12));
        b64.push(if chunk.len() > 1 { sextet(n >> 6) } else { '=' });
        b64.push(if chunk.len() > 2 { sextet(n) } else { '=' });
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    // Base64 is ASCII, so byte chunks are whole characters.
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding() {
        let body = |der: &[u8]| {
            let pem = pem_block("X", der);
            pem.lines().nth(1).unwrap_or_default().to_owned()
        };
        assert_eq!(body(b"Man"), "TWFu");
        assert_eq!(body(b"Ma"), "TWE=");
        assert_eq!(body(b"M"), "TQ==");
        assert_eq!(body(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn pem_lines_are_64_columns_and_parse_back() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let pem = certs_to_pem(&[CertificateDer::from(der.clone())]);
        assert!(pem.lines().all(|l| l.len() <= 64));
        let certs = parse_certs(pem.as_bytes(), "test").unwrap();
        assert_eq!(certs, [CertificateDer::from(der)]);
    }

    #[test]
    fn keys_keep_their_encoding() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x01];
        for key in [
            PrivateKeyDer::Pkcs1(der.clone().into()),
            PrivateKeyDer::Sec1(der.clone().into()),
            PrivateKeyDer::Pkcs8(der.clone().into()),
        ] {
            let back = parse_key(key_to_pem(&key).as_bytes(), "test").unwrap();
            assert_eq!(back, key);
        }
    }
}
