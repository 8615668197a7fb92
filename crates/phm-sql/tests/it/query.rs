//! `phm query` only reads: writes, definitions, settings, table functions and paths are
//! refused before planning, and the run's files are the same afterwards.

use phm_run::RunLayout;
use phm_sql::SessionSettings;
use phm_sql::query::{self, Format, QueryError};

fn query(run: &RunLayout, sql: &str) -> Result<String, QueryError> {
    query::run(run, sql, Format::Csv, None, &SessionSettings::default())
}

/// Run SQL that must be refused as a write or a read outside the run; nothing under `root`
/// may change and `must_not_exist` must not appear.
fn assert_refused(root: &std::path::Path, run: &RunLayout, sql: &str) {
    let before = crate::hash_tree(root);
    let err = query(run, sql).unwrap_err();
    assert!(
        matches!(err, QueryError::ReadOnly { .. }),
        "{sql}: not refused as read-only: {err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`phm query` only reads the run's published tables"),
        "{sql}: {msg}"
    );
    let hint = msg.split_once("hint:").map(|(_, h)| h).unwrap_or_default();
    for t in [
        "gp_registrations",
        "gp_events",
        "spine",
        "features",
        "scores",
    ] {
        assert!(
            hint.contains(&format!("`{t}`")),
            "{sql}: {t} not listed: {msg}"
        );
    }
    assert_eq!(
        crate::hash_tree(root),
        before,
        "{sql}: files changed or were created"
    );
}

#[test]
fn copy_to_is_refused_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    let target = tmp.path().join("copy.parquet");
    assert_refused(
        tmp.path(),
        &run,
        &format!(
            "COPY (SELECT * FROM spine) TO '{}' STORED AS PARQUET",
            target.display()
        ),
    );
    assert!(!target.exists());
    // The case: COPY over the run's own spine.
    let spine = run.linked_table("spine");
    assert_refused(
        tmp.path(),
        &run,
        &format!("COPY features TO '{}' STORED AS PARQUET", spine.display()),
    );
}

#[test]
fn create_external_table_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    assert_refused(
        tmp.path(),
        &run,
        &format!(
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '{}'",
            tmp.path().join("x").display()
        ),
    );
    assert!(!tmp.path().join("x").exists());
}

#[test]
fn create_table_as_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    assert_refused(tmp.path(), &run, "CREATE TABLE x AS SELECT * FROM spine");
}

#[test]
fn create_view_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    assert_refused(
        tmp.path(),
        &run,
        "CREATE VIEW v AS SELECT pseudonym FROM spine",
    );
}

#[test]
fn insert_into_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    assert_refused(
        tmp.path(),
        &run,
        "INSERT INTO spine VALUES ('p3', 'A81001', 30)",
    );
    assert_refused(tmp.path(), &run, "INSERT INTO spine SELECT * FROM spine");
}

#[test]
fn set_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    assert_refused(
        tmp.path(),
        &run,
        "SET datafusion.execution.target_partitions = 1",
    );
    assert_refused(
        tmp.path(),
        &run,
        "SET datafusion.catalog.information_schema = true",
    );
}

#[test]
fn a_path_as_a_table_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    assert_refused(tmp.path(), &run, "SELECT * FROM '/etc/passwd'");
    let spine = run.linked_table("spine");
    for sql in [
        format!("SELECT * FROM '{}'", spine.display()),
        format!("SELECT * FROM \"{}\"", spine.display()),
        "SELECT * FROM 'https://example.invalid/x.parquet'".to_owned(),
        format!(
            "SELECT * FROM spine WHERE pseudonym IN (SELECT pseudonym FROM '{}')",
            spine.display()
        ),
        format!(
            "WITH s AS (SELECT * FROM '{}') SELECT * FROM s",
            spine.display()
        ),
    ] {
        assert_refused(tmp.path(), &run, &sql);
    }
}

#[test]
fn a_table_function_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    let spine = run.linked_table("spine");
    assert_refused(
        tmp.path(),
        &run,
        &format!("SELECT * FROM read_parquet('{}')", spine.display()),
    );
    assert_refused(tmp.path(), &run, "SELECT * FROM generate_series(1, 3)");
    assert_refused(
        tmp.path(),
        &run,
        &format!(
            "SELECT * FROM spine JOIN read_csv('{}') AS c ON true",
            spine.display()
        ),
    );
}

#[test]
fn other_statements_are_refused_and_only_one_statement_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    for sql in [
        "DROP TABLE spine",
        "EXPLAIN SELECT * FROM spine",
        "SHOW TABLES",
        "DELETE FROM spine",
        "RESET datafusion.execution.target_partitions",
    ] {
        assert_refused(tmp.path(), &run, sql);
    }
    let before = crate::hash_tree(tmp.path());
    let target = tmp.path().join("second.parquet");
    let sql = format!(
        "SELECT 1; COPY (SELECT 1) TO '{}' STORED AS PARQUET",
        target.display()
    );
    assert!(query(&run, &sql).is_err());
    assert_eq!(crate::hash_tree(tmp.path()), before);
}

#[test]
fn unknown_tables_are_named_with_the_list_of_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    for (sql, table) in [
        ("SELECT * FROM gp_event", "gp_event"),
        (
            "SELECT * FROM spine JOIN featurez USING (pseudonym)",
            "featurez",
        ),
        (
            "SELECT * FROM information_schema.tables",
            "information_schema.tables",
        ),
    ] {
        let err = query(&run, sql).unwrap_err();
        match &err {
            QueryError::UnknownTable { table: t, .. } => assert_eq!(t, table, "{sql}"),
            other => panic!("{sql}: {other}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("hint:") && msg.contains("`gp_events`") && msg.contains("`features`"),
            "{msg}"
        );
    }
    // A common table expression is not a table of the run, and not unknown either.
    let csv = query(
        &run,
        "WITH s AS (SELECT * FROM spine) SELECT COUNT(*) AS n FROM s JOIN Features USING (pseudonym)",
    )
    .unwrap();
    assert_eq!(csv, "n\n2\n");
}

#[test]
fn queries_read_every_table_and_the_identifiable_zone_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    let before = crate::hash_tree(tmp.path());
    let csv = query(
        &run,
        "SELECT s.pseudonym, s.age, f.gp_contacts_12m, c.efi, r.registration_start, \
         (SELECT COUNT(*) FROM gp_events e WHERE e.pseudonym = s.pseudonym) AS events \
         FROM spine s JOIN features f ON f.pseudonym = s.pseudonym \
         JOIN scores c ON c.pseudonym = s.pseudonym \
         JOIN gp_registrations r ON r.pseudonym = s.pseudonym ORDER BY s.pseudonym",
    )
    .unwrap();
    assert_eq!(
        csv,
        "pseudonym,age,gp_contacts_12m,efi,registration_start,events\np1,64,1,0.5,2010-01-01,1\np2,40,0,0.0,2015-06-01,0\n"
    );
    for sql in [
        "SELECT * FROM quarantine",
        "select * from Vault",
        "SELECT 1 FROM audit",
    ] {
        let err = query(&run, sql).unwrap_err();
        assert!(matches!(err, QueryError::Identifiable(_)), "{sql}: {err}");
        assert!(err.to_string().contains("identifiable zone"));
    }
    let tables = query::describe(&run, &SessionSettings::default()).unwrap();
    let names: Vec<&str> = tables
        .lines()
        .filter_map(|l| l.strip_prefix("## `")?.strip_suffix('`'))
        .collect();
    assert_eq!(
        names,
        [
            "gp_registrations",
            "gp_events",
            "features",
            "spine",
            "scores"
        ]
    );
    assert_eq!(crate::hash_tree(tmp.path()), before);
}

#[test]
fn results_are_written_outside_the_run_only() {
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::small_run(tmp.path());
    let settings = SessionSettings::default();
    let sql = "SELECT pseudonym, age FROM spine ORDER BY pseudonym";
    for (format, name) in [
        (Format::Parquet, "q.parquet"),
        (Format::Csv, "q.csv"),
        (Format::Json, "q.json"),
        (Format::Table, "q.txt"),
    ] {
        let out = tmp.path().join(name);
        assert_eq!(
            query::run(&run, sql, format, Some(&out), &settings).unwrap(),
            ""
        );
        assert!(out.is_file(), "{name}");
    }
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("q.csv")).unwrap(),
        query(&run, sql).unwrap()
    );
    assert_eq!(
        phm_sql::parquet_rows(&tmp.path().join("q.parquet")),
        Some(2)
    );
    let before = crate::hash_tree(tmp.path());
    let inside = run.linked_table("spine");
    let err = query::run(&run, sql, Format::Parquet, Some(&inside), &settings).unwrap_err();
    assert!(matches!(err, QueryError::OutInsideRun { .. }), "{err}");
    assert_eq!(crate::hash_tree(tmp.path()), before);
    let err = query::run(&run, "SELECT 1", Format::Parquet, None, &settings).unwrap_err();
    assert!(err.to_string().contains("--out"), "{err}");
}
