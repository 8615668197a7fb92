//! The pseudonymisation key: 32 secret bytes in a file only its owner can read.
//!
//! The file holds the key as 64 hexadecimal characters and a newline. A key file that group
//! or others can read, or that does not hold exactly 32 bytes, is refused with a message that
//! says how to fix it. The key never leaves this type: its `Debug` is redacted, and what is
//! recorded anywhere is [`PseudonymKey::id`], a hash of the key under a domain-separation
//! string.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Problems with a key file. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("cannot use key file `{path}`: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Group or others can read or write it.
    #[error(
        "key file `{path}` can be read by other users (mode {mode:03o})\nhint: run `chmod 600 {path}` and check who has seen it; if in doubt, make a new key with `phm key new`"
    )]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not 64 hex characters.
    #[error(
        "key file `{path}` does not hold a 32-byte key (64 hexadecimal characters)\nhint: make one with `phm key new --out {path}`"
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The output already exists.
    #[error("`{path}` already exists; phm never overwrites a key\nhint: choose another `--out`")]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// The operating system gave no randomness.
    #[error("no secure random numbers available: {0}")]
    Random(String),
}

/// A 32-byte secret key for keyed BLAKE3 pseudonyms.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PseudonymKey(id {})", self.id())
    }
}

/// The domain-separation string of key ids.
const KEY_ID_CONTEXT: &str = "phm 2026 pseudonymisation key id v1";

impl PseudonymKey {
    /// Read a key file, refusing one other users can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        check_private(path, &meta)?;
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_hex(text.trim_end_matches(['\n', '\r'])).ok_or_else(|| KeyError::Malformed {
            path: path.to_owned(),
        })
    }

    /// A key from 64 hexadecimal characters.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let b = hex.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, pair) in b.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            key[i] = (hi * 16 + lo) as u8;
        }
        Some(PseudonymKey(key))
    }

    /// A fresh random key written to a new file with mode 0600.
    pub fn create(path: &Path) -> Result<Self, KeyError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut file = opts.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_owned(),
                }
            } else {
                KeyError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let hex = to_hex(&key);
        file.write_all(format!("{hex}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| KeyError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(PseudonymKey(key))
    }

    /// A public identifier of the key (BLAKE3 key derivation under a fixed context, first 16
    /// hex characters): safe to record in manifests, useless for computing pseudonyms.
    pub fn id(&self) -> String {
        let derived = blake3::derive_key(KEY_ID_CONTEXT, &self.0);
        to_hex(&derived[..8])
    }

    /// A key derived from this one for another purpose (BLAKE3 key derivation under a
    /// domain-separation `context`): the audit log's subject hashes, for example. Useless for
    /// computing pseudonyms.
    pub fn derive(&self, context: &str) -> [u8; 32] {
        blake3::derive_key(context, &self.0)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Lowercase hexadecimal.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn new_key_is_private_loadable_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = PseudonymKey::create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = PseudonymKey::load(&path).unwrap();
        assert_eq!(loaded.bytes(), key.bytes());
        assert!(matches!(
            PseudonymKey::create(&path),
            Err(KeyError::Exists { .. })
        ));
        let other = PseudonymKey::create(&dir.path().join("k2.key")).unwrap();
        assert_ne!(other.bytes(), key.bytes());
        assert_ne!(other.id(), key.id());
    }

    #[test]
    fn readable_key_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        PseudonymKey::create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = PseudonymKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("0644") || err.contains("644"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn short_or_garbled_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in [
            ("short", "abcd\n"),
            ("long", &"a".repeat(66)[..]),
            ("nothex", &"g".repeat(64)[..]),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let err = PseudonymKey::load(&path).unwrap_err().to_string();
            assert!(
                err.contains("32-byte") && err.contains("phm key new"),
                "{err}"
            );
        }
    }

    #[test]
    fn debug_and_id_reveal_no_key_material() {
        let key = PseudonymKey::from_hex(&"ab".repeat(32)).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("abab"), "{shown}");
        assert_eq!(key.id().len(), 16);
        assert!(!"ab".repeat(32).contains(&key.id()));
    }
}
