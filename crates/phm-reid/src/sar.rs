//! Subject access: everything phm holds about one person, for the DSCRO who holds the
//! pseudonymisation key.
//!
//! Given the person's pseudonym (the caller computes it from the NHS number with the key) and
//! the audit logs' subject key: every pseudonymised dataset of a run with that person's rows
//! (count and date range), the quarantined rows that carry their NHS number, the practice
//! bundles that list them as flagged or whose vault (their registered practice's) holds them,
//! and every disclosure about them in the audit logs given. The report holds no identifier but
//! the pseudonym; what is printed is counts, names of datasets and dates.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use phm_run::{IdentifiableRun, RunLayout};
use serde::Serialize;

use crate::ReidError;
use crate::audit;
use crate::bundle;

/// Rows of one dataset about the person.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DatasetRows {
    /// `<extract>/<submitter>` (the file of the pseudonymised zone, or of the quarantine).
    pub dataset: String,
    /// Rows.
    pub rows: usize,
    /// Earliest and latest date in those rows (any date column), `YYYY-MM-DD`.
    pub dates: Option<(String, String)>,
}

/// One disclosure found in an audit log.
#[derive(Debug, Clone, Serialize)]
pub struct Disclosure {
    /// The log.
    pub log: PathBuf,
    /// The entry's hash.
    pub hash: String,
    /// The entry.
    pub entry: audit::Entry,
}

/// What phm holds about one person in one run.
#[derive(Debug, Clone, Serialize)]
pub struct SarReport {
    /// The run searched.
    pub run: PathBuf,
    /// Pseudonymised datasets with the person's rows.
    pub datasets: Vec<DatasetRows>,
    /// Quarantined rows carrying the person's NHS number, per file.
    pub quarantine: Vec<DatasetRows>,
    /// Practices whose bundle lists the person as flagged.
    pub flagged_in_bundles: Vec<String>,
    /// Practices whose bundle's vault (encrypted to the practice) holds the person.
    pub in_vaults: Vec<String>,
    /// Disclosures about the person in the audit logs given.
    pub disclosures: Vec<Disclosure>,
}

/// Search a run (both zones) and audit logs for one person.
pub fn search(
    run: &RunLayout,
    identifiable: &IdentifiableRun,
    pseudonym: &str,
    nhs_digits: &[u8; 10],
    subject_key: &[u8; 32],
    logs: &[PathBuf],
) -> Result<SarReport, ReidError> {
    let mut datasets = Vec::new();
    for file in parquet_files(&run.pseudonymised())? {
        let batch = bundle::read(&file)?;
        let keep = matches_text(&batch, "pseudonym", |v| v == pseudonym.as_bytes());
        push_rows(&mut datasets, &run.pseudonymised(), &file, &batch, &keep);
    }
    let mut quarantine = Vec::new();
    for file in parquet_files(&identifiable.quarantine())? {
        let batch = bundle::read(&file)?;
        let keep = matches_text(&batch, "raw", |raw| carries(raw, nhs_digits));
        push_rows(
            &mut quarantine,
            &identifiable.quarantine(),
            &file,
            &batch,
            &keep,
        );
    }
    let registered: Vec<String> = datasets
        .iter()
        .filter_map(|d| d.dataset.strip_prefix("gp_registrations/"))
        .map(str::to_owned)
        .collect();
    let mut flagged_in_bundles = Vec::new();
    let mut in_vaults = Vec::new();
    for dir in subdirs(&run.outbox())? {
        let practice = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let flagged = bundle::read(&dir.join(bundle::FLAGGED))?;
        if bundle::text_column(&flagged, "pseudonym")?
            .iter()
            .any(|p| p == pseudonym)
        {
            flagged_in_bundles.push(practice.clone());
        }
        if registered.contains(&practice) {
            in_vaults.push(practice);
        }
    }
    let subject = audit::subject_hash(subject_key, pseudonym);
    let mut disclosures = Vec::new();
    for log in logs {
        for (hash, entry) in audit::read(log)? {
            if entry.subjects.contains(&subject) {
                disclosures.push(Disclosure {
                    log: log.clone(),
                    hash,
                    entry,
                });
            }
        }
    }
    Ok(SarReport {
        run: run.path().to_path_buf(),
        datasets,
        quarantine,
        flagged_in_bundles,
        in_vaults,
        disclosures,
    })
}

/// Whether a raw line carries the ten digits, ignoring spaces and hyphens between them.
fn carries(raw: &[u8], digits: &[u8; 10]) -> bool {
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'-'))
        .collect();
    compact.windows(10).any(|w| w == digits)
}

/// Rows whose column `name` (text or binary) satisfies `test`.
fn matches_text(batch: &RecordBatch, name: &str, test: impl Fn(&[u8]) -> bool) -> Vec<bool> {
    let Some(col) = batch.column_by_name(name) else {
        return vec![false; batch.num_rows()];
    };
    let bytes = |i: usize| -> Option<Vec<u8>> {
        if col.is_null(i) {
            return None;
        }
        match col.data_type() {
            DataType::Utf8 => Some(col.as_string::<i32>().value(i).as_bytes().to_vec()),
            DataType::LargeUtf8 => Some(col.as_string::<i64>().value(i).as_bytes().to_vec()),
            DataType::Utf8View => Some(col.as_string_view().value(i).as_bytes().to_vec()),
            DataType::Binary => Some(col.as_binary::<i32>().value(i).to_vec()),
            DataType::LargeBinary => Some(col.as_binary::<i64>().value(i).to_vec()),
            DataType::BinaryView => Some(col.as_binary_view().value(i).to_vec()),
            _ => datafusion::arrow::compute::cast(col, &DataType::Utf8)
                .ok()
                .map(|c| c.as_string::<i32>().value(i).as_bytes().to_vec()),
        }
    };
    (0..batch.num_rows())
        .map(|i| bytes(i).is_some_and(|b| test(&b)))
        .collect()
}

fn push_rows(
    out: &mut Vec<DatasetRows>,
    root: &Path,
    file: &Path,
    batch: &RecordBatch,
    keep: &[bool],
) {
    let rows = keep.iter().filter(|k| **k).count();
    if rows == 0 {
        return;
    }
    // Arrow's `Date32` and phm's `Day` are both days since 1970-01-01.
    let mut days: Vec<i32> = Vec::new();
    for col in batch.columns() {
        if col.data_type() == &DataType::Date32 {
            let dates = col.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
            days.extend(
                keep.iter()
                    .enumerate()
                    .filter(|(i, k)| **k && !dates.is_null(*i))
                    .map(|(i, _)| dates.value(i)),
            );
        }
    }
    let dates = days
        .iter()
        .min()
        .zip(days.iter().max())
        .map(|(a, b)| (phm_contract::date::iso(*a), phm_contract::date::iso(*b)));
    let rel = file.strip_prefix(root).unwrap_or(file).with_extension("");
    out.push(DatasetRows {
        dataset: rel.to_string_lossy().into_owned(),
        rows,
        dates,
    });
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, ReidError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(ReidError::io(dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| ReidError::io(dir, e))?.path();
        if path.is_dir() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Every `.parquet` file under `dir`, two levels deep (`<extract>/<ODS>.parquet`), sorted.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, ReidError> {
    let mut out = Vec::new();
    for sub in subdirs(dir)? {
        for entry in std::fs::read_dir(&sub).map_err(|e| ReidError::io(&sub, e))? {
            let path = entry.map_err(|e| ReidError::io(&sub, e))?.path();
            if path.extension().is_some_and(|x| x == "parquet") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_line_carries_a_number_written_with_spaces_or_hyphens() {
        let n = b"9990000018";
        assert!(carries(b"999 000 0018,A81001,2020-01-01", n));
        assert!(carries(b"x,999-000-0018", n));
        assert!(!carries(b"9990000026,A81001", n));
    }
}
