//! `phm query`: SQL over a run's pseudonymised datasets and published tables.
//!
//! Registered tables are the extracts under `<run>/pseudonymised/` and the tables under
//! `<run>/linked/` and `<run>/scores/`. The identifiable zone (quarantine, vault, audit) is never registered, and
//! a query that names it is refused before it runs.

use std::fmt::Write as _;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::*;

use crate::{LinkError, engine, register_extracts};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A text table.
    Table,
    /// CSV with a header.
    Csv,
    /// JSON lines.
    Json,
    /// Parquet (to a file only).
    Parquet,
}

/// Names that belong to the identifiable zone.
const IDENTIFIABLE: [&str; 4] = ["quarantine", "vault", "audit", "identifiable"];

/// Why a query was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query names the identifiable zone.
    #[error(
        "`{0}` is in the identifiable zone, which `phm query` never opens\nhint: quarantined rows and vaults are read only by the DSCRO's audited steps (`phm reid`, `phm sar`)"
    )]
    Identifiable(String),
    /// A table that does not exist.
    #[error("{message}\nhint: tables you can query are {tables}")]
    UnknownTable {
        /// DataFusion's message.
        message: String,
        /// The registered tables.
        tables: String,
    },
    /// Parquet needs a file.
    #[error("`--format parquet` writes a file\nhint: add `--out FILE.parquet`")]
    ParquetNeedsOut,
    /// Anything else.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// The folders of a run whose Parquet files are published tables (one table per file, named
/// after it): the link and score stages' outputs.
pub const PUBLISHED: [&str; 2] = ["linked", "scores"];

/// Register every queryable table of a run; returns their names.
pub async fn register_run(ctx: &SessionContext, run: &Path) -> Result<Vec<String>, LinkError> {
    let mut tables = register_extracts(ctx, run).await?;
    for folder in PUBLISHED {
        let dir = run.join(folder);
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|source| LinkError::Io {
                path: dir.clone(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        files.sort();
        for f in files {
            let name = f
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            ctx.register_parquet(
                name.as_str(),
                &f.to_string_lossy(),
                ParquetReadOptions::default(),
            )
            .await
            .map_err(engine(&name))?;
            tables.push(name);
        }
    }
    Ok(tables)
}

/// The tables of a run and their columns, as text.
pub fn describe(run: &Path) -> Result<String, QueryError> {
    block_on(async {
        let ctx = SessionContext::new();
        let mut out = String::new();
        for t in register_run(&ctx, run).await? {
            let df = ctx.table(t.as_str()).await.map_err(engine(&t))?;
            let cols: Vec<String> = df
                .schema()
                .fields()
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect();
            let _ = writeln!(out, "{t}\n  {}", cols.join("\n  "));
        }
        Ok(out)
    })
}

fn block_on<T>(f: impl Future<Output = Result<T, QueryError>>) -> Result<T, QueryError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| LinkError::Io {
            path: ".".into(),
            source,
        })?;
    rt.block_on(f)
}

fn refuse_identifiable(sql: &str) -> Result<(), QueryError> {
    let lower = sql.to_lowercase();
    for word in lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some(bad) = IDENTIFIABLE.iter().find(|w| **w == word) {
            return Err(QueryError::Identifiable((*bad).to_owned()));
        }
    }
    Ok(())
}

/// Run a query; with `out`, write the result there and return an empty string, otherwise
/// return it formatted.
pub fn run(
    run: &Path,
    sql: &str,
    format: Format,
    out: Option<&Path>,
) -> Result<String, QueryError> {
    refuse_identifiable(sql)?;
    if format == Format::Parquet && out.is_none() {
        return Err(QueryError::ParquetNeedsOut);
    }
    block_on(async {
        let ctx = SessionContext::new();
        let tables = register_run(&ctx, run).await?;
        let df = ctx.sql(sql).await.map_err(|e| {
            let message = e.to_string();
            if message.contains("not found") {
                QueryError::UnknownTable {
                    message,
                    tables: tables.join(", "),
                }
            } else {
                QueryError::Link(LinkError::Engine {
                    step: "query".into(),
                    message,
                })
            }
        })?;
        if let Some(path) = out {
            write(df, path, format).await?;
            return Ok(String::new());
        }
        let batches = df.collect().await.map_err(engine("query"))?;
        format_batches(&batches, format)
    })
}

async fn write(df: DataFrame, path: &Path, format: Format) -> Result<(), QueryError> {
    let opts = DataFrameWriteOptions::new().with_single_file_output(true);
    let p = path.to_string_lossy();
    match format {
        Format::Parquet => {
            crate::write_single_parquet(df, path, "query").await?;
        }
        Format::Csv => {
            df.write_csv(&p, opts, None)
                .await
                .map_err(engine("query"))?;
        }
        Format::Json => {
            df.write_json(&p, opts, None)
                .await
                .map_err(engine("query"))?;
        }
        Format::Table => {
            let batches = df.collect().await.map_err(engine("query"))?;
            let text = format_batches(&batches, Format::Table)?;
            std::fs::write(path, text).map_err(|source| LinkError::Io {
                path: path.to_owned(),
                source,
            })?;
        }
    }
    Ok(())
}

fn format_batches(batches: &[RecordBatch], format: Format) -> Result<String, QueryError> {
    let err = |e: datafusion::arrow::error::ArrowError| {
        QueryError::Link(LinkError::Engine {
            step: "format".into(),
            message: e.to_string(),
        })
    };
    match format {
        Format::Table | Format::Parquet => Ok(
            datafusion::arrow::util::pretty::pretty_format_batches(batches)
                .map_err(err)?
                .to_string(),
        ),
        Format::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf);
                for b in batches {
                    w.write(b).map_err(err)?;
                }
            }
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        Format::Json => {
            let mut buf = Vec::new();
            {
                let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
                for b in batches {
                    w.write(b).map_err(err)?;
                }
                w.finish().map_err(err)?;
            }
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}
