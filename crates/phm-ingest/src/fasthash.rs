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

/// Ten ASCII digits as their integer value (a key for in-memory maps, taken two or three
/// times a row): the first eight combined in one word, pairs then fours then eights
/// (D. Lemire's method), then the last two.
pub fn digits_key(digits: &[u8; 10]) -> u64 {
    let (first, last) = digits.split_at(8);
    let word = u64::from_le_bytes(first.try_into().expect("eight digits")) & 0x0f0f_0f0f_0f0f_0f0f;
    let pairs = (word.wrapping_mul(10 << 8 | 1) >> 8) & 0x00ff_00ff_00ff_00ff;
    let fours = (pairs.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_ffff_0000_ffff;
    let eight = fours.wrapping_mul(10_000 << 32 | 1) >> 32;
    eight * 100 + u64::from(last[0] - b'0') * 10 + u64::from(last[1] - b'0')
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
    fn digits_key_is_the_number() {
        // Numbers of the synthetic test range (999 ...), pseudo-random in their last seven
        // digits; then every digit in every position through `0123456897` and its
        // rotations, which fail the modulus 11 check and so are no one's NHS number.
        let mut n: u64 = 1;
        for _ in 0..100_000 {
            n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1) % 10_000_000;
            let number = 9_990_000_000 + n;
            let text = format!("{number:010}");
            assert_eq!(digits_key(text.as_bytes().try_into().unwrap()), number);
        }
        let digits = *b"0123456897";
        for shift in 0..10 {
            let mut rotated = digits;
            rotated.rotate_left(shift);
            let text = std::str::from_utf8(&rotated).unwrap();
            assert!(!phm_contract::nhs::is_valid(text), "{text}");
            assert_eq!(digits_key(&rotated), text.parse::<u64>().unwrap(), "{text}");
        }
        assert_eq!(digits_key(b"9999999999"), 9_999_999_999);
        assert_eq!(digits_key(b"9990001235"), 9_990_001_235);
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
