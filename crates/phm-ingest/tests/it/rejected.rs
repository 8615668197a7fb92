//! `on_rejected_file`: with `stop` a file that cannot be ingested stops everything and nothing
//! is written; with `skip` it is left out of both zones and listed in the manifest with its
//! problem, bytes and lines, and the rest is ingested.

use std::path::{Path, PathBuf};

use phm_ingest::{IngestError, OnRejectedFile};

use crate::{config, ingest_committed, key, set_of};

/// 4,096 bytes that are not CSV (the header is not text).
fn binary() -> Vec<u8> {
    let mut x: u64 = 0x1234_5678_9abc_def0;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Two good files from the committed sample, an empty one and a binary one.
fn set(dir: &Path) -> PathBuf {
    let sample = phm_testkit::repo_root().join("data-samples/synth/extracts");
    let events = std::fs::read(sample.join("gp_events/A81001.csv")).unwrap();
    let apc = std::fs::read(sample.join("apc/RAJ.csv")).unwrap();
    set_of(
        dir,
        &[
            ("gp_events/A81001.csv", &events),
            ("apc/RAJ.csv", &apc),
            ("apc/RCF.csv", b""),
            ("ecds/RAJ.csv", &binary()),
        ],
    )
}

/// Data lines of a file without quotes (every line end outside the header's is a row).
fn data_lines(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty() && *l != b"\r")
        .count() as u64
}

#[test]
fn skip_leaves_out_an_empty_and_a_binary_file_and_ingests_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let set = set(tmp.path());
    let mut cfg = config(&set, tmp.path());
    cfg.on_rejected_file = OnRejectedFile::Skip;
    let m = ingest_committed(&cfg, &key(1)).unwrap();

    let ingested: Vec<&str> = m.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(ingested, ["apc/RAJ.csv", "gp_events/A81001.csv"]);
    for f in &m.files {
        assert!(f.conserves() && f.conservation_holds, "{}", f.file);
        assert_eq!(f.rows_in, data_lines(&set.join("extracts").join(&f.file)));
        let dataset = cfg.out.extract_file(&f.extract, &f.submitter);
        assert_eq!(
            crate::read_parquet(&dataset).height() as u64,
            f.rows_out,
            "{}",
            f.file
        );
    }

    let binary_lines = {
        let b = binary();
        memchr::memchr_iter(b'\n', &b).count() as u64 + u64::from(b.last() != Some(&b'\n'))
    };
    let rejected: Vec<(&str, &str, &str, u64, u64)> = m
        .rejected_files
        .iter()
        .map(|r| {
            (
                r.file.as_str(),
                r.extract.as_str(),
                r.submitter.as_str(),
                r.bytes,
                r.lines,
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            ("apc/RCF.csv", "apc", "RCF", 0, 0),
            ("ecds/RAJ.csv", "ecds", "RAJ", 4096, binary_lines)
        ]
    );
    assert!(m.rejected_files[0].problem.contains("empty"));
    assert!(m.rejected_files[1].problem.contains("text"));
    assert!(m.rejected_files.iter().all(|r| !r.hint.is_empty()));

    // Nothing of a rejected file in either zone.
    assert!(!cfg.out.extract_file("apc", "RCF").exists());
    assert!(!cfg.out.extract_dir("ecds").exists());
    assert!(!cfg.identifiable.quarantine_file("apc", "RCF").exists());
    assert!(!cfg.identifiable.quarantine().join("ecds").exists());
    // Counts only over what was ingested; the manifest lists the rejected files.
    assert_eq!(m.totals.files, 2);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cfg.out.ingest_manifest()).unwrap()).unwrap();
    let listed = json["rejected_files"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for key in [
        "file",
        "extract",
        "submitter",
        "problem",
        "hint",
        "bytes",
        "lines",
    ] {
        assert!(listed[1].get(key).is_some(), "{key}");
    }
    assert_eq!(listed[1]["bytes"], 4096);
}

#[test]
fn stop_writes_nothing_and_names_both_files() {
    let tmp = tempfile::tempdir().unwrap();
    let set = set(tmp.path());
    let cfg = config(&set, tmp.path());
    assert_eq!(cfg.on_rejected_file, OnRejectedFile::Stop, "the default");
    let err = ingest_committed(&cfg, &key(1)).unwrap_err();
    let IngestError::Rejected(files) = &err else {
        panic!("{err}")
    };
    assert_eq!(files.len(), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("apc/RCF.csv") && msg.contains("ecds/RAJ.csv") && msg.contains("skip"),
        "{msg}"
    );
    assert!(!cfg.out.path().exists() && !cfg.identifiable.path().exists());
}

#[test]
fn skip_never_skips_a_file_opt_outs_are_read_from() {
    let tmp = tempfile::tempdir().unwrap();
    let set = set(tmp.path());
    std::fs::write(set.join("extracts/gp_events/A81002.csv"), b"").unwrap();
    let mut cfg = config(&set, tmp.path());
    cfg.on_rejected_file = OnRejectedFile::Skip;
    let err = ingest_committed(&cfg, &key(1)).unwrap_err();
    let IngestError::OptOutSourceRejected(files) = &err else {
        panic!("{err}")
    };
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file, "gp_events/A81002.csv");
    let msg = err.to_string();
    assert!(msg.contains("opt-outs") && msg.contains("hint:"), "{msg}");
    assert!(!cfg.out.path().exists() && !cfg.identifiable.path().exists());
}

#[test]
fn skip_with_nothing_left_to_ingest_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let set = set(tmp.path());
    std::fs::remove_dir_all(set.join("extracts/gp_events")).unwrap();
    std::fs::remove_file(set.join("extracts/apc/RAJ.csv")).unwrap();
    let mut cfg = config(&set, tmp.path());
    cfg.on_rejected_file = OnRejectedFile::Skip;
    let err = ingest_committed(&cfg, &key(1)).unwrap_err();
    assert!(
        matches!(&err, IngestError::Rejected(f) if f.len() == 2),
        "{err}"
    );
}
