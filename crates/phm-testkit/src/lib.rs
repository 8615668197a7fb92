//! Shared test support for phm's crates (a dev-dependency only, never shipped).
//!
//! It owns four things tests need again and again: where the repository is, the Python
//! oracle environment (built by `scripts/oracle-venv.sh`, the same script CI runs), small
//! synthetic sets made by `phm-synth`, and folders for fixtures a test binary shares.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root exists")
}

/// The oracle environment's Python, built on first use. Panics with the script's output if
/// it cannot be built: a test that needs the oracle must not pass without it.
pub fn oracle_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let script = repo_root().join("scripts/oracle-venv.sh");
            let out = Command::new("bash")
                .arg(&script)
                .output()
                .expect("bash runs scripts/oracle-venv.sh");
            assert!(
                out.status.success(),
                "scripts/oracle-venv.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).expect("UTF-8 path");
            PathBuf::from(
                stdout
                    .lines()
                    .last()
                    .expect("script prints the python path")
                    .trim(),
            )
        })
        .clone()
}

/// Run a Python script in the oracle environment with arguments; returns stdout, panics
/// with stderr on failure.
pub fn run_oracle(script: &str, args: &[&Path]) -> String {
    let out = Command::new(oracle_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("oracle python runs");
    assert!(
        out.status.success(),
        "oracle script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Generate a synthetic set into `dir` (which must not exist).
pub fn synth(
    dir: &Path,
    patients: usize,
    practices: usize,
    seed: u64,
    defect_rate: f64,
) -> phm_synth::summary::Summary {
    let cfg = phm_synth::SynthConfig {
        patients,
        practices,
        seed,
        as_of: phm_synth::date::from_ymd(2025, 4, 1),
        years_before: 4,
        defect_rate,
        out: dir.to_owned(),
        force: false,
        missing_files: 0,
        late_files: 0,
        gzip: false,
    };
    phm_synth::generate(cfg, &|_| {}).expect("synthetic set generated")
}

/// Every file under a folder (recursively), sorted; only those ending `.ext` when given.
pub fn files_under(dir: &Path, ext: Option<&str>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("folder is readable") {
            let p = entry.expect("folder entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A folder for a fixture a test binary's tests share. Such a fixture lives in a `static`,
/// which is never dropped, so its folder would outlive the run (every run of the suite left
/// hundreds of MB in the temporary folder). These folders are made under
/// `<temp>/phm-test-fixtures/`, named after the process, and those whose process has ended
/// are removed when the next one is made (on Linux, where `/proc` says which have ended).
pub fn fixture_dir() -> tempfile::TempDir {
    let root = std::env::temp_dir().join("phm-test-fixtures");
    std::fs::create_dir_all(&root).expect("the temporary folder is writable");
    let me = std::process::id();
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != me
                && !proc.join(pid.to_string()).exists()
            {
                // Another binary may be removing it too; whatever is left goes next time.
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix(&format!("{me}-"))
        .tempdir_in(&root)
        .expect("a fixture folder")
}
