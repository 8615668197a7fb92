//! Clinical codes as the pseudonymised zone holds them: ICD-10 diagnoses normalised, the
//! secondary ones as a list; an unreadable secondary code left out and counted (the row kept,
//! and kept as received in the identifiable zone), an unreadable primary quarantined.

use crate::{config, key, parquet_files, read_parquet, set_of, strings};

const APC: &str = "nhs_number,provider_code,local_patient_id,spell_id,episode_number,admission_date,discharge_date,admission_method,primary_diagnosis,secondary_diagnoses\n";

#[test]
fn diagnoses_are_normalised_an_unreadable_secondary_is_dropped_and_counted() {
    let rows = [
        "9990001235,RAJ,H1,S1,1,2024-01-02,2024-01-05,21,i50.0,I10X;ZZ9;;n18.3;",
        "9990001235,RAJ,H1,S2,1,2024-02-02,2024-02-05,11,K35.9,",
        "9990001235,RAJ,H1,S3,1,2024-03-02,2024-03-05,11,??,I10",
    ];
    let body = format!("{APC}{}\n", rows.join("\n"));
    let tmp = tempfile::tempdir().unwrap();
    let set = set_of(tmp.path(), &[("apc/RAJ.csv", body.as_bytes())]);
    let cfg = config(&set, tmp.path());
    let m = phm_ingest::ingest(&cfg, &key(1), &|_| {}).unwrap();
    let f = &m.files[0];
    assert_eq!((f.rows_in, f.rows_out), (3, 2));
    assert_eq!(
        f.quarantined.get("value_invalid"),
        Some(&1),
        "the unreadable primary"
    );
    assert_eq!(f.codes_dropped, 1);
    assert_eq!(m.totals.codes_dropped, 1);
    assert!(f.conserves() && f.conservation_holds);

    let out = read_parquet(&parquet_files(&cfg.out.pseudonymised())[0]);
    assert_eq!(strings(&out, "primary_diagnosis"), ["I500", "K359"]);
    let lists = out
        .column("secondary_diagnoses")
        .unwrap()
        .list()
        .unwrap()
        .clone();
    let secondary: Vec<Vec<String>> = (0..lists.len())
        .map(|i| {
            let s = lists.get_as_series(i).unwrap();
            s.str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        secondary,
        [vec!["I10".to_owned(), "N183".to_owned()], Vec::new()]
    );

    // The row with the dropped code, as received, in the identifiable zone only.
    let amended = read_parquet(&cfg.identifiable.amended_file("apc", "RAJ"));
    assert_eq!(strings(&amended, "column"), ["secondary_diagnoses"]);
    let raw = amended
        .column("raw")
        .unwrap()
        .binary()
        .unwrap()
        .get(0)
        .unwrap()
        .to_vec();
    assert_eq!(raw, rows[0].as_bytes());
    let q = read_parquet(&cfg.identifiable.quarantine_file("apc", "RAJ"));
    assert_eq!(strings(&q, "reason"), ["value_invalid"]);
    assert_eq!(strings(&q, "column"), ["primary_diagnosis"]);
}
