//! The session factory and the runtime the stages block on.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::{SqlError, engine};

/// Memory for a session when nothing else is said: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 1 << 30;

/// How a session is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Memory for the session (bytes); sorts and aggregates spill beyond it.
    pub memory_limit: usize,
    /// Where spills go (`None`: the system temporary folder).
    pub spill_dir: Option<PathBuf>,
    /// Partitions a plan runs in (`None`: the machine's cores).
    pub target_partitions: Option<usize>,
    /// The engine that runs the SQL ([`crate::connect`]).
    pub engine: crate::Engine,
}

impl SessionSettings {
    /// A memory limit, spills to the system temporary folder, a partition per core.
    pub fn with_memory_limit(memory_limit: usize) -> Self {
        SessionSettings {
            memory_limit,
            spill_dir: None,
            target_partitions: None,
            engine: crate::Engine::DataFusion,
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self::with_memory_limit(DEFAULT_MEMORY_LIMIT)
    }
}

/// The machine's cores (1 if the system does not say).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A session with an explicit memory pool and a spill directory.
pub fn session(settings: &SessionSettings) -> Result<SessionContext, SqlError> {
    let disk = match &settings.spill_dir {
        Some(d) => {
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![d.clone()]))
        }
        None => DiskManagerBuilder::default().with_mode(DiskManagerMode::OsTmpDirectory),
    };
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(settings.memory_limit),
            std::num::NonZeroUsize::new(5).expect("5 is not zero"),
        )))
        .with_disk_manager_builder(disk)
        .build_arc()
        .map_err(engine("session"))?;
    let partitions = settings.target_partitions.unwrap_or_else(cores).max(1);
    let mut config = SessionConfig::new().with_target_partitions(partitions);
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

/// Run a stage's async work to completion on a runtime with a worker thread per core.
pub fn block_on<T, E: From<SqlError>>(work: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(SqlError::Runtime)?;
    rt.block_on(work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_default_to_the_cores_and_can_be_set() {
        let ctx = session(&SessionSettings::default()).unwrap();
        let expected = std::env::var("DATAFUSION_EXECUTION_TARGET_PARTITIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(cores);
        assert_eq!(ctx.state().config().target_partitions(), expected);
        if std::env::var_os("DATAFUSION_EXECUTION_TARGET_PARTITIONS").is_none() {
            let mut s = SessionSettings::with_memory_limit(64 << 20);
            s.target_partitions = Some(3);
            let ctx = session(&s).unwrap();
            assert_eq!(ctx.state().config().target_partitions(), 3);
        }
        let options = ctx.state().config().options().clone();
        assert!(!options.execution.parquet.schema_force_view_types);
    }

    #[test]
    fn a_join_beyond_the_memory_pool_says_which_setting_to_raise() {
        let ctx = session(&SessionSettings::with_memory_limit(1 << 20)).unwrap();
        let sql = "SELECT count(*) FROM \
            (SELECT value AS k, repeat('x', 64) AS pad FROM generate_series(1, 200000)) a \
            JOIN (SELECT value AS k FROM generate_series(1, 200000)) b ON a.k = b.k";
        let e = block_on(async {
            ctx.sql(sql)
                .await
                .map_err(engine("join"))?
                .collect()
                .await
                .map_err(engine("join"))
        })
        .unwrap_err();
        assert!(matches!(e, SqlError::OutOfMemory { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("`join` ran out of the query engine's memory"),
            "{text}"
        );
        assert!(
            text.contains("hint: raise `[link] memory_limit_mb`"),
            "{text}"
        );
    }
}
