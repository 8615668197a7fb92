//! The risk stage of `phm run`, and `phm risk approve`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use phm_contract::date::{Day, iso};
use phm_run::{RunLayout, atomic, atomic::Privacy};

use crate::pipeline::Pipeline;

pub const HELP: &str = "\
`phm run` fits the emergency-admission model on the run's own history (features a year before
the reference date, outcomes in the year after), back-tests it (fitted two years before, tested
one year before), applies it as of the reference date and writes <run>/risk/: risk.parquet
(risk, percentile, tier, segment, three reasons per patient), calibration.parquet, model.json
and the model card (model_card.md, model_card.json).

`phm risk approve RUN` copies a run's fitted model to <models>/<model id>.json. Name that file in
the pipeline definition (`[risk] model = \"models/<model id>.json\"`) and later runs apply it
without refitting; the manifest records its hash. Refitting is then a deliberate act: remove the
line for one run and approve the new model.

Examples:
  phm risk approve /data/runs/latest --models pipeline/models
  phm query --run /data/runs/latest \"SELECT tier, count(*) FROM risk GROUP BY tier\"";

#[derive(clap::Subcommand)]
pub enum RiskCommand {
    /// Approve a run's fitted model: copy `risk/model.json` to `<models>/<model id>.json`.
    Approve {
        /// The run folder (for example `runs/latest`).
        run: PathBuf,
        /// Folder of approved models.
        #[arg(long, default_value = "models")]
        models: PathBuf,
    },
}

#[allow(clippy::print_stdout)]
pub fn command(cmd: &RiskCommand) -> anyhow::Result<()> {
    match cmd {
        RiskCommand::Approve { run, models } => {
            let model = RunLayout::at(run).risk_file("model.json");
            if !model.is_file() {
                anyhow::bail!(
                    "no `risk/model.json` under `{}`\nhint: name a run folder written by `phm run`",
                    run.display()
                );
            }
            let dest = phm_risk::ModelFile::approve(&model, models)?;
            println!("Approved: {}", dest.display());
            println!(
                "Apply it in later runs with, in the pipeline definition:\n  [risk]\n  model = \"{}\"",
                dest.display()
            );
            Ok(())
        }
    }
}

/// The dates the stage links and scores as of, besides the reference date: a year before
/// (the fitting year) and two years before (the back-test's fitting year, unless an approved
/// model is applied).
pub fn history_dates(p: &Pipeline, reference: Day) -> Vec<Day> {
    let mut out = vec![phm_sql::add_months(reference, -12)];
    if p.risk.model.is_none() {
        out.push(phm_sql::add_months(reference, -24));
    }
    out
}

/// Link and score as of each history date into `history/<date>/`, then fit (or load), test and
/// apply the model into `risk/`.
pub fn stage(
    p: &Pipeline,
    reference: Day,
    layout: &RunLayout,
    sql_dir: Option<&Path>,
) -> anyhow::Result<phm_risk::RiskSummary> {
    let mut years = Vec::new();
    for as_of in history_dates(p, reference) {
        let history = layout.history(&iso(as_of));
        atomic::create_dir_all(&history.linked(), Privacy::Shared)?;
        atomic::create_dir_all(&history.scores(), Privacy::Shared)?;
        let mut link = crate::link::config(p, as_of, layout.path(), sql_dir.map(Path::to_path_buf));
        link.dates = link.dates.with_ages_as_of(reference);
        phm_link::link(&link, &history.linked())
            .with_context(|| format!("linking as of {} for the risk model", iso(as_of)))?;
        let mut score = crate::score::config(p, as_of, layout.path());
        score.spine = Some(history.linked_table("spine"));
        phm_score::score(&score, &history.scores())
            .with_context(|| format!("scoring as of {} for the risk model", iso(as_of)))?;
        years.push(input(&history, as_of));
    }
    let mut years = years.into_iter();
    let train = years.next().expect("a year before the reference date");
    let cfg = phm_risk::RiskConfig {
        apply: input(layout, reference),
        train,
        backtest: years.next(),
        approved: p.risk.model.clone(),
        tiers: p.risk.tiers.clone(),
        segments_sql: p.risk.segments_sql.clone(),
        session: crate::link::session(p),
        data_start: phm_risk::data_start(layout, &crate::link::session(p))?,
        lookbacks: vec![
            (
                "activity".to_owned(),
                p.link
                    .lookback_long_months
                    .max(p.link.lookback_short_months),
            ),
            (
                "Charlson and Elixhauser".to_owned(),
                p.score.comorbidity_lookback_months,
            ),
            ("HFRS".to_owned(), p.score.hfrs_lookback_months),
        ],
        cv: phm_risk::model::CvOptions {
            folds: p.risk.cv_folds,
            ..phm_risk::model::CvOptions::default()
        },
    };
    atomic::create_dir_all(&layout.risk(), Privacy::Shared)?;
    Ok(phm_risk::risk(&cfg, &layout.risk())?)
}

fn input(layout: &RunLayout, as_of: Day) -> phm_risk::YearInput {
    phm_risk::YearInput {
        as_of: iso(as_of),
        features: layout.linked_table("features"),
        scores: layout.scores_file(),
    }
}

/// The segment rules and approved model a run uses, as (path, bytes).
pub fn used(p: &Pipeline) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let rules = match &p.risk.segments_sql {
        Some(f) => std::fs::read(f).with_context(|| format!("cannot read `{}`", f.display()))?,
        None => phm_risk::segments::BUILTIN_SEGMENTS.as_bytes().to_vec(),
    };
    out.push(("sql/risk/segments.sql".to_owned(), rules));
    if let Some(m) = &p.risk.model {
        let bytes = std::fs::read(m).with_context(|| format!("cannot read `{}`", m.display()))?;
        out.push((format!("models/{}", file_name(m)), bytes));
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}
