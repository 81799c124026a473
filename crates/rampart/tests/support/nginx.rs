//! A real nginx as an origin: one foreground process (no daemon, no master)
//! with a generated configuration, every file it writes kept in a temporary
//! directory, listening on a free loopback port; killed on drop.
//!
//! nginx is required: when it is missing the test fails and says how to
//! install it (CI's scripts/test.sh installs it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ops::required_program;
use super::{free_addr, write};

/// Where nginx is (`RAMPART_TEST_NGINX` overrides); panics with install
/// instructions when it is not there.
pub fn binary() -> PathBuf {
    std::env::var_os("RAMPART_TEST_NGINX").map_or_else(
        || required_program("nginx", "nginx", "an origin"),
        PathBuf::from,
    )
}

pub struct Nginx {
    child: Option<Child>,
    tls: bool,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

#[derive(Default)]
pub struct NginxBuilder {
    server: String,
    http2: bool,
    tls: bool,
    access_log: bool,
}

/// An nginx whose `server {}` block holds `directives` (locations etc.).
pub fn builder() -> NginxBuilder {
    NginxBuilder::default()
}

impl NginxBuilder {
    /// Directives inside `server { … }`, e.g. `location / { return 200 "hi\n"; }`.
    pub fn server(mut self, directives: &str) -> Self {
        self.server.push_str(directives);
        self.server.push('\n');
        self
    }

    /// Serve HTTP/2: with prior knowledge (h2c) on plain TCP, or offered by
    /// ALPN next to http/1.1 with [`NginxBuilder::tls`].
    pub fn http2(mut self) -> Self {
        self.http2 = true;
        self
    }

    /// Log requests to `access.log` in nginx's directory ([`Nginx::access_log`]).
    pub fn access_log(mut self) -> Self {
        self.access_log = true;
        self
    }

    /// Serve HTTPS with a self-signed certificate for localhost / 127.0.0.1.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    pub fn start(self) -> Nginx {
        let bin = binary();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let tmp = dir.path();
        let addr = free_addr();
        let mut listen = addr.to_string();
        if self.tls {
            listen.push_str(" ssl");
        }
        if self.http2 {
            listen.push_str(" http2");
        }
        let mut server = self.server;
        if self.tls {
            let (cert, key, _) = super::write_cert(tmp, "nginx", &["localhost", "127.0.0.1"]);
            server = format!(
                "ssl_certificate {};\nssl_certificate_key {};\n{server}",
                cert.display(),
                key.display()
            );
        }
        let t = tmp.display();
        let access_log = if self.access_log {
            format!("{t}/access.log")
        } else {
            "off".to_string()
        };
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {t}/error.log info;\npid {t}/nginx.pid;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {access_log};\n  default_type text/plain;\n\
             client_body_temp_path {t}/client_body;\n  proxy_temp_path {t}/proxy;\n\
             fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n\
             server {{\n    listen {listen};\n    server_name _;\n{server}  }}\n}}\n",
        );
        let config_path = tmp.join("nginx.conf");
        write(&config_path, &config);
        let stderr = std::fs::File::create(tmp.join("stderr.log"))
            .unwrap_or_else(|e| panic!("create nginx stderr log: {e}"));
        let child = Command::new(&bin)
            .arg("-p")
            .arg(tmp)
            .arg("-e")
            .arg(tmp.join("error.log"))
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let mut nginx = Nginx {
            child: Some(child),
            tls: self.tls,
            addr,
            dir,
        };
        nginx.wait_ready();
        nginx
    }
}

impl Nginx {
    /// `http://…`, or `https://…` for a TLS nginx.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// The PEM certificate a TLS nginx serves (self-signed, for localhost and
    /// 127.0.0.1): usable as the only trusted root, e.g. via `SSL_CERT_FILE`.
    pub fn cert_pem(&self) -> PathBuf {
        assert!(self.tls, "this nginx does not serve TLS");
        self.dir.path().join("nginx.pem")
    }

    /// Lines of the access log so far (see [`NginxBuilder::access_log`]).
    pub fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// nginx's error log and stderr, for failure messages.
    pub fn logs(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "error.log:\n{}\nstderr:\n{}",
            read("error.log"),
            read("stderr.log")
        )
    }

    /// Polls until the port accepts connections (readiness probe, not a sleep).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("nginx exited during start ({status}):\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nginx did not start listening on {}:\n{}",
            self.addr,
            self.logs()
        );
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
