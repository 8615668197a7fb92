//! The same run linked and scored with 1, 2 and 8 partitions gives the same bytes.

use phm_run::RunLayout;
use phm_sql::SessionSettings;

#[test]
fn spine_features_and_scores_are_byte_identical_with_1_2_and_8_partitions() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("synth");
    phm_testkit::synth(&set, 3_000, 4, 11, phm_synth::params::DEFAULT_DEFECT_RATE);
    let run = crate::ingested_run(
        &set.join("extracts"),
        Some(&set.join("lookups/postcode_lsoa.csv")),
        tmp.path(),
    );
    let layout = RunLayout::at(&run);
    let outputs = [
        layout.linked_table("spine"),
        layout.linked_table("features"),
        layout.scores_file(),
    ];
    let mut first: Option<Vec<Vec<u8>>> = None;
    for partitions in [1, 2, 8] {
        let mut session = SessionSettings::with_memory_limit(512 << 20);
        session.target_partitions = Some(partitions);
        crate::link_and_score(&run, &session);
        let bytes: Vec<Vec<u8>> = outputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        match &first {
            None => first = Some(bytes),
            Some(one) => {
                for ((path, a), b) in outputs.iter().zip(one).zip(&bytes) {
                    assert!(
                        a == b,
                        "{} differs between 1 and {partitions} partitions",
                        path.display()
                    );
                }
            }
        }
    }
}
