//! `phm score`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use phm_run::{PartialDir, Privacy, RunLayout};

use crate::pipeline::Pipeline;

pub const HELP: &str = "\
Scores every patient of <run>/linked/spine.parquet as of the reference date and writes
  <run>/scores/scores.parquet   pseudonym; Charlson (1987, Quan 2011, SHMI, modified SHMI) and
                                Elixhauser (van Walraven, Swiss) with their conditions; HFRS with
                                its band and categories; eFI with its category and deficits
Code lists and weights are data in codelists/, each naming its source (paper, version).

Examples:
  phm score --pipeline pipeline/demo.toml --run /tmp/run
  phm score --run /tmp/run --reference-date 2025-04-01
  phm query --run /tmp/run \"SELECT efi_category, COUNT(*) FROM scores GROUP BY 1\"";

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// Pipeline definition (dates, look-back windows).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// The run folder, after `phm ingest` and `phm link`.
    #[arg(long)]
    run: PathBuf,
    /// Reference date (YYYY-MM-DD).
    #[arg(long, value_parser = crate::parse_date)]
    reference_date: Option<chrono::NaiveDate>,
}

/// What `phm score` (and `phm run`) score: a run as of a date, with the definition's
/// look-backs and engine settings.
pub fn config(p: &Pipeline, day: phm_contract::date::Day, run: &Path) -> phm_score::ScoreConfig {
    let mut cfg = phm_score::ScoreConfig::new(run.to_owned(), day);
    cfg.comorbidity_months = p.score.comorbidity_lookback_months;
    cfg.hfrs_months = p.score.hfrs_lookback_months;
    cfg.medicines_months = p.score.medicines_lookback_months;
    cfg.session = crate::link::session(p);
    cfg
}

#[allow(clippy::print_stdout)]
pub fn run(args: &ScoreArgs) -> anyhow::Result<()> {
    let p = Pipeline::load_or_default(args.pipeline.as_deref())?;
    let day = crate::link::reference_day(args.reference_date, &p)?;
    let cfg = config(&p, day, &args.run);
    let layout = RunLayout::at(&args.run);
    let started = std::time::Instant::now();
    let partial = PartialDir::create(&layout.scores(), Privacy::Shared)
        .with_context(|| format!("cannot create `{}`", layout.scores().display()))?;
    let summary = phm_score::score(&cfg, partial.path()).context("`phm score` did not finish")?;
    partial
        .commit()
        .with_context(|| format!("cannot put `{}` in place", layout.scores().display()))?;
    let show = |counts: &[(&str, usize)]| {
        counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "Scored {} patients as of {} in {:.1} s: {}",
        summary.patients,
        phm_contract::date::iso(day),
        started.elapsed().as_secs_f64(),
        layout.scores_file().display()
    );
    println!("  eFI:  {}", show(&summary.efi_categories));
    println!("  HFRS: {}", show(&summary.hfrs_bands));
    Ok(())
}
