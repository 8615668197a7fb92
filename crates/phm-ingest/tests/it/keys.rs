//! The contract's unique key: a later row that repeats an earlier row's key with other values
//! is quarantined as `duplicate_key`; the first is kept.

use crate::{config, key, parquet_files, read_parquet, set_of, strings};

const APC: &str = "nhs_number,provider_code,local_patient_id,spell_id,episode_number,admission_date,discharge_date,admission_method,primary_diagnosis,secondary_diagnoses\n";
const REGISTRATIONS: &str = "nhs_number,practice_code,given_name,family_name,date_of_birth,sex,postcode,registration_start,registration_end,registration_end_reason\n";

/// Ingest one file of `extract` submitted by `submitter`; returns the folder, its manifest's
/// file report and the quarantine's reasons in line order.
fn ingest_one(
    extract: &str,
    submitter: &str,
    body: &str,
) -> (tempfile::TempDir, phm_ingest::FileReport, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let file = format!("{extract}/{submitter}.csv");
    let set = set_of(tmp.path(), &[(file.as_str(), body.as_bytes())]);
    let cfg = config(&set, tmp.path());
    let m = phm_ingest::ingest(&cfg, &key(1), &|_| {}).unwrap();
    let report = m.files[0].clone();
    assert!(report.conserves());
    let q = cfg.identifiable.quarantine_file(extract, submitter);
    let reasons = if q.exists() {
        strings(&read_parquet(&q), "reason")
    } else {
        Vec::new()
    };
    (tmp, report, reasons)
}

#[test]
fn a_second_row_for_one_episode_is_quarantined_and_the_first_kept() {
    let body = format!(
        "{APC}\
9990001235,RAJ,H1,S1,1,2024-01-02,2024-01-05,21,I500,\n\
9990001235,RAJ,H1,S1,2,2024-01-05,2024-01-09,21,I500,\n\
9990001235,RAJ,H1,S1,1,2024-01-02,2024-01-06,81,J189,\n\
9990001235,RAJ,H1,S2,1,2024-02-02,2024-02-05,11,K359,\n"
    );
    let (tmp, report, reasons) = ingest_one("apc", "RAJ", &body);
    assert_eq!((report.rows_in, report.rows_out), (4, 3));
    assert_eq!(report.quarantined.get("duplicate_key"), Some(&1));
    assert_eq!(reasons, ["duplicate_key"]);
    let out = parquet_files(&tmp.path().join("pseudonymised-run/pseudonymised"));
    let df = read_parquet(&out[0]);
    assert_eq!(
        strings(&df, "admission_method"),
        ["21", "21", "11"],
        "the first row is kept"
    );
}

#[test]
fn a_registration_repeated_from_the_same_day_is_a_duplicate_key_even_spaced() {
    // The same patient (once written with spaces) at one practice from one day, with a
    // different end: one registration, resubmitted. A later start is a new registration.
    let body = format!(
        "{REGISTRATIONS}\
9990001235,A81001,Ann,Smith,1950-01-02,F,LS1 4AP,2010-01-01,,\n\
999 000 1235,A81001,Ann,Smith,1950-01-02,F,LS1 4AP,2010-01-01,2012-01-01,transferred\n\
9990001235,A81001,Ann,Smith,1950-01-02,F,LS1 4AP,2015-01-01,,\n"
    );
    let (_tmp, report, reasons) = ingest_one("gp_registrations", "A81001", &body);
    assert_eq!((report.rows_in, report.rows_out), (3, 2));
    assert_eq!(reasons, ["duplicate_key"]);
}

#[test]
fn extracts_without_a_key_keep_rows_that_differ() {
    let body = "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n\
9990001235,A81001,2024-01-02,271649006,140\n\
9990001235,A81001,2024-01-02,271649006,141\n";
    let (_tmp, report, reasons) = ingest_one("gp_events", "A81001", body);
    assert_eq!(report.rows_out, 2);
    assert!(reasons.is_empty());
}
