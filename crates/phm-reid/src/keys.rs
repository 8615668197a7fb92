//! Practice keys: an age X25519 identity per practice (private, kept where the practice's
//! re-identification happens) and its public recipient (named in the pipeline definition).
//!
//! The identity file is the `age-keygen` format (`# created:`, `# public key:`, then the
//! `AGE-SECRET-KEY-1...` line), so the `age` and `rage` command-line tools read it too. It is
//! written 0600 and refused when anyone but its owner can read it.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use age::secrecy::ExposeSecret as _;

use crate::ReidError;

/// A practice's public recipient (`age1...`): whoever holds it can encrypt to the practice.
#[derive(Clone)]
pub struct PracticeRecipient(age::x25519::Recipient);

impl std::fmt::Debug for PracticeRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PracticeRecipient({})", self.key_id())
    }
}

impl PracticeRecipient {
    /// Read `age1...`; `what` names where it came from in the error.
    pub fn parse(text: &str, what: &str) -> Result<Self, ReidError> {
        age::x25519::Recipient::from_str(text.trim())
            .map(PracticeRecipient)
            .map_err(|_| ReidError::BadRecipient {
                what: what.to_owned(),
            })
    }

    /// The recipient as written in a pipeline definition (`age1...`: public).
    pub fn as_text(&self) -> String {
        self.0.to_string()
    }

    /// A short id of the key: the first 16 hex digits of the BLAKE3 of its recipient text.
    /// Bundles and manifests name keys by it.
    pub fn key_id(&self) -> String {
        key_id(&self.as_text())
    }

    /// The age recipient.
    pub fn age(&self) -> &age::x25519::Recipient {
        &self.0
    }
}

/// The key id of a recipient text.
pub fn key_id(recipient: &str) -> String {
    blake3::hash(recipient.trim().as_bytes()).to_hex()[..16].to_owned()
}

/// A practice's private identity. Its `Debug` names only the key id.
pub struct PracticeIdentity(age::x25519::Identity);

impl std::fmt::Debug for PracticeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PracticeIdentity({})", self.recipient().key_id())
    }
}

impl PracticeIdentity {
    /// A new random identity.
    pub fn generate() -> Self {
        PracticeIdentity(age::x25519::Identity::generate())
    }

    /// Its public recipient.
    pub fn recipient(&self) -> PracticeRecipient {
        PracticeRecipient(self.0.to_public())
    }

    /// The age identity.
    pub fn age(&self) -> &age::x25519::Identity {
        &self.0
    }

    /// Read an identity file (refused unless only its owner can read it).
    pub fn load(path: &Path) -> Result<Self, ReidError> {
        let meta = fs::metadata(path).map_err(|e| ReidError::io(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(ReidError::KeyNotPrivate {
                path: path.to_path_buf(),
                mode: meta.permissions().mode() & 0o777,
            });
        }
        let text = fs::read_to_string(path).map_err(|e| ReidError::io(path, e))?;
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .and_then(|l| age::x25519::Identity::from_str(l).ok())
            .map(PracticeIdentity)
            .ok_or_else(|| ReidError::BadIdentity {
                path: path.to_path_buf(),
            })
    }

    /// Write this identity as `<practice>.identity.txt` (0600) and its recipient as
    /// `<practice>.recipient.txt` into `dir`; an existing file is never overwritten.
    pub fn write(&self, practice: &str, created: &str, dir: &Path) -> Result<KeyFiles, ReidError> {
        phm_run::atomic::create_dir_all(dir, phm_run::Privacy::Private)
            .map_err(|e| ReidError::io(dir, e))?;
        let recipient = self.recipient().as_text();
        let identity = dir.join(format!("{practice}.identity.txt"));
        let public = dir.join(format!("{practice}.recipient.txt"));
        for path in [&identity, &public] {
            if path.exists() {
                return Err(ReidError::KeyExists { path: path.clone() });
            }
        }
        let secret = self.0.to_string();
        let body = format!(
            "# practice: {practice}\n# created: {created}\n# public key: {recipient}\n{}\n",
            secret.expose_secret()
        );
        create_new(&identity, 0o600, body.as_bytes())?;
        create_new(&public, 0o644, format!("{recipient}\n").as_bytes())?;
        Ok(KeyFiles {
            identity,
            recipient: public,
            recipient_text: recipient,
        })
    }
}

/// What [`PracticeIdentity::write`] wrote.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// The private identity file.
    pub identity: PathBuf,
    /// The public recipient file.
    pub recipient: PathBuf,
    /// The recipient (`age1...`).
    pub recipient_text: String,
}

fn create_new(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), ReidError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| ReidError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| ReidError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_identity_reads_back_private_and_is_refused_when_readable_by_others() {
        let tmp = tempfile::tempdir().unwrap();
        let id = PracticeIdentity::generate();
        let files = id
            .write("A81001", "2026-12-02T10:00:00Z", tmp.path())
            .unwrap();
        let mode = fs::metadata(&files.identity).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = PracticeIdentity::load(&files.identity).unwrap();
        assert_eq!(back.recipient().as_text(), id.recipient().as_text());
        let text = fs::read_to_string(&files.recipient).unwrap();
        assert_eq!(
            PracticeRecipient::parse(&text, "file").unwrap().key_id(),
            id.recipient().key_id()
        );
        // Never overwritten.
        assert!(matches!(
            id.write("A81001", "x", tmp.path()),
            Err(ReidError::KeyExists { .. })
        ));
        fs::set_permissions(&files.identity, fs::Permissions::from_mode(0o640)).unwrap();
        let err = PracticeIdentity::load(&files.identity).unwrap_err();
        assert!(
            matches!(err, ReidError::KeyNotPrivate { mode: 0o640, .. }),
            "{err}"
        );
        // Debug never shows the secret.
        assert!(!format!("{back:?}").contains("AGE-SECRET"));
    }
}
