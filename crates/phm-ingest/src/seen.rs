//! A set of 128-bit hashes (of lines, or of unique keys) seen so far in a file.
//!
//! The hashes are already uniform, so the set is a plain open-addressing table: one 16-byte
//! slot per entry, found from the hash's low bits and probed linearly, kept at most half
//! full. An insert touches one cache line where a general-purpose map touches two (its
//! control bytes, then the slot); on a file of millions of rows that is most of the cost.

use std::cell::RefCell;

/// Hashes seen so far.
pub struct SeenHashes {
    slots: Vec<u128>,
    len: usize,
}

thread_local! {
    /// The largest table a thread has finished with, to be cleared and used again by its
    /// next file rather than fresh memory the kernel must fault in and zero page by page.
    static SPARE: RefCell<Vec<u128>> = const { RefCell::new(Vec::new()) };
}

impl Drop for SeenHashes {
    fn drop(&mut self) {
        let slots = std::mem::take(&mut self.slots);
        SPARE.with_borrow_mut(|spare| {
            if slots.capacity() > spare.capacity() {
                *spare = slots;
            }
        });
    }
}

/// Marks an empty slot; a hash equal to it is stored as [`ZERO_STANDS_IN`] (two values in
/// 2^128 share a slot, as any two hashes may).
const EMPTY: u128 = 0;
const ZERO_STANDS_IN: u128 = 1;

impl SeenHashes {
    /// Room for about `expected` hashes before the table grows.
    pub fn with_capacity(expected: usize) -> Self {
        let n = (expected.max(8) * 2).next_power_of_two();
        let mut slots = SPARE.with_borrow_mut(|spare| {
            if spare.capacity() >= n {
                std::mem::take(spare)
            } else {
                Vec::new()
            }
        });
        slots.clear();
        slots.resize(n, EMPTY);
        SeenHashes { slots, len: 0 }
    }

    /// How many hashes are in the set.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Load the slots where these hashes would go, all at once, so that the inserts that
    /// follow find them in cache: independent loads overlap, while each insert alone waits
    /// for its own (on a file of millions of rows, most of an insert's time).
    pub fn warm(&self, hashes: impl Iterator<Item = u128>) {
        let mask = self.slots.len() - 1;
        let touched = hashes.fold(0u128, |acc, h| acc ^ self.slots[(h as usize) & mask]);
        std::hint::black_box(touched);
    }

    /// Add `hash`; `true` if it was not there before.
    pub fn insert(&mut self, hash: u128) -> bool {
        let hash = if hash == EMPTY { ZERO_STANDS_IN } else { hash };
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                self.slots[i] = hash;
                self.len += 1;
                return true;
            }
            if slot == hash {
                return false;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![EMPTY; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.slots.len() - 1;
        for hash in old.into_iter().filter(|&h| h != EMPTY) {
            let mut i = (hash as usize) & mask;
            while self.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = hash;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeats_through_growth_and_collisions() {
        let mut s = SeenHashes::with_capacity(4);
        let hash = |n: u64| xxhash_rust::xxh3::xxh3_128(&n.to_le_bytes());
        for n in 0..10_000 {
            assert!(s.insert(hash(n)), "{n} is new");
        }
        for n in 0..10_000 {
            assert!(!s.insert(hash(n)), "{n} was seen");
        }
        assert_eq!(s.len(), 10_000);
        // Same low bits (one probe chain), different high bits.
        for n in 0..100u128 {
            assert!(s.insert((n + 1) << 64));
        }
        for n in 0..100u128 {
            assert!(!s.insert((n + 1) << 64));
        }
        // The empty marker is a value like any other.
        assert!(s.insert(0));
        assert!(!s.insert(0));
        assert_eq!(s.len(), 10_101);
    }
}
