//! In-memory maps and sets with a fast hasher (foldhash, as polars uses), for keys that are
//! line hashes, NHS numbers held as integers, and short codes. Not for anything stored or
//! shown: the hash decides only where a key sits in memory.

use std::collections::{HashMap, HashSet};

/// The hasher: foldhash with its fixed seed (nothing here depends on the seed).
pub type Fast = foldhash::fast::FixedState;

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
pub type FastSet<T> = HashSet<T, Fast>;
/// A map with [`Fast`] hashing.
pub type FastMap<K, V> = HashMap<K, V, Fast>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// hashbrown picks a bucket from the low bits and a tag from the top 7 bits: both must
    /// vary for keys that differ little (consecutive NHS numbers, codes sharing a prefix).
    fn spreads(hashes: &[u64]) {
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 600, "buckets: {}", buckets.len());
        assert!(tags.len() > 120, "tags: {}", tags.len());
    }

    #[test]
    fn spreads_consecutive_numbers_and_similar_codes() {
        let build = Fast::default();
        let mut s: FastSet<u64> = FastSet::default();
        for n in 0..10_000u64 {
            assert!(s.insert(9_990_000_000 + n));
        }
        assert!(!s.insert(9_990_000_000));
        spreads(
            &(0..1024u64)
                .map(|n| build.hash_one(9_990_000_000 + n))
                .collect::<Vec<_>>(),
        );
        spreads(
            &(0..1024u64)
                .map(|n| build.hash_one(format!("27164{n:04}")))
                .collect::<Vec<_>>(),
        );
    }
}
