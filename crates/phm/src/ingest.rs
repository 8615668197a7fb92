//! `phm ingest`: arguments, progress bars and the final table.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use chrono::Datelike as _;
use phm_run::atomic::{self, PartialDir, Privacy};
use phm_run::{IdentifiableRun, OnRejectedFile, Pipeline, RunLayout};

use crate::Outcome;

pub const HELP: &str = "\
Reads <extracts>/<extract>/<ODS code>.csv (or .csv.gz, gzip-compressed, read as it is) for every
extract with a contract in schemas/, and writes:
  <out>/pseudonymised/<extract>/<ODS code>.parquet   pseudonym instead of NHS number; identifiers dropped,
                                                     date of birth -> age and age band, postcode -> LSOA
  <out>/ingest-manifest.json                         per file: BLAKE3 hash, rows in/out/quarantined/opted out
  <identifiable>/quarantine/<extract>/<ODS>.parquet  rows that break the contract, with reason, file and line

Both folders are built beside their destinations and appear only when ingest succeeded, the
identifiable one first. The identifiable folder is private to you (folders 0700, files 0600,
whatever the umask); an existing one that group or others can read is refused.

A file that cannot be ingested at all (empty, binary, a header without the contract's columns,
rows that mostly name another organisation) stops the ingest and nothing is written; with
`--on-rejected-file skip` (or `[ingest] on_rejected_file = \"skip\"`) it is left out, the rest
is ingested, and it is listed with its problem, bytes and lines, here and in the manifest.
Files that opt-outs are read from (gp_events, and the national opt-out list when the flow
applies it) are never skipped: patients who opted out in them could be ingested otherwise.

Settings come from --pipeline (a definition in pipeline/) and flags; flags win.

Exit codes:
  0  everything ingested
  1  error; nothing written
  3  completed with rejected files: the rest was ingested, the rejected files are listed

Examples:
  phm key new --out ~/.config/phm/icb.key
  phm ingest --pipeline pipeline/demo.toml --key ~/.config/phm/icb.key --out /data/runs/2025-04
  phm ingest --extracts data-samples/synth/extracts --key icb.key --reference-date 2025-04-01 \\
      --extract-date 2026-04-01 --out /tmp/run";

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Pipeline definition (TOML) with dates, inputs and opt-out settings.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Folder holding `<extract>/<ODS code>.csv` (or `.csv.gz`).
    #[arg(long)]
    extracts: Option<PathBuf>,
    /// Postcode lookup CSV (`postcode,lsoa_code,imd_decile`).
    #[arg(long)]
    postcode_lookup: Option<PathBuf>,
    /// Pseudonymisation key file (`phm key new`); must be readable by you only.
    #[arg(long)]
    key: PathBuf,
    /// Reference date (YYYY-MM-DD): ages are computed on it.
    #[arg(long, value_parser = crate::parse_date)]
    reference_date: Option<chrono::NaiveDate>,
    /// The day the extracts were taken (YYYY-MM-DD; default today): later dates are quarantined.
    #[arg(long, value_parser = crate::parse_date)]
    extract_date: Option<chrono::NaiveDate>,
    /// Output folder of the pseudonymised zone.
    #[arg(long)]
    out: PathBuf,
    /// Output folder of the identifiable zone (quarantine). Default: `<out>-identifiable`.
    #[arg(long)]
    identifiable: Option<PathBuf>,
    /// A local programme opt-out code (SNOMED CT); repeat for several. Adds to the definition's.
    #[arg(long = "programme-opt-out-code", value_name = "CODE")]
    programme_opt_out_codes: Vec<String>,
    /// Apply the national data opt-out list.
    #[arg(long)]
    national_opt_out: bool,
    /// What to do with a file that cannot be ingested at all: stop (nothing is written), or
    /// skip it and ingest the rest (exit code 3). Default: the definition's `[ingest]
    /// on_rejected_file`, else stop.
    #[arg(long, value_enum, value_name = "WHAT")]
    on_rejected_file: Option<OnRejected>,
    /// Replace existing outputs.
    #[arg(long)]
    force: bool,
}

/// `--on-rejected-file`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum OnRejected {
    Stop,
    Skip,
}

pub(crate) fn day(d: chrono::NaiveDate) -> phm_contract::date::Day {
    phm_contract::date::from_ymd(d.year(), d.month(), d.day())
}

/// The identifiable zone's folder: `--identifiable`, or `<out>-identifiable`.
fn identifiable_dir(args: &IngestArgs) -> PathBuf {
    args.identifiable.clone().unwrap_or_else(|| {
        let name = args
            .out
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        args.out.with_file_name(format!("{name}-identifiable"))
    })
}

/// What to ingest, writing to the final folders (`run` points it at partial ones).
fn config(args: &IngestArgs) -> anyhow::Result<phm_ingest::IngestConfig> {
    let p = Pipeline::load_or_default(args.pipeline.as_deref())?;
    let from_def = |s: &Option<String>, what: &str| -> anyhow::Result<Option<chrono::NaiveDate>> {
        s.as_deref()
            .map(|s| {
                crate::parse_date(s)
                    .map_err(|e| anyhow::anyhow!("pipeline definition `{what}`: {e}"))
            })
            .transpose()
    };
    let Some(reference) = args
        .reference_date
        .or(from_def(&p.dates.reference_date, "reference_date")?)
    else {
        bail!(
            "no reference date\nhint: pass `--reference-date YYYY-MM-DD` or set `reference_date` in the pipeline definition"
        );
    };
    let extract = args
        .extract_date
        .or(from_def(&p.dates.extract_date, "extract_date")?)
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let vault_recipients = crate::pipeline::recipients(&p)?;
    let Some(extracts) = args.extracts.clone().or(p.inputs.extracts) else {
        bail!(
            "no extracts folder\nhint: pass `--extracts DIR` or set `extracts` in the pipeline definition"
        );
    };
    let on_rejected_file = match args.on_rejected_file {
        Some(OnRejected::Stop) => OnRejectedFile::Stop,
        Some(OnRejected::Skip) => OnRejectedFile::Skip,
        None => p.ingest.on_rejected_file,
    };
    let mut codes = p.opt_out.programme_codes;
    codes.extend(args.programme_opt_out_codes.iter().cloned());
    Ok(phm_ingest::IngestConfig {
        extracts,
        postcode_lookup: args.postcode_lookup.clone().or(p.inputs.postcode_lookup),
        reference_date: day(reference),
        extract_date: day(extract),
        out: RunLayout::at(&args.out),
        identifiable: IdentifiableRun::at(identifiable_dir(args)),
        programme_opt_out_codes: codes,
        national_opt_out: args.national_opt_out || p.opt_out.national_data_opt_out,
        on_rejected_file,
        vault_recipients,
        earlier: Vec::new(),
    })
}

#[allow(clippy::print_stdout)]
pub fn run(args: &IngestArgs) -> anyhow::Result<Outcome> {
    let mut cfg = config(args)?;
    let (out, identifiable) = (args.out.clone(), identifiable_dir(args));
    if identifiable.exists() {
        atomic::check_private_root(&identifiable)?;
    }
    for dir in [&out, &identifiable] {
        if dir.exists() && !args.force {
            bail!(
                "`{}` already exists\nhint: choose another `--out` (or `--identifiable`), or pass `--force` to replace it",
                dir.display()
            );
        }
    }
    let key = phm_ingest::PseudonymKey::load(&args.key)?;
    // Both folders are built beside their destinations; dropped on an error, they leave
    // nothing.
    let create = |dir: &PathBuf, privacy| {
        PartialDir::create(dir, privacy)
            .with_context(|| format!("cannot create `{}`", dir.display()))
    };
    let id_dir = create(&identifiable, Privacy::Private)?;
    let out_dir = create(&out, Privacy::Shared)?;
    cfg.out = RunLayout::at(out_dir.path());
    cfg.identifiable = IdentifiableRun::at(id_dir.path());
    let bars = progress_bars(&cfg);
    let manifest = phm_ingest::ingest(&cfg, &key, &|report| {
        if let Some((_, bars)) = &bars
            && let Some(bar) = bars.lock().expect("bars").get(&report.extract)
        {
            bar.inc(1);
        }
    })
    .with_context(|| "`phm ingest` wrote nothing")?;
    if let Some((multi, _)) = bars {
        multi.clear().ok();
    }
    // The identifiable half first, so a pseudonymised folder never refers to quarantined
    // rows that are not there.
    for (dir, dest) in [(id_dir, &identifiable), (out_dir, &out)] {
        dir.commit()
            .with_context(|| format!("cannot move the finished folder to `{}`", dest.display()))?;
    }
    println!(
        "{:<18} {:>6} {:>12} {:>12} {:>12} {:>10}  rows in = out + quarantined + opted out",
        "extract", "files", "rows in", "rows out", "quarantined", "opted out"
    );
    for (name, t) in &manifest.extracts {
        let q: u64 = t.quarantined.values().sum();
        let o: u64 = t.opted_out.values().sum();
        let ok = if t.rows_in == t.rows_out + q + o {
            "holds"
        } else {
            "FAILS"
        };
        println!(
            "{name:<18} {:>6} {:>12} {:>12} {q:>12} {o:>10}  {ok}",
            t.files, t.rows_in, t.rows_out
        );
    }
    let t = &manifest.totals;
    println!(
        "{:<18} {:>6} {:>12} {:>12} {:>12} {:>10}",
        "total",
        t.files,
        t.rows_in,
        t.rows_out,
        t.quarantined.values().sum::<u64>(),
        t.opted_out.values().sum::<u64>()
    );
    println!("\nQuarantined by reason:");
    for (reason, n) in &t.quarantined {
        println!("  {reason:<34} {n:>10}");
    }
    println!(
        "Opted-out patients: {}",
        manifest
            .opt_outs
            .patients
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "\nPseudonymised zone: {} (key id {})",
        out.display(),
        manifest.key_id
    );
    println!("Identifiable zone:  {}", identifiable.display());
    if manifest.rejected_files.is_empty() {
        return Ok(Outcome::Done);
    }
    println!(
        "\n{} file(s) rejected and left out (listed in ingest-manifest.json):",
        manifest.rejected_files.len()
    );
    for r in &manifest.rejected_files {
        println!(
            "  `{}` ({} bytes, {} lines): {}\n    hint: {}",
            r.file, r.bytes, r.lines, r.problem, r.hint
        );
    }
    Ok(Outcome::CompletedWithRejectedFiles)
}

pub(crate) type Bars = (
    indicatif::MultiProgress,
    Mutex<BTreeMap<String, indicatif::ProgressBar>>,
);

pub(crate) fn progress_bars(cfg: &phm_ingest::IngestConfig) -> Option<Bars> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let plan = phm_ingest::plan(&cfg.extracts).ok()?;
    let multi = indicatif::MultiProgress::new();
    let style =
        indicatif::ProgressStyle::with_template("{prefix:<18} [{bar:30}] {pos}/{len} files")
            .ok()?
            .progress_chars("=> ");
    let bars = plan
        .into_iter()
        .map(|(extract, files)| {
            let bar = multi.add(indicatif::ProgressBar::new(files as u64));
            bar.set_style(style.clone());
            bar.set_prefix(extract.clone());
            (extract, bar)
        })
        .collect();
    Some((multi, Mutex::new(bars)))
}
