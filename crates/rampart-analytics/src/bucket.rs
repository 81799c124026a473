//! One site's minute: the exact counters and the heavy-hitter sketches while
//! it is open ([`SiteMinute`], one per shard), and the flushed, serialisable
//! form ([`MinuteBucket`]).

use crate::sketch::{self, SpaceSaving, merged_top};
use crate::{CacheStatus, Counters, RequestEvent, Verdict};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// One site's traffic in one minute, as flushed to the store.
///
/// Counters are exact. Each `top_*` list holds at most `top_n` `(key, count)`
/// pairs, largest first (ties by key); counts come from Space-Saving sketches
/// and are within `N / tracked_keys` of the truth, `N` being the number of
/// values of that dimension in the minute (see the crate documentation).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct MinuteBucket {
    pub site: String,
    /// Unix seconds of the minute's start (a multiple of 60).
    pub minute: i64,
    #[serde(flatten)]
    pub counters: Counters,
    /// Client addresses, IPv4-mapped IPv6 shown as IPv4.
    pub top_ips: Vec<(String, u64)>,
    /// Two-letter codes as the edge gave them, upper-cased.
    pub top_countries: Vec<(String, u64)>,
    /// Paths without the query string, cut to `max_key_bytes`.
    pub top_paths: Vec<(String, u64)>,
    pub top_rules: Vec<(String, u64)>,
}

/// Folds `other` into `into`: counters are added; top lists are summed per
/// key and cut back to `top_n`. Used when a flush is retried or several
/// nodes' buckets for the same site and minute are combined; `into` keeps its
/// own `site` and `minute`, pairing buckets is the caller's business.
///
/// A key that fell off one side's list (it was below that list's last count)
/// gets only the other side's count, so a merged count may be low by at most
/// the smallest count of a full list it is missing from.
pub fn merge(into: &mut MinuteBucket, other: &MinuteBucket, top_n: usize) {
    into.counters.add(&other.counters);
    merge_list(&mut into.top_ips, &other.top_ips, top_n);
    merge_list(&mut into.top_countries, &other.top_countries, top_n);
    merge_list(&mut into.top_paths, &other.top_paths, top_n);
    merge_list(&mut into.top_rules, &other.top_rules, top_n);
}

fn merge_list(into: &mut Vec<(String, u64)>, other: &[(String, u64)], top_n: usize) {
    for (key, count) in other {
        match into.iter_mut().find(|(k, _)| k == key) {
            Some((_, c)) => *c = c.saturating_add(*count),
            None => into.push((key.clone(), *count)),
        }
    }
    sort_top(into);
    into.truncate(top_n);
}

fn sort_top(list: &mut [(String, u64)]) {
    list.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
}

/// Longest path or rule name kept as a key; longer ones are cut at a
/// character boundary so that one attacker-chosen key cannot hold kilobytes.
pub(crate) fn clip(key: &str, max_bytes: usize) -> &str {
    if key.len() <= max_bytes {
        return key;
    }
    let mut end = max_bytes;
    while end > 0 && !key.is_char_boundary(end) {
        end -= 1;
    }
    key.get(..end).unwrap_or("")
}

/// The path dimension ignores the query string: it is unbounded in
/// cardinality (cache busters, tokens) and would push real paths out.
pub(crate) fn path_key(path: &str, max_bytes: usize) -> &str {
    let path = path.split_once('?').map_or(path, |(before, _)| before);
    clip(path, max_bytes)
}

/// A site's open minute in one shard.
pub(crate) struct SiteMinute {
    /// Held (not just its address) so the address used as the shard's map
    /// key cannot be reused by another site while this bucket lives.
    pub(crate) site: Arc<str>,
    pub(crate) minute: i64,
    counts: Counters,
    ips: SpaceSaving<IpAddr>,
    countries: SpaceSaving<[u8; 2]>,
    paths: SpaceSaving<String>,
    rules: SpaceSaving<String>,
}

/// Keys and their hashes, computed before the shard lock is taken so the
/// critical section stays short.
pub(crate) struct Keys<'a> {
    pub(crate) ip: IpAddr,
    pub(crate) ip_hash: u64,
    pub(crate) country: Option<([u8; 2], u64)>,
    pub(crate) path: &'a str,
    pub(crate) path_hash: u64,
}

impl SiteMinute {
    pub(crate) fn new(site: Arc<str>, minute: i64, tracked_keys: usize) -> Self {
        Self {
            site,
            minute,
            counts: Counters::default(),
            ips: SpaceSaving::new(tracked_keys),
            countries: SpaceSaving::new(tracked_keys),
            paths: SpaceSaving::new(tracked_keys),
            rules: SpaceSaving::new(tracked_keys),
        }
    }

    /// Makes a drained bucket ready for another site or minute, keeping its
    /// allocations.
    pub(crate) fn reset(&mut self, site: Arc<str>, minute: i64) {
        self.site = site;
        self.minute = minute;
        self.counts = Counters::default();
        self.ips.reset();
        self.countries.reset();
        self.paths.reset();
        self.rules.reset();
    }

    /// Gives a spare (already reset) bucket its new site and minute.
    pub(crate) fn relabel(&mut self, site: Arc<str>, minute: i64) {
        self.site = site;
        self.minute = minute;
    }

    pub(crate) fn requests(&self) -> u64 {
        self.counts.requests
    }

    /// Counts one event. `rule_hash` hashes a rule name with the same hasher
    /// as the other keys.
    pub(crate) fn add(
        &mut self,
        event: &RequestEvent<'_>,
        keys: &Keys<'_>,
        max_key_bytes: usize,
        rule_hash: impl Fn(&str) -> u64,
    ) {
        let c = &mut self.counts;
        c.requests = c.requests.saturating_add(1);
        c.bytes_in = c.bytes_in.saturating_add(event.bytes_in);
        c.bytes_out = c.bytes_out.saturating_add(event.bytes_out);
        let class = match event.status {
            100..=199 => Some(&mut c.status_1xx),
            200..=299 => Some(&mut c.status_2xx),
            300..=399 => Some(&mut c.status_3xx),
            400..=499 => Some(&mut c.status_4xx),
            500..=599 => Some(&mut c.status_5xx),
            _ => None,
        };
        if let Some(n) = class {
            *n = n.saturating_add(1);
        }
        let verdict = match event.verdict {
            Verdict::Passed => &mut c.passed,
            Verdict::Blocked => &mut c.blocked,
            Verdict::Challenged => &mut c.challenged,
            Verdict::RateLimited => &mut c.rate_limited,
        };
        *verdict = verdict.saturating_add(1);
        let cache = match event.cache {
            CacheStatus::None => None,
            CacheStatus::Hit => Some(&mut c.cache_hit),
            CacheStatus::Miss => Some(&mut c.cache_miss),
            CacheStatus::Bypass => Some(&mut c.cache_bypass),
        };
        if let Some(n) = cache {
            *n = n.saturating_add(1);
        }

        self.ips.offer(&keys.ip, keys.ip_hash);
        if let Some((code, hash)) = &keys.country {
            self.countries.offer(code, *hash);
        }
        self.paths.offer(keys.path, keys.path_hash);
        for rule in event.rules_hit {
            let rule = clip(rule, max_key_bytes);
            self.rules.offer(rule, rule_hash(rule));
        }
    }

    pub(crate) fn tracked_entries(&self) -> usize {
        self.ips.len() + self.countries.len() + self.paths.len() + self.rules.len()
    }

    pub(crate) fn approx_bytes(&self) -> usize {
        size_of::<Self>()
            + self.ips.approx_bytes()
            + self.countries.approx_bytes()
            + self.paths.approx_bytes()
            + self.rules.approx_bytes()
    }
}

/// Bound of [`SiteMinute::approx_bytes`].
pub(crate) fn site_minute_worst_case_bytes(tracked_keys: usize, max_key_bytes: usize) -> usize {
    size_of::<SiteMinute>()
        + sketch::worst_case_bytes::<IpAddr>(tracked_keys, 0)
        + sketch::worst_case_bytes::<[u8; 2]>(tracked_keys, 0)
        + sketch::worst_case_bytes::<String>(tracked_keys, max_key_bytes)
        + sketch::worst_case_bytes::<String>(tracked_keys, max_key_bytes)
}

/// Combines the shards' parts of one site's minute (all with the same site
/// name and minute) into the flushed form.
pub(crate) fn combine(parts: &[&SiteMinute], top_n: usize) -> MinuteBucket {
    let mut out = MinuteBucket::default();
    if let Some(first) = parts.first() {
        out.site = first.site.to_string();
        out.minute = first.minute.saturating_mul(60);
    }
    for part in parts {
        out.counters.add(&part.counts);
    }
    let ips: Vec<_> = parts.iter().map(|p| &p.ips).collect();
    out.top_ips = merged_top(&ips, top_n)
        .into_iter()
        .map(|(ip, n)| (ip.to_string(), n))
        .collect();
    let countries: Vec<_> = parts.iter().map(|p| &p.countries).collect();
    out.top_countries = merged_top(&countries, top_n)
        .into_iter()
        .map(|(code, n)| (String::from_utf8_lossy(code).into_owned(), n))
        .collect();
    let paths: Vec<_> = parts.iter().map(|p| &p.paths).collect();
    out.top_paths = owned(merged_top(&paths, top_n));
    let rules: Vec<_> = parts.iter().map(|p| &p.rules).collect();
    out.top_rules = owned(merged_top(&rules, top_n));
    out
}

fn owned(list: Vec<(&str, u64)>) -> Vec<(String, u64)> {
    list.into_iter().map(|(k, n)| (k.to_owned(), n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_char_boundary() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        // 'é' is two bytes: cutting inside it backs off to before it.
        assert_eq!(clip("aé", 2), "a");
        assert_eq!(clip("ééé", 1), "");
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn path_key_drops_the_query() {
        assert_eq!(path_key("/a/b?x=1", 256), "/a/b");
        assert_eq!(path_key("?x", 256), "");
        assert_eq!(path_key("/long?q", 3), "/lo");
    }

    #[test]
    fn merge_lists_sum_and_cut() {
        let mut a = vec![("x".to_owned(), 5), ("y".to_owned(), 1)];
        merge_list(&mut a, &[("y".to_owned(), 7), ("z".to_owned(), 2)], 2);
        assert_eq!(a, vec![("y".to_owned(), 8), ("x".to_owned(), 5)]);
    }
}
