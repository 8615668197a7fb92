//! `phm query` over a linked run: outputs other tools open unchanged, helpful errors, no
//! identifiable zone; and `phm link`'s published tables and failures.

use phm_run::RunLayout;
use phm_sql::SessionSettings;
use phm_sql::query::{self, Format, QueryError};

/// `phm query` with the default session.
fn q(
    run: &std::path::Path,
    sql: &str,
    format: Format,
    out: Option<&std::path::Path>,
) -> Result<String, QueryError> {
    query::run(
        &RunLayout::at(run),
        sql,
        format,
        out,
        &SessionSettings::default(),
    )
}

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
    let expected_rows = q(
        &run,
        "SELECT COUNT(*) AS n FROM features",
        Format::Csv,
        None,
    )
    .unwrap();
    let n: usize = expected_rows.lines().nth(1).unwrap().parse().unwrap();
    let out = tmp.path();
    q(&run, sql, Format::Parquet, Some(&out.join("q.parquet"))).unwrap();
    q(&run, sql, Format::Csv, Some(&out.join("q.csv"))).unwrap();
    q(&run, sql, Format::Json, Some(&out.join("q.json"))).unwrap();
    let stdout_csv = q(&run, sql, Format::Csv, None).unwrap();
    std::fs::write(out.join("stdout.csv"), &stdout_csv).unwrap();
    let stdout_json = q(&run, sql, Format::Json, None).unwrap();
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
    let table = q(
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
    let err = q(&run, "SELECT * FROM gp_event", Format::Table, None).unwrap_err();
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
        let err = q(&run, sql, Format::Table, None).unwrap_err();
        assert!(matches!(err, QueryError::Identifiable(_)), "{sql}: {err}");
        assert!(err.to_string().contains("identifiable zone"));
    }
    let tables = query::describe(&RunLayout::at(&run), &SessionSettings::default()).unwrap();
    for t in ["gp_registrations", "apc", "spine", "features"] {
        assert!(
            tables.lines().any(|l| l == format!("## `{t}`")),
            "{t} missing:\n{tables}"
        );
    }
    // No identifiable table or column (meanings may mention quarantine, tables may not).
    assert!(!tables.contains("## `quarantine") && !tables.contains("| `nhs_number` |"));
    let err = q(&run, "SELECT 1", Format::Parquet, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn a_failed_link_leaves_the_previous_tables_whole() {
    let (tmp, run) = sample_run();
    let before = std::fs::read(run.join("linked/features.parquet")).unwrap();
    let spine_before = std::fs::read(run.join("linked/spine.parquet")).unwrap();
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
    let cfg = crate::config(&run, Some(sql));
    let err = crate::link_committed(&cfg).unwrap_err();
    assert!(err.to_string().contains("02_features.sql"), "{err}");
    assert_eq!(
        std::fs::read(run.join("linked/features.parquet")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read(run.join("linked/spine.parquet")).unwrap(),
        spine_before
    );
    assert!(!run.join(".linked.partial").exists());
}

#[test]
fn a_missing_extract_is_named_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("synth");
    phm_testkit::synth(&set, 200, 2, 3, 0.0);
    std::fs::remove_dir_all(set.join("extracts/mental_health")).unwrap();
    let run = crate::ingest(&set.join("extracts"), None, tmp.path());
    let cfg = crate::config(&run, None);
    let err = crate::link_committed(&cfg).unwrap_err();
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
    assert!(!run.join(".linked.partial").exists());
}

#[test]
fn published_tables_are_in_pseudonym_order_with_unique_pseudonyms() {
    let (_tmp, run) = sample_run();
    for table in ["spine", "features"] {
        let path = RunLayout::at(&run).linked_table(table);
        let file = std::fs::File::open(&path).unwrap();
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 8192)
                .unwrap();
        let mut pseudonyms = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let col = datafusion::arrow::compute::cast(
                batch.column_by_name("pseudonym").unwrap(),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            let col = col
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .unwrap();
            pseudonyms.extend(col.iter().map(|p| p.unwrap().to_owned()));
        }
        assert!(
            pseudonyms.windows(2).all(|w| w[0] < w[1]),
            "{table} is not in strict pseudonym order"
        );
        assert!(pseudonyms.len() > 100, "{table}: {} rows", pseudonyms.len());
    }
}

#[test]
fn linked_a_year_earlier_ages_are_a_year_less_and_banded_again() {
    let (_tmp, run) = sample_run();
    let earlier = run.join("history-2024");
    std::fs::create_dir_all(&earlier).unwrap();
    let mut cfg = crate::common::config(&run, None);
    let reference = phm_contract::date::from_ymd(2025, 4, 1);
    cfg.dates = phm_sql::Dates::new(phm_contract::date::from_ymd(2024, 4, 1), 12, 24, 12)
        .with_ages_as_of(reference);
    phm_link::link(&cfg, &earlier).unwrap();
    // Patients in both spines: a year younger a year earlier, banded as ingest bands.
    let sql = "SELECT count(*) AS n, \
         sum(CASE WHEN e.age = s.age - 1 THEN 0 ELSE 1 END) AS wrong_age, \
         sum(CASE WHEN e.age_band = CASE WHEN e.age >= 90 THEN '90+' \
              ELSE concat(CAST(e.age / 5 * 5 AS VARCHAR), '-', CAST(e.age / 5 * 5 + 4 AS VARCHAR)) END \
              THEN 0 ELSE 1 END) AS wrong_band, \
         sum(CASE WHEN e.age_band <> s.age_band THEN 1 ELSE 0 END) AS rebanded \
         FROM spine s JOIN read_parquet_earlier e ON e.pseudonym = s.pseudonym";
    let ctx = phm_sql::session(&SessionSettings::default()).unwrap();
    let counts = phm_sql::block_on::<_, phm_sql::SqlError>(async {
        ctx.register_parquet(
            "spine",
            RunLayout::at(&run).linked_table("spine").to_str().unwrap(),
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        ctx.register_parquet(
            "read_parquet_earlier",
            earlier.join("spine.parquet").to_str().unwrap(),
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        Ok(ctx.sql(sql).await.unwrap().collect().await.unwrap())
    })
    .unwrap();
    let b = &counts[0];
    let get = |i: usize| {
        datafusion::arrow::compute::cast(
            b.column(i),
            &datafusion::arrow::datatypes::DataType::Int64,
        )
        .unwrap()
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap()
        .value(0)
    };
    assert!(get(0) > 300, "{} patients in both spines", get(0));
    assert_eq!(get(1), 0, "ages not one year less");
    assert_eq!(get(2), 0, "bands not recomputed from the shifted age");
    assert!(get(3) > 0, "some patients change band in a year");
}
