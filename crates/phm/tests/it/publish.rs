//! Publish from outside: a synthetic ICB with injected defects, two files left out and two sent
//! late, run whole by `phm run`; then the aggregates checked cell by cell, secondary
//! suppression re-audited from the published files alone, `report.json` scanned for small
//! counts, every published file scanned for identifiers, the scorecard compared with the
//! generator's truth, the report opened in headless Chromium, and `phm purge`.

#![allow(
    clippy::print_stderr,
    clippy::many_single_char_names,
    clippy::case_sensitive_file_extension_comparisons,
    clippy::format_push_string
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{SET_PIPELINE, ok, phm, practices, private_dir, run_pipeline};
use phm_publish::sdc::{self, Cell, Relation, Rule};

struct Fixture {
    dir: tempfile::TempDir,
    set: PathBuf,
    run: PathBuf,
    practices: Vec<String>,
}

const PCN: &str = "Test PCN";

fn csv_lines(path: &Path) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&std::fs::read(path).unwrap())
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = phm_testkit::fixture_dir();
        let set = dir.path().join("set");
        phm_synth::generate(
            phm_synth::SynthConfig {
                patients: 3000,
                practices: 4,
                seed: 43,
                as_of: phm_synth::date::from_ymd(2025, 4, 1),
                years_before: 3,
                defect_rate: phm_synth::params::DEFAULT_DEFECT_RATE,
                missing_files: 2,
                late_files: 2,
                gzip: false,
                out: set.clone(),
                force: false,
            },
            &|_| {},
        )
        .unwrap();
        let practices = practices(&set);
        // The schedule: every pair the generator was expected to send.
        let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in csv_lines(&set.join("truth/submissions.csv")) {
            expected.entry(r[0].clone()).or_default().push(r[1].clone());
        }
        let mut schedule = String::from("[schedule]\nmax_extract_age_days = 35\n\n[schedule.expected]\n");
        for (extract, orgs) in &expected {
            let list: Vec<String> = orgs.iter().map(|o| format!("\"{o}\"")).collect();
            schedule.push_str(&format!("{extract} = [{}]\n", list.join(", ")));
        }
        let key = dir.path().join("k.key");
        ok(phm().args(["key", "new", "--out"]).arg(&key));
        let pipeline = dir.path().join("icb.toml");
        std::fs::write(
            &pipeline,
            format!(
                "{SET_PIPELINE}\
                 [publish]\nretention_months = 12\n\n[publish.pcns]\n\"{PCN}\" = [\"{}\", \"{}\"]\n\n{schedule}",
                practices[0], practices[1]
            ),
        )
        .unwrap();
        let identifiable = private_dir(&dir.path().join("identifiable"));
        let run = run_pipeline(&pipeline, &dir.path().join("runs"), &identifiable, &key);
        Fixture {
            dir,
            set,
            run,
            practices,
        }
    })
}

/// A published aggregate as read back from its CSV: header and rows (`None`: redacted), the
/// total row apart.
struct Published {
    keys: usize,
    header: Vec<String>,
    rows: Vec<(Vec<String>, Vec<Option<u64>>, u64)>,
    totals: Vec<u64>,
    total: u64,
}

fn read_aggregate(run: &Path, name: &str) -> Published {
    let path = run.join(format!("publish/aggregates/{name}.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let rule = lines.next().unwrap();
    assert!(
        rule.starts_with("# Statistical disclosure control: counts of 1 to 7 are redacted")
            && rule.contains("nearest 5"),
        "{rule}"
    );
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let keys = if name == "age_sex_tier" { 2 } else { 1 };
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    let mut total = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), header.len(), "{line}");
        let cells: Vec<Option<u64>> = f[keys..f.len() - 1]
            .iter()
            .map(|v| {
                if *v == "[REDACTED]" {
                    None
                } else {
                    Some(v.parse().unwrap())
                }
            })
            .collect();
        let row_total: u64 = f[f.len() - 1].parse().unwrap();
        if f[0] == "total" {
            totals = cells.iter().map(|c| c.unwrap()).collect();
            total = row_total;
        } else {
            rows.push((
                f[..keys].iter().map(|k| (*k).to_owned()).collect(),
                cells,
                row_total,
            ));
        }
    }
    Published {
        keys,
        header,
        rows,
        totals,
        total,
    }
}

const AGGREGATES: [&str; 5] = [
    "practice_tier",
    "practice_segment",
    "pcn_segment",
    "age_sex_tier",
    "population_age_sex",
];

#[test]
fn aggregates_are_rounded_redacted_and_add_up_and_match_the_risk_table() {
    let f = fixture();
    for name in AGGREGATES {
        let t = read_aggregate(&f.run, name);
        assert!(!t.rows.is_empty(), "{name}");
        let mut columns = vec![0; t.header.len() - t.keys - 1];
        for (key, cells, row_total) in &t.rows {
            for (c, v) in cells.iter().enumerate() {
                if let Some(v) = v {
                    assert!(v % 5 == 0 && !(1..=7).contains(v), "{name} {key:?}: {v}");
                    columns[c] += v;
                }
            }
            assert_eq!(
                *row_total,
                cells.iter().flatten().sum::<u64>(),
                "{name} {key:?}"
            );
        }
        assert_eq!(t.totals, columns, "{name}");
        assert_eq!(t.total, columns.iter().sum::<u64>(), "{name}");
        // The Parquet form holds the same numbers (null for redacted).
        let batch =
            phm_sql::read_table(&f.run.join(format!("publish/aggregates/{name}.parquet"))).unwrap();
        assert_eq!(batch.num_rows(), t.rows.len() + 1, "{name}");
    }
    // practice x tier against the run's own risk table: each published cell is its true count
    // rounded to 5, and a true count of 1 to 7 is never shown.
    let risk = phm_sql::read_table(&f.run.join("risk/risk.parquet")).unwrap();
    let text = |n: &str| {
        datafusion::arrow::compute::cast(
            risk.column_by_name(n).unwrap(),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap()
    };
    let (practice, tier) = (text("practice_code"), text("tier"));
    let s = |a: &datafusion::arrow::array::ArrayRef, i: usize| {
        a.as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .unwrap()
            .value(i)
            .to_owned()
    };
    let mut truth: BTreeMap<(String, String), u64> = BTreeMap::new();
    for i in 0..risk.num_rows() {
        *truth.entry((s(&practice, i), s(&tier, i))).or_default() += 1;
    }
    let t = read_aggregate(&f.run, "practice_tier");
    let mut hidden = 0;
    for (key, cells, _) in &t.rows {
        for (c, v) in cells.iter().enumerate() {
            let n = truth
                .get(&(key[0].clone(), t.header[1 + c].clone()))
                .copied()
                .unwrap_or(0);
            if let Some(v) = v {
                assert_eq!(*v, (n + 2) / 5 * 5, "{key:?} {}", t.header[1 + c]);
            } else {
                hidden += 1;
                assert!(n > 0, "a zero is never hidden");
            }
            if (1..=7).contains(&n) {
                assert!(v.is_none(), "{key:?}: true count {n} shown");
            }
        }
    }
    let share = f64::from(hidden) / (t.rows.len() * (t.header.len() - 2)) as f64;
    eprintln!("practice x tier cells hidden: {hidden} ({share:.3})");
}

/// The attacker's view rebuilt from the published CSV files alone: every cell, the relations
/// that hold between the tables' true counts, and the audit of every redacted cell.
#[test]
fn no_redacted_cell_can_be_narrowed_from_the_published_aggregates() {
    let f = fixture();
    let tables: BTreeMap<&str, Published> = AGGREGATES
        .iter()
        .map(|n| (*n, read_aggregate(&f.run, n)))
        .collect();
    let mut cells: Vec<Cell> = Vec::new();
    // (table, row key joined, column) -> cell index
    let mut index: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for (name, t) in &tables {
        for (key, row, _) in &t.rows {
            for (c, v) in row.iter().enumerate() {
                index.insert(
                    (
                        (*name).to_owned(),
                        key.join("|"),
                        t.header[t.keys + c].clone(),
                    ),
                    cells.len(),
                );
                cells.push(v.map_or(Cell::Redacted, Cell::Published));
            }
        }
    }
    let of = |table: &str, pred: &dyn Fn(&str, &str) -> bool| -> Vec<usize> {
        index
            .iter()
            .filter(|((t, k, c), _)| t == table && pred(k, c))
            .map(|(_, i)| *i)
            .collect()
    };
    let mut relations = Vec::new();
    for p in &f.practices {
        relations.push(Relation {
            left: of("practice_tier", &|k, _| k == p),
            right: of("practice_segment", &|k, _| k == p),
        });
    }
    let pcn_of = |p: &str| {
        if p == f.practices[0] || p == f.practices[1] {
            PCN
        } else {
            "unassigned"
        }
    };
    let segments =
        &tables["practice_segment"].header[1..tables["practice_segment"].header.len() - 1];
    for pcn in [PCN, "unassigned"] {
        for s in segments {
            relations.push(Relation {
                left: of("pcn_segment", &|k, c| k == pcn && c == s),
                right: of("practice_segment", &|k, c| pcn_of(k) == pcn && c == s),
            });
        }
    }
    let tiers = &tables["practice_tier"].header[1..tables["practice_tier"].header.len() - 1];
    for t in tiers {
        relations.push(Relation {
            left: of("practice_tier", &|_, c| c == t),
            right: of("age_sex_tier", &|_, c| c == t),
        });
    }
    for (key, _, _) in &tables["age_sex_tier"].rows {
        let joined = key.join("|");
        relations.push(Relation {
            left: of("age_sex_tier", &|k, _| k == joined),
            right: of("population_age_sex", &|k, c| k == key[0] && c == key[1]),
        });
    }
    let intervals = sdc::audit(&cells, &relations, Rule::default()).unwrap();
    let hidden = cells.iter().filter(|c| c.is_hidden()).count();
    assert_eq!(intervals.len(), hidden);
    for i in &intervals {
        assert!(
            i.is_safe(7),
            "cell {i:?} can be narrowed to fewer than 7 values from the published tables"
        );
    }
}

/// Walk `report.json`: a count is any integer outside the few keys that hold settings or
/// sizes of things that are not people or rows.
fn small_counts(v: &serde_json::Value, key: &str, path: &str, found: &mut Vec<String>) {
    const NOT_COUNTS: [&str; 6] = [
        "threshold",
        "rounding_base",
        "k",
        "cell_count",
        "hidden_cells",
        "days_old",
    ];
    match v {
        serde_json::Value::Number(n) => {
            if let Some(n) = n.as_u64()
                && !NOT_COUNTS.contains(&key)
                && ((1..=7).contains(&n) || n % 5 != 0)
            {
                found.push(format!("{path} = {n}"));
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                small_counts(x, key, &format!("{path}[{i}]"), found);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                small_counts(x, k, &format!("{path}.{k}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn report_json_holds_no_small_count_and_the_page_is_self_contained() {
    let f = fixture();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.run.join("report.json")).unwrap()).unwrap();
    let mut found = Vec::new();
    small_counts(&report, "", "", &mut found);
    assert!(
        found.is_empty(),
        "counts that are not multiples of 5 or are 1-7: {found:?}"
    );
    // The report shows what the run had: the pyramid, tiers, the model, the scorecard.
    assert!(report["population"]["total"].as_u64().unwrap() > 1000);
    assert!(report["model"]["roc"].as_array().unwrap().len() > 10);
    assert_eq!(report["scores"].as_array().unwrap().len(), 4);
    let html = std::fs::read_to_string(f.run.join("report.html")).unwrap();
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
    ));
    assert!(!html.to_lowercase().contains("<script"));
    let without_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !without_svg_ns.contains("http://") && !without_svg_ns.contains("https://"),
        "the page refers to the network"
    );
    assert!(html.matches("<svg").count() >= 7, "charts are inline SVG");
    // Every count the page's tables show is one report.json holds (spot check: the grand
    // total of practice x tier).
    let total = report["practice_tier"]["total"].as_u64().unwrap();
    assert!(html.contains(&format!("<td>{total}</td>")));
}

/// Identifiers of every input row: NHS numbers, dates of birth, postcodes, family names.
fn identifiers(set: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(set.join("extracts/gp_registrations")).unwrap() {
        for r in csv_lines(&entry.unwrap().path()) {
            if r.len() < 7 {
                continue;
            }
            out.insert(r[0].clone());
            if r[4].len() == 10 {
                out.insert(r[4].clone());
            }
            if r[6].contains(' ') {
                out.insert(r[6].clone());
            }
            if r[3].len() >= 6 {
                out.insert(r[3].clone());
            }
        }
    }
    // Dates the report holds on purpose (the run's and the model's dates, late files' extract
    // dates) are not identifiers even where a birth falls on one.
    let mut legitimate: BTreeSet<String> = [
        "2022-04-01",
        "2023-04-01",
        "2024-04-01",
        "2025-04-01",
        "2026-04-01",
    ]
    .map(String::from)
    .into();
    for r in csv_lines(&set.join("truth/submissions.csv")) {
        legitimate.insert(r[4].clone());
    }
    out.retain(|s| !s.is_empty() && !legitimate.contains(s));
    out
}

#[test]
fn no_identifier_reaches_the_report_or_any_published_file() {
    let f = fixture();
    let ids = identifiers(&f.set);
    assert!(ids.len() > 3000);
    let mut files = vec![f.run.join("report.html"), f.run.join("report.json")];
    files.extend(phm_testkit::files_under(&f.run.join("publish"), None));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for id in &ids {
            assert!(
                !text.contains(id.as_str()),
                "`{}` holds an input identifier",
                file.display()
            );
        }
    }
}

#[test]
fn scorecard_equals_the_injected_defects_and_the_late_and_missing_files() {
    let f = fixture();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.run.join("report.json")).unwrap()).unwrap();
    let ingest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.run.join("ingest-manifest.json")).unwrap())
            .unwrap();
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for file in ingest["files"].as_array().unwrap() {
        *rows
            .entry(file["submitter"].as_str().unwrap().to_owned())
            .or_default() += file["rows_in"].as_u64().unwrap();
    }
    // truth/defects.csv: file, line, kind, column, expected_reason.
    let mut injected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in csv_lines(&f.set.join("truth/defects.csv")) {
        let org = Path::new(&r[0])
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if !r[4].is_empty() {
            *injected.entry((org, r[4].clone())).or_default() += 1;
        }
    }
    let cards: BTreeMap<String, &serde_json::Value> = report["scorecard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["organisation"].as_str().unwrap().to_owned(), c))
        .collect();
    let round5 = |n: u64| (n + 2) / 5 * 5;
    let (mut shown, mut hidden) = (0, 0);
    for ((org, reason), n) in &injected {
        let card = cards[org];
        assert_eq!(card["rows"].as_u64(), Some(round5(rows[org])), "{org} rows");
        let count = card["quarantine_reasons"][reason].as_u64();
        // Under the rule: a count of 1-7 is never shown; any other is its value rounded to 5
        // (or hidden by secondary suppression).
        if *n <= 7 {
            assert_eq!(count, None, "{org} {reason}: {n} shown");
            hidden += 1;
        } else if let Some(c) = count {
            assert_eq!(c, round5(*n), "{org} {reason}");
            shown += 1;
        } else {
            hidden += 1;
        }
        let field = match reason.as_str() {
            "duplicate_row" => Some("duplicate_percent"),
            "wrong_submitter" => Some("wrong_submitter_percent"),
            _ => None,
        };
        if let Some(field) = field {
            let expected =
                count.map(|c| (c as f64 * 100_000.0 / round5(rows[org]) as f64).round() / 1000.0);
            assert_eq!(card[field].as_f64(), expected, "{org} {field}");
        }
    }
    assert!(shown >= 3 && hidden >= 3, "shown {shown}, hidden {hidden}");
    // No quarantine reason the generator did not inject.
    for (org, card) in &cards {
        for (reason, _) in card["quarantine_reasons"].as_object().unwrap() {
            assert!(
                injected.contains_key(&(org.clone(), reason.clone())),
                "{org} {reason}"
            );
        }
    }
    // Late and missing files, per organisation.
    let (mut late, mut missing) = (0, 0);
    for r in csv_lines(&f.set.join("truth/submissions.csv")) {
        let card = cards[&r[1]];
        let listed = |field: &str| {
            card[field]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x.as_str().or_else(|| x["extract"].as_str()) == Some(r[0].as_str()))
        };
        match r[3].as_str() {
            "missing" => {
                missing += 1;
                assert!(listed("missing"), "{r:?}");
            }
            "late" => {
                late += 1;
                assert!(listed("late") && !listed("missing"), "{r:?}");
            }
            _ => assert!(!listed("late") && !listed("missing"), "{r:?}"),
        }
    }
    assert_eq!((late, missing), (2, 2));
}

/// `scripts/chromium.sh` installs Debian's Chromium when it is missing and prints its path.
fn chromium() -> PathBuf {
    let script = phm_testkit::repo_root().join("scripts/chromium.sh");
    let out = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn the_report_opens_in_headless_chromium_without_console_errors() {
    let f = fixture();
    let browser = chromium();
    let artifacts = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| phm_testkit::repo_root().join("target"), PathBuf::from)
        .join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let profile = f.dir.path().join("chromium-profile");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,4000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", f.run.join("report.html").display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "no screenshot"
    );
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Content Security Policy"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    eprintln!("report screenshot: {}", shot.display());
}

#[test]
fn purge_removes_what_is_past_retention_and_keeps_latest_and_the_audit_log() {
    let f = fixture();
    // A second run (another reference date) of the same roots; the first is then made old.
    let root = f.dir.path();
    let ids = || -> BTreeSet<String> {
        std::fs::read_dir(root.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.') && n != "latest")
            .collect()
    };
    let first = f.run.file_name().unwrap().to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        let mut c = phm();
        c.arg("run")
            .arg(root.join("icb.toml"))
            .arg("--runs")
            .arg(root.join("runs"))
            .arg("--identifiable")
            .arg(root.join("identifiable"))
            .arg("--key")
            .arg(root.join("k.key"))
            .args(extra);
        c
    };
    // Two more runs: B (made old below) and C (the latest). The fixture's run stays recent,
    // so the other tests that read it are not disturbed.
    ok(&mut run(&["--reference-date", "2025-03-01"]));
    let before = ids();
    ok(&mut run(&["--reference-date", "2025-02-01"]));
    let runs = ids();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let latest = std::fs::read_link(root.join("runs/latest")).unwrap();
    let latest_id = latest.file_name().unwrap().to_string_lossy().into_owned();
    let old_id = before.iter().find(|id| **id != first).unwrap().clone();
    assert!(old_id != latest_id && first != latest_id);
    let old = std::time::SystemTime::now() - std::time::Duration::from_hours(400 * 24);
    for path in [
        root.join("runs").join(&old_id).join("manifest.json"),
        root.join("identifiable/runs").join(&old_id),
    ] {
        std::fs::File::open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let purge = |extra: &[&str]| {
        let mut c = phm();
        c.arg("purge")
            .arg(root.join("icb.toml"))
            .arg("--runs")
            .arg(root.join("runs"))
            .arg("--identifiable")
            .arg(root.join("identifiable"))
            .args(["--user", "ig.officer"])
            .args(extra);
        c
    };
    let dry = ok(&mut purge(&["--dry-run"]));
    assert!(dry.contains(&old_id) && !dry.contains(&first), "{dry}");
    assert!(root.join("runs").join(&old_id).exists());
    let done = ok(&mut purge(&[]));
    assert!(done.contains(&old_id), "{done}");
    assert!(!root.join("runs").join(&old_id).exists());
    assert!(!root.join("identifiable/runs").join(&old_id).exists());
    for kept in [&first, &latest_id] {
        assert!(root.join("runs").join(kept).join("manifest.json").exists());
        assert!(root.join("identifiable/runs").join(kept).exists());
    }
    let log = root.join("identifiable/audit/purge.jsonl");
    let verified = ok(phm().args(["audit", "verify"]).arg(&log));
    assert!(verified.contains('1'), "{verified}");
    let shown = ok(phm().args(["audit", "show"]).arg(&log));
    assert!(
        shown.contains("purge") && shown.contains("ig.officer"),
        "{shown}"
    );
    // Nothing else is past retention now.
    assert!(ok(&mut purge(&[])).contains("Nothing past retention"));
}
