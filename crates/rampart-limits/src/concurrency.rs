//! Concurrent connection caps per client address and per network prefix.
//!
//! Each open connection holds a [`ConnectionGuard`]; the counts go down when
//! it is dropped. Entries exist only while their count is above zero, so the
//! table holds at most two entries (address and prefix) per open connection:
//! sized at twice the node's connection limit, it can never be full. If it
//! is full anyway (a smaller size), new addresses are refused rather than
//! admitted uncounted, because a cap that silently stops counting under load
//! is no cap.
//!
//! Acquire and release are O(1): two shard locks each, one keyed hash per
//! key; nothing allocates once the table has grown to its working size.

use crate::error::LimitsError;
use crate::key::{KeyHasher, LimitKey};
use crate::slab::Slab;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Caps and sizing of a [`ConcurrencyLimiter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConcurrencyConfig {
    /// Open connections allowed per client address.
    pub per_ip: u32,
    /// Open connections allowed per network (all addresses of a prefix).
    pub per_prefix: u32,
    /// IPv4 prefix length of a network, e.g. 24.
    pub v4_prefix: u8,
    /// IPv6 prefix length of a network, e.g. 64 (what one subscriber gets).
    pub v6_prefix: u8,
    /// Addresses plus prefixes tracked at once.
    pub max_tracked: usize,
    /// Independent locks.
    pub shards: usize,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        Self {
            per_ip: 256,
            per_prefix: 1_024,
            v4_prefix: 24,
            v6_prefix: 64,
            max_tracked: 200_000,
            shards: 32,
        }
    }
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The address has `per_ip` connections open.
    #[error("too many connections from this address")]
    PerIp,
    /// The address's network has `per_prefix` connections open.
    #[error("too many connections from this network")]
    PerPrefix,
    /// The table is full of other open connections' entries.
    #[error("connection table full")]
    TableFull,
}

/// Counts open connections per address and per prefix and refuses those
/// over the caps. Share it in an [`Arc`]: guards hold a reference.
pub struct ConcurrencyLimiter {
    config: ConcurrencyConfig,
    hasher: KeyHasher,
    shards: Box<[Mutex<Slab<u32>>]>,
}

impl core::fmt::Debug for ConcurrencyLimiter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ConcurrencyLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One open connection's share of the counts; dropping it releases them.
#[must_use = "dropping the guard releases the connection slot at once"]
pub struct ConnectionGuard {
    limiter: Arc<ConcurrencyLimiter>,
    ip: LimitKey,
    prefix: LimitKey,
}

impl core::fmt::Debug for ConnectionGuard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ConnectionGuard { .. }")
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.limiter.release(self.prefix);
        self.limiter.release(self.ip);
    }
}

// Tags keeping address and prefix keys apart even when the prefix length is
// the full address.
const IP_TAG: &[u8] = b"conn-ip";
const NET_TAG: &[u8] = b"conn-net";

impl ConcurrencyLimiter {
    /// A limiter with the given caps. `hasher` keys the table so that an
    /// attacker with a whole IPv6 /64 cannot aim addresses at one bucket.
    pub fn new(config: ConcurrencyConfig, hasher: KeyHasher) -> Result<Self, LimitsError> {
        if config.per_ip == 0 {
            return Err(LimitsError::Zero { field: "per_ip" });
        }
        if config.per_prefix == 0 {
            return Err(LimitsError::Zero {
                field: "per_prefix",
            });
        }
        if config.v4_prefix > 32 {
            return Err(LimitsError::OutOfRange {
                field: "v4_prefix",
                min: 0,
                max: 32,
            });
        }
        if config.v6_prefix > 128 {
            return Err(LimitsError::OutOfRange {
                field: "v6_prefix",
                min: 0,
                max: 128,
            });
        }
        if config.shards == 0 || config.shards > 4096 {
            return Err(LimitsError::OutOfRange {
                field: "shards",
                min: 1,
                max: 4096,
            });
        }
        if config.max_tracked < config.shards {
            return Err(LimitsError::Inconsistent {
                field: "max_tracked",
                reason: "must be at least the number of shards",
            });
        }
        let per_shard = config.max_tracked.div_ceil(config.shards);
        if per_shard > u32::MAX as usize {
            return Err(LimitsError::OutOfRange {
                field: "max_tracked",
                min: 1,
                max: u64::from(u32::MAX),
            });
        }
        let shards = (0..config.shards)
            .map(|i| Mutex::new(Slab::new(per_shard, hasher.derive_u64(0x40 ^ i as u8))))
            .collect();
        Ok(Self {
            config,
            hasher,
            shards,
        })
    }

    fn keys(&self, ip: IpAddr) -> (LimitKey, LimitKey) {
        let c = &self.config;
        (
            self.hasher.key().bytes(IP_TAG).client_ip(ip).finish(),
            self.hasher
                .key()
                .bytes(NET_TAG)
                .ip_prefix(ip, c.v4_prefix, c.v6_prefix)
                .finish(),
        )
    }

    fn lock(&self, key: LimitKey) -> Option<MutexGuard<'_, Slab<u32>>> {
        let n = self.shards.len() as u128;
        let i = ((u128::from(key.shard_bits()) * n) >> 64) as usize;
        self.shards
            .get(i)
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds one to `key` unless that would exceed `cap`.
    fn take(&self, key: LimitKey, cap: u32, over: Refused) -> Result<(), Refused> {
        let mut slab = self.lock(key).ok_or(Refused::TableFull)?;
        match slab.find(key) {
            Some(i) => {
                let n = slab.value_mut(i).ok_or(Refused::TableFull)?;
                if *n >= cap {
                    return Err(over);
                }
                *n += 1;
                Ok(())
            }
            None => slab
                .try_insert(key, 1)
                .map(|_| ())
                .map_err(|_| Refused::TableFull),
        }
    }

    fn release(&self, key: LimitKey) {
        let Some(mut slab) = self.lock(key) else {
            return;
        };
        let Some(i) = slab.find(key) else {
            return;
        };
        let last = match slab.value_mut(i) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => true,
        };
        if last {
            slab.remove(key);
        }
    }

    /// Counts a new connection from `ip`, or says why it is refused. The
    /// counts stay until the guard is dropped.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionGuard, Refused> {
        let (ip_key, prefix_key) = self.keys(ip);
        self.take(ip_key, self.config.per_ip, Refused::PerIp)?;
        // One lock at a time: no lock order to get wrong. Between the two
        // steps the address is counted without its prefix, which can only
        // make a concurrent acquire stricter, never looser.
        if let Err(e) = self.take(prefix_key, self.config.per_prefix, Refused::PerPrefix) {
            self.release(ip_key);
            return Err(e);
        }
        Ok(ConnectionGuard {
            limiter: Arc::clone(self),
            ip: ip_key,
            prefix: prefix_key,
        })
    }

    /// Open connections of `ip` and of its network.
    #[must_use]
    pub fn open(&self, ip: IpAddr) -> (u32, u32) {
        let (ip_key, prefix_key) = self.keys(ip);
        let count = |k: LimitKey| {
            self.lock(k)
                .and_then(|slab| slab.get(k).copied())
                .unwrap_or(0)
        };
        (count(ip_key), count(prefix_key))
    }

    /// Addresses plus prefixes with open connections (takes every lock).
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}
