//! Monthly re-runs: a file whose bytes and everything its output depends on are unchanged is
//! not ingested again, and the result is what a full run gives; a new opt-out anywhere makes
//! every file new.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use phm_contract::NhsNumber;
use phm_ingest::pseudo::Pseudonymiser;
use phm_ingest::{EarlierRun, FileReport};

use super::*;

/// A copy of the sample's set that a test may change.
fn copy_set(to: &Path) -> PathBuf {
    let from = &sample().set;
    for file in phm_testkit::files_under(from, None) {
        let dest = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&file, &dest).unwrap();
    }
    to.to_owned()
}

/// The sample's ingest as the earlier run.
fn earlier() -> EarlierRun {
    let s = sample();
    EarlierRun {
        id: "earlier".to_owned(),
        out: s.cfg.out.clone(),
        identifiable: s.cfg.identifiable.clone(),
    }
}

/// Every file under a folder (relative path -> bytes), manifests left out.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    phm_testkit::files_under(dir, Some("parquet"))
        .into_iter()
        .map(|f| {
            (
                f.strip_prefix(dir).unwrap().to_owned(),
                std::fs::read(&f).unwrap(),
            )
        })
        .collect()
}

fn reused(m: &Manifest) -> Vec<(&str, Option<&str>)> {
    m.files
        .iter()
        .map(|f: &FileReport| (f.file.as_str(), f.reused_from.as_deref()))
        .collect()
}

#[test]
fn a_rerun_reuses_every_unchanged_file_and_gives_what_a_full_run_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let set = copy_set(&tmp.path().join("set"));
    // One provider's file changes: its last row is gone.
    let apc = phm_testkit::files_under(&set.join("extracts/apc"), Some("csv"))[0].clone();
    let changed = format!("apc/{}", apc.file_name().unwrap().to_string_lossy());
    let bytes = std::fs::read(&apc).unwrap();
    let body = &bytes[..bytes.len() - 1];
    let cut = body.iter().rposition(|b| *b == b'\n').unwrap() + 1;
    std::fs::write(&apc, &bytes[..cut]).unwrap();

    let mut rerun = config(&set, &tmp.path().join("rerun"));
    rerun.earlier = vec![earlier()];
    let m = ingest_committed(&rerun, &key(0x11)).unwrap();
    assert_eq!(m.files.len(), sample().manifest.files.len());
    for (file, from) in reused(&m) {
        let want = (file != changed).then_some("earlier");
        assert_eq!(from, want, "{file}");
    }
    let full = config(&set, &tmp.path().join("full"));
    let fm = ingest_committed(&full, &key(0x11)).unwrap();
    assert!(fm.files.iter().all(|f| f.reused_from.is_none()));
    // The same datasets, quarantine and manifest, byte for byte.
    assert_eq!(contents(rerun.out.path()), contents(full.out.path()));
    assert_eq!(
        contents(rerun.identifiable.path()),
        contents(full.identifiable.path())
    );
    assert_eq!(
        std::fs::read(rerun.out.ingest_manifest()).unwrap(),
        std::fs::read(full.out.ingest_manifest()).unwrap()
    );
    // A reused dataset is the earlier run's file itself (linked), the changed one is new.
    let same = |rel: &str| {
        let (e, s) = rel.split_once('/').unwrap();
        let s = s.trim_end_matches(".csv");
        let a = std::fs::metadata(rerun.out.extract_file(e, s))
            .unwrap()
            .ino();
        a == std::fs::metadata(sample().cfg.out.extract_file(e, s))
            .unwrap()
            .ino()
    };
    assert!(same("gp_events/A81001.csv"));
    assert!(!same(&changed));
    // Rows still add up for every file, reused or not.
    assert!(m.files.iter().all(FileReport::conserves));
}

#[test]
fn a_new_type1_code_in_one_gp_file_removes_the_patient_from_every_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let set = copy_set(&tmp.path().join("set"));
    // A registered patient with no opt-out who has admitted care.
    let opted: HashSet<String> = std::fs::read_to_string(set.join("truth/opt_outs.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    let apc: String = phm_testkit::files_under(&set.join("extracts/apc"), Some("csv"))
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
        .collect();
    let patients = std::fs::read_to_string(set.join("truth/patients.csv")).unwrap();
    let (nhs, practice) = patients
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| !r[6].is_empty() && !opted.contains(r[0]) && apc.contains(r[0]))
        .map(|r| (r[0].to_owned(), r[6].to_owned()))
        .unwrap();
    let pseudonym = Pseudonymiser::new(&key(0x11))
        .pseudonym(&NhsNumber::parse(&nhs).unwrap())
        .as_str()
        .to_owned();
    let present = |run: &RunLayout| -> Vec<String> {
        parquet_files(&run.pseudonymised())
            .into_iter()
            .filter(|f| strings(&read_parquet(f), "pseudonym").contains(&pseudonym))
            .map(|f| f.display().to_string())
            .collect()
    };
    assert!(
        present(&sample().cfg.out).len() >= 2,
        "the patient is in several datasets"
    );
    // Their practice records a type-1 dissent.
    let events = set.join(format!("extracts/gp_events/{practice}.csv"));
    let mut bytes = std::fs::read(&events).unwrap();
    let end: &[u8] = if bytes.ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    if !bytes.ends_with(b"\n") {
        bytes.extend_from_slice(end);
    }
    bytes.extend_from_slice(format!("{nhs},{practice},2026-03-01,827241000000103,").as_bytes());
    bytes.extend_from_slice(end);
    std::fs::write(&events, bytes).unwrap();

    let mut rerun = config(&set, &tmp.path().join("rerun"));
    rerun.earlier = vec![earlier()];
    let m = ingest_committed(&rerun, &key(0x11)).unwrap();
    // The opt-out decisions are part of every file's key: nothing is reused.
    assert!(reused(&m).iter().all(|(_, from)| from.is_none()));
    assert_eq!(present(&rerun.out), Vec::<String>::new());
    assert!(m.files.iter().all(FileReport::conserves));
}

/// A reused file whose rows had an unreadable code left out brings its rows kept as received
/// (`amended/`) into the new run's identifiable zone, as a full run would write them.
#[test]
fn a_reused_file_brings_its_amended_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let apc = "nhs_number,provider_code,local_patient_id,spell_id,episode_number,admission_date,discharge_date,admission_method,primary_diagnosis,secondary_diagnoses\n\
9990001235,RAJ,H1,S1,1,2024-01-02,2024-01-05,21,I500,I10X;ZZ9\n";
    let events = |value: &str| {
        format!(
            "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n9990001235,A81001,2024-01-02,271649006,{value}\n"
        )
    };
    let first = set_of(
        &tmp.path().join("first"),
        &[
            ("apc/RAJ.csv", apc.as_bytes()),
            ("gp_events/A81001.csv", events("140").as_bytes()),
        ],
    );
    let a = config(&first, &tmp.path().join("a"));
    let m = ingest_committed(&a, &key(0x11)).unwrap();
    assert_eq!(m.totals.codes_dropped, 1);
    // Next month only the GP file changes.
    let second = set_of(
        &tmp.path().join("second"),
        &[
            ("apc/RAJ.csv", apc.as_bytes()),
            ("gp_events/A81001.csv", events("150").as_bytes()),
        ],
    );
    let mut b = config(&second, &tmp.path().join("b"));
    b.earlier = vec![EarlierRun {
        id: "a".to_owned(),
        out: a.out.clone(),
        identifiable: a.identifiable.clone(),
    }];
    let m = ingest_committed(&b, &key(0x11)).unwrap();
    let apc_report = m.files.iter().find(|f| f.extract == "apc").unwrap();
    assert_eq!(apc_report.reused_from.as_deref(), Some("a"));
    assert_eq!(apc_report.codes_dropped, 1);
    assert_eq!(
        std::fs::read(b.identifiable.amended_file("apc", "RAJ")).unwrap(),
        std::fs::read(a.identifiable.amended_file("apc", "RAJ")).unwrap()
    );
}
