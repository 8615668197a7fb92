//! Integration tests of `phm-score`: Charlson, Elixhauser and HFRS against comorbidipy on a
//! synthetic set, and a hand-made eFI fixture.

mod comorbidipy;
mod efi;

use std::path::{Path, PathBuf};

use phm_contract::date::from_ymd;

/// Ingest extracts, link and score them as of 2025-04-01; returns the run folder.
pub fn scored_run(extracts: &Path, lookup: Option<&Path>, out: &Path) -> PathBuf {
    let run = out.join("run");
    let cfg = phm_ingest::IngestConfig {
        extracts: extracts.to_owned(),
        postcode_lookup: lookup.map(Path::to_owned),
        reference_date: from_ymd(2025, 4, 1),
        extract_date: from_ymd(2026, 4, 1),
        out: run.clone(),
        identifiable: out.join("identifiable"),
        programme_opt_out_codes: vec![],
        national_opt_out: false,
        force: false,
    };
    phm_ingest::ingest(&cfg, &key(), &|_| {}).unwrap();
    let link = phm_link::LinkConfig {
        run: run.clone(),
        sql_dir: None,
        dates: phm_link::Dates::new(from_ymd(2025, 4, 1), 12, 24, 12),
        memory_limit: 512 << 20,
        spill_dir: None,
    };
    phm_link::link(&link, &run.join("linked")).unwrap();
    phm_score::score(&phm_score::ScoreConfig::new(
        run.clone(),
        from_ymd(2025, 4, 1),
    ))
    .unwrap();
    run
}

/// The test key.
pub fn key() -> phm_ingest::PseudonymKey {
    phm_ingest::PseudonymKey::from_hex(&"5a".repeat(32)).unwrap()
}
