//! Integration tests of `phm-synth`: they read the files a run writes, as the pipeline
//! would, and check them against the truth files with code independent of the generator.

mod check;
mod consistency;
mod defects;
mod output;
mod realism;
mod submissions;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The sample every test reads: 2,000 patients, 10 practices, seed 7, default defect rate.
pub fn sample() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = phm_testkit::fixture_dir();
        let out = tmp.path().join("synth");
        phm_testkit::synth(&out, 2000, 10, 7, phm_synth::params::DEFAULT_DEFECT_RATE);
        (tmp, out)
    })
    .1
}
