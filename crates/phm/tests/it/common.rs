//! What every module starts from: the `phm` binary under test, with the environment that
//! would change its behaviour removed.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `phm` with no log filter, pause point or partition count inherited from the caller.
pub fn phm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phm"));
    c.env_remove("PHM_LOG")
        .env_remove("PHM_TEST_PAUSE_AT")
        .env_remove("DATAFUSION_EXECUTION_TARGET_PARTITIONS");
    c
}

/// Runs `c`, asserts it succeeded (showing both streams when not) and returns its stdout.
pub fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Bytes a command printed, as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A new folder private to its owner (0700), as the identifiable zone must be.
pub fn private_dir(path: &Path) -> PathBuf {
    std::fs::create_dir(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path.to_owned()
}

/// `phm run PIPELINE` into `runs` and a private `identifiable` root, which must succeed;
/// returns the run folder `latest` names.
pub fn run_pipeline(pipeline: &Path, runs: &Path, identifiable: &Path, key: &Path) -> PathBuf {
    ok(phm()
        .arg("run")
        .arg(pipeline)
        .arg("--runs")
        .arg(runs)
        .arg("--identifiable")
        .arg(identifiable)
        .arg("--key")
        .arg(key));
    runs.join("latest").canonicalize().unwrap()
}

/// The extracts that carry patients' rows (every contract but the national opt-out list).
pub const PATIENT_EXTRACTS: [&str; 9] = [
    "gp_registrations",
    "gp_events",
    "gp_medications",
    "apc",
    "op",
    "ecds",
    "ambulance",
    "community",
    "mental_health",
];

/// The start of a pipeline definition for a synthetic set in `set/` beside it: the
/// generator's dates, the programme opt-out code, a small memory limit.
pub const SET_PIPELINE: &str = "[dates]\nreference_date = \"2025-04-01\"\nextract_date = \"2026-04-01\"\n\n\
    [inputs]\nextracts = \"set/extracts\"\npostcode_lookup = \"set/lookups/postcode_lsoa.csv\"\n\n\
    [opt_out]\nprogramme_codes = [\"999001000000101\"]\n\n[link]\nmemory_limit_mb = 512\n\n";

/// The practices of a synthetic set (its registration files), sorted.
pub fn practices(set: &Path) -> Vec<String> {
    let mut practices: Vec<String> = std::fs::read_dir(set.join("extracts/gp_registrations"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            path.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    practices.sort();
    practices
}

/// Every file under a folder as relative path -> bytes.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    phm_testkit::files_under(dir, None)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// Two folders' [`files`] hold the same paths with the same bytes.
pub fn assert_same(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: the same files"
    );
    for (k, v) in a {
        assert!(v == &b[k], "{what}: `{k}` differs");
    }
}
