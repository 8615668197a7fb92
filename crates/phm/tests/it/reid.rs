//! Re-identification from outside: three practices with their own keys, bundles from a
//! `phm run`, `phm reid` with the right, another practice's and a random identity, the audit
//! log under tampering, vaults read by an independent age implementation (pyrage), a `phm reid`
//! killed at random moments, and `phm sar` against the generator's truth.

// Test code: short names for the three practices, strings built the plain way, one note on
// stderr.
#![allow(
    clippy::many_single_char_names,
    clippy::format_push_string,
    clippy::format_collect,
    clippy::print_stderr,
    clippy::case_sensitive_file_extension_comparisons
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use crate::common::{
    PATIENT_EXTRACTS, SET_PIPELINE, files, ok, phm, practices, private_dir, run_pipeline,
};
use phm_contract::NhsNumber;

struct Fixture {
    dir: tempfile::TempDir,
    key: PathBuf,
    /// The practices, sorted; each has `keys/<ODS>.identity.txt`.
    practices: Vec<String>,
    run: PathBuf,
    identifiable: PathBuf,
}

impl Fixture {
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn identity(&self, practice: &str) -> PathBuf {
        self.path()
            .join("keys")
            .join(format!("{practice}.identity.txt"))
    }
    fn bundle(&self, practice: &str) -> PathBuf {
        self.run.join("outbox").join(practice)
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = phm_testkit::fixture_dir();
        let set = dir.path().join("set");
        let cfg = phm_synth::SynthConfig {
            patients: 3000,
            practices: 3,
            seed: 41,
            as_of: phm_synth::date::from_ymd(2025, 4, 1),
            years_before: 3,
            defect_rate: phm_synth::params::DEFAULT_DEFECT_RATE,
            missing_files: 0,
        late_files: 0,
        gzip: false,
        out: set.clone(),
            force: false,
        };
        phm_synth::generate(cfg, &|_| {}).unwrap();
        let key = dir.path().join("k.key");
        ok(phm().args(["key", "new", "--out"]).arg(&key));
        let practices = practices(&set);
        assert_eq!(practices.len(), 3);
        let mut recipients = String::new();
        for p in &practices {
            ok(phm()
                .args(["key", "practice", "--practice", p, "--out"])
                .arg(dir.path().join("keys")));
            let r = std::fs::read_to_string(dir.path().join(format!("keys/{p}.recipient.txt")))
                .unwrap();
            recipients.push_str(&format!("{p} = \"{}\"\n", r.trim()));
        }
        let pipeline = dir.path().join("icb.toml");
        std::fs::write(
            &pipeline,
            format!(
                "{SET_PIPELINE}\
                 [reid]\nbundle_tiers = [\"very_high\", \"high\"]\n\n[reid.recipients]\n{recipients}"
            ),
        )
        .unwrap();
        let identifiable = private_dir(&dir.path().join("identifiable"));
        let run = run_pipeline(&pipeline, &dir.path().join("runs"), &identifiable, &key);
        Fixture {
            dir,
            key,
            practices,
            run,
            identifiable,
        }
    })
}

/// `phm reid` with an identity, into a fresh output folder under the test's own folder.
fn reid(bundle: &Path, identity: &Path, audit: &Path, out: &Path, extra: &[&str]) -> Output {
    phm()
        .arg("reid")
        .arg("--bundle")
        .arg(bundle)
        .arg("--identity")
        .arg(identity)
        .args(["--user", "dr.test", "--reason", "case finding"])
        .arg("--audit")
        .arg(audit)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// The pseudonym of an NHS number under the fixture's key.
fn pseudonym(key: &Path, nhs: &str) -> String {
    let key = phm_ingest::PseudonymKey::load(key).unwrap();
    phm_ingest::pseudo::Pseudonymiser::new(&key)
        .pseudonym(&NhsNumber::parse(nhs).unwrap())
        .as_str()
        .to_owned()
}

/// `truth/patients.csv`: NHS number → (sex, date of birth, practice at the reference date).
fn truth(f: &Fixture) -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(f.path().join("set/truth/patients.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].to_owned(),
                (c[1].to_owned(), c[2].to_owned(), c[6].to_owned()),
            )
        })
        .collect()
}

/// The pseudonyms of a bundle's flagged patients.
fn flagged(bundle: &Path) -> BTreeSet<String> {
    let batch = phm_sql::read_table(&bundle.join("flagged.parquet")).unwrap();
    let col = batch.column_by_name("pseudonym").unwrap();
    let col = datafusion::arrow::compute::cast(col, &datafusion::arrow::datatypes::DataType::Utf8)
        .unwrap();
    let col = col
        .as_any()
        .downcast_ref::<datafusion::arrow::array::StringArray>()
        .unwrap();
    col.iter().map(|v| v.unwrap().to_owned()).collect()
}

/// The one GP list folder under `out`.
fn list_folder(out: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(out)
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("gp-list-"))
        })
        .collect();
    assert!(found.len() <= 1, "{found:?}");
    found.pop()
}

/// The GP list's CSV rows (header first).
fn csv_rows(folder: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read(folder.join("gp-list.csv")).unwrap();
    phm_reid::vault::read_csv(&text)
}

fn audit_entries(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_practice_re_identifies_exactly_its_flagged_patients_and_no_other_identity_opens_its_bundle() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("audit.jsonl");
    let truth = truth(f);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.run.join("manifest.json")).unwrap()).unwrap();
    let [a, b, _] = [&f.practices[0], &f.practices[1], &f.practices[2]];
    assert_eq!(
        manifest["bundles"]["practices"].as_object().unwrap().len(),
        3,
        "{}",
        manifest["bundles"]
    );

    // A on A's bundle.
    let out = work.path().join("lists");
    let r = reid(&f.bundle(a), &f.identity(a), &audit, &out, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    let folder = list_folder(&out).expect("a GP list");
    let rows = csv_rows(&folder);
    assert_eq!(rows[0].join(","), phm_reid::reid::COLUMNS.join(","));
    let expected = flagged(&f.bundle(a));
    assert!(!expected.is_empty(), "A has flagged patients");
    let mut got = BTreeSet::new();
    for row in &rows[1..] {
        let (sex, dob, practice) = &truth[&row[0]];
        assert_eq!(practice, a, "only A's patients");
        assert_eq!(
            (&row[3], &row[4]),
            (dob, sex),
            "the truth's date of birth and sex"
        );
        assert!(
            !row[6].is_empty() && !row[9].is_empty(),
            "risk and a reason"
        );
        got.insert(pseudonym(&f.key, &row[0]));
    }
    assert_eq!(got, expected, "exactly A's flagged patients");
    let numbers = std::fs::read_to_string(folder.join("nhs-numbers.txt")).unwrap();
    assert_eq!(numbers.lines().count(), expected.len());
    for name in ["gp-list.csv", "nhs-numbers.txt", "gp-list.html"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(folder.join(name)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let entries = audit_entries(&audit);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["count"], expected.len());
    assert!(
        entries[0]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("disclosed")
    );
    let head = phm_reid::audit::verify(&audit, None).unwrap().head;
    assert!(stdout.contains(&head), "{stdout}");
    let html = std::fs::read_to_string(folder.join("gp-list.html")).unwrap();
    assert!(html.contains(&head), "the page's footer names the head");

    // A's identity on B's bundle, and a random identity: no one, non-zero, audited.
    let stranger = work.path().join("stranger");
    ok(phm()
        .args(["key", "practice", "--practice", "Z99999", "--out"])
        .arg(&stranger));
    for (identity, what) in [
        (f.identity(a), "A's identity on B's bundle"),
        (stranger.join("Z99999.identity.txt"), "a random identity"),
    ] {
        let out = work.path().join(format!("refused-{}", what.len()));
        let r = reid(&f.bundle(b), &identity, &audit, &out, &[]);
        assert!(!r.status.success(), "{what}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("does not open"), "{what}: {err}");
        assert!(list_folder(&out).is_none(), "{what}: no list");
    }
    let entries = audit_entries(&audit);
    assert_eq!(entries.len(), 3);
    for e in &entries[1..] {
        assert_eq!(e["practice"], b.as_str());
        assert_eq!(e["count"], 0);
        assert!(e["outcome"].as_str().unwrap().starts_with("refused"), "{e}");
    }
    phm_reid::audit::verify(&audit, None).unwrap();
    assert!(ok(phm().args(["audit", "verify"]).arg(&audit)).contains("3 entries"));
}

#[test]
fn a_list_of_pseudonyms_re_identifies_only_the_practices_own_and_a_zone_is_refused() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("audit.jsonl");
    let [a, b, _] = [&f.practices[0], &f.practices[1], &f.practices[2]];
    let ours: Vec<String> = flagged(&f.bundle(a)).into_iter().take(2).collect();
    let theirs: Vec<String> = flagged(&f.bundle(b)).into_iter().take(3).collect();
    let list = work.path().join("list.csv");
    let body: String = ours
        .iter()
        .chain(&theirs)
        .map(|p| format!("{p},x\n"))
        .collect();
    std::fs::write(&list, format!("pseudonym,note\n{body}")).unwrap();
    let out = work.path().join("lists");
    let r = reid(
        &f.bundle(a),
        &f.identity(a),
        &audit,
        &out,
        &["--list", list.to_str().unwrap()],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stdout).contains("3 asked for are not this practice's"));
    let rows = csv_rows(&list_folder(&out).unwrap());
    let got: Vec<String> = rows[1..].iter().map(|r| pseudonym(&f.key, &r[0])).collect();
    assert_eq!(got, ours);
    // Into the runs root: refused, audited.
    let r = reid(
        &f.bundle(a),
        &f.identity(a),
        &audit,
        &f.run.join("lists"),
        &[],
    );
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("inside"));
    assert!(!f.run.join("lists").exists());
    let entries = audit_entries(&audit);
    assert!(entries[1]["outcome"].as_str().unwrap().contains("zone"));
    // An altered bundle: refused before anything is decrypted.
    let copy = work.path().join("bundle");
    std::fs::create_dir(&copy).unwrap();
    for name in ["vault.age", "flagged.parquet", "bundle.json"] {
        std::fs::copy(f.bundle(a).join(name), copy.join(name)).unwrap();
    }
    let mut flagged_bytes = std::fs::read(copy.join("flagged.parquet")).unwrap();
    let mid = flagged_bytes.len() / 2;
    flagged_bytes[mid] ^= 1;
    std::fs::write(copy.join("flagged.parquet"), flagged_bytes).unwrap();
    let r = reid(&copy, &f.identity(a), &audit, &work.path().join("x"), &[]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("altered"));
}

/// Edit, delete, reorder, forge, truncate: `phm audit verify` fails and names the entry.
#[test]
fn tampering_with_the_audit_log_is_caught_and_named() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("audit.jsonl");
    let a = &f.practices[0];
    for i in 0..4 {
        let r = reid(
            &f.bundle(a),
            &f.identity(a),
            &audit,
            &work.path().join(format!("out{i}")),
            &[],
        );
        assert!(r.status.success());
    }
    let head = phm_reid::audit::verify(&audit, None).unwrap().head;
    let lines: Vec<String> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let verify = |lines: &[String], head: Option<&str>| -> (bool, String) {
        let path = work.path().join("tampered.jsonl");
        std::fs::write(
            &path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        let mut c = phm();
        c.args(["audit", "verify"]).arg(&path);
        if let Some(h) = head {
            c.args(["--head", h]);
        }
        let out = c.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(verify(&lines, Some(&head)).0, "the untouched log verifies");
    let mut edited = lines.clone();
    edited[1] = edited[1].replace("dr.test", "dr.other");
    let (okay, err) = verify(&edited, None);
    assert!(!okay && err.contains("line 3"), "edit: {err}");
    let mut deleted = lines.clone();
    deleted.remove(1);
    let (okay, err) = verify(&deleted, None);
    assert!(!okay && err.contains("line 2"), "delete: {err}");
    let mut swapped = lines.clone();
    swapped.swap(1, 2);
    let (okay, err) = verify(&swapped, None);
    assert!(!okay && err.contains("line 2"), "reorder: {err}");
    // A forged entry chained correctly onto the end: caught with the head.
    let mut forged = lines.clone();
    let last: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
    let mut fake = last.clone();
    fake["seq"] = 5.into();
    fake["user"] = "intruder".into();
    fake["prev"] = blake3::hash(lines[3].as_bytes())
        .to_hex()
        .to_string()
        .into();
    forged.push(fake.to_string());
    assert!(
        verify(&forged, None).0,
        "a well-chained forgery needs the head"
    );
    let (okay, err) = verify(&forged, Some(&head));
    assert!(!okay && err.contains("entry 5"), "forged: {err}");
    let truncated = lines[..3].to_vec();
    assert!(verify(&truncated, None).0);
    let (okay, err) = verify(&truncated, Some(&head));
    assert!(!okay && err.contains("after 3"), "truncated: {err}");
}

/// pyrage (an independent age implementation) decrypts a vault to the pairs phm reads; no
/// bundle file holds an NHS number in clear (a planted number in a copy is found: the control).
#[test]
fn vaults_open_with_pyrage_and_bundles_hold_no_nhs_number_in_clear() {
    let f = fixture();
    let a = &f.practices[0];
    let identity = phm_reid::PracticeIdentity::load(&f.identity(a)).unwrap();
    let sealed = std::fs::read(f.bundle(a).join("vault.age")).unwrap();
    let ours = phm_reid::vault::open(&sealed, &identity).unwrap().unwrap();
    let script = "import sys, pyrage\n\
        ident = [l for l in open(sys.argv[1]).read().splitlines() if l.startswith('AGE-SECRET-KEY-')][0]\n\
        text = pyrage.decrypt(open(sys.argv[2], 'rb').read(), [pyrage.x25519.Identity.from_str(ident)])\n\
        sys.stdout.write(text.decode())\n";
    let plain = phm_testkit::run_oracle(script, &[&f.identity(a), &f.bundle(a).join("vault.age")]);
    let theirs = phm_reid::vault::parse(plain.as_bytes()).unwrap();
    let pairs = |v: &phm_reid::vault::Vault| -> Vec<(String, String)> {
        v.records
            .iter()
            .map(|r| {
                let d = String::from_utf8(r.nhs_number.expose_digits().to_vec()).unwrap();
                (r.pseudonym.clone(), d)
            })
            .collect()
    };
    assert_eq!(pairs(&theirs), pairs(&ours));
    assert!(ours.records.len() > 100);
    // Every pseudonym pair is right under the key.
    for (p, n) in pairs(&ours).iter().take(50) {
        assert_eq!(&pseudonym(&f.key, n), p);
    }
    // No NHS number in clear in any bundle file (raw bytes, and Parquet columns decoded).
    let numbers: Vec<String> = truth(f).into_keys().collect();
    let holds_any = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        numbers.iter().any(|n| text.contains(n.as_str()))
    };
    for p in &f.practices {
        for name in ["vault.age", "flagged.parquet", "bundle.json"] {
            let bytes = std::fs::read(f.bundle(p).join(name)).unwrap();
            assert!(!holds_any(&bytes), "{p}/{name}");
        }
        // flagged.parquet's columns decoded, every value as text.
        let batch = phm_sql::read_table(&f.bundle(p).join("flagged.parquet")).unwrap();
        let mut decoded = String::new();
        for col in batch.columns() {
            let text = datafusion::arrow::util::display::ArrayFormatter::try_new(
                col.as_ref(),
                &datafusion::arrow::util::display::FormatOptions::default(),
            )
            .unwrap();
            for i in 0..batch.num_rows() {
                decoded.push_str(&text.value(i).to_string());
                decoded.push('\n');
            }
        }
        assert!(decoded.len() > 1000, "{p}: decoded {} bytes", decoded.len());
        assert!(!holds_any(decoded.as_bytes()), "{p}: decoded columns");
    }
    // The control: a planted number is found by the same scan.
    let mut planted = std::fs::read(f.bundle(a).join("bundle.json")).unwrap();
    planted.extend_from_slice(numbers[0].as_bytes());
    assert!(holds_any(&planted));
}

/// Kill `phm reid` at moments spread over its run: afterwards there is no GP list or a
/// complete one, never a partial folder's contents in view, and the log verifies.
#[test]
fn a_killed_reid_leaves_no_list_or_a_whole_one_and_the_log_verifies() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("audit.jsonl");
    let a = &f.practices[0];
    let expected = flagged(&f.bundle(a)).len();
    let mut complete = 0;
    for i in 0..12u64 {
        let out = work.path().join(format!("out{i}"));
        let mut child = phm()
            .arg("reid")
            .arg("--bundle")
            .arg(f.bundle(a))
            .arg("--identity")
            .arg(f.identity(a))
            .args(["--user", "dr.test", "--reason", "kill test", "--audit"])
            .arg(&audit)
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(i * i * 4));
        let _ = child.kill();
        let _ = child.wait();
        if let Some(folder) = list_folder(&out) {
            complete += 1;
            assert_eq!(csv_rows(&folder).len(), expected + 1, "a whole list");
            assert!(folder.join("gp-list.html").is_file());
        }
        if audit.exists() {
            phm_reid::audit::verify(&audit, None).unwrap_or_else(|e| panic!("kill {i}: {e}"));
        }
    }
    // A later request clears what a killed one left and completes.
    let out = work.path().join("out3");
    let r = reid(&f.bundle(a), &f.identity(a), &audit, &out, &[]);
    assert!(r.status.success());
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    eprintln!("{complete} of 12 killed requests had finished");
}

/// `phm sar` finds the rows the truth says the person has and the disclosures made about them.
#[test]
fn subject_access_finds_the_persons_rows_bundles_and_disclosures() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let audit = work.path().join("audit.jsonl");
    let a = &f.practices[0];
    // Disclose A's flagged patients, then search for one of them.
    let r = reid(
        &f.bundle(a),
        &f.identity(a),
        &audit,
        &work.path().join("out"),
        &[],
    );
    assert!(r.status.success());
    let rows = csv_rows(&list_folder(&work.path().join("out")).unwrap());
    let nhs = rows[1][0].clone();
    let sar = |nhs: &str| -> serde_json::Value {
        let out = ok(phm()
            .args(["sar", "--nhs-number", nhs, "--key"])
            .arg(&f.key)
            .arg("--runs")
            .arg(f.path().join("runs"))
            .arg("--identifiable")
            .arg(&f.identifiable)
            .args([
                "--user",
                "ig.officer",
                "--reason",
                "SAR test",
                "--format",
                "json",
                "--audit",
            ])
            .arg(&audit));
        assert!(!out.contains(nhs), "the number is never printed");
        serde_json::from_str(&out).unwrap()
    };
    let report = sar(&nhs);
    // The truth: every row of theirs in every extract, ingested or quarantined (they are
    // flagged, so none was opted out).
    let found = |prefix: &str, v: &serde_json::Value| -> u64 {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dataset"].as_str().unwrap().starts_with(prefix))
            .map(|d| d["rows"].as_u64().unwrap())
            .sum()
    };
    let mut total = 0;
    for extract in PATIENT_EXTRACTS {
        let rows = count_rows(&f.path().join("set/extracts").join(extract), &nhs);
        let prefix = format!("{extract}/");
        assert_eq!(
            found(&prefix, &report["datasets"]) + found(&prefix, &report["quarantine"]),
            rows,
            "{extract}"
        );
        total += rows;
    }
    assert!(total > 10, "a flagged patient has a history: {total} rows");
    assert!(found("gp_registrations/", &report["datasets"]) >= 1);
    assert_eq!(report["flagged_in_bundles"], serde_json::json!([a]));
    assert!(
        report["in_vaults"]
            .as_array()
            .unwrap()
            .contains(&a.as_str().into())
    );
    let disclosures = report["disclosures"].as_array().unwrap();
    assert_eq!(disclosures.len(), 1, "{disclosures:?}");
    // Someone never disclosed: no disclosures; the search itself is audited.
    let other = truth(f)
        .into_iter()
        .find(|(n, (_, _, p))| p == &f.practices[2] && *n != nhs)
        .unwrap()
        .0;
    let report = sar(&other);
    assert!(report["disclosures"].as_array().unwrap().is_empty());
    // The text form for a person: datasets and quarantine listed, never the number.
    let text = ok(phm()
        .args(["sar", "--nhs-number", &nhs, "--key"])
        .arg(&f.key)
        .arg("--runs")
        .arg(f.path().join("runs"))
        .arg("--identifiable")
        .arg(&f.identifiable)
        .args(["--user", "ig.officer", "--reason", "SAR test (text)"]));
    assert!(
        text.contains("Pseudonymised datasets:") && text.contains("gp_events/"),
        "{text}"
    );
    assert!(!text.contains(&nhs));
    let log = f.identifiable.join("audit/sar.jsonl");
    phm_reid::audit::verify(&log, None).unwrap();
    assert!(audit_entries(&log).len() >= 3);
}

/// Rows of every CSV file under `dir` that start with the NHS number (the first column).
fn count_rows(dir: &Path, nhs: &str) -> u64 {
    let mut n = 0;
    for file in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read(file.unwrap().path()).unwrap();
        for row in phm_reid::vault::read_csv(&text).into_iter().skip(1) {
            if row
                .first()
                .is_some_and(|c| c.replace([' ', '-'], "") == nhs)
            {
                n += 1;
            }
        }
    }
    n
}

/// A manifest without its timings and without the hashes and sizes of the outputs it
/// declares randomised (vaults and the `bundle.json` naming them).
fn comparable_manifest(bytes: &[u8]) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    m.as_object_mut().unwrap().remove("timings");
    for list in ["outputs", "identifiable_outputs"] {
        for o in m[list].as_array_mut().unwrap() {
            let path = o["path"].as_str().unwrap_or_default().to_owned();
            if path.ends_with(".age") || path.ends_with("bundle.json") {
                // age adds random "grease" stanzas: even the size varies.
                o.as_object_mut().unwrap().remove("blake3");
                o.as_object_mut().unwrap().remove("bytes");
            }
        }
    }
    m
}

/// Rotation (a new identity takes effect from the next run; the old one still opens old
/// bundles), a removed recipient (no vault, no bundle, listed in the manifest), and
/// byte-identity of everything but the declared randomised outputs.
#[test]
fn rotation_removal_and_byte_identity_but_vaults() {
    let f = fixture();
    let [a, b, c] = [&f.practices[0], &f.practices[1], &f.practices[2]];
    let work = tempfile::tempdir().unwrap();
    ok(phm()
        .args(["key", "practice", "--practice", a, "--out"])
        .arg(work.path().join("new")));
    let new_a =
        std::fs::read_to_string(work.path().join(format!("new/{a}.recipient.txt"))).unwrap();
    let old_c = std::fs::read_to_string(f.path().join(format!("keys/{c}.recipient.txt"))).unwrap();
    let text = std::fs::read_to_string(f.path().join("icb.toml")).unwrap();
    let head = text.split("[reid.recipients]").next().unwrap();
    let pipeline = f
        .path()
        .join(format!("rotated-{}.toml", std::process::id()));
    std::fs::write(
        &pipeline,
        format!(
            "{head}[reid.recipients]\n{a} = \"{}\"\n{c} = \"{}\"\n",
            new_a.trim(),
            old_c.trim()
        ),
    )
    .unwrap();
    let identifiable = private_dir(&work.path().join("identifiable"));
    let run = |extra: &[&str]| {
        ok(phm()
            .arg("run")
            .arg(&pipeline)
            .arg("--runs")
            .arg(work.path().join("runs"))
            .arg("--identifiable")
            .arg(&identifiable)
            .arg("--key")
            .arg(&f.key)
            .args(extra));
        work.path().join("runs/latest").canonicalize().unwrap()
    };
    let run_dir = run(&[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["bundles"]["practices_without_recipient"],
        serde_json::json!([b])
    );
    assert!(!run_dir.join("outbox").join(b).exists(), "no bundle for B");
    let id_run = identifiable.join("runs").join(run_dir.file_name().unwrap());
    assert!(
        !id_run.join(format!("vault/{b}.age")).exists(),
        "no vault for B"
    );
    assert!(
        manifest["bundles"]["randomised_outputs"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("vault.age"))
    );
    // The new identity opens the new bundle, the old one does not; the old bundle still opens
    // with the old identity.
    let audit = work.path().join("audit.jsonl");
    let bundle = run_dir.join("outbox").join(a);
    let new_identity = work.path().join(format!("new/{a}.identity.txt"));
    let r = reid(&bundle, &new_identity, &audit, &work.path().join("l1"), &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = reid(
        &bundle,
        &f.identity(a),
        &audit,
        &work.path().join("l2"),
        &[],
    );
    assert!(
        !r.status.success(),
        "the old identity does not open the new bundle"
    );
    let r = reid(
        &f.bundle(a),
        &f.identity(a),
        &audit,
        &work.path().join("l3"),
        &[],
    );
    assert!(
        r.status.success(),
        "the old bundle opens with the old identity"
    );
    // Again (forced, everything ingested again rather than reused): every file the same but
    // the vaults and the bundle.json naming them.
    let first = files(&run_dir);
    let again = run(&["--force", "--no-reuse"]);
    let second = files(&again);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    let mut differ = Vec::new();
    for (k, v) in &first {
        if k == "manifest.json" {
            let (x, y) = (comparable_manifest(v), comparable_manifest(&second[k]));
            for (field, value) in x.as_object().unwrap() {
                if value != &y[field] {
                    let (a, b) = (value.to_string(), y[field].to_string());
                    let at = a
                        .bytes()
                        .zip(b.bytes())
                        .position(|(p, q)| p != q)
                        .unwrap_or(0);
                    panic!(
                        "manifest `{field}` differs near: {} / {}",
                        &a[at.saturating_sub(200)..(at + 100).min(a.len())],
                        &b[at.saturating_sub(200)..(at + 100).min(b.len())]
                    );
                }
            }
        } else if v != &second[k] {
            differ.push(k.clone());
        }
    }
    differ.sort();
    assert_eq!(
        differ,
        vec![
            format!("outbox/{a}/bundle.json"),
            format!("outbox/{a}/vault.age"),
            format!("outbox/{c}/bundle.json"),
            format!("outbox/{c}/vault.age"),
        ]
    );
}
