//! Integration tests of `phm-score`: Charlson, Elixhauser and HFRS against comorbidipy on a
//! synthetic set, a hand-made eFI fixture, and outputs that do not depend on the engine's
//! partitions.

mod comorbidipy;
mod determinism;
mod efi;

use std::path::{Path, PathBuf};

use phm_contract::date::from_ymd;
use phm_run::{PartialDir, Privacy, RunLayout};
use phm_sql::SessionSettings;

/// Ingest extracts into `out/run` with the test key; returns the run folder.
pub fn ingested_run(extracts: &Path, lookup: Option<&Path>, out: &Path) -> PathBuf {
    let run = out.join("run");
    let cfg = phm_ingest::IngestConfig {
        extracts: extracts.to_owned(),
        postcode_lookup: lookup.map(Path::to_owned),
        reference_date: from_ymd(2025, 4, 1),
        extract_date: from_ymd(2026, 4, 1),
        out: RunLayout::at(&run),
        identifiable: phm_ingest::IdentifiableRun::at(out.join("identifiable")),
        programme_opt_out_codes: vec![],
        national_opt_out: false,
        on_rejected_file: phm_ingest::OnRejectedFile::Stop,
        vault_recipients: std::collections::BTreeMap::new(),
        earlier: Vec::new(),
    };
    phm_ingest::ingest(&cfg, &key(), &|_| {}).unwrap();
    run
}

/// Link and score a run as of 2025-04-01 with the given engine settings, each stage built in a
/// partial folder and committed, as `phm link` and `phm score` do.
pub fn link_and_score(run: &Path, session: &SessionSettings) {
    let layout = RunLayout::at(run);
    let link = phm_link::LinkConfig {
        run: run.to_owned(),
        sql_dir: None,
        dates: phm_sql::Dates::new(from_ymd(2025, 4, 1), 12, 24, 12),
        session: session.clone(),
    };
    let linked = PartialDir::create(&layout.linked(), Privacy::Shared).unwrap();
    phm_link::link(&link, linked.path()).unwrap();
    linked.commit().unwrap();
    let mut cfg = phm_score::ScoreConfig::new(run.to_owned(), from_ymd(2025, 4, 1));
    cfg.session = session.clone();
    let scores = PartialDir::create(&layout.scores(), Privacy::Shared).unwrap();
    phm_score::score(&cfg, scores.path()).unwrap();
    scores.commit().unwrap();
}

/// Ingest extracts, link and score them as of 2025-04-01; returns the run folder.
pub fn scored_run(extracts: &Path, lookup: Option<&Path>, out: &Path) -> PathBuf {
    let run = ingested_run(extracts, lookup, out);
    link_and_score(&run, &SessionSettings::with_memory_limit(512 << 20));
    run
}

/// The test key.
pub fn key() -> phm_ingest::PseudonymKey {
    phm_ingest::PseudonymKey::from_hex(&"5a".repeat(32)).unwrap()
}
