//! The SQL tests analysts read: `sql/test/*.slt`, run by `sqllogictest` over `phm query`'s
//! read-only engine.
//!
//! The harness writes the hand-built fixture's extracts, ingests them with a fixed key, links
//! them with the repository's `sql/` as of 2025-04-01 (as `phm link` does), and opens the run
//! with `phm_sql::query::QuerySession`: the extracts, `spine` and `features`, plus
//! `fixture_patients (k, pseudonym)` naming each fixture patient's pseudonym. Each `.slt`
//! file then runs its statements and queries against that session and compares the results
//! with the ones written in the file.
//!
//! ```text
//! cargo test --workspace --test slt                  # every file
//! cargo test --workspace --test slt -- spine         # files whose name contains `spine`
//! cargo test --workspace --test slt -- --complete    # rewrite the expected results
//! ```

#[path = "../common/mod.rs"]
mod common;
mod fixture;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use phm_contract::NhsNumber;
use phm_run::RunLayout;
use phm_sql::query::{QueryError, QuerySession};
use sqllogictest::{ColumnType, DBOutput};

/// A result column's type letter: `I` integer, `R` floating point or decimal, `T` text, `D`
/// date or time, `B` boolean, `?` anything else (lists, structs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Integer,
    Float,
    Text,
    Date,
    Boolean,
    Other,
}

impl ColumnType for Column {
    fn from_char(value: char) -> Option<Self> {
        Some(match value {
            'I' => Column::Integer,
            'R' => Column::Float,
            'T' => Column::Text,
            'D' => Column::Date,
            'B' => Column::Boolean,
            '?' => Column::Other,
            _ => return None,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Column::Integer => 'I',
            Column::Float => 'R',
            Column::Text => 'T',
            Column::Date => 'D',
            Column::Boolean => 'B',
            Column::Other => '?',
        }
    }
}

fn column_type(t: &DataType) -> Column {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Column::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Column::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Column::Text,
        DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::Time32(_)
        | DataType::Time64(_) => Column::Date,
        DataType::Boolean => Column::Boolean,
        _ => Column::Other,
    }
}

/// A cell as text, as DataFusion's own `.slt` runner shows it: `NULL` for a null, `(empty)`
/// for an empty text (a blank would vanish in the file), Arrow's display otherwise (dates
/// `YYYY-MM-DD`, whole floats without `.0`, lists `[a, b]`).
fn cell(column: &ArrayRef, row: usize) -> Result<String, QueryError> {
    if column.is_null(row) {
        return Ok("NULL".to_owned());
    }
    let options = FormatOptions::default();
    let text = ArrayFormatter::try_new(column.as_ref(), &options)
        .map_err(|e| phm_sql::failed("format", &e))?
        .value(row)
        .to_string();
    Ok(if text.is_empty() {
        "(empty)".to_owned()
    } else {
        text
    })
}

/// `phm query`'s engine over the fixture run, as a database `sqllogictest` drives.
struct Fixture(QuerySession);

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Fixture {
    type Error = QueryError;
    type ColumnType = Column;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Column>, QueryError> {
        let df = self.0.sql(sql).await?;
        let types = df
            .schema()
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let batches = df.collect().await.map_err(phm_sql::engine("query"))?;
        let mut rows = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| cell(c, row))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    // The trait ties the name to `self`; this one is static.
    #[allow(clippy::unnecessary_literal_bound)]
    fn engine_name(&self) -> &str {
        "phm"
    }
}

/// Build the fixture run under `root` and open it read-only, with `fixture_patients`.
fn fixture(root: &Path) -> QuerySession {
    let extracts = root.join("extracts");
    fixture::extracts(&extracts);
    let lookup = root.join("lookup.csv");
    std::fs::write(
        &lookup,
        "postcode,lsoa_code,imd_decile\nLS1 0AB,E01900001,3\n",
    )
    .unwrap();
    let run = RunLayout::at(common::ingest(&extracts, Some(&lookup), root));
    common::link_committed(&common::config(
        run.path(),
        Some(phm_testkit::repo_root().join("sql")),
    ))
    .unwrap();

    let key = common::key();
    let mut p = phm_ingest::pseudo::Pseudonymiser::new(&key);
    let (ks, pseudonyms): (Vec<i64>, Vec<String>) = (1..=fixture::PATIENTS)
        .map(|k| {
            let nhs = NhsNumber::parse(&fixture::nhs(k)).unwrap();
            (i64::from(k), p.pseudonym(&nhs).as_str().to_owned())
        })
        .unzip();
    let patients = RecordBatch::try_from_iter([
        ("k", Arc::new(Int64Array::from(ks)) as ArrayRef),
        (
            "pseudonym",
            Arc::new(StringArray::from(pseudonyms)) as ArrayRef,
        ),
    ])
    .unwrap();
    phm_sql::block_on(async {
        let mut session = QuerySession::open(&run, &common::session()).await?;
        session.register_table("fixture_patients", patients)?;
        Ok::<_, QueryError>(session)
    })
    .unwrap()
}

/// The `.slt` files under `sql/test/`, in name order, kept when a filter is given and their
/// name contains one of the filters.
fn slt_files(filters: &[String]) -> Vec<PathBuf> {
    let dir = phm_testkit::repo_root().join("sql/test");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
        })
        .collect();
    files.sort();
    files
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> std::process::ExitCode {
    // Flags for libtest (`--nocapture`, `--test-threads=2`, ...) are accepted and ignored; other
    // words are file-name filters, as `cargo test -- NAME` passes them to every test binary.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let complete = args.iter().any(|a| a == "--complete");
    let filters: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    let files = slt_files(&filters);
    if files.is_empty() {
        println!("slt: no file of sql/test matches {filters:?}\n0 passed, 0 failed");
        return std::process::ExitCode::SUCCESS;
    }
    let tmp = tempfile::tempdir().unwrap();
    let session = fixture(tmp.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let name = file
            .strip_prefix(phm_testkit::repo_root())
            .unwrap_or(file)
            .display();
        let s = session.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let s = s.clone();
            async move { Ok(Fixture(s)) }
        });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        let result = if complete {
            rt.block_on(runner.update_test_file(
                file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::strict_column_validator,
            ))
            .map_err(|e| e.to_string())
        } else {
            rt.block_on(runner.run_file_async(file))
                .map_err(|e| e.display(false).to_string())
        };
        match result {
            Ok(()) => {
                passed += 1;
                println!("slt {name} ... ok");
            }
            Err(e) => {
                failed += 1;
                println!("slt {name} ... FAILED");
                eprintln!("{e}");
            }
        }
    }
    println!("\nslt: {passed} passed, {failed} failed");
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
