//! The same `sql/` files, run unchanged by DuckDB over the same Parquet, give the same
//! feature table on a 10,000-patient synthetic set.

use std::path::Path;

/// Runs `sql/` in DuckDB: registers the datasets as views, binds `$name` parameters as date
/// literals (its own binding, written independently of phm's), creates each step as a table,
/// and compares the feature table with phm's row by row.
const DUCKDB: &str = r#"
import sys, glob, os, re, duckdb, pyarrow.parquet as pq
run, sql_dir = sys.argv[1], sys.argv[2]
params = {"reference_date": "2025-04-01", "start_12m": "2024-04-01", "start_24m": "2023-04-01", "outcome_end": "2026-04-01", "ages_as_of": "2025-04-01"}
con = duckdb.connect()
for d in sorted(glob.glob(os.path.join(run, "pseudonymised", "*"))):
    con.execute(f"CREATE VIEW {os.path.basename(d)} AS SELECT * FROM read_parquet('{d}/*.parquet')")
for f in sorted(glob.glob(os.path.join(sql_dir, "*.sql"))):
    name = re.sub(r"^\d+_", "", os.path.basename(f)[:-4])
    text = re.sub(r"\$(\w+)", lambda m: "DATE '%s'" % params[m.group(1)], open(f).read())
    con.execute(f"CREATE TABLE {name} AS {text}")
duck = con.execute("SELECT * FROM features ORDER BY pseudonym").to_arrow_table()
phm = pq.read_table(os.path.join(run, "linked", "features.parquet"))
assert duck.column_names == phm.column_names, (duck.column_names, phm.column_names)
d_rows, p_rows = duck.to_pylist(), phm.to_pylist()
assert len(d_rows) == len(p_rows), (len(d_rows), len(p_rows))
bad = [(a, b) for a, b in zip(d_rows, p_rows) if a != b]
print("rows", len(p_rows), "columns", len(phm.column_names), "differences", len(bad))
for a, b in bad[:3]:
    print({k: (a[k], b[k]) for k in a if a[k] != b[k]})
"#;

#[test]
fn duckdb_runs_the_same_sql_to_the_same_feature_table() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("synth");
    phm_testkit::synth(&set, 10_000, 8, 5, phm_synth::params::DEFAULT_DEFECT_RATE);
    let run = crate::ingest(
        &set.join("extracts"),
        Some(&set.join("lookups/postcode_lsoa.csv")),
        tmp.path(),
    );
    let n = crate::link(&run);
    assert!(n > 7_000, "{n} patients in the spine");
    let sql = phm_testkit::repo_root().join("sql");
    let report = phm_testkit::run_oracle(DUCKDB, &[run.as_path(), sql.as_path()]);
    assert!(
        report.contains(&format!("rows {n} columns 26 differences 0")),
        "{report}"
    );
    let _ = Path::new(".");
}
