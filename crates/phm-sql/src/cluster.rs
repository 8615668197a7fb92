//! Which engine runs the SQL, and Apache Ballista's scheduler and executor.
//!
//! Every stage asks [`connect`] for its session. DataFusion in this process is the default;
//! with the `ballista` feature, `engine = "ballista"` sends the same plans to a Ballista 55
//! cluster through its scheduler, and `engine = "ballista-standalone"` starts a scheduler and an
//! executor inside this process (tests, trying it out). The SQL of `sql/` uses built-in
//! functions only and every table a step reads is a Parquet file, so both run unchanged; the
//! client, the scheduler and every executor must see the run's folder at the same path.

use datafusion::prelude::SessionContext;

use crate::{SessionSettings, SqlError, session};

/// The engine that runs a stage's SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// DataFusion in this process.
    #[default]
    DataFusion,
    /// A Ballista cluster, through its scheduler (`df://host:50050`).
    Ballista {
        /// The scheduler's address.
        scheduler: String,
    },
    /// A Ballista scheduler and executor started inside this process.
    BallistaStandalone,
}

impl Engine {
    /// The engine's name as a pipeline definition writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::DataFusion => "datafusion",
            Engine::Ballista { .. } => "ballista",
            Engine::BallistaStandalone => "ballista-standalone",
        }
    }

    /// Whether this build of phm can run the engine.
    pub fn available(&self) -> bool {
        matches!(self, Engine::DataFusion) || cfg!(feature = "ballista")
    }
}

/// A session on the settings' engine. For a cluster, a first trivial query checks that the
/// scheduler answers and has an executor, so a stage fails before its first step, naming the
/// address.
pub async fn connect(settings: &SessionSettings) -> Result<SessionContext, SqlError> {
    match &settings.engine {
        Engine::DataFusion => session(settings),
        #[cfg(feature = "ballista")]
        other => ballista::connect(settings, other).await,
        #[cfg(not(feature = "ballista"))]
        other => Err(SqlError::EngineUnavailable(other.name())),
    }
}

#[cfg(feature = "ballista")]
pub use ballista::{ExecutorOptions, run_executor, run_scheduler};

#[cfg(feature = "ballista")]
mod ballista {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::sync::Arc;

    use ::ballista::prelude::{SessionConfigExt, SessionContextExt};
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    use ballista_scheduler::scheduler_process::start_server;
    use datafusion::prelude::SessionContext;

    use super::Engine;
    use crate::{SessionSettings, SqlError, session};

    /// The largest gRPC or Flight message a client or executor sends or accepts. A stage's
    /// results and shuffles travel as Arrow batches, and an aggregation can emit batches far
    /// above Ballista's default of 16 MiB (27 MB at 1M patients in `03_activity.sql`).
    const MAX_MESSAGE: usize = 1 << 30;

    pub(super) async fn connect(
        settings: &SessionSettings,
        engine: &Engine,
    ) -> Result<SessionContext, SqlError> {
        let mut state = session(settings)?.state();
        let config = std::mem::take(state.config_mut())
            .upgrade_for_ballista()
            .with_ballista_grpc_client_max_message_size(MAX_MESSAGE);
        *state.config_mut() = config;
        let (ctx, address) = match engine {
            Engine::Ballista { scheduler } => (
                SessionContext::remote_with_state(scheduler, state).await,
                scheduler.clone(),
            ),
            _ => (
                SessionContext::standalone_with_state(state).await,
                "an in-process scheduler".to_owned(),
            ),
        };
        let unreachable = |e: &dyn std::fmt::Display| SqlError::Cluster {
            address: address.clone(),
            message: e.to_string(),
        };
        let ctx = ctx.map_err(|e| unreachable(&e))?;
        let probe = async {
            ctx.sql("SELECT 1").await?.collect().await?;
            Ok::<_, datafusion::error::DataFusionError>(())
        };
        probe.await.map_err(|e| unreachable(&e))?;
        Ok(ctx)
    }

    /// Run a Ballista scheduler listening on `bind` until the process is stopped.
    pub async fn run_scheduler(bind: SocketAddr) -> Result<(), SqlError> {
        let fail = |e: &dyn std::fmt::Display| SqlError::Cluster {
            address: bind.to_string(),
            message: e.to_string(),
        };
        let mut config = SchedulerConfig::default()
            .with_hostname(bind.ip().to_string())
            .with_port(bind.port());
        config.bind_host = bind.ip().to_string();
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| fail(&e))?;
        start_server(cluster, bind, Arc::new(config))
            .await
            .map_err(|e| fail(&e))
    }

    /// An executor's addresses, folder and resources.
    #[derive(Debug, Clone)]
    pub struct ExecutorOptions {
        /// The scheduler (`host:port`).
        pub scheduler: String,
        /// The address other processes reach this executor on.
        pub host: String,
        /// The Arrow Flight port (shuffle data and results).
        pub flight_port: u16,
        /// The gRPC port (tasks from the scheduler).
        pub grpc_port: u16,
        /// Where shuffle files and spills go.
        pub work_dir: PathBuf,
        /// Memory for the executor's tasks (bytes).
        pub memory_limit: usize,
        /// Tasks run at once (0: one per core).
        pub concurrent_tasks: usize,
    }

    /// Run a Ballista executor registered with a scheduler until the process is stopped.
    pub async fn run_executor(options: ExecutorOptions) -> Result<(), SqlError> {
        let fail = |e: &dyn std::fmt::Display| SqlError::Cluster {
            address: options.scheduler.clone(),
            message: e.to_string(),
        };
        let (host, port) = options
            .scheduler
            .trim_start_matches("df://")
            .rsplit_once(':')
            .ok_or_else(|| fail(&"the scheduler is `host:port`"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| fail(&"the scheduler's port is not a number"))?;
        let config = ExecutorProcessConfig {
            bind_host: options.host.clone(),
            external_host: Some(options.host.clone()),
            port: options.flight_port,
            grpc_port: options.grpc_port,
            scheduler_host: host.to_owned(),
            scheduler_port: port,
            scheduler_connect_timeout_seconds: 30,
            vcores: options.concurrent_tasks,
            work_dir: Some(options.work_dir.display().to_string()),
            memory_pool_size: Some(options.memory_limit as u64),
            grpc_max_decoding_message_size: MAX_MESSAGE as u32,
            grpc_max_encoding_message_size: MAX_MESSAGE as u32,
            print_thread_info: false,
            override_execution_engine: Some(Arc::new(crate::compact::CompactingEngine::default())),
            ..ExecutorProcessConfig::default()
        };
        start_executor_process(Arc::new(config))
            .await
            .map_err(|e| fail(&e))
    }
}
