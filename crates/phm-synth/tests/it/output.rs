//! Output is deterministic and appears only when complete.

use std::collections::BTreeMap;
use std::path::Path;

pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    phm_testkit::files_under(dir, None)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let again = tmp.path().join("again");
    phm_testkit::synth(&again, 2000, 10, 7, phm_synth::params::DEFAULT_DEFECT_RATE);
    let a = tree(crate::sample());
    let b = tree(&again);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs between two runs with seed 7");
    }
    assert!(a.len() > 40);
    let other = tmp.path().join("other");
    phm_testkit::synth(&other, 2000, 10, 8, phm_synth::params::DEFAULT_DEFECT_RATE);
    let c = tree(&other);
    assert_ne!(a["truth/patients.csv"], c["truth/patients.csv"]);
}

#[test]
fn an_existing_folder_is_refused_unless_forced_and_no_partial_folder_is_left() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("set");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let mut cfg = phm_synth::SynthConfig {
        patients: 50,
        practices: 2,
        seed: 1,
        as_of: phm_synth::date::from_ymd(2025, 4, 1),
        years_before: 3,
        defect_rate: 0.0,
        out: out.clone(),
        force: false,
        missing_files: 0,
        late_files: 0,
        gzip: false,
    };
    let err = phm_synth::generate(cfg.clone(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert!(out.join("keep.txt").exists());
    cfg.force = true;
    phm_synth::generate(cfg, &|_| {}).unwrap();
    assert!(!out.join("keep.txt").exists());
    assert!(out.join("synth.json").exists());
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["set".to_owned()]);
}

#[test]
fn bad_settings_are_refused_with_the_flag_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = phm_synth::SynthConfig {
        patients: 0,
        practices: 2,
        seed: 1,
        as_of: phm_synth::date::from_ymd(2025, 4, 1),
        years_before: 4,
        defect_rate: 0.0,
        out: tmp.path().join("x"),
        force: false,
        missing_files: 0,
        late_files: 0,
        gzip: false,
    };
    let err = phm_synth::generate(cfg.clone(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("--patients"), "{err}");
    let err = phm_synth::generate(
        phm_synth::SynthConfig {
            patients: 10,
            defect_rate: 0.5,
            ..cfg
        },
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--defect-rate"), "{err}");
}
