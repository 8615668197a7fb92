//! Integration tests of `phm-ingest` on synthetic sets, checked against the truth files and
//! independent implementations (Python `blake3`).

mod bad_files;
mod codes;
mod gzip;
mod keys;
mod quoting;
mod rejected;
mod reuse;
mod sample;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use phm_contract::date::from_ymd;
use phm_ingest::{
    IdentifiableRun, IngestConfig, IngestError, Manifest, OnRejectedFile, PseudonymKey, RunLayout,
};
use phm_run::{PartialDir, Privacy};
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
        out: RunLayout::at(out.join("pseudonymised-run")),
        identifiable: IdentifiableRun::at(out.join("identifiable")),
        programme_opt_out_codes: vec![phm_synth::params::PROGRAMME_OPT_OUT_CODE.to_owned()],
        national_opt_out: false,
        on_rejected_file: OnRejectedFile::Stop,
        vault_recipients: std::collections::BTreeMap::new(),
        earlier: Vec::new(),
    }
}

/// A set under `dir` with extract files (`<extract>/<ODS>.csv`, bytes) and an empty postcode
/// lookup; returns the set's folder.
pub fn set_of(dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    let set = dir.join("set");
    for (file, body) in files {
        let path = set.join("extracts").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    std::fs::create_dir_all(set.join("lookups")).unwrap();
    std::fs::write(
        set.join("lookups/postcode_lsoa.csv"),
        "postcode,lsoa_code,imd_decile\n",
    )
    .unwrap();
    set
}

/// Ingest as `phm ingest` does: both run folders built as partial folders, committed
/// (identifiable first) only when ingest succeeds, so an error leaves nothing.
pub fn ingest_committed(cfg: &IngestConfig, key: &PseudonymKey) -> Result<Manifest, IngestError> {
    let id_dir = PartialDir::create(cfg.identifiable.path(), Privacy::Private).unwrap();
    let out_dir = PartialDir::create(cfg.out.path(), Privacy::Shared).unwrap();
    let mut partial = cfg.clone();
    partial.out = RunLayout::at(out_dir.path());
    partial.identifiable = IdentifiableRun::at(id_dir.path());
    let manifest = phm_ingest::ingest(&partial, key, &|_| {})?;
    id_dir.commit().unwrap();
    out_dir.commit().unwrap();
    Ok(manifest)
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
        let tmp = phm_testkit::fixture_dir();
        let set = tmp.path().join("synth");
        phm_testkit::synth(&set, 2000, 10, 7, phm_synth::params::DEFAULT_DEFECT_RATE);
        let cfg = config(&set, tmp.path());
        let manifest = ingest_committed(&cfg, &key(0x11)).unwrap();
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
