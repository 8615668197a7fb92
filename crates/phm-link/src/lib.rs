//! The pseudonymised zone's linkage: `sql/` on DataFusion, and the engine of `phm query`.
//!
//! `phm-link` registers the pseudonymised datasets as tables named after their extracts, runs
//! the SQL files in `sql/` in order (`01_spine.sql` becomes the table `spine`, and so on), and
//! writes `linked/spine.parquet` and `linked/features.parquet`. The SQL uses only built-in
//! functions, so the same files run on DuckDB and on a stock Ballista cluster. Parameters
//! (`$reference_date`, `$start_12m`, `$start_24m`, `$outcome_end`) are bound by the runner as
//! typed date literals; nothing is edited into the files. It never reads the identifiable
//! zone.

mod params;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter};
use datafusion::prelude::*;

pub use crate::params::{Dates, add_months, bind, date_literal};

/// The extracts the pseudonymised zone may hold, registered as tables when present.
pub const EXTRACT_TABLES: [&str; 9] = [
    "gp_registrations",
    "gp_events",
    "gp_medications",
    "apc",
    "op",
    "ecds",
    "ambulance",
    "community",
    "mental_health",
];

/// What to link.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The pseudonymised zone of a run (holding `pseudonymised/<extract>/`).
    pub run: PathBuf,
    /// Folder of SQL files run in name order (`None`: the built-in copy of `sql/`).
    pub sql_dir: Option<PathBuf>,
    /// Window dates.
    pub dates: Dates,
    /// Memory for the session (bytes); sorts and aggregates spill beyond it.
    pub memory_limit: usize,
    /// Where spills go (default: the system temporary folder).
    pub spill_dir: Option<PathBuf>,
}

/// Why linkage failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// A SQL file or dataset could not be read or written.
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
    /// A SQL file names a parameter the runner does not have.
    #[error("`{file}` uses `${name}`, which is not a parameter; parameters are {known}")]
    UnknownParameter {
        /// The SQL file.
        file: String,
        /// The name.
        name: String,
        /// The known names.
        known: String,
    },
    /// No GP registrations to build the spine from.
    #[error(
        "no `gp_registrations` dataset under `{0}`\nhint: run `phm ingest` first and point `--run` at its `--out` folder"
    )]
    NoRegistrations(PathBuf),
    /// A SQL step reads an extract the run does not have.
    #[error(
        "`{file}` reads `{extract}`, but there is no `{extract}` dataset under `{run}/pseudonymised/`\nhint: ingest an `{extract}` extract (a file with only the header line is enough when a source sends no data), or remove `{extract}` from the SQL"
    )]
    MissingExtract {
        /// The SQL file.
        file: String,
        /// The extract.
        extract: String,
        /// The run.
        run: String,
    },
}

fn engine(step: &str) -> impl FnOnce(datafusion::error::DataFusionError) -> LinkError + '_ {
    move |e| LinkError::Engine {
        step: step.to_owned(),
        message: e.to_string(),
    }
}

/// A session with an explicit memory pool and a spill directory.
pub fn session(memory_limit: usize, spill_dir: Option<&Path>) -> Result<SessionContext, LinkError> {
    let disk = match spill_dir {
        Some(d) => DiskManagerBuilder::default()
            .with_mode(DiskManagerMode::Directories(vec![d.to_owned()])),
        None => DiskManagerBuilder::default().with_mode(DiskManagerMode::OsTmpDirectory),
    };
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(memory_limit),
            std::num::NonZeroUsize::new(5).expect("5 is not zero"),
        )))
        .with_disk_manager_builder(disk)
        .build_arc()
        .map_err(engine("session"))?;
    let mut config = SessionConfig::new().with_target_partitions(2);
    // Read strings as plain Utf8: string views share large buffers between batches, and the
    // memory pool then counts a buffer once per batch, so sorts give up long before memory
    // is really used.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    // A data engineer may tune any DataFusion option without a rebuild:
    // `DATAFUSION_EXECUTION_TARGET_PARTITIONS=4 phm link ...` (names as in DataFusion's
    // configuration, upper case, dots as underscores).
    let keys: Vec<String> = config
        .options()
        .entries()
        .into_iter()
        .map(|e| e.key)
        .collect();
    for key in keys {
        let env = key.to_uppercase().replace('.', "_");
        if let Ok(value) = std::env::var(&env)
            && let Err(e) = config.options_mut().set(&key, &value)
        {
            tracing::warn!(option = %key, error = %e, "ignored a DATAFUSION_ setting");
        }
    }
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// Register every extract dataset present under `run/pseudonymised/`.
pub async fn register_extracts(ctx: &SessionContext, run: &Path) -> Result<Vec<String>, LinkError> {
    let mut registered = Vec::new();
    for table in EXTRACT_TABLES {
        let dir = run.join("pseudonymised").join(table);
        if dir.is_dir() {
            let path = format!("{}/", dir.display());
            ctx.register_parquet(table, &path, ParquetReadOptions::default())
                .await
                .map_err(engine(table))?;
            registered.push(table.to_owned());
        }
    }
    Ok(registered)
}

/// The SQL files of `sql/` as built into this binary, used when no folder is given.
pub const BUILTIN_SQL: [(&str, &str); 5] = [
    ("01_spine.sql", include_str!("../../../sql/01_spine.sql")),
    ("02_spells.sql", include_str!("../../../sql/02_spells.sql")),
    (
        "03_activity.sql",
        include_str!("../../../sql/03_activity.sql"),
    ),
    (
        "04_outcome.sql",
        include_str!("../../../sql/04_outcome.sql"),
    ),
    (
        "05_features.sql",
        include_str!("../../../sql/05_features.sql"),
    ),
];

fn table_name(stem: &str) -> String {
    stem.split_once('_')
        .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        .map_or(stem.to_owned(), |(_, rest)| rest.to_owned())
}

/// The SQL steps to run: from a folder (name order), or the built-in ones; as (table name,
/// file name, text).
pub fn sql_steps(dir: Option<&Path>) -> Result<Vec<(String, String, String)>, LinkError> {
    match dir {
        Some(d) => sql_files(d),
        None => Ok(BUILTIN_SQL
            .iter()
            .map(|(f, t)| {
                (
                    table_name(f.trim_end_matches(".sql")),
                    (*f).to_owned(),
                    (*t).to_owned(),
                )
            })
            .collect()),
    }
}

/// The SQL files of a folder, in name order, as (table name, file name, text).
pub fn sql_files(dir: &Path) -> Result<Vec<(String, String, String)>, LinkError> {
    let io = |source| LinkError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let file = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let stem = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let name = table_name(&stem);
            let text = std::fs::read_to_string(&p).map_err(|source| LinkError::Io {
                path: p.clone(),
                source,
            })?;
            Ok((name, file, text))
        })
        .collect()
}

/// Run the linkage and write `out/spine.parquet` and `out/features.parquet`; returns the
/// number of patients in the feature table. Everything is built in a `.partial` folder beside
/// `out` and renamed into place at the end, so `out` never mixes tables of two runs and a run
/// that fails leaves the previous one whole.
pub fn link(cfg: &LinkConfig, out: &Path) -> Result<usize, LinkError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| LinkError::Io {
            path: out.to_owned(),
            source,
        })?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LinkError::Io { path, source }
    };
    let name = out
        .file_name()
        .map_or_else(|| "linked".into(), |n| n.to_string_lossy().into_owned());
    let partial = out.with_file_name(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    let result = rt.block_on(link_async(cfg, &partial));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
        return result;
    }
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(io(out))?;
    }
    std::fs::rename(&partial, out).map_err(io(out))?;
    result
}

async fn link_async(cfg: &LinkConfig, out: &Path) -> Result<usize, LinkError> {
    let ctx = session(cfg.memory_limit, cfg.spill_dir.as_deref())?;
    let tables = register_extracts(&ctx, &cfg.run).await?;
    if !tables.iter().any(|t| t == "gp_registrations") {
        return Err(LinkError::NoRegistrations(cfg.run.clone()));
    }
    let steps = sql_steps(cfg.sql_dir.as_deref())?;
    for (_, file, text) in &steps {
        if let Some(extract) = EXTRACT_TABLES
            .iter()
            .find(|t| !tables.iter().any(|x| x == *t) && mentions(text, t))
        {
            return Err(LinkError::MissingExtract {
                file: file.clone(),
                extract: (*extract).to_owned(),
                run: cfg.run.display().to_string(),
            });
        }
    }
    std::fs::create_dir_all(out).map_err(|source| LinkError::Io {
        path: out.to_owned(),
        source,
    })?;
    // Steps that later steps read are written to Parquet here and read back, as a database
    // keeps a table: memory stays bounded and the engine's accounting stays true.
    let work = out.join(".steps");
    let mut rows = 0;
    for (k, (table, file, text)) in steps.iter().enumerate() {
        let sql = bind(text, &cfg.dates).map_err(|name| LinkError::UnknownParameter {
            file: file.clone(),
            name,
            known: Dates::NAMES.join(", "),
        })?;
        let started = std::time::Instant::now();
        let df = ctx.sql(&sql).await.map_err(engine(file))?;
        let published = PUBLISHED_STEPS.contains(&table.as_str());
        let read_later = steps[k + 1..].iter().any(|(_, _, t)| mentions(t, table));
        let path = if published {
            // Published tables are written once, sorted, where readers find them.
            let path = out.join(format!("{table}.parquet"));
            rows = write_sorted(df, &path, file).await?;
            Some(path)
        } else if read_later {
            // Steps that later steps read are kept as uncompressed Parquet and read back, as a
            // database keeps a table: memory stays bounded and the engine's accounting true.
            std::fs::create_dir_all(&work).map_err(|source| LinkError::Io {
                path: work.clone(),
                source,
            })?;
            let path = work.join(format!("{table}.parquet"));
            write_parquet_with(df, &path, file, "uncompressed").await?;
            Some(path)
        } else {
            ctx.register_table(table.as_str(), df.into_view())
                .map_err(engine(file))?;
            None
        };
        if let Some(path) = path {
            ctx.register_parquet(
                table.as_str(),
                &path.to_string_lossy(),
                ParquetReadOptions::default(),
            )
            .await
            .map_err(engine(file))?;
        }
        tracing::info!(step = %file, seconds = started.elapsed().as_secs_f64(), "linkage step");
    }
    for name in PUBLISHED_STEPS {
        if !out.join(format!("{name}.parquet")).is_file() {
            return Err(LinkError::Engine {
                step: name.to_owned(),
                message: format!("the SQL steps made no `{name}` table"),
            });
        }
    }
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|source| LinkError::Io {
            path: work.clone(),
            source,
        })?;
    }
    Ok(rows)
}

/// The steps written to `linked/` (sorted by pseudonym); the rest are working tables.
pub const PUBLISHED_STEPS: [&str; 2] = ["spine", "features"];

/// SQL text without its `--` comments.
fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether SQL text names a table (as a whole word, outside `--` comments).
fn mentions(sql: &str, table: &str) -> bool {
    let sql = strip_comments(sql);
    sql.match_indices(table).any(|(i, _)| {
        let before = sql[..i].chars().next_back();
        let after = sql[i + table.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

/// Write a frame as one Parquet file, atomically (temporary name, then rename); returns the
/// number of rows written. Published files are zstd-compressed.
pub async fn write_single_parquet(
    df: DataFrame,
    dest: &Path,
    step: &str,
) -> Result<usize, LinkError> {
    write_parquet_with(df, dest, step, "zstd(1)").await
}

/// Rows per row group (and per write) of a published table.
const PUBLISHED_ROWS: usize = 65_536;

/// Write a patient-level step sorted by pseudonym, zstd-compressed, atomically; returns the
/// number of rows. The table is held once in memory, compacted, and its order computed on the
/// pseudonym alone; row groups are then copied out in order. DataFusion's own sort is not used
/// here: it counts the slices an aggregation or a join emits as if each held the whole batch
/// they share, and gives up on tables that fit easily (DataFusion issues 22526, 22757).
async fn write_sorted(df: DataFrame, dest: &Path, step: &str) -> Result<usize, LinkError> {
    use datafusion::arrow::array::UInt32Array;
    use datafusion::arrow::compute::{concat_batches, take_record_batch};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::basic::{Compression, ZstdLevel};
    use datafusion::parquet::file::properties::WriterProperties;
    use datafusion::parquet::schema::types::ColumnPath;

    let failed = |e: &dyn std::fmt::Display| LinkError::Engine {
        step: step.to_owned(),
        message: e.to_string(),
    };
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(engine(step))?;
    let table = concat_batches(&schema, &batches).map_err(|e| failed(&e))?;
    drop(batches);
    let key = table
        .column_by_name("pseudonym")
        .ok_or_else(|| LinkError::Engine {
            step: step.to_owned(),
            message: "a published table needs a `pseudonym` column".to_owned(),
        })?;
    let order = pseudonym_order(key).map_err(|e| failed(&e))?;
    let tmp = dest.with_extension("parquet.tmp");
    let io = |source| LinkError::Io {
        path: tmp.clone(),
        source,
    };
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let level = ZstdLevel::try_new(1).map_err(|e| failed(&e))?;
    // Pseudonyms are unique in a published table: a dictionary would only cost time.
    let props = WriterProperties::builder()
        .set_column_dictionary_enabled(ColumnPath::from("pseudonym"), false)
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(PUBLISHED_ROWS))
        .build();
    let writer = ArrowWriter::try_new(
        std::io::BufWriter::new(file),
        Arc::clone(&schema),
        Some(props),
    )
    .map_err(|e| failed(&e))?;
    let (mut writer, factory) = writer.into_serialized_writer().map_err(|e| failed(&e))?;
    for (group, rows) in order.chunks(PUBLISHED_ROWS).enumerate() {
        let part =
            take_record_batch(&table, &UInt32Array::from(rows.to_vec())).map_err(|e| failed(&e))?;
        let columns = factory
            .create_column_writers(group)
            .map_err(|e| failed(&e))?;
        let chunks = encode_columns(&schema, &part, columns).map_err(|e| failed(&e))?;
        let mut row_group = writer.next_row_group().map_err(|e| failed(&e))?;
        for chunk in chunks {
            chunk
                .append_to_row_group(&mut row_group)
                .map_err(|e| failed(&e))?;
        }
        row_group.close().map_err(|e| failed(&e))?;
    }
    writer.close().map_err(|e| failed(&e))?;
    std::fs::rename(&tmp, dest).map_err(|source| LinkError::Io {
        path: dest.to_owned(),
        source,
    })?;
    Ok(table.num_rows())
}

/// Encode a row group's columns (flat: one leaf each) on two threads, half the columns each;
/// the chunks come back in column order.
fn encode_columns(
    schema: &datafusion::arrow::datatypes::Schema,
    batch: &datafusion::arrow::array::RecordBatch,
    writers: Vec<ArrowColumnWriter>,
) -> datafusion::parquet::errors::Result<Vec<ArrowColumnChunk>> {
    use datafusion::parquet::arrow::arrow_writer::compute_leaves;
    use datafusion::parquet::errors::{ParquetError, Result};

    let mut leaves = Vec::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        leaves.extend(compute_leaves(field, column)?);
    }
    let mut first: Vec<_> = writers.into_iter().zip(leaves).collect();
    let second = first.split_off(first.len() / 2);
    let encode = |part: Vec<(ArrowColumnWriter, _)>| -> Result<Vec<ArrowColumnChunk>> {
        part.into_iter()
            .map(|(mut writer, leaf)| {
                writer.write(&leaf)?;
                writer.close()
            })
            .collect()
    };
    let (first, second) = std::thread::scope(|s| {
        let other = s.spawn(|| encode(second));
        (encode(first), other.join())
    });
    let mut chunks = first?;
    chunks
        .extend(second.map_err(|_| ParquetError::General("an encoding thread panicked".into()))??);
    Ok(chunks)
}

/// Row numbers of a table in pseudonym order (ties, which a published table should not have,
/// in row order). Rows are sorted on the first eight bytes of the pseudonym as one integer,
/// then on the whole text within a run of equal prefixes: about twice as fast as comparing
/// texts throughout.
fn pseudonym_order(
    key: &datafusion::arrow::array::ArrayRef,
) -> Result<Vec<u32>, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;

    let key = cast(key, &DataType::Utf8)?;
    let text = key.as_string::<i32>();
    let value = |i: u32| {
        text.is_valid(i as usize)
            .then(|| text.value(i as usize).as_bytes())
    };
    let prefix = |i: u32| {
        value(i).map_or(u64::MAX, |v| {
            let mut word = [0u8; 8];
            let n = v.len().min(8);
            word[..n].copy_from_slice(&v[..n]);
            u64::from_be_bytes(word)
        })
    };
    let rows = u32::try_from(text.len()).map_err(|_| {
        datafusion::arrow::error::ArrowError::ComputeError("table too large".into())
    })?;
    let mut keyed: Vec<(u64, u32)> = (0..rows).map(|i| (prefix(i), i)).collect();
    keyed.sort_unstable();
    let mut order: Vec<u32> = keyed.iter().map(|&(_, i)| i).collect();
    let mut start = 0;
    while start < keyed.len() {
        let end = start
            + keyed[start..]
                .iter()
                .take_while(|k| k.0 == keyed[start].0)
                .count();
        if end - start > 1 {
            // Nulls last, as `None` sorts first.
            order[start..end].sort_by(|&a, &b| {
                (value(a).is_none(), value(a), a).cmp(&(value(b).is_none(), value(b), b))
            });
        }
        start = end;
    }
    Ok(order)
}

/// [`write_single_parquet`] with a compression (`uncompressed`, `zstd(1)`, ...).
async fn write_parquet_with(
    df: DataFrame,
    dest: &Path,
    step: &str,
    compression: &str,
) -> Result<usize, LinkError> {
    let tmp = dest.with_extension("parquet.tmp");
    let mut options = datafusion::config::TableParquetOptions::default();
    options.global.compression = Some(compression.to_owned());
    let counts = df
        .write_parquet(
            &tmp.to_string_lossy(),
            DataFrameWriteOptions::new().with_single_file_output(true),
            Some(options),
        )
        .await
        .map_err(engine(step))?;
    std::fs::rename(&tmp, dest).map_err(|source| LinkError::Io {
        path: dest.to_owned(),
        source,
    })?;
    let rows = counts
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::UInt64Array>()
        })
        .map_or(0, |c| c.value(0));
    Ok(usize::try_from(rows).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pseudonym_order_sorts_whole_texts_with_shared_prefixes_and_nulls_last() {
        use datafusion::arrow::array::{ArrayRef, StringArray};
        let values = [
            Some("aaaaaaaa2"),
            None,
            Some("aaaaaaaa10"),
            Some("0f"),
            Some("aaaaaaaa"),
            Some("b"),
        ];
        let key: ArrayRef = std::sync::Arc::new(StringArray::from(values.to_vec()));
        let order = super::pseudonym_order(&key).unwrap();
        let sorted: Vec<Option<&str>> = order.iter().map(|&i| values[i as usize]).collect();
        let mut expected = values.to_vec();
        expected.sort_by_key(|v| (v.is_none(), *v));
        assert_eq!(sorted, expected);
    }

    #[test]
    fn a_table_is_mentioned_as_a_whole_word() {
        assert!(super::mentions("SELECT * FROM spells AS s", "spells"));
        assert!(super::mentions("JOIN spine\nON", "spine"));
        assert!(!super::mentions("SELECT spine_id FROM x", "spine"));
        assert!(!super::mentions("FROM my_spells", "spells"));
        assert!(!super::mentions("-- reads spells\nSELECT 1", "spells"));
    }
}
