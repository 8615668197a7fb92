//! Files that are broken as a whole, or broken at the end: a clear error or a quarantine,
//! never a panic, and nothing written for a rejected file.

use std::path::Path;

use phm_ingest::IngestError;

use crate::{config, ingest_committed, key, parquet_files, read_parquet, set_of, strings};

const HEADER: &str = "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n";

/// A one-extract set holding `gp_events/A81001.csv` with these bytes.
fn set_with(dir: &Path, body: &[u8]) -> std::path::PathBuf {
    set_of(dir, &[("gp_events/A81001.csv", body)])
}

fn ingest(
    body: &[u8],
) -> (
    tempfile::TempDir,
    Result<phm_ingest::Manifest, IngestError>,
    phm_ingest::IngestConfig,
) {
    let tmp = tempfile::tempdir().unwrap();
    let set = set_with(tmp.path(), body);
    let cfg = config(&set, tmp.path());
    let r = ingest_committed(&cfg, &key(1));
    (tmp, r, cfg)
}

fn rejected(body: &[u8]) -> String {
    let (_tmp, r, cfg) = ingest(body);
    let err = r.expect_err("file should be rejected");
    assert!(matches!(err, IngestError::Rejected(_)), "{err}");
    assert!(
        !cfg.out.path().exists() && !cfg.identifiable.path().exists(),
        "nothing is written for a rejected file"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("gp_events/A81001.csv") && msg.contains("hint:"),
        "{msg}"
    );
    msg
}

#[test]
fn an_empty_file_is_rejected() {
    assert!(rejected(b"").contains("empty"));
}

#[test]
fn random_bytes_are_rejected() {
    let mut x: u64 = 0x1234_5678_9abc_def0;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let msg = rejected(&bytes);
    assert!(msg.contains("header") || msg.contains("text"), "{msg}");
}

#[test]
fn a_missing_column_is_rejected_by_name() {
    let msg = rejected(
        b"nhs_number,practice_code,event_date,numeric_value\n9990001235,A81001,2024-01-02,\n",
    );
    assert!(msg.contains("`snomed_concept_id`"), "{msg}");
}

#[test]
fn a_file_that_is_mostly_another_submitters_is_rejected() {
    let body = format!(
        "{HEADER}9990001235,B82005,2024-01-02,271649006,\n9990001235,B82005,2024-01-03,271649006,\n9990001235,A81001,2024-01-04,271649006,\n"
    );
    let msg = rejected(body.as_bytes());
    assert!(msg.contains("2 of 3 rows"), "{msg}");
}

#[test]
fn a_truncated_file_quarantines_its_last_row() {
    let body = format!(
        "{HEADER}9990001235,A81001,2024-01-02,271649006,140\n9990001235,A81001,2024-01-03,2716"
    );
    let (_tmp, r, cfg) = ingest(body.as_bytes());
    let m = r.unwrap();
    let f = &m.files[0];
    assert_eq!((f.rows_in, f.rows_out), (2, 1));
    assert_eq!(f.quarantined.get("field_count"), Some(&1));
    let q = read_parquet(&cfg.identifiable.quarantine_file("gp_events", "A81001"));
    assert_eq!(strings(&q, "reason"), ["field_count"]);
    assert_eq!(q.column("line").unwrap().u64().unwrap().get(0), Some(3));
}

#[test]
fn a_file_of_only_bad_rows_still_gets_an_empty_dataset() {
    let body = format!("{HEADER}123,A81001,2024-01-02,271649006,\n");
    let (_tmp, r, cfg) = ingest(body.as_bytes());
    let m = r.unwrap();
    assert_eq!(m.totals.rows_out, 0);
    let files = parquet_files(&cfg.out.pseudonymised());
    assert_eq!(files.len(), 1);
    let df = read_parquet(&files[0]);
    assert_eq!(df.height(), 0);
    assert!(df.column("pseudonym").is_ok());
    // No row group at all: an empty one has column chunks without pages, which arrow-rs
    // (DataFusion, the link stage) cannot read.
    let mut file = std::fs::File::open(&files[0]).unwrap();
    let meta = polars_parquet::read::read_metadata(&mut file).unwrap();
    assert_eq!(meta.row_groups.len(), 0);
}

#[test]
fn an_unknown_extract_folder_is_refused_not_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let set = set_with(
        tmp.path(),
        format!("{HEADER}9990001235,A81001,2024-01-02,271649006,\n").as_bytes(),
    );
    std::fs::create_dir_all(set.join("extracts/gp_eventz")).unwrap();
    std::fs::write(set.join("extracts/gp_eventz/A81001.csv"), HEADER).unwrap();
    let err = ingest_committed(&config(&set, tmp.path()), &key(1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gp_eventz") && err.contains("gp_events"),
        "{err}"
    );
}

/// A SNOMED CT code with one digit changed fails its Verhoeff check digit: the row is
/// quarantined as `value_invalid` (a reason of the documented list), the others go through,
/// and rows in = out + quarantined + opted out.
#[test]
fn a_snomed_code_with_a_wrong_check_digit_is_quarantined() {
    // 271649006 (systolic blood pressure) is valid; 271649007 differs in its check digit,
    // 271694006 swaps two digits.
    assert!(phm_contract::snomed::sctid_ok("271649006"));
    let body = format!(
        "{HEADER}9990001235,A81001,2024-01-02,271649006,140\n\
         9990001235,A81001,2024-01-03,271649007,141\n\
         9990001235,A81001,2024-01-04,271694006,142\n"
    );
    let (_tmp, r, cfg) = ingest(body.as_bytes());
    let m = r.unwrap();
    let f = &m.files[0];
    assert_eq!((f.rows_in, f.rows_out), (3, 1));
    assert_eq!(f.quarantined.get("value_invalid"), Some(&2));
    let opted_out: u64 = f.opted_out.values().sum();
    assert_eq!(
        f.rows_in,
        f.rows_out + f.quarantined.values().sum::<u64>() + opted_out
    );
    let q = read_parquet(&cfg.identifiable.quarantine_file("gp_events", "A81001"));
    assert_eq!(strings(&q, "reason"), ["value_invalid", "value_invalid"]);
}
