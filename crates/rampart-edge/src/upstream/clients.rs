//! Pooled HTTP clients to origins.
//!
//! Proxied requests go through a client *pinned* to one origin
//! ([`origin_client`]): it connects to that origin whatever host the request
//! URI names, so the URI can carry the site's host. That host becomes HTTP/1's
//! `Host` and HTTP/2's `:authority` alike (RFC 9113 §8.3.1 forbids a `Host`
//! that differs from `:authority`; nginx answers 400 to any h2 request with both).

use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use http::uri::{Authority, Scheme};

use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rampart_config::OriginProtocol;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::body::EdgeBody;

pub type OriginClient = Client<HttpsConnector<PinnedConnector>, EdgeBody>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub protocol: OriginProtocol,
    pub verify_tls: bool,
    pub connect_timeout: Duration,
}

/// The client for one origin: it always connects to `scheme://authority`
/// (TLS name included), and the request URI's authority is free to name the
/// site. Owned by the origin's state, so it lives (with its pool) exactly as
/// long as the origin survives reloads.
pub fn origin_client(key: &ClientKey, scheme: &Scheme, authority: &Authority) -> OriginClient {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    build(key, Uri::from_parts(parts).ok())
}

/// Connects to `target` when set, else to the request's destination.
#[derive(Clone)]
pub struct PinnedConnector {
    http: HttpConnector,
    target: Option<Uri>,
}

impl tower_service::Service<Uri> for PinnedConnector {
    type Response = <HttpConnector as tower_service::Service<Uri>>::Response;
    type Error = <HttpConnector as tower_service::Service<Uri>>::Error;
    type Future = <HttpConnector as tower_service::Service<Uri>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let dst = self.target.clone().unwrap_or(dst);
        self.http.call(dst)
    }
}

fn build(key: &ClientKey, target: Option<Uri>) -> OriginClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(key.connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(60)));

    let tls = base_tls_config(key.verify_tls);

    let mut connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    // Verify (and send SNI for) the origin's own name, not the site's.
    if let Some(host) = target.as_ref().and_then(Uri::host) {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(name) = ServerName::try_from(host.to_string()) {
            connector = connector.with_server_name_resolver(FixedServerNameResolver::new(name));
        }
    }
    let http = PinnedConnector { http, target };
    let connector = match key.protocol {
        OriginProtocol::Http1 => connector.enable_http1().wrap_connector(http),
        OriginProtocol::Http2 => connector.enable_http2().wrap_connector(http),
        OriginProtocol::Auto => connector.enable_all_versions().wrap_connector(http),
    };

    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        // Host comes from the request URI, whose authority is the site's host.
        .set_host(true);
    if key.protocol == OriginProtocol::Http2 {
        builder.http2_only(true);
    }
    builder.build(connector)
}

/// The TLS settings every origin client starts from, built once per
/// verification mode: reading the system CA bundle per origin made a
/// 1,000-site config take a second to load.
fn base_tls_config(verify: bool) -> rustls::ClientConfig {
    static VERIFYING: OnceLock<rustls::ClientConfig> = OnceLock::new();
    static TRUSTING: OnceLock<rustls::ClientConfig> = OnceLock::new();
    let cell = if verify { &VERIFYING } else { &TRUSTING };
    cell.get_or_init(|| {
        let provider = crate::tls::provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12]);
        match builder {
            Ok(builder) if verify => builder
                .with_root_certificates(root_store())
                .with_no_client_auth(),
            Ok(builder) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth(),
            // Only fails if the provider lacks both versions, which ring does not.
            Err(_) => rustls::ClientConfig::builder()
                .with_root_certificates(root_store())
                .with_no_client_auth(),
        }
    })
    .clone()
}

/// Mozilla's roots plus the system bundle, so that origins with a private CA
/// installed on the host verify too.
fn root_store() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let bundle = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    if let Ok(iter) = CertificateDer::pem_file_iter(&bundle) {
        for cert in iter.flatten() {
            let _ = roots.add(cert);
        }
    }
    roots
}

/// Used only where the operator turned origin verification off for a site.
#[derive(Debug)]
pub struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl AcceptAnyCertificate {
    /// Still checks that the handshake signatures are valid for the presented
    /// certificate, with `provider`'s algorithms; only trust is skipped.
    pub fn new(provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        Self(provider)
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
