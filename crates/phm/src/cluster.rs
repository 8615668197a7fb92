//! `phm cluster`: an Apache Ballista scheduler and executors for `[link] engine = "ballista"`
//! (built with the `ballista` feature).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

pub const HELP: &str = "\
A Ballista cluster runs the SQL of link, score and risk when the pipeline definition says
  [link]
  engine = \"ballista\"
  scheduler = \"df://HOST:50050\"
Start one scheduler, then one executor or more on each machine; every process (and `phm run`)
must see the run folders and the spill folders at the same paths, for example on a shared
file system. Ports: the scheduler's gRPC port (50050), and each executor's Flight port (results
and shuffles) and gRPC port (tasks); give executors on one machine ports of their own.
Processes run until stopped (Ctrl-C or SIGTERM). Logs go to stderr (`-v` for progress).

Examples:
  phm cluster scheduler --bind 0.0.0.0:50050
  phm cluster executor --scheduler 10.0.0.5:50050 --host 10.0.0.6 --work-dir /data/ballista/e1
  phm cluster executor --scheduler 127.0.0.1:50050 --flight-port 50061 --grpc-port 50062 \\
      --work-dir /tmp/e2 --memory-limit-mb 2048";

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler.
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor registered with a scheduler.
    Executor(ExecutorArgs),
}

#[derive(Args)]
pub struct SchedulerArgs {
    /// Address to listen on (executors and `phm run` connect to it).
    #[arg(long, default_value = "127.0.0.1:50050")]
    bind: SocketAddr,
}

#[derive(Args)]
pub struct ExecutorArgs {
    /// The scheduler, `HOST:PORT`.
    #[arg(long, default_value = "127.0.0.1:50050")]
    scheduler: String,
    /// The address the scheduler and other executors reach this one on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Arrow Flight port (results and shuffle data).
    #[arg(long, default_value_t = 50051)]
    flight_port: u16,
    /// gRPC port (tasks from the scheduler).
    #[arg(long, default_value_t = 50052)]
    grpc_port: u16,
    /// Folder for shuffle files and spills (made if missing, private to you).
    #[arg(long)]
    work_dir: PathBuf,
    /// Memory for the executor's tasks, in MiB.
    #[arg(long, default_value_t = 1536)]
    memory_limit_mb: usize,
    /// Tasks run at once (default: one per core).
    #[arg(long, default_value_t = 0)]
    concurrent_tasks: usize,
}

pub fn command(cmd: &ClusterCommand) -> anyhow::Result<()> {
    match cmd {
        ClusterCommand::Scheduler(a) => {
            tracing::info!(bind = %a.bind, "Ballista scheduler starting");
            phm_sql::block_on(phm_sql::cluster::run_scheduler(a.bind))?;
        }
        ClusterCommand::Executor(a) => {
            phm_run::atomic::create_dir_all(&a.work_dir, phm_run::Privacy::Private)
                .with_context(|| format!("cannot make `{}`", a.work_dir.display()))?;
            let options = phm_sql::cluster::ExecutorOptions {
                scheduler: a.scheduler.clone(),
                host: a.host.clone(),
                flight_port: a.flight_port,
                grpc_port: a.grpc_port,
                work_dir: a.work_dir.clone(),
                memory_limit: a.memory_limit_mb << 20,
                concurrent_tasks: a.concurrent_tasks,
            };
            tracing::info!(scheduler = %a.scheduler, "Ballista executor starting");
            phm_sql::block_on(phm_sql::cluster::run_executor(options))?;
        }
    }
    Ok(())
}
