//! Byte-level client helpers: HTTP/1.1 written by hand on any stream, PROXY
//! protocol headers built by hand, and a TLS client that accepts any
//! certificate (to see which one a server presents for a name).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_edge::upstream::AcceptAnyCertificate;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub use super::ops::Response as RawReply;

/// Writes `request` as is (it should say `Connection: close`), then reads the
/// response until the server closes the connection (at most 10 s).
pub async fn raw_exchange<S>(stream: &mut S, request: &[u8]) -> RawReply
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("write request: {e}"));
    stream
        .flush()
        .await
        .unwrap_or_else(|e| panic!("flush request: {e}"));
    let raw = read_until_close(stream).await;
    super::ops::parse_responses(&raw)
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "no complete HTTP response in {} bytes: {:?}",
                raw.len(),
                String::from_utf8_lossy(&raw)
            )
        })
}

/// Everything the peer sends until it closes (or errors, or 10 s pass).
pub async fn read_until_close<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return raw,
            Ok(Ok(n)) => raw.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

/// PROXY protocol v1 line for a TCP connection from `src` to `dst`.
pub fn proxy_v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let family = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

pub const PROXY_V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// PROXY protocol v2 binary header (command PROXY, stream transport).
pub fn proxy_v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut out = PROXY_V2_SIGNATURE.to_vec();
    out.push(0x21); // version 2, command PROXY
    let mut addresses = Vec::new();
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11); // AF_INET, STREAM
            addresses.extend_from_slice(&s.ip().octets());
            addresses.extend_from_slice(&d.ip().octets());
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            out.push(0x21); // AF_INET6, STREAM
            addresses.extend_from_slice(&s.ip().octets());
            addresses.extend_from_slice(&d.ip().octets());
        }
        _ => panic!("PROXY v2: source and destination must be the same family"),
    }
    addresses.extend_from_slice(&src.port().to_be_bytes());
    addresses.extend_from_slice(&dst.port().to_be_bytes());
    let len = u16::try_from(addresses.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&addresses);
    out
}

/// A TLS client config that trusts any server certificate, offering `alpn`.
pub fn insecure_client_config(alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("tls: {e}"))
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// TLS handshake over an already connected stream (e.g. after a PROXY header),
/// accepting any certificate.
pub async fn tls_over<S>(stream: S, sni: &str, alpn: &[&[u8]]) -> tokio_rustls::client::TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connector = tokio_rustls::TlsConnector::from(insecure_client_config(alpn));
    let name = ServerName::try_from(sni.to_string()).unwrap_or_else(|e| panic!("sni {sni}: {e}"));
    connector
        .connect(name, stream)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with SNI {sni}: {e}"))
}

/// The leaf certificate (DER) a TLS server at `addr` presents for `sni`.
pub async fn presented_cert(addr: SocketAddr, sni: &str) -> Vec<u8> {
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let tls = tls_over(stream, sni, &[b"http/1.1"]).await;
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_else(|| panic!("no certificate presented for {sni}"))
}

/// The first certificate of a PEM file, as DER.
pub fn pem_cert_der(path: &std::path::Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path)
        .unwrap_or_else(|e| panic!("read certificate {}: {e}", path.display()))
        .to_vec()
}

/// Peak resident set size of a process (VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:") * 1024
}

/// Current resident set size of a process (VmRSS), in bytes.
pub fn current_rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:") * 1024
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The value of one Prometheus sample, e.g.
/// `metric_value(&text, "rampart_origin_healthy{site=\"a\",origin=\"http://…\"}")`.
pub fn metric_value(metrics: &str, series: &str) -> Option<i64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}
