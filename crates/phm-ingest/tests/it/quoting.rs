//! RFC 4180 quoting end to end: a quoted field holding a line end is one row with its value
//! intact, later rows keep their physical line numbers, and a quote never closed is
//! quarantined with its reason instead of swallowing the rest of the file.

use crate::{config, ingest_committed, key, read_parquet, set_of, strings};

/// Ingest one file `<extract>/A81001.csv`; returns the folder, the config and the manifest.
fn ingest_one(
    extract: &str,
    body: &[u8],
) -> (
    tempfile::TempDir,
    phm_ingest::IngestConfig,
    phm_ingest::Manifest,
) {
    let tmp = tempfile::tempdir().unwrap();
    let file = format!("{extract}/A81001.csv");
    let set = set_of(tmp.path(), &[(file.as_str(), body)]);
    let cfg = config(&set, tmp.path());
    let m = ingest_committed(&cfg, &key(1)).unwrap();
    (tmp, cfg, m)
}

/// Quarantined rows as (line, reason, raw).
type Quarantined = Vec<(u64, String, Vec<u8>)>;

/// The quarantine's (line, reason, raw) in line order.
fn quarantined(cfg: &phm_ingest::IngestConfig, extract: &str) -> Quarantined {
    let q = read_parquet(&cfg.identifiable.quarantine_file(extract, "A81001"));
    let lines = q.column("line").unwrap().u64().unwrap().clone();
    let raw = q.column("raw").unwrap().binary().unwrap().clone();
    let reasons = strings(&q, "reason");
    (0..q.height())
        .map(|i| {
            (
                lines.get(i).unwrap(),
                reasons[i].clone(),
                raw.get(i).unwrap().to_vec(),
            )
        })
        .collect()
}

#[test]
fn a_quoted_field_holding_a_line_end_is_one_row_and_later_lines_keep_their_numbers() {
    let body = concat!(
        "nhs_number,practice_code,issue_date,dmd_code,bnf_code,quantity\n",
        "9990001235,A81001,2024-01-02,99000291000001101,0501013B0AAABAB,15\n",
        "9990001243,A81001,2024-01-03,99000291000001101,\"0501013B0\nAAABAB\",15\n",
        "9990001251,A81001,2024-01-04,99000291000001101,\"0212\r\n000B0\",10\r\n",
        "123,A81001,2024-01-05,99000291000001101,0501013B0AAABAB,15\n",
        "9990001235,A81001,2024-01-06,\"99000291000001101\",\"say \"\"x\"\"\",\n",
    );
    let (_tmp, cfg, m) = ingest_one("gp_medications", body.as_bytes());
    let f = &m.files[0];
    assert_eq!((f.rows_in, f.rows_out), (5, 4), "records, not lines");
    assert!(f.conserves() && f.conservation_holds);
    assert_eq!(f.quarantined.get("nhs_number_wrong_length"), Some(&1));
    // Line 7 on disk: the two records before it span two lines each.
    let q = quarantined(&cfg, "gp_medications");
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].0, q[0].1.as_str()), (7, "nhs_number_wrong_length"));
    let out = read_parquet(&cfg.out.extract_file("gp_medications", "A81001"));
    assert_eq!(
        strings(&out, "bnf_code"),
        [
            "0501013B0AAABAB",
            "0501013B0\nAAABAB",
            "0212\r\n000B0",
            "say \"x\""
        ]
    );
    assert_eq!(strings(&out, "dmd_code")[3], "99000291000001101");
}

/// Ingest a GP events file and return its (rows in, rows out) and quarantine.
fn events(body: &str) -> ((u64, u64), Quarantined) {
    let header = "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n";
    let (_tmp, cfg, m) = ingest_one("gp_events", format!("{header}{body}").as_bytes());
    let f = &m.files[0];
    assert!(f.conserves());
    ((f.rows_in, f.rows_out), quarantined(&cfg, "gp_events"))
}

#[test]
fn a_quote_never_closed_is_quarantined_with_its_reason_and_the_rest_is_read() {
    // In the middle of a file: its line alone is quarantined, the lines after it are rows.
    let (counts, q) = events(concat!(
        "9990001235,A81001,2024-01-02,271649006,\n",
        "9990001243,A81001,\"2024-01-03,271649006,\n",
        "9990001251,A81001,2024-01-04,271649006,\n",
        "\n",
        "9990001235,A81001,2024-01-05,271649006,12\n",
    ));
    assert_eq!(counts, (4, 3));
    let raw = b"9990001243,A81001,\"2024-01-03,271649006,".to_vec();
    assert_eq!(q, [(3, "unterminated_quote".to_owned(), raw)]);
    // At the end of a file without a final line end.
    let (counts, q) = events(concat!(
        "9990001235,A81001,2024-01-02,271649006,\n",
        "9990001243,A81001,2024-01-06,\"27164",
    ));
    assert_eq!(counts, (2, 1));
    let raw = b"9990001243,A81001,2024-01-06,\"27164".to_vec();
    assert_eq!(q, [(3, "unterminated_quote".to_owned(), raw)]);
}

#[test]
fn a_second_stray_quote_closes_the_first_and_the_record_between_is_quarantined_whole() {
    // RFC 4180 reads one record from line 3 to the quote on line 5, with the wrong number
    // of fields.
    let (counts, q) = events(concat!(
        "9990001235,A81001,2024-01-02,271649006,\n",
        "9990001243,A81001,\"2024-01-03,271649006,\n",
        "9990001251,A81001,2024-01-04,271649006,\n",
        "9990001235,A81001,2024-01-05,\"271649006\",\n",
        "9990001251,A81001,2024-01-06,271649006,\n",
    ));
    assert_eq!(counts, (3, 2));
    assert_eq!((q.len(), q[0].0, q[0].1.as_str()), (1, 3, "field_count"));
    assert_eq!(
        memchr::memchr_iter(b'\n', &q[0].2).count(),
        2,
        "the whole record"
    );
}
