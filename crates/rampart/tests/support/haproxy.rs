//! A real HAProxy in front of rampart nodes, as a deployment puts a TCP
//! load balancer before its edges: `mode tcp`, round robin, an HTTP health
//! check of each node's admin `/healthz`, and a stats page the test reads
//! to know when HAProxy sees a node down or up. One foreground process,
//! its files in a temporary directory, killed on drop.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::ops::{http_call, required_program, wait_until};
use super::{free_addr, write};

/// A node behind the balancer: where traffic goes and where it is checked.
pub struct Backend {
    pub name: String,
    pub traffic: SocketAddr,
    pub health: SocketAddr,
}

pub struct Haproxy {
    child: Child,
    pub addr: SocketAddr,
    stats: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Haproxy {
    /// Checks every 100 ms; one failed check takes a node out, two passed
    /// ones put it back.
    pub fn start(backends: &[Backend]) -> Haproxy {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let addr = free_addr();
        let stats = free_addr();
        let servers: String = backends
            .iter()
            .map(|b| {
                format!(
                    "  server {} {} check port {}\n",
                    b.name,
                    b.traffic,
                    b.health.port()
                )
            })
            .collect();
        let config = format!(
            "global\n  maxconn 4000\n\
             defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  \
             timeout check 1s\n  retries 3\n  option redispatch\n\
             listen edge\n  bind {addr}\n  balance roundrobin\n  option httpchk GET /healthz\n  \
             http-check expect status 200\n  \
             default-server inter 100ms fastinter 100ms downinter 100ms fall 1 rise 2\n{servers}\
             listen stats\n  bind {stats}\n  mode http\n  timeout client 5s\n  stats enable\n  \
             stats uri /stats\n"
        );
        let config_path = dir.path().join("haproxy.cfg");
        write(&config_path, &config);
        let log = std::fs::File::create(dir.path().join("haproxy.log"))
            .unwrap_or_else(|e| panic!("create haproxy log: {e}"));
        let child = Command::new(required_program("haproxy", "haproxy", "the load balancer"))
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn haproxy: {e}"));
        let haproxy = Haproxy {
            child,
            addr,
            stats,
            dir,
        };
        assert!(
            wait_until(Duration::from_secs(10), || !haproxy.states().is_empty()),
            "haproxy did not start: {}",
            haproxy.log()
        );
        haproxy
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }

    /// `(server, status)` of every node, status as HAProxy says it
    /// (`UP`, `DOWN`, `UP 1/2` while rising, …).
    pub fn states(&self) -> Vec<(String, String)> {
        let Some((200, csv)) = http_call(self.stats, "GET", "/stats;csv") else {
            return Vec::new();
        };
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (Some(proxy), Some(server), Some(status)) =
            (column("pxname"), column("svname"), column("status"))
        else {
            return Vec::new();
        };
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|f| f.get(proxy) == Some(&"edge"))
            .filter_map(|f| Some((f.get(server)?.to_string(), f.get(status)?.to_string())))
            .filter(|(name, _)| name != "FRONTEND" && name != "BACKEND")
            .collect()
    }

    /// Waits until HAProxy reports `server` exactly `status`.
    pub fn wait_state(&self, server: &str, status: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.states()
                .iter()
                .any(|(name, s)| name == server && s == status)
        })
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
