//! `phm run` as a scheduler meets it: one command, committed whole, one run at a time, the
//! same bytes for the same inputs, and nothing half-written after a crash.

use crate::common::{SET_PIPELINE, assert_same, files, phm, text};
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A small synthetic ICB, a key and a pipeline definition, made once and shared (read only).
struct Fixture {
    _dir: tempfile::TempDir,
    pipeline: PathBuf,
    key: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = phm_testkit::fixture_dir();
        let set = dir.path().join("set");
        phm_testkit::synth(&set, 300, 3, 11, phm_synth::params::DEFAULT_DEFECT_RATE);
        let key = dir.path().join("k.key");
        let out = phm()
            .args(["key", "new", "--out"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let pipeline = dir.path().join("icb.toml");
        std::fs::write(&pipeline, SET_PIPELINE).unwrap();
        Fixture {
            _dir: dir,
            pipeline,
            key,
        }
    })
}

/// Roots of one test: `runs/` and a private `identifiable/`.
struct Roots {
    dir: tempfile::TempDir,
}

impl Roots {
    fn new() -> Self {
        let r = Roots {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(r.identifiable()).unwrap();
        std::fs::set_permissions(r.identifiable(), std::fs::Permissions::from_mode(0o700)).unwrap();
        r
    }
    fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }
    fn identifiable(&self) -> PathBuf {
        self.dir.path().join("identifiable")
    }
    fn command(&self, extra: &[&str]) -> Command {
        let f = fixture();
        let mut c = phm();
        c.arg("run")
            .arg(&f.pipeline)
            .arg("--runs")
            .arg(self.runs())
            .arg("--identifiable")
            .arg(self.identifiable())
            .arg("--key")
            .arg(&f.key)
            .args(extra);
        c
    }
    fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }
    fn latest(&self) -> PathBuf {
        self.runs().join("latest")
    }
}

/// A manifest without its timings block and without which inputs were reused from an
/// earlier run (provenance, not output).
fn without_timings(manifest: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let timings = v.as_object_mut().unwrap().remove("timings");
    assert!(timings.is_some(), "a manifest has a timings block");
    for input in v["inputs"].as_array_mut().unwrap() {
        input.as_object_mut().unwrap().remove("reused_from");
    }
    v
}

/// Which earlier run each input of a run's manifest was reused from.
fn reused_from(run: &Path) -> Vec<Option<String>> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reused_from"].as_str().map(str::to_owned))
        .collect()
}

/// The run's files with the manifest's timings and reuse taken out.
fn comparable(run: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut f = files(run);
    let m = f.remove("manifest.json").expect("a run has its manifest");
    f.insert(
        "manifest.json (without timings)".into(),
        without_timings(&m).to_string().into_bytes(),
    );
    f
}

#[test]
fn run_commits_a_verified_run_and_says_nothing_to_do_the_second_time() {
    let roots = Roots::new();
    let out = roots.run(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("rows in =") && stdout.contains("scored"),
        "{stdout}"
    );
    let latest = roots.latest();
    let id = std::fs::read_link(&latest).unwrap();
    assert!(id.to_string_lossy().starts_with("2025-04-01-"), "{id:?}");
    for f in [
        "manifest.json",
        "ingest-manifest.json",
        "linked/spine.parquet",
        "linked/features.parquet",
        "scores/scores.parquet",
    ] {
        assert!(latest.join(f).is_file(), "{f} missing");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(latest.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["conservation"]["holds_for_every_file"], true);
    assert!(m["inputs"].as_array().unwrap().len() > 10);
    for o in m["outputs"].as_array().unwrap() {
        if o["path"].as_str().unwrap().ends_with(".parquet") {
            assert!(o["rows"].as_u64().is_some(), "{o}");
        }
    }
    let used: Vec<&str> = m["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["used"].as_array().unwrap())
        .map(|u| u["path"].as_str().unwrap())
        .collect();
    for u in [
        "schemas/apc.toml",
        "sql/01_spine.sql",
        "codelists/efi/falls.csv",
        "codelists/charlson/weights.csv",
        "codelists/opt-out-codes.csv",
    ] {
        assert!(used.contains(&u), "{u} not recorded as used: {used:?}");
    }
    let key = std::fs::read_to_string(&fixture().key).unwrap();
    let manifest_text = std::fs::read_to_string(latest.join("manifest.json")).unwrap();
    assert!(
        !manifest_text.contains(key.trim()),
        "the key is never recorded"
    );

    // The identifiable half is private.
    let id_run = roots.identifiable().join("runs").join(&id);
    assert!(id_run.is_dir());
    for p in phm_testkit::files_under(&id_run, None) {
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{p:?}"
        );
        let mut d = p.parent().unwrap();
        while d.starts_with(&id_run) {
            assert_eq!(
                std::fs::metadata(d).unwrap().permissions().mode() & 0o777,
                0o700,
                "{d:?}"
            );
            d = d.parent().unwrap();
        }
    }

    let verify = phm().arg("verify").arg(&latest).output().unwrap();
    assert!(verify.status.success(), "{}", text(&verify.stderr));

    let again = roots.run(&[]);
    assert_eq!(again.status.code(), Some(7), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("Nothing to do"),
        "{}",
        text(&again.stdout)
    );
}

#[test]
fn verify_names_a_file_with_one_byte_flipped() {
    let roots = Roots::new();
    assert!(roots.run(&[]).status.success());
    let target = roots.latest().join("linked/features.parquet");
    let mut bytes = std::fs::read(&target).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&target, bytes).unwrap();
    let out = phm().arg("verify").arg(roots.latest()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("changed") && err.contains("linked/features.parquet"),
        "{err}"
    );
    assert!(!err.contains("linked/spine.parquet"), "{err}");
}

#[test]
fn forced_runs_and_any_partition_count_give_the_same_bytes_but_timings() {
    let roots = Roots::new();
    assert!(roots.run(&[]).status.success());
    let first_run = roots.latest().canonicalize().unwrap();
    let first = comparable(&first_run);
    assert!(reused_from(&first_run).iter().all(Option::is_none));
    // Forced with nothing changed: every file's outputs are reused from the first run, and
    // the run is what the first was; forced without reuse, everything is ingested again.
    let again = roots.run(&["--force"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let first_id = first_run
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let reused = reused_from(&roots.latest());
    assert!(
        !reused.is_empty()
            && reused
                .iter()
                .all(|r| r.as_deref() == Some(first_id.as_str())),
        "{reused:?}"
    );
    assert!(
        text(&again.stdout).contains("reused: "),
        "{}",
        text(&again.stdout)
    );
    assert_same(&first, &comparable(&roots.latest()), "a forced second run");
    let full = roots.run(&["--force", "--no-reuse"]);
    assert!(full.status.success(), "{}", text(&full.stderr));
    assert!(reused_from(&roots.latest()).iter().all(Option::is_none));
    assert_same(
        &first,
        &comparable(&roots.latest()),
        "a forced run without reuse",
    );
    for partitions in ["1", "8"] {
        let other = Roots::new();
        let out = other
            .command(&[])
            .env("DATAFUSION_EXECUTION_TARGET_PARTITIONS", partitions)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_same(
            &first,
            &comparable(&other.latest()),
            &format!("{partitions} target partitions"),
        );
    }
}

#[test]
fn run_gives_the_same_tables_as_the_separate_commands() {
    let roots = Roots::new();
    assert!(roots.run(&[]).status.success());
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let ingest = phm()
        .args(["ingest", "--pipeline"])
        .arg(&f.pipeline)
        .arg("--key")
        .arg(&f.key)
        .arg("--out")
        .arg(&run)
        .arg("--identifiable")
        .arg(tmp.path().join("id"))
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{}", text(&ingest.stderr));
    for stage in ["link", "score"] {
        let out = phm()
            .arg(stage)
            .arg("--pipeline")
            .arg(&f.pipeline)
            .arg("--run")
            .arg(&run)
            .output()
            .unwrap();
        assert!(out.status.success(), "{stage}: {}", text(&out.stderr));
    }
    let whole = files(&roots.latest());
    let separate = files(&run);
    for table in [
        "linked/spine.parquet",
        "linked/features.parquet",
        "scores/scores.parquet",
        "ingest-manifest.json",
    ] {
        assert!(whole[table] == separate[table], "{table} differs");
    }
    let datasets: Vec<&String> = separate
        .keys()
        .filter(|k| k.starts_with("pseudonymised/"))
        .collect();
    assert!(datasets.len() > 10);
    for k in datasets {
        assert!(whole[k] == separate[k], "{k} differs");
    }
}

/// Wait for a child's stderr to say it paused; returns what it said.
fn wait_paused(child: &mut Child) -> String {
    let stderr = child.stderr.take().unwrap();
    let mut said = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("paused at") {
            return said;
        }
    }
    panic!("the run ended without pausing: {said}");
}

/// What must hold whenever a run is killed: every run folder has its manifest and matches
/// it, `latest` names a complete run, and no partial folder passes for a run.
fn assert_consistent(roots: &Roots, when: &str) {
    let Ok(entries) = std::fs::read_dir(roots.runs()) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "latest" {
            continue;
        }
        let run = e.path();
        assert!(
            run.join("manifest.json").is_file(),
            "{when}: `{name}` has no manifest"
        );
        let v = phm().arg("verify").arg(&run).output().unwrap();
        assert!(
            v.status.success(),
            "{when}: `{name}` fails verify: {}",
            text(&v.stderr)
        );
    }
    if std::fs::symlink_metadata(roots.latest()).is_ok() {
        assert!(
            roots.latest().join("manifest.json").is_file(),
            "{when}: `latest` names an incomplete run"
        );
    }
}

#[test]
fn a_run_killed_anywhere_leaves_no_half_written_run_and_the_next_one_completes() {
    let reference = Roots::new();
    let started = Instant::now();
    assert!(reference.run(&[]).status.success());
    let duration = started.elapsed();
    let expected = comparable(&reference.latest());

    let roots = Roots::new();
    let mut kills = 0;
    // At every stage boundary and commit step...
    for checkpoint in [
        "locked",
        "fingerprinted",
        "ingested",
        "linked",
        "scored",
        "risked",
        "published",
        "manifest-written",
        "identifiable-committed",
        "run-committed",
        "latest-updated",
    ] {
        for force in [false, true] {
            let mut child = roots
                .command(if force { &["--force"] } else { &[] })
                .env("PHM_TEST_PAUSE_AT", checkpoint)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            if force || std::fs::symlink_metadata(roots.latest()).is_err() {
                wait_paused(&mut child);
            }
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
            assert_consistent(&roots, &format!("killed at {checkpoint}"));
        }
    }
    // ...and at moments spread over a whole run (a fixed sequence, so failures repeat).
    let steps = 14u32;
    for k in 0..steps {
        let at = duration.mul_f64(f64::from(k * 7 % steps) / f64::from(steps) + 0.02);
        let mut child = roots
            .command(&["--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        assert_consistent(&roots, &format!("killed after {at:?}"));
    }
    assert!(kills >= 20);
    let out = roots.run(&["--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_consistent(&roots, "after the last run");
    assert_same(
        &expected,
        &comparable(&roots.latest()),
        "the run after the crashes",
    );
    let leftovers: Vec<String> = std::fs::read_dir(roots.runs())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "partial" || x == "tmp"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_second_run_refuses_naming_the_holder_or_waits_its_turn() {
    let roots = Roots::new();
    let mut first = roots
        .command(&[])
        .env("PHM_TEST_PAUSE_AT", "ingested")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_paused(&mut first);
    let second = roots.run(&[]);
    assert_eq!(second.status.code(), Some(6), "locked");
    let err = text(&second.stderr);
    assert!(
        err.contains(&format!("process {}", first.id())) && err.contains("--wait"),
        "{err}"
    );
    let waiting = roots
        .command(&["--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        std::fs::symlink_metadata(roots.latest()).is_err(),
        "the waiting run did not write while the first held the lock"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_consistent(&roots, "after the waiting run");
}

#[test]
fn a_readable_identifiable_root_is_refused() {
    let roots = Roots::new();
    std::fs::set_permissions(roots.identifiable(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = roots.run(&[]);
    assert_eq!(out.status.code(), Some(5), "refused");
    let err = text(&out.stderr);
    assert!(err.contains("chmod 700"), "{err}");
    assert!(!roots.runs().join("latest").exists());
}

/// Pipeline definition errors as the user sees them (paths replaced by `[TMP]`).
#[test]
fn pipeline_errors_name_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown_key",
            "[dates]\nreference_date = \"2025-04-01\"\n\n[link]\nlookback_months = 12\n",
        ),
        (
            "wrong_type",
            "[dates]\nreference_date = \"2025-04-01\"\n\n[link]\nmemory_limit_mb = \"1.5 GB\"\n",
        ),
        (
            "missing_input_folder",
            "[dates]\nreference_date = \"2025-04-01\"\n\n[inputs]\nextracts = \"no/such/folder\"\n",
        ),
    ];
    for (name, body) in cases {
        let path = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&path, body).unwrap();
        let out = phm().arg("run").arg(&path).output().unwrap();
        let root = tmp.path().to_string_lossy().into_owned();
        let shown = format!(
            "exit code: {:?}\n--- stdout\n{}--- stderr\n{}",
            out.status.code(),
            text(&out.stdout).replace(&root, "[TMP]"),
            text(&out.stderr).replace(&root, "[TMP]")
        );
        insta::assert_snapshot!(name, shown);
    }
}
