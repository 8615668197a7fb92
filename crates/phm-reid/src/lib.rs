//! Re-identification only through a practice's own key.
//!
//! The ingest stage (the DSCRO role, the only one that sees NHS numbers) seals one
//! [`vault`] per practice, encrypted to that practice's public recipient ([`keys`]). The run
//! writes a [`bundle`] per practice: its vault, its flagged patients (pseudonymised rows of
//! that practice only) and `bundle.json` with their hashes. Every byte of a bundle is either
//! encrypted to the practice or pseudonymised, so the pipeline operator cannot read it and it
//! may leave by any channel. The practice runs [`reid`] where its identity lives: it checks
//! the bundle, appends to the hash-chained [`audit`] log (fsynced before anything identifying
//! exists) and writes the GP list. Another practice's identity opens nothing.

pub mod audit;
pub mod bundle;
pub mod keys;
mod page;
pub mod reid;
pub mod sar;
pub mod vault;

use std::path::{Path, PathBuf};

pub use keys::{PracticeIdentity, PracticeRecipient};

/// What can go wrong with keys, vaults, bundles and re-identification.
#[derive(Debug, thiserror::Error)]
pub enum ReidError {
    /// A file could not be read or written.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A recipient is not an age X25519 recipient.
    #[error(
        "{what} is not an age recipient\nhint: a practice's recipient starts `age1`; `phm key practice` writes one"
    )]
    BadRecipient {
        /// Where it came from.
        what: String,
    },
    /// An identity file holds no age identity.
    #[error(
        "`{path}` holds no age identity (an `AGE-SECRET-KEY-1...` line)\nhint: pass the `.identity.txt` file `phm key practice` wrote"
    )]
    BadIdentity {
        /// The file.
        path: PathBuf,
    },
    /// An identity file others can read.
    #[error(
        "`{path}` can be read by others (mode {mode:o}); a practice identity must be private\nhint: `chmod 600 {path}`"
    )]
    KeyNotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file exists already.
    #[error("`{path}` already exists; phm never overwrites a key\nhint: choose another `--out`")]
    KeyExists {
        /// The file.
        path: PathBuf,
    },
    /// Encryption failed.
    #[error("cannot encrypt a vault: {0}")]
    Encrypt(String),
    /// A vault that opened but cannot be read.
    #[error("the vault cannot be read: {0}")]
    BadVault(String),
    /// A bundle could not be written or read.
    #[error("practice bundle: {0}")]
    Bundle(String),
    /// The output folder is inside a zone.
    #[error(
        "`{out}` is inside `{zone}`, a folder of the pipeline's zones; re-identified lists never go there\nhint: pass an `--out` folder on the practice's own secure storage"
    )]
    OutputInZone {
        /// The requested output.
        out: PathBuf,
        /// The zone folder it is in.
        zone: PathBuf,
    },
    /// The identity does not open the vault.
    #[error(
        "this identity does not open practice `{practice}`'s vault: it is another practice's, or an old or wrong one; no one was re-identified (the attempt is in the audit log)\nhint: use `{practice}`'s identity file from `phm key practice --practice {practice}`"
    )]
    NotThisPractice {
        /// The bundle's practice.
        practice: String,
    },
    /// A `--list` file that cannot be used.
    #[error("the list `{path}` {why}\nhint: give a CSV file with a `pseudonym` column")]
    List {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The audit log refused the entry.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    /// A bundle whose files do not match `bundle.json`.
    #[error(
        "the bundle `{dir}` has been altered or is incomplete: {why}\nhint: ask the ICB's data service for the bundle again; nothing was re-identified"
    )]
    BundleAltered {
        /// The bundle folder.
        dir: PathBuf,
        /// What does not match.
        why: String,
    },
}

impl ReidError {
    /// A one-line summary for the audit log (no paths, no values).
    pub fn short(&self) -> &'static str {
        match self {
            ReidError::Io { .. } => "a file could not be read or written",
            ReidError::BadRecipient { .. } | ReidError::KeyExists { .. } => "key problem",
            ReidError::BadIdentity { .. } => "not an identity file",
            ReidError::KeyNotPrivate { .. } => "identity file readable by others",
            ReidError::Encrypt(_) | ReidError::BadVault(_) => "vault unreadable",
            ReidError::Bundle(_) => "bundle unreadable",
            ReidError::BundleAltered { .. } => "bundle altered or incomplete",
            ReidError::OutputInZone { .. } => "output folder inside a zone",
            ReidError::NotThisPractice { .. } => "identity does not open this practice's vault",
            ReidError::List { .. } => "list file unusable",
            ReidError::Audit(_) => "audit log problem",
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ReidError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
