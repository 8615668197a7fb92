//! Parquet files written through `phm_run::atomic`, the same bytes for the same rows.
//!
//! Rows are re-cut into batches of [`BATCH_ROWS`] before they reach the writer, so pages and
//! row groups fall at the same rows however the engine's partitions happened to cut them:
//! the same rows in the same order give the same file, with 1 partition or 8.

use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::BatchCoalescer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::DataFrame;
use futures::StreamExt as _;
use phm_run::atomic::{AtomicFile, Privacy};

use crate::{SqlError, engine, failed, io};

/// Rows per row group of a written table.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// Rows per batch handed to the writer (a divisor of [`ROW_GROUP_ROWS`] and a multiple of
/// the writer's 1,024-row mini-batches).
pub const BATCH_ROWS: usize = 8_192;

/// The compression of published tables: zstd level 1.
pub fn published_compression() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(1).expect("1 is a zstd level"))
}

/// Write a frame as one zstd-compressed Parquet file, atomically; returns the number of rows.
/// Rows are written in the order the frame gives them (give it an `ORDER BY` for a stable
/// file).
pub async fn write_single_parquet(
    df: DataFrame,
    dest: &Path,
    step: &str,
) -> Result<usize, SqlError> {
    write_parquet_with(df, dest, step, published_compression()).await
}

/// [`write_single_parquet`] with a compression.
pub async fn write_parquet_with(
    df: DataFrame,
    dest: &Path,
    step: &str,
    compression: Compression,
) -> Result<usize, SqlError> {
    let mut stream = df.execute_stream().await.map_err(engine(step))?;
    let mut out = ParquetOut::create(stream.schema(), dest, step, compression)?;
    while let Some(batch) = stream.next().await {
        out.push(batch.map_err(engine(step))?)?;
    }
    out.commit()
}

/// A frame's rows as batches of up to [`ROW_GROUP_ROWS`] rows that own their strings.
///
/// `DataFrame::collect` keeps each batch as the engine gave it, and a slice of string views
/// keeps alive every buffer its views point into: on a Ballista cluster each batch of a few
/// hundred rows arrives with the whole Flight message it was cut from (about 5 MB), so a 60 MB
/// table held 3 GB. Batches pass through arrow's coalescer as they arrive, which copies the
/// strings of a sparse view array into buffers of its own, and every other column too, so no
/// batch keeps alive the message it was decoded from ([`crate::compact_views`] compacts only
/// the view columns, which is what matters for what an executor writes).
pub async fn collect_compact(df: DataFrame, step: &str) -> Result<Vec<RecordBatch>, SqlError> {
    let mut stream = df.execute_stream().await.map_err(engine(step))?;
    // The stream's own schema: the coalescer trusts it for every batch's types.
    let mut packer = BatchCoalescer::new(stream.schema(), ROW_GROUP_ROWS);
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        packer
            .push_batch(batch.map_err(engine(step))?)
            .map_err(|e| failed(step, &e))?;
        batches.extend(std::iter::from_fn(|| packer.next_completed_batch()));
    }
    packer
        .finish_buffered_batch()
        .map_err(|e| failed(step, &e))?;
    batches.extend(std::iter::from_fn(|| packer.next_completed_batch()));
    Ok(batches)
}

/// Write batches as one Parquet file, atomically; returns the number of rows.
pub fn write_batches(
    schema: SchemaRef,
    batches: impl IntoIterator<Item = RecordBatch>,
    dest: &Path,
    step: &str,
    compression: Compression,
) -> Result<usize, SqlError> {
    let mut out = ParquetOut::create(schema, dest, step, compression)?;
    for batch in batches {
        out.push(batch)?;
    }
    out.commit()
}

/// A whole (small) Parquet file as one batch: a stage's own output read back (a run's risk
/// table for bundles, a bundle's flagged patients).
pub fn read_table(path: &Path) -> Result<RecordBatch, SqlError> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let step = path.display().to_string();
    let file = std::fs::File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(&step, &e))?;
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .map_err(|e| failed(&step, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(&step, &e))?;
    datafusion::arrow::compute::concat_batches(&schema, &batches).map_err(|e| failed(&step, &e))
}

/// The named columns of a Parquet file (those it has; the rest are left out), read in batches
/// of [`BATCH_ROWS`] rows: a stage that turns rows into its own structures holds one batch at a
/// time, not the whole table.
pub fn read_columns(
    path: &Path,
    columns: &[&str],
) -> Result<impl Iterator<Item = Result<RecordBatch, SqlError>> + use<>, SqlError> {
    use datafusion::parquet::arrow::ProjectionMask;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let step = path.display().to_string();
    let file = std::fs::File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(&step, &e))?;
    let roots = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| columns.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| failed(&step, &e))?;
    Ok(reader.map(move |b| b.map_err(|e| failed(&step, &e))))
}

/// The number of rows of a Parquet file, from its footer; `None` for anything else.
pub fn parquet_rows(path: &Path) -> Option<u64> {
    use datafusion::parquet::file::reader::{FileReader as _, SerializedFileReader};
    if path.extension().is_none_or(|x| x != "parquet") {
        return None;
    }
    let reader = SerializedFileReader::new(std::fs::File::open(path).ok()?).ok()?;
    u64::try_from(reader.metadata().file_metadata().num_rows()).ok()
}

/// A Parquet file being written: batches re-cut to [`BATCH_ROWS`], then committed.
struct ParquetOut<'a> {
    writer: ArrowWriter<AtomicFile>,
    cutter: BatchCoalescer,
    rows: usize,
    dest: &'a Path,
    step: &'a str,
}

impl<'a> ParquetOut<'a> {
    fn create(
        schema: SchemaRef,
        dest: &'a Path,
        step: &'a str,
        compression: Compression,
    ) -> Result<Self, SqlError> {
        let file = AtomicFile::create(dest, Privacy::Shared).map_err(io(dest))?;
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(file, std::sync::Arc::clone(&schema), Some(props))
            .map_err(|e| failed(step, &e))?;
        Ok(ParquetOut {
            writer,
            cutter: BatchCoalescer::new(schema, BATCH_ROWS),
            rows: 0,
            dest,
            step,
        })
    }

    fn push(&mut self, batch: RecordBatch) -> Result<(), SqlError> {
        self.rows += batch.num_rows();
        self.cutter
            .push_batch(batch)
            .map_err(|e| failed(self.step, &e))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), SqlError> {
        while let Some(batch) = self.cutter.next_completed_batch() {
            self.writer
                .write(&batch)
                .map_err(|e| failed(self.step, &e))?;
        }
        Ok(())
    }

    fn commit(mut self) -> Result<usize, SqlError> {
        self.cutter
            .finish_buffered_batch()
            .map_err(|e| failed(self.step, &e))?;
        self.drain()?;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| failed(self.step, &e))?;
        file.commit().map_err(io(self.dest))?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(from: i64, to: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        let n: Vec<i64> = (from..to).collect();
        let s: Vec<String> = n.iter().map(|v| format!("row {}", v % 97)).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(n)),
                Arc::new(StringArray::from(s)),
            ],
        )
        .unwrap()
    }

    /// Slices of a view array whose strings fill one large buffer, as a Flight message
    /// decodes: each slice's views point into the whole buffer.
    fn sparse_view_slices() -> (Vec<RecordBatch>, usize) {
        use datafusion::arrow::array::StringViewArray;
        let rows = 20_000;
        let text: Vec<String> = (0..rows).map(|i| format!("{i:064x}")).collect();
        let whole = StringViewArray::from_iter_values(text.iter());
        let schema = Arc::new(Schema::new(vec![Field::new(
            "s",
            DataType::Utf8View,
            false,
        )]));
        let slices = (0..rows)
            .step_by(315)
            .map(|at| {
                let len = 315.min(rows - at);
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(whole.slice(at, len))])
                    .unwrap()
            })
            .collect();
        (slices, rows)
    }

    #[test]
    fn collected_batches_own_their_strings_not_the_buffers_they_were_cut_from() {
        let (slices, rows) = sparse_view_slices();
        let held = |batches: &[RecordBatch]| -> usize {
            batches.iter().map(RecordBatch::get_array_memory_size).sum()
        };
        let before = held(&slices);
        let ctx = datafusion::prelude::SessionContext::new();
        let df = ctx.read_batches(slices.clone()).unwrap();
        let batches: Vec<RecordBatch> = crate::block_on(collect_compact(df, "t")).unwrap();
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            rows
        );
        let after = held(&batches);
        // 20,000 strings of 64 bytes plus 16-byte views need 1.6 MB (the coalescer's
        // buffers hold somewhat more); the slices each reported the whole 1.3 MB buffer.
        assert!(after < 3 * rows * 80, "compacted to {after} bytes");
        assert!(before > 20 * after, "the slices held {before} bytes");
        let values = |b: &[RecordBatch]| -> std::collections::BTreeSet<String> {
            b.iter()
                .flat_map(|b| {
                    let a = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
                    let a = a.as_any().downcast_ref::<StringArray>().unwrap().clone();
                    a.iter().map(|v| v.unwrap().to_owned()).collect::<Vec<_>>()
                })
                .collect()
        };
        // The engine may interleave partitions; every string arrives once, unchanged.
        let (got, sent) = (values(&batches), values(&slices));
        assert!(got.len() == rows && got == sent, "the strings changed");
    }

    #[test]
    fn the_same_rows_cut_differently_give_the_same_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let rows = 3 * ROW_GROUP_ROWS as i64 / 2 + 17;
        let whole = tmp.path().join("whole.parquet");
        let cut = tmp.path().join("cut.parquet");
        let schema = batch(0, 0).schema();
        let n = write_batches(
            Arc::clone(&schema),
            [batch(0, rows)],
            &whole,
            "t",
            published_compression(),
        )
        .unwrap();
        assert_eq!(n, rows as usize);
        let bounds = [0, 1, 1000, 1001, 5000, 70_000, rows];
        let pieces = bounds.windows(2).map(|w| batch(w[0], w[1]));
        write_batches(schema, pieces, &cut, "t", published_compression()).unwrap();
        assert_eq!(std::fs::read(&whole).unwrap(), std::fs::read(&cut).unwrap());
        assert_eq!(parquet_rows(&whole), Some(rows as u64));
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }
}
