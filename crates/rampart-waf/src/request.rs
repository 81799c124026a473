//! What the engine inspects: a request and a response as they were on the
//! wire (names, order and raw bytes kept; nothing normalised here).

use std::net::SocketAddr;

/// One request. `uri` is the request-target exactly as sent (path and
/// query, undecoded); header names keep their case and order, and repeated
/// headers stay separate entries.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub uri: String,
    /// `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`, …
    pub protocol: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// One response from the origin, for phases 3 and 4.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub protocol: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}
