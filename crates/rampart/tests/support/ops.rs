//! Helpers for the cli_*, ops_* and smuggling tests: running the binary,
//! polling, and blocking byte-level HTTP/1 over std sockets that tells a clean
//! close (EOF) apart from a reset or a connection left open.

use std::ffi::OsStr;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

/// Runs `rampart ARGS` to completion (stdin closed) and returns its output.
pub fn run_rampart<I, S>(args: I, cwd: &Path) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"))
}

/// `Output` as text for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Polls `check` every 10 ms until it holds or `timeout` passes; returns
/// whether it held.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when a TCP connect to `addr` is actively refused (nobody listens).
pub fn connection_refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// Waits for a child process to exit, up to `timeout`.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How a connection ended from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The server closed its side cleanly (read returned 0).
    Eof,
    /// The server reset the connection.
    Reset,
    /// Nothing more arrived and the connection stayed open.
    TimedOut,
}

/// Everything one connection received.
#[derive(Debug)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub ending: Ending,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The responses in the stream, in order (a trailing partial one is left out).
    pub fn responses(&self) -> Vec<Response> {
        parse_responses(&self.bytes)
    }
}

/// One HTTP/1.x response parsed off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Connects, writes `request` in one go (write errors are ignored: the server
/// may close early) and reads until the server closes, resets, or nothing
/// arrives for `timeout`.
pub fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Received {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = stream.set_nodelay(true);
    let _ = stream.write_all(request);
    read_to_end(&mut stream, timeout)
}

/// Reads until EOF, reset, or `idle` without a byte.
pub fn read_to_end(stream: &mut TcpStream, idle: Duration) -> Received {
    let _ = stream.set_read_timeout(Some(idle));
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let ending = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break Ending::Eof,
            Ok(n) => bytes.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break Ending::TimedOut;
            }
            Err(_) => break Ending::Reset,
        }
    };
    Received { bytes, ending }
}

/// Reads exactly one response (by its framing) and leaves the connection open.
pub fn read_one_response(stream: &mut TcpStream, timeout: Duration) -> Option<Response> {
    let _ = stream.set_read_timeout(Some(timeout));
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some((response, _)) = parse_one(&bytes) {
            return Some(response);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => bytes.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// Parses consecutive responses; stops at the first incomplete one.
pub fn parse_responses(mut data: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some((response, used)) = parse_one(data) {
        out.push(response);
        data = data.get(used..).unwrap_or_default();
    }
    out
}

/// One complete response at the start of `data` and the bytes it took.
/// Responses without Content-Length or chunking run to the end of `data`.
fn parse_one(data: &[u8]) -> Option<(Response, usize)> {
    let end = data.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(data.get(..end)?).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?.to_string();
    if !status_line.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let rest = data.get(end + 4..)?;
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    let (body, used) = if no_body {
        (Vec::new(), 0)
    } else if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().ends_with("chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        (rest.get(..len)?.to_vec(), len)
    } else {
        (rest.to_vec(), rest.len())
    };
    Some((
        Response {
            status_line,
            status,
            headers,
            body,
        },
        end + 4 + used,
    ))
}

fn dechunk(data: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = data.get(pos..)?;
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(rest.get(..line_end)?).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        pos += line_end + 2;
        if size == 0 {
            // Trailer fields, then the empty line.
            loop {
                let rest = data.get(pos..)?;
                let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
                pos += line_end + 2;
                if line_end == 0 {
                    return Some((out, pos));
                }
            }
        }
        out.extend_from_slice(data.get(pos..pos + size)?);
        pos += size;
        if data.get(pos..pos + 2)? != b"\r\n" {
            return None;
        }
        pos += 2;
    }
}

/// A blocking HTTP/1.1 request with `Connection: close` (for the admin
/// listener): status and body, or `None` when the listener is unreachable.
pub fn http_call(addr: SocketAddr, method: &str, path: &str) -> Option<(u16, String)> {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let received = read_to_end(&mut stream, Duration::from_secs(30));
    let response = received.responses().into_iter().next()?;
    Some((response.status, response.text()))
}

/// `(line, col)`, 1-based, of the first occurrence of `needle` in `text`
/// (column in characters), the way config diagnostics count.
pub fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Kills and reaps a child on drop (for processes a test spawns itself).
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends a signal (`"TERM"`, `"HUP"`, ...) to a process by id.
pub fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// A peer program the test needs: the Debian locations first (`/usr/sbin`
/// is not on every PATH), then PATH. Panics with how to install it, since
/// these tests run the real program rather than skip.
pub fn required_program(program: &str, package: &str, purpose: &str) -> PathBuf {
    let known = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program));
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    known
        .chain(on_path)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} is not installed, and this test runs it as {purpose}. Install it \
             (Debian/Ubuntu: `apt-get install -y {package}`; scripts/test.sh does this for CI)."
            )
        })
}

/// Whether an executable is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
