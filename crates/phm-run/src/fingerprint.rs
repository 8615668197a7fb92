//! A run's fingerprint: BLAKE3 over everything that decides its outputs (phm's version, the
//! pipeline definition, every input file's bytes, the contracts, SQL and code lists, key ids,
//! opt-out settings and the dates). Two runs with equal fingerprints give the same outputs, so
//! a run whose fingerprint equals the latest run's has nothing to do.
//!
//! The run id is `<reference date>-<the fingerprint's first 12 hex digits>`, for example
//! `2025-04-01-3fa9c2d10b7e`: runs sort by date, and the same inputs always get the same id.

use std::path::Path;

/// Builds a fingerprint from labelled parts, in a fixed order.
#[derive(Debug, Default)]
pub struct Fingerprint {
    hasher: blake3::Hasher,
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a labelled value (lengths are hashed too, so parts cannot run together).
    pub fn add(&mut self, label: &str, value: &[u8]) -> &mut Self {
        for part in [label.as_bytes(), value] {
            self.hasher.update(&(part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
        self
    }

    /// Add every file under a folder, by relative path and content hash, in path order.
    pub fn add_tree(&mut self, label: &str, dir: &Path) -> std::io::Result<&mut Self> {
        for f in crate::manifest::hash_tree(dir, &[], &|_| None)? {
            self.add(&format!("{label}/{}", f.path), f.blake3.as_bytes());
        }
        Ok(self)
    }

    /// The fingerprint, as 64 hex digits.
    pub fn finish(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }
}

/// The run id for a reference date (`YYYY-MM-DD`) and fingerprint.
pub fn run_id(reference_date: &str, fingerprint: &str) -> String {
    format!(
        "{reference_date}-{}",
        &fingerprint[..12.min(fingerprint.len())]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cannot_run_together_and_order_matters() {
        let a = Fingerprint::new().add("x", b"ab").add("y", b"c").finish();
        let b = Fingerprint::new().add("x", b"a").add("y", b"bc").finish();
        let c = Fingerprint::new().add("y", b"c").add("x", b"ab").finish();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            Fingerprint::new().add("x", b"ab").add("y", b"c").finish()
        );
        assert_eq!(run_id("2025-04-01", &a).len(), "2025-04-01-".len() + 12);
    }
}
