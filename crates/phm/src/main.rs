//! `phm`: the command line. Parses arguments, calls a library crate, prints the result.

#[cfg(feature = "ballista")]
mod cluster;
mod demo;
mod ingest;
mod link;
mod pipeline;
mod purge;
mod reid;
mod risk;
mod run;
mod score;
mod share;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Pseudonymised population-health analytics for NHS integrated care boards.
#[derive(Parser)]
#[command(name = "phm", version, about, long_about = None, after_long_help = EXIT_CODES)]
struct Cli {
    /// More log detail on stderr (-v info, -vv debug, -vvv trace). Logs never contain
    /// identifiers or row contents.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log format on stderr: `text` for people, `json` (one object per line) for schedulers
    /// and log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Exit codes, for schedulers (also in `phm --help`).
pub mod exit {
    /// Done.
    pub const DONE: u8 = 0;
    /// An error not in a class below.
    pub const ERROR: u8 = 1;
    /// The command line could not be parsed (clap's code).
    pub const USAGE: u8 = 2;
    /// Completed, but some extract files were rejected whole and skipped.
    pub const COMPLETED_WITH_REJECTED_FILES: u8 = 3;
    /// Bad input: an invalid pipeline definition, extract files rejected (with
    /// `on_rejected_file = "stop"`), no extracts.
    pub const BAD_INPUT: u8 = 4;
    /// Refused to protect data: a key or zone others can read, the wrong practice identity,
    /// an altered bundle, output inside a zone.
    pub const REFUSED: u8 = 5;
    /// Another run holds the roots (try `--wait`).
    pub const LOCKED: u8 = 6;
    /// Nothing to do: the latest run already has these inputs, settings and code.
    pub const NOTHING_TO_DO: u8 = 7;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  error
  2  the command line could not be parsed
  3  completed with rejected files (listed in the manifest)
  4  bad input: invalid pipeline definition, rejected extract files, no extracts
  5  refused: a key or zone readable by others, the wrong practice identity, an altered
     bundle, output inside a zone
  6  locked: another run holds the roots (try --wait)
  7  nothing to do: the latest run already has these inputs, settings and code";

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on the committed sample with demo keys, re-identify one
    /// practice's list, and print where the report, GP list, aggregates and audit log are.
    #[command(after_long_help = demo::HELP)]
    Demo(demo::DemoArgs),
    /// Generate a synthetic, linked ICB population: extracts, lookups and truth files.
    #[command(after_long_help = SYNTH_HELP)]
    Synth(SynthArgs),
    /// List the extract contracts in `schemas/` and their columns.
    Contracts,
    /// Manage keys: the pseudonymisation key, practices' identities.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Validate, quarantine, opt out, generalise and pseudonymise extracts (the identifiable
    /// zone's one step).
    #[command(after_long_help = ingest::HELP)]
    Ingest(ingest::IngestArgs),
    /// Link the pseudonymised datasets into a patient spine and features (SQL in `sql/`).
    #[command(after_long_help = link::LINK_HELP)]
    Link(link::LinkArgs),
    /// Charlson, Elixhauser, HFRS and eFI for every patient of the spine.
    #[command(after_long_help = score::HELP)]
    Score(score::ScoreArgs),
    /// Risk stratification: approve a run's fitted model.
    #[command(subcommand, after_long_help = risk::HELP)]
    Risk(risk::RiskCommand),
    /// Run the whole pipeline (ingest, link, score, risk) and commit the run whole.
    #[command(after_long_help = run::HELP)]
    Run(run::RunArgs),
    /// Re-hash every file of a run against its manifest and name what differs.
    #[command(
        after_long_help = "Examples:\n  phm verify /data/runs/latest\n  phm verify /data/runs/2025-04-01-3fa9c2d10b7e"
    )]
    Verify(run::VerifyArgs),
    /// Run SQL over a run's pseudonymised, linked and scored tables.
    #[command(after_long_help = link::QUERY_HELP)]
    Query(link::QueryArgs),
    /// Re-identify a practice's flagged patients from its bundle with its own identity
    /// (audited).
    #[command(after_long_help = reid::REID_HELP)]
    Reid(reid::ReidArgs),
    /// Check or show a hash-chained audit log.
    #[command(subcommand)]
    Audit(reid::AuditCommand),
    /// Remove runs and quarantine past retention (never `latest`, never the audit logs;
    /// audited).
    #[command(after_long_help = purge::HELP)]
    Purge(purge::PurgeArgs),
    /// Share a run with an ICS partner: its own pseudonyms, granted tables, columns and rows
    /// only, k-anonymous (audited).
    #[command(after_long_help = share::HELP)]
    Share(share::ShareArgs),
    /// Subject access: everything held about one person, from the NHS number (audited).
    #[command(after_long_help = reid::SAR_HELP)]
    Sar(reid::SarArgs),
    /// Run an Apache Ballista scheduler or executor (`[link] engine = "ballista"`).
    #[cfg(feature = "ballista")]
    #[command(subcommand, after_long_help = cluster::HELP)]
    Cluster(cluster::ClusterCommand),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Write a fresh random 32-byte key to a new file readable only by you (mode 0600).
    #[command(
        after_long_help = "Example:\n  phm key new --out ~/.config/phm/icb.key\n\nKeep the key outside both zones. Anyone holding it and an NHS number can compute that\npatient's pseudonym; a new key gives pseudonyms with nothing in common with the old."
    )]
    New {
        /// The key file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a practice's age identity (private) and recipient (public) for its bundles.
    #[command(after_long_help = reid::KEY_PRACTICE_HELP)]
    Practice {
        /// The practice's ODS code.
        #[arg(long)]
        practice: String,
        /// The folder to write the two files into (created private).
        #[arg(long)]
        out: PathBuf,
    },
}

const SYNTH_HELP: &str = "\
Writes, under --out:
  extracts/<extract>/<ODS code>.csv   one file per extract and submitting organisation (.csv.gz with --gzip)
  lookups/postcode_lsoa.csv           postcode -> LSOA and IMD decile (ONS postcode directory shape)
  truth/                              what the pipeline should find; never read by the pipeline
  synth.json                          settings, extract date, row and defect counts

NHS numbers are Modulus 11 valid test numbers starting 999. The test range holds 909,090 valid
numbers; for larger populations the generator continues with numbers starting 998, then 997 and
down to 989 (about 10 million in all), also in the block 900 000 0000 to 999 999 9999 that is
never issued to patients.

The same settings always give byte-identical files.

Examples:
  phm synth --patients 2000 --practices 10 --seed 7 --out /tmp/synth
  phm synth --patients 1000000 --practices 120 --defect-rate 0 --out /data/synth-1m
  phm synth --patients 20000 --as-of 2024-04-01 --years-before 5 --out /tmp/synth-5y";

#[derive(clap::Args)]
struct SynthArgs {
    /// Patients ever registered with the ICB's practices during the window.
    #[arg(long, default_value_t = 2000)]
    patients: usize,
    /// GP practices (default: one per 7,500 patients, at least 1).
    #[arg(long)]
    practices: Option<usize>,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Reference date (YYYY-MM-DD). History runs --years-before years before it and one year
    /// after it, for back-testing.
    #[arg(long, default_value = "2025-04-01", value_parser = parse_date)]
    as_of: chrono::NaiveDate,
    /// Years of history before the reference date (3 to 10).
    #[arg(long, default_value_t = 4)]
    years_before: u32,
    /// Share of rows given an injected defect, 0 for a clean set (GP registrations get ten
    /// times this rate).
    #[arg(long, default_value_t = phm_synth::params::DEFAULT_DEFECT_RATE)]
    defect_rate: f64,
    /// Expected submissions to leave out (never GP registrations), for data-quality tests;
    /// listed in truth/submissions.csv.
    #[arg(long, default_value_t = 0)]
    missing_files: usize,
    /// Submissions to send with an old extract date (40 to 120 days before the extract date,
    /// in extracts/submissions.csv); listed in truth/submissions.csv.
    #[arg(long, default_value_t = 0)]
    late_files: usize,
    /// Write the extracts gzip-compressed (`<ODS>.csv.gz`, about a fifth of the size), as
    /// large extracts often arrive; `phm ingest` reads them as they are.
    #[arg(long)]
    gzip: bool,
    /// Output folder; it appears only when complete.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
}

pub(crate) fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date in the form YYYY-MM-DD"))
}

/// How a command ended, for the exit code.
pub enum Outcome {
    /// Done (exit 0).
    Done,
    /// Completed, but some extract files were rejected and skipped (exit 3).
    CompletedWithRejectedFiles,
    /// Nothing to do (exit 7).
    NothingToDo,
}

/// The class of an error, from the first cause in its chain phm recognises.
fn exit_code(e: &anyhow::Error) -> u8 {
    use phm_reid::ReidError;
    for cause in e.chain() {
        if cause.is::<phm_run::PipelineError>() {
            return exit::BAD_INPUT;
        }
        if let Some(
            phm_ingest::IngestError::NoExtracts(_)
            | phm_ingest::IngestError::Rejected(_)
            | phm_ingest::IngestError::OptOutSourceRejected(_),
        ) = cause.downcast_ref::<phm_ingest::IngestError>()
        {
            return exit::BAD_INPUT;
        }
        if let Some(phm_run::LockError::Held { .. }) = cause.downcast_ref() {
            return exit::LOCKED;
        }
        if let Some(phm_ingest::KeyError::TooOpen { .. }) = cause.downcast_ref() {
            return exit::REFUSED;
        }
        if let Some(phm_run::atomic::PrivacyError::Readable { .. }) = cause.downcast_ref() {
            return exit::REFUSED;
        }
        if let Some(
            ReidError::KeyNotPrivate { .. }
            | ReidError::NotThisPractice { .. }
            | ReidError::BundleAltered { .. }
            | ReidError::OutputInZone { .. },
        ) = cause.downcast_ref()
        {
            return exit::REFUSED;
        }
        if let Some(
            phm_share::ShareError::Output { .. }
            | phm_share::ShareError::WrongKey { .. }
            | phm_share::ShareError::NationalOptOut(..),
        ) = cause.downcast_ref()
        {
            return exit::REFUSED;
        }
    }
    exit::ERROR
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format);
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::from(exit::DONE),
        Ok(Outcome::CompletedWithRejectedFiles) => {
            ExitCode::from(exit::COMPLETED_WITH_REJECTED_FILES)
        }
        Ok(Outcome::NothingToDo) => ExitCode::from(exit::NOTHING_TO_DO),
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PHM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().with_current_span(true).init(),
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let done = |r: anyhow::Result<()>| r.map(|()| Outcome::Done);
    match cli.command {
        Command::Demo(args) => demo::demo(&args),
        Command::Synth(args) => done(synth(&args)),
        Command::Contracts => {
            contracts();
            Ok(Outcome::Done)
        }
        Command::Key(KeyCommand::New { out }) => done(key_new(&out)),
        Command::Key(KeyCommand::Practice { practice, out }) => {
            done(reid::key_practice(&practice, &out))
        }
        Command::Reid(args) => done(reid::reid(&args)),
        Command::Audit(cmd) => done(reid::audit_command(&cmd)),
        Command::Sar(args) => done(reid::sar(&args)),
        Command::Purge(args) => done(purge::purge(&args)),
        Command::Share(args) => done(share::share(&args)),
        Command::Ingest(args) => ingest::run(&args),
        Command::Link(args) => done(link::link(&args)),
        Command::Score(args) => done(score::run(&args)),
        Command::Risk(cmd) => done(risk::command(&cmd)),
        Command::Run(args) => run::run(&args),
        Command::Verify(args) => done(run::verify(&args)),
        Command::Query(args) => done(link::query(&args)),
        #[cfg(feature = "ballista")]
        Command::Cluster(cmd) => done(cluster::command(&cmd)),
    }
}

#[allow(clippy::print_stdout)]
fn key_new(out: &std::path::Path) -> anyhow::Result<()> {
    let key = phm_ingest::PseudonymKey::create(out)?;
    println!(
        "Wrote a new key to `{}` (mode 0600), key id {}",
        out.display(),
        key.id()
    );
    Ok(())
}

#[allow(clippy::print_stdout)]
fn contracts() {
    for c in phm_contract::Contracts::builtin().iter() {
        println!("{} — {}", c.name, c.description);
        for col in &c.columns {
            let req = if col.required { "required" } else { "optional" };
            println!(
                "  {:<26} {:<12} {:<9} {:?}",
                col.name,
                format!("{:?}", col.kind).to_lowercase(),
                req,
                role_name(col.role)
            );
        }
    }
}

/// A privacy role as contracts write it.
fn role_name(role: phm_contract::PrivacyRole) -> &'static str {
    use phm_contract::PrivacyRole as R;
    match role {
        R::DirectIdentifier => "direct_identifier",
        R::QuasiIdentifier => "quasi_identifier",
        R::Organisation => "organisation",
        R::RecordId => "record_id",
        R::Clinical => "clinical",
    }
}

#[allow(clippy::print_stdout)]
fn synth(args: &SynthArgs) -> anyhow::Result<()> {
    use chrono::Datelike as _;
    let as_of = phm_synth::date::from_ymd(args.as_of.year(), args.as_of.month(), args.as_of.day());
    let practices = args
        .practices
        .unwrap_or_else(|| args.patients.div_ceil(7500).max(1));
    let cfg = phm_synth::SynthConfig {
        patients: args.patients,
        practices,
        seed: args.seed,
        as_of,
        years_before: args.years_before,
        defect_rate: args.defect_rate,
        missing_files: args.missing_files,
        late_files: args.late_files,
        gzip: args.gzip,
        out: args.out.clone(),
        force: args.force,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(args.patients as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} synth [{bar:30}] {pos}/{len} patients ({per_sec}, {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    let started = Instant::now();
    let span = tracing::info_span!("synth", patients = args.patients, practices);
    let _enter = span.enter();
    let summary = phm_synth::generate(cfg, &|done| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    })
    .with_context(|| format!("`phm synth` did not write `{}`", args.out.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let rows: u64 = summary.rows.iter().map(|(_, n)| n).sum();
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(rows, seconds = secs, "synth finished");
    println!("{}", summary.render());
    println!(
        "Wrote {} rows for {} patients to `{}` in {:.1} s ({:.0} rows/s)",
        rows,
        args.patients,
        args.out.display(),
        secs,
        rows as f64 / secs.max(1e-9)
    );
    Ok(())
}
