//! `phm query`: outputs other tools open unchanged, helpful errors, no identifiable zone.

use phm_link::query::{self, Format, QueryError};

fn sample_run() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("synth");
    phm_testkit::synth(&set, 600, 3, 9, 0.0);
    let run = crate::ingest(
        &set.join("extracts"),
        Some(&set.join("lookups/postcode_lsoa.csv")),
        tmp.path(),
    );
    crate::link(&run);
    (tmp, run)
}

#[test]
fn outputs_open_in_duckdb_polars_and_pyarrow() {
    let (tmp, run) = sample_run();
    let sql = "SELECT pseudonym, age, age_band, emergency_admissions_12m, months_since_last_emergency_admission FROM features ORDER BY pseudonym";
    let expected_rows = query::run(
        &run,
        "SELECT COUNT(*) AS n FROM features",
        Format::Csv,
        None,
    )
    .unwrap();
    let n: usize = expected_rows.lines().nth(1).unwrap().parse().unwrap();
    let out = tmp.path();
    query::run(&run, sql, Format::Parquet, Some(&out.join("q.parquet"))).unwrap();
    query::run(&run, sql, Format::Csv, Some(&out.join("q.csv"))).unwrap();
    query::run(&run, sql, Format::Json, Some(&out.join("q.json"))).unwrap();
    let stdout_csv = query::run(&run, sql, Format::Csv, None).unwrap();
    std::fs::write(out.join("stdout.csv"), &stdout_csv).unwrap();
    let stdout_json = query::run(&run, sql, Format::Json, None).unwrap();
    std::fs::write(out.join("stdout.json"), &stdout_json).unwrap();
    let script = r#"
import sys, duckdb, polars as pl, pyarrow.parquet as pq, pyarrow.csv as pc, pyarrow.json as pj
d = sys.argv[1]
counts = []
for f in ["q.parquet"]:
    counts += [duckdb.sql(f"SELECT COUNT(*) FROM '{d}/{f}'").fetchall()[0][0], pl.read_parquet(f"{d}/{f}").height, pq.read_table(f"{d}/{f}").num_rows]
for f in ["q.csv", "stdout.csv"]:
    counts += [duckdb.sql(f"SELECT COUNT(*) FROM read_csv('{d}/{f}')").fetchall()[0][0], pl.read_csv(f"{d}/{f}").height, pc.read_csv(f"{d}/{f}").num_rows]
for f in ["q.json", "stdout.json"]:
    counts += [duckdb.sql(f"SELECT COUNT(*) FROM read_json('{d}/{f}')").fetchall()[0][0], pl.read_ndjson(f"{d}/{f}").height, pj.read_json(f"{d}/{f}").num_rows]
cols = pl.read_parquet(f"{d}/q.parquet").columns
print("counts", sorted(set(counts)), "columns", ",".join(cols))
"#;
    let report = phm_testkit::run_oracle(script, &[out]);
    assert!(report.contains(&format!("counts [{n}]")), "{report}");
    assert!(report.contains("columns pseudonym,age,age_band,emergency_admissions_12m,months_since_last_emergency_admission"), "{report}");
    let table = query::run(
        &run,
        "SELECT age_band, COUNT(*) AS n FROM spine GROUP BY age_band ORDER BY age_band",
        Format::Table,
        None,
    )
    .unwrap();
    assert!(
        table.contains("| age_band") && table.contains("60-64"),
        "{table}"
    );
}

#[test]
fn unknown_tables_list_what_can_be_queried_and_the_identifiable_zone_is_refused() {
    let (_tmp, run) = sample_run();
    let err = query::run(&run, "SELECT * FROM gp_event", Format::Table, None).unwrap_err();
    assert!(matches!(err, QueryError::UnknownTable { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("gp_events") && msg.contains("features") && msg.contains("hint:"),
        "{msg}"
    );
    for sql in [
        "SELECT * FROM quarantine",
        "select * from Vault",
        "SELECT 1 FROM audit",
    ] {
        let err = query::run(&run, sql, Format::Table, None).unwrap_err();
        assert!(matches!(err, QueryError::Identifiable(_)), "{sql}: {err}");
        assert!(err.to_string().contains("identifiable zone"));
    }
    let tables = query::describe(&run).unwrap();
    for t in ["gp_registrations", "apc", "spine", "features"] {
        assert!(tables.lines().any(|l| l == t), "{t} missing:\n{tables}");
    }
    assert!(!tables.contains("quarantine") && !tables.contains("nhs_number"));
    let err = query::run(&run, "SELECT 1", Format::Parquet, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn a_failed_link_leaves_the_previous_tables_whole() {
    let (tmp, run) = sample_run();
    let before = std::fs::read(run.join("linked/features.parquet")).unwrap();
    let sql = tmp.path().join("bad-sql");
    std::fs::create_dir_all(&sql).unwrap();
    std::fs::write(
        sql.join("01_spine.sql"),
        "SELECT pseudonym FROM gp_registrations",
    )
    .unwrap();
    std::fs::write(
        sql.join("02_features.sql"),
        "SELECT no_such_column FROM spine",
    )
    .unwrap();
    let cfg = phm_link::LinkConfig {
        run: run.clone(),
        sql_dir: Some(sql),
        dates: phm_link::Dates::new(phm_contract::date::from_ymd(2025, 4, 1), 12, 24, 12),
        memory_limit: 256 << 20,
        spill_dir: None,
    };
    let err = phm_link::link(&cfg, &run.join("linked")).unwrap_err();
    assert!(err.to_string().contains("02_features.sql"), "{err}");
    assert_eq!(
        std::fs::read(run.join("linked/features.parquet")).unwrap(),
        before
    );
    assert!(run.join("linked/spine.parquet").exists());
    assert!(!run.join(".linked.partial").exists());
}

#[test]
fn a_missing_extract_is_named_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("synth");
    phm_testkit::synth(&set, 200, 2, 3, 0.0);
    std::fs::remove_dir_all(set.join("extracts/mental_health")).unwrap();
    let run = crate::ingest(&set.join("extracts"), None, tmp.path());
    let cfg = phm_link::LinkConfig {
        run: run.clone(),
        sql_dir: None,
        dates: phm_link::Dates::new(phm_contract::date::from_ymd(2025, 4, 1), 12, 24, 12),
        memory_limit: 256 << 20,
        spill_dir: None,
    };
    let err = phm_link::link(&cfg, &run.join("linked")).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, phm_link::LinkError::MissingExtract { ref extract, .. } if extract == "mental_health"),
        "{msg}"
    );
    assert!(
        msg.contains("03_activity.sql") && msg.contains("hint:"),
        "{msg}"
    );
    assert!(!run.join("linked/features.parquet").exists());
}
