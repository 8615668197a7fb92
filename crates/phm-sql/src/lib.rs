//! DataFusion, owned in one place for every stage.
//!
//! `phm-sql` owns the query engine link, score, `phm query` and later stages use:
//! - the session factory ([`session`]): a memory pool sorts and aggregates spill beyond, a
//!   spill folder, partitions from the machine's cores, `DATAFUSION_*` overrides from the
//!   environment; and the runtime the stages block on ([`block_on`]);
//! - the run's extract datasets registered as tables named after their contracts in
//!   `schemas/` ([`register_extracts`]);
//! - the SQL files of `sql/` ([`sql_steps`]) and their `$parameters`, bound as typed date
//!   literals ([`bind`]);
//! - Parquet files written atomically, with the same bytes whatever the number of partitions
//!   ([`write_single_parquet`]);
//! - `phm query`'s read-only engine ([`query`]);
//! - the engine a stage runs on ([`connect`]): DataFusion here, or an Apache Ballista
//!   cluster with the `ballista` feature, whose scheduler and executor it also starts
//!   ([`cluster`]).
//!
//! It never formats a run path (they come from `phm_run::RunLayout`), never writes a file
//! except through `phm_run::atomic`, never opens the identifiable zone, and never lets `phm
//! query` write, create, set or read anything but the run's tables.

pub mod cluster;
mod compact;
pub mod dictionary;
mod extracts;
mod params;
mod parquet;
pub mod query;
mod session;
mod steps;

use std::path::PathBuf;

pub use crate::cluster::{Engine, connect};
pub use crate::compact::compact_views;
pub use crate::extracts::{extract_tables, register_extracts};
pub use crate::params::{Dates, add_months, bind, date_literal};
pub use crate::parquet::{
    BATCH_ROWS, ROW_GROUP_ROWS, collect_compact, parquet_rows, published_compression, read_columns,
    read_table, write_batches, write_parquet_with, write_single_parquet,
};
pub use crate::session::{DEFAULT_MEMORY_LIMIT, SessionSettings, block_on, cores, session};
pub use crate::steps::{BUILTIN_SQL, mentions, sql_files, sql_steps, strip_comments, table_name};

/// Why the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// A SQL file, dataset or output could not be read or written.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// DataFusion failed on a step.
    #[error("`{step}` failed: {message}")]
    Engine {
        /// The SQL file or operation.
        step: String,
        /// DataFusion's message.
        message: String,
    },
    /// A step needed more memory than the session's pool holds and could not spill.
    #[error(
        "`{step}` ran out of the query engine's memory: {message}\nhint: raise `[link] memory_limit_mb` in the pipeline definition (it sets the pool of link, score and risk); sorts and aggregations spill to disk, but hash joins cannot, so millions of patients need several GB (10 million ran at 8192)"
    )]
    OutOfMemory {
        /// The SQL file or operation.
        step: String,
        /// DataFusion's message.
        message: String,
    },
    /// The pipeline asks for an engine this build does not have.
    #[error(
        "the `{0}` engine is not in this build of phm\nhint: build phm with `cargo build --release --features ballista`, or set `[link] engine = \"datafusion\"`"
    )]
    EngineUnavailable(&'static str),
    /// A Ballista scheduler or executor could not be reached or started.
    #[error(
        "the Ballista cluster at {address} failed: {message}\nhint: check that `phm cluster scheduler` runs there with at least one `phm cluster executor` registered, and that every process sees the run's folder at the same path"
    )]
    Cluster {
        /// The scheduler's address.
        address: String,
        /// What went wrong.
        message: String,
    },
    /// The engine's threads could not be started.
    #[error("cannot start the query engine's threads: {0}")]
    Runtime(std::io::Error),
}

/// A `map_err` for DataFusion errors of a step.
pub fn engine(step: &str) -> impl FnOnce(datafusion::error::DataFusionError) -> SqlError + '_ {
    move |e| match e.find_root() {
        datafusion::error::DataFusionError::ResourcesExhausted(_) => SqlError::OutOfMemory {
            step: step.to_owned(),
            message: e.to_string(),
        },
        _ => failed(step, &e),
    }
}

/// An engine error of a step from anything that displays (Arrow and Parquet errors).
pub fn failed(step: &str, e: &dyn std::fmt::Display) -> SqlError {
    SqlError::Engine {
        step: step.to_owned(),
        message: e.to_string(),
    }
}

/// A `map_err` for I/O errors on a path.
pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SqlError + '_ {
    move |source| SqlError::Io {
        path: path.to_owned(),
        source,
    }
}
