//! Test harness: runs the real `rampart` binary on loopback with free ports
//! and a temporary directory, plus in-test origins and an HTTP client.
#![allow(dead_code)]

pub mod client;
pub mod origin;
// Added for the proxy_* tests.
pub mod killable;
pub mod nginx;
pub mod wire;
// Added for the cli_*, ops_* and smuggling tests.
pub mod ops;
// Added for the api_* tests.
pub mod api;
pub mod backends;
// Added for the dos_* tests that drive real attack tools.
pub mod attack;
// Added for the security_limits and security_rate_limits tests.
pub mod limits;
// The captcha widget's requests, for captcha_compat and safety_captcha.
pub mod widget;
// Rule sets for the WAF tests.
pub mod waf;
// N nodes on one PostgreSQL, for the cluster_* tests.
pub mod cluster;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rampart");

/// A port below the ephemeral range, free a moment ago (see the test kit).
pub use rampart_testkit::free_port;

pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A running `rampart serve`, killed on drop.
pub struct Rampart {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub admin: SocketAddr,
    pub access_log: PathBuf,
    pub stderr_path: PathBuf,
    env: Vec<(String, String)>,
    /// What earlier runs (before `kill_and_restart`) wrote to stderr.
    pub previous_stderr: String,
}

#[derive(Default)]
pub struct RampartBuilder {
    sites: String,
    proxy: String,
    extra: String,
    tables: String,
    http_proxy_protocol: bool,
    https_proxy_protocol: bool,
    dir: Option<tempfile::TempDir>,
    env: Vec<(String, String)>,
    node_id: Option<String>,
}

impl RampartBuilder {
    /// `node.id` ("test" unless set).
    pub fn node_id(mut self, id: &str) -> Self {
        self.node_id = Some(id.to_string());
        self
    }

    /// `[[site]]` tables (TOML text).
    pub fn sites(mut self, toml: &str) -> Self {
        self.sites.push_str(toml);
        self.sites.push('\n');
        self
    }

    /// Body of the `[proxy]` table.
    pub fn proxy(mut self, toml: &str) -> Self {
        self.proxy.push_str(toml);
        self.proxy.push('\n');
        self
    }

    /// Extra keys appended to `[node]` (e.g. `shutdown_grace = "5s"`).
    pub fn node(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// Whole tables (e.g. `[store]\nurl = "…"`), placed before the sites.
    pub fn tables(mut self, toml: &str) -> Self {
        self.tables.push_str(toml);
        self.tables.push('\n');
        self
    }

    pub fn proxy_protocol(mut self, http: bool, https: bool) -> Self {
        self.http_proxy_protocol = http;
        self.https_proxy_protocol = https;
        self
    }

    /// An environment variable for the rampart process (e.g. `SSL_CERT_FILE`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Use this directory (e.g. one holding certificates the sites refer to).
    pub fn dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    pub fn start(self) -> Rampart {
        let dir = self
            .dir
            .unwrap_or_else(|| tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")));
        let http = free_addr();
        let https = free_addr();
        let admin = free_addr();
        let access_log = dir.path().join("access.log");
        let listener = |addr: SocketAddr, pp: bool| {
            if pp {
                format!("{{ addr = \"{addr}\", proxy_protocol = true }}")
            } else {
                format!("\"{addr}\"")
            }
        };
        let config = format!(
            "[node]\nid = \"{id}\"\ndata_dir = \"data\"\n{extra}\n[listen]\nhttp = {http}\nhttps = {https}\nadmin = \"{admin}\"\n\n[log]\naccess = \"{log}\"\n\n[proxy]\n{proxy}\n{tables}\n{sites}",
            id = self.node_id.as_deref().unwrap_or("test"),
            extra = self.extra,
            http = listener(http, self.http_proxy_protocol),
            https = listener(https, self.https_proxy_protocol),
            log = access_log.display(),
            proxy = self.proxy,
            tables = self.tables,
            sites = self.sites,
        );
        let config_path = dir.path().join("rampart.toml");
        write(&config_path, &config);
        let stderr_path = dir.path().join("stderr.log");
        let child = spawn_serve(&config_path, dir.path(), &stderr_path, &self.env);
        let rampart = Rampart {
            child: Some(child),
            dir,
            config_path,
            http,
            https,
            admin,
            access_log,
            stderr_path,
            env: self.env,
            previous_stderr: String::new(),
        };
        rampart.wait_ready();
        rampart
    }
}

fn spawn_serve(config: &Path, dir: &Path, stderr_path: &Path, env: &[(String, String)]) -> Child {
    let stderr = std::fs::File::create(stderr_path)
        .unwrap_or_else(|e| panic!("create {}: {e}", stderr_path.display()));
    Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .current_dir(dir)
        .env("RAMPART_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {BIN}: {e}"))
}

impl Rampart {
    pub fn builder() -> RampartBuilder {
        RampartBuilder::default()
    }

    /// Starts with just these `[[site]]` tables.
    pub fn start(sites: &str) -> Rampart {
        Self::builder().sites(sites).start()
    }

    /// Polls the admin /healthz until it answers (readiness probe, not a sleep).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get_status(self.admin, "/healthz") == Some(200) {
                return;
            }
            if let Some(child) = &self.child
                && child.id() == 0
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("rampart did not become ready; stderr:\n{}", self.stderr());
    }

    /// Stops the server, then runs `rampart serve` on the same config in the
    /// foreground and returns its output: for starts expected to be refused.
    pub fn stop_and_serve_once(&mut self) -> Output {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("spawn {BIN}: {e}"))
    }

    /// Kills the process with SIGKILL (no chance to flush or clean up) and
    /// starts it again on the same config and data dir.
    pub fn kill_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let previous = self.stderr();
        self.child = Some(spawn_serve(
            &self.config_path,
            self.dir.path(),
            &self.stderr_path,
            &self.env,
        ));
        self.wait_ready();
        self.previous_stderr.push_str(&previous);
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("kill: {e}"));
        assert!(status.success(), "kill -{name} failed");
    }

    /// Rewrites the config file's `[[site]]` part and runs `rampart reload`.
    pub fn rewrite_sites(&self, sites: &str) {
        let current = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        let head = current
            .split("[[site]]")
            .next()
            .unwrap_or(&current)
            .to_string();
        write(&self.config_path, &format!("{head}{sites}\n"));
    }

    pub fn reload(&self) -> Output {
        Command::new(BIN)
            .args(["reload", "--config"])
            .arg(&self.config_path)
            .output()
            .unwrap_or_else(|e| panic!("rampart reload: {e}"))
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Access log lines written so far (the writer flushes every 100 ms, so
    /// this polls until `predicate` holds or 5 s pass).
    pub fn access_log_until(
        &self,
        predicate: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines: Vec<serde_json::Value> = std::fs::read_to_string(&self.access_log)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if predicate(&lines) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The access-log line of the request that got `reply` (by its ray id).
    pub fn log_line_of(&self, reply: &client::Reply) -> serde_json::Value {
        let ray = reply.ray();
        self.access_log_until(|l| l.iter().any(|l| l["ray"] == ray.as_str()))
            .into_iter()
            .find(|l| l["ray"] == ray.as_str())
            .unwrap_or_else(|| panic!("no log line for {ray}"))
    }

    /// The admin API with the token this rampart printed on its first start.
    pub fn admin_api(&self) -> api::Api {
        let token = api::bootstrap_token(&self.previous_stderr)
            .or_else(|| api::bootstrap_token(&self.stderr()))
            .unwrap_or_else(|| panic!("no admin token in stderr:\n{}", self.stderr()));
        api::Api::new(self.admin, &token)
    }

    pub fn metrics(&self) -> String {
        http_get_body(self.admin, "/metrics").unwrap_or_default()
    }
}

impl Drop for Rampart {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn write(path: &Path, text: &str) {
    let mut file =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Minimal blocking HTTP/1.0 GET for probes (no runtime needed).
pub fn http_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let raw = http_get_raw(addr, path)?;
    raw.split(' ').nth(1)?.parse().ok()
}

pub fn http_get_body(addr: SocketAddr, path: &str) -> Option<String> {
    let raw = http_get_raw(addr, path)?;
    raw.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

fn http_get_raw(addr: SocketAddr, path: &str) -> Option<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A self-signed certificate for `names`, written as PEM into `dir`.
pub fn write_cert(dir: &Path, stem: &str, names: &[&str]) -> (PathBuf, PathBuf, Vec<u8>) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let generated =
        rcgen::generate_simple_self_signed(names).unwrap_or_else(|e| panic!("rcgen: {e}"));
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}.key"));
    write(&cert, &generated.cert.pem());
    write(&key, &generated.signing_key.serialize_pem());
    (cert, key, generated.cert.der().to_vec())
}
