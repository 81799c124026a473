//! Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi, "Efficient
//! computation of frequent and top-k elements in data streams", 2005).
//!
//! A sketch holds at most `capacity` counters. A tracked key's counter is
//! bumped; an untracked key takes over the counter with the smallest count,
//! inheriting that count (+1) and recording it as its possible error. After
//! `N` offers, for every tracked key:
//!
//! ```text
//! true_count <= count <= true_count + error,   error <= min_count <= N / capacity
//! ```
//!
//! and every key whose true count exceeds `min_count` (so every key with more
//! than `N / capacity` occurrences) is tracked. Memory never depends on how
//! many distinct keys the stream has.
//!
//! Layout, chosen so that a hit costs one hash probe and usually no heap move:
//! counters live in fixed slots; a binary min-heap of slot numbers finds the
//! minimum in O(1) and re-orders in O(log capacity) (heavy keys sit at the
//! leaves, where a bump moves nothing); an index (`HashTable<u32>` of slot
//! numbers) maps a key to its slot by a hash computed once per event, so the
//! key itself is stored once, in its slot.

use hashbrown::HashTable;
use std::hash::Hash;
use std::net::IpAddr;

/// How a key is stored in a slot and looked up by its borrowed form.
pub(crate) trait SketchKey {
    /// What the hot path has in hand (`str` for paths: no `String` needed to look up).
    type Borrowed: ?Sized + Eq + Hash + Ord;
    fn borrowed(&self) -> &Self::Borrowed;
    fn from_borrowed(key: &Self::Borrowed) -> Self;
    /// Overwrites in place, so that a reused slot keeps its buffer and a key
    /// replacing the minimum usually allocates nothing.
    fn assign(&mut self, key: &Self::Borrowed);
    /// Heap bytes owned by the key, for the memory estimate.
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl SketchKey for IpAddr {
    type Borrowed = IpAddr;
    fn borrowed(&self) -> &IpAddr {
        self
    }
    fn from_borrowed(key: &IpAddr) -> Self {
        *key
    }
    fn assign(&mut self, key: &IpAddr) {
        *self = *key;
    }
}

impl SketchKey for [u8; 2] {
    type Borrowed = [u8; 2];
    fn borrowed(&self) -> &[u8; 2] {
        self
    }
    fn from_borrowed(key: &[u8; 2]) -> Self {
        *key
    }
    fn assign(&mut self, key: &[u8; 2]) {
        *self = *key;
    }
}

impl SketchKey for String {
    type Borrowed = str;
    fn borrowed(&self) -> &str {
        self
    }
    fn from_borrowed(key: &str) -> Self {
        key.to_owned()
    }
    fn assign(&mut self, key: &str) {
        self.clear();
        // Exact, so a buffer never holds more than the longest key it took.
        self.reserve_exact(key.len());
        self.push_str(key);
    }
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

struct Slot<K> {
    key: K,
    hash: u64,
    count: u64,
    error: u64,
    /// Where this slot's number sits in `heap`, kept so a bump can re-heap
    /// without searching.
    heap_pos: u32,
}

pub(crate) struct SpaceSaving<K> {
    capacity: usize,
    /// `slots[..live]` hold counters; slots past it are left over from before
    /// a `reset` and are reused so their key buffers are not reallocated.
    live: usize,
    slots: Vec<Slot<K>>,
    /// Min-heap (by count) of the numbers of the live slots.
    heap: Vec<u32>,
    index: HashTable<u32>,
}

impl<K: SketchKey> SpaceSaving<K> {
    /// `capacity` is clamped to 1..=u32::MAX so that slot numbers fit the heap
    /// and the index.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.clamp(1, u32::MAX as usize),
            live: 0,
            slots: Vec::new(),
            heap: Vec::new(),
            index: HashTable::new(),
        }
    }

    /// Forgets every key but keeps the allocations, for the next minute.
    pub(crate) fn reset(&mut self) {
        self.live = 0;
        self.heap.clear();
        self.index.clear();
    }

    /// Counts one occurrence of `key`; `hash` must come from the same
    /// `BuildHasher` for every offer to this sketch.
    pub(crate) fn offer(&mut self, key: &K::Borrowed, hash: u64) {
        let slots = &self.slots;
        let found = self.index.find(hash, |&s| {
            slots
                .get(s as usize)
                .is_some_and(|slot| slot.hash == hash && slot.key.borrowed() == key)
        });
        if let Some(&s) = found {
            self.bump(s);
        } else if self.live < self.capacity {
            self.add(key, hash);
        } else {
            self.replace_min(key, hash);
        }
    }

    fn bump(&mut self, s: u32) {
        if let Some(slot) = self.slots.get_mut(s as usize) {
            slot.count = slot.count.saturating_add(1);
            let pos = slot.heap_pos as usize;
            self.sift_down(pos);
        }
    }

    fn add(&mut self, key: &K::Borrowed, hash: u64) {
        let s = self.live;
        let Ok(number) = u32::try_from(s) else {
            return;
        };
        let Ok(heap_pos) = u32::try_from(self.heap.len()) else {
            return;
        };
        match self.slots.get_mut(s) {
            Some(slot) => {
                slot.key.assign(key);
                slot.hash = hash;
                slot.count = 1;
                slot.error = 0;
                slot.heap_pos = heap_pos;
            }
            None => {
                // Grow by hand so that the slot array never exceeds the
                // capacity (doubling could leave it at nearly twice that),
                // yet a site with few keys keeps a small one.
                if self.slots.len() == self.slots.capacity() {
                    let grow = self.slots.len().max(4).min(self.capacity.saturating_sub(s));
                    self.slots.reserve_exact(grow);
                }
                self.slots.push(Slot {
                    key: K::from_borrowed(key),
                    hash,
                    count: 1,
                    error: 0,
                    heap_pos,
                });
            }
        }
        self.live = s.saturating_add(1);
        self.heap.push(number);
        let slots = &self.slots;
        self.index
            .insert_unique(hash, number, |&v| slot_hash(slots, v));
        if self.live == self.capacity {
            // From now on every new key deletes one entry and inserts one.
            // hashbrown reuses deleted buckets only after a rehash, and
            // rehashes in place (no allocation) only while at most half full,
            // else it doubles. Room for twice the keys now means that one
            // doubling happens here, once per sketch, not on some later event.
            self.index
                .reserve(self.capacity.saturating_add(2), |&v| slot_hash(slots, v));
        }
        self.sift_up(heap_pos as usize);
    }

    fn replace_min(&mut self, key: &K::Borrowed, hash: u64) {
        let Some(&s) = self.heap.first() else {
            return;
        };
        let Some(slot) = self.slots.get_mut(s as usize) else {
            return;
        };
        if let Ok(entry) = self.index.find_entry(slot.hash, |&v| v == s) {
            entry.remove();
        }
        slot.key.assign(key);
        slot.hash = hash;
        slot.error = slot.count;
        slot.count = slot.count.saturating_add(1);
        let slots = &self.slots;
        self.index.insert_unique(hash, s, |&v| slot_hash(slots, v));
        self.sift_down(0);
    }

    fn count_at(&self, pos: usize) -> Option<u64> {
        let s = *self.heap.get(pos)?;
        self.slots.get(s as usize).map(|slot| slot.count)
    }

    /// Swaps two heap positions (both checked in range by the callers'
    /// `count_at`) and records the slots' new positions.
    fn swap(&mut self, a: usize, b: usize) {
        if a >= self.heap.len() || b >= self.heap.len() {
            return;
        }
        self.heap.swap(a, b);
        for pos in [a, b] {
            let Some(&s) = self.heap.get(pos) else {
                continue;
            };
            if let (Some(slot), Ok(p)) = (self.slots.get_mut(s as usize), u32::try_from(pos)) {
                slot.heap_pos = p;
            }
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            match (self.count_at(pos), self.count_at(parent)) {
                (Some(c), Some(p)) if c < p => {
                    self.swap(pos, parent);
                    pos = parent;
                }
                _ => break,
            }
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        while let Some(count) = self.count_at(pos) {
            let left = pos.saturating_mul(2).saturating_add(1);
            let right = left.saturating_add(1);
            let (child, child_count) = match (self.count_at(left), self.count_at(right)) {
                (Some(l), Some(r)) if r < l => (right, r),
                (Some(l), _) => (left, l),
                (None, _) => break,
            };
            if child_count >= count {
                break;
            }
            self.swap(pos, child);
            pos = child;
        }
    }

    /// Live counters: `(key, count, error)`; `count - error` is a guaranteed
    /// lower bound of the key's true count, `count` an upper bound.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&K::Borrowed, u64, u64)> {
        self.slots
            .iter()
            .take(self.live)
            .map(|slot| (slot.key.borrowed(), slot.count, slot.error))
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The stream length `N` since the last reset: every offer adds exactly
    /// one to the sum of the counters.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.entries().map(|(_, count, _)| count).sum()
    }

    /// The smallest counter once the sketch is full (the bound on any error
    /// and on the true count of any untracked key); 0 while keys still fit.
    #[cfg(test)]
    pub(crate) fn min_count(&self) -> u64 {
        if self.live < self.capacity {
            0
        } else {
            self.count_at(0).unwrap_or(0)
        }
    }

    /// Approximate heap bytes held, including left-over slots kept for reuse.
    pub(crate) fn approx_bytes(&self) -> usize {
        let slots = self.slots.capacity() * size_of::<Slot<K>>();
        let keys: usize = self.slots.iter().map(|s| s.key.heap_bytes()).sum();
        let heap = self.heap.capacity() * size_of::<u32>();
        slots + keys + heap + self.index.allocation_size()
    }
}

/// Bound of [`SpaceSaving::approx_bytes`] for `capacity` counters whose keys
/// own at most `key_bytes` each.
pub(crate) fn worst_case_bytes<K>(capacity: usize, key_bytes: usize) -> usize {
    let k = capacity.clamp(1, u32::MAX as usize);
    // Slots never exceed the capacity (grown by hand); the heap grows by
    // doubling; the index is sized for twice the capacity once full.
    let slots = k * (size_of::<Slot<K>>() + key_bytes);
    let heap = (2 * k + 4) * size_of::<u32>();
    slots + heap + table_worst_case_bytes(k, size_of::<u32>())
}

/// Bound of `allocation_size` of a hashbrown table that never holds more than
/// `items` entries but sees deletions. hashbrown resizes to at least one
/// more than its full capacity when deleted entries use up the free buckets
/// while it is over half full, so it settles at (or is reserved to) a bucket
/// count whose capacity (7/8 of the buckets) is at least twice `items`: fewer than
/// `(4 * items + 4) * 8 / 7` buckets. Each bucket has one control byte, plus
/// a group of trailing control bytes and alignment.
pub(crate) fn table_worst_case_bytes(items: usize, entry_bytes: usize) -> usize {
    let buckets = items.saturating_mul(4).saturating_add(4).saturating_mul(8) / 7 + 8;
    buckets.saturating_mul(entry_bytes + 1).saturating_add(64)
}

fn slot_hash<K>(slots: &[Slot<K>], s: u32) -> u64 {
    slots.get(s as usize).map_or(0, |slot| slot.hash)
}

/// Merges sketches of the same dimension (one per shard) and returns the `n`
/// largest `(key, count)`, largest first, ties by key so output is stable.
///
/// A key's merged count is the sum of its counts where it is tracked. Per
/// sketch `s` with stream length `N_s` the count is off by at most
/// `min_count_s <= N_s / capacity` (over where tracked, under where not), so
/// the merged count is within `N / capacity` of the truth, `N` being the
/// total over all parts.
pub(crate) fn merged_top<'a, K: SketchKey + 'a>(
    parts: &[&'a SpaceSaving<K>],
    n: usize,
) -> Vec<(&'a K::Borrowed, u64)> {
    let mut out: Vec<(&K::Borrowed, u64)> = match parts {
        [] => Vec::new(),
        [one] => one.entries().map(|(k, c, _)| (k, c)).collect(),
        many => {
            let mut sums: hashbrown::HashMap<&K::Borrowed, u64> = hashbrown::HashMap::new();
            for part in many {
                for (key, count, _) in part.entries() {
                    let sum = sums.entry(key).or_insert(0);
                    *sum = sum.saturating_add(count);
                }
            }
            sums.into_iter().collect()
        }
    };
    out.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn offer(s: &mut SpaceSaving<String>, h: &hashbrown::DefaultHashBuilder, key: &str) {
        s.offer(key, h.hash_one(key));
    }

    fn check_heap<K: SketchKey>(s: &SpaceSaving<K>) {
        assert_eq!(s.heap.len(), s.live);
        for pos in 0..s.heap.len() {
            let slot = &s.slots[s.heap[pos] as usize];
            assert_eq!(slot.heap_pos as usize, pos, "heap_pos out of date");
            if pos > 0 {
                assert!(
                    s.count_at((pos - 1) / 2).unwrap() <= slot.count,
                    "heap order"
                );
            }
        }
        assert_eq!(s.index.len(), s.live);
    }

    #[test]
    fn exact_while_keys_fit() {
        let h = hashbrown::DefaultHashBuilder::default();
        let mut s = SpaceSaving::<String>::new(8);
        for (key, times) in [("a", 5), ("b", 3), ("c", 1)] {
            for _ in 0..times {
                offer(&mut s, &h, key);
            }
        }
        check_heap(&s);
        let top = merged_top(&[&s], 10);
        assert_eq!(top, vec![("a", 5), ("b", 3), ("c", 1)]);
        assert!(s.entries().all(|(_, _, e)| e == 0));
        assert_eq!(s.total(), 9);
        assert_eq!(s.min_count(), 0);
    }

    #[test]
    fn replacement_keeps_the_invariants() {
        let h = hashbrown::DefaultHashBuilder::default();
        let mut s = SpaceSaving::<String>::new(4);
        for i in 0..1000u32 {
            offer(&mut s, &h, "heavy");
            offer(&mut s, &h, &format!("k{i}"));
            check_heap(&s);
        }
        let total: u64 = s.entries().map(|(_, c, _)| c).sum();
        assert_eq!(total, 2000, "Space-Saving counts add up to N");
        let (key, count, error) = s.entries().find(|(k, _, _)| *k == "heavy").unwrap();
        assert_eq!(key, "heavy");
        assert!(count >= 1000 && count - error <= 1000);
        assert!(error <= s.min_count() && s.min_count() <= 2000 / 4);
    }

    #[test]
    fn reset_reuses_buffers() {
        let h = hashbrown::DefaultHashBuilder::default();
        let mut s = SpaceSaving::<String>::new(2);
        offer(&mut s, &h, "a-long-path-that-needs-a-buffer");
        offer(&mut s, &h, "b");
        let before = s.approx_bytes();
        s.reset();
        assert_eq!(s.len(), 0);
        assert_eq!(merged_top(&[&s], 5), vec![]);
        offer(&mut s, &h, "c");
        check_heap(&s);
        assert_eq!(merged_top(&[&s], 5), vec![("c", 1)]);
        assert_eq!(s.approx_bytes(), before);
    }

    #[test]
    fn merging_sums_shared_keys() {
        let h = hashbrown::DefaultHashBuilder::default();
        let mut a = SpaceSaving::<String>::new(4);
        let mut b = SpaceSaving::<String>::new(4);
        for _ in 0..3 {
            offer(&mut a, &h, "x");
        }
        offer(&mut a, &h, "y");
        for _ in 0..2 {
            offer(&mut b, &h, "y");
        }
        offer(&mut b, &h, "z");
        assert_eq!(
            merged_top(&[&a, &b], 2),
            vec![("x", 3), ("y", 3)],
            "ties ordered by key"
        );
    }
}
