//! `phm link` and `phm query`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::Datelike as _;
use phm_run::pipeline::SqlEngine;
use phm_run::{PartialDir, Privacy, RunLayout};
use phm_sql::{Engine, SessionSettings};

use crate::pipeline::Pipeline;

pub const LINK_HELP: &str = "\
Runs the SQL files of sql/ in order on DataFusion over <run>/pseudonymised/, and writes
  <run>/linked/spine.parquet      one row per patient registered on the reference date
  <run>/linked/features.parquet   activity features as of the reference date (see sql/README.md)

Engine: DataFusion in this process, or an Apache Ballista cluster with `[link] engine =
\"ballista\"` and `scheduler = \"df://host:50050\"` (phm built with `--features ballista`; see
docs/cluster.md).

Memory: `[link] memory_limit_mb` in the pipeline definition (sorts and aggregations spill to
disk beyond it). The published tables are held in memory once while phm sorts them by
pseudonym (about 300 MB for features at 1M patients). Any DataFusion option can be set from the environment without a rebuild:
DATAFUSION_EXECUTION_TARGET_PARTITIONS=4 sets datafusion.execution.target_partitions.

Examples:
  phm link --pipeline pipeline/demo.toml --run /tmp/run
  phm link --run /tmp/run --reference-date 2025-04-01 --sql-dir sql";

pub const QUERY_HELP: &str = "\
Tables: the extracts under <run>/pseudonymised/ (gp_events, apc, ...) and the published tables
under <run>/linked/ (spine, features), <run>/scores/ (scores), <run>/risk/ (risk, calibration)
and <run>/publish/aggregates/. The identifiable zone is never queryable. `--tables` prints the
data dictionary (Markdown): every table and column with its type, source and meaning
(docs/data-dictionary.md is the one of the committed sample).

Read only: one SELECT (or WITH ... SELECT) at a time over those tables. COPY, CREATE, INSERT,
SET and other statements, table functions such as read_parquet('...'), and files or URLs named
as tables (FROM '/path') are refused before anything runs; --out writes outside the run only.

Examples:
  phm query --run /tmp/run --tables
  phm query --run /tmp/run \"SELECT age_band, COUNT(*) AS n FROM spine GROUP BY age_band ORDER BY age_band\"
  phm query --run /tmp/run --format csv --out features.csv \"SELECT * FROM features\"";

#[derive(clap::Args)]
pub struct LinkArgs {
    /// Pipeline definition (dates, look-back windows, memory).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// The run folder written by `phm ingest --out`.
    #[arg(long)]
    run: PathBuf,
    /// Reference date (YYYY-MM-DD).
    #[arg(long, value_parser = crate::parse_date)]
    reference_date: Option<chrono::NaiveDate>,
    /// Folder of SQL files (default: `sql/` here if it exists, else the built-in copy).
    #[arg(long)]
    sql_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct QueryArgs {
    /// The SQL to run.
    sql: Option<String>,
    /// The run folder.
    #[arg(long)]
    run: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the result to this file instead of printing it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the data dictionary: every table and column, type, source and meaning (Markdown).
    #[arg(long)]
    tables: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
    Parquet,
}

/// The reference date from the flag, else from the pipeline definition.
pub fn reference_day(
    flag: Option<chrono::NaiveDate>,
    p: &Pipeline,
) -> anyhow::Result<phm_contract::date::Day> {
    let reference = match (flag, &p.dates.reference_date) {
        (Some(d), _) => d,
        (None, Some(s)) => crate::parse_date(s)
            .map_err(|e| anyhow::anyhow!("pipeline definition `reference_date`: {e}"))?,
        (None, None) => bail!(
            "no reference date\nhint: pass `--reference-date YYYY-MM-DD` or set `reference_date` in the pipeline definition"
        ),
    };
    Ok(phm_contract::date::from_ymd(
        reference.year(),
        reference.month(),
        reference.day(),
    ))
}

/// The engine settings of a pipeline definition.
pub fn session(p: &Pipeline) -> SessionSettings {
    SessionSettings {
        memory_limit: p.link.memory_limit_mb << 20,
        spill_dir: p.link.spill_dir.clone(),
        target_partitions: None,
        engine: match p.link.engine {
            SqlEngine::Datafusion => Engine::DataFusion,
            SqlEngine::BallistaStandalone => Engine::BallistaStandalone,
            SqlEngine::Ballista => Engine::Ballista {
                scheduler: p.link.scheduler.clone().unwrap_or_default(),
            },
        },
    }
}

/// What `phm link` (and `phm run`) link: a run as of a date, with the definition's windows.
pub fn config(
    p: &Pipeline,
    day: phm_contract::date::Day,
    run: &Path,
    sql_dir: Option<PathBuf>,
) -> phm_link::LinkConfig {
    phm_link::LinkConfig {
        run: run.to_owned(),
        sql_dir,
        dates: phm_sql::Dates::new(
            day,
            p.link.lookback_short_months,
            p.link.lookback_long_months,
            p.link.outcome_months,
        ),
        session: session(p),
    }
}

#[allow(clippy::print_stdout)]
pub fn link(args: &LinkArgs) -> anyhow::Result<()> {
    let p = Pipeline::load_or_default(args.pipeline.as_deref())?;
    let day = reference_day(args.reference_date, &p)?;
    let sql_dir = args
        .sql_dir
        .clone()
        .or_else(|| Some(PathBuf::from("sql")).filter(|d| d.is_dir()));
    let cfg = config(&p, day, &args.run, sql_dir);
    let started = std::time::Instant::now();
    let out = RunLayout::at(&args.run).linked();
    let partial = PartialDir::create(&out, Privacy::Shared)
        .with_context(|| format!("cannot create `{}`", out.display()))?;
    let rows = phm_link::link(&cfg, partial.path()).context("`phm link` did not finish")?;
    partial
        .commit()
        .with_context(|| format!("cannot put `{}` in place", out.display()))?;
    println!(
        "Linked {rows} patients as of {} in {:.1} s: {}/spine.parquet, {}/features.parquet",
        phm_contract::date::iso(day),
        started.elapsed().as_secs_f64(),
        out.display(),
        out.display()
    );
    Ok(())
}

#[allow(clippy::print_stdout)]
pub fn query(args: &QueryArgs) -> anyhow::Result<()> {
    let run = RunLayout::at(&args.run);
    let settings = SessionSettings::default();
    if args.tables {
        print!("{}", phm_sql::query::describe(&run, &settings)?);
        return Ok(());
    }
    let Some(sql) = &args.sql else {
        bail!(
            "no SQL given\nhint: `phm query --run DIR \"SELECT ...\"`, or `--tables` to see what can be queried"
        );
    };
    let format = match args.format {
        Format::Table => phm_sql::query::Format::Table,
        Format::Csv => phm_sql::query::Format::Csv,
        Format::Json => phm_sql::query::Format::Json,
        Format::Parquet => phm_sql::query::Format::Parquet,
    };
    let text = phm_sql::query::run(&run, sql, format, args.out.as_deref(), &settings)?;
    print!("{text}");
    if format == phm_sql::query::Format::Table && !text.ends_with('\n') {
        println!();
    }
    Ok(())
}
