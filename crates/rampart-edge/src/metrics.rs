//! Prometheus metrics. Counters are plain atomics owned by long-lived
//! registries, so the hot path never hashes a label set or takes a lock, and
//! figures survive config reloads.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
const STATUS_SLOTS: usize = 500; // status codes 100..=599

/// A metric family rendered from one registry: name, type, help, reader.
type Family<T> = (&'static str, &'static str, &'static str, fn(&T) -> i64);

pub struct SiteMetrics {
    by_status: Box<[AtomicU64]>,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Requests refused or limited by the security phases.
    blocked: AtomicU64,
    challenged: AtomicU64,
    rate_limited: AtomicU64,
    /// Requests in flight to the site's origins (all snapshots).
    pub origin_in_flight: AtomicI64,
    /// Requests answered 503 because `origin_in_flight` was at the cap.
    pub overloaded: AtomicU64,
    under_attack_manual: AtomicI64,
    under_attack_auto: AtomicI64,
}

impl SiteMetrics {
    fn new() -> Self {
        Self {
            blocked: AtomicU64::new(0),
            challenged: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            origin_in_flight: AtomicI64::new(0),
            overloaded: AtomicU64::new(0),
            under_attack_manual: AtomicI64::new(0),
            under_attack_auto: AtomicI64::new(0),
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_count: AtomicU64::new(0),
            latency_sum_micros: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    pub fn record(&self, status: u16, elapsed: Duration, bytes_in: u64, bytes_out: u64) {
        let slot = usize::from(status).saturating_sub(100);
        if let Some(counter) = self.by_status.get(slot) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|b| secs <= *b)
            && let Some(counter) = self.latency_buckets.get(bucket)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
    }

    pub fn record_verdict(&self, verdict: rampart_analytics::Verdict) {
        use rampart_analytics::Verdict;
        let counter = match verdict {
            Verdict::Passed => return,
            Verdict::Blocked => &self.blocked,
            Verdict::Challenged => &self.challenged,
            Verdict::RateLimited => &self.rate_limited,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_under_attack(&self, manual: bool, auto: bool) {
        self.under_attack_manual
            .store(i64::from(manual), Ordering::Relaxed);
        self.under_attack_auto
            .store(i64::from(auto), Ordering::Relaxed);
    }
}

/// Health and traffic of one origin of one site.
#[derive(Default)]
pub struct OriginMetrics {
    pub requests: AtomicU64,
    pub connect_failures: AtomicU64,
    pub retries: AtomicU64,
    pub timeouts: AtomicU64,
    pub healthy: AtomicI64,
    pub outstanding: AtomicI64,
}

#[derive(Default)]
pub struct ListenerMetrics {
    pub accepted: AtomicU64,
    pub open: AtomicI64,
    pub parked: AtomicI64,
    pub rejected_framing: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    /// Connections closed at accept: the address had too many open.
    pub refused_per_ip: AtomicU64,
    /// Connections closed at accept: the /24 or /64 had too many open.
    pub refused_per_prefix: AtomicU64,
    /// Connections closed because the client stopped reading our response.
    pub send_timeouts: AtomicU64,
    /// HTTP/2 connections closed for sending no complete request in time.
    pub h2_head_timeouts: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    sites: Mutex<HashMap<String, Arc<SiteMetrics>>>,
    origins: Mutex<HashMap<(String, String), Arc<OriginMetrics>>>,
    listeners: Mutex<HashMap<&'static str, Arc<ListenerMetrics>>>,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    pub access_log_dropped: AtomicU64,
    /// Request bodies cut off below the minimum data rate (slow POST).
    pub body_too_slow: AtomicU64,
    /// Request bodies cut off past the site's size limit while streaming.
    pub body_too_large: AtomicU64,
    /// Automatic under-attack switches (on and off).
    pub attack_switches: AtomicU64,
    /// The shared tier's status when `[shared]` is configured.
    shared: std::sync::OnceLock<Arc<rampart_shared::SharedStatus>>,
}

impl Metrics {
    /// Called while building a snapshot, never per request.
    pub fn site(&self, name: &str) -> Arc<SiteMetrics> {
        let mut sites = self.sites.lock().unwrap_or_else(|e| e.into_inner());
        sites
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(SiteMetrics::new()))
            .clone()
    }

    pub fn origin(&self, site: &str, origin: &str) -> Arc<OriginMetrics> {
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        origins
            .entry((site.to_string(), origin.to_string()))
            .or_default()
            .clone()
    }

    pub fn listener(&self, name: &'static str) -> Arc<ListenerMetrics> {
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.entry(name).or_default().clone()
    }

    /// Reports the shared tier (once; later calls are ignored).
    pub fn set_shared_status(&self, status: Arc<rampart_shared::SharedStatus>) {
        let _ = self.shared.set(status);
    }

    /// `rampart_shared_state` (one gauge per state, the current one 1),
    /// `rampart_shared_ops_total` (Redis commands sent),
    /// `rampart_shared_round_trips_total`, `rampart_shared_errors_total`,
    /// `rampart_shared_local_fallbacks_total`.
    fn render_shared(&self, out: &mut String) {
        let status = self.shared.get();
        let current = status.map_or("off", |s| s.state_label());
        out.push_str("# HELP rampart_shared_state The cluster's shared tier (Redis): 1 for the current state. off: not configured; degraded: unreachable, limits and tokens are per node.\n# TYPE rampart_shared_state gauge\n");
        for state in ["ok", "degraded", "off"] {
            let _ = writeln!(
                out,
                "rampart_shared_state{{state=\"{state}\"}} {}",
                u8::from(state == current)
            );
        }
        type Read = fn(&rampart_shared::SharedStatus) -> u64;
        let counters: [(&str, &str, Read); 4] = [
            (
                "rampart_shared_ops_total",
                "Redis commands sent by the shared tier.",
                |s| s.ops(),
            ),
            (
                "rampart_shared_round_trips_total",
                "Pipelines and single calls sent to Redis.",
                |s| s.round_trips(),
            ),
            (
                "rampart_shared_errors_total",
                "Calls to Redis that failed or timed out.",
                |s| s.errors(),
            ),
            (
                "rampart_shared_local_fallbacks_total",
                "Token redemptions decided by this node alone because Redis did not answer.",
                |s| s.local_fallbacks(),
            ),
        ];
        for (name, help, read) in counters {
            write_scalar(out, name, "counter", help, status.map_or(0, |s| read(s)));
        }
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.render_sites(&mut out);
        self.render_site_security(&mut out);
        self.render_origins(&mut out);
        self.render_listeners(&mut out);
        self.render_shared(&mut out);
        let _ = writeln!(
            out,
            "# HELP rampart_config_reloads_total Configuration reloads by result.\n# TYPE rampart_config_reloads_total counter\nrampart_config_reloads_total{{result=\"ok\"}} {}\nrampart_config_reloads_total{{result=\"error\"}} {}",
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed)
        );
        write_scalar(
            &mut out,
            "rampart_access_log_dropped_total",
            "counter",
            "Access log lines dropped because the writer fell behind.",
            self.access_log_dropped.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP rampart_request_bodies_aborted_total Client request bodies cut off, by reason.\n# TYPE rampart_request_bodies_aborted_total counter\nrampart_request_bodies_aborted_total{{reason=\"too_slow\"}} {}\nrampart_request_bodies_aborted_total{{reason=\"too_large\"}} {}",
            self.body_too_slow.load(Ordering::Relaxed),
            self.body_too_large.load(Ordering::Relaxed)
        );
        write_scalar(
            &mut out,
            "rampart_under_attack_switches_total",
            "counter",
            "Automatic under-attack mode switches (on and off).",
            self.attack_switches.load(Ordering::Relaxed),
        );
        out
    }

    fn render_sites(&self, out: &mut String) {
        let sites = self.sites.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = sites.keys().collect();
        names.sort();
        out.push_str("# HELP rampart_requests_total Requests answered, by site and status code.\n# TYPE rampart_requests_total counter\n");
        for name in &names {
            let Some(site) = sites.get(*name) else {
                continue;
            };
            for (slot, counter) in site.by_status.iter().enumerate() {
                let n = counter.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "rampart_requests_total{{site=\"{}\",status=\"{}\"}} {n}",
                        escape_label(name),
                        slot + 100
                    );
                }
            }
        }
        out.push_str("# HELP rampart_request_duration_seconds Time from request head to response head, by site.\n# TYPE rampart_request_duration_seconds histogram\n");
        for name in &names {
            let Some(site) = sites.get(*name) else {
                continue;
            };
            let label = escape_label(name);
            let mut cumulative = 0;
            for (bound, counter) in LATENCY_BUCKETS.iter().zip(site.latency_buckets.iter()) {
                cumulative += counter.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "rampart_request_duration_seconds_bucket{{site=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = site.latency_count.load(Ordering::Relaxed);
            let sum = site.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "rampart_request_duration_seconds_bucket{{site=\"{label}\",le=\"+Inf\"}} {count}\nrampart_request_duration_seconds_sum{{site=\"{label}\"}} {sum}\nrampart_request_duration_seconds_count{{site=\"{label}\"}} {count}"
            );
        }
        out.push_str("# HELP rampart_bytes_total Body bytes by site and direction.\n# TYPE rampart_bytes_total counter\n");
        for name in &names {
            let Some(site) = sites.get(*name) else {
                continue;
            };
            let label = escape_label(name);
            let _ = writeln!(
                out,
                "rampart_bytes_total{{site=\"{label}\",direction=\"in\"}} {}\nrampart_bytes_total{{site=\"{label}\",direction=\"out\"}} {}",
                site.bytes_in.load(Ordering::Relaxed),
                site.bytes_out.load(Ordering::Relaxed)
            );
        }
    }

    fn render_site_security(&self, out: &mut String) {
        let sites = self.sites.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = sites.keys().collect();
        names.sort();
        out.push_str("# HELP rampart_security_verdicts_total Requests the security phases refused, by site and verdict.\n# TYPE rampart_security_verdicts_total counter\n");
        for name in &names {
            let Some(site) = sites.get(*name) else {
                continue;
            };
            let label = escape_label(name);
            for (verdict, counter) in [
                ("blocked", &site.blocked),
                ("challenged", &site.challenged),
                ("rate_limited", &site.rate_limited),
            ] {
                let _ = writeln!(
                    out,
                    "rampart_security_verdicts_total{{site=\"{label}\",verdict=\"{verdict}\"}} {}",
                    counter.load(Ordering::Relaxed)
                );
            }
        }
        let families: [Family<SiteMetrics>; 4] = [
            (
                "rampart_site_under_attack",
                "gauge",
                "1 while the site is in under-attack mode set by hand (under_attack = true).",
                |s| s.under_attack_manual.load(Ordering::Relaxed),
            ),
            (
                "rampart_site_under_attack_auto",
                "gauge",
                "1 while automatic detection has the site in under-attack mode.",
                |s| s.under_attack_auto.load(Ordering::Relaxed),
            ),
            (
                "rampart_site_origin_requests_in_flight",
                "gauge",
                "Requests in flight to the site's origins.",
                |s| s.origin_in_flight.load(Ordering::Relaxed),
            ),
            (
                "rampart_site_overloaded_total",
                "counter",
                "Requests answered 503 because the site's origins had max_origin_requests_per_site in flight.",
                |s| s.overloaded.load(Ordering::Relaxed) as i64,
            ),
        ];
        let rows: Vec<(String, &SiteMetrics)> = names
            .iter()
            .filter_map(|name| {
                let labels = format!("site=\"{}\"", escape_label(name));
                sites.get(*name).map(|s| (labels, &**s))
            })
            .collect();
        render_families(out, &families, &rows);
    }

    fn render_origins(&self, out: &mut String) {
        let origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<&(String, String)> = origins.keys().collect();
        keys.sort();
        let families: [Family<OriginMetrics>; 6] = [
            (
                "rampart_origin_healthy",
                "gauge",
                "1 when the origin is in rotation, 0 when health checks or passive ejection took it out.",
                |o| o.healthy.load(Ordering::Relaxed),
            ),
            (
                "rampart_origin_outstanding_requests",
                "gauge",
                "Requests currently in flight to the origin.",
                |o| o.outstanding.load(Ordering::Relaxed),
            ),
            (
                "rampart_origin_requests_total",
                "counter",
                "Requests sent to the origin.",
                |o| o.requests.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_origin_connect_failures_total",
                "counter",
                "Failed connection attempts to the origin.",
                |o| o.connect_failures.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_origin_retries_total",
                "counter",
                "Requests retried on another origin after this one failed to connect.",
                |o| o.retries.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_origin_timeouts_total",
                "counter",
                "Requests whose origin did not answer within the response timeout.",
                |o| o.timeouts.load(Ordering::Relaxed) as i64,
            ),
        ];
        let rows: Vec<(String, &OriginMetrics)> = keys
            .iter()
            .filter_map(|key| {
                let labels = format!(
                    "site=\"{}\",origin=\"{}\"",
                    escape_label(&key.0),
                    escape_label(&key.1)
                );
                origins.get(*key).map(|origin| (labels, &**origin))
            })
            .collect();
        render_families(out, &families, &rows);
    }

    fn render_listeners(&self, out: &mut String) {
        let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&&'static str> = listeners.keys().collect();
        names.sort();
        let families: [Family<ListenerMetrics>; 9] = [
            (
                "rampart_connections_open",
                "gauge",
                "Client connections currently open.",
                |l| l.open.load(Ordering::Relaxed),
            ),
            (
                "rampart_connections_parked",
                "gauge",
                "Idle HTTP/1 keep-alive connections waiting for their next request without HTTP state.",
                |l| l.parked.load(Ordering::Relaxed),
            ),
            (
                "rampart_connections_accepted_total",
                "counter",
                "Client connections accepted.",
                |l| l.accepted.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_requests_rejected_framing_total",
                "counter",
                "Requests refused for ambiguous or invalid HTTP/1 framing.",
                |l| l.rejected_framing.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_tls_handshake_failures_total",
                "counter",
                "TLS handshakes that failed.",
                |l| l.tls_handshake_failures.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_connections_refused_per_ip_total",
                "counter",
                "Connections closed at accept because their address had max_connections_per_ip open.",
                |l| l.refused_per_ip.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_connections_refused_per_prefix_total",
                "counter",
                "Connections closed at accept because their /24 or /64 had max_connections_per_prefix open.",
                |l| l.refused_per_prefix.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_connections_send_timeouts_total",
                "counter",
                "Connections closed because the client accepted no response bytes for send_timeout.",
                |l| l.send_timeouts.load(Ordering::Relaxed) as i64,
            ),
            (
                "rampart_http2_head_timeouts_total",
                "counter",
                "HTTP/2 connections closed for completing no request within the header timeout.",
                |l| l.h2_head_timeouts.load(Ordering::Relaxed) as i64,
            ),
        ];
        let rows: Vec<(String, &ListenerMetrics)> = names
            .iter()
            .filter_map(|name| {
                let labels = format!("listener=\"{name}\"");
                listeners.get(**name).map(|l| (labels, &**l))
            })
            .collect();
        render_families(out, &families, &rows);
    }
}

/// Writes each family's header and one sample per labelled row.
fn render_families<T>(out: &mut String, families: &[Family<T>], rows: &[(String, &T)]) {
    for (name, kind, help, read) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {}", read(value));
        }
    }
}

/// One unlabelled sample with its `# HELP` and `# TYPE` lines (`kind` is
/// `counter` or `gauge`), for this node's and the control plane's figures.
pub fn write_scalar(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_show_up_in_exposition() {
        let metrics = Metrics::default();
        let site = metrics.site("shop");
        site.record(200, Duration::from_millis(3), 10, 20);
        site.record(502, Duration::from_millis(30), 0, 5);
        assert!(Arc::ptr_eq(&site, &metrics.site("shop")));
        let text = metrics.render();
        assert!(text.contains("rampart_requests_total{site=\"shop\",status=\"200\"} 1"));
        assert!(text.contains("rampart_requests_total{site=\"shop\",status=\"502\"} 1"));
        assert!(text.contains("rampart_request_duration_seconds_count{site=\"shop\"} 2"));
        assert!(
            text.contains("rampart_request_duration_seconds_bucket{site=\"shop\",le=\"0.005\"} 1")
        );
    }

    #[test]
    fn the_shared_tier_is_off_until_one_reports() {
        let metrics = Metrics::default();
        let text = metrics.render();
        assert!(
            text.contains("rampart_shared_state{state=\"off\"} 1"),
            "{text}"
        );
        assert!(text.contains("rampart_shared_state{state=\"ok\"} 0"));
        assert!(text.contains("rampart_shared_ops_total 0"));
        metrics.set_shared_status(Arc::new(rampart_shared::SharedStatus::configured()));
        let text = metrics.render();
        assert!(
            text.contains("rampart_shared_state{state=\"degraded\"} 1"),
            "{text}"
        );
        assert!(text.contains("rampart_shared_state{state=\"off\"} 0"));
        assert!(text.contains("# TYPE rampart_shared_errors_total counter"));
    }
}
