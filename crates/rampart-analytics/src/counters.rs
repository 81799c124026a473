//! The exact counters of one site's minute, shared by the flushed bucket,
//! the store's columns and the series the API and dashboard read, so the
//! list of counters is written once.

use serde::{Deserialize, Serialize};

/// Exact per-minute counts. Serialised flat (`"requests": …`) wherever it
/// is embedded with `#[serde(flatten)]`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Status classes; a status outside 100..=599 counts only in `requests`.
    pub status_1xx: u64,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub passed: u64,
    pub blocked: u64,
    pub challenged: u64,
    pub rate_limited: u64,
    /// Requests with no cache status count in none of the three.
    pub cache_hit: u64,
    pub cache_miss: u64,
    pub cache_bypass: u64,
}

impl Counters {
    /// The counters' names, in the order of [`Self::values`]; also the
    /// store's column names.
    pub const NAMES: [&'static str; 15] = [
        "requests",
        "bytes_in",
        "bytes_out",
        "status_1xx",
        "status_2xx",
        "status_3xx",
        "status_4xx",
        "status_5xx",
        "passed",
        "blocked",
        "challenged",
        "rate_limited",
        "cache_hit",
        "cache_miss",
        "cache_bypass",
    ];

    /// The values in the order of [`Self::NAMES`].
    pub fn values(&self) -> [u64; 15] {
        [
            self.requests,
            self.bytes_in,
            self.bytes_out,
            self.status_1xx,
            self.status_2xx,
            self.status_3xx,
            self.status_4xx,
            self.status_5xx,
            self.passed,
            self.blocked,
            self.challenged,
            self.rate_limited,
            self.cache_hit,
            self.cache_miss,
            self.cache_bypass,
        ]
    }

    /// The fields in the order of [`Self::NAMES`], to fill from a row.
    pub fn values_mut(&mut self) -> [&mut u64; 15] {
        [
            &mut self.requests,
            &mut self.bytes_in,
            &mut self.bytes_out,
            &mut self.status_1xx,
            &mut self.status_2xx,
            &mut self.status_3xx,
            &mut self.status_4xx,
            &mut self.status_5xx,
            &mut self.passed,
            &mut self.blocked,
            &mut self.challenged,
            &mut self.rate_limited,
            &mut self.cache_hit,
            &mut self.cache_miss,
            &mut self.cache_bypass,
        ]
    }

    /// Adds `other` counter by counter, saturating.
    pub fn add(&mut self, other: &Self) {
        for (a, b) in self.values_mut().into_iter().zip(other.values()) {
            *a = a.saturating_add(b);
        }
    }
}
