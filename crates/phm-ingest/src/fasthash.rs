//! A small hasher for in-memory sets keyed by numbers: line hashes (already uniform) and NHS
//! numbers held as integers. Not for anything stored or shown; `std`'s `SipHash` is kept
//! everywhere else.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-and-rotate over 64-bit words (as in rustc's `FxHasher`).
#[derive(Default)]
pub struct Fast(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for Fast {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }
    #[allow(clippy::cast_possible_truncation)]
    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
}

/// An NHS number as an integer key for in-memory maps.
pub fn nhs_key(nhs: &phm_contract::NhsNumber) -> u64 {
    digits_key(nhs.expose_digits())
}

/// Ten ASCII digits as an integer key.
pub fn digits_key(digits: &[u8; 10]) -> u64 {
    digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
}

/// A set with [`Fast`] hashing.
pub type FastSet<T> = HashSet<T, BuildHasherDefault<Fast>>;
/// A map with [`Fast`] hashing.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fast>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_consecutive_keys() {
        let mut s: FastSet<u64> = FastSet::default();
        for n in 0..10_000u64 {
            assert!(s.insert(9_990_000_000 + n));
        }
        assert!(!s.insert(9_990_000_000));
        // hashbrown picks a bucket from the low bits and a tag from the top 7 bits.
        let build = BuildHasherDefault::<Fast>::default();
        let hashes: Vec<u64> = (0..1024u64)
            .map(|n| std::hash::BuildHasher::hash_one(&build, 9_990_000_000 + n))
            .collect();
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 900, "buckets: {}", buckets.len());
        assert!(tags.len() > 120, "tags: {}", tags.len());
    }
}
