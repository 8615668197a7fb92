//! `phm share`: one recipient's extract of a run (sub-licensing), and `--check` of two.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use phm_ingest::PseudonymKey;
use phm_run::{IdentifiableRoot, Pipeline, RunsRoot};

pub const HELP: &str = "\
Writes one recipient's extract of a run to a new folder outside both zones, as its grants in
the pipeline definition's `[share.recipients.<id>]` say:
  - only the tables, columns and rows granted; event dates as YYYY-MM unless `dates = \"day\"`;
  - pseudonyms re-keyed for the recipient (keyed BLAKE3 under a key derived from the ICB's key,
    the recipient id and its `key_epoch`): they join with no other recipient's extract and not
    with the ICB's zone; a new epoch gives new pseudonyms;
  - never an NHS number, name, date of birth, postcode, local patient id or spell id;
  - row-level extracts k-anonymous over age, age band, sex, LSOA, postcode district and
    practice (cells suppressed, then rows); aggregates under the run's disclosure control;
  - share-manifest.json (recipient, purpose, tables, columns, filters, rows, file hashes, key
    id and epoch, retention date), and an entry naming the recipient, purpose and manifest
    hash in the identifiable zone's audit/share.jsonl (appended before the folder appears;
    `phm audit verify` checks it).

`--check A B` counts the pseudonyms two extracts (or an extract and a run folder) share, and
exits 1 if they share any.

Examples:
  phm share pipeline/icb.toml --recipient council-ph --out /transfer/council-2025-04 --user ig.officer
  phm share pipeline/icb.toml --recipient trust-rxf --run 2025-04-01-3fa9c2d10b7e --out /transfer/rxf --user ig.officer
  phm share --check /transfer/council-2025-04 /transfer/rxf";

#[derive(clap::Args)]
pub struct ShareArgs {
    /// The pipeline definition (its `[share]`, `[publish]` and `[outputs]`).
    #[arg(required_unless_present = "check")]
    pipeline: Option<PathBuf>,
    /// The recipient id (`[share.recipients.<id>]`).
    #[arg(long, required_unless_present = "check")]
    recipient: Option<String>,
    /// The run id (default: the run `latest` names).
    #[arg(long)]
    run: Option<String>,
    /// The new folder for the extract (outside both zones).
    #[arg(long, required_unless_present = "check")]
    out: Option<PathBuf>,
    /// Who is sharing (recorded in the audit log).
    #[arg(long, required_unless_present = "check")]
    user: Option<String>,
    /// The pseudonymised zone's root (default: `[outputs] runs`).
    #[arg(long)]
    runs: Option<PathBuf>,
    /// The identifiable zone's root, whose audit/share.jsonl records the share (default:
    /// `[outputs] identifiable`).
    #[arg(long)]
    identifiable: Option<PathBuf>,
    /// The ICB's pseudonymisation key (default: `[inputs] key`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Count the pseudonyms two extracts (or an extract and a run folder) share.
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["recipient", "out", "run"])]
    check: Option<Vec<PathBuf>>,
}

#[allow(clippy::print_stdout)]
pub fn share(args: &ShareArgs) -> anyhow::Result<()> {
    if let Some(dirs) = &args.check {
        return check(&dirs[0], &dirs[1]);
    }
    let (Some(pipeline), Some(id), Some(out), Some(user)) =
        (&args.pipeline, &args.recipient, &args.out, &args.user)
    else {
        bail!("`phm share` needs a pipeline definition, --recipient, --out and --user");
    };
    let p = Pipeline::load(pipeline)?;
    let recipient = p.share.recipients.get(id).ok_or_else(|| {
        phm_share::ShareError::UnknownRecipient(
            id.clone(),
            p.share
                .recipients
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    let need = |flag: &Option<PathBuf>, def: &Option<PathBuf>, what: &str, key: &str| {
        crate::run::flag_or_pipeline(flag.as_deref(), def.as_deref(), what, key, pipeline)
    };
    let runs = need(&args.runs, &p.outputs.runs, "runs root", "outputs.runs")?;
    let identifiable = need(
        &args.identifiable,
        &p.outputs.identifiable,
        "identifiable root (its audit log records the share)",
        "outputs.identifiable",
    )?;
    let key = need(
        &args.key,
        &p.inputs.key,
        "pseudonymisation key",
        "inputs.key",
    )?;
    let key = PseudonymKey::load(&key)?;
    let runs = RunsRoot::new(runs);
    let (run_id, run) = match &args.run {
        Some(r) => (r.clone(), runs.run(r)),
        None => runs.latest().context(
            "no run is complete yet (no `latest`)\nhint: run `phm run` first, or pass `--run ID`",
        )?,
    };
    let identifiable = IdentifiableRoot::new(identifiable);
    phm_run::atomic::check_private_root(identifiable.path())?;
    // Held while sharing (queued behind a run, a purge or another share), so nothing
    // changes either root meanwhile.
    let _lock = phm_run::RunLock::acquire(&[runs.lock_file(), identifiable.lock_file()], true)?;
    phm_run::atomic::create_dir_all(&identifiable.audit(), phm_run::Privacy::Private)?;
    let audit_log = identifiable.audit().join("share.jsonl");
    let shared = phm_share::share(&phm_share::ShareRequest {
        run,
        recipient_id: id,
        recipient,
        key: &key,
        rule: phm_publish::rule(&p.publish),
        out: out.clone(),
        audit_log: audit_log.clone(),
        user: user.clone(),
        today: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        settings: crate::link::session(&p),
    })
    .with_context(|| format!("cannot share run `{run_id}` with `{id}`"))?;
    let m = &shared.manifest;
    println!(
        "Shared run `{run_id}` with `{id}` ({}): {} table(s) in `{}`",
        m.recipient_name,
        m.tables.len(),
        out.display()
    );
    for t in &m.tables {
        let k = t.k_anonymity.as_ref().map_or_else(String::new, |k| {
            format!(
                "; k = {}: {} cell(s) and {} row(s) suppressed",
                k.k,
                k.cells_suppressed.values().sum::<u64>(),
                k.rows_suppressed
            )
        });
        println!("  {:<20} {:<10} {:>9} row(s){k}", t.table, t.level, t.rows);
    }
    println!(
        "Retain until {} (key epoch {}). Manifest hash {}\nAudit log `{}` head: {}",
        m.retain_until,
        m.key_epoch,
        shared.manifest_hash,
        audit_log.display(),
        shared.audit_head
    );
    Ok(())
}

#[allow(clippy::print_stdout)]
fn check(a: &std::path::Path, b: &std::path::Path) -> anyhow::Result<()> {
    let o = phm_share::overlap(a, b)?;
    if o.files == 0 {
        bail!("neither folder has a Parquet file with a `pseudonym` column");
    }
    if o.shared > 0 {
        bail!(
            "`{}` ({} pseudonyms) and `{}` ({}) share {} pseudonym(s): their rows can be linked",
            a.display(),
            o.first,
            b.display(),
            o.second,
            o.shared
        );
    }
    println!(
        "`{}` ({} pseudonyms) and `{}` ({}) share no pseudonym",
        a.display(),
        o.first,
        b.display(),
        o.second
    );
    Ok(())
}
