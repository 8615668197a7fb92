//! Sub-licensing from outside: a run of the committed sample, a council (its residents'
//! features and admissions, counts by age band and sex) and a trust (its own admissions), each
//! shared with `phm share`; then what the extracts hold, and what they must not.

#![allow(
    clippy::print_stderr,
    clippy::many_single_char_names,
    clippy::format_push_string,
    clippy::type_complexity
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::{Array as _, RecordBatch};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::common::{SET_PIPELINE, ok, phm, private_dir, run_pipeline, text};

struct Fixture {
    dir: tempfile::TempDir,
    key: PathBuf,
    pipeline: PathBuf,
    run: PathBuf,
    identifiable: PathBuf,
    /// The council's LSOAs.
    lsoas: Vec<String>,
}

const TRUST: &str = "RXF";
const COUNCIL_PURPOSE: &str = "Joint strategic needs assessment";

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-samples/synth")
}

/// The `[share]` section: a council and a trust; `epoch` is the council's key epoch.
fn share_section(lsoas: &[String], epoch: u32) -> String {
    let lsoas = lsoas
        .iter()
        .map(|l| format!("\"{l}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[share.recipients.council-ph]\n\
         name = \"Anytown Council public health\"\n\
         purpose = \"{COUNCIL_PURPOSE}\"\n\
         retention_months = 12\n\
         key_epoch = {epoch}\n\n\
         [[share.recipients.council-ph.grants]]\n\
         table = \"features\"\n\
         columns = [\"pseudonym\", \"age_band\", \"sex\", \"lsoa_code\", \"emergency_admissions_12m\"]\n\
         rows = {{ lsoa_code = [{lsoas}] }}\n\n\
         [[share.recipients.council-ph.grants]]\n\
         table = \"apc\"\n\
         columns = [\"pseudonym\", \"admission_date\", \"primary_diagnosis\"]\n\
         rows = {{ lsoa_code = [{lsoas}] }}\n\n\
         [[share.recipients.council-ph.grants]]\n\
         table = \"spine\"\n\
         columns = [\"age_band\", \"sex\"]\n\
         level = \"aggregates\"\n\n\
         [share.recipients.trust-rxf]\n\
         name = \"Anytown Hospitals NHS Trust\"\n\
         purpose = \"Discharge planning evaluation\"\n\
         retention_months = 6\n\
         k = 3\n\n\
         [[share.recipients.trust-rxf.grants]]\n\
         table = \"apc\"\n\
         columns = [\"pseudonym\", \"provider_code\", \"admission_date\", \"admission_method\"]\n\
         rows = {{ provider_code = [\"{TRUST}\"] }}\n"
    )
}

fn pipeline_text(lsoas: &[String], epoch: u32) -> String {
    let set = sample();
    format!(
        "{}{}",
        SET_PIPELINE
            .replace(
                "\"set/extracts\"",
                &format!("\"{}/extracts\"", set.display())
            )
            .replace(
                "\"set/lookups/postcode_lsoa.csv\"",
                &format!("\"{}/lookups/postcode_lsoa.csv\"", set.display())
            ),
        share_section(lsoas, epoch)
    )
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = phm_testkit::fixture_dir();
        let key = dir.path().join("k.key");
        ok(phm().args(["key", "new", "--out"]).arg(&key));
        // The council: the three LSOAs with most patients in the generator's truth.
        let truth = std::fs::read_to_string(sample().join("truth/patients.csv")).unwrap();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for line in truth.lines().skip(1) {
            *counts
                .entry(line.split(',').nth(4).unwrap().to_owned())
                .or_default() += 1;
        }
        let mut by_size: Vec<(usize, String)> = counts.into_iter().map(|(l, n)| (n, l)).collect();
        by_size.sort_by(|a, b| b.cmp(a));
        let lsoas: Vec<String> = by_size.into_iter().take(3).map(|(_, l)| l).collect();
        let pipeline = dir.path().join("icb.toml");
        std::fs::write(&pipeline, pipeline_text(&lsoas, 1)).unwrap();
        let identifiable = private_dir(&dir.path().join("identifiable"));
        let run = run_pipeline(&pipeline, &dir.path().join("runs"), &identifiable, &key);
        Fixture {
            dir,
            key,
            pipeline,
            run,
            identifiable,
            lsoas,
        }
    })
}

/// `phm share` of the fixture's run (with `pipeline`) for `recipient` into `out`.
fn share(pipeline: &Path, recipient: &str, out: &Path) -> std::process::Output {
    let f = fixture();
    share_from(
        pipeline,
        recipient,
        out,
        &f.dir.path().join("runs"),
        &f.identifiable,
    )
}

/// `phm share` of the latest run under `runs`.
fn share_from(
    pipeline: &Path,
    recipient: &str,
    out: &Path,
    runs: &Path,
    identifiable: &Path,
) -> std::process::Output {
    let f = fixture();
    phm()
        .arg("share")
        .arg(pipeline)
        .args(["--recipient", recipient, "--user", "ig.officer"])
        .arg("--runs")
        .arg(runs)
        .arg("--identifiable")
        .arg(identifiable)
        .arg("--key")
        .arg(&f.key)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// The extract of `recipient` (made once per test binary, under the fixture's folder).
fn extract(recipient: &str) -> PathBuf {
    static MADE: OnceLock<std::sync::Mutex<BTreeSet<String>>> = OnceLock::new();
    let f = fixture();
    let out = f.dir.path().join("transfer").join(recipient);
    let mut made = MADE.get_or_init(Default::default).lock().unwrap();
    if made.insert(recipient.to_owned()) {
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let o = share(&f.pipeline, recipient, &out);
        assert!(
            o.status.success(),
            "{}\n{}",
            text(&o.stdout),
            text(&o.stderr)
        );
    }
    out
}

fn table(path: &Path) -> RecordBatch {
    phm_sql::read_table(path).unwrap()
}

fn columns(b: &RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Every value of a column as text (`None`: null).
fn values(b: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let c = b.column_by_name(column).unwrap();
    let f = ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default()).unwrap();
    (0..b.num_rows())
        .map(|i| (!c.is_null(i)).then(|| f.value(i).to_string()))
        .collect()
}

fn set(b: &RecordBatch, column: &str) -> BTreeSet<String> {
    values(b, column).into_iter().flatten().collect()
}

/// The pseudonyms of every Parquet file under a folder.
fn pseudonyms_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in walk(dir) {
        if entry.extension().is_some_and(|x| x == "parquet") {
            let b = table(&entry);
            if b.column_by_name("pseudonym").is_some() {
                out.extend(set(&b, "pseudonym"));
            }
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `phm share --check A B`.
fn check(a: &Path, b: &Path) -> std::process::Output {
    phm()
        .args(["share", "--check"])
        .arg(a)
        .arg(b)
        .output()
        .unwrap()
}

/// The recipient's pseudonym of a run pseudonym, for checking rows against the run.
fn rekey(recipient: &str, epoch: u32, run_pseudonyms: &BTreeSet<String>) -> BTreeSet<String> {
    let key = phm_ingest::PseudonymKey::load(&fixture().key).unwrap();
    let r = phm_ingest::pseudo::RecipientPseudonyms::new(&key, recipient, epoch);
    run_pseudonyms
        .iter()
        .map(|p| r.pseudonym(p).as_str().to_owned())
        .collect()
}

fn run_table(name: &str) -> RecordBatch {
    let f = fixture();
    let out = phm()
        .args(["query", "--format", "parquet", "--run"])
        .arg(&f.run)
        .arg("--out")
        .arg(f.dir.path().join(format!("{name}-all.parquet")))
        .arg(format!("SELECT * FROM {name}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    table(&f.dir.path().join(format!("{name}-all.parquet")))
}

#[test]
fn recipients_share_no_pseudonym_with_each_other_or_the_zone_and_epochs_rotate() {
    let f = fixture();
    let council = extract("council-ph");
    let trust = extract("trust-rxf");
    let (c, t) = (pseudonyms_under(&council), pseudonyms_under(&trust));
    let zone = pseudonyms_under(&f.run);
    assert!(c.len() > 50 && t.len() > 50, "{} {}", c.len(), t.len());
    assert!(c.is_disjoint(&t) && c.is_disjoint(&zone) && t.is_disjoint(&zone));
    for (a, b) in [(&council, &trust), (&council, &f.run), (&trust, &f.run)] {
        let o = check(a, b);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("share no pseudonym"),
            "{}",
            text(&o.stdout)
        );
    }
    // The same recipient and epoch again: the same pseudonyms (and byte-identical tables).
    let again = f.dir.path().join("transfer/council-again");
    let o = share(&f.pipeline, "council-ph", &again);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(pseudonyms_under(&again), c);
    for file in ["features.parquet", "apc.parquet", "spine_counts.csv"] {
        assert_eq!(
            std::fs::read(council.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file}"
        );
    }
    // --check finds what they share (the control of the checks above), and says so.
    let o = check(&council, &again);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!("share {} pseudonym(s)", c.len())),
        "{}",
        text(&o.stderr)
    );
    // A new key epoch: none of the old pseudonyms.
    let epoch2 = f.dir.path().join("icb-epoch2.toml");
    std::fs::write(&epoch2, pipeline_text(&f.lsoas, 2)).unwrap();
    let rotated = f.dir.path().join("transfer/council-epoch2");
    let o = share(&epoch2, "council-ph", &rotated);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = pseudonyms_under(&rotated);
    assert_eq!(r.len(), c.len());
    assert!(r.is_disjoint(&c) && r.is_disjoint(&zone));
    // Stable across runs: another run (a quarter earlier, its own roots) shared with the same
    // epoch gives the same residents the same pseudonyms, and none of the rotated ones.
    let earlier = f.dir.path().join("icb-earlier.toml");
    std::fs::write(
        &earlier,
        pipeline_text(&f.lsoas, 1).replace(
            "reference_date = \"2025-04-01\"",
            "reference_date = \"2025-01-01\"",
        ),
    )
    .unwrap();
    let (runs2, id2) = (
        f.dir.path().join("runs-earlier"),
        private_dir(&f.dir.path().join("identifiable-earlier")),
    );
    let run2 = run_pipeline(&earlier, &runs2, &id2, &f.key);
    assert_ne!(run2.file_name(), f.run.file_name());
    let from_earlier = f.dir.path().join("transfer/council-earlier-run");
    let o = share_from(&earlier, "council-ph", &from_earlier, &runs2, &id2);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = pseudonyms_under(&from_earlier);
    let same = e.intersection(&c).count();
    assert!(
        same * 10 >= c.len() * 8 && same * 10 >= e.len() * 8,
        "{same} of {} and {}",
        c.len(),
        e.len()
    );
    assert!(e.is_disjoint(&r) && e.is_disjoint(&pseudonyms_under(&run2)));
    // And the recipient's pseudonym is a function of the run's (checked against the spine).
    let spine = set(&run_table("spine"), "pseudonym");
    assert!(c.is_subset(&rekey("council-ph", 1, &spine)));
    assert!(r.is_subset(&rekey("council-ph", 2, &spine)));
}

#[test]
fn only_granted_tables_columns_and_rows_appear() {
    let council = extract("council-ph");
    let trust = extract("trust-rxf");
    let names = |d: &Path| -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&council),
        [
            "apc.parquet",
            "features.parquet",
            "share-manifest.json",
            "spine_counts.csv",
            "spine_counts.parquet"
        ]
    );
    assert_eq!(names(&trust), ["apc.parquet", "share-manifest.json"]);

    // features: the granted columns, only the council's residents (or an LSOA suppressed).
    let features = table(&council.join("features.parquet"));
    assert_eq!(
        columns(&features),
        [
            "pseudonym",
            "age_band",
            "sex",
            "lsoa_code",
            "emergency_admissions_12m"
        ]
    );
    let lsoas: BTreeSet<String> = fixture().lsoas.iter().cloned().collect();
    assert!(set(&features, "lsoa_code").is_subset(&lsoas));
    let run_features = run_table("features");
    let residents: BTreeSet<String> = values(&run_features, "pseudonym")
        .into_iter()
        .zip(values(&run_features, "lsoa_code"))
        .filter(|(_, l)| l.as_ref().is_some_and(|l| lsoas.contains(l)))
        .map(|(p, _)| p.unwrap())
        .collect();
    let residents = rekey("council-ph", 1, &residents);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(council.join("share-manifest.json")).unwrap())
            .unwrap();
    let suppressed = |i: usize| {
        manifest["tables"][i]["k_anonymity"]["rows_suppressed"]
            .as_u64()
            .unwrap()
    };
    let shared = set(&features, "pseudonym");
    assert!(shared.is_subset(&residents));
    assert_eq!(shared.len() as u64 + suppressed(0), residents.len() as u64);

    // apc for the council: residents' admissions only, dates as months, no other column.
    let apc = table(&council.join("apc.parquet"));
    assert_eq!(
        columns(&apc),
        ["pseudonym", "admission_date", "primary_diagnosis"]
    );
    assert!(set(&apc, "pseudonym").is_subset(&residents));
    for d in set(&apc, "admission_date") {
        assert!(d.len() == 7 && d.as_bytes()[4] == b'-', "{d}");
    }

    // apc for the trust: its own admissions, every one of them (none k-suppressed: no
    // quasi-identifier was granted), and nothing of the other providers.
    let apc = table(&trust.join("apc.parquet"));
    assert_eq!(
        columns(&apc),
        [
            "pseudonym",
            "provider_code",
            "admission_date",
            "admission_method"
        ]
    );
    assert_eq!(
        set(&apc, "provider_code"),
        BTreeSet::from([TRUST.to_owned()])
    );
    let run_apc = run_table("apc");
    let own = values(&run_apc, "provider_code")
        .iter()
        .filter(|p| p.as_deref() == Some(TRUST))
        .count();
    assert_eq!(apc.num_rows(), own);

    // The counts: age band x sex, every published count a multiple of 5 or redacted.
    let csv = std::fs::read_to_string(council.join("spine_counts.csv")).unwrap();
    assert!(csv.starts_with("# Statistical disclosure control"), "{csv}");
    let mut lines = csv.lines().skip(1);
    assert_eq!(lines.next(), Some("age_band,sex,patients,total"));
    for line in lines {
        let cell = line.split(',').nth(2).unwrap();
        assert!(
            cell == "[REDACTED]" || cell.parse::<u64>().unwrap() % 5 == 0,
            "{line}"
        );
    }
}

/// Independent of phm's own check: classes of the quasi-identifiers an extract shows, counted
/// in distinct pseudonyms.
fn smallest_class(b: &RecordBatch) -> usize {
    let qi: Vec<&str> = [
        "lsoa_code",
        "postcode_district",
        "practice_code",
        "age",
        "age_band",
        "sex",
    ]
    .into_iter()
    .filter(|c| b.column_by_name(c).is_some())
    .collect();
    let cols: Vec<Vec<Option<String>>> = qi.iter().map(|c| values(b, c)).collect();
    let patients = values(b, "pseudonym");
    let mut classes: BTreeMap<Vec<Option<String>>, BTreeSet<String>> = BTreeMap::new();
    for (row, p) in patients.into_iter().enumerate() {
        let key = cols.iter().map(|c| c[row].clone()).collect();
        classes.entry(key).or_default().insert(p.unwrap());
    }
    classes.values().map(BTreeSet::len).min().unwrap_or(0)
}

#[test]
fn no_identifier_or_record_number_leaks_and_every_extract_meets_its_k() {
    let council = extract("council-ph");
    let trust = extract("trust-rxf");
    // What must never appear: NHS numbers, dates of birth, names, postcodes (registrations and
    // truth), local patient ids and spell ids (hospital extracts), the run's pseudonyms.
    let mut whole: BTreeSet<String> = BTreeSet::new();
    let mut anywhere: BTreeSet<String> = BTreeSet::new();
    let extracts = sample().join("extracts");
    for (folder, cols) in [
        (
            "gp_registrations",
            &[
                "nhs_number",
                "given_name",
                "family_name",
                "date_of_birth",
                "postcode",
            ][..],
        ),
        ("apc", &["nhs_number", "local_patient_id", "spell_id"][..]),
        ("op", &["nhs_number", "local_patient_id"][..]),
        ("ecds", &["nhs_number", "local_patient_id"][..]),
    ] {
        for file in walk(&extracts.join(folder)) {
            // (Some submissions are corrupt on purpose: read them as the scan would.)
            let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let idx: Vec<usize> = cols
                .iter()
                .filter_map(|c| header.iter().position(|h| h == c))
                .collect();
            if idx.len() < cols.len() {
                continue; // a file with another header (rejected whole by ingest)
            }
            for line in lines {
                let fields: Vec<&str> = line.split(',').collect();
                for (&i, c) in idx.iter().zip(cols) {
                    let Some(v) = fields.get(i).filter(|v| !v.is_empty()) else {
                        continue;
                    };
                    whole.insert((*v).to_owned());
                    if matches!(
                        *c,
                        "nhs_number" | "local_patient_id" | "spell_id" | "date_of_birth"
                    ) {
                        anywhere.insert((*v).to_owned());
                    }
                }
            }
        }
    }
    let zone = pseudonyms_under(&fixture().run);
    assert!(anywhere.len() > 2000 && zone.len() > 1000);
    for dir in [&council, &trust] {
        for file in walk(dir) {
            let bytes = std::fs::read(&file).unwrap();
            let raw = String::from_utf8_lossy(&bytes);
            let mut decoded: Vec<String> = Vec::new();
            if file.extension().is_some_and(|x| x == "parquet") {
                let b = table(&file);
                for c in columns(&b) {
                    decoded.extend(values(&b, &c).into_iter().flatten());
                }
                if b.column_by_name("pseudonym").is_some() {
                    let k = if dir == &trust { 3 } else { 5 };
                    assert!(
                        smallest_class(&b) >= k,
                        "{}: smallest class under {k}",
                        file.display()
                    );
                }
            } else {
                decoded.extend(raw.split([',', '\n', '"', ' ']).map(str::to_owned));
            }
            assert!(!decoded.is_empty(), "{}", file.display());
            for v in &decoded {
                assert!(
                    !whole.contains(v) && !zone.contains(v),
                    "{}: an identifier",
                    file.display()
                );
            }
            // (The manifest's own dates, of the run and of sharing, are not dates of birth.)
            let manifest = file.ends_with("share-manifest.json");
            for v in anywhere
                .iter()
                .filter(|v| !(manifest && v.len() == 10 && v.as_bytes()[4] == b'-'))
            {
                assert!(
                    !raw.contains(v.as_str()),
                    "{}: an identifier in its bytes",
                    file.display()
                );
            }
        }
    }
    // Joined on the pseudonym, the council's tables still meet k: each patient's values of
    // every quasi-identifier across all its rows of all the tables, shared by 5 or more.
    let mut profiles: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in walk(&council) {
        if file.extension().is_none_or(|x| x != "parquet") {
            continue;
        }
        let b = table(&file);
        if b.column_by_name("pseudonym").is_none() {
            continue;
        }
        let owners = values(&b, "pseudonym");
        for q in [
            "lsoa_code",
            "imd_decile",
            "postcode_district",
            "practice_code",
            "age",
            "age_band",
            "sex",
        ] {
            if b.column_by_name(q).is_none() {
                continue;
            }
            for (owner, v) in owners.iter().zip(values(&b, q)) {
                let set = profiles
                    .entry(owner.clone().unwrap())
                    .or_default()
                    .entry(q.to_owned())
                    .or_default();
                set.extend(v);
            }
        }
    }
    let mut classes: BTreeMap<&BTreeMap<String, BTreeSet<String>>, usize> = BTreeMap::new();
    for p in profiles.values() {
        *classes.entry(p).or_default() += 1;
    }
    assert!(profiles.len() > 50);
    assert!(
        classes.values().all(|n| *n >= 5),
        "{:?}",
        classes.values().min()
    );
    // The control: the scan finds a planted spell id.
    let planted = format!("x{}", anywhere.iter().find(|v| v.starts_with('S')).unwrap());
    assert!(anywhere.iter().any(|v| planted.contains(v.as_str())));
}

#[test]
fn the_audit_log_verifies_and_names_recipient_purpose_and_manifest_hash() {
    let f = fixture();
    let council = extract("council-ph");
    let log = f.identifiable.join("audit/share.jsonl");
    ok(phm().args(["audit", "verify"]).arg(&log));
    let manifest = std::fs::read(council.join("share-manifest.json")).unwrap();
    let hash = blake3::hash(&manifest).to_hex().to_string();
    let entries: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let entry = entries
        .iter()
        .find(|e| e["sharing"]["manifest_hash"] == hash.as_str())
        .expect("an entry with the council's manifest hash");
    assert_eq!(entry["action"], "share");
    assert_eq!(entry["sharing"]["recipient"], "council-ph");
    assert_eq!(entry["reason"], COUNCIL_PURPOSE);
    assert_eq!(entry["user"], "ig.officer");
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["recipient"], "council-ph");
    assert_eq!(m["purpose"], COUNCIL_PURPOSE);
    assert_eq!(m["key_epoch"], 1);
    assert_eq!(m["national_data_opt_out"], false);
    assert_eq!(m["files"].as_array().unwrap().len(), 4);
    for file in m["files"].as_array().unwrap() {
        let bytes = std::fs::read(council.join(file["name"].as_str().unwrap())).unwrap();
        assert_eq!(
            file["blake3"],
            blake3::hash(&bytes).to_hex().to_string().as_str()
        );
    }
}

#[test]
fn a_record_id_grant_an_output_in_a_zone_and_a_wrong_key_are_refused() {
    let f = fixture();
    // A grant naming spell_id: refused when the definition loads, naming it.
    let bad = f.dir.path().join("icb-spell.toml");
    std::fs::write(
        &bad,
        pipeline_text(&f.lsoas, 1).replace(
            "\"admission_date\", \"admission_method\"",
            "\"admission_date\", \"spell_id\"",
        ),
    )
    .unwrap();
    let o = share(&bad, "trust-rxf", &f.dir.path().join("transfer/never"));
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("`spell_id`, a provider record number"),
        "{}",
        text(&o.stderr)
    );
    // A grant whose rows filter matches nobody: an empty table, not an error.
    let nobody = f.dir.path().join("icb-nobody.toml");
    std::fs::write(
        &nobody,
        pipeline_text(&f.lsoas, 1).replace(&format!("[\"{TRUST}\"]"), "[\"ZZZ\"]"),
    )
    .unwrap();
    let empty = f.dir.path().join("transfer/nobody");
    let o = share(&nobody, "trust-rxf", &empty);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(table(&empty.join("apc.parquet")).num_rows(), 0);
    // The back-test's calibration: counts no disclosure control has touched.
    let calibration = f.dir.path().join("icb-calibration.toml");
    let text_of = pipeline_text(&f.lsoas, 1);
    let cut = text_of.find("[share.recipients.trust-rxf]").unwrap();
    std::fs::write(
        &calibration,
        format!(
            "{}[share.recipients.trust-rxf]\nname = \"T\"\npurpose = \"P\"\nretention_months = 6\n\n\
             [[share.recipients.trust-rxf.grants]]\ntable = \"calibration\"\ncolumns = [\"grouping\", \"patients\"]\n",
            &text_of[..cut]
        ),
    )
    .unwrap();
    let o = share(
        &calibration,
        "trust-rxf",
        &f.dir.path().join("transfer/calibration"),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no disclosure control"),
        "{}",
        text(&o.stderr)
    );
    // Output inside the pseudonymised zone.
    let o = share(&f.pipeline, "trust-rxf", &f.run.join("shared"));
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    assert!(!f.run.join("shared").exists());
    // Another key.
    let other = f.dir.path().join("other.key");
    ok(phm().args(["key", "new", "--out"]).arg(&other));
    let o = phm()
        .arg("share")
        .arg(&f.pipeline)
        .args(["--recipient", "trust-rxf", "--user", "ig.officer", "--key"])
        .arg(&other)
        .arg("--runs")
        .arg(f.dir.path().join("runs"))
        .arg("--identifiable")
        .arg(&f.identifiable)
        .arg("--out")
        .arg(f.dir.path().join("transfer/wrong-key"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("is not the one run"),
        "{}",
        text(&o.stderr)
    );
}

/// Every table of a run, granted to one recipient two or three columns at a time with a row
/// filter where the table has an organisation: only those columns come out, only rows that
/// pass the filter, and all of them but the ones k-anonymity left out (the manifest says how
/// many); dates come out as months.
#[test]
fn a_grant_of_each_table_gives_its_columns_and_rows_only() {
    use datafusion::arrow::datatypes::DataType;
    let f = fixture();
    let mut tables: Vec<&str> = vec![
        "spine",
        "features",
        "scores",
        "risk",
        "age_sex_tier",
        "practice_tier",
    ];
    tables.extend(crate::common::PATIENT_EXTRACTS);
    let mut section = String::from(
        "[share.recipients.every-table]\nname = \"Every table\"\npurpose = \"Test\"\nretention_months = 1\nk = 2\n",
    );
    let mut expected: Vec<(&str, Vec<String>, Option<(String, String)>, RecordBatch)> = Vec::new();
    for t in &tables {
        let all = run_table(t);
        let schema = all.schema();
        let plain = |name: &str| {
            schema
                .field_with_name(name)
                .is_ok_and(|f| !matches!(f.data_type(), DataType::List(_)))
        };
        let filter = ["provider_code", "practice_code"]
            .into_iter()
            .find(|c| plain(c))
            .map(|c| (c.to_owned(), values(&all, c)[0].clone().unwrap()));
        let mut cols: Vec<String> = Vec::new();
        if plain("pseudonym") {
            cols.push("pseudonym".to_owned());
        }
        if let Some((c, _)) = &filter {
            cols.push(c.clone());
        }
        for field in schema.fields() {
            let n = field.name();
            if cols.len() >= 4 || cols.contains(n) || !plain(n) || n == "pseudonym" {
                continue;
            }
            if phm_run::share::never_shared(n).is_none() {
                cols.push(n.clone());
            }
        }
        let list = cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        section.push_str(&format!(
            "\n[[share.recipients.every-table.grants]]\ntable = \"{t}\"\ncolumns = [{list}]\n"
        ));
        if let Some((c, v)) = &filter {
            section.push_str(&format!("rows = {{ {c} = [\"{v}\"] }}\n"));
        }
        expected.push((t, cols, filter, all));
    }
    let pipeline = f.dir.path().join("icb-every.toml");
    std::fs::write(
        &pipeline,
        format!("{}\n{section}", pipeline_text(&f.lsoas, 1)),
    )
    .unwrap();
    let out = f.dir.path().join("transfer/every-table");
    let o = share(&pipeline, "every-table", &out);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("share-manifest.json")).unwrap()).unwrap();
    for (i, (t, cols, filter, all)) in expected.iter().enumerate() {
        let got = table(&out.join(format!("{t}.parquet")));
        assert_eq!(&columns(&got), cols, "{t}");
        let passing = match filter {
            Some((c, v)) => {
                assert_eq!(set(&got, c), BTreeSet::from([v.clone()]), "{t}");
                values(all, c)
                    .iter()
                    .filter(|x| x.as_ref() == Some(v))
                    .count()
            }
            None => all.num_rows(),
        };
        let left_out = manifest["tables"][i]["k_anonymity"]["rows_suppressed"]
            .as_u64()
            .unwrap_or(0) as usize;
        assert_eq!(got.num_rows() + left_out, passing, "{t}");
        assert!(got.num_rows() > 0, "{t}");
        for c in cols {
            let dated = matches!(
                all.schema().field_with_name(c).unwrap().data_type(),
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
            );
            if dated {
                for d in set(&got, c) {
                    assert!(d.len() == 7 && d.as_bytes()[4] == b'-', "{t}.{c}: {d}");
                }
            }
        }
    }
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), tables.len() + 1, "{files:?}");
}
