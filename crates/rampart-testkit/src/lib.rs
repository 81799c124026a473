//! Helpers for tests: a throwaway PostgreSQL server from the distribution's
//! packages, and free loopback ports.
//!
//! Dev-only; panics instead of returning errors, because a test that cannot
//! set up its fixture has nothing better to do.
#![forbid(unsafe_code)]

pub mod redis;

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A port that was free a moment ago, for a listener the test hands to a
/// server it starts.
///
/// Ports come from below the kernel's ephemeral range (32768 and up on
/// Linux): a port the OS handed out as a client's source port can never be
/// taken from under us. Each process starts at its own offset, so concurrent
/// test binaries rarely even try the same port.
pub fn free_port() -> u16 {
    const FIRST: u32 = 10_000;
    const LAST: u32 = 32_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = LAST - FIRST;
    let seed = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (seed + step) % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {LAST}");
}

/// Supervises postgres: starts it, waits until either it exits or the test
/// process closes our stdin (dropping `Postgres`, or exiting — also by
/// SIGKILL or abort, when no destructor runs), then stops it with a fast
/// shutdown (SIGINT: SIGTERM would wait for clients to disconnect) and
/// removes the directory. If postgres stopped on its own, the directory stays
/// for the test process to read the log.
const SUPERVISOR: &str = r#"
exec 3<&0
"$@" >"$RAMPART_PG_LOG" 2>&1 </dev/null &
pg=$!
cat <&3 >/dev/null &
reader=$!
wait -n -p done "$pg" "$reader"
if [ "$done" = "$pg" ]; then
    kill "$reader" 2>/dev/null
    exit 1
fi
kill -INT "$pg" 2>/dev/null
wait "$pg"
rm -rf "$RAMPART_PG_DIR"
"#;

/// The server's output, in its directory.
const LOG_FILE: &str = "postgres.log";

/// How long postgres may take to accept connections after starting.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A PostgreSQL server of its own in a temporary directory, listening on
/// 127.0.0.1 with trust authentication for user `rampart`. Stopped and
/// removed on drop, or when the test process exits (so it can live in a
/// `static`).
pub struct Postgres {
    port: u16,
    bin: PathBuf,
    /// Closing this tells the supervisor to stop postgres.
    supervisor_stdin: Option<ChildStdin>,
    supervisor: Child,
    dir: Option<tempfile::TempDir>,
    next_db: AtomicU32,
}

impl Postgres {
    /// Initialises and starts a server; returns once it accepts connections.
    ///
    /// Panics when the server binaries are missing (`apt-get install
    /// postgresql`) or the server does not come up.
    pub fn start() -> Postgres {
        let bin = find_bin_dir();
        let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let dir = tempfile::Builder::new()
            .prefix("rampart-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        if as_root {
            // postgres refuses to run as root; the postgres system user, which
            // the Debian package creates, owns the cluster instead.
            let (uid, gid) = postgres_ids();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("cannot chown {}: {e}", dir.path().display()));
        }
        let data = dir.path().join("data");
        let mut initdb = command(as_root, &bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "rampart", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync");
        run_checked(&mut initdb, "initdb");

        // A port that was free when picked can be taken before postgres binds
        // it; then postgres exits and we try another.
        for _ in 0..5 {
            let port = free_port();
            let mut supervisor = start_supervised(as_root, &bin, dir.path(), &data, port);
            match wait_ready(&bin, dir.path(), port, &mut supervisor) {
                Ok(()) => {
                    return Postgres {
                        port,
                        bin,
                        supervisor_stdin: supervisor.stdin.take(),
                        supervisor,
                        dir: Some(dir),
                        next_db: AtomicU32::new(0),
                    };
                }
                Err(log) if log.contains("could not bind") || log.contains("already in use") => {
                    continue;
                }
                Err(log) => panic!("postgres did not start:\n{log}"),
            }
        }
        panic!("postgres could not bind a free port in 5 attempts");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server with a fast shutdown (clients are disconnected, as
    /// when a database goes away) and keeps its directory, so
    /// [`Postgres::start_again`] brings the same data back on the same port.
    pub fn stop(&mut self) {
        let data = self.dir().join("data");
        let pid = std::fs::read_to_string(data.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(str::trim).map(str::to_owned))
            .unwrap_or_else(|| panic!("postgres on port {} is not running", self.port));
        run_checked(
            Command::new("kill").args(["-INT", &pid]),
            "kill -INT postgres",
        );
        // The supervisor exits once postgres has, leaving the directory.
        let _ = self.supervisor.wait();
        drop(self.supervisor_stdin.take());
    }

    /// Starts the server [`Postgres::stop`] stopped, on the same port and
    /// data; returns once it accepts connections.
    pub fn start_again(&mut self) {
        let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let dir = self.dir().to_path_buf();
        let mut supervisor =
            start_supervised(as_root, &self.bin, &dir, &dir.join("data"), self.port);
        if let Err(log) = wait_ready(&self.bin, &dir, self.port, &mut supervisor) {
            panic!("postgres did not start again on port {}:\n{log}", self.port);
        }
        self.supervisor_stdin = supervisor.stdin.take();
        self.supervisor = supervisor;
    }

    /// The server's directory: cluster, socket and `postgres.log`.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// The URL of database `db` on this server.
    pub fn url_for(&self, db: &str) -> String {
        format!("postgres://rampart@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a fresh, empty database and returns its URL. For tokio tests.
    pub async fn create_database(&self) -> String {
        let (name, cmd) = self.createdb();
        let output = tokio::process::Command::from(cmd)
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run createdb: {e}"));
        check_output(&output, "createdb");
        self.url_for(&name)
    }

    /// Creates a fresh, empty database and returns its URL. For plain tests.
    pub fn create_database_blocking(&self) -> String {
        let (name, mut cmd) = self.createdb();
        run_checked(&mut cmd, "createdb");
        self.url_for(&name)
    }

    fn createdb(&self) -> (String, Command) {
        let name = format!("db{}", self.next_db.fetch_add(1, Ordering::Relaxed));
        let mut cmd = Command::new(self.bin.join("createdb"));
        cmd.args(["-h", "127.0.0.1", "-U", "rampart", "-p"])
            .arg(self.port.to_string())
            .arg(&name);
        (name, cmd)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // EOF on the supervisor's stdin: it stops postgres and removes the
        // directory; wait so the server is gone when drop returns.
        drop(self.supervisor_stdin.take());
        let _ = self.supervisor.wait();
        // Normally already removed; this covers a supervisor that failed.
        drop(self.dir.take());
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with a server in it.
fn find_bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version: u32 = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                let complete = ["initdb", "postgres", "pg_isready", "createdb"]
                    .iter()
                    .all(|b| bin.join(b).is_file());
                complete.then_some((version, bin))
            })
            .max_by_key(|(version, _)| *version)
    });
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; \
             install them with `apt-get install postgresql` (scripts/test.sh does)"
        ),
    }
}

/// uid and gid of the `postgres` system user, from /etc/passwd.
fn postgres_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            if fields.next()? != "postgres" {
                return None;
            }
            let _password = fields.next()?;
            Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
        })
        .unwrap_or_else(|| {
            panic!(
                "running as root needs the 'postgres' system user to own the test server; \
                 `apt-get install postgresql` creates it"
            )
        })
}

/// `program`, as the postgres user when we are root. `setpriv` (unlike
/// `runuser`) execs rather than forks, so signals reach postgres directly.
fn command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn start_supervised(as_root: bool, bin: &Path, dir: &Path, data: &Path, port: u16) -> Child {
    let server = command(as_root, &bin.join("postgres"));
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(SUPERVISOR)
        .arg("rampart-pg-supervisor")
        .arg(server.get_program())
        .args(server.get_args())
        .arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=300",
        ])
        .env("RAMPART_PG_LOG", dir.join(LOG_FILE))
        .env("RAMPART_PG_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot start bash to supervise postgres: {e}"))
}

/// Polls until postgres accepts connections. `Err` carries the server log
/// when it exited instead.
fn wait_ready(bin: &Path, dir: &Path, port: u16, supervisor: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Ok(Some(_)) = supervisor.try_wait() {
            return Err(std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default());
        }
        let ready = Command::new(bin.join("pg_isready"))
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "rampart",
                "-d",
                "postgres",
                "-t",
                "1",
                "-p",
            ])
            .arg(port.to_string())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "postgres on port {port} not ready after {READY_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_checked(cmd: &mut Command, what: &str) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    check_output(&output, what);
}

fn check_output(output: &std::process::Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
