//! Integration tests of `phm-ingest` on synthetic sets, checked against the truth files and
//! independent implementations (Python `blake3`).

mod bad_files;
mod keys;
mod sample;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use phm_contract::date::from_ymd;
use phm_ingest::{IngestConfig, Manifest, PseudonymKey};
use polars::prelude::*;

/// A fixed test key (never used outside tests).
pub fn key(byte: u8) -> PseudonymKey {
    PseudonymKey::from_hex(&format!("{byte:02x}").repeat(32)).unwrap()
}

/// A config for a synthetic set made by `phm_testkit::synth` (reference 2025-04-01).
pub fn config(set: &Path, out: &Path) -> IngestConfig {
    IngestConfig {
        extracts: set.join("extracts"),
        postcode_lookup: Some(set.join("lookups/postcode_lsoa.csv")),
        reference_date: from_ymd(2025, 4, 1),
        extract_date: from_ymd(2026, 4, 1),
        out: out.join("pseudonymised-run"),
        identifiable: out.join("identifiable"),
        programme_opt_out_codes: vec![phm_synth::params::PROGRAMME_OPT_OUT_CODE.to_owned()],
        national_opt_out: false,
        force: false,
    }
}

/// The shared synthetic set (2,000 patients, seed 7, default defects) and its ingest with
/// key 0x11.
pub struct Sample {
    _tmp: tempfile::TempDir,
    /// The synthetic set.
    pub set: PathBuf,
    /// The ingest settings used.
    pub cfg: IngestConfig,
    /// The manifest it wrote.
    pub manifest: Manifest,
}

/// The shared sample, ingested once per test run.
pub fn sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let set = tmp.path().join("synth");
        phm_testkit::synth(&set, 2000, 10, 7, phm_synth::params::DEFAULT_DEFECT_RATE);
        let cfg = config(&set, tmp.path());
        let manifest = phm_ingest::ingest(&cfg, &key(0x11), &|_| {}).unwrap();
        Sample {
            _tmp: tmp,
            set,
            cfg,
            manifest,
        }
    })
}

/// Read a Parquet file.
pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

/// Every Parquet file under a folder.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    phm_testkit::files_under(dir, Some("parquet"))
}

/// The string values of a column (nulls skipped).
pub fn strings(df: &DataFrame, column: &str) -> Vec<String> {
    let c = df.column(column).unwrap().cast(&DataType::String).unwrap();
    c.str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect()
}
