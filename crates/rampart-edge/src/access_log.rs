//! JSON-lines access log. Request handlers append to an in-memory buffer; a
//! writer thread drains it. The data plane never waits on disk or a slow
//! stdout: when the writer falls behind past a bound, lines are dropped and
//! counted instead.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use rampart_config::AccessLogTarget;

use crate::metrics::Metrics;
use crate::ray::RayId;

/// Above this much unwritten log, new lines are dropped.
const MAX_PENDING: usize = 16 * 1024 * 1024;
const FLUSH_EVERY: Duration = Duration::from_millis(100);

pub struct AccessLogRecord<'a> {
    pub ray: RayId,
    pub site: &'a str,
    pub client_ip: IpAddr,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub protocol: &'a str,
    pub tls: bool,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub origin: Option<&'a str>,
    pub origin_status: Option<u16>,
    pub attempts: u32,
    pub duration: Duration,
    pub origin_duration: Option<Duration>,
    pub user_agent: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The security rule that decided (or the last that hit) and its
    /// action: `rule` and `action` in the line.
    pub rule: Option<(&'a str, &'a str)>,
    /// Every rule that hit, in order (`rules`, written when more than one).
    pub rules_hit: &'a [&'a str],
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    closed: bool,
}

/// Cheap to clone; all clones feed the same writer thread.
#[derive(Clone)]
pub struct AccessLog {
    shared: Option<Arc<Shared>>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    #[error("cannot open access log {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the access log writer: {0}")]
    Thread(std::io::Error),
}

impl AccessLog {
    pub fn disabled(metrics: Arc<Metrics>) -> Self {
        Self {
            shared: None,
            metrics,
        }
    }

    pub fn start(target: &AccessLogTarget, metrics: Arc<Metrics>) -> Result<Self, AccessLogError> {
        let sink: Box<dyn Write + Send> = match target {
            AccessLogTarget::Off => return Ok(Self::disabled(metrics)),
            AccessLogTarget::Stdout => Box::new(std::io::stdout()),
            AccessLogTarget::File(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| AccessLogError::Open {
                        path: path.clone(),
                        source,
                    })?;
                Box::new(file)
            }
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let writer_shared = shared.clone();
        std::thread::Builder::new()
            .name("rampart-access-log".into())
            .spawn(move || writer_loop(&writer_shared, sink))
            .map_err(AccessLogError::Thread)?;
        Ok(Self {
            shared: Some(shared),
            metrics,
        })
    }

    pub fn enabled(&self) -> bool {
        self.shared.is_some()
    }

    pub fn write(&self, record: &AccessLogRecord<'_>) {
        let Some(shared) = &self.shared else { return };
        let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.buf.len() > MAX_PENDING {
            drop(pending);
            self.metrics
                .access_log_dropped
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        format_record(&mut pending.buf, record);
    }

    /// Writes out everything logged so far; used at shutdown.
    pub fn close(&self) {
        if let Some(shared) = &self.shared {
            let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.closed = true;
            shared.wake.notify_all();
            // Wait (bounded) for the writer to drain.
            let _ = shared
                .wake
                .wait_timeout_while(pending, Duration::from_secs(2), |p| !p.buf.is_empty());
        }
    }
}

fn writer_loop(shared: &Shared, mut sink: Box<dyn Write + Send>) {
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let closed = {
            let pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            let (mut pending, _) = shared
                .wake
                .wait_timeout_while(pending, FLUSH_EVERY, |p| !p.closed)
                .unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut out, &mut pending.buf);
            pending.closed
        };
        if !out.is_empty() {
            // A failing sink must not take the edge down; lines are lost instead.
            let _ = sink.write_all(&out);
            let _ = sink.flush();
            out.clear();
        }
        if closed {
            shared.wake.notify_all();
            return;
        }
    }
}

fn format_record(buf: &mut Vec<u8>, r: &AccessLogRecord<'_>) {
    let mut num = itoa::Buffer::new();
    buf.extend_from_slice(b"{\"ts\":\"");
    write_timestamp(buf, SystemTime::now());
    buf.extend_from_slice(b"\",\"ray\":\"");
    buf.extend_from_slice(&r.ray.as_hex());
    buf.extend_from_slice(b"\",\"site\":");
    json_str(buf, r.site);
    buf.extend_from_slice(b",\"client_ip\":\"");
    let _ = write!(buf, "{}", r.client_ip);
    buf.extend_from_slice(b"\",\"method\":");
    json_str(buf, r.method);
    buf.extend_from_slice(b",\"host\":");
    json_str(buf, r.host);
    buf.extend_from_slice(b",\"path\":");
    json_str(buf, r.path);
    buf.extend_from_slice(b",\"protocol\":");
    json_str(buf, r.protocol);
    buf.extend_from_slice(if r.tls {
        b",\"tls\":true"
    } else {
        b",\"tls\":false"
    });
    buf.extend_from_slice(b",\"status\":");
    buf.extend_from_slice(num.format(r.status).as_bytes());
    buf.extend_from_slice(b",\"bytes_in\":");
    buf.extend_from_slice(num.format(r.bytes_in).as_bytes());
    buf.extend_from_slice(b",\"bytes_out\":");
    buf.extend_from_slice(num.format(r.bytes_out).as_bytes());
    buf.extend_from_slice(b",\"origin\":");
    match r.origin {
        Some(origin) => json_str(buf, origin),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\"origin_status\":");
    match r.origin_status {
        Some(s) => buf.extend_from_slice(num.format(s).as_bytes()),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\"attempts\":");
    buf.extend_from_slice(num.format(r.attempts).as_bytes());
    buf.extend_from_slice(b",\"duration_ms\":");
    write_millis(buf, r.duration);
    buf.extend_from_slice(b",\"origin_ms\":");
    match r.origin_duration {
        Some(d) => write_millis(buf, d),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\"user_agent\":");
    match r.user_agent {
        Some(ua) => json_str(buf, ua),
        None => buf.extend_from_slice(b"null"),
    }
    if let Some(error) = r.error {
        buf.extend_from_slice(b",\"error\":");
        json_str(buf, error);
    }
    if let Some((rule, action)) = r.rule {
        buf.extend_from_slice(b",\"rule\":");
        json_str(buf, rule);
        buf.extend_from_slice(b",\"action\":");
        json_str(buf, action);
    }
    if r.rules_hit.len() > 1 {
        buf.extend_from_slice(b",\"rules\":[");
        for (i, rule) in r.rules_hit.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            json_str(buf, rule);
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b"}\n");
}

fn write_millis(buf: &mut Vec<u8>, d: Duration) {
    let micros = d.as_micros();
    let mut num = itoa::Buffer::new();
    buf.extend_from_slice(num.format(micros / 1000).as_bytes());
    buf.push(b'.');
    let frac = (micros % 1000) as u16;
    buf.push(b'0' + (frac / 100) as u8);
    buf.push(b'0' + (frac / 10 % 10) as u8);
    buf.push(b'0' + (frac % 10) as u8);
}

fn json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
            }
            _ => buf.push(b),
        }
    }
    buf.push(b'"');
}

/// RFC 3339 UTC with milliseconds, computed without a date library.
fn write_timestamp(buf: &mut Vec<u8>, now: SystemTime) {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        buf,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    );
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_one_valid_json_line() {
        let mut buf = Vec::new();
        let ray = RayId::generate();
        format_record(
            &mut buf,
            &AccessLogRecord {
                ray,
                site: "shop",
                client_ip: "::1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
                method: "GET",
                host: "shop.test",
                path: "/a\"b\n\u{1}",
                protocol: "HTTP/1.1",
                tls: false,
                status: 200,
                bytes_in: 0,
                bytes_out: 1234,
                origin: Some("http://127.0.0.1:9001"),
                origin_status: Some(200),
                attempts: 1,
                duration: Duration::from_micros(1500),
                origin_duration: Some(Duration::from_micros(1001)),
                user_agent: None,
                error: None,
                rule: Some(("no-bots", "block")),
                rules_hit: &["log-all", "no-bots"],
            },
        );
        assert_eq!(buf.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap_or_default();
        assert_eq!(v["ray"], ray.to_string());
        assert_eq!(v["path"], "/a\"b\n\u{1}");
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["status"], 200);
        assert_eq!(v["rule"], "no-bots");
        assert_eq!(v["action"], "block");
        assert_eq!(v["rules"], serde_json::json!(["log-all", "no-bots"]));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
    }
}
