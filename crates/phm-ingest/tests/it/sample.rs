//! Ingest of a synthetic set with defects: quarantine matches the truth exactly, rows are
//! conserved, opt-outs are applied, pseudonyms are keyed, stable and linkable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write as _;

use crate::{config, key, parquet_files, read_parquet, sample, strings};

/// (file, line) -> expected reason, from truth/defects.csv (rows that must be quarantined),
/// and the set of rows that must be kept though odd.
/// Rows that must be quarantined (with their reason) and rows that must be kept.
type TruthDefects = (BTreeMap<(String, u64), String>, BTreeSet<(String, u64)>);

fn truth_defects(set: &std::path::Path) -> TruthDefects {
    let text = std::fs::read_to_string(set.join("truth/defects.csv")).unwrap();
    let mut quarantine = BTreeMap::new();
    let mut kept = BTreeSet::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let file = f[0].strip_prefix("extracts/").unwrap().to_owned();
        let line: u64 = f[1].parse().unwrap();
        if f[4].is_empty() {
            if line > 1 {
                kept.insert((file, line));
            }
        } else {
            quarantine.insert((file, line), f[4].to_owned());
        }
    }
    (quarantine, kept)
}

#[test]
fn quarantine_is_exactly_the_injected_defects_with_their_reasons() {
    let s = sample();
    let (expected, kept) = truth_defects(&s.set);
    let mut got = BTreeMap::new();
    for path in parquet_files(&s.cfg.identifiable.quarantine()) {
        let df = read_parquet(&path);
        let files = strings(&df, "file");
        let lines: Vec<u64> = df
            .column("line")
            .unwrap()
            .u64()
            .unwrap()
            .iter()
            .map(Option::unwrap)
            .collect();
        let reasons = strings(&df, "reason");
        for ((f, l), r) in files.into_iter().zip(lines).zip(reasons) {
            got.insert((f, l), r);
        }
    }
    assert!(expected.len() > 200, "{}", expected.len());
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(k, _)| !expected.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "not quarantined as expected: {missing:?}"
    );
    assert!(extra.is_empty(), "quarantined but not injected: {extra:?}");
    assert!(
        kept.iter().all(|k| !got.contains_key(k)),
        "valid numbers with spaces must be kept"
    );
    assert!(!kept.is_empty());
}

#[test]
fn every_file_conserves_rows_and_the_manifest_says_so() {
    let s = sample();
    let m = &s.manifest;
    assert_eq!(m.files.len(), 43);
    for f in &m.files {
        let q: u64 = f.quarantined.values().sum();
        let o: u64 = f.opted_out.values().sum();
        assert_eq!(f.rows_in, f.rows_out + q + o, "{}", f.file);
        assert!(f.conservation_holds);
        assert_eq!(f.input_blake3.len(), 64);
    }
    // rows_in is the number of data lines of each file.
    for f in &m.files {
        let bytes = std::fs::read(s.set.join("extracts").join(&f.file)).unwrap();
        let lines = bytes
            .split(|b| *b == b'\n')
            .skip(1)
            .filter(|l| !l.is_empty() && *l != b"\r")
            .count() as u64;
        assert_eq!(lines, f.rows_in, "{}", f.file);
        assert_eq!(blake3::hash(&bytes).to_hex().to_string(), f.input_blake3);
    }
    // rows_out equals the rows in each dataset.
    for f in m.files.iter().filter(|f| f.extract != "national_opt_out") {
        let path = s.cfg.out.extract_file(&f.extract, &f.submitter);
        assert_eq!(
            read_parquet(&path).height() as u64,
            f.rows_out,
            "{}",
            f.file
        );
    }
    let json = std::fs::read_to_string(s.cfg.out.ingest_manifest()).unwrap();
    assert!(
        json.contains("\"conservation_holds\": true")
            && !json.contains("\"conservation_holds\": false")
    );
    assert!(json.contains(&key(0x11).id()));
}

/// Pseudonyms computed by the Python `blake3` package for NHS numbers, with key 0x11..11.
fn oracle_pseudonyms(numbers: &[String], key_byte: u8) -> HashMap<String, String> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for n in numbers {
        writeln!(f, "{n}").unwrap();
    }
    f.flush().unwrap();
    let script = format!(
        "import sys, blake3\nkey = bytes([{key_byte}] * 32)\nfor line in open(sys.argv[1]):\n    n = line.strip()\n    print(n, blake3.blake3(n.encode(), key=key).hexdigest())\n"
    );
    phm_testkit::run_oracle(&script, &[f.path()])
        .lines()
        .map(|l| {
            let (n, p) = l.split_once(' ').unwrap();
            (n.to_owned(), p.to_owned())
        })
        .collect()
}

fn truth_patients(set: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(set.join("truth/patients.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

/// Pseudonyms present in each extract's datasets.
fn pseudonyms_by_extract(run: &phm_ingest::RunLayout) -> BTreeMap<String, HashSet<String>> {
    let mut out: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for path in parquet_files(&run.pseudonymised()) {
        let extract = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.entry(extract)
            .or_default()
            .extend(strings(&read_parquet(&path), "pseudonym"));
    }
    out
}

#[test]
fn pseudonyms_are_keyed_blake3_and_link_across_extracts() {
    let s = sample();
    let numbers = truth_patients(&s.set);
    let oracle = oracle_pseudonyms(&numbers, 0x11);
    let by_extract = pseudonyms_by_extract(&s.cfg.out);
    let all: HashSet<&String> = by_extract.values().flatten().collect();
    // Every pseudonym written is the oracle's pseudonym of some patient.
    let known: HashSet<&String> = oracle.values().collect();
    assert!(
        all.iter().all(|p| known.contains(p)),
        "a pseudonym no patient has"
    );
    // Patients with GP, hospital and ambulance rows carry the same pseudonym in each.
    let linked = ["gp_registrations", "apc", "ambulance"]
        .iter()
        .map(|e| &by_extract[*e])
        .fold(None::<HashSet<String>>, |acc, s| {
            Some(acc.map_or_else(|| s.clone(), |a| a.intersection(s).cloned().collect()))
        })
        .unwrap();
    assert!(
        linked.len() > 50,
        "{} patients seen in GP, hospital and ambulance data",
        linked.len()
    );
}

#[test]
fn same_key_same_bytes_other_key_no_pseudonym_in_common() {
    let s = sample();
    let tmp = tempfile::tempdir().unwrap();
    let again = config(&s.set, tmp.path());
    phm_ingest::ingest(&again, &key(0x11), &|_| {}).unwrap();
    let a = parquet_files(s.cfg.out.path());
    let b = parquet_files(again.out.path());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} differs",
            x.display()
        );
    }
    assert_eq!(
        std::fs::read(s.cfg.out.ingest_manifest()).unwrap(),
        std::fs::read(again.out.ingest_manifest()).unwrap()
    );
    let tmp2 = tempfile::tempdir().unwrap();
    let other = config(&s.set, tmp2.path());
    phm_ingest::ingest(&other, &key(0x22), &|_| {}).unwrap();
    let p1: HashSet<String> = pseudonyms_by_extract(&s.cfg.out)
        .into_values()
        .flatten()
        .collect();
    let p2: HashSet<String> = pseudonyms_by_extract(&other.out)
        .into_values()
        .flatten()
        .collect();
    assert!(p1.len() > 1500 && p2.len() == p1.len());
    assert_eq!(p1.intersection(&p2).count(), 0);
}

#[test]
fn opted_out_patients_appear_nowhere_and_withdrawals_re_include() {
    let s = sample();
    let text = std::fs::read_to_string(s.set.join("truth/opt_outs.csv")).unwrap();
    let mut out_numbers = Vec::new();
    let mut withdrawn = Vec::new();
    let mut national = Vec::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[1] == "dissent" || f[2] == "1" {
            out_numbers.push(f[0].to_owned());
        } else if f[1] == "withdrawn" {
            withdrawn.push(f[0].to_owned());
        } else if f[3] == "1" {
            national.push(f[0].to_owned());
        }
    }
    assert!(out_numbers.len() > 20 && !withdrawn.is_empty() && national.len() > 50);
    let all: Vec<String> = out_numbers
        .iter()
        .chain(&withdrawn)
        .chain(&national)
        .cloned()
        .collect();
    let oracle = oracle_pseudonyms(&all, 0x11);
    let present: HashSet<String> = pseudonyms_by_extract(&s.cfg.out)
        .into_values()
        .flatten()
        .collect();
    for n in &out_numbers {
        assert!(
            !present.contains(&oracle[n]),
            "an opted-out patient is in the pseudonymised zone"
        );
    }
    assert!(
        withdrawn.iter().all(|n| present.contains(&oracle[n])),
        "a withdrawn dissent must re-include"
    );
    // The national opt-out does not apply by default; with one line it does.
    assert!(
        national
            .iter()
            .filter(|n| present.contains(&oracle[*n]))
            .count()
            > national.len() / 2
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(&s.set, tmp.path());
    cfg.national_opt_out = true;
    let m = phm_ingest::ingest(&cfg, &key(0x11), &|_| {}).unwrap();
    let present: HashSet<String> = pseudonyms_by_extract(&cfg.out)
        .into_values()
        .flatten()
        .collect();
    assert!(national.iter().all(|n| !present.contains(&oracle[n])));
    assert!(
        m.totals
            .opted_out
            .get("national_data_opt_out")
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert!(m.files.iter().all(phm_ingest::FileReport::conserves));
}

#[test]
fn identifiers_are_dropped_and_quasi_identifiers_generalised() {
    let s = sample();
    let reg = read_parquet(&s.cfg.out.extract_file("gp_registrations", "A81001"));
    let names: Vec<&str> = reg.get_column_names().iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "pseudonym",
            "practice_code",
            "age",
            "age_band",
            "sex",
            "lsoa_code",
            "imd_decile",
            "postcode_district",
            "registration_start",
            "registration_end",
            "registration_end_reason"
        ]
    );
    let apc = read_parquet(&s.cfg.out.extract_file("apc", "RAJ"));
    assert!(apc.column("local_patient_id").is_err());
    assert_eq!(
        apc.column("admission_date").unwrap().dtype(),
        &polars::prelude::DataType::Date
    );
    let lsoa = strings(&reg, "lsoa_code");
    let district = strings(&reg, "postcode_district");
    assert!(lsoa.len() > 100 && lsoa.iter().all(|l| l.starts_with("E019")));
    assert!(
        !district.is_empty() && district.iter().all(|d| d.len() <= 4),
        "unknown postcodes fall back to the district"
    );
    let bands = strings(&reg, "age_band");
    assert!(bands.iter().all(|b| b == "90+" || b.contains('-')));
}

/// Every folder and file under `dir` (itself included) with its permission bits.
fn modes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(dir).unwrap();
    let mut out = vec![(dir.to_owned(), true, meta.permissions().mode() & 0o777)];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(modes(&path));
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            out.push((path, false, mode));
        }
    }
    out
}

#[test]
fn the_identifiable_zone_is_private_to_its_owner() {
    let s = sample();
    let all = modes(s.cfg.identifiable.path());
    assert!(all.iter().filter(|(_, dir, _)| !dir).count() > 5);
    for (path, dir, mode) in &all {
        let expected = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, expected, "{}", path.display());
    }
}
