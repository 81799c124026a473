//! Rampart's data plane.
//!
//! The request path, in order, lives in [`proxy::handle`]; connection handling
//! (PROXY protocol, TLS, strict HTTP/1 framing, idle timeout) in [`server`].
#![forbid(unsafe_code)]

pub mod abuse_form;
pub mod access_log;
pub mod body;
pub mod bots;
pub mod client_addr;
pub mod enforcement;
pub mod exchange;
pub mod geoip;
pub mod h1_guard;
pub mod headers;
pub mod metrics;
pub mod pages;
pub mod proxy;
pub mod proxy_protocol;
pub mod ray;
pub mod routing;
pub mod security;
pub mod security_events;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod tls;
pub mod upstream;
pub mod waf;
