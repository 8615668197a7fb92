//! `phm purge`: remove runs and quarantine past the pipeline definition's retention.

use std::path::PathBuf;

use anyhow::Context as _;
use phm_reid::audit::{self, NewEntry};
use phm_run::{IdentifiableRoot, Pipeline, RunLock, RunsRoot};

pub const HELP: &str = "\
Removes, from both zones, every run committed more than `[publish] retention_months` (default
12) months ago: its pseudonymised folder and its identifiable folder (quarantined rows,
vaults). Never the run `latest` names, never the audit logs. The purge is recorded first in the
identifiable zone's audit/purge.jsonl (who, why, which runs); `phm audit verify` checks it.
Takes the run lock, so it never races a run.

Examples:
  phm purge pipeline/icb.toml --user ig.officer --dry-run
  phm purge pipeline/icb.toml --runs /data/runs --identifiable /secure/phm --user ig.officer";

#[derive(clap::Args)]
pub struct PurgeArgs {
    /// The pipeline definition (its `[publish] retention_months` and `[outputs]`).
    pipeline: PathBuf,
    /// The pseudonymised zone's root (default: `[outputs] runs`).
    #[arg(long)]
    runs: Option<PathBuf>,
    /// The identifiable zone's root (default: `[outputs] identifiable`).
    #[arg(long)]
    identifiable: Option<PathBuf>,
    /// Who is purging (recorded in the audit log).
    #[arg(long)]
    user: String,
    /// List what would be removed, remove nothing, record nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The moment `months` calendar months before now.
fn cutoff(months: u32) -> anyhow::Result<std::time::SystemTime> {
    let now = chrono::Utc::now();
    let then = now
        .checked_sub_months(chrono::Months::new(months))
        .context("retention reaches before the calendar")?;
    Ok(std::time::SystemTime::from(then))
}

#[allow(clippy::print_stdout)]
pub fn purge(args: &PurgeArgs) -> anyhow::Result<()> {
    let p = Pipeline::load(&args.pipeline)?;
    let runs = args.runs.clone().or(p.outputs.runs.clone()).context(
        "no runs root\nhint: pass `--runs` or set `[outputs] runs` in the pipeline definition",
    )?;
    let identifiable = args
        .identifiable
        .clone()
        .or(p.outputs.identifiable.clone())
        .context(
            "no identifiable root\nhint: pass `--identifiable` or set `[outputs] identifiable`",
        )?;
    let (runs, identifiable) = (RunsRoot::new(runs), IdentifiableRoot::new(identifiable));
    phm_run::atomic::check_private_root(identifiable.path())?;
    let _lock = RunLock::acquire(&[runs.lock_file(), identifiable.lock_file()], false)?;
    let months = p.publish.retention_months;
    let expired = phm_run::purge::expired(&runs, &identifiable, cutoff(months)?)
        .with_context(|| format!("cannot read `{}`", runs.path().display()))?;
    if expired.is_empty() {
        println!("Nothing past retention ({months} months)");
        return Ok(());
    }
    let ids: Vec<&str> = expired.iter().map(|e| e.run_id.as_str()).collect();
    if args.dry_run {
        println!(
            "Would remove {} run(s) past retention ({months} months): {}",
            ids.len(),
            ids.join(", ")
        );
        return Ok(());
    }
    let log = identifiable.audit().join("purge.jsonl");
    phm_run::atomic::create_dir_all(&identifiable.audit(), phm_run::Privacy::Private)?;
    let head = audit::append(
        &log,
        NewEntry {
            action: "purge".to_owned(),
            user: args.user.clone(),
            practice: None,
            reason: format!("retention {months} months"),
            run_id: None,
            list_hash: None,
            subjects: Vec::new(),
            count: ids.len() as u64,
            outcome: format!("removed runs {}", ids.join(", ")),
            time: audit::now_utc(),
            sharing: None,
        },
    )?;
    for e in &expired {
        phm_run::purge::remove(e).with_context(|| format!("cannot remove run `{}`", e.run_id))?;
    }
    println!(
        "Removed {} run(s) past retention ({months} months): {}\nAudit log `{}` head: {head}",
        ids.len(),
        ids.join(", "),
        log.display()
    );
    Ok(())
}
