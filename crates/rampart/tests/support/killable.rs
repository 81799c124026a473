//! An origin that can die completely: [`KillableOrigin::kill`] closes the
//! listener *and* every open connection (pooled keep-alive connections
//! included), so that the proxy sees what a crashed server looks like:
//! connection refused. (`origin::TestOrigin::stop` only stops accepting.)

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use super::origin::{OriginBody, full};

pub struct KillableOrigin {
    pub addr: SocketAddr,
    pub name: String,
    /// Requests served (health checks included).
    pub hits: Arc<AtomicUsize>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Answers every request with `{"origin": name, "method": …, "body_len": …}`
/// and an `x-origin: name` header.
pub async fn start(name: &str) -> KillableOrigin {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind origin: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let hits = Arc::new(AtomicUsize::new(0));
    let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
    let task_name = name.to_string();
    let task_hits = hits.clone();
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut kill_rx => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let (name, hits) = (task_name.clone(), task_hits.clone());
                    connections.spawn(async move {
                        let service = service_fn(move |req: Request<Incoming>| {
                            hits.fetch_add(1, Ordering::Relaxed);
                            let name = name.clone();
                            async move { Ok::<_, Infallible>(answer(&name, req).await) }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        // Aborts every connection task and waits until each is gone (sockets closed).
        connections.shutdown().await;
    });
    KillableOrigin {
        addr,
        name: name.to_string(),
        hits,
        kill: Mutex::new(Some(kill_tx)),
        task: Mutex::new(Some(task)),
    }
}

async fn answer(name: &str, req: Request<Incoming>) -> Response<OriginBody> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let body_len = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().len())
        .unwrap_or(0);
    let value = serde_json::json!({
        "origin": name,
        "method": method,
        "path": path,
        "body_len": body_len,
    });
    let mut resp = Response::new(full(value.to_string()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = http::HeaderValue::from_str(name) {
        resp.headers_mut().insert("x-origin", value);
    }
    resp
}

impl KillableOrigin {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the listener and all open connections; returns once they are closed.
    pub async fn kill(&self) {
        let sender = self.kill.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for KillableOrigin {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}
