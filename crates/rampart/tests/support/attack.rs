//! Helpers for the dos_* tests, which attack the real binary with real tools
//! (slowhttptest, wrk, Python scripts on the `h2` library): clients bound to a
//! chosen loopback source address, a per-source TCP relay, a prober that keeps
//! asking for a page while an attack runs, the kernel's view of Rampart's
//! sockets, and runners that read the tools' own reports.
//!
//! Every address in 127.0.0.0/8 is local on Linux, so a test can pose as
//! several clients by binding its sockets to 127.0.0.2, 127.0.0.3, … before
//! connecting to Rampart on 127.0.0.1.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::ops::{Response, parse_responses};

/// The flooding client in the rate-limit tests.
pub const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// A well-behaved client in the same /24 as the attacker.
pub const NEIGHBOUR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// A well-behaved client outside 127.0.0.0/24. Tools that cannot bind a source
/// address (slowhttptest) connect from 127.0.0.1, and the per-prefix
/// connection cap counts the whole /24 as one client, so a bystander that must
/// stay unaffected by the attacker's connections lives in another /24.
pub const OUTSIDER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 9, 0, 1));

/// Makes sure this process (and so the `rampart` and tool processes it starts)
/// may open `min` files: 1,000 attack connections need as many descriptors in
/// the tool and in Rampart. Raises the soft limit up to the hard one with
/// util-linux's `prlimit` if needed; fails the test if that is not enough.
pub fn ensure_fd_limit(min: u64) {
    let (soft, hard) = fd_limits();
    if soft >= min {
        return;
    }
    let target = hard.min(1 << 20);
    let pid = std::process::id().to_string();
    let _ = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={target}:{hard}")])
        .status();
    let (soft, hard) = fd_limits();
    assert!(
        soft >= min,
        "open-file limit {soft} (hard {hard}) is below the {min} this attack needs; \
         run under scripts/test.sh or `ulimit -n 65536`"
    );
}

fn fd_limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_else(|e| panic!("read /proc/self/limits: {e}"));
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-files line in /proc/self/limits"));
    let mut numbers = line
        .split_whitespace()
        .skip(3)
        .map(|v| v.parse::<u64>().unwrap_or(u64::MAX));
    let soft = numbers.next().unwrap_or(0);
    let hard = numbers.next().unwrap_or(soft);
    (soft, hard)
}

/// A TCP connection to `dst` from the local address `src`.
pub async fn connect_from(src: IpAddr, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match src {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(src, 0))?;
    let stream = socket.connect(dst).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `request` (raw HTTP/1.1 that should say `Connection: close`) from
/// `src` and reads the response until the server closes, all within `timeout`.
pub async fn exchange_from(
    src: IpAddr,
    dst: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let work = async {
        let mut stream = connect_from(src, dst)
            .await
            .map_err(|e| format!("connect from {src}: {e}"))?;
        stream
            .write_all(request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        // A reset after a complete response still leaves that response usable.
        let read = stream.read_to_end(&mut raw).await;
        match parse_responses(&raw).into_iter().next() {
            Some(response) => Ok(response),
            None => Err(format!(
                "no complete response ({read:?}) in {} bytes: {:?}",
                raw.len(),
                String::from_utf8_lossy(&raw)
            )),
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(format!("no response within {timeout:?}")))
}

/// `GET path` for `host` from `src`, on a new connection.
pub async fn get_from(
    src: IpAddr,
    dst: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
) -> Result<Response, String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    exchange_from(src, dst, request.as_bytes(), timeout).await
}

/// One request the prober made.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Since the prober started.
    pub at: Duration,
    pub took: Duration,
    pub outcome: Result<u16, String>,
}

/// A well-behaved client asking for a page every `every` on a new connection
/// while an attack runs. Sequential: a slow answer delays the next probe.
pub struct Prober {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Probe>>,
}

impl Prober {
    pub fn start(
        src: IpAddr,
        dst: SocketAddr,
        host: &str,
        path: &str,
        every: Duration,
        timeout: Duration,
    ) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let (host, path, flag) = (host.to_string(), path.to_string(), stop.clone());
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut probes = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let at = started.elapsed();
                let begin = tokio::time::Instant::now();
                let outcome = get_from(src, dst, &host, &path, timeout)
                    .await
                    .map(|r| r.status);
                probes.push(Probe {
                    at,
                    took: begin.elapsed(),
                    outcome,
                });
                tokio::time::sleep_until(begin + every).await;
            }
            probes
        });
        Prober { stop, task }
    }

    /// Stops probing and returns every probe made.
    pub async fn finish(self) -> Vec<Probe> {
        self.stop.store(true, Ordering::Relaxed);
        self.task
            .await
            .unwrap_or_else(|e| panic!("prober task: {e}"))
    }
}

/// Asserts that every probe got 200 within `within`, and that there were at
/// least `min` of them (so the attack window was really covered).
pub fn assert_all_served(probes: &[Probe], min: usize, within: Duration, during: &str) {
    let bad: Vec<&Probe> = probes
        .iter()
        .filter(|p| p.outcome != Ok(200) || p.took > within)
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} requests of a normal client failed or took over {within:?} during {during}; \
         first ones: {:?}",
        bad.len(),
        probes.len(),
        bad.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        probes.len() >= min,
        "only {} probes during {during} (wanted ≥ {min})",
        probes.len()
    );
}

/// A TCP relay for tools that cannot choose their source address (wrk):
/// whatever connects to `addr` is forwarded to `target` on a connection made
/// from `src`, so Rampart's peer address is `src`.
pub struct Relay {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(src: IpAddr, target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind relay: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("relay addr: {e}"));
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = inbound.set_nodelay(true);
                    if let Ok(mut outbound) = connect_from(src, target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay { addr, task }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// TCP connections whose server side on `listen` still holds anything in
/// the kernel, from `peer` if given: ESTABLISHED (accepted, or waiting in
/// the accept queue), CLOSE_WAIT (the client left, the server has not
/// closed), FIN_WAIT1 and CLOSING (the server closed, but its FIN waits
/// behind unsent data). The last two matter for slow readers: a server that
/// closes one gracefully leaves the unsent response in the kernel, still
/// trickling to the attacker for as long as it keeps reading, whereas an
/// abortive close (RST) frees it. This is the kernel's view, independent of
/// what Rampart reports about itself.
pub fn held_to(listen: SocketAddr, peer: Option<IpAddr>) -> usize {
    held_by_state(listen, peer).values().sum()
}

/// `held_to` by state name ("ESTABLISHED", "FIN_WAIT1", …), for messages.
pub fn held_by_state(listen: SocketAddr, peer: Option<IpAddr>) -> BTreeMap<&'static str, usize> {
    // /proc/net/tcp state codes (include/net/tcp_states.h).
    const HELD: [(&str, &str); 4] = [
        ("01", "ESTABLISHED"),
        ("04", "FIN_WAIT1"),
        ("08", "CLOSE_WAIT"),
        ("0B", "CLOSING"),
    ];
    let table = match listen {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).unwrap_or_else(|e| panic!("read {table}: {e}"));
    let mut counts = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut fields = line.split_whitespace().skip(1);
        let (Some(local), Some(remote), Some(state)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some((_, name)) = HELD.iter().find(|(code, _)| *code == state) else {
            continue;
        };
        if parse_proc_addr(local) == Some(listen)
            && peer.is_none_or(|ip| parse_proc_addr(remote).map(|a| a.ip()) == Some(ip))
        {
            *counts.entry(*name).or_insert(0) += 1;
        }
    }
    counts
}

/// Client-side sockets connected to `listen` that are still open from the
/// client's point of view: ESTABLISHED, or CLOSE_WAIT (the server's FIN
/// arrived, the client has not closed yet). A socket the server reset is in
/// neither (the kernel unhashes it at once, even while the client has not
/// yet read its way to the error), so this is how to see from the
/// attacker's side that a server aborted its connections.
pub fn client_sockets_open(listen: SocketAddr) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_else(|e| panic!("read /proc/net/tcp: {e}"));
    text.lines()
        .skip(1)
        .filter(|line| {
            let mut fields = line.split_whitespace().skip(2);
            let (Some(remote), Some(state)) = (fields.next(), fields.next()) else {
                return false;
            };
            (state == "01" || state == "08") && parse_proc_addr(remote) == Some(listen)
        })
        .count()
}

/// `0100007F:1F90` (little-endian IPv4, hex port) as in /proc/net/tcp.
fn parse_proc_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if ip.len() != 8 {
        return None; // IPv6 rows are not needed by these tests.
    }
    let raw = u32::from_str_radix(ip, 16).ok()?;
    Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::from(raw.swap_bytes())),
        port,
    ))
}

/// The sum of every sample of the metric `name` (all label sets).
pub fn metric_sum(metrics: &str, name: &str) -> i64 {
    metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
        .sum()
}

/// `rampart_connections_open` over all listeners.
pub fn connections_open(metrics: &str) -> i64 {
    metric_sum(metrics, "rampart_connections_open")
}

/// One per-second row of slowhttptest's CSV report.
#[derive(Debug, Clone, Copy)]
pub struct SlowRow {
    pub second: u32,
    pub closed: u32,
    pub pending: u32,
    pub connected: u32,
    /// slowhttptest's own probe got an answer (it writes the connection
    /// count here when the service was available, 0 when it was not).
    pub service_available: bool,
}

/// A running slowhttptest (`-g -o DIR/slowhttptest` added), killed on drop.
pub struct SlowHttpTest {
    child: Option<Child>,
    prefix: PathBuf,
    output: PathBuf,
    pub started: Instant,
}

/// What slowhttptest reported.
#[derive(Debug)]
pub struct SlowReport {
    pub rows: Vec<SlowRow>,
    /// The text after "Exit status:", e.g. "No open connections left".
    pub exit_status: String,
    /// Its whole console output, colours removed.
    pub output: String,
}

impl SlowReport {
    pub fn max_connected(&self) -> u32 {
        self.rows.iter().map(|r| r.connected).max().unwrap_or(0)
    }

    pub fn last(&self) -> Option<SlowRow> {
        self.rows.last().copied()
    }

    /// The last `n` lines of the tool's console output, for messages.
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self
            .output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl SlowHttpTest {
    pub fn spawn(dir: &Path, args: &[&str]) -> SlowHttpTest {
        let prefix = dir.join("slowhttptest");
        let output = dir.join("slowhttptest.out");
        let out = std::fs::File::create(&output)
            .unwrap_or_else(|e| panic!("create {}: {e}", output.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("clone output file: {e}"));
        let child = Command::new("slowhttptest")
            .args(args)
            .arg("-g")
            .arg("-o")
            .arg(&prefix)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("spawn slowhttptest (Debian package slowhttptest; scripts/test.sh installs it): {e}")
            });
        SlowHttpTest {
            child: Some(child),
            prefix,
            output,
            started: Instant::now(),
        }
    }

    /// True while the tool still runs (and so still holds its end of every
    /// connection Rampart has not closed).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits up to `timeout` for the tool to end by itself, stops it
    /// otherwise, and reads its report.
    pub fn finish(mut self, timeout: Duration) -> SlowReport {
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + timeout;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let output = strip_ansi(&std::fs::read_to_string(&self.output).unwrap_or_default());
        let csv_path = self.prefix.with_extension("csv");
        let csv = std::fs::read_to_string(&csv_path).unwrap_or_default();
        let rows = csv
            .lines()
            .skip(1)
            .filter_map(|line| {
                let v: Vec<u32> = line
                    .split(',')
                    .map(|f| f.trim().parse().ok())
                    .collect::<Option<_>>()?;
                match v.as_slice() {
                    [second, closed, pending, connected, available] => Some(SlowRow {
                        second: *second,
                        closed: *closed,
                        pending: *pending,
                        connected: *connected,
                        service_available: *available > 0,
                    }),
                    _ => None,
                }
            })
            .collect();
        let exit_status = output
            .lines()
            .find_map(|l| l.trim().strip_prefix("Exit status:"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        SlowReport {
            rows,
            exit_status,
            output,
        }
    }
}

impl Drop for SlowHttpTest {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Removes ANSI colour sequences (`ESC [ … m`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What one wrk run reported.
#[derive(Debug, Default)]
pub struct WrkReport {
    /// "N requests in …".
    pub requests: u64,
    /// "Non-2xx or 3xx responses: N" (0 when wrk printed no such line).
    pub non_2xx: u64,
    /// Per status, from `tests/tools/wrk_statuses.lua`.
    pub statuses: BTreeMap<u16, u64>,
    /// 429 responses without a Retry-After header, from the same script.
    pub limited_without_retry_after: u64,
    pub output: String,
}

/// The directory of the test tools (`crates/rampart/tests/tools`).
pub fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools")
}

/// Runs `wrk -t threads -c connections -d duration` on `url` with `Host: host`
/// and the status-counting Lua script, and parses its summary.
pub async fn wrk(
    url: &str,
    host: &str,
    threads: u32,
    connections: u32,
    duration: Duration,
) -> WrkReport {
    let script = tools_dir().join("wrk_statuses.lua");
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .args(["-H", &format!("Host: {host}")])
        .arg("-s")
        .arg(&script)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("run wrk (Debian package wrk): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "wrk failed:\n{text}");
    let mut report = WrkReport::default();
    for line in text.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            report.non_2xx = n.trim().parse().unwrap_or(0);
        } else if let Some((n, _)) = line.split_once(" requests in ") {
            report.requests = n.trim().parse().unwrap_or(0);
        } else if let Some((code, n)) = line
            .strip_prefix("status ")
            .and_then(|rest| rest.split_once(' '))
        {
            if let (Ok(code), Ok(n)) = (code.parse(), n.trim().parse()) {
                report.statuses.insert(code, n);
            }
        } else if let Some(n) = line.strip_prefix("limited_without_retry_after ") {
            report.limited_without_retry_after = n.trim().parse().unwrap_or(0);
        }
    }
    report.output = text;
    report
}

/// A Python 3 that can `import h2` (Debian's python3-h2 is PyPI's `h2`):
/// `python3` on PATH first, then Debian's own interpreter, which a version
/// manager (pyenv) may shadow on PATH.
pub fn python_with_h2() -> PathBuf {
    for candidate in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import h2, hyperframe, hpack"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "no python3 with the h2 library (Debian package python3-h2; scripts/test.sh installs it)"
    )
}

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
pub async fn poll_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
