//! Pseudonyms: `BLAKE3 keyed hash (key = 32-byte secret) of the ten ASCII digits of the
//! normalised NHS number`, written as 64 lowercase hexadecimal characters in a `pseudonym`
//! column. The only place in phm that computes one (`clippy.toml` forbids `keyed_hash`
//! elsewhere).

use phm_contract::NhsNumber;

use crate::fasthash::FastMap;
use crate::key::PseudonymKey;

/// Computes pseudonyms with one key, remembering those already computed (as the hash's
/// 32 bytes, so the cache holds no allocation per patient).
pub struct Pseudonymiser<'k> {
    key: &'k PseudonymKey,
    cache: FastMap<u64, blake3::Hash>,
}

impl<'k> Pseudonymiser<'k> {
    /// With a key.
    pub fn new(key: &'k PseudonymKey) -> Self {
        Pseudonymiser {
            key,
            cache: FastMap::default(),
        }
    }

    /// The pseudonym of an NHS number (64 lowercase hexadecimal characters).
    #[allow(clippy::disallowed_methods)]
    pub fn pseudonym(&mut self, nhs: &NhsNumber) -> Pseudonym {
        let key = self.key;
        let hash = self
            .cache
            .entry(crate::fasthash::nhs_key(nhs))
            .or_insert_with(|| blake3::keyed_hash(key.bytes(), nhs.expose_digits()));
        Pseudonym::of(hash.as_bytes())
    }
}

/// A pseudonym: the keyed hash's 32 bytes as 64 lowercase hexadecimal characters, written
/// by table (once per patient per batch: millions of times in a large run).
pub struct Pseudonym([u8; 64]);

impl Pseudonym {
    fn of(bytes: &[u8; 32]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0; 64];
        for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0x0f)];
        }
        Pseudonym(out)
    }

    /// The 64 characters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hexadecimal digits are ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_high_nibble_first() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0x0f;
        bytes[1] = 0xa5;
        bytes[31] = 0xff;
        let hex = Pseudonym::of(&bytes);
        let text = hex.as_str();
        assert_eq!(&text[..4], "0fa5");
        assert_eq!(&text[60..], "00ff");
        assert_eq!(text.len(), 64);
    }

    #[test]
    fn matches_an_independent_keyed_blake3() {
        // Key 00 01 02 .. 1f, input "9990001235": value from the blake3 reference (Python
        // `blake3.blake3(b"9990001235", key=bytes(range(32))).hexdigest()`), checked in tests/it.
        let key =
            PseudonymKey::from_hex(&crate::key::to_hex(&(0u8..32).collect::<Vec<u8>>())).unwrap();
        let mut p = Pseudonymiser::new(&key);
        let n = NhsNumber::parse("999 000 1235").unwrap();
        let a = p.pseudonym(&n).as_str().to_owned();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            p.pseudonym(&NhsNumber::parse("9990001235").unwrap())
                .as_str(),
            a
        );
        let other = PseudonymKey::from_hex(&"ff".repeat(32)).unwrap();
        assert_ne!(Pseudonymiser::new(&other).pseudonym(&n).as_str(), a);
    }
}
