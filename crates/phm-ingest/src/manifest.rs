//! The ingest manifest: for every file, its BLAKE3 hash and where every row went, with the
//! check `rows_in == rows_out + quarantined + opted_out`, and every file rejected as a whole
//! (with `on_rejected_file = "skip"`). It holds counts, hashes and the key id, never a row, an
//! identifier or a key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::key::PseudonymKey;
use crate::optout::OptOuts;
use crate::{Counts, IngestConfig};
use phm_contract::Reason;
use phm_contract::date;

/// A file that cannot be ingested at all: nothing of it is written to either zone. It says
/// what is wrong with the file, never what is in it.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedFile {
    /// File, relative to the extracts folder.
    pub file: String,
    /// Extract name (the file's folder).
    pub extract: String,
    /// Submitting organisation (the file's name without `.csv` or `.csv.gz`).
    pub submitter: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub hint: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Physical lines (line ends, and one more for a last line without one).
    pub lines: u64,
}

/// Where the rows of one file went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileReport {
    /// File, relative to the extracts folder.
    pub file: String,
    /// Extract name.
    pub extract: String,
    /// Submitting organisation (ODS code).
    pub submitter: String,
    /// BLAKE3 hash of the file's bytes.
    pub input_blake3: String,
    /// Data rows read.
    pub rows_in: u64,
    /// Rows written to the pseudonymised zone.
    pub rows_out: u64,
    /// Quarantined rows by reason.
    pub quarantined: Counts,
    /// Opted-out rows by reason.
    pub opted_out: Counts,
    /// Whether `rows_in == rows_out + quarantined + opted_out`.
    pub conservation_holds: bool,
    /// Codes of code lists (secondary diagnoses) that could not be read and were left out of
    /// rows written to the pseudonymised zone; those rows are kept as received in the
    /// identifiable zone's `amended/`.
    #[serde(default)]
    pub codes_dropped: u64,
    /// BLAKE3 of everything the file's outputs depend on (`crate::reuse`): a later run
    /// whose file has the same key reuses them.
    #[serde(default)]
    pub reuse_key: String,
    /// The earlier run whose outputs this file's are (linked, not ingested again). Not in
    /// the ingest manifest, which stays byte-identical to a full run's; the run manifest
    /// records it per input.
    #[serde(skip)]
    pub reused_from: Option<String>,
}

fn count(counts: &mut Counts, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

impl FileReport {
    pub(crate) fn new(
        file: String,
        extract: String,
        submitter: String,
        input_blake3: String,
        rows_in: u64,
    ) -> Self {
        FileReport {
            file,
            extract,
            submitter,
            input_blake3,
            rows_in,
            rows_out: 0,
            quarantined: Counts::new(),
            opted_out: Counts::new(),
            conservation_holds: false,
            codes_dropped: 0,
            reuse_key: String::new(),
            reused_from: None,
        }
    }
    pub(crate) fn quarantine(&mut self, r: Reason) {
        count(&mut self.quarantined, r.code());
    }
    pub(crate) fn opt_out(&mut self, reason: &str) {
        count(&mut self.opted_out, reason);
    }
    /// Quarantined rows, all reasons.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }
    /// Opted-out rows, all reasons.
    pub fn opted_out_total(&self) -> u64 {
        self.opted_out.values().sum()
    }
    /// The conservation check.
    pub fn conserves(&self) -> bool {
        self.rows_in == self.rows_out + self.quarantined_total() + self.opted_out_total()
    }
}

/// Totals over files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Files.
    pub files: u64,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written.
    pub rows_out: u64,
    /// Quarantined by reason.
    pub quarantined: Counts,
    /// Opted out by reason.
    pub opted_out: Counts,
    /// Unreadable codes left out of code lists (rows kept; see [`FileReport::codes_dropped`]).
    pub codes_dropped: u64,
}

impl Totals {
    fn add(&mut self, r: &FileReport) {
        self.files += 1;
        self.codes_dropped += r.codes_dropped;
        self.rows_in += r.rows_in;
        self.rows_out += r.rows_out;
        for (k, v) in &r.quarantined {
            *self.quarantined.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.opted_out {
            *self.opted_out.entry(k.clone()).or_default() += v;
        }
    }
}

/// The stage's manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Always `ingest`.
    pub stage: &'static str,
    /// phm version.
    pub phm_version: &'static str,
    /// Reference date.
    pub reference_date: String,
    /// Extract date.
    pub extract_date: String,
    /// Identifier of the pseudonymisation key (not the key).
    pub key_id: String,
    /// How pseudonyms are made.
    pub pseudonym: &'static str,
    /// Opt-out settings and how many patients each removed.
    pub opt_outs: OptOutSummary,
    /// Per file ingested.
    pub files: Vec<FileReport>,
    /// Files rejected as a whole and left out (`on_rejected_file = "skip"`), by file.
    pub rejected_files: Vec<RejectedFile>,
    /// Per extract.
    pub extracts: BTreeMap<String, Totals>,
    /// Over everything.
    pub totals: Totals,
}

/// Opt-out settings and counts of patients.
#[derive(Debug, Clone, Serialize)]
pub struct OptOutSummary {
    /// Programme codes applied.
    pub programme_codes: Vec<String>,
    /// Whether the national data opt-out applies to this flow.
    pub national_applied: bool,
    /// Patients removed, by reason.
    pub patients: Counts,
}

impl Manifest {
    pub(crate) fn new(
        cfg: &IngestConfig,
        key: &PseudonymKey,
        opt_outs: &OptOuts,
        files: Vec<FileReport>,
        rejected_files: Vec<RejectedFile>,
    ) -> Self {
        let mut files = files;
        for f in &mut files {
            f.conservation_holds = f.conserves();
        }
        let mut extracts: BTreeMap<String, Totals> = BTreeMap::new();
        let mut totals = Totals::default();
        for f in &files {
            extracts.entry(f.extract.clone()).or_default().add(f);
            totals.add(f);
        }
        Manifest {
            stage: "ingest",
            phm_version: env!("CARGO_PKG_VERSION"),
            reference_date: date::iso(cfg.reference_date),
            extract_date: date::iso(cfg.extract_date),
            key_id: key.id(),
            pseudonym: "BLAKE3 keyed hash of the 10 ASCII digits of the normalised NHS number, lowercase hex",
            opt_outs: OptOutSummary {
                programme_codes: cfg.programme_opt_out_codes.clone(),
                national_applied: cfg.national_opt_out,
                patients: opt_outs
                    .counts()
                    .iter()
                    .map(|(r, n)| (r.code().to_owned(), *n as u64))
                    .collect(),
            },
            files,
            rejected_files,
            extracts,
            totals,
        }
    }

    /// Write as pretty JSON, atomically (the pseudonymised zone).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        phm_run::atomic::write_file(path, (text + "\n").as_bytes(), phm_run::Privacy::Shared)
    }
}
