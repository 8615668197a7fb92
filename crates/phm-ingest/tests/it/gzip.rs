//! Gzip-compressed extracts (`<ODS>.csv.gz`): read as they are, to the same outputs as the
//! plain files; a damaged one is rejected, never read as a shorter file.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;

use phm_ingest::IngestError;

use super::*;

/// Every Parquet file under a folder (relative path -> bytes).
fn parquet_contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    parquet_files(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f.strip_prefix(dir).unwrap().to_owned(), bytes)
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_gzip_set_from_synth_ingests_to_what_the_plain_set_gives() {
    let s = sample();
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("synth");
    // The sample's settings (phm_testkit::synth), extracts written gzip-compressed.
    phm_synth::generate(
        phm_synth::SynthConfig {
            patients: 2000,
            practices: 10,
            seed: 7,
            as_of: from_ymd(2025, 4, 1),
            years_before: 4,
            defect_rate: phm_synth::params::DEFAULT_DEFECT_RATE,
            out: set.clone(),
            force: false,
            missing_files: 0,
            late_files: 0,
            gzip: true,
        },
        &|_| {},
    )
    .unwrap();
    // The generator writes the same text, compressed.
    let plain = phm_testkit::files_under(&s.set.join("extracts"), Some("csv"));
    let packed = phm_testkit::files_under(&set.join("extracts"), Some("gz"));
    assert_eq!(packed.len(), plain.len() - 1, "all but the delivery log");
    for gz in &packed {
        let rel = gz.strip_prefix(&set).unwrap().to_string_lossy();
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        let original = s.set.join(rel.strip_suffix(".gz").unwrap());
        assert_eq!(text, std::fs::read(original).unwrap(), "{rel}");
    }

    let cfg = config(&set, tmp.path());
    let m = ingest_committed(&cfg, &key(0x11)).unwrap();
    assert_eq!(
        parquet_contents(cfg.out.path()),
        parquet_contents(s.cfg.out.path()),
        "the pseudonymised zone, byte for byte"
    );
    // Quarantine and the rest of the identifiable zone: the same rows, naming the file read.
    let (gz_files, plain_files) = (
        parquet_files(cfg.identifiable.path()),
        parquet_files(s.cfg.identifiable.path()),
    );
    assert_eq!(gz_files.len(), plain_files.len());
    assert!(gz_files.len() > 10);
    for (gz, plain) in gz_files.iter().zip(&plain_files) {
        let rel = gz.strip_prefix(cfg.identifiable.path()).unwrap();
        assert_eq!(rel, plain.strip_prefix(s.cfg.identifiable.path()).unwrap());
        let (mut a, mut b) = (read_parquet(gz), read_parquet(plain));
        if a.column("file").is_ok() {
            let named: Vec<String> = strings(&b, "file")
                .iter()
                .map(|f| format!("{f}.gz"))
                .collect();
            assert_eq!(strings(&a, "file"), named, "{}", rel.display());
            a = a.drop("file").unwrap();
            b = b.drop("file").unwrap();
        }
        assert!(a.equals_missing(&b), "{}", rel.display());
    }
    assert_eq!(m.files.len(), s.manifest.files.len());
    for (gz, plain) in m.files.iter().zip(&s.manifest.files) {
        assert_eq!(gz.file, format!("{}.gz", plain.file));
        assert_eq!(
            (gz.rows_in, gz.rows_out, &gz.quarantined, &gz.opted_out),
            (
                plain.rows_in,
                plain.rows_out,
                &plain.quarantined,
                &plain.opted_out
            ),
            "{}",
            gz.file
        );
        assert!(gz.conservation_holds);
        let bytes = std::fs::read(set.join("extracts").join(&gz.file)).unwrap();
        assert_eq!(
            gz.input_blake3,
            blake3::hash(&bytes).to_hex().to_string(),
            "the hash is of the bytes received: {}",
            gz.file
        );
    }
}

#[test]
fn a_cut_short_gzip_file_is_rejected_and_says_to_send_it_again() {
    let events = "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n";
    let header = "nhs_number,practice_code,issue_date,dmd_code,bnf_code,quantity\n";
    let body = format!(
        "{header}{}",
        "9990001235,A81001,2024-01-02,,,\n".repeat(20_000)
    );
    let whole = gzip(body.as_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let set = set_of(
        tmp.path(),
        &[
            ("gp_events/A81001.csv", events.as_bytes()),
            (
                "gp_medications/A81001.csv.gz",
                &whole[..whole.len() * 2 / 3],
            ),
        ],
    );
    let cfg = config(&set, tmp.path());
    let err = ingest_committed(&cfg, &key(1)).unwrap_err();
    let IngestError::Rejected(files) = &err else {
        panic!("{err}")
    };
    assert_eq!(files.len(), 1, "{err}");
    assert_eq!(files[0].file, "gp_medications/A81001.csv.gz");
    assert!(files[0].problem.contains("gzip"), "{err}");
    assert!(files[0].hint.contains("send the extract again"), "{err}");
    assert!(!cfg.out.path().exists(), "nothing is written");
}

#[test]
fn a_damaged_gzip_events_file_stops_the_ingest_as_its_opt_outs_cannot_be_read() {
    let header = "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n";
    let body = format!(
        "{header}{}",
        "9990001235,A81001,2024-01-02,271649006,\n".repeat(20_000)
    );
    let whole = gzip(body.as_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let set = set_of(
        tmp.path(),
        &[("gp_events/A81001.csv.gz", &whole[..whole.len() / 2])],
    );
    let mut cfg = config(&set, tmp.path());
    cfg.on_rejected_file = OnRejectedFile::Skip;
    let err = ingest_committed(&cfg, &key(1)).unwrap_err().to_string();
    assert!(
        err.contains("gzip") && err.contains("A81001.csv.gz"),
        "{err}"
    );
    assert!(!cfg.out.path().exists(), "nothing is written");
}

#[test]
fn one_submitter_sending_plain_and_gzip_is_rejected_not_merged() {
    let body = "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n9990001235,A81001,2024-01-02,271649006,\n";
    let tmp = tempfile::tempdir().unwrap();
    let set = set_of(
        tmp.path(),
        &[
            ("gp_events/A81001.csv", body.as_bytes()),
            ("gp_events/A81001.csv.gz", &gzip(body.as_bytes())),
        ],
    );
    let cfg = config(&set, tmp.path());
    let err = ingest_committed(&cfg, &key(1)).unwrap_err();
    let IngestError::Rejected(files) = &err else {
        panic!("{err}")
    };
    let names: Vec<&str> = files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        names,
        ["gp_events/A81001.csv", "gp_events/A81001.csv.gz"],
        "{err}"
    );
    assert!(files[0].problem.contains("twice"), "{err}");
}
