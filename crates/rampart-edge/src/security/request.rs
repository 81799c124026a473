//! The request as the security phases see it, the per-thread scratch space
//! they evaluate with, and the record of which rules hit.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, COOKIE};
use rampart_rules::{EvalScratch, RequestFields};

use crate::exchange::version_str;

/// Per worker thread: the rules' scratch buffers and the bitmap of rules a
/// `skip` action passed over. Reused for every request, so evaluation
/// allocates nothing once the buffers have grown.
pub struct Worker {
    pub scratch: EvalScratch,
    pub skipped: Vec<u64>,
    /// Decoded query argument values for rate-limit keys.
    pub decoded: Vec<u8>,
}

impl Worker {
    fn new() -> Self {
        Self {
            scratch: EvalScratch::new(),
            skipped: Vec::with_capacity(16),
            decoded: Vec::with_capacity(256),
        }
    }
}

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker::new());
}

/// Runs `f` with this thread's worker. Evaluation never awaits, so the
/// borrow cannot outlive a task switch; a nested call (which nothing makes)
/// gets a fresh worker instead of a panic.
pub fn with_worker<R>(f: impl FnOnce(&mut Worker) -> R) -> R {
    WORKER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut worker) => f(&mut worker),
        Err(_) => f(&mut Worker::new()),
    })
}

/// Everything of a request the fields borrow, gathered once.
pub struct RequestView<'a> {
    pub ip: IpAddr,
    pub host: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub version: http::Version,
    pub headers: &'a HeaderMap,
    pub tls: bool,
    pub country: Option<[u8; 2]>,
    pub asn: Option<u32>,
}

/// HTTP/2 clients may split the cookies over several `cookie` fields; rules
/// see them joined as HTTP/1 sends them. `None` when there is at most one
/// (the common case, read in place without copying).
pub fn joined_cookies(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(COOKIE).iter();
    let first = values.next()?;
    let second = values.next()?;
    let mut joined = String::from_utf8_lossy(first.as_bytes()).into_owned();
    for v in std::iter::once(second).chain(values) {
        joined.push_str("; ");
        joined.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
    Some(joined)
}

/// The declared body size (`Content-Length`), 0 when absent or unreadable.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

impl<'a> RequestView<'a> {
    pub fn fields(&self, cookie: Option<&'a str>) -> RequestFields<'a> {
        RequestFields {
            ip: self.ip,
            country: self.country,
            asn: self.asn,
            host: self.host,
            method: self.method,
            uri: self.uri,
            path: self.path,
            query: self.query,
            version: version_str(self.version),
            headers: self.headers,
            cookie,
            ssl: self.tls,
            body_size: declared_length(self.headers).unwrap_or(0),
            bot_verified: false,
            // No challenges exist yet, so nobody holds a clearance.
            clearance: false,
            response_code: 0,
        }
    }
}

/// Most rule hits recorded per request. Rules that hit beyond this (only
/// `log` or `skip` actions can make a request hit many) still act; they
/// are just not named in the log.
pub const MAX_HITS: usize = 8;

/// The rules that hit one request, in order, with their actions: for the
/// access log and analytics. Fixed size, so recording allocates nothing
/// (ids are shared with the snapshot).
#[derive(Default)]
pub struct Hits {
    ids: [Option<Arc<str>>; MAX_HITS],
    actions: [&'static str; MAX_HITS],
    len: usize,
    /// The hit that decided the outcome (block, challenge, redirect, allow,
    /// limit), if any.
    decisive: Option<usize>,
}

impl Hits {
    pub fn push(&mut self, id: &Arc<str>, action: &'static str) {
        if let (Some(slot), Some(act)) =
            (self.ids.get_mut(self.len), self.actions.get_mut(self.len))
        {
            *slot = Some(id.clone());
            *act = action;
            self.len += 1;
        }
    }

    /// Records the hit that decides the request's fate.
    pub fn push_decisive(&mut self, id: &Arc<str>, action: &'static str) {
        self.push(id, action);
        if self.len > 0 {
            self.decisive = Some(self.len - 1);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The hit for the log's `rule`/`action`: the decisive one, else the
    /// last (e.g. a `log` rule).
    pub fn primary(&self) -> Option<(&str, &'static str)> {
        let i = self.decisive.or(self.len.checked_sub(1))?;
        let id = self.ids.get(i)?.as_deref()?;
        Some((id, self.actions.get(i).copied().unwrap_or("")))
    }

    /// The ids, for analytics' `rules_hit`.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().take(self.len).filter_map(|s| s.as_deref())
    }

    /// Fills `out` with the ids and returns the filled part.
    pub fn as_strs<'s, 'o>(&'s self, out: &'o mut [&'s str; MAX_HITS]) -> &'o [&'s str] {
        let mut n = 0;
        for (slot, id) in out.iter_mut().zip(self.ids()) {
            *slot = id;
            n += 1;
        }
        out.get(..n).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_keep_order_and_the_decisive_one() {
        let mut hits = Hits::default();
        assert!(hits.primary().is_none());
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        hits.push(&a, "log");
        assert_eq!(hits.primary(), Some(("a", "log")));
        hits.push_decisive(&b, "block");
        hits.push(&a, "log");
        assert_eq!(hits.primary(), Some(("b", "block")));
        let mut out = [""; MAX_HITS];
        assert_eq!(hits.as_strs(&mut out), &["a", "b", "a"]);
        for _ in 0..20 {
            hits.push(&a, "log");
        }
        assert_eq!(hits.len(), MAX_HITS);
    }

    #[test]
    fn split_cookies_are_joined() {
        let mut h = HeaderMap::new();
        assert!(joined_cookies(&h).is_none());
        h.append(COOKIE, http::HeaderValue::from_static("a=1"));
        assert!(joined_cookies(&h).is_none());
        h.append(COOKIE, http::HeaderValue::from_static("b=2"));
        assert_eq!(joined_cookies(&h).as_deref(), Some("a=1; b=2"));
    }

    #[test]
    fn worker_is_reused_and_reentry_does_not_panic() {
        let outer = with_worker(|w| {
            w.decoded.push(1);
            with_worker(|inner| inner.decoded.len())
        });
        assert_eq!(outer, 0);
    }
}
