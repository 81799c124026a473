//! Request analytics for the edge: events aggregated in memory per site per
//! minute, in bounded memory, for a background task to flush to the store.
//!
//! The edge calls [`Aggregator::record`] once per finished request; a flusher
//! calls [`Aggregator::drain_closed`] every few seconds and writes the
//! returned [`MinuteBucket`]s, combining retries or several nodes' buckets
//! with [`merge`].
//!
//! # Accuracy
//!
//! Counters (requests, bytes, status classes, verdicts, cache status) are
//! exact. Top client addresses, countries, paths and rules come from
//! Space-Saving sketches with `tracked_keys` counters each (one set per site,
//! minute and shard). For a dimension that saw `N` values in the minute:
//!
//! * every key with more than `N / tracked_keys` occurrences is in the
//!   sketch, so a heavy hitter is never missed while `top_n` leaves room;
//! * a reported count is within `N / tracked_keys` of the true count (within
//!   one shard it never under-counts; across shards a key missing from one
//!   shard's sketch may be under-counted by that shard's smallest counter).
//!
//! With the default 256 counters, a client sending 5% of a site's requests
//! is reported with a count off by at most 0.4% of the site's requests.
//!
//! # Memory
//!
//! Independent of traffic: per shard at most `max_open_minutes` minutes with
//! at most `max_sites` named sites plus [`OTHER_SITE`] each, and as many
//! spares; per site-minute four sketches of `tracked_keys` counters with keys
//! of at most `max_key_bytes`. [`AggregatorConfig::worst_case_bytes`] gives
//! the bound; [`AggregatorStats::approx_bytes`] what is held now.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod aggregator;
mod bucket;
mod counters;
mod sketch;

pub use aggregator::{Aggregator, AggregatorStats, OTHER_SITE};
pub use bucket::{MinuteBucket, merge};
pub use counters::Counters;

use std::net::{IpAddr, Ipv6Addr};

/// What the security pipeline decided for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Passed,
    Blocked,
    Challenged,
    RateLimited,
}

/// Cache outcome. There is no cache yet; the dimension exists so stored
/// minutes need no migration when there is one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    #[default]
    None,
    Hit,
    Miss,
    Bypass,
}

/// One finished request, borrowed from the edge's own state so that building
/// it costs nothing.
#[derive(Clone, Copy, Debug)]
pub struct RequestEvent<'a> {
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub verdict: Verdict,
    pub cache: CacheStatus,
    pub client_ip: IpAddr,
    /// ISO 3166 alpha-2 code, if known.
    pub country: Option<[u8; 2]>,
    /// Request path; a query string is ignored.
    pub path: &'a str,
    /// Rules that matched; usually empty.
    pub rules_hit: &'a [&'a str],
    /// When the request ended, in Unix milliseconds.
    pub unix_ms: i64,
}

impl Default for RequestEvent<'_> {
    fn default() -> Self {
        Self {
            status: 200,
            bytes_in: 0,
            bytes_out: 0,
            verdict: Verdict::Passed,
            cache: CacheStatus::None,
            client_ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            country: None,
            path: "/",
            rules_hit: &[],
            unix_ms: 0,
        }
    }
}

/// Sizes of the aggregator; every one bounds memory. Out-of-range values are
/// clamped by [`Aggregator::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregatorConfig {
    /// Length of each top list in a [`MinuteBucket`].
    pub top_n: usize,
    /// Space-Saving counters per dimension per site-minute per shard
    /// (1..=65536). More counters, smaller error: `N / tracked_keys`.
    pub tracked_keys: usize,
    /// Longest path or rule name kept; longer ones are cut at a character
    /// boundary (at most 65536).
    pub max_key_bytes: usize,
    /// Named sites per minute per shard; further sites in that minute are
    /// counted under [`OTHER_SITE`].
    pub max_sites: usize,
    /// Minutes open at once per shard (1..=60). A new minute past this evicts
    /// the oldest, and its events count as dropped: it only happens when
    /// nobody drains for that long.
    pub max_open_minutes: usize,
    /// Lock shards (1..=256). Threads are spread over them round-robin; each
    /// shard has its own sketches, so memory grows with this number.
    pub shards: usize,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        // Four shards are enough to make lock contention negligible (a record
        // holds its lock for well under a microsecond) without multiplying
        // sketch memory by the core count on large machines.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            top_n: 20,
            tracked_keys: 256,
            max_key_bytes: 256,
            max_sites: 256,
            max_open_minutes: 3,
            shards: cores.min(4),
        }
    }
}

impl AggregatorConfig {
    fn normalized(mut self) -> Self {
        self.tracked_keys = self.tracked_keys.clamp(1, 1 << 16);
        self.max_key_bytes = self.max_key_bytes.min(1 << 16);
        self.max_sites = self.max_sites.min(1 << 20);
        self.max_open_minutes = self.max_open_minutes.clamp(1, 60);
        self.shards = self.shards.clamp(1, 256);
        self
    }

    /// Upper bound of [`AggregatorStats::approx_bytes`] for this
    /// configuration, whatever the traffic.
    pub fn worst_case_bytes(&self) -> usize {
        aggregator::worst_case_bytes(&self.clone().normalized())
    }
}
