//! Retention: which runs are past it, and removing them from both zones.
//!
//! A run's age is when it was committed: the modification time of its `manifest.json` (written
//! last) in the pseudonymised zone, or of its folder in the identifiable zone (quarantine,
//! vaults). The run `latest` names is never removed, nor anything outside `runs/` of either
//! root: the audit logs stay. A folder is first renamed to a hidden `.partial` name, so a purge
//! that is killed leaves nothing a reader could take for a run, and the next run clears it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::layout::{IdentifiableRoot, RunsRoot};

/// A run past retention, in one zone or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The run id.
    pub run_id: String,
    /// Its pseudonymised folder, if it has one.
    pub pseudonymised: Option<PathBuf>,
    /// Its identifiable folder (quarantine, vaults), if it has one.
    pub identifiable: Option<PathBuf>,
}

fn modified(path: &Path) -> std::io::Result<SystemTime> {
    std::fs::metadata(path)?.modified()
}

/// Run folders under `dir` (not hidden, not links) with their commit time.
fn runs_in(
    dir: &Path,
    committed: impl Fn(&Path) -> Option<PathBuf>,
) -> std::io::Result<Vec<(String, PathBuf, SystemTime)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(stamp) = committed(&entry.path()) {
            out.push((name, entry.path(), modified(&stamp)?));
        }
    }
    out.sort();
    Ok(out)
}

/// Runs of either zone committed before `cutoff`, except the one `latest` names.
pub fn expired(
    runs: &RunsRoot,
    identifiable: &IdentifiableRoot,
    cutoff: SystemTime,
) -> std::io::Result<Vec<Expired>> {
    let latest = runs.latest().map(|(id, _)| id);
    let keep = |id: &str, at: SystemTime| Some(id) == latest.as_deref() || at >= cutoff;
    let mut out: std::collections::BTreeMap<String, Expired> = std::collections::BTreeMap::new();
    let pseudonymised = runs_in(runs.path(), |p| {
        Some(p.join(crate::manifest::MANIFEST)).filter(|m| m.is_file())
    })?;
    let identifiable = runs_in(&identifiable.runs(), |p| Some(p.to_path_buf()))?;
    for (zone, found) in [(false, pseudonymised), (true, identifiable)] {
        for (id, path, at) in found {
            if keep(&id, at) {
                continue;
            }
            let e = out.entry(id.clone()).or_insert_with(|| Expired {
                run_id: id,
                pseudonymised: None,
                identifiable: None,
            });
            *if zone {
                &mut e.identifiable
            } else {
                &mut e.pseudonymised
            } = Some(path);
        }
    }
    Ok(out.into_values().collect())
}

/// Remove an expired run from both zones (renamed to a hidden `.partial` name first).
pub fn remove(run: &Expired) -> std::io::Result<()> {
    for path in [&run.pseudonymised, &run.identifiable]
        .into_iter()
        .flatten()
    {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hidden = path.with_file_name(format!(".{name}.purge.partial"));
        std::fs::rename(path, &hidden)?;
        std::fs::remove_dir_all(&hidden)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn touch(path: &Path, at: SystemTime) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .or_else(|_| std::fs::File::open(path))
            .unwrap()
            .set_modified(at)
            .unwrap();
    }

    #[test]
    fn only_runs_older_than_the_cutoff_and_never_latest() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = RunsRoot::new(tmp.path().join("runs"));
        let id_root = IdentifiableRoot::new(tmp.path().join("id"));
        let now = SystemTime::now();
        let old = now - Duration::from_hours(400 * 24);
        for (id, at) in [("a-old", old), ("b-new", now), ("c-old-latest", old)] {
            let dir = runs.run(id).path().to_owned();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("manifest.json"), "{}").unwrap();
            touch(&dir.join("manifest.json"), at);
            let idir = id_root.run(id).path().to_owned();
            std::fs::create_dir_all(idir.join("quarantine")).unwrap();
            touch(&idir, at);
        }
        // An old identifiable run whose pseudonymised half is gone; a half-written run.
        let orphan = id_root.run("d-orphan").path().to_owned();
        std::fs::create_dir_all(&orphan).unwrap();
        touch(&orphan, old);
        std::fs::create_dir_all(runs.path().join(".e.partial")).unwrap();
        std::os::unix::fs::symlink("c-old-latest", runs.latest_link()).unwrap();
        std::fs::create_dir_all(id_root.audit()).unwrap();
        std::fs::write(id_root.audit().join("sar.jsonl"), "").unwrap();

        let cutoff = now - Duration::from_hours(365 * 24);
        let found = expired(&runs, &id_root, cutoff).unwrap();
        let ids: Vec<&str> = found.iter().map(|e| e.run_id.as_str()).collect();
        assert_eq!(ids, ["a-old", "d-orphan"]);
        assert!(found[0].pseudonymised.is_some() && found[0].identifiable.is_some());
        assert!(found[1].pseudonymised.is_none() && found[1].identifiable.is_some());
        for e in &found {
            remove(e).unwrap();
        }
        assert!(!runs.run("a-old").path().exists());
        assert!(!id_root.run("a-old").path().exists());
        assert!(!orphan.exists());
        for kept in ["b-new", "c-old-latest"] {
            assert!(runs.run(kept).path().join("manifest.json").exists());
            assert!(id_root.run(kept).path().exists());
        }
        assert!(id_root.audit().join("sar.jsonl").exists());
        assert!(expired(&runs, &id_root, cutoff).unwrap().is_empty());
    }
}
