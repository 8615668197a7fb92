//! The pseudonymised zone as SQL users meet it: provider record numbers keyed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array as _, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::common::{ok, phm};

fn sample() -> std::path::PathBuf {
    phm_testkit::repo_root().join("data-samples/synth")
}

/// Spell id → its keyed form, from the sample's admitted-care files.
fn keyed_spells(key: &Path) -> BTreeMap<String, String> {
    let key = phm_ingest::PseudonymKey::load(key).unwrap();
    let p = phm_ingest::pseudo::Pseudonymiser::new(&key);
    let mut out = BTreeMap::new();
    for f in phm_testkit::files_under(&sample().join("extracts/apc"), Some("csv")) {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let Some(i) = header.iter().position(|h| *h == "spell_id") else {
            continue;
        };
        for line in lines {
            if let Some(v) = line.split(',').nth(i).filter(|v| !v.is_empty()) {
                out.insert(p.record_id(v).as_str().to_owned(), v.to_owned());
            }
        }
    }
    out
}

/// A run of pipeline/demo.toml on the committed sample (made once per test binary).
fn demo_run() -> &'static Path {
    static RUN: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    let (_, run) = RUN.get_or_init(|| {
        let tmp = phm_testkit::fixture_dir();
        let key = tmp.path().join("k.key");
        ok(phm().args(["key", "new", "--out"]).arg(&key));
        let identifiable = crate::common::private_dir(&tmp.path().join("identifiable"));
        let run = crate::common::run_pipeline(
            &phm_testkit::repo_root().join("pipeline/demo.toml"),
            &tmp.path().join("runs"),
            &identifiable,
            &key,
        );
        (tmp, run)
    });
    run
}

/// An ICD-10 code as written by a feed, normalised apart from phm's own: dots and spaces
/// gone, upper case, the letter and the digits that follow it (at most four).
fn normalised(raw: &str) -> Option<String> {
    let bare: String = raw
        .chars()
        .filter(|c| *c != '.' && !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let mut chars = bare.chars();
    let letter = chars.next().filter(char::is_ascii_uppercase)?;
    let digits: String = chars.take_while(char::is_ascii_digit).take(4).collect();
    (digits.len() >= 2).then(|| format!("{letter}{digits}"))
}

/// Admitted-care episodes whose secondary diagnoses hold `code`, as the generator's truth
/// implies for the committed sample: every row of its `apc` files but those its
/// `truth/defects.csv` says are quarantined and those of patients `truth/opt_outs.csv` says
/// are opted out (type 1 dissent in force, or a programme opt-out), codes normalised here.
fn truth_count(code: &str) -> usize {
    let sample = sample();
    let defects = std::fs::read_to_string(sample.join("truth/defects.csv")).unwrap();
    let quarantined: std::collections::BTreeSet<(String, u64)> = defects
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() >= 5 && !f[4].is_empty())
        .map(|f| (f[0].to_owned(), f[1].parse().unwrap()))
        .collect();
    let opt_outs = std::fs::read_to_string(sample.join("truth/opt_outs.csv")).unwrap();
    let opted_out: std::collections::BTreeSet<String> = opt_outs
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[1] == "dissent" || f[2] == "1")
        .map(|f| f[0].to_owned())
        .collect();
    let mut n = 0;
    for file in phm_testkit::files_under(&sample.join("extracts/apc"), Some("csv")) {
        let rel = format!(
            "extracts/apc/{}",
            file.file_name().unwrap().to_string_lossy()
        );
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for (i, line) in text.lines().enumerate().skip(1) {
            if quarantined.contains(&(rel.clone(), i as u64 + 1)) {
                continue;
            }
            let f: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
            let nhs: String = f[0].chars().filter(char::is_ascii_digit).collect();
            if opted_out.contains(&nhs) {
                continue;
            }
            if f[9]
                .split(';')
                .any(|c| normalised(c).as_deref() == Some(code))
            {
                n += 1;
            }
        }
    }
    n
}

/// `array_has(secondary_diagnoses, 'I500')` in `phm query` and DuckDB's `list_contains` over
/// the zone's files count what the generator's truth implies, and the primary diagnoses are
/// normalised (no dots, no fillers, upper case).
#[test]
fn secondary_diagnoses_are_lists_that_phm_query_and_duckdb_search_alike() {
    let run = demo_run();
    let expected = truth_count("I500");
    assert!(expected > 5, "{expected}");
    let phm_count = ok(phm()
        .args(["query", "--format", "csv", "--run"])
        .arg(run)
        .arg("SELECT count(*) AS n FROM apc WHERE array_has(secondary_diagnoses, 'I500')"));
    assert_eq!(phm_count.trim(), format!("n\n{expected}"));
    let script = "import sys, duckdb\n\
        n = duckdb.execute(f\"SELECT count(*) FROM read_parquet('{sys.argv[1]}/pseudonymised/apc/*.parquet') \
        WHERE list_contains(secondary_diagnoses, 'I500')\").fetchone()[0]\n\
        bad = duckdb.execute(f\"SELECT count(*) FROM read_parquet('{sys.argv[1]}/pseudonymised/apc/*.parquet') \
        WHERE NOT regexp_full_match(primary_diagnosis, '[A-Z][0-9]{{2,4}}')\").fetchone()[0]\n\
        print(n, bad)\n";
    let duck = phm_testkit::run_oracle(script, &[run]);
    assert_eq!(duck.trim(), format!("{expected} 0"));
}

/// The link groups episodes into spells exactly as it did on the trust's own spell ids: the
/// spine, features and scores of the zone as ingest writes it (keyed spell ids) are
/// byte-identical to those of a copy whose spell ids are put back in clear.
#[test]
fn keyed_spell_ids_leave_spine_features_and_scores_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k.key");
    ok(phm().args(["key", "new", "--out"]).arg(&key));
    let pipeline = phm_testkit::repo_root().join("pipeline/demo.toml");
    let keyed = tmp.path().join("keyed");
    ok(phm()
        .args(["ingest", "--pipeline"])
        .arg(&pipeline)
        .arg("--key")
        .arg(&key)
        .arg("--out")
        .arg(&keyed));
    let clear = tmp.path().join("clear");
    ok(std::process::Command::new("cp")
        .arg("-a")
        .arg(&keyed)
        .arg(&clear));
    let spells = keyed_spells(&key);
    let mut replaced = 0;
    for f in phm_testkit::files_under(&clear.join("pseudonymised/apc"), Some("parquet")) {
        let batch = phm_sql::read_table(&f).unwrap();
        let i = batch.schema().index_of("spell_id").unwrap();
        let text = cast(batch.column(i), &DataType::Utf8).unwrap();
        let text = text.as_any().downcast_ref::<StringArray>().unwrap();
        let back: StringArray = text
            .iter()
            .map(|v| {
                let v = v.unwrap();
                assert!(
                    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{v}"
                );
                replaced += 1;
                Some(spells[v].clone())
            })
            .collect();
        let back = cast(&back, batch.schema().field(i).data_type()).unwrap();
        let mut columns = batch.columns().to_vec();
        columns[i] = Arc::new(back) as _;
        let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        std::fs::remove_file(&f).unwrap();
        phm_sql::write_batches(
            batch.schema(),
            [batch],
            &f,
            "apc",
            phm_sql::published_compression(),
        )
        .unwrap();
    }
    assert!(replaced > 500, "{replaced}");
    for run in [&keyed, &clear] {
        for stage in ["link", "score"] {
            ok(phm()
                .arg(stage)
                .arg("--pipeline")
                .arg(&pipeline)
                .arg("--run")
                .arg(run));
        }
    }
    for file in [
        "linked/spine.parquet",
        "linked/features.parquet",
        "scores/scores.parquet",
    ] {
        assert_eq!(
            std::fs::read(keyed.join(file)).unwrap(),
            std::fs::read(clear.join(file)).unwrap(),
            "{file}"
        );
    }
}

/// `phm query --tables` on the demo's run lists every column of every table the run wrote
/// (each Parquet file's schema read on its own), with a meaning for each; the committed
/// docs/data-dictionary.md is that output.
#[test]
fn the_data_dictionary_lists_every_column_of_every_table_and_the_doc_is_current() {
    let root = phm_testkit::repo_root();
    let run = demo_run();
    let dictionary = ok(phm().args(["query", "--tables", "--run"]).arg(run));
    assert!(
        !dictionary.contains(phm_sql::dictionary::UNDOCUMENTED),
        "a column has no entry in sql/dictionary.toml or its contract:\n{dictionary}"
    );
    let section = |table: &str| -> String {
        let start = dictionary
            .find(&format!("## `{table}`\n"))
            .unwrap_or_else(|| panic!("no table `{table}` in the dictionary"));
        let rest = &dictionary[start + 4..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
    };
    let mut checked = 0;
    for file in phm_testkit::files_under(run, Some("parquet")) {
        let relative = file.strip_prefix(run).unwrap();
        let table = match relative.iter().next().and_then(|f| f.to_str()) {
            Some("pseudonymised") => relative
                .iter()
                .nth(1)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            Some("history") => continue, // the risk stage's earlier years, not queryable
            _ => file.file_stem().unwrap().to_string_lossy().into_owned(),
        };
        let text = section(&table);
        for field in phm_sql::read_table(&file).unwrap().schema().fields() {
            assert!(
                text.contains(&format!("\n| `{}` |", field.name())),
                "{table}.{} is not in the dictionary",
                field.name()
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
    let doc = std::fs::read_to_string(root.join("docs/data-dictionary.md")).unwrap();
    let head = std::fs::read_to_string(root.join("docs/data-dictionary.head.md")).unwrap();
    assert!(
        doc == format!("{head}{dictionary}"),
        "docs/data-dictionary.md is out of date\nhint: run scripts/data-dictionary.sh"
    );
}

/// No spell id of the input, in clear, in any file of a whole run's pseudonymised folder
/// (extracts, linked tables, scores, risk, aggregates, report, manifests): raw bytes and
/// every decoded Parquet value. The keyed form is there instead.
#[test]
fn no_spell_id_in_clear_reaches_any_file_of_a_run() {
    let run = demo_run();
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k.key");
    ok(phm().args(["key", "new", "--out"]).arg(&key));
    let clear: Vec<String> = keyed_spells(&key).into_values().collect();
    assert!(clear.len() > 500 && clear.iter().all(|s| s.len() >= 6));
    let clear: std::collections::BTreeSet<String> = clear.into_iter().collect();
    let mut scanned = 0;
    for file in phm_testkit::files_under(run, None) {
        let bytes = std::fs::read(&file).unwrap();
        let raw = String::from_utf8_lossy(&bytes);
        let mut values: Vec<String> = Vec::new();
        if file.extension().is_some_and(|x| x == "parquet") {
            let batch = phm_sql::read_table(&file).unwrap();
            for column in batch.columns() {
                let f = datafusion::arrow::util::display::ArrayFormatter::try_new(
                    column.as_ref(),
                    &datafusion::arrow::util::display::FormatOptions::default(),
                )
                .unwrap();
                values.extend((0..batch.num_rows()).map(|i| f.value(i).to_string()));
            }
        }
        for s in &clear {
            assert!(
                !raw.contains(s.as_str()),
                "{}: a spell id in its bytes",
                file.display()
            );
        }
        assert!(
            values.iter().all(|v| !clear.contains(v)),
            "{}: a spell id in its values",
            file.display()
        );
        scanned += 1;
    }
    assert!(scanned > 30, "{scanned}");
}
