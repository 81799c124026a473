//! The dashboard from a client's side: a small cookie-keeping HTTP client
//! for form posts, and a real headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`).
//!
//! Included with `#[path]` by the dashboard tests only, so other test
//! binaries do not link the WebDriver client.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::support::api::{Api, id, send_http1};
use crate::support::free_port;
use crate::support::ops::Response;

/// A browser-like HTTP/1.1 client for the admin listener: keeps the cookies
/// the dashboard sets and sends them back; no redirects followed.
pub struct Web {
    pub addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
    /// Sent as `Origin` on POSTs when set.
    pub origin: Option<String>,
}

impl Web {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cookies: BTreeMap::new(),
            origin: Some(format!("http://{addr}")),
        }
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, &[], &[])
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_with(path, fields, &[])
    }

    pub fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let body = serde_urlencoded::to_string(fields).unwrap_or_default();
        let mut all: Vec<(&str, &str)> =
            vec![("Content-Type", "application/x-www-form-urlencoded")];
        let origin = self.origin.clone();
        if let Some(origin) = &origin
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("origin"))
        {
            all.push(("Origin", origin));
        }
        all.extend_from_slice(headers);
        self.send("POST", path, &all, body.as_bytes())
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let cookie = jar.join("; ");
        let mut all = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("Cookie", cookie.as_str()));
        }
        let response = send_http1(self.addr, method, path, &all, body);
        for set in response.headers_named("set-cookie") {
            let pair = set.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let expired = set.to_ascii_lowercase().contains("max-age=0");
                if expired || value.is_empty() {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        response
    }

    /// Signs in with an API token through the form; panics unless it works.
    pub fn sign_in_with_token(&mut self, token: &str) {
        let page = self.get("/login");
        let csrf = csrf_of(&page.text());
        let reply = self.post(
            "/login",
            &[("csrf", &csrf), ("method", "token"), ("token", token)],
        );
        assert_eq!(reply.status, 303, "sign-in failed: {}", reply.text());
        assert!(self.cookies.contains_key("rampart_session"));
    }

    /// The CSRF token of the page at `path`.
    pub fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        csrf_of(&page.text())
    }

    /// Posts `fields` to `action` with the CSRF token of the form's `page`.
    pub fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf(page);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all)
    }

    /// A client signed in as a new user created through the API with `user`
    /// (`{"email", "name", "role", "account_id"}`).
    pub fn signed_in_as(admin_addr: SocketAddr, admin: &Api, user: serde_json::Value) -> Self {
        let user = id(&admin.post("/api/v1/users", &user).expect(201));
        let token = admin
            .post("/api/v1/tokens", &json!({ "name": "web", "user_id": user }))
            .expect(201);
        let mut web = Self::new(admin_addr);
        web.sign_in_with_token(token["secret"].as_str().unwrap_or_default());
        web
    }
}

/// The message shown next to the form field `field` (`id="f-FIELD-error"`),
/// or "" when there is none.
pub fn field_error(html: &str, field: &str) -> String {
    let marker = format!("id=\"f-{field}-error\"");
    html.split_once(&marker)
        .and_then(|(_, rest)| rest.split("</p>").next())
        .unwrap_or_default()
        .to_owned()
}

/// The first `name="csrf"` hidden field's value in `html`.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    html.split_once(marker)
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or_else(|| panic!("no csrf field in:\n{html}"))
        .to_owned()
}

/// Chromium under chromedriver, both ended on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

impl Browser {
    /// Whether the Debian packages are installed (`scripts/test.sh` installs them).
    pub fn available() -> bool {
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
    }

    pub async fn start() -> Browser {
        let port = free_port();
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let log = profile.path().join("chromedriver.log");
        let driver = Command::new(CHROMEDRIVER)
            // Its own process group: Drop ends Chromium with it.
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        wait_driver_ready(&url).await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-default-apps",
                    "--disable-sync",
                    "--no-first-run",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "webdriver session: {e}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn path(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("current url: {e}"));
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        format!("{}{query}", url.path())
    }

    /// Sizes the window to `width` and the page's full height, then saves a
    /// PNG as `dir/name.png`.
    pub async fn screenshot(&self, dir: &Path, width: u32, name: &str) -> PathBuf {
        // The window includes the browser's own frame: grow it until the
        // viewport holds the whole document.
        let mut height = 900;
        for _ in 0..3 {
            self.client
                .set_window_size(width, height)
                .await
                .unwrap_or_else(|e| panic!("resize: {e}"));
            let sizes = self
                .client
                .execute(
                    "return [document.documentElement.scrollHeight, window.innerHeight]",
                    vec![],
                )
                .await
                .unwrap_or_else(|e| panic!("page height: {e}"));
            let number = |i: usize| sizes.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
            let (document, viewport) = (number(0), number(1));
            if document <= viewport || height >= 6000 {
                break;
            }
            let more = u32::try_from(document - viewport).unwrap_or(0);
            height = (height + more).min(6000);
        }
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// Kills chromedriver's whole process group, so that a test that
    /// panicked before ending its session leaves no Chromium behind.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Polls chromedriver's `/status` until it reports ready.
async fn wait_driver_ready(url: &str) {
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("driver address {url}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some((200, body)) = crate::support::ops::http_call(addr, "GET", "/status")
            && body.contains("\"ready\":true")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver at {url} did not become ready");
}

// Added for the challenge tests (challenge_browser.rs).
impl Browser {
    /// Like [`Browser::start`], with more Chromium flags and profile
    /// preferences (`goog:chromeOptions.prefs`), e.g.
    /// `{"profile.managed_default_content_settings.javascript": 2}` for a
    /// browser with JavaScript turned off.
    pub async fn start_with(extra_args: &[&str], prefs: serde_json::Value) -> Browser {
        let port = free_port();
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let log = profile.path().join("chromedriver.log");
        let driver = Command::new(CHROMEDRIVER)
            // Its own process group: Drop ends Chromium with it.
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        wait_driver_ready(&url).await;
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra_args.iter().map(|s| (*s).to_owned()));
        args.push(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "binary": CHROMIUM, "args": args, "prefs": prefs }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "webdriver session: {e}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The value of `css`'s attribute `name`, if the element and the
    /// attribute exist.
    pub async fn attr_of(&self, css: &str, name: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.attr(name).await.ok().flatten()
    }
}
