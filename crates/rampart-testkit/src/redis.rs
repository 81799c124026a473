//! A throwaway redis-server (Debian's `redis-server` package) on a free
//! loopback port, for the cluster's shared tier.
//!
//! Like [`crate::Postgres`], the server runs under a small bash supervisor
//! that kills it when the test process closes the supervisor's stdin: on
//! drop, on [`RedisServer::stop`], or when the test process dies in any way.
//! [`RedisServer::stop`] and [`RedisServer::restart`] let a test take the
//! server away mid-run and bring it back on the same port (empty: nothing
//! is persisted, as after a crash of a cache-only Redis).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts redis-server, waits for stdin to close or the server to exit,
/// then kills it with SIGKILL (a crash, not a graceful shutdown).
const SUPERVISOR: &str = r#"
exec 3<&0
"$@" >>"$RAMPART_REDIS_LOG" 2>&1 </dev/null &
srv=$!
cat <&3 >/dev/null &
reader=$!
wait -n -p done "$srv" "$reader"
if [ "$done" = "$srv" ]; then
    kill "$reader" 2>/dev/null
    exit 1
fi
exec 2>/dev/null
kill -KILL "$srv"
wait "$srv"
exit 0
"#;

const READY_DEADLINE: Duration = Duration::from_secs(20);

/// A running (or stopped) redis-server of the test's own.
pub struct RedisServer {
    port: u16,
    args: Vec<String>,
    /// A sentinel's config file (redis-server reads it first and rewrites it).
    sentinel_conf: bool,
    dir: tempfile::TempDir,
    running: Option<Supervised>,
}

struct Supervised {
    stdin: Option<ChildStdin>,
    child: Child,
}

impl Supervised {
    fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl RedisServer {
    /// Starts a server on a free port; returns once it answers PING.
    /// Panics when `redis-server` is missing (`apt-get install redis-server`).
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// [`RedisServer::start`] with extra `redis-server` arguments, e.g.
    /// `["--cluster-enabled", "yes"]` for a node of a Redis Cluster.
    pub fn start_with(args: &[&str]) -> RedisServer {
        let mut dir = tempfile::Builder::new()
            .prefix("rampart-redis-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        for _ in 0..5 {
            let port = crate::free_port();
            let mut server = RedisServer {
                port,
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                sentinel_conf: false,
                dir,
                running: None,
            };
            match server.launch() {
                Ok(()) => return server,
                Err(log) if log.contains("Address already in use") => {
                    dir = server.into_dir();
                    continue;
                }
                Err(log) => panic!("redis-server did not start:\n{log}"),
            }
        }
        panic!("redis-server could not bind a free port in 5 attempts");
    }

    fn into_dir(mut self) -> tempfile::TempDir {
        if let Some(s) = self.running.take() {
            s.stop();
        }
        let placeholder = tempfile::Builder::new()
            .prefix("rampart-redis-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        std::mem::replace(&mut self.dir, placeholder)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn launch(&mut self) -> Result<(), String> {
        let bin = find_server();
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(SUPERVISOR)
            .arg("rampart-redis-supervisor")
            .arg(&bin);
        if self.sentinel_conf {
            cmd.arg(self.dir.path().join("sentinel.conf"))
                .arg("--sentinel");
        }
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--protected-mode", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(if self.sentinel_conf {
                &[][..]
            } else {
                &["--save", "", "--appendonly", "no"][..]
            })
            .args(&self.args)
            .env("RAMPART_REDIS_LOG", self.log_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start bash to supervise redis-server: {e}"));
        let stdin = child.stdin.take();
        let mut supervised = Supervised { stdin, child };
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Ok(Some(_)) = supervised.child.try_wait() {
                return Err(std::fs::read_to_string(self.log_path()).unwrap_or_default());
            }
            if ping(self.port) {
                self.running = Some(supervised);
                return Ok(());
            }
            if Instant::now() >= deadline {
                supervised.stop();
                return Err(format!(
                    "redis-server on port {} not ready after {READY_DEADLINE:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A Sentinel on a free port watching `master` under `name` (quorum 1).
    pub fn start_sentinel(master: &RedisServer, name: &str) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("rampart-sentinel-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let conf = format!(
            "sentinel monitor {name} 127.0.0.1 {} 1\nsentinel down-after-milliseconds {name} 1000\nsentinel resolve-hostnames yes\n",
            master.port()
        );
        std::fs::write(dir.path().join("sentinel.conf"), conf)
            .unwrap_or_else(|e| panic!("cannot write sentinel.conf: {e}"));
        let mut server = RedisServer {
            port: crate::free_port(),
            args: Vec::new(),
            sentinel_conf: true,
            dir,
            running: None,
        };
        if let Err(log) = server.launch() {
            panic!("redis sentinel did not start:\n{log}");
        }
        server
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The directory holding the server's log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (SIGKILL); connections to the port are refused
    /// once this returns. Stopping a stopped server does nothing.
    pub fn stop(&mut self) {
        if let Some(s) = self.running.take() {
            s.stop();
        }
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Starts the server again on the same port (stopping it first if it
    /// runs), empty. Panics if it does not come back.
    pub fn restart(&mut self) {
        self.stop();
        // The kernel may hold the port a moment after the kill.
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            match self.launch() {
                Ok(()) => return,
                Err(log) if log.contains("Address already in use") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(log) => panic!("redis-server did not restart on port {}:\n{log}", self.port),
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a server on `port` answers PING.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn find_server() -> PathBuf {
    for candidate in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("redis-server not found: apt-get install redis-server")
}
