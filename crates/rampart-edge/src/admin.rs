//! The admin listener: liveness, Prometheus metrics and config reload. The
//! full admin API (tokens, roles, sites in the store) grows here later; until
//! then the listener belongs on loopback.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::{EdgeState, ReloadError};

pub async fn serve(
    state: Arc<EdgeState>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| route(state.clone(), request));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(
    state: Arc<EdgeState>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => {
            let snapshot = state.snapshot();
            json(
                StatusCode::OK,
                serde_json::json!({
                    "status": "ok",
                    "snapshot_version": snapshot.version,
                    "sites": snapshot.sites.len(),
                }),
            )
        }
        (&Method::GET, "/metrics") => {
            let mut response = Response::new(Full::new(Bytes::from(state.metrics.render())));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        (&Method::POST, "/-/reload") => match state.reload().await {
            Ok(report) => json(
                StatusCode::OK,
                serde_json::json!({
                    "status": "reloaded",
                    "snapshot_version": report.version,
                    "sites": report.sites,
                    "warnings": report.warnings,
                }),
            ),
            Err(error) => {
                let (status, code) = match &error {
                    ReloadError::NoConfigFile => (StatusCode::CONFLICT, "no_config_file"),
                    ReloadError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_config"),
                    ReloadError::Build(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unusable_config"),
                };
                json(
                    status,
                    serde_json::json!({
                        "error": {
                            "code": code,
                            "message": format!("reload refused; the running configuration stays: {error}"),
                        }
                    }),
                )
            }
        },
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": {"code": "not_found", "message": "try /healthz, /metrics or POST /-/reload"}}),
        ),
    };
    Ok(response)
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
