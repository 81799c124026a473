//! `[shared]`: the Redis (or Valkey) tier the nodes of a cluster share for
//! rate-limit counters and single-use tokens. Absent: no shared tier, every
//! node counts and remembers on its own.
//!
//! One URL names the deployment, one scheme per kind:
//!
//! * `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS:
//!   one server.
//! * `redis+cluster://[user:password@]host:port,host:port,…`, or
//!   `rediss+cluster://`: Redis Cluster, from any of its nodes (no db).
//! * `redis+sentinel://[user:password@]host:port,…/master[/db]`, or
//!   `rediss+sentinel://`: the master that Sentinel names `master`; the
//!   user and password are the data nodes' (sentinels without auth).
//!
//! The port defaults to 6379 (26379 for sentinels). The password may be
//! percent-encoded; it is never echoed in a diagnostic or `Debug` output.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::diagnostics::Diags;
use crate::tree::Table;

const SHARED_KEYS: &[&str] = &["url", "sync_interval", "timeout"];

/// How often the counters are pushed and merged: fast enough that nodes
/// overshoot a limit by little (see rampart-limits), slow enough that a
/// busy node sends one batch for many requests.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(25);
const SYNC_RANGE: RangeInclusive<Duration> = Duration::from_millis(5)..=Duration::from_secs(1);
/// The longest a token redemption waits for Redis before the node decides
/// alone.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
const TIMEOUT_RANGE: RangeInclusive<Duration> = Duration::from_millis(10)..=Duration::from_secs(5);

/// `[shared]`, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedConfig {
    /// `shared.url`, parsed.
    pub redis: RedisTarget,
    /// `shared.sync_interval`: 5ms to 1s, default 25ms.
    pub sync_interval: Duration,
    /// `shared.timeout`: every Redis call's deadline, 10ms to 5s, default 100ms.
    pub timeout: Duration,
}

impl std::fmt::Debug for SharedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConfig")
            .field("redis", &self.redis)
            .field("sync_interval", &self.sync_interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Which kind of Redis deployment, from the URL's scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisKind {
    /// `redis://`: one server.
    Server,
    /// `redis+cluster://`: Redis Cluster; `hosts` are seed nodes.
    Cluster,
    /// `redis+sentinel://…/master`: `hosts` are sentinels.
    Sentinel { master: String },
}

/// A parsed `shared.url`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    pub kind: RedisKind,
    /// `rediss…://`: TLS to the data nodes (and sentinels).
    pub tls: bool,
    /// Host and port pairs, at least one; IPv6 without brackets.
    pub hosts: Vec<(String, u16)>,
    pub username: Option<String>,
    /// Percent-decoded.
    pub password: Option<String>,
    pub db: i64,
}

impl RedisTarget {
    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        let scheme = match (&self.kind, self.tls) {
            (RedisKind::Server, false) => "redis",
            (RedisKind::Server, true) => "rediss",
            (RedisKind::Cluster, false) => "redis+cluster",
            (RedisKind::Cluster, true) => "rediss+cluster",
            (RedisKind::Sentinel { .. }, false) => "redis+sentinel",
            (RedisKind::Sentinel { .. }, true) => "rediss+sentinel",
        };
        let auth = match (&self.username, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (None, Some(_)) => ":***@".to_owned(),
            (Some(u), None) => format!("{u}@"),
            (None, None) => String::new(),
        };
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .map(|(h, p)| {
                if h.contains(':') {
                    format!("[{h}]:{p}")
                } else {
                    format!("{h}:{p}")
                }
            })
            .collect();
        let tail = match &self.kind {
            RedisKind::Sentinel { master } => format!("/{master}/{}", self.db),
            RedisKind::Server => format!("/{}", self.db),
            RedisKind::Cluster => String::new(),
        };
        format!("{scheme}://{auth}{}{tail}", hosts.join(","))
    }
}

// The password must never reach a log through `{:?}`.
impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

pub(crate) fn shared(t: &Table<'_, '_>, d: &mut Diags<'_>) -> Option<SharedConfig> {
    t.check_keys(SHARED_KEYS, d);
    let sync_interval = t
        .duration("sync_interval", SYNC_RANGE, d)
        .map_or(DEFAULT_SYNC_INTERVAL, |(v, _)| v);
    let timeout = t
        .duration("timeout", TIMEOUT_RANGE, d)
        .map_or(DEFAULT_TIMEOUT, |(v, _)| v);
    let url = t.require("url", d).and(t.str("url", d))?;
    match parse_redis_url(url.text) {
        Ok(redis) => Some(SharedConfig {
            redis,
            sync_interval,
            timeout,
        }),
        Err(msg) => {
            d.error(&url.span(), format!("`shared.url` {msg}"));
            None
        }
    }
}

const EXAMPLES: &str = "e.g. \"redis://:password@10.0.0.5:6379/0\", \"redis+cluster://10.0.0.5:7000,10.0.0.6:7000\" or \"redis+sentinel://10.0.0.5:26379/mymaster\"";

/// Parses a `shared.url`. Errors name the problem without echoing the
/// URL's user information (it may hold a password).
pub fn parse_redis_url(s: &str) -> Result<RedisTarget, String> {
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!("must be a redis:// URL; {EXAMPLES}"));
    };
    let (kind_name, tls) = match scheme {
        "redis" => ("server", false),
        "rediss" => ("server", true),
        "redis+cluster" => ("cluster", false),
        "rediss+cluster" => ("cluster", true),
        "redis+sentinel" => ("sentinel", false),
        "rediss+sentinel" => ("sentinel", true),
        other => {
            // The scheme is safe to echo; it precedes any password.
            return Err(format!(
                "has the unknown scheme {:?}: use redis://, rediss://, redis+cluster:// or redis+sentinel://; {EXAMPLES}",
                format!("{other}://")
            ));
        }
    };
    if rest.contains(['?', '#']) {
        return Err("takes no query or fragment: every setting has its own key".to_owned());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hostlist) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pass) = match u.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (u, None),
            };
            let user = percent_decode(user).ok_or("has a badly percent-encoded user name")?;
            let pass = pass
                .map(|p| percent_decode(p).ok_or("has a badly percent-encoded password"))
                .transpose()?;
            (
                (!user.is_empty()).then_some(user),
                pass.filter(|p| !p.is_empty()),
            )
        }
    };
    let default_port = if kind_name == "sentinel" { 26379 } else { 6379 };
    let mut hosts = Vec::new();
    for part in hostlist.split(',') {
        hosts.push(host_port(part, default_port)?);
    }
    if kind_name == "server" && hosts.len() > 1 {
        return Err(format!(
            "names {} servers: list several only with redis+cluster:// or redis+sentinel://",
            hosts.len()
        ));
    }
    let segments: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let db = |text: &str| -> Result<i64, String> {
        text.parse::<i64>()
            .ok()
            .filter(|n| (0..=15_999).contains(n))
            .ok_or_else(|| format!("has the database {text:?}; it must be a number such as 0"))
    };
    let (kind, db) = match (kind_name, segments.as_slice()) {
        ("server", []) => (RedisKind::Server, 0),
        ("server", [n]) => (RedisKind::Server, db(n)?),
        ("cluster", []) => (RedisKind::Cluster, 0),
        ("cluster", _) => {
            return Err("takes no path: Redis Cluster has only database 0".to_owned());
        }
        ("sentinel", []) => {
            return Err(
                "needs the master's name after the sentinels, e.g. \"redis+sentinel://10.0.0.5:26379/mymaster\""
                    .to_owned(),
            );
        }
        ("sentinel", [master]) => (
            RedisKind::Sentinel {
                master: (*master).to_owned(),
            },
            0,
        ),
        ("sentinel", [master, n]) => (
            RedisKind::Sentinel {
                master: (*master).to_owned(),
            },
            db(n)?,
        ),
        _ => return Err(format!("has too many path segments; {EXAMPLES}")),
    };
    Ok(RedisTarget {
        kind,
        tls,
        hosts,
        username,
        password,
        db,
    })
}

fn host_port(part: &str, default_port: u16) -> Result<(String, u16), String> {
    if part.is_empty() {
        return Err(format!("needs a host, {EXAMPLES}"));
    }
    let (host, port) = if let Some(rest) = part.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("has an IPv6 address without its closing ']'")?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(
                    p.strip_prefix(':')
                        .ok_or("has junk after an IPv6 address")?,
                ),
            ),
        }
    } else {
        match part.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (part, None),
        }
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if host.is_empty() || !host.chars().all(valid) {
        return Err(format!(
            "has the host {host:?}, which is not a host name or address"
        ));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("has the port {p:?}; it must be 1 to 65535"))?,
    };
    Ok((host.to_owned(), port))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        let t = parse_redis_url("redis://:p%40ss@127.0.0.1:6380/2").unwrap();
        assert_eq!(t.kind, RedisKind::Server);
        assert_eq!(t.hosts, vec![("127.0.0.1".to_owned(), 6380)]);
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!(t.db, 2);
        assert_eq!(t.redacted(), "redis://:***@127.0.0.1:6380/2");
        assert!(!format!("{t:?}").contains("p@ss"));
        let t = parse_redis_url("rediss+cluster://a:7000,[::1]:7001,b").unwrap();
        assert!(t.tls);
        assert_eq!(t.hosts.len(), 3);
        assert_eq!(t.hosts[1], ("::1".to_owned(), 7001));
        assert_eq!(t.hosts[2], ("b".to_owned(), 6379));
        let t = parse_redis_url("redis+sentinel://u:pw@s1,s2:26380/main/3").unwrap();
        assert_eq!(
            t.kind,
            RedisKind::Sentinel {
                master: "main".into()
            }
        );
        assert_eq!(t.hosts[0].1, 26379);
        assert_eq!(t.db, 3);
        assert_eq!(t.username.as_deref(), Some("u"));
    }
}
