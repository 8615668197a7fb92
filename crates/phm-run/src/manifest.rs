//! The run manifest (`manifest.json`, written last) and the stages that fill it.
//!
//! A manifest says what a run read (every input file's BLAKE3 and where its rows went), what
//! it used (every contract, SQL file, code list and weights table, by BLAKE3; key ids, never
//! keys), and what it wrote (every output file with its row count and BLAKE3). Timings sit in
//! one block at the end, so two runs of the same inputs give manifests that differ there only.
//! It holds counts, hashes and names, never a row or an identifier.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A stage of the pipeline: the tables it reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct Stage {
    /// Its name (`ingest`, `link`, `score`, `risk`).
    pub name: &'static str,
    /// What it reads.
    pub reads: &'static [&'static str],
    /// What it writes, relative to the run folder.
    pub writes: &'static [&'static str],
}

/// Ingest: extracts in, the pseudonymised datasets out (quarantine to the identifiable zone).
pub const INGEST: Stage = Stage {
    name: "ingest",
    reads: &["extracts/<extract>/<ODS>.csv", "postcode lookup"],
    writes: &[
        "pseudonymised/<extract>/<ODS>.parquet",
        "ingest-manifest.json",
    ],
};
/// Link: the pseudonymised datasets in, spine and features out.
pub const LINK: Stage = Stage {
    name: "link",
    reads: &["pseudonymised/<extract>"],
    writes: &["linked/spine.parquet", "linked/features.parquet"],
};
/// Score: spine and datasets in, scores out.
pub const SCORE: Stage = Stage {
    name: "score",
    reads: &[
        "linked/spine.parquet",
        "pseudonymised/apc",
        "pseudonymised/gp_events",
        "pseudonymised/gp_medications",
    ],
    writes: &["scores/scores.parquet"],
};

/// The risk stage: link and score again as of earlier dates, fit and back-test the model (or
/// apply an approved one), and write each patient's risk, tier, segment and reasons.
pub const RISK: Stage = Stage {
    name: "risk",
    reads: &[
        "pseudonymised/<extract>",
        "linked/features.parquet",
        "scores/scores.parquet",
    ],
    writes: &[
        "history/<as of>/linked/*.parquet",
        "history/<as of>/scores/scores.parquet",
        "risk/risk.parquet",
        "risk/calibration.parquet",
        "risk/model.json",
        "risk/model_card.md",
        "risk/model_card.json",
    ],
};

/// Bundles: a vault and the flagged patients per practice with a recipient.
pub const BUNDLE: Stage = Stage {
    name: "bundle",
    reads: &["risk/risk.parquet", "vault/<ODS>.age (identifiable zone)"],
    writes: &[
        "outbox/<ODS>/vault.age",
        "outbox/<ODS>/flagged.parquet",
        "outbox/<ODS>/bundle.json",
    ],
};

/// Publish: aggregates under disclosure control, the k-anonymity report, the run report.
pub const PUBLISH: Stage = Stage {
    name: "publish",
    reads: &[
        "linked/spine.parquet",
        "scores/scores.parquet",
        "risk/risk.parquet",
        "risk/model_card.json",
        "ingest-manifest.json",
        "extracts/submissions.csv",
    ],
    writes: &[
        "publish/aggregates/<table>.csv",
        "publish/aggregates/<table>.parquet",
        "publish/k_anonymity.json",
        "report.json",
        "report.html",
    ],
};

/// Outputs that differ between two runs of the same inputs, and why: every other output is
/// byte-identical.
pub const RANDOMISED_OUTPUTS: [(&str, &str); 3] = [
    (
        "vault/<ODS>.age (identifiable zone)",
        "age encryption is randomised (a fresh file key and ephemeral share each time)",
    ),
    (
        "outbox/<ODS>/vault.age",
        "a copy of the practice's vault (age encryption is randomised)",
    ),
    (
        "outbox/<ODS>/bundle.json",
        "names the vault's hash, which differs with every encryption",
    ),
];

/// The practice bundles of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bundles {
    /// Practice → (recipient key id, flagged patients in its bundle).
    pub practices: BTreeMap<String, BundleRecord>,
    /// Practices in the risk table with no recipient in `[reid.recipients]`: no vault and no
    /// bundle.
    pub practices_without_recipient: Vec<String>,
    /// Tiers a bundle lists as flagged.
    pub tiers: Vec<String>,
    /// Outputs exempt from byte-identity between runs, and why.
    pub randomised_outputs: BTreeMap<String, String>,
}

/// One practice's bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleRecord {
    /// The key id of the recipient its vault is encrypted to.
    pub key_id: String,
    /// Flagged patients.
    pub flagged: usize,
}

/// A file a stage used (a contract, SQL file, code list, weights table), by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedFile {
    /// Its path in the repository (`schemas/apc.toml`, `sql/01_spine.sql`, ...).
    pub path: String,
    /// BLAKE3 of its bytes.
    pub blake3: String,
}

impl UsedFile {
    /// A used file from its text.
    pub fn of(path: impl Into<String>, bytes: &[u8]) -> Self {
        UsedFile {
            path: path.into(),
            blake3: blake3::hash(bytes).to_hex().to_string(),
        }
    }
}

/// What one stage read, wrote and used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    /// The stage.
    pub name: String,
    /// What it reads.
    pub reads: Vec<String>,
    /// What it writes.
    pub writes: Vec<String>,
    /// The files it used, by hash.
    pub used: Vec<UsedFile>,
}

impl StageRecord {
    /// A stage's record with the files it used.
    pub fn new(stage: Stage, used: Vec<UsedFile>) -> Self {
        StageRecord {
            name: stage.name.to_owned(),
            reads: stage.reads.iter().map(|s| (*s).to_owned()).collect(),
            writes: stage.writes.iter().map(|s| (*s).to_owned()).collect(),
            used,
        }
    }
}

/// An input file and where its rows went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputFile {
    /// Relative to the extracts folder.
    pub file: String,
    /// BLAKE3 of its bytes.
    pub blake3: String,
    /// Bytes.
    pub bytes: u64,
    /// Data rows read.
    pub rows_in: u64,
    /// Rows written to the pseudonymised zone.
    pub rows_out: u64,
    /// Rows quarantined (all reasons).
    pub quarantined: u64,
    /// Rows opted out (all reasons).
    pub opted_out: u64,
    /// `rows_in == rows_out + quarantined + opted_out`.
    pub conservation_holds: bool,
    /// The earlier run whose outputs for this file were reused (the file and everything its
    /// output depends on were unchanged), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// A file that could not be ingested at all and was skipped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectedFile {
    /// Relative to the extracts folder.
    pub file: String,
    /// What is wrong.
    pub problem: String,
    /// Bytes.
    pub bytes: u64,
    /// Lines.
    pub lines: u64,
}

/// Rows over every ingested file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Conservation {
    /// Files ingested.
    pub files: u64,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written.
    pub rows_out: u64,
    /// Rows quarantined.
    pub quarantined: u64,
    /// Rows opted out.
    pub opted_out: u64,
    /// Whether it holds for every file.
    pub holds_for_every_file: bool,
}

impl Conservation {
    /// Sum over the files.
    pub fn of(inputs: &[InputFile]) -> Self {
        let mut c = Conservation {
            holds_for_every_file: true,
            ..Conservation::default()
        };
        for f in inputs {
            c.files += 1;
            c.rows_in += f.rows_in;
            c.rows_out += f.rows_out;
            c.quarantined += f.quarantined;
            c.opted_out += f.opted_out;
            c.holds_for_every_file &= f.conservation_holds;
        }
        c
    }
}

/// An output file, by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Relative to its zone's run folder, with `/`.
    pub path: String,
    /// Rows, for tables.
    pub rows: Option<u64>,
    /// Bytes.
    pub bytes: u64,
    /// BLAKE3 of its bytes.
    pub blake3: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunManifest {
    /// The run id (`<reference date>-<fingerprint's first 12 hex digits>`).
    pub run_id: String,
    /// phm's version.
    pub phm_version: String,
    /// BLAKE3 over everything that decides the outputs (see [`crate::fingerprint`]).
    pub fingerprint: String,
    /// Ages and features are as of this day.
    pub reference_date: String,
    /// The day the extracts were taken.
    pub extract_date: String,
    /// The pipeline definition, by hash.
    pub pipeline: UsedFile,
    /// The engine that ran the SQL of link, score and risk (`datafusion`, `ballista`,
    /// `ballista-standalone`).
    #[serde(default = "datafusion")]
    pub engine: String,
    /// Key ids by purpose (never keys).
    pub key_ids: BTreeMap<String, String>,
    /// Opt-out settings.
    pub opt_out: OptOutSettings,
    /// Every input file and where its rows went.
    pub inputs: Vec<InputFile>,
    /// Files skipped whole (`on_rejected_file = "skip"`).
    pub rejected_files: Vec<RejectedFile>,
    /// Rows in = out + quarantined + opted out, over every file.
    pub conservation: Conservation,
    /// Each stage: what it reads, writes and used.
    pub stages: Vec<StageRecord>,
    /// Every file of the run folder (but this manifest).
    pub outputs: Vec<OutputFile>,
    /// Every file of the run's identifiable folder (names, rows and hashes only).
    pub identifiable_outputs: Vec<OutputFile>,
    /// Practice bundles, practices without a recipient, and the outputs exempt from
    /// byte-identity.
    #[serde(default)]
    pub bundles: Bundles,
    /// Seconds per stage; the one block that differs between two runs of the same inputs.
    pub timings: BTreeMap<String, f64>,
}

/// The engine of a manifest written before it was recorded.
fn datafusion() -> String {
    "datafusion".to_owned()
}

/// Opt-out settings of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptOutSettings {
    /// Local programme codes applied.
    pub programme_codes: Vec<String>,
    /// Whether the national data opt-out applies.
    pub national_data_opt_out: bool,
}

/// Why a manifest cannot be read or a run does not match it.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Reading failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not a manifest.
    #[error(
        "`{path}` is not a run manifest: {message}\nhint: point at a run folder written by `phm run`"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

impl RunManifest {
    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest serialises") + "\n"
    }

    /// Read a manifest.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| ManifestError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// Hash every file under `dir` (recursively, in path order), skipping names in `skip`;
/// `rows` gives a table's row count from its path.
pub fn hash_tree(
    dir: &Path,
    skip: &[&str],
    rows: &dyn Fn(&Path) -> Option<u64>,
) -> std::io::Result<Vec<OutputFile>> {
    let mut files = Vec::new();
    collect(dir, dir, skip, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|(rel, path)| {
            let (blake3, bytes) = hash_file(&path)?;
            Ok(OutputFile {
                path: rel,
                rows: rows(&path),
                bytes,
                blake3,
            })
        })
        .collect()
}

fn collect(
    root: &Path,
    dir: &Path,
    skip: &[&str],
    out: &mut Vec<(String, PathBuf)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .expect("under the root")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if skip.contains(&rel.as_str()) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, skip, out)?;
        } else {
            out.push((rel, path));
        }
    }
    Ok(())
}

/// BLAKE3 (hex) and length of a file, read in large blocks.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)?;
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((hasher.finalize().to_hex().to_string(), bytes))
}

/// What `verify` found wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Listed but absent.
    Missing(String),
    /// Present with other bytes.
    Changed(String),
    /// Present but not listed.
    Unexpected(String),
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing(p) => write!(f, "missing     {p}"),
            Difference::Changed(p) => write!(f, "changed     {p}"),
            Difference::Unexpected(p) => write!(f, "not listed  {p}"),
        }
    }
}

/// Re-hash every file of a run folder against its manifest.
pub fn verify(run: &Path, manifest: &RunManifest) -> std::io::Result<Vec<Difference>> {
    let now = hash_tree(run, &[MANIFEST], &|_| None)?;
    let listed: BTreeMap<&str, &OutputFile> = manifest
        .outputs
        .iter()
        .map(|o| (o.path.as_str(), o))
        .collect();
    let present: BTreeMap<&str, &OutputFile> = now.iter().map(|o| (o.path.as_str(), o)).collect();
    let mut out = Vec::new();
    for (path, want) in &listed {
        match present.get(path) {
            None => out.push(Difference::Missing((*path).to_owned())),
            Some(got) if got.blake3 != want.blake3 || got.bytes != want.bytes => {
                out.push(Difference::Changed((*path).to_owned()));
            }
            Some(_) => {}
        }
    }
    for path in present.keys() {
        if !listed.contains_key(path) {
            out.push(Difference::Unexpected((*path).to_owned()));
        }
    }
    Ok(out)
}

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
