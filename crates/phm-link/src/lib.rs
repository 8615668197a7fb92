//! The pseudonymised zone's linkage: the spine and the features, from `sql/`.
//!
//! `phm-link` registers a run's pseudonymised datasets as tables named after their extracts,
//! runs the SQL files of `sql/` in order (`01_spine.sql` becomes the table `spine`, and so on),
//! and writes `spine.parquet` and `features.parquet`, sorted by pseudonym, into the folder it is
//! given; the caller builds that folder as a `phm_run::PartialDir` and commits it, so a run's
//! `linked/` never mixes tables of two runs. The SQL uses only built-in functions, so the same
//! files run on DuckDB and on a stock Ballista cluster. Parameters (`$reference_date`,
//! `$start_12m`, `$start_24m`, `$outcome_end`) are bound as typed date literals; nothing is
//! edited into the files. The engine, the SQL files and their parameters are `phm-sql`'s;
//! `phm-link` never reads the identifiable zone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter};
use datafusion::parquet::basic::Compression;
use datafusion::prelude::{DataFrame, ParquetReadOptions};
use phm_run::RunLayout;
use phm_run::atomic::{self, AtomicFile, Privacy};
use phm_sql::{Dates, SessionSettings, SqlError, engine, failed};

/// What to link.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The pseudonymised zone of a run (holding `pseudonymised/<extract>/`).
    pub run: PathBuf,
    /// Folder of SQL files run in name order (`None`: the built-in copy of `sql/`).
    pub sql_dir: Option<PathBuf>,
    /// Window dates.
    pub dates: Dates,
    /// The engine's memory, spill folder and partitions.
    pub session: SessionSettings,
}

/// Why linkage failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The engine, a SQL file or a dataset failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The output folder could not be made or tidied.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
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
        "`{file}` reads `{extract}`, but there is no `{extract}` dataset under `{folder}`\nhint: ingest an `{extract}` extract (a file with only the header line is enough when a source sends no data), or remove `{extract}` from the SQL"
    )]
    MissingExtract {
        /// The SQL file.
        file: String,
        /// The extract.
        extract: String,
        /// The run's `pseudonymised/` folder.
        folder: String,
    },
    /// The SQL steps do not make a table `phm link` publishes.
    #[error(
        "the SQL steps made no `{0}` table\nhint: `phm link` publishes {published}: keep a file named like `05_{0}.sql` in the SQL folder",
        published = PUBLISHED_STEPS.map(|t| format!("`{t}`")).join(" and ")
    )]
    MissingTable(String),
}

/// The steps written to the output folder (sorted by pseudonym); the rest are working tables.
pub const PUBLISHED_STEPS: [&str; 2] = ["spine", "features"];

/// Run the linkage and write `spine.parquet` and `features.parquet` into `out` (created if
/// missing); returns the number of patients in the feature table. Working tables are kept in
/// `out/.steps/` while the steps run and removed at the end. The caller makes `out` a
/// `phm_run::PartialDir` and commits it, so a run that fails leaves the previous tables whole.
pub fn link(cfg: &LinkConfig, out: &Path) -> Result<usize, LinkError> {
    phm_sql::block_on(link_async(cfg, out))
}

/// A published table's file in the output folder, named as the run layout names it.
fn table_file(run: &RunLayout, out: &Path, table: &str) -> PathBuf {
    let path = run.linked_table(table);
    out.join(path.file_name().expect("a table file has a name"))
}

async fn link_async(cfg: &LinkConfig, out: &Path) -> Result<usize, LinkError> {
    let run = RunLayout::at(&cfg.run);
    let ctx = phm_sql::connect(&cfg.session).await?;
    let tables = phm_sql::register_extracts(&ctx, &run).await?;
    if !tables.iter().any(|t| t == "gp_registrations") {
        return Err(LinkError::NoRegistrations(cfg.run.clone()));
    }
    let steps = phm_sql::sql_steps(cfg.sql_dir.as_deref())?;
    let extracts = phm_sql::extract_tables();
    for (_, file, text) in &steps {
        if let Some(extract) = extracts
            .iter()
            .find(|t| !tables.contains(t) && phm_sql::mentions(text, t))
        {
            return Err(LinkError::MissingExtract {
                file: file.clone(),
                extract: extract.clone(),
                folder: run.pseudonymised().display().to_string(),
            });
        }
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LinkError::Io { path, source }
    };
    atomic::create_dir_all(out, Privacy::Shared).map_err(io(out))?;
    // Steps that later steps read are written to Parquet here and read back, as a database
    // keeps a table: memory stays bounded and the engine's accounting stays true.
    let work = out.join(".steps");
    let mut rows = 0;
    for (k, (table, file, text)) in steps.iter().enumerate() {
        let sql = phm_sql::bind(text, &cfg.dates).map_err(|name| LinkError::UnknownParameter {
            file: file.clone(),
            name,
            known: Dates::NAMES.join(", "),
        })?;
        let started = std::time::Instant::now();
        let df = ctx.sql(&sql).await.map_err(engine(file))?;
        let published = PUBLISHED_STEPS.contains(&table.as_str());
        let read_later = steps[k + 1..]
            .iter()
            .any(|(_, _, t)| phm_sql::mentions(t, table));
        let path = if published {
            // Published tables are written once, sorted, where readers find them.
            let path = table_file(&run, out, table);
            rows = write_sorted(df, &path, file).await?;
            Some(path)
        } else if read_later {
            // Steps that later steps read are kept as uncompressed Parquet and read back, as a
            // database keeps a table: memory stays bounded and the engine's accounting true.
            let path = work.join(format!("{table}.parquet"));
            phm_sql::write_parquet_with(df, &path, file, Compression::UNCOMPRESSED).await?;
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
        if !table_file(&run, out, name).is_file() {
            return Err(LinkError::MissingTable(name.to_owned()));
        }
    }
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io(&work))?;
    }
    Ok(rows)
}

/// Write a patient-level step sorted by pseudonym, zstd-compressed, atomically; returns the
/// number of rows. The table is held once in memory, compacted, and its order computed on the
/// pseudonym alone; row groups are then copied out in order. DataFusion's own sort is not used
/// here: it counts the slices an aggregation or a join emits as if each held the whole batch
/// they share, and gives up on tables that fit easily (DataFusion issues 22526, 22757).
async fn write_sorted(df: DataFrame, dest: &Path, step: &str) -> Result<usize, LinkError> {
    use datafusion::arrow::array::UInt32Array;
    use datafusion::arrow::compute::{concat_batches, take_record_batch};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use datafusion::parquet::schema::types::ColumnPath;

    let fail = |e: &dyn std::fmt::Display| LinkError::Sql(failed(step, e));
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = phm_sql::collect_compact(df, step).await?;
    let table = concat_batches(&schema, &batches).map_err(|e| fail(&e))?;
    drop(batches);
    let key = table
        .column_by_name("pseudonym")
        .ok_or_else(|| fail(&"a published table needs a `pseudonym` column"))?;
    let order = pseudonym_order(key).map_err(|e| fail(&e))?;
    let file = AtomicFile::create(dest, Privacy::Shared).map_err(|source| LinkError::Io {
        path: dest.to_owned(),
        source,
    })?;
    // Pseudonyms are unique in a published table: a dictionary would only cost time.
    let props = WriterProperties::builder()
        .set_column_dictionary_enabled(ColumnPath::from("pseudonym"), false)
        .set_compression(phm_sql::published_compression())
        .set_max_row_group_row_count(Some(phm_sql::ROW_GROUP_ROWS))
        .build();
    let writer =
        ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(|e| fail(&e))?;
    let (mut writer, factory) = writer.into_serialized_writer().map_err(|e| fail(&e))?;
    for (group, rows) in order.chunks(phm_sql::ROW_GROUP_ROWS).enumerate() {
        let part =
            take_record_batch(&table, &UInt32Array::from(rows.to_vec())).map_err(|e| fail(&e))?;
        let columns = factory.create_column_writers(group).map_err(|e| fail(&e))?;
        let chunks = encode_columns(&schema, &part, columns).map_err(|e| fail(&e))?;
        let mut row_group = writer.next_row_group().map_err(|e| fail(&e))?;
        for chunk in chunks {
            chunk
                .append_to_row_group(&mut row_group)
                .map_err(|e| fail(&e))?;
        }
        row_group.close().map_err(|e| fail(&e))?;
    }
    let file = writer.into_inner().map_err(|e| fail(&e))?;
    file.commit().map_err(|source| LinkError::Io {
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
}
