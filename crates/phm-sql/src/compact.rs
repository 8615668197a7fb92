//! Batches that own their strings before they leave a process.
//!
//! DataFusion reads the extracts' strings as views (`Utf8View`): a column of 16-byte views into
//! shared data buffers. An aggregation or a repartition hands on slices and selections of such a
//! column that still point into every buffer of the whole, and arrow's IPC writer, which a
//! Ballista executor uses for its shuffle files and its Flight answers, writes every buffer a
//! view array holds (arrow-ipc 59, `write_array_data`). At 1M patients one partition of
//! `03_activity.sql` crossed the network about 60 times over. [`compact_views`] copies the
//! strings of a sparse view column into buffers of their own.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;

/// A batch whose view columns hold at most twice the bytes their strings need (others as
/// they are). Values are unchanged; only where they are kept.
pub fn compact_views(batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    let mut columns = batch.columns().to_vec();
    let mut changed = false;
    for column in &mut columns {
        if let Some(compacted) = compacted_column(column.as_ref()) {
            *column = compacted;
            changed = true;
        }
    }
    if !changed {
        return Ok(batch);
    }
    RecordBatch::try_new(batch.schema(), columns)
}

/// A view column's strings in buffers of their own, when its data buffers hold more than
/// twice the bytes its strings use; `None` for any other column.
fn compacted_column(column: &dyn Array) -> Option<ArrayRef> {
    match column.data_type() {
        DataType::Utf8View => {
            let a = column.as_string_view();
            sparse(a.data_buffers(), a.total_buffer_bytes_used()).then(|| Arc::new(a.gc()) as _)
        }
        DataType::BinaryView => {
            let a = column.as_binary_view();
            sparse(a.data_buffers(), a.total_buffer_bytes_used()).then(|| Arc::new(a.gc()) as _)
        }
        _ => None,
    }
}

fn sparse(buffers: &[datafusion::arrow::buffer::Buffer], used: usize) -> bool {
    let held: usize = buffers
        .iter()
        .map(datafusion::arrow::buffer::Buffer::len)
        .sum();
    held > 2 * used
}

#[cfg(feature = "ballista")]
pub(crate) use executor::CompactingEngine;

#[cfg(feature = "ballista")]
mod executor {
    use std::collections::HashMap;
    use std::fmt;
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

    use ballista_core::client::BallistaClient;
    use ballista_core::client_pool::{BallistaClientPool, PooledClient};
    use ballista_core::extension::BallistaConfigGrpcEndpoint;
    use ballista_core::utils::GrpcClientConfig;

    use ballista_core::JobId;
    use ballista_core::execution_plans::{RuntimeStatsExec, preserves_distribution};
    use ballista_executor::execution_engine::{
        DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
    };
    use datafusion::common::Statistics;
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::error::{DataFusionError, Result};
    use datafusion::execution::{SendableRecordBatchStream, TaskContext};
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_plan::execution_plan::CardinalityEffect;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use datafusion::physical_plan::{
        ChildStats, ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
        PlanProperties, ReplaceChildrenOptions, StatisticsArgs,
    };
    use datafusion::prelude::SessionConfig;
    use futures::StreamExt as _;

    use super::compact_views;

    /// Ballista's own engine, with every stage's output compacted before its shuffle writer
    /// writes it: shuffle files, and the results a client fetches, then carry each string
    /// once. Shuffle fetches from other executors reuse connections ([`Connections`]).
    pub(crate) struct CompactingEngine(DefaultExecutionEngine);

    impl Default for CompactingEngine {
        fn default() -> Self {
            CompactingEngine(DefaultExecutionEngine::with_client_pool(Arc::new(
                Connections::default(),
            )))
        }
    }

    /// Idle connections to other executors, by address and settings. Ballista 55 keeps its own
    /// pool private to its executor process; this one hands a fetch an idle connection or a
    /// new one, takes it back when the fetch is done, and forgets one the fetch discarded
    /// after a transport error. Executors are few, so idle connections are kept until the
    /// executor stops.
    #[derive(Default)]
    struct Connections(Arc<Mutex<HashMap<Address, Vec<BallistaClient>>>>);

    impl fmt::Debug for Connections {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let idle: usize = self.idle().values().map(Vec::len).sum();
            write!(f, "Connections {{ idle: {idle} }}")
        }
    }

    type Address = (String, u16, GrpcClientConfig);

    #[async_trait::async_trait]
    impl BallistaClientPool for Connections {
        async fn acquire(
            &self,
            host: &str,
            port: u16,
            config: &GrpcClientConfig,
            customize_endpoint: Option<Arc<BallistaConfigGrpcEndpoint>>,
        ) -> ballista_core::error::Result<PooledClient> {
            let address: Address = (host.to_owned(), port, config.clone());
            let idle = self.idle().get_mut(&address).and_then(Vec::pop);
            let client = match idle {
                Some(client) => client,
                None => {
                    BallistaClient::try_new(
                        host,
                        port,
                        config.max_message_size,
                        config.use_tls,
                        customize_endpoint,
                        config.io_retries_times,
                        config.io_retry_wait_time_ms,
                        config.initial_connection_window_size,
                        config.initial_stream_window_size,
                    )
                    .await?
                }
            };
            let pool = Arc::clone(&self.0);
            let give_back = move |client| {
                let mut idle = pool.lock().unwrap_or_else(PoisonError::into_inner);
                idle.entry(address).or_default().push(client);
            };
            Ok(PooledClient::new(client, Box::new(give_back)))
        }

        async fn evict_idle(&self) {
            self.idle().clear();
        }
    }

    impl Connections {
        fn idle(&self) -> MutexGuard<'_, HashMap<Address, Vec<BallistaClient>>> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

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
            let plan = Arc::clone(&plan).replace_children(
                vec![with_compaction(Arc::clone(input))?],
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

    /// A writer's input with [`CompactViewsExec`] put in: right under the writer, or under the
    /// lowest runtime-statistics tap of the chain below it, where Ballista's executor still
    /// finds every tap (it walks down from the writer through the nodes it knows, and stops at
    /// any other).
    fn with_compaction(input: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        let children = input.children();
        let [child] = children.as_slice() else {
            return Ok(compacted(input));
        };
        if !taps_below(&input) {
            return Ok(compacted(input));
        }
        let child = if input.downcast_ref::<RuntimeStatsExec>().is_some() && !taps_below(child) {
            compacted(Arc::clone(child))
        } else {
            with_compaction(Arc::clone(child))?
        };
        input.replace_children(
            vec![child],
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    /// Whether a runtime-statistics tap is at or below a node, on the chain Ballista's
    /// executor walks.
    fn taps_below(plan: &Arc<dyn ExecutionPlan>) -> bool {
        if plan.downcast_ref::<RuntimeStatsExec>().is_none()
            && !preserves_distribution(plan.as_ref())
        {
            return false;
        }
        plan.downcast_ref::<RuntimeStatsExec>().is_some()
            || matches!(plan.children().as_slice(), [child] if taps_below(child))
    }

    fn compacted(input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        Arc::new(CompactViewsExec { input })
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

        fn benefits_from_input_partitioning(&self) -> Vec<bool> {
            vec![false]
        }

        fn cardinality_effect(&self) -> CardinalityEffect {
            CardinalityEffect::Equal
        }

        fn supports_limit_pushdown(&self) -> bool {
            true
        }

        fn statistics_from_inputs(
            &self,
            input_stats: &[Arc<Statistics>],
            _args: &StatisticsArgs,
        ) -> Result<Arc<Statistics>> {
            Ok(Arc::clone(&input_stats[0]))
        }

        fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
            vec![ChildStats::At(partition)]
        }

        // No `metrics`: the scheduler checks a task's metrics against its own plan's nodes,
        // which do not include this one.

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
        ) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }

        fn replace_children(
            self: Arc<Self>,
            children: Vec<Arc<dyn ExecutionPlan>>,
            _options: ReplaceChildrenOptions,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            let Ok([input]) = <[_; 1]>::try_from(children) else {
                return Err(DataFusionError::Internal(
                    "CompactViewsExec has one input".to_owned(),
                ));
            };
            Ok(compacted(input))
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

        /// The names of a single-child chain of nodes, from the top.
        fn chain(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
            let mut names = vec![plan.name().to_owned()];
            if let [child] = plan.children().as_slice() {
                names.extend(chain(child));
            }
            names
        }

        #[test]
        fn compaction_goes_under_the_writer_or_under_its_statistics_taps() {
            let schema = Arc::new(Schema::new(vec![Field::new(
                "s",
                DataType::Utf8View,
                false,
            )]));
            let source: Arc<dyn ExecutionPlan> =
                MemorySourceConfig::try_new_exec(&[vec![]], schema, None).unwrap();
            let plain = with_compaction(Arc::clone(&source)).unwrap();
            assert_eq!(chain(&plain), ["CompactViewsExec", "DataSourceExec"]);
            let tap: Arc<dyn ExecutionPlan> =
                Arc::new(RuntimeStatsExec::try_new(Arc::clone(&source), None).unwrap());
            let tapped = with_compaction(tap).unwrap();
            assert_eq!(
                chain(&tapped),
                ["RuntimeStatsExec", "CompactViewsExec", "DataSourceExec"]
            );
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
