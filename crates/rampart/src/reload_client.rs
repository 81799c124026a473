//! `rampart reload`: check the file locally, then ask the running edge to
//! load it through the admin listener, and print what it said.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use crate::{EX_CONFIG, EX_SOFTWARE, EX_UNAVAILABLE};

const DEFAULT_ADMIN: &str = "127.0.0.1:9090";

pub fn run(config: Option<&Path>, admin: Option<SocketAddr>) -> ExitCode {
    let mut admin_addr = admin;
    if let Some(path) = config {
        match rampart_config::load_file(path) {
            Ok(config) => {
                if admin_addr.is_none() {
                    admin_addr = config.listen.admin;
                }
            }
            Err(errors) => {
                eprintln!("{errors}");
                eprintln!("reload not sent: the running configuration stays");
                return ExitCode::from(EX_CONFIG);
            }
        }
    }
    let Some(addr) = admin_addr.or_else(|| DEFAULT_ADMIN.parse().ok()) else {
        return ExitCode::from(EX_SOFTWARE);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("rampart reload: cannot start a runtime: {error}");
            return ExitCode::from(EX_SOFTWARE);
        }
    };
    match runtime.block_on(post_reload(addr)) {
        Ok((status, body)) => {
            let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if status.is_success() {
                let version = &parsed["snapshot_version"];
                let sites = &parsed["sites"];
                println!("reloaded: snapshot {version}, {sites} site(s)");
                if let Some(warnings) = parsed["warnings"].as_array() {
                    for warning in warnings.iter().filter_map(|w| w.as_str()) {
                        eprintln!("warning: {warning}");
                    }
                }
                ExitCode::SUCCESS
            } else {
                let message = parsed["error"]["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                eprintln!("{message}");
                ExitCode::from(if status.as_u16() == 422 {
                    EX_CONFIG
                } else {
                    EX_SOFTWARE
                })
            }
        }
        Err(error) => {
            eprintln!("rampart reload: cannot reach the admin listener at {addr}: {error}");
            eprintln!("is `rampart serve` running? (SIGHUP to its process reloads too)");
            ExitCode::from(EX_UNAVAILABLE)
        }
    }
}

async fn post_reload(addr: SocketAddr) -> anyhow::Result<(http::StatusCode, Bytes)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = http::Request::post("/-/reload")
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
