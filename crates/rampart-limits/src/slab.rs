//! A bounded map from [`LimitKey`] to a small value, with O(1) sampled
//! eviction: the building block of every table in this crate.
//!
//! Values live in a dense `Vec` and a hash table maps keys to positions in
//! it. The dense array is what makes eviction cheap: a victim is chosen among
//! a few slots read from a random position, without walking the table, and
//! the newcomer takes the victim's slot in place. Both grow on demand up to
//! `capacity` and never shrink, so once warm nothing allocates.
//!
//! Keys are already uniformly random (keyed SipHash), so their low 64 bits
//! serve as the table's hash directly and no hashing happens here.

use crate::key::LimitKey;
use hashbrown::HashTable;

/// How many slots eviction looks at. Each is a cache miss in a large table
/// (issued in parallel by the CPU); more samples would pick slightly better
/// victims at a cost paid on every insert into a full table.
const SAMPLES: usize = 8;

pub(crate) struct Slot<V> {
    pub(crate) key: LimitKey,
    pub(crate) value: V,
}

pub(crate) struct Slab<V> {
    slots: Vec<Slot<V>>,
    index: HashTable<u32>,
    capacity: usize,
    // xorshift64 state: picks where eviction samples. Seeded from the secret
    // key seed, so an attacker cannot predict which slots are looked at.
    rng: u64,
}

impl<V> Slab<V> {
    /// A slab holding at most `capacity` keys (1 ..= u32::MAX, checked by
    /// the callers' configuration validation; clamped here regardless).
    pub(crate) fn new(capacity: usize, seed: u64) -> Self {
        Self {
            slots: Vec::new(),
            index: HashTable::new(),
            capacity: capacity.clamp(1, u32::MAX as usize),
            rng: seed | 1,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot index of `key`, if present.
    pub(crate) fn find(&self, key: LimitKey) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(key.table_hash(), |&i| {
                slots.get(i as usize).is_some_and(|s| s.key == key)
            })
            .map(|&i| i as usize)
    }

    pub(crate) fn get(&self, key: LimitKey) -> Option<&V> {
        self.find(key)
            .and_then(|i| self.slots.get(i))
            .map(|s| &s.value)
    }

    pub(crate) fn slot(&self, i: usize) -> Option<&Slot<V>> {
        self.slots.get(i)
    }

    pub(crate) fn value_mut(&mut self, i: usize) -> Option<&mut V> {
        self.slots.get_mut(i).map(|s| &mut s.value)
    }

    /// Inserts `key` (which must be absent). When full, evicts the sampled
    /// slot with the lowest `score` and returns its value with the index the
    /// new key took; otherwise returns the index alone.
    pub(crate) fn insert(
        &mut self,
        key: LimitKey,
        value: V,
        score: impl Fn(&V) -> u64,
    ) -> (usize, Option<V>) {
        match self.try_insert(key, value) {
            Ok(i) => (i, None),
            Err(value) => {
                let victim = self.pick_victim(score);
                (victim, self.replace(victim, key, value))
            }
        }
    }

    /// Inserts `key` (which must be absent) unless the slab is full, in which
    /// case the value comes back.
    pub(crate) fn try_insert(&mut self, key: LimitKey, value: V) -> Result<usize, V> {
        let len = self.slots.len();
        if len >= self.capacity {
            return Err(value);
        }
        if len == self.slots.capacity() {
            // Grow in doublings but never past the bound: `push` alone could
            // allocate up to twice the capacity.
            let more = len.max(16).min(self.capacity - len);
            self.slots.reserve_exact(more);
        }
        self.slots.push(Slot { key, value });
        let slots = &self.slots;
        self.index
            .insert_unique(key.table_hash(), len as u32, |&i| {
                slots.get(i as usize).map_or(0, |s| s.key.table_hash())
            });
        Ok(len)
    }

    /// Removes `key`, moving the last slot into its place.
    pub(crate) fn remove(&mut self, key: LimitKey) -> Option<V> {
        let slots = &self.slots;
        let entry = self
            .index
            .find_entry(key.table_hash(), |&i| {
                slots.get(i as usize).is_some_and(|s| s.key == key)
            })
            .ok()?;
        let (i, _) = entry.remove();
        let i = i as usize;
        let last = self.slots.len().checked_sub(1)?;
        if i != last {
            // The last slot moves to `i`: repoint its index entry first.
            let moved = self.slots.get(last)?.key;
            if let Some(pos) = self
                .index
                .find_mut(moved.table_hash(), |&j| j as usize == last)
            {
                *pos = i as u32;
            }
        }
        Some(self.slots.swap_remove(i).value)
    }

    /// Puts `key` into slot `i`, returning the value it held.
    fn replace(&mut self, i: usize, key: LimitKey, value: V) -> Option<V> {
        let old = self.slots.get(i)?.key;
        if let Ok(entry) = self
            .index
            .find_entry(old.table_hash(), |&j| j as usize == i)
        {
            entry.remove();
        }
        let slot = self.slots.get_mut(i)?;
        let previous = core::mem::replace(slot, Slot { key, value });
        let slots = &self.slots;
        self.index.insert_unique(key.table_hash(), i as u32, |&j| {
            slots.get(j as usize).map_or(0, |s| s.key.table_hash())
        });
        Some(previous.value)
    }

    /// The slot with the lowest score among `SAMPLES` slots drawn at random.
    /// With `k` of `n` slots "cheap" (expired, low count), the chance that
    /// none is sampled is about `(1 - k/n)^8`; a slot is evicted only if it
    /// is the cheapest of its sample. The draws are independent rather than
    /// a run of neighbours because neighbours were inserted at about the
    /// same time and so tend to be equally old.
    fn pick_victim(&mut self, score: impl Fn(&V) -> u64) -> usize {
        let len = self.slots.len() as u64;
        let mut best = 0;
        let mut best_score = u64::MAX;
        for _ in 0..SAMPLES {
            // Multiply-shift: a uniform index without a division.
            let i = ((u128::from(self.next_random()) * u128::from(len)) >> 64) as usize;
            if let Some(slot) = self.slots.get(i) {
                let s = score(&slot.value);
                if s < best_score {
                    best = i;
                    best_score = s;
                    if s == 0 {
                        break; // nothing is cheaper than an expired slot
                    }
                }
            }
        }
        best
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u64) -> LimitKey {
        // Spread the bits like a real hash would.
        LimitKey::from_u128(u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
    }

    #[test]
    fn insert_find_remove_keep_the_index_consistent() {
        let mut s = Slab::new(100, 1);
        for i in 0..50 {
            assert_eq!(s.try_insert(k(i), i).ok(), Some(i as usize));
        }
        for i in (0..50).step_by(3) {
            assert_eq!(s.remove(k(i)), Some(i));
        }
        assert_eq!(s.remove(k(0)), None);
        for i in 0..50 {
            let expect = if i % 3 == 0 { None } else { Some(&i) };
            assert_eq!(s.get(k(i)), expect, "key {i}");
        }
        assert_eq!(s.len(), 33);
        while let Some(slot) = s.slot(0) {
            let key = slot.key;
            assert!(s.remove(key).is_some());
        }
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn full_slab_refuses_or_evicts_the_lowest_score() {
        let mut s = Slab::new(8, 1);
        for i in 0..8 {
            s.try_insert(k(i), i).ok();
        }
        assert_eq!(s.try_insert(k(100), 100), Err(100));
        // Of two slots, eight random samples find the cheaper one (all but
        // surely: 2^-8 per insert is not a flaky test with a fixed seed).
        let mut s2 = Slab::new(2, 1);
        s2.try_insert(k(0), 0).ok();
        s2.try_insert(k(1), 1).ok();
        let (_, evicted) = s2.insert(k(2), 2, |&v| v);
        assert_eq!(evicted, Some(0));
        assert_eq!(s2.get(k(2)), Some(&2));
        // The victim is the cheapest sampled slot, and its key is gone.
        let (_, evicted) = s.insert(k(100), 100, |&v| v);
        let evicted = evicted.unwrap();
        assert_eq!(s.get(k(evicted)), None);
        assert_eq!(s.get(k(100)), Some(&100));
        assert_eq!(s.len(), 8);
        assert!(s.capacity == 8 && s.slots.capacity() <= 16);
    }
}
