//! Late and missing submissions: the delivery log and its truth agree with the files written,
//! and choosing files changes nothing else the generator writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use phm_synth::submissions::{LOG_HEADER, TRUTH_HEADER};

/// 300 patients over 4 practices, seed 3, with `missing` and `late` files.
fn generate(dir: &Path, missing: usize, late: usize) -> PathBuf {
    let out = dir.join(format!("missing{missing}-late{late}"));
    phm_synth::generate(
        phm_synth::SynthConfig {
            patients: 300,
            practices: 4,
            seed: 3,
            as_of: phm_synth::date::from_ymd(2025, 4, 1),
            years_before: 3,
            defect_rate: phm_synth::params::DEFAULT_DEFECT_RATE,
            out: out.clone(),
            force: false,
            missing_files: missing,
            late_files: late,
            gzip: false,
        },
        &|_| {},
    )
    .unwrap();
    out
}

/// The rows of a small CSV without quoting, after checking its header.
fn rows(path: &Path, header: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{}", path.display());
    lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// `truth/submissions.csv` by status: file (relative to `extracts/`) and extract date.
fn truth_by_status(set: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in rows(&set.join("truth/submissions.csv"), TRUTH_HEADER) {
        out.entry(r[3].clone())
            .or_default()
            .insert(r[2].clone(), r[4].clone());
    }
    out
}

fn iso(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn json(set: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(set.join("synth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn missing_files_are_absent_late_ones_dated_earlier_and_the_truth_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let set = generate(tmp.path(), 2, 3);
    let extract_date = crate::check::extract_date(&set);
    let truth = rows(&set.join("truth/submissions.csv"), TRUTH_HEADER);
    // Every expected pair: 3 GP extracts for 4 practices, 3 acute ones for 3 trusts,
    // ambulance, community, mental health and the national opt-out list.
    assert_eq!(truth.len(), 3 * 4 + 3 * 3 + 4);
    let keys: Vec<(&str, &str)> = truth.iter().map(|r| (&*r[0], &*r[1])).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "not sorted: {keys:?}");
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &truth {
        let [extract, submitter, file, status, date] = &r[..] else {
            panic!("{r:?}")
        };
        assert_eq!(file, &format!("{extract}/{submitter}.csv"));
        *statuses.entry(status).or_default() += 1;
        let present = set.join("extracts").join(file).is_file();
        assert_eq!(present, status != "missing", "{r:?}");
        match status.as_str() {
            "missing" => {
                assert!(date.is_empty(), "{r:?}");
                assert!(
                    extract != "gp_registrations" && extract != "national_opt_out",
                    "{r:?}"
                );
            }
            "on_time" => assert_eq!(iso(date), extract_date, "{r:?}"),
            "late" => {
                let days = (extract_date - iso(date)).num_days();
                assert!((40..=120).contains(&days), "{r:?}: {days} days early");
            }
            _ => panic!("unknown status: {r:?}"),
        }
    }
    assert_eq!(
        statuses,
        BTreeMap::from([("late", 3), ("missing", 2), ("on_time", 20)])
    );
    // The delivery log lists exactly the delivered files, with the truth's dates.
    let log = rows(&set.join("extracts/submissions.csv"), LOG_HEADER);
    let delivered: Vec<Vec<String>> = truth
        .iter()
        .filter(|r| r[3] != "missing")
        .map(|r| vec![r[0].clone(), r[1].clone(), r[2].clone(), r[4].clone()])
        .collect();
    assert_eq!(log, delivered);
    let extracts = set.join("extracts");
    let present: BTreeSet<String> = phm_testkit::files_under(&extracts, Some("csv"))
        .into_iter()
        .filter(|p| p.parent() != Some(extracts.as_path()))
        .map(|p| {
            p.strip_prefix(&extracts)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let logged: BTreeSet<String> = log.iter().map(|r| r[2].clone()).collect();
    assert_eq!(present, logged);
    // Defects are listed only in files written, and are exactly those present.
    let listed = crate::defects::truth(&set);
    let found = crate::check::read(&set).found;
    assert!(
        listed
            .iter()
            .all(|(f, _, _)| logged.contains(&f["extracts/".len()..]))
    );
    assert_eq!(listed, found);
    let meta = json(&set);
    assert_eq!(meta["missing_files"], 2);
    assert_eq!(meta["late_files"], 3);
}

#[test]
fn choosing_files_changes_only_those_files_and_the_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let none = generate(tmp.path(), 0, 0);
    let some = generate(tmp.path(), 2, 3);
    let (a, b) = (crate::output::tree(&none), crate::output::tree(&some));

    // With none chosen, every file is delivered on time.
    let extract_date = crate::check::extract_date(&none).to_string();
    let t = truth_by_status(&none);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["on_time"]);
    assert!(t["on_time"].values().all(|d| *d == extract_date));
    assert_eq!(
        rows(&none.join("extracts/submissions.csv"), LOG_HEADER).len(),
        t["on_time"].len()
    );

    let t = truth_by_status(&some);
    let missing: BTreeSet<String> = t["missing"]
        .keys()
        .map(|f| format!("extracts/{f}"))
        .collect();
    let late: BTreeSet<String> = t["late"].keys().map(|f| format!("extracts/{f}")).collect();
    assert_eq!((missing.len(), late.len()), (2, 3));
    // The same files, less the missing ones.
    let expected: BTreeSet<&String> = a.keys().filter(|k| !missing.contains(*k)).collect();
    assert_eq!(b.keys().collect::<BTreeSet<_>>(), expected);
    // Byte for byte the same, late files included, except the logs, the defect list and
    // synth.json.
    let logs = [
        "extracts/submissions.csv",
        "truth/submissions.csv",
        "truth/defects.csv",
        "synth.json",
    ];
    for (k, v) in &b {
        if !logs.contains(&k.as_str()) {
            assert!(v == &a[k], "{k} differs when files are chosen");
        }
    }
    for k in &late {
        assert!(b.contains_key(k), "{k} is late but not written");
    }
    // The defect list loses exactly the missing files' lines.
    let text = String::from_utf8(a["truth/defects.csv"].clone()).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !missing.iter().any(|m| l.starts_with(&format!("{m},"))))
        .collect();
    let text = String::from_utf8(b["truth/defects.csv"].clone()).unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>(), kept);
    // synth.json differs only in the settings and the counts of what was written; each
    // extract loses the data lines of its missing files.
    let (ja, jb) = (json(&none), json(&some));
    assert_eq!(ja.keys().collect::<Vec<_>>(), jb.keys().collect::<Vec<_>>());
    for (k, v) in &ja {
        if !["missing_files", "late_files", "rows", "defects"].contains(&k.as_str()) {
            assert_eq!(v, &jb[k], "synth.json `{k}` differs");
        }
    }
    assert_eq!(
        (ja["missing_files"].clone(), ja["late_files"].clone()),
        (0.into(), 0.into())
    );
    for (extract, rows) in ja["rows"].as_object().unwrap() {
        let lost: u64 = missing
            .iter()
            .filter(|m| m.starts_with(&format!("extracts/{extract}/")))
            .map(|m| String::from_utf8_lossy(&a[m]).lines().count() as u64 - 1)
            .sum();
        assert_eq!(
            rows.as_u64().unwrap() - lost,
            jb["rows"][extract].as_u64().unwrap_or(0),
            "{extract}"
        );
    }
    // Which files are missing does not depend on how many are late.
    let again = generate(tmp.path(), 2, 0);
    assert_eq!(truth_by_status(&again)["missing"], t["missing"]);
}

#[test]
fn more_chosen_files_than_can_be_chosen_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = phm_synth::SynthConfig {
        patients: 10,
        practices: 2,
        seed: 1,
        as_of: phm_synth::date::from_ymd(2025, 4, 1),
        years_before: 3,
        defect_rate: 0.0,
        out: tmp.path().join("x"),
        force: false,
        // 2 × 2 GP files, 9 acute and 3 others can be chosen: 16.
        missing_files: 10,
        late_files: 7,
        gzip: false,
    };
    let err = phm_synth::generate(cfg.clone(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--missing-files") && err.contains("at most 16"),
        "{err}"
    );
    phm_synth::generate(
        phm_synth::SynthConfig {
            late_files: 6,
            gzip: false,
            ..cfg
        },
        &|_| {},
    )
    .unwrap();
}
