//! A blocking JSON client for the admin API, and helpers to reach the
//! rampart under test with a token.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use super::ops::read_one_response;

/// A caller of the admin API with one bearer token (or none).
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiReply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl ApiReply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }

    /// Panics with the body unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected reply: {}", self.text);
        self.body
    }
}

impl Api {
    pub fn new(addr: SocketAddr, token: &str) -> Self {
        Self {
            addr,
            token: Some(token.to_owned()),
        }
    }

    pub fn anonymous(addr: SocketAddr) -> Self {
        Self { addr, token: None }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self::new(self.addr, token)
    }

    pub fn get(&self, path: &str) -> ApiReply {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> ApiReply {
        self.call("POST", path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> ApiReply {
        self.call("PUT", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> ApiReply {
        self.call("PATCH", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> ApiReply {
        self.call("DELETE", path, None)
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> ApiReply {
        let payload = body.map(Value::to_string).unwrap_or_default();
        self.raw(method, path, "application/json", payload.as_bytes())
    }

    /// Sends exactly these body bytes with this content type.
    pub fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> ApiReply {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if let Some(token) = &self.token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.addr));
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        stream
            .write_all(&request)
            .unwrap_or_else(|e| panic!("send {method} {path}: {e}"));
        let response = read_one_response(&mut stream, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("no response to {method} {path}"));
        let text = response.text();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        ApiReply {
            status: response.status,
            body,
            text,
        }
    }
}

/// The one-time admin token a fresh store prints at start.
pub fn bootstrap_token(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("admin token: "))
        .map(|t| t.trim().to_owned())
}
