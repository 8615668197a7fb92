//! What both test binaries of `phm-link` do: ingest extracts with a fixed key and link them
//! as of 2025-04-01 as `phm link` does.
// Each binary uses its part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use phm_contract::date::from_ymd;

/// Ingest a folder of extracts into `out` with a fixed key; returns the run folder.
pub fn ingest(extracts: &Path, lookup: Option<&Path>, out: &Path) -> PathBuf {
    let run = out.join("run");
    let cfg = phm_ingest::IngestConfig {
        extracts: extracts.to_owned(),
        postcode_lookup: lookup.map(Path::to_owned),
        reference_date: from_ymd(2025, 4, 1),
        extract_date: from_ymd(2026, 4, 1),
        out: phm_ingest::RunLayout::at(&run),
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

/// The test key.
pub fn key() -> phm_ingest::PseudonymKey {
    phm_ingest::PseudonymKey::from_hex(&"5a".repeat(32)).unwrap()
}

/// Linkage of a run as of 2025-04-01 with `sql/` (`None`: the built-in copy).
pub fn config(run: &Path, sql_dir: Option<PathBuf>) -> phm_link::LinkConfig {
    phm_link::LinkConfig {
        run: run.to_owned(),
        sql_dir,
        dates: phm_sql::Dates::new(from_ymd(2025, 4, 1), 12, 24, 12),
        session: session(),
    }
}

/// The tests' engine settings.
pub fn session() -> phm_sql::SessionSettings {
    phm_sql::SessionSettings::with_memory_limit(512 << 20)
}

/// `phm link`'s commit: link into a partial folder, rename it to `linked/` when whole.
pub fn link_committed(cfg: &phm_link::LinkConfig) -> Result<usize, phm_link::LinkError> {
    let layout = phm_run::RunLayout::at(&cfg.run);
    let partial = phm_run::PartialDir::create(&layout.linked(), phm_run::Privacy::Shared).unwrap();
    let n = phm_link::link(cfg, partial.path())?;
    partial.commit().unwrap();
    Ok(n)
}
