//! The shared aggregator: per-thread shards of open site-minutes.

use crate::bucket::{
    Keys, MinuteBucket, SiteMinute, combine, path_key, site_minute_worst_case_bytes,
};
use crate::sketch::table_worst_case_bytes;
use crate::{AggregatorConfig, RequestEvent};
use hashbrown::{DefaultHashBuilder, HashMap};
use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

const MS_PER_MINUTE: i64 = 60_000;

/// Site name under which sites past [`AggregatorConfig::max_sites`] are
/// counted. Configured site names start with a letter or digit, so this one
/// cannot be a real site.
pub const OTHER_SITE: &str = "_other";

/// Aggregates request events per site per minute in bounded memory.
///
/// Shared by all worker threads (`Arc<Aggregator>`). Each thread records into
/// one of a few shards, chosen once per thread round-robin, so threads do not
/// contend on one lock and one shard's cache lines stay mostly on one core.
/// A shard holds its own counters and sketches for each open site-minute;
/// draining merges them.
pub struct Aggregator {
    config: AggregatorConfig,
    /// One seeded hasher for all sketches: hashes are computed once per event,
    /// outside the lock, and must agree across shards only within a process.
    hasher: DefaultHashBuilder,
    shards: Box<[Mutex<Shard>]>,
    other: Arc<str>,
    dropped: AtomicU64,
}

/// What the aggregator holds, for tests, metrics and memory checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggregatorStats {
    /// Site-minutes being counted, summed over shards.
    pub open_buckets: usize,
    /// Drained site-minutes kept for reuse so a new minute allocates nothing.
    pub spare_buckets: usize,
    /// Keys tracked by all sketches of the open site-minutes (each sketch
    /// holds at most `tracked_keys`).
    pub tracked_entries: usize,
    /// Estimated heap bytes of open and spare site-minutes; never above
    /// [`AggregatorConfig::worst_case_bytes`].
    pub approx_bytes: usize,
    /// Events not counted: too late for any open minute, or in a minute
    /// evicted because nobody drained it in time.
    pub dropped_events: u64,
}

#[derive(Default)]
struct Shard {
    /// Keyed by the site's `Arc<str>` address (the bucket holds a clone, so
    /// the address stays unique while the key exists) and the minute number.
    buckets: HashMap<(usize, i64), Box<SiteMinute>>,
    /// The open minutes and how many named sites each has, at most
    /// `max_open_minutes` entries.
    minutes: Vec<OpenMinute>,
    /// Reset site-minutes ready for reuse, at most `max_sites + 1`.
    #[allow(
        clippy::vec_box,
        reason = "the same boxes move between `buckets` and here without copying"
    )]
    spare: Vec<Box<SiteMinute>>,
}

struct OpenMinute {
    minute: i64,
    sites: usize,
}

fn site_addr(site: &Arc<str>) -> usize {
    Arc::as_ptr(site).cast::<u8>().addr()
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's place in the round-robin, taken on its first event.
    static THREAD_SLOT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Round-robin rather than a hash of the thread id: the first `shards`
/// threads (the runtime's workers, started together) get distinct shards.
fn thread_slot() -> usize {
    THREAD_SLOT
        .try_with(|slot| match slot.get() {
            Some(n) => n,
            None => {
                let n = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
                slot.set(Some(n));
                n
            }
        })
        // A thread-local being destroyed (event recorded from a destructor at
        // thread exit) still records, on shard 0.
        .unwrap_or(0)
}

impl Aggregator {
    pub fn new(config: AggregatorConfig) -> Self {
        let config = config.normalized();
        let shards = (0..config.shards)
            .map(|_| Mutex::new(Shard::default()))
            .collect();
        Self {
            config,
            hasher: DefaultHashBuilder::default(),
            shards,
            other: Arc::from(OTHER_SITE),
            dropped: AtomicU64::new(0),
        }
    }

    /// The configuration in force (after clamping to sane ranges).
    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    /// Counts one finished request. The hot path: one uncontended lock, a few
    /// hash probes, no allocation unless this thread starts a new site-minute
    /// with no spare left or a new key needs a longer buffer. Never panics.
    pub fn record(&self, site: &Arc<str>, event: &RequestEvent<'_>) {
        let minute = event.unix_ms.div_euclid(MS_PER_MINUTE);
        let ip = event.client_ip.to_canonical();
        let path = path_key(event.path, self.config.max_key_bytes);
        let keys = Keys {
            ip,
            ip_hash: self.hasher.hash_one(ip),
            country: event.country.map(|code| {
                let code = code.map(|b| b.to_ascii_uppercase());
                (code, self.hasher.hash_one(code))
            }),
            path,
            path_hash: self.hasher.hash_one(path),
        };
        let index = thread_slot().checked_rem(self.shards.len()).unwrap_or(0);
        let Some(shard) = self.shards.get(index) else {
            return;
        };
        let mut shard = lock(shard);
        let shard = &mut *shard;
        let bucket = match shard.buckets.get_mut(&(site_addr(site), minute)) {
            Some(bucket) => bucket,
            None => match shard.open(site, minute, &self.config, &self.other) {
                Open::Bucket { bucket, evicted } => {
                    if evicted > 0 {
                        self.dropped.fetch_add(evicted, Ordering::Relaxed);
                    }
                    bucket
                }
                Open::Late => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
        };
        bucket.add(event, &keys, self.config.max_key_bytes, |rule| {
            self.hasher.hash_one(rule)
        });
    }

    /// Removes and returns the buckets of every minute before `now_ms`'s
    /// minute; the current minute and the next one keep accumulating.
    ///
    /// Minutes more than one ahead of `now_ms` are returned too: they come
    /// from a clock that stepped back, would otherwise hold one of the
    /// bounded minute slots until the clock catches up, and are stored under
    /// the minute their events carry. Buckets of the same site and minute
    /// from several shards are merged; output is sorted by site, then minute.
    pub fn drain_closed(&self, now_ms: i64) -> Vec<MinuteBucket> {
        let now = now_ms.div_euclid(MS_PER_MINUTE);
        self.drain_where(|minute| minute < now || minute > now.saturating_add(1))
    }

    /// Removes and returns everything, the open minute included (shutdown).
    pub fn drain_all(&self) -> Vec<MinuteBucket> {
        self.drain_where(|_| true)
    }

    pub fn stats(&self) -> AggregatorStats {
        let mut stats = AggregatorStats {
            dropped_events: self.dropped.load(Ordering::Relaxed),
            ..AggregatorStats::default()
        };
        for shard in self.shards.iter() {
            let shard = lock(shard);
            stats.open_buckets += shard.buckets.len();
            stats.spare_buckets += shard.spare.len();
            stats.tracked_entries += shard
                .buckets
                .values()
                .map(|b| b.tracked_entries())
                .sum::<usize>();
            stats.approx_bytes += shard.approx_bytes();
        }
        stats
    }

    fn drain_where(&self, closed: impl Fn(i64) -> bool) -> Vec<MinuteBucket> {
        // Take the closed site-minutes out under each lock and merge them with
        // no lock held, so recording threads wait only for the moves.
        let mut taken: Vec<Vec<Box<SiteMinute>>> = Vec::with_capacity(self.shards.len());
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let mut mine = Vec::new();
            if shard.minutes.iter().any(|m| closed(m.minute)) {
                shard.minutes.retain(|m| !closed(m.minute));
                mine.extend(
                    shard
                        .buckets
                        .extract_if(|&(_, minute), _| closed(minute))
                        .map(|(_, bucket)| bucket),
                );
            }
            taken.push(mine);
        }

        let mut all: Vec<&SiteMinute> = taken.iter().flatten().map(|b| &**b).collect();
        all.sort_unstable_by(|a, b| (&*a.site, a.minute).cmp(&(&*b.site, b.minute)));
        let out = all
            .chunk_by(|a, b| a.site == b.site && a.minute == b.minute)
            .map(|parts| combine(parts, self.config.top_n))
            .collect();

        for (shard, buckets) in self.shards.iter().zip(taken) {
            if buckets.is_empty() {
                continue;
            }
            let mut shard = lock(shard);
            for bucket in buckets {
                shard.recycle(bucket, &self.config, &self.other);
            }
        }
        out
    }
}

/// A panic while a shard was locked (there is none in this crate, but a
/// poisoned lock must not stop accounting) leaves counts that are still
/// usable: take them.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Open<'a> {
    Bucket {
        bucket: &'a mut SiteMinute,
        /// Events of a minute evicted to make room, now dropped.
        evicted: u64,
    },
    /// Older than every open minute while all minute slots are taken.
    Late,
}

impl Shard {
    /// Finds or makes room for `site` in `minute`: opens the minute (evicting
    /// the oldest if all slots are taken and this one is newer) and falls back
    /// to the shared "other" site past `max_sites`.
    fn open<'a>(
        &'a mut self,
        site: &Arc<str>,
        minute: i64,
        config: &AggregatorConfig,
        other: &Arc<str>,
    ) -> Open<'a> {
        let mut evicted = 0;
        if !self.minutes.iter().any(|m| m.minute == minute) {
            if self.minutes.len() >= config.max_open_minutes {
                let Some(oldest) = self.minutes.iter().map(|m| m.minute).min() else {
                    return Open::Late;
                };
                if minute < oldest {
                    return Open::Late;
                }
                evicted = self.evict(oldest, config, other);
            }
            self.minutes.push(OpenMinute { minute, sites: 0 });
        }
        let Some(open) = self.minutes.iter_mut().find(|m| m.minute == minute) else {
            return Open::Late;
        };
        let site = if open.sites < config.max_sites {
            open.sites = open.sites.saturating_add(1);
            site
        } else {
            other
        };
        let spare = &mut self.spare;
        let bucket = self
            .buckets
            .entry((site_addr(site), minute))
            .or_insert_with(|| match spare.pop() {
                Some(mut bucket) => {
                    bucket.relabel(site.clone(), minute);
                    bucket
                }
                None => Box::new(SiteMinute::new(site.clone(), minute, config.tracked_keys)),
            });
        Open::Bucket { bucket, evicted }
    }

    /// Drops a minute nobody drained in time, to keep the minute count
    /// bounded. Returns how many events it held.
    fn evict(&mut self, minute: i64, config: &AggregatorConfig, other: &Arc<str>) -> u64 {
        self.minutes.retain(|m| m.minute != minute);
        let gone: Vec<_> = self
            .buckets
            .extract_if(|&(_, m), _| m == minute)
            .map(|(_, bucket)| bucket)
            .collect();
        let mut events = 0u64;
        for bucket in gone {
            events = events.saturating_add(bucket.requests());
            self.recycle(bucket, config, other);
        }
        events
    }

    fn recycle(
        &mut self,
        mut bucket: Box<SiteMinute>,
        config: &AggregatorConfig,
        other: &Arc<str>,
    ) {
        if self.spare.len() <= config.max_sites {
            // Point at the shared name so a removed site's name is freed.
            bucket.reset(other.clone(), 0);
            self.spare.push(bucket);
        }
    }

    fn approx_bytes(&self) -> usize {
        let map = self.buckets.allocation_size();
        let minutes = self.minutes.capacity() * size_of::<OpenMinute>();
        let spare = self.spare.capacity() * size_of::<usize>();
        let buckets: usize = self
            .buckets
            .values()
            .chain(&self.spare)
            .map(|b| b.approx_bytes())
            .sum();
        map + minutes + spare + buckets
    }
}

/// See [`AggregatorConfig::worst_case_bytes`]; `config` is normalised.
pub(crate) fn worst_case_bytes(config: &AggregatorConfig) -> usize {
    let sites = config.max_sites.saturating_add(1);
    let open = config.max_open_minutes.saturating_mul(sites);
    let map = table_worst_case_bytes(open, size_of::<((usize, i64), Box<SiteMinute>)>());
    let minutes = (2 * config.max_open_minutes + 4) * size_of::<OpenMinute>();
    let spare = sites.saturating_mul(2).saturating_add(4) * size_of::<usize>();
    let buckets = open
        .saturating_add(sites)
        .saturating_mul(site_minute_worst_case_bytes(
            config.tracked_keys,
            config.max_key_bytes,
        ));
    config.shards.saturating_mul(
        map.saturating_add(minutes)
            .saturating_add(spare)
            .saturating_add(buckets),
    )
}
