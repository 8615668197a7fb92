//! Practice bundles: `outbox/<ODS>/` of a run holds the practice's vault (encrypted to it),
//! its flagged patients (`flagged.parquet`: the rows of `risk/risk.parquet` of that practice
//! in the bundle tiers, by rank) and `bundle.json` naming the run, the practice, the key and
//! the BLAKE3 of each file. Nothing in a bundle is readable as identifying by anyone but the
//! practice, so it may leave the DSCRO by any channel.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch, sort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::DataType;
use phm_run::{IdentifiableRun, Privacy, RunLayout};
use serde::{Deserialize, Serialize};

use crate::ReidError;
use crate::keys::PracticeRecipient;

/// The vault's file name in a bundle.
pub const VAULT: &str = "vault.age";
/// The flagged patients' file name in a bundle.
pub const FLAGGED: &str = "flagged.parquet";
/// The bundle's description.
pub const BUNDLE_JSON: &str = "bundle.json";

/// `bundle.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleJson {
    /// `phm bundle 1`.
    pub format: String,
    /// The run.
    pub run_id: String,
    /// The run's reference date (ages in a GP list are on it).
    pub reference_date: String,
    /// The practice (ODS code).
    pub practice: String,
    /// The key id of the practice recipient the vault is encrypted to.
    pub key_id: String,
    /// The tiers whose patients are flagged.
    pub tiers: Vec<String>,
    /// Flagged patients.
    pub flagged: usize,
    /// File name → BLAKE3 (hex).
    pub files: BTreeMap<String, String>,
}

/// What the bundle step did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BundleSummary {
    /// Practices given a bundle, with their flagged patients.
    pub bundles: BTreeMap<String, usize>,
    /// Practices in the risk table without a recipient: no vault, no bundle.
    pub practices_without_recipient: Vec<String>,
}

/// Write a bundle for each practice with a recipient and a vault (`outbox/` of `run`, which
/// the caller commits with the run).
pub fn write_bundles(
    run: &RunLayout,
    identifiable: &IdentifiableRun,
    run_id: &str,
    reference_date: &str,
    recipients: &BTreeMap<String, PracticeRecipient>,
    tiers: &[String],
) -> Result<BundleSummary, ReidError> {
    let risk = read(&run.risk_file("risk.parquet"))?;
    let practices = text_column(&risk, "practice_code")?;
    let tier = text_column(&risk, "tier")?;
    let in_risk: BTreeSet<&str> = practices.iter().map(String::as_str).collect();
    let mut summary = BundleSummary {
        practices_without_recipient: in_risk
            .iter()
            .filter(|p| !recipients.contains_key(**p))
            .map(|p| (*p).to_owned())
            .collect(),
        ..BundleSummary::default()
    };
    for (practice, recipient) in recipients {
        let vault = identifiable.vault_file(practice);
        if !vault.is_file() {
            // No registrations extract from this practice in the run.
            continue;
        }
        let mask: BooleanArray = practices
            .iter()
            .zip(&tier)
            .map(|(p, t)| Some(p == practice && tiers.contains(t)))
            .collect();
        let flagged = by_rank(&filter_record_batch(&risk, &mask).map_err(arrow)?)?;
        let dir = run.bundle(practice);
        phm_run::atomic::create_dir_all(&dir, Privacy::Shared)
            .map_err(|e| ReidError::io(&dir, e))?;
        let flagged_path = dir.join(FLAGGED);
        phm_sql::write_batches(
            flagged.schema(),
            [flagged.clone()],
            &flagged_path,
            "flagged patients",
            phm_sql::published_compression(),
        )
        .map_err(|e| ReidError::Bundle(e.to_string()))?;
        let sealed = std::fs::read(&vault).map_err(|e| ReidError::io(&vault, e))?;
        phm_run::atomic::write_file(&dir.join(VAULT), &sealed, Privacy::Shared)
            .map_err(|e| ReidError::io(&dir, e))?;
        let files = BTreeMap::from([
            (VAULT.to_owned(), blake3::hash(&sealed).to_hex().to_string()),
            (FLAGGED.to_owned(), file_hash(&flagged_path)?),
        ]);
        let json = BundleJson {
            format: "phm bundle 1".to_owned(),
            run_id: run_id.to_owned(),
            reference_date: reference_date.to_owned(),
            practice: practice.clone(),
            key_id: recipient.key_id(),
            tiers: tiers.to_vec(),
            flagged: flagged.num_rows(),
            files,
        };
        let text =
            serde_json::to_string_pretty(&json).map_err(|e| ReidError::Bundle(e.to_string()))?;
        phm_run::atomic::write_file(
            &dir.join(BUNDLE_JSON),
            format!("{text}\n").as_bytes(),
            Privacy::Shared,
        )
        .map_err(|e| ReidError::io(&dir, e))?;
        summary.bundles.insert(practice.clone(), flagged.num_rows());
    }
    Ok(summary)
}

/// Read a bundle's `bundle.json` and check every file's hash.
pub fn check(dir: &Path) -> Result<BundleJson, ReidError> {
    let path = dir.join(BUNDLE_JSON);
    let text = std::fs::read_to_string(&path).map_err(|e| ReidError::io(&path, e))?;
    let json: BundleJson = serde_json::from_str(&text).map_err(|e| ReidError::BundleAltered {
        dir: dir.to_path_buf(),
        why: format!("`{BUNDLE_JSON}` cannot be read: {e}"),
    })?;
    for name in [VAULT, FLAGGED] {
        let Some(expected) = json.files.get(name) else {
            return Err(ReidError::BundleAltered {
                dir: dir.to_path_buf(),
                why: format!("`{BUNDLE_JSON}` names no hash for `{name}`"),
            });
        };
        if &file_hash(&dir.join(name))? != expected {
            return Err(ReidError::BundleAltered {
                dir: dir.to_path_buf(),
                why: format!("`{name}` does not have the hash `{BUNDLE_JSON}` gives"),
            });
        }
    }
    Ok(json)
}

/// BLAKE3 of a file (hex).
pub fn file_hash(path: &Path) -> Result<String, ReidError> {
    let bytes = std::fs::read(path).map_err(|e| ReidError::io(path, e))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// A Parquet table as one batch.
pub fn read(path: &Path) -> Result<RecordBatch, ReidError> {
    phm_sql::read_table(path).map_err(|e| ReidError::Bundle(e.to_string()))
}

/// A text column's values (nulls as empty text).
pub fn text_column(batch: &RecordBatch, name: &str) -> Result<Vec<String>, ReidError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| ReidError::Bundle(format!("no `{name}` column")))?;
    let col = cast(col, &DataType::Utf8).map_err(arrow)?;
    Ok(col
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_owned())
        .collect())
}

fn by_rank(batch: &RecordBatch) -> Result<RecordBatch, ReidError> {
    let Some(rank) = batch.column_by_name("rank") else {
        return Ok(batch.clone());
    };
    let rank: Arc<dyn Array> = cast(rank, &DataType::Int64).map_err(arrow)?;
    let order = sort_to_indices(&rank, None, None).map_err(arrow)?;
    take_record_batch(batch, &order).map_err(arrow)
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` takes
fn arrow(e: datafusion::arrow::error::ArrowError) -> ReidError {
    ReidError::Bundle(e.to_string())
}
