//! `phm query`: read-only SQL over a run's tables.
//!
//! Registered tables are the extracts under the run's `pseudonymised/` and the published
//! tables under `linked/` and `scores/`. The identifiable zone (quarantine, vault, audit) is
//! never registered, and a query that names it is refused before it runs.
//!
//! Only queries run. Before anything is planned the SQL is parsed with DataFusion's own parser
//! and refused ([`QueryError::ReadOnly`]) when it is not one query (`COPY ... TO`, `CREATE`,
//! `INSERT`, `SET`, ...), calls a table function in `FROM` (`read_parquet('...')`), or names a
//! file or URL as a table (`FROM '/etc/passwd'`); URL tables are never enabled. Every table it
//! names must be one of the run's ([`QueryError::UnknownTable`]). The plan is then checked
//! again by DataFusion's [`SQLOptions`] with DDL, DML and statements off.

use std::ops::ControlFlow;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{ObjectName, Statement, TableFactor, Visit, Visitor};
use futures::StreamExt as _;
use phm_run::RunLayout;
use phm_run::atomic::{AtomicFile, Privacy};

use crate::{SessionSettings, SqlError, block_on, engine, failed, io, register_extracts};

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
    /// The SQL would do something other than read the run's tables.
    #[error(
        "`phm query` only reads the run's published tables; {what} is refused\nhint: tables you can query are {tables}; write one `SELECT` (or `WITH ... SELECT`) over them, and `--out FILE` to save its result"
    )]
    ReadOnly {
        /// What was refused.
        what: String,
        /// The registered tables.
        tables: String,
    },
    /// A table that is not one of the run's.
    #[error("there is no table `{table}` in this run\nhint: tables you can query are {tables}")]
    UnknownTable {
        /// The table named.
        table: String,
        /// The registered tables.
        tables: String,
    },
    /// `--out` names a file inside the run being read.
    #[error(
        "`{out}` is inside the run `{run}`, which `phm query` only reads\nhint: write the result outside the run folder"
    )]
    OutInsideRun {
        /// The output file.
        out: String,
        /// The run folder.
        run: String,
    },
    /// Parquet needs a file.
    #[error("`--format parquet` writes a file\nhint: add `--out FILE.parquet`")]
    ParquetNeedsOut,
    /// Anything else.
    #[error(transparent)]
    Sql(#[from] SqlError),
}

/// A session over a run's tables that only reads them.
#[derive(Clone)]
pub struct QuerySession {
    ctx: SessionContext,
    tables: Vec<String>,
}

impl std::fmt::Debug for QuerySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySession")
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

impl QuerySession {
    /// A session from the factory with every queryable table of a run registered: the
    /// extracts, then the published tables.
    pub async fn open(run: &RunLayout, settings: &SessionSettings) -> Result<Self, QueryError> {
        let ctx = crate::session(settings)?;
        let mut tables = register_extracts(&ctx, run).await?;
        let published = run.published_tables().map_err(io(run.path()))?;
        for (name, path) in published {
            ctx.register_parquet(
                name.as_str(),
                &path.to_string_lossy(),
                datafusion::prelude::ParquetReadOptions::default(),
            )
            .await
            .map_err(engine(&name))?;
            tables.push(name);
        }
        Ok(QuerySession { ctx, tables })
    }

    /// The names of the tables, in registration order.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Add a table held in memory (a test's fixture, a lookup).
    pub fn register_table(&mut self, name: &str, batch: RecordBatch) -> Result<(), QueryError> {
        self.ctx.register_batch(name, batch).map_err(engine(name))?;
        self.tables.push(name.to_owned());
        Ok(())
    }

    fn table_list(&self) -> String {
        self.tables
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Plan one read-only query, refusing anything else before it is planned.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, QueryError> {
        refuse_identifiable(sql)?;
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state
            .sql_to_statement(sql, &dialect)
            .map_err(engine("query"))?;
        if let Some(what) = refusal(&statement) {
            return Err(QueryError::ReadOnly {
                what,
                tables: self.table_list(),
            });
        }
        for table in state
            .resolve_table_references(&statement)
            .map_err(engine("query"))?
        {
            // A reference whose catalog or schema does not exist is no table either.
            if !self.ctx.table_exist(table.clone()).unwrap_or(false) {
                return Err(QueryError::UnknownTable {
                    table: table.to_string(),
                    tables: self.table_list(),
                });
            }
        }
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(engine("query"))?;
        // What `SessionContext::sql_with_options` does, with its refusal told apart from
        // other planning errors: DataFusion's own check that the plan has no DDL, no DML (COPY,
        // INSERT) and no statement (SET).
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| QueryError::ReadOnly {
                what: format!("the plan ({})", e.strip_backtrace()),
                tables: self.table_list(),
            })?;
        Ok(self
            .ctx
            .execute_logical_plan(plan)
            .await
            .map_err(engine("query"))?)
    }

    /// The data dictionary of the run's tables: every column with its type, source and
    /// meaning.
    pub async fn dictionary(&self) -> Result<Vec<crate::dictionary::Table>, QueryError> {
        let mut out = Vec::new();
        for t in &self.tables {
            let df = self.ctx.table(t.as_str()).await.map_err(engine(t))?;
            let cols: Vec<(String, String)> = df
                .schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().to_string()))
                .collect();
            out.push(crate::dictionary::describe(t, &cols));
        }
        Ok(out)
    }

    /// The data dictionary as Markdown (`phm query --tables`).
    pub async fn describe(&self) -> Result<String, QueryError> {
        Ok(crate::dictionary::markdown(&self.dictionary().await?))
    }
}

/// The tables of a run and their columns, as text.
pub fn describe(run: &RunLayout, settings: &SessionSettings) -> Result<String, QueryError> {
    block_on(async { QuerySession::open(run, settings).await?.describe().await })
}

/// Run a query; with `out`, write the result there and return an empty string, otherwise
/// return it formatted.
pub fn run(
    run: &RunLayout,
    sql: &str,
    format: Format,
    out: Option<&Path>,
    settings: &SessionSettings,
) -> Result<String, QueryError> {
    if format == Format::Parquet && out.is_none() {
        return Err(QueryError::ParquetNeedsOut);
    }
    if let Some(out) = out {
        refuse_inside(run, out)?;
    }
    block_on(async {
        let session = QuerySession::open(run, settings).await?;
        let df = session.sql(sql).await?;
        if let Some(path) = out {
            write(df, path, format).await?;
            return Ok(String::new());
        }
        let batches = df.collect().await.map_err(engine("query"))?;
        Ok(format_batches(&batches, format)?)
    })
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

/// An output file inside the run folder would change the run being read.
fn refuse_inside(run: &RunLayout, out: &Path) -> Result<(), QueryError> {
    let Ok(root) = run.path().canonicalize() else {
        return Ok(());
    };
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if folder
        .canonicalize()
        .is_ok_and(|folder| folder.starts_with(&root))
    {
        return Err(QueryError::OutInsideRun {
            out: out.display().to_string(),
            run: run.path().display().to_string(),
        });
    }
    Ok(())
}

/// What in a parsed statement `phm query` refuses, if anything.
fn refusal(statement: &DfStatement) -> Option<String> {
    let query = match statement {
        DfStatement::Statement(s) if matches!(**s, Statement::Query(_)) => s,
        DfStatement::Statement(s) => return Some(statement_kind(s)),
        DfStatement::CreateExternalTable(_) => return Some("`CREATE EXTERNAL TABLE`".into()),
        DfStatement::CopyTo(_) => return Some("`COPY ... TO`".into()),
        DfStatement::Explain(_) => return Some("`EXPLAIN`".into()),
        DfStatement::Reset(_) => return Some("`RESET`".into()),
    };
    match query.visit(&mut ReadsTablesOnly) {
        ControlFlow::Break(what) => Some(what),
        ControlFlow::Continue(()) => None,
    }
}

/// A statement's leading keywords (`CREATE TABLE`, `INSERT INTO`, `SET`), as the parser
/// prints them: keywords upper case, names as written.
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .take(4)
        .collect();
    if words.is_empty() {
        "a statement that is not a query".to_owned()
    } else {
        format!("`{}`", words.join(" "))
    }
}

/// Walks a query: nested statements other than queries, table functions and tables named by
/// a path or URL stop it.
struct ReadsTablesOnly;

impl Visitor for ReadsTablesOnly {
    type Break = String;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        if matches!(statement, Statement::Query(_)) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(statement_kind(statement))
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<String> {
        match factor {
            TableFactor::Table {
                name, args: None, ..
            } => match path_like(name) {
                Some(path) => ControlFlow::Break(format!("reading the file or URL `{path}`")),
                None => ControlFlow::Continue(()),
            },
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => {
                ControlFlow::Break(format!("the table function `{name}(...)`"))
            }
            TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::Pivot { .. }
            | TableFactor::Unpivot { .. } => ControlFlow::Continue(()),
            other => ControlFlow::Break(format!("the table expression `{other}`")),
        }
    }
}

/// A table name that is a path or URL: quoted as a string (`'/etc/passwd'`), or holding a
/// path separator or a scheme.
fn path_like(name: &ObjectName) -> Option<String> {
    name.0.iter().find_map(|part| {
        let ident = part.as_ident()?;
        let v = &ident.value;
        (ident.quote_style == Some('\'') || v.contains(['/', '\\']) || v.contains("://"))
            .then(|| v.clone())
    })
}

async fn write(df: DataFrame, path: &Path, format: Format) -> Result<(), QueryError> {
    if format == Format::Parquet {
        crate::write_single_parquet(df, path, "query").await?;
        return Ok(());
    }
    let mut file = AtomicFile::create(path, Privacy::Shared).map_err(io(path))?;
    if format == Format::Table {
        let batches = df.collect().await.map_err(engine("query"))?;
        let text = format_batches(&batches, Format::Table)?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io(path))?;
    } else {
        let mut stream = df.execute_stream().await.map_err(engine("query"))?;
        let mut w = TextWriter::new(format, &mut file);
        while let Some(batch) = stream.next().await {
            w.write(&batch.map_err(engine("query"))?)?;
        }
        w.finish()?;
    }
    file.commit().map_err(io(path))?;
    Ok(())
}

/// CSV (with a header) or JSON lines, batch by batch.
enum TextWriter<W: std::io::Write> {
    Csv(Box<datafusion::arrow::csv::Writer<W>>),
    Json(datafusion::arrow::json::LineDelimitedWriter<W>),
}

impl<W: std::io::Write> TextWriter<W> {
    fn new(format: Format, w: W) -> Self {
        if format == Format::Json {
            TextWriter::Json(datafusion::arrow::json::LineDelimitedWriter::new(w))
        } else {
            TextWriter::Csv(Box::new(
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(w),
            ))
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), SqlError> {
        match self {
            TextWriter::Csv(w) => w.write(batch),
            TextWriter::Json(w) => w.write(batch),
        }
        .map_err(|e| failed("format", &e))
    }

    fn finish(self) -> Result<(), SqlError> {
        match self {
            TextWriter::Csv(_) => Ok(()),
            TextWriter::Json(mut w) => w.finish().map_err(|e| failed("format", &e)),
        }
    }
}

fn format_batches(batches: &[RecordBatch], format: Format) -> Result<String, SqlError> {
    if matches!(format, Format::Table | Format::Parquet) {
        return Ok(
            datafusion::arrow::util::pretty::pretty_format_batches(batches)
                .map_err(|e| failed("format", &e))?
                .to_string(),
        );
    }
    let mut buf = Vec::new();
    let mut w = TextWriter::new(format, &mut buf);
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
