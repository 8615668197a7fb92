//! The Ballista engine (`--features ballista`): a whole run on an in-process Ballista cluster
//! (`engine = "ballista-standalone"`) gives the tables a run on DataFusion gives, and a
//! scheduler nobody answers at is an error naming it, before anything is ingested.

use std::path::Path;

use crate::common::{SET_PIPELINE, assert_same, files, ok, phm, private_dir, run_pipeline, text};

#[test]
fn a_run_on_standalone_ballista_gives_the_tables_of_a_run_on_datafusion() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    phm_testkit::synth(&set, 300, 3, 11, phm_synth::params::DEFAULT_DEFECT_RATE);
    let key = dir.path().join("k.key");
    ok(phm().args(["key", "new", "--out"]).arg(&key));
    let mut runs = Vec::new();
    for engine in ["datafusion", "ballista-standalone"] {
        let pipeline = dir.path().join(format!("{engine}.toml"));
        std::fs::write(&pipeline, format!("{SET_PIPELINE}engine = \"{engine}\"\n")).unwrap();
        let root = dir.path().join(engine);
        std::fs::create_dir(&root).unwrap();
        let identifiable = private_dir(&root.join("identifiable"));
        runs.push(run_pipeline(
            &pipeline,
            &root.join("runs"),
            &identifiable,
            &key,
        ));
    }
    // Linked and scored tables, and the risk stage's predictions, model and calibration (its
    // history years were linked and scored on the same engine).
    for folder in ["linked", "scores"] {
        let a = files(&runs[0].join(folder));
        assert!(!a.is_empty(), "{folder} has tables");
        assert_same(
            &a,
            &files(&runs[1].join(folder)),
            &format!("{folder} on the two engines"),
        );
    }
    for (run, engine) in runs.iter().zip(["datafusion", "ballista-standalone"]) {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["engine"], engine, "the manifest names the engine");
    }
    for file in ["risk.parquet", "calibration.parquet", "model.json"] {
        let read = |run: &Path| std::fs::read(run.join("risk").join(file)).unwrap();
        assert!(
            read(&runs[0]) == read(&runs[1]),
            "risk/{file} differs between the engines"
        );
    }
}

#[test]
fn a_scheduler_that_does_not_answer_is_named_before_anything_is_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    phm_testkit::synth(&set, 50, 1, 3, 0.0);
    let key = dir.path().join("k.key");
    ok(phm().args(["key", "new", "--out"]).arg(&key));
    let pipeline = dir.path().join("icb.toml");
    // Port 9 (discard) on loopback: nothing listens there.
    std::fs::write(
        &pipeline,
        format!("{SET_PIPELINE}engine = \"ballista\"\nscheduler = \"df://127.0.0.1:9\"\n"),
    )
    .unwrap();
    let identifiable = private_dir(&dir.path().join("identifiable"));
    let out = phm()
        .arg("run")
        .arg(&pipeline)
        .arg("--runs")
        .arg(dir.path().join("runs"))
        .arg("--identifiable")
        .arg(&identifiable)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("df://127.0.0.1:9")
            && stderr.contains("hint: check that `phm cluster scheduler` runs there"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("runs").exists()
            && std::fs::read_dir(&identifiable).unwrap().next().is_none(),
        "nothing was ingested or committed"
    );
}
