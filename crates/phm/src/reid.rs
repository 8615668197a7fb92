//! `phm key practice`, `phm reid` and `phm audit`: a practice's key, its re-identification
//! step and the audit log's checks.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use phm_reid::audit;
use phm_reid::reid::{Request, Selection};

pub const REID_HELP: &str = "\
Run by the practice, where its identity lives. Checks the bundle's hashes, opens the vault with
the practice's identity, re-identifies the patients asked for (only this practice's can
appear), appends an entry to the audit log (fsynced before anything identifying is written),
then writes one folder, gp-list-<ODS>-<audit head>/, files 0600:
  gp-list.csv      NHS number, names, date of birth, sex, age, risk (%), tier, segment, reasons
  nhs-numbers.txt  one NHS number per line (for EMIS and SystmOne searches)
  gp-list.html     a printable page; its footer gives the audit log's new head
The output folder must be outside both zones. Another practice's identity, or a wrong one,
re-identifies no one, exits non-zero and is audited.

Examples:
  phm reid --bundle runs/latest/outbox/A81001 --identity ~/keys/A81001.identity.txt \\
      --user dr.smith --reason \"case finding, frailty clinic\" --out ~/secure/lists
  phm reid --bundle bundle/ --identity A81001.identity.txt --user dr.smith \\
      --reason \"MDT review\" --list mdt.csv --audit ~/secure/phm-audit.jsonl --out ~/secure/lists";

#[derive(clap::Args)]
pub struct ReidArgs {
    /// The practice bundle (`outbox/<ODS>/` of a run, or a copy of it).
    #[arg(long)]
    bundle: PathBuf,
    /// The practice's identity file (`phm key practice`), readable only by you.
    #[arg(long)]
    identity: PathBuf,
    /// Who is asking (recorded in the audit log).
    #[arg(long)]
    user: String,
    /// Why (recorded in the audit log).
    #[arg(long)]
    reason: String,
    /// Tiers to re-identify, comma-separated (default: every tier the bundle holds).
    #[arg(long, value_delimiter = ',', conflicts_with = "list")]
    tiers: Vec<String>,
    /// A CSV file with a `pseudonym` column: re-identify those patients (this practice's only).
    #[arg(long)]
    list: Option<PathBuf>,
    /// The audit log (default: `[reid] audit` of --pipeline).
    #[arg(long)]
    audit: Option<PathBuf>,
    /// A pipeline definition to take `[reid] audit` from.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Where the GP list folder goes (outside both zones).
    #[arg(long)]
    out: PathBuf,
}

#[allow(clippy::print_stdout)]
pub fn reid(args: &ReidArgs) -> anyhow::Result<()> {
    let audit_log = audit_path(args.audit.as_deref(), args.pipeline.as_deref())?;
    let selection = match (&args.list, args.tiers.is_empty()) {
        (Some(list), _) => Selection::List(list.clone()),
        (None, false) => Selection::Tiers(args.tiers.clone()),
        (None, true) => Selection::BundleTiers,
    };
    let request = Request {
        bundle: args.bundle.clone(),
        identity: args.identity.clone(),
        user: args.user.clone(),
        reason: args.reason.clone(),
        selection,
        out: args.out.clone(),
        audit: audit_log.clone(),
        time: audit::now_utc(),
    };
    let d = phm_reid::reid::reidentify(&request)?;
    println!(
        "Re-identified {} patient(s) of practice {} (run {}){}",
        d.patients,
        d.practice,
        d.run_id,
        if d.not_this_practice > 0 {
            format!(
                "; {} asked for are not this practice's patients and were not re-identified",
                d.not_this_practice
            )
        } else {
            String::new()
        }
    );
    println!("GP list: {}", d.folder.display());
    println!(
        "Audit log `{}` head: {}\nhint: keep the head; `phm audit verify {} --head {}` proves the log was not cut or rewritten",
        audit_log.display(),
        d.head,
        audit_log.display(),
        d.head
    );
    Ok(())
}

fn audit_path(flag: Option<&Path>, pipeline: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(a) = flag {
        return Ok(a.to_path_buf());
    }
    if let Some(p) = pipeline {
        let p = phm_run::Pipeline::load(p)?;
        if let Some(a) = p.reid.audit {
            return Ok(a);
        }
    }
    bail!(
        "no audit log\nhint: pass `--audit FILE` (kept with the practice's identity), or `--pipeline` with `[reid] audit` set"
    )
}

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; with --head, also that nothing was cut or rewritten after it.
    #[command(
        after_long_help = "Examples:\n  phm audit verify ~/secure/phm-audit.jsonl\n  phm audit verify ~/secure/phm-audit.jsonl --head 3f1c...\n\nExit 0 when the chain holds; otherwise names the first entry that breaks it."
    )]
    Verify {
        /// The audit log.
        file: PathBuf,
        /// The head hash printed by the last `phm reid` (catches truncation and rewriting).
        #[arg(long)]
        head: Option<String>,
    },
    /// Print the log for an information-governance review, one line per entry.
    #[command(after_long_help = "Example:\n  phm audit show ~/secure/phm-audit.jsonl")]
    Show {
        /// The audit log.
        file: PathBuf,
    },
}

#[allow(clippy::print_stdout)]
pub fn audit_command(cmd: &AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Verify { file, head } => {
            let v = audit::verify(file, head.as_deref())
                .with_context(|| format!("the audit log `{}` does not verify", file.display()))?;
            println!(
                "The audit log `{}` verifies: {} entries, head {}",
                file.display(),
                v.entries,
                v.head
            );
        }
        AuditCommand::Show { file } => {
            for (hash, entry) in audit::read(file)? {
                println!("{}  {}", &hash[..12], entry.summary());
            }
        }
    }
    Ok(())
}

pub const KEY_PRACTICE_HELP: &str = "\
Writes <ODS>.identity.txt (the private age identity, mode 0600; keep it where the practice
re-identifies, never with the pipeline) and <ODS>.recipient.txt (public). Put the recipient in
the pipeline definition:
  [reid.recipients]
  A81001 = \"age1...\"
The next run seals that practice's vault to it and writes its bundle. A new identity takes
effect from the next run (keep the old one to read older bundles); removing the recipient
stops the practice's vaults and bundles. The files are the `age-keygen` format.

Example:
  phm key practice --practice A81001 --out ~/secure/keys";

#[allow(clippy::print_stdout)]
pub fn key_practice(practice: &str, out: &Path) -> anyhow::Result<()> {
    if practice.is_empty() || !practice.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("`{practice}` is not an ODS code\nhint: give the practice's ODS code, e.g. `A81001`");
    }
    let identity = phm_reid::PracticeIdentity::generate();
    let files = identity.write(practice, &audit::now_utc(), out)?;
    println!(
        "Wrote practice {practice}'s identity to `{}` (mode 0600) and its recipient to `{}`",
        files.identity.display(),
        files.recipient.display()
    );
    println!(
        "Add to the pipeline definition:\n[reid.recipients]\n{practice} = \"{}\"",
        files.recipient_text
    );
    Ok(())
}

pub const SAR_HELP: &str = "\
For the DSCRO, who holds the pseudonymisation key: everything phm holds about one person in a
run (default: the latest), from the NHS number. Prints, never the number itself:
  every pseudonymised dataset with their rows (count, date range),
  quarantined rows carrying their NHS number (identifiable zone),
  the practice bundles that list them as flagged or whose vault holds them,
  every disclosure about them in the audit logs given (practices' logs, sent back to the ICB).
The request is itself audited, in the identifiable zone's audit/sar.jsonl, before anything is
printed.

Examples:
  phm sar --nhs-number \"999 000 0018\" --key ~/.config/phm/icb.key --pipeline pipeline/icb.toml \\
      --user ig.officer --reason \"SAR 2026-117\" --audit practice-logs/A81001.jsonl
  phm sar --nhs-number 9990000018 --key icb.key --runs /data/runs --identifiable /secure/phm \\
      --user ig.officer --reason \"SAR 2026-117\" --format json";

#[derive(clap::Args)]
pub struct SarArgs {
    /// The person's NHS number (spaces and hyphens allowed). Never printed or logged.
    #[arg(long)]
    nhs_number: String,
    /// The pseudonymisation key.
    #[arg(long)]
    key: PathBuf,
    /// Who is asking (audited).
    #[arg(long)]
    user: String,
    /// The request's reference (audited).
    #[arg(long)]
    reason: String,
    /// A pipeline definition naming `[outputs] runs` and `identifiable`.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// The runs root (default: the pipeline's `[outputs] runs`).
    #[arg(long)]
    runs: Option<PathBuf>,
    /// The identifiable root (default: the pipeline's `[outputs] identifiable`).
    #[arg(long)]
    identifiable: Option<PathBuf>,
    /// The run id (default: the latest run).
    #[arg(long)]
    run: Option<String>,
    /// Audit logs to search for disclosures (repeat for several).
    #[arg(long)]
    audit: Vec<PathBuf>,
    /// `text` (default) or `json`.
    #[arg(long, default_value = "text")]
    format: String,
}

#[allow(clippy::print_stdout)]
pub fn sar(args: &SarArgs) -> anyhow::Result<()> {
    let p = phm_run::Pipeline::load_or_default(args.pipeline.as_deref())?;
    let runs = args.runs.clone().or(p.outputs.runs).ok_or_else(|| {
        anyhow::anyhow!(
            "no runs root\nhint: pass `--runs DIR` or `--pipeline` with `[outputs] runs`"
        )
    })?;
    let identifiable = args
        .identifiable
        .clone()
        .or(p.outputs.identifiable)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no identifiable root\nhint: pass `--identifiable DIR` or `--pipeline` with `[outputs] identifiable`"
            )
        })?;
    phm_run::atomic::check_private_root(&identifiable)?;
    let runs = phm_run::RunsRoot::new(runs);
    let identifiable = phm_run::IdentifiableRoot::new(identifiable);
    let (run_id, run) = match &args.run {
        Some(id) => (id.clone(), runs.run(id)),
        None => runs.latest().ok_or_else(|| {
            anyhow::anyhow!(
                "no run under `{}`\nhint: run `phm run` first, or pass `--runs`",
                runs.path().display()
            )
        })?,
    };
    let Ok(nhs) = phm_contract::NhsNumber::parse(&args.nhs_number) else {
        bail!(
            "the NHS number given is not a valid NHS number (ten digits with a correct check digit)"
        );
    };
    let key = phm_ingest::PseudonymKey::load(&args.key)?;
    let pseudonym = phm_ingest::pseudo::Pseudonymiser::new(&key)
        .pseudonym(&nhs)
        .as_str()
        .to_owned();
    let subject_key = key.derive(audit::SUBJECT_KEY_CONTEXT);
    let log = identifiable.audit().join("sar.jsonl");
    phm_run::atomic::create_dir_all(&identifiable.audit(), phm_run::Privacy::Private)?;
    let request = audit::NewEntry {
        action: "sar".to_owned(),
        user: args.user.clone(),
        practice: None,
        reason: args.reason.clone(),
        run_id: Some(run_id.clone()),
        list_hash: None,
        subjects: vec![audit::subject_hash(&subject_key, &pseudonym)],
        count: 1,
        outcome: "searched".to_owned(),
        time: audit::now_utc(),
        sharing: None,
    };
    let head = audit::append(&log, request)?;
    let report = phm_reid::sar::search(
        &run,
        &identifiable.run(&run_id),
        &pseudonym,
        nhs.expose_digits(),
        &subject_key,
        &args.audit,
    )?;
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "Subject access search of run `{run_id}` (audited in `{}`, head {head})",
        log.display()
    );
    for (title, found) in [
        ("Pseudonymised datasets:", &report.datasets),
        ("Quarantined rows (identifiable zone):", &report.quarantine),
    ] {
        println!("{title}");
        for d in found {
            println!(
                "  {:<40} {:>6} rows{}",
                d.dataset,
                d.rows,
                dates(d.dates.as_ref())
            );
        }
    }
    println!(
        "Practice bundles: flagged in {}; in the vault of {}",
        list(&report.flagged_in_bundles),
        list(&report.in_vaults)
    );
    println!("Disclosures in the audit logs given:");
    for d in &report.disclosures {
        println!("  {}: {}", d.log.display(), d.entry.summary());
    }
    Ok(())
}

fn dates(d: Option<&(String, String)>) -> String {
    d.map_or_else(String::new, |(a, b)| format!(", {a} to {b}"))
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}
