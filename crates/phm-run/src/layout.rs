//! Where everything of a run lives, in both zones. No other crate formats a run path.
//!
//! ```text
//! <runs root>/                         pseudonymised zone
//!   <run id>/
//!     pseudonymised/<extract>/<ODS>.parquet
//!     ingest-manifest.json
//!     linked/{spine,features}.parquet
//!     scores/scores.parquet
//!     manifest.json                    written last
//!   latest -> <run id>
//!   .lock
//! <identifiable root>/                 identifiable zone (0700 / 0600)
//!   runs/<run id>/quarantine/<extract>/<ODS>.parquet
//!   runs/<run id>/amended/<extract>/<ODS>.parquet   rows written with a code left out, as received
//!   audit/
//!   .lock
//! ```
//!
//! The per-stage commands (`phm ingest --out DIR`, `phm link --run DIR`) work on one run
//! folder given directly: [`RunLayout::at`] and [`IdentifiableRun::at`].

use std::path::{Path, PathBuf};

/// The pseudonymised zone's root: one folder per run, and `latest`.
#[derive(Debug, Clone)]
pub struct RunsRoot {
    root: PathBuf,
}

impl RunsRoot {
    /// The root at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RunsRoot { root: path.into() }
    }

    /// The root folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The folder of a run.
    pub fn run(&self, id: &str) -> RunLayout {
        RunLayout::at(self.root.join(id))
    }

    /// The `latest` link, naming the newest complete run.
    pub fn latest_link(&self) -> PathBuf {
        self.root.join(LATEST)
    }

    /// The run `latest` names, if any.
    pub fn latest(&self) -> Option<(String, RunLayout)> {
        let target = std::fs::read_link(self.latest_link()).ok()?;
        let id = target.file_name()?.to_string_lossy().into_owned();
        Some((id.clone(), self.run(&id)))
    }

    /// The lock file that one run at a time holds.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(LOCK)
    }
}

/// The name of the link to the newest complete run.
pub const LATEST: &str = "latest";
/// The name of a root's lock file.
pub const LOCK: &str = ".lock";

/// An identifiable run's folder of quarantined rows.
const QUARANTINE: &str = "quarantine";
/// An identifiable run's folder of rows kept as received where ingest left a value out.
const AMENDED: &str = "amended";
/// An identifiable run's folder of practice vaults.
const VAULT: &str = "vault";

/// The folder of practice bundles in a run.
pub const OUTBOX: &str = "outbox";

/// The zone folder `path` is in, if any: the nearest of it and its ancestors that is a zone's
/// root (holds a root's [`LOCK`] file), a run folder (holds `manifest.json` or
/// `pseudonymised/`) or an identifiable run folder (holds `quarantine/` or `vault/`).
/// Re-identified output must never be written there. A path that does not
/// exist yet is judged by its nearest existing ancestor.
pub fn zone_containing(path: &Path) -> Option<PathBuf> {
    let mut existing = path;
    while !existing.exists() {
        existing = existing.parent()?;
    }
    let full = existing.canonicalize().ok()?;
    full.ancestors()
        .find(|dir| {
            dir.join(LOCK).is_file()
                || dir.join(crate::manifest::MANIFEST).is_file()
                || dir.join(PSEUDONYMISED).is_dir()
                || dir.join(QUARANTINE).is_dir()
                || dir.join(VAULT).is_dir()
        })
        .map(Path::to_path_buf)
}

/// One run folder of the pseudonymised zone.
#[derive(Debug, Clone)]
pub struct RunLayout {
    root: PathBuf,
}

/// The folders of a run whose Parquet files are published tables (a table per file, named
/// after it).
pub const PUBLISHED_FOLDERS: [&str; 4] = [LINKED, SCORES, RISK, AGGREGATES];

const PSEUDONYMISED: &str = "pseudonymised";
const LINKED: &str = "linked";
const SCORES: &str = "scores";
const RISK: &str = "risk";
const HISTORY: &str = "history";
const PUBLISH: &str = "publish";
const AGGREGATES: &str = "publish/aggregates";

impl RunLayout {
    /// A run folder given directly.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        RunLayout { root: path.into() }
    }

    /// The run folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `pseudonymised/`: ingest's datasets.
    pub fn pseudonymised(&self) -> PathBuf {
        self.root.join(PSEUDONYMISED)
    }

    /// `pseudonymised/<extract>/`: one extract's dataset (a folder of files).
    pub fn extract_dir(&self, extract: &str) -> PathBuf {
        self.pseudonymised().join(extract)
    }

    /// `pseudonymised/<extract>/<submitter>.parquet`.
    pub fn extract_file(&self, extract: &str, submitter: &str) -> PathBuf {
        self.extract_dir(extract)
            .join(format!("{submitter}.parquet"))
    }

    /// `ingest-manifest.json`.
    pub fn ingest_manifest(&self) -> PathBuf {
        self.root.join("ingest-manifest.json")
    }

    /// `linked/`.
    pub fn linked(&self) -> PathBuf {
        self.root.join(LINKED)
    }

    /// `linked/<table>.parquet`.
    pub fn linked_table(&self, table: &str) -> PathBuf {
        self.linked().join(format!("{table}.parquet"))
    }

    /// `scores/`.
    pub fn scores(&self) -> PathBuf {
        self.root.join(SCORES)
    }

    /// `scores/scores.parquet`.
    pub fn scores_file(&self) -> PathBuf {
        self.scores().join("scores.parquet")
    }

    /// `risk/`: the risk model, its card, and each patient's risk, tier, segment and reasons.
    pub fn risk(&self) -> PathBuf {
        self.root.join(RISK)
    }

    /// `risk/<file>`.
    pub fn risk_file(&self, file: &str) -> PathBuf {
        self.risk().join(file)
    }

    /// `outbox/`: one bundle per practice, each readable only by that practice.
    pub fn outbox(&self) -> PathBuf {
        self.root.join(OUTBOX)
    }

    /// `outbox/<practice>/`.
    pub fn bundle(&self, practice: &str) -> PathBuf {
        self.outbox().join(practice)
    }

    /// `history/<as of>/`: the spine, features and scores as of an earlier date (`YYYY-MM-DD`),
    /// which the risk model is fitted and back-tested on. Laid out like a run (`linked/`,
    /// `scores/`) without its own `pseudonymised/`; not published as tables.
    #[must_use]
    pub fn history(&self, as_of: &str) -> RunLayout {
        RunLayout::at(self.root.join(HISTORY).join(as_of))
    }

    /// `publish/`: what analysts take away (aggregates under disclosure control, the
    /// k-anonymity report).
    pub fn publish(&self) -> PathBuf {
        self.root.join(PUBLISH)
    }

    /// `publish/aggregates/`: one table per file, `<table>.csv` and `<table>.parquet`.
    pub fn aggregates(&self) -> PathBuf {
        self.root.join(AGGREGATES)
    }

    /// `publish/k_anonymity.json`.
    pub fn k_anonymity(&self) -> PathBuf {
        self.publish().join("k_anonymity.json")
    }

    /// `report.html`: the run report, one self-contained page.
    pub fn report_html(&self) -> PathBuf {
        self.root.join("report.html")
    }

    /// `report.json`: every number `report.html` shows.
    pub fn report_json(&self) -> PathBuf {
        self.root.join("report.json")
    }

    /// `manifest.json`, written last.
    pub fn manifest(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// The published table files of the run (`linked/*.parquet`, `scores/*.parquet`, `risk/*.parquet`), as
    /// (table name, path), in name order within each folder.
    pub fn published_tables(&self) -> std::io::Result<Vec<(String, PathBuf)>> {
        let mut out = Vec::new();
        for folder in PUBLISHED_FOLDERS {
            let dir = self.root.join(folder);
            if !dir.is_dir() {
                continue;
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            files.sort();
            for f in files {
                let name = f
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                out.push((name, f));
            }
        }
        Ok(out)
    }
}

/// The identifiable zone's root: `runs/<run id>/` and one shared `audit/`.
#[derive(Debug, Clone)]
pub struct IdentifiableRoot {
    root: PathBuf,
}

impl IdentifiableRoot {
    /// The root at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        IdentifiableRoot { root: path.into() }
    }

    /// The root folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `runs/`.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// `runs/<run id>/`.
    pub fn run(&self, id: &str) -> IdentifiableRun {
        IdentifiableRun::at(self.runs().join(id))
    }

    /// `audit/`, shared by every run.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// The lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(LOCK)
    }
}

/// One run's folder of the identifiable zone.
#[derive(Debug, Clone)]
pub struct IdentifiableRun {
    root: PathBuf,
}

impl IdentifiableRun {
    /// A run's identifiable folder given directly (`phm ingest --identifiable DIR`).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        IdentifiableRun { root: path.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `quarantine/`.
    pub fn quarantine(&self) -> PathBuf {
        self.root.join(QUARANTINE)
    }

    /// `quarantine/<extract>/<submitter>.parquet`.
    pub fn quarantine_file(&self, extract: &str, submitter: &str) -> PathBuf {
        self.quarantine()
            .join(extract)
            .join(format!("{submitter}.parquet"))
    }

    /// `amended/<extract>/<submitter>.parquet`: rows written to the pseudonymised zone with
    /// something left out (a secondary diagnosis that cannot be read), kept as received.
    pub fn amended_file(&self, extract: &str, submitter: &str) -> PathBuf {
        self.root
            .join(AMENDED)
            .join(extract)
            .join(format!("{submitter}.parquet"))
    }

    /// `vault/`: one file per practice, encrypted to that practice's recipient.
    pub fn vaults(&self) -> PathBuf {
        self.root.join(VAULT)
    }

    /// `vault/<practice>.age`.
    pub fn vault_file(&self, practice: &str) -> PathBuf {
        self.vaults().join(format!("{practice}.age"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_inside_either_zone_is_found_and_one_outside_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        std::fs::create_dir_all(runs.join("r1/pseudonymised")).unwrap();
        std::fs::write(runs.join(LOCK), "").unwrap();
        let id_run = tmp.path().join("ingest-identifiable");
        std::fs::create_dir_all(id_run.join("vault")).unwrap();
        let home = tmp.path().join("gp");
        std::fs::create_dir_all(&home).unwrap();
        let canon = |p: &Path| p.canonicalize().unwrap();
        assert_eq!(
            zone_containing(&runs.join("r1/lists/new")),
            Some(canon(&runs.join("r1")))
        );
        assert_eq!(zone_containing(&runs.join("x")), Some(canon(&runs)));
        assert_eq!(zone_containing(&id_run.join("out")), Some(canon(&id_run)));
        assert_eq!(zone_containing(&home.join("lists")), None);
    }

    #[test]
    fn both_zones_lay_out_a_run_under_its_id() {
        let runs = RunsRoot::new("/r");
        let run = runs.run("2025-04-01-abcd1234");
        assert_eq!(
            run.extract_file("apc", "RAJ"),
            Path::new("/r/2025-04-01-abcd1234/pseudonymised/apc/RAJ.parquet")
        );
        assert_eq!(
            run.linked_table("spine"),
            Path::new("/r/2025-04-01-abcd1234/linked/spine.parquet")
        );
        let id = IdentifiableRoot::new("/i");
        assert_eq!(
            id.run("x").quarantine_file("apc", "RAJ"),
            Path::new("/i/runs/x/quarantine/apc/RAJ.parquet")
        );
        assert_eq!(id.audit(), Path::new("/i/audit"));
    }
}
