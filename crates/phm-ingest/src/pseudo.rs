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
    /// The key of provider record numbers ([`RECORD_ID_KEY_CONTEXT`]).
    record_key: [u8; 32],
}

/// The domain-separation string of the key that provider record numbers (contract role
/// `record_id`, such as spell ids) are hashed under.
pub const RECORD_ID_KEY_CONTEXT: &str = "phm 2026-12 provider record id key v1";

impl<'k> Pseudonymiser<'k> {
    /// With a key.
    pub fn new(key: &'k PseudonymKey) -> Self {
        Pseudonymiser {
            key,
            cache: FastMap::default(),
            record_key: key.derive(RECORD_ID_KEY_CONTEXT),
        }
    }

    /// A provider's record number (a spell id) as written to the pseudonymised zone: the keyed
    /// BLAKE3 hash of its text under [`RECORD_ID_KEY_CONTEXT`]'s key, 64 lowercase hexadecimal
    /// characters. The same number gives the same hash in every file and run under the key, so
    /// episodes still group into spells; the provider cannot look it up.
    #[allow(clippy::disallowed_methods)]
    pub fn record_id(&self, value: &str) -> Pseudonym {
        Pseudonym::of(blake3::keyed_hash(&self.record_key, value.as_bytes()).as_bytes())
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

/// The domain-separation string of a recipient's key (`phm share`).
pub const RECIPIENT_KEY_CONTEXT: &str = "phm 2026-12 recipient pseudonym key v1";
/// The domain-separation string of a recipient key's public id.
const RECIPIENT_KEY_ID_CONTEXT: &str = "phm 2026-12 recipient pseudonym key id v1";

/// A recipient's pseudonyms (sub-licensing): the keyed BLAKE3 hash of a run's pseudonym (its
/// 64 hexadecimal characters) under a key derived from the master key, the recipient id and
/// a key epoch. Two recipients' pseudonyms cannot be joined with each other or with the ICB's
/// zone without the master key; a new epoch gives the recipient new pseudonyms.
pub struct RecipientPseudonyms {
    key: [u8; 32],
}

impl RecipientPseudonyms {
    /// The pseudonyms of `recipient` in `epoch`. The key material is the master key, then the
    /// recipient id and the epoch, each after its length (so no two pairs give the same bytes).
    pub fn new(master: &PseudonymKey, recipient: &str, epoch: u32) -> Self {
        let mut material = master.bytes().to_vec();
        material.extend_from_slice(&(recipient.len() as u64).to_le_bytes());
        material.extend_from_slice(recipient.as_bytes());
        material.extend_from_slice(&4u64.to_le_bytes());
        material.extend_from_slice(&epoch.to_le_bytes());
        RecipientPseudonyms {
            key: blake3::derive_key(RECIPIENT_KEY_CONTEXT, &material),
        }
    }

    /// A public id of the recipient's key (first 16 hexadecimal characters of a derived
    /// hash): recorded in the data-sharing manifest, useless for computing pseudonyms.
    pub fn key_id(&self) -> String {
        crate::key::to_hex(&blake3::derive_key(RECIPIENT_KEY_ID_CONTEXT, &self.key)[..8])
    }

    /// The recipient's pseudonym for a run's pseudonym.
    #[allow(clippy::disallowed_methods)]
    pub fn pseudonym(&self, run_pseudonym: &str) -> Pseudonym {
        Pseudonym::of(blake3::keyed_hash(&self.key, run_pseudonym.as_bytes()).as_bytes())
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
    fn recipient_pseudonyms_differ_by_recipient_and_epoch_and_are_stable() {
        let master = PseudonymKey::from_hex(&"ab".repeat(32)).unwrap();
        let run = "0f".repeat(32);
        let a1 = RecipientPseudonyms::new(&master, "council", 1);
        let a1_again = RecipientPseudonyms::new(&master, "council", 1);
        let a2 = RecipientPseudonyms::new(&master, "council", 2);
        let b1 = RecipientPseudonyms::new(&master, "trust", 1);
        let p = |r: &RecipientPseudonyms| r.pseudonym(&run).as_str().to_owned();
        assert_eq!(p(&a1), p(&a1_again));
        assert_ne!(p(&a1), p(&a2));
        assert_ne!(p(&a1), p(&b1));
        assert_ne!(p(&a1), run);
        assert_ne!(a1.key_id(), a2.key_id());
        // the id and epoch are length-prefixed: ("council1", 1) is not ("council", 11...)
        assert_ne!(
            p(&RecipientPseudonyms::new(&master, "council1", 1)),
            p(&RecipientPseudonyms::new(&master, "council", 1))
        );
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
