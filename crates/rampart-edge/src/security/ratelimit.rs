//! The rate-limit phase: each of the site's limits whose expression matches
//! is checked against its counter; counting expressions are evaluated once
//! the response status is known.
//!
//! Counts live in one [`RateLimiter`] in the edge's long-lived state, keyed
//! by site, limit id and the limit's characteristics, so a reload does not
//! give every client a fresh allowance.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use rampart_limits::{
    Action, Counting, Decision, KeyHasher, LimitKey, LocalCounters, Millis, RateLimiter,
};
use rampart_rules::{Lists, RequestFields};

use super::compile::{CompiledLimit, KeyPart};
use super::request::{Hits, Worker};

/// Most counting limits remembered per request until its response.
const MAX_PENDING: usize = 8;

/// Limits (by index) whose count waits for the response, with their keys.
#[derive(Default)]
pub struct PendingCounts {
    entries: [Option<(u16, LimitKey)>; MAX_PENDING],
}

impl PendingCounts {
    fn push(&mut self, index: usize, key: LimitKey) {
        let Ok(index) = u16::try_from(index) else {
            return;
        };
        if let Some(slot) = self.entries.iter_mut().find(|e| e.is_none()) {
            *slot = Some((index, key));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(Option::is_none)
    }

    fn iter(&self) -> impl Iterator<Item = (usize, LimitKey)> + '_ {
        self.entries
            .iter()
            .flatten()
            .map(|(i, k)| (usize::from(*i), *k))
    }
}

/// What a limit decided that changes the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limited {
    /// 429 with `Retry-After`.
    Block {
        retry_after: Duration,
        rule: Arc<str>,
    },
    /// The challenge (a 403 page until challenges exist).
    Challenge { rule: Arc<str> },
}

/// Checks every matching limit in order; the first that limits with block or
/// challenge ends the phase. `log` limits record the hit and go on.
#[allow(clippy::too_many_arguments)]
pub fn check(
    limiter: &RateLimiter<Arc<LocalCounters>>,
    hasher: &KeyHasher,
    site: &str,
    limits: &[CompiledLimit],
    lists: &Lists,
    req: &RequestFields<'_>,
    worker: &mut Worker,
    now: Millis,
    hits: &mut Hits,
    pending: &mut PendingCounts,
) -> Option<Limited> {
    for (index, limit) in limits.iter().enumerate() {
        if !limit.matcher.matches(req, lists, &mut worker.scratch) {
            continue;
        }
        let key = build_key(hasher, site, limit, req, &mut worker.decoded);
        let decision = limiter.check(&limit.rule, &key, now);
        if limit.rule.counting == Counting::OnResponse {
            pending.push(index, key);
        }
        let Decision::Limit { retry_after } = decision else {
            continue;
        };
        match limit.rule.action {
            Action::Block => {
                hits.push_decisive(&limit.id, "rate_limit");
                return Some(Limited::Block {
                    retry_after,
                    rule: limit.id.clone(),
                });
            }
            Action::Challenge => {
                hits.push_decisive(&limit.id, "challenge");
                return Some(Limited::Challenge {
                    rule: limit.id.clone(),
                });
            }
            Action::Log => hits.push(&limit.id, "log"),
        }
    }
    None
}

/// After the response: counts the request for every pending limit whose
/// counting expression matches the response.
pub fn count_response(
    limiter: &RateLimiter<Arc<LocalCounters>>,
    limits: &[CompiledLimit],
    lists: &Lists,
    req: &RequestFields<'_>,
    worker: &mut Worker,
    pending: &PendingCounts,
    now: Millis,
) {
    for (index, key) in pending.iter() {
        let Some(limit) = limits.get(index) else {
            continue;
        };
        let Some(counting) = &limit.counting else {
            continue;
        };
        if counting.matches(req, lists, &mut worker.scratch) {
            limiter.count(&limit.rule, &key, now);
        }
    }
}

/// `Retry-After` in whole seconds, rounded up (a client told "0" would
/// retry at once and be limited again).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs();
    let secs = if wait.subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    };
    secs.max(1)
}

fn build_key(
    hasher: &KeyHasher,
    site: &str,
    limit: &CompiledLimit,
    req: &RequestFields<'_>,
    decoded: &mut Vec<u8>,
) -> LimitKey {
    let mut key = hasher.key().site(site).rule(&*limit.id);
    for part in limit.key.iter() {
        key = match part {
            KeyPart::Ip => key.client_ip(req.ip),
            KeyPart::IpPrefix => key.ip_prefix(req.ip, 24, 64),
            KeyPart::Header(name) => key.header(
                name.as_str().as_bytes(),
                req.headers.get(name).map(|v| v.as_bytes()),
            ),
            KeyPart::Cookie(name) => key.cookie(name.as_bytes(), cookie(req, name)),
            KeyPart::QueryArg(name) => {
                let found = query_arg(req.query, name, decoded);
                key.query_arg(name.as_bytes(), found.then_some(decoded.as_slice()))
            }
            KeyPart::Path => key.path(req.path.as_bytes()),
            KeyPart::Site => key,
        };
    }
    key.finish()
}

/// The value of cookie `name`, read in place.
fn cookie<'a>(req: &RequestFields<'a>, name: &str) -> Option<&'a [u8]> {
    let header = |h: &'a HeaderMap| h.get(http::header::COOKIE).map(|v| v.as_bytes());
    let all = match req.cookie {
        Some(joined) => Some(joined.as_bytes()),
        None => header(req.headers),
    }?;
    all.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii_start();
        let (k, v) = split_once(pair, b'=')?;
        (k.trim_ascii() == name.as_bytes()).then_some(v.trim_ascii())
    })
}

fn split_once(bytes: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == sep)?;
    Some((bytes.get(..at)?, bytes.get(at + 1..)?))
}

/// Finds query argument `name` (names compared URL-decoded) and leaves its
/// URL-decoded value in `out`. Decoding matters: otherwise `user=b%6Fb`
/// would be a different counter from `user=bob`, an easy way around a limit.
fn query_arg(query: &str, name: &str, out: &mut Vec<u8>) -> bool {
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.clear();
        url_decode_into(k.as_bytes(), out);
        if out.as_slice() == name.as_bytes() {
            out.clear();
            url_decode_into(v.as_bytes(), out);
            return true;
        }
    }
    out.clear();
    false
}

fn url_decode_into(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |j: usize| input.get(j).and_then(|c| (*c as char).to_digit(16));
                if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_secs(Duration::from_millis(60_001)), 61);
    }

    #[test]
    fn query_args_are_found_decoded() {
        let mut out = Vec::new();
        assert!(query_arg("a=1&user=b%6Fb&x", "user", &mut out));
        assert_eq!(out, b"bob");
        assert!(query_arg("us%65r=x+y", "user", &mut out));
        assert_eq!(out, b"x y");
        assert!(query_arg("x", "x", &mut out));
        assert_eq!(out, b"");
        assert!(!query_arg("a=1", "user", &mut out));
        assert!(!query_arg("", "user", &mut out));
        // A bad escape is kept as it is.
        assert!(query_arg("q=%zz%4", "q", &mut out));
        assert_eq!(out, b"%zz%4");
    }

    #[test]
    fn cookies_are_read_in_place() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("a=1; session=abc ;b"),
        );
        let req = RequestFields::empty(&h);
        assert_eq!(cookie(&req, "session"), Some(&b"abc"[..]));
        assert_eq!(cookie(&req, "a"), Some(&b"1"[..]));
        assert_eq!(cookie(&req, "b"), None);
        assert_eq!(cookie(&req, "zz"), None);
        let joined = RequestFields {
            cookie: Some("x=9"),
            ..RequestFields::empty(&h)
        };
        assert_eq!(cookie(&joined, "x"), Some(&b"9"[..]));
    }
}
