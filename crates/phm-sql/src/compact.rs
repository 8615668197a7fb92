//! Batches that own their strings before they leave a process.
//!
//! DataFusion reads the extracts' strings as views (`Utf8View`): a column of 16-byte views into
//! shared data buffers. An aggregation or a repartition hands on slices and selections of such a
//! column that still point into every buffer of the whole, and arrow's IPC writer, which a
//! Ballista executor uses for its shuffle files and its Flight answers, writes every buffer a
//! view array holds (arrow-ipc 59, `write_array_data`). At 1M patients one partition of
//! `03_activity.sql` crossed the network about 60 times over. [`compact_views`] copies the
//! strings of a sparse view column into buffers of their own, as arrow's coalescer does.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;

/// A batch whose view columns hold at most twice the bytes their strings need (others as
/// they are). Values are unchanged; only where they are kept.
pub fn compact_views(batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    if !batch.columns().iter().any(|c| is_sparse(c.as_ref())) {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Utf8View if is_sparse(column.as_ref()) => {
                Arc::new(column.as_string_view().gc()) as ArrayRef
            }
            DataType::BinaryView if is_sparse(column.as_ref()) => {
                Arc::new(column.as_binary_view().gc()) as ArrayRef
            }
            _ => Arc::clone(column),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns)
}

/// Whether a view column's data buffers hold more than twice the bytes its strings use.
fn is_sparse(column: &dyn Array) -> bool {
    let (held, used) = match column.data_type() {
        DataType::Utf8View => {
            let a = column.as_string_view();
            (held(a.data_buffers()), a.total_buffer_bytes_used())
        }
        DataType::BinaryView => {
            let a = column.as_binary_view();
            (held(a.data_buffers()), a.total_buffer_bytes_used())
        }
        _ => return false,
    };
    held > 2 * used
}

fn held(buffers: &[datafusion::arrow::buffer::Buffer]) -> usize {
    buffers
        .iter()
        .map(datafusion::arrow::buffer::Buffer::len)
        .sum()
}

#[cfg(feature = "ballista")]
pub(crate) use executor::CompactingEngine;

#[cfg(feature = "ballista")]
mod executor {
    use std::fmt;
    use std::sync::Arc;

    use ballista_core::JobId;
    use ballista_executor::execution_engine::{
        DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
    };
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::error::{DataFusionError, Result};
    use datafusion::execution::{SendableRecordBatchStream, TaskContext};
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use datafusion::physical_plan::{
        ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
        ReplaceChildrenOptions,
    };
    use datafusion::prelude::SessionConfig;
    use futures::StreamExt as _;

    use super::compact_views;

    /// Ballista's own engine, with every stage's output compacted before its shuffle writer
    /// writes it: shuffle files, and the results a client fetches, then carry each string
    /// once.
    #[derive(Default)]
    pub(crate) struct CompactingEngine(DefaultExecutionEngine);

    impl ExecutionEngine for CompactingEngine {
        fn create_query_stage_exec(
            &self,
            job_id: JobId,
            stage_id: usize,
            task_id: usize,
            global_output_partition_ids: Vec<usize>,
            plan: Arc<dyn ExecutionPlan>,
            work_dir: &str,
            config: &SessionConfig,
        ) -> Result<Arc<dyn QueryStageExecutor>> {
            let [input] = plan.children()[..] else {
                return Err(DataFusionError::Internal(
                    "a stage's shuffle writer has one input".to_owned(),
                ));
            };
            let compacted: Arc<dyn ExecutionPlan> = Arc::new(CompactViewsExec {
                input: Arc::clone(input),
            });
            let plan = Arc::clone(&plan).replace_children(
                vec![compacted],
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?;
            self.0.create_query_stage_exec(
                job_id,
                stage_id,
                task_id,
                global_output_partition_ids,
                plan,
                work_dir,
                config,
            )
        }
    }

    /// Its input's batches, each through [`compact_views`]; otherwise the input itself
    /// (partitions, order, schema).
    #[derive(Debug)]
    struct CompactViewsExec {
        input: Arc<dyn ExecutionPlan>,
    }

    impl DisplayAs for CompactViewsExec {
        fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "CompactViewsExec")
        }
    }

    impl ExecutionPlan for CompactViewsExec {
        fn name(&self) -> &'static str {
            "CompactViewsExec"
        }

        fn properties(&self) -> &Arc<PlanProperties> {
            self.input.properties()
        }

        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![&self.input]
        }

        fn maintains_input_order(&self) -> Vec<bool> {
            vec![true]
        }

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
        ) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }

        fn replace_children(
            self: Arc<Self>,
            mut children: Vec<Arc<dyn ExecutionPlan>>,
            _options: ReplaceChildrenOptions,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            Ok(Arc::new(CompactViewsExec {
                input: children.swap_remove(0),
            }))
        }

        fn with_new_children(
            self: Arc<Self>,
            children: Vec<Arc<dyn ExecutionPlan>>,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            self.replace_children(
                children,
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )
        }

        fn execute(
            &self,
            partition: usize,
            context: Arc<TaskContext>,
        ) -> Result<SendableRecordBatchStream> {
            let input = self.input.execute(partition, context)?;
            let schema = input.schema();
            let compacted = input.map(|batch| {
                batch.and_then(|b| {
                    compact_views(b).map_err(|e| DataFusionError::ArrowError(Box::new(e), None))
                })
            });
            Ok(Box::pin(RecordBatchStreamAdapter::new(schema, compacted)))
        }
    }

    #[cfg(test)]
    mod tests {
        use ballista_core::execution_plans::ShuffleWriterExec;
        use datafusion::arrow::array::{RecordBatch, StringViewArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::datasource::memory::MemorySourceConfig;
        use datafusion::prelude::SessionContext;

        use super::*;

        /// The bytes of the shuffle file one engine writes for 64 slices of one view column.
        async fn shuffle_bytes(engine: &dyn ExecutionEngine, dir: &std::path::Path) -> u64 {
            let rows = 20_000;
            let text = (0..rows).map(|i: u32| blake3::hash(&i.to_le_bytes()).to_hex().to_string());
            let whole = StringViewArray::from_iter_values(text);
            let schema = Arc::new(Schema::new(vec![Field::new(
                "s",
                DataType::Utf8View,
                false,
            )]));
            let slices: Vec<RecordBatch> = (0..rows as usize)
                .step_by(315)
                .map(|at| {
                    let column = whole.slice(at, 315.min(rows as usize - at));
                    RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(column)]).unwrap()
                })
                .collect();
            let input = MemorySourceConfig::try_new_exec(&[slices], schema, None).unwrap();
            let work = dir.display().to_string();
            let writer =
                ShuffleWriterExec::try_new(JobId::new("job"), 1, input, work.clone()).unwrap();
            let stage = engine
                .create_query_stage_exec(
                    JobId::new("job"),
                    1,
                    0,
                    vec![0],
                    Arc::new(writer),
                    &work,
                    &SessionConfig::new(),
                )
                .unwrap();
            let written = stage
                .execute_query_stage(0, SessionContext::new().task_ctx())
                .await
                .unwrap();
            assert_eq!(written.iter().map(|p| p.num_rows).sum::<u64>(), 20_000);
            written.iter().map(|p| p.num_bytes).sum()
        }

        #[test]
        fn a_stage_writes_each_string_once() {
            let tmp = tempfile::tempdir().unwrap();
            let (ours, theirs) = crate::block_on(async {
                let ours = shuffle_bytes(&CompactingEngine::default(), &tmp.path().join("a")).await;
                let theirs =
                    shuffle_bytes(&DefaultExecutionEngine::new(), &tmp.path().join("b")).await;
                Ok::<_, crate::SqlError>((ours, theirs))
            })
            .unwrap();
            // 20,000 hashes of 64 characters: 1.6 MB with their views, whatever the codec.
            assert!(ours < 2_000_000, "compacted: {ours} bytes");
            assert!(
                theirs > 20 * ours,
                "Ballista's own engine wrote {theirs} bytes"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn a_slice_of_views_keeps_only_its_own_strings() {
        let text: Vec<String> = (0..10_000).map(|i| format!("{i:064x}")).collect();
        let whole = StringViewArray::from_iter_values(text.iter());
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8View, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let slice = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(whole.slice(100, 300)),
                Arc::new(Int64Array::from_iter_values(0..300)),
            ],
        )
        .unwrap();
        let before = slice.get_array_memory_size();
        let compacted = compact_views(slice.clone()).unwrap();
        let after = compacted.get_array_memory_size();
        assert!(before > 640_000, "the slice held {before} bytes");
        assert!(
            after < 2 * 300 * (64 + 16) + 8 * 300,
            "compacted to {after} bytes"
        );
        assert_eq!(compacted, slice, "same values");
        // A compact batch is handed on as it is.
        let again = compact_views(compacted.clone()).unwrap();
        assert_eq!(again.get_array_memory_size(), after);
    }
}
