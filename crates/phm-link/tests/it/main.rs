//! Integration tests of `phm-link`: a hand-built fixture with its feature table written out
//! by hand, DuckDB running the same SQL, and `phm query`'s outputs read by other tools.

mod duckdb;
mod fixture;
mod query;

use std::path::Path;

use phm_contract::date::from_ymd;

/// Ingest a folder of extracts into `out` with a fixed key; returns the run folder.
pub fn ingest(extracts: &Path, lookup: Option<&Path>, out: &Path) -> std::path::PathBuf {
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
    run
}

/// The test key.
pub fn key() -> phm_ingest::PseudonymKey {
    phm_ingest::PseudonymKey::from_hex(&"5a".repeat(32)).unwrap()
}

/// Link a run as of 2025-04-01 with the repository's `sql/`.
pub fn link(run: &Path) -> usize {
    let cfg = phm_link::LinkConfig {
        run: run.to_owned(),
        sql_dir: Some(phm_testkit::repo_root().join("sql")),
        dates: phm_link::Dates::new(from_ymd(2025, 4, 1), 12, 24, 12),
        memory_limit: 512 << 20,
        spill_dir: None,
    };
    phm_link::link(&cfg, &run.join("linked")).unwrap()
}
