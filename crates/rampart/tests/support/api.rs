//! A blocking JSON client for the admin API, and helpers to reach the
//! rampart under test with a token.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use super::ops::{Response, read_one_response};

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
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = Vec::new();
        if !body.is_empty() || method != "GET" {
            headers.push(("Content-Type", content_type));
        }
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer.as_str()));
        }
        let response = send_http1(self.addr, method, path, &headers, body);
        let text = response.text();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        ApiReply {
            status: response.status,
            body,
            text,
        }
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), with
/// `Host` and `Content-Length` filled in; panics when nothing comes back.
pub fn send_http1(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream
        .write_all(&request)
        .unwrap_or_else(|e| panic!("send {method} {path}: {e}"));
    read_one_response(&mut stream, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no response to {method} {path}"))
}

/// The one-time admin token a fresh store prints at start.
pub fn bootstrap_token(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("admin token: "))
        .map(|t| t.trim().to_owned())
}

// Added for the api_security and api_lists tests.

/// The `id` of a created resource ("" when it has none).
pub fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// Creates the account `name`; its id.
pub fn create_account(api: &Api, name: &str) -> String {
    id(&api
        .post("/api/v1/accounts", &json!({ "name": name }))
        .expect(201))
}

/// Creates the site `name` (host `NAME.test`) in `account`; its id.
pub fn create_site(api: &Api, account: &str, name: &str, origin: &str) -> String {
    id(&api
        .post(
            &format!("/api/v1/sites?account_id={account}"),
            &json!({ "name": name, "hosts": [format!("{name}.test")], "origins": [origin] }),
        )
        .expect(201))
}

/// A new user `email` of `role` (in `account` for the account roles), and
/// an API client with a token of theirs.
pub fn person(admin: &Api, email: &str, role: &str, account: Option<&str>) -> Api {
    let user = id(&admin
        .post(
            "/api/v1/users",
            &json!({ "email": email, "name": role, "role": role, "account_id": account }),
        )
        .expect(201));
    let token = admin
        .post("/api/v1/tokens", &json!({ "name": "t", "user_id": user }))
        .expect(201);
    admin.with_token(token["secret"].as_str().unwrap_or_default())
}

/// POSTs `text` as `text/plain`.
pub fn post_text(api: &Api, path: &str, text: &str) -> ApiReply {
    api.raw("POST", path, "text/plain", text.as_bytes())
}
