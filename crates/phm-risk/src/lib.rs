//! Risk stratification: an emergency-admission model fitted on the ICB's own history,
//! back-tested on it, and applied as of the reference date.
//!
//! The risk stage reads, for three dates, the linked features and the scores (Parquet, as
//! `phm link` and `phm score` write them): the **reference date** (the model is applied), a
//! **year earlier** (the model is fitted on these features with emergency admissions in the
//! following 12 months as the outcome) and **two years earlier** (the back-test: a model
//! fitted there is tested on the year-earlier features against what happened by the
//! reference date). A governance-approved model ([`ModelFile`], named by its hash) may be
//! applied instead of refitting.
//!
//! - [`features`]: the one list of inputs ([`features::catalogue`]) and a year's design matrix;
//! - [`model`]: L2-regularised logistic regression (Newton / IRLS, Cholesky solve), the
//!   penalty chosen by k-fold cross-validation, deterministic at any thread count;
//! - [`metrics`]: AUROC with a `DeLong` interval, AUPRC, Brier, calibration, top-k;
//! - [`tiers`], [`segments`], [`reasons`]: the pyramid, the ordered segment rules
//!   (`sql/risk/segments.sql`), and up to three plain-English reasons per patient;
//! - [`card`]: `model.json` and the model card (TRIPOD+AI items) as JSON and Markdown.
//!
//! Each patient's contribution per feature is coefficient × value: the reasons quote it.

pub mod card;
pub mod evaluate;
pub mod features;
pub mod metrics;
pub mod model;
pub mod reasons;
pub mod segments;
pub mod tiers;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Float64Builder, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder,
};
use phm_sql::SessionSettings;

pub use crate::card::ModelFile;
use crate::features::Year;
use crate::tiers::Tier;

/// The files of one date.
#[derive(Debug, Clone)]
pub struct YearInput {
    /// The date (`YYYY-MM-DD`).
    pub as_of: String,
    /// `linked/features.parquet` as of it.
    pub features: PathBuf,
    /// `scores/scores.parquet` as of it.
    pub scores: PathBuf,
}

/// What the risk stage does.
#[derive(Debug, Clone)]
pub struct RiskConfig {
    /// The reference date's tables: the model is applied to them.
    pub apply: YearInput,
    /// A year earlier: the model is fitted on them (outcome: the year up to the reference date).
    pub train: YearInput,
    /// Two years earlier: the back-test's fitting year (`None`: no back-test).
    pub backtest: Option<YearInput>,
    /// An approved model to apply instead of fitting one.
    pub approved: Option<PathBuf>,
    /// The pyramid.
    pub tiers: Vec<Tier>,
    /// Segment rules (`None`: the built-in `sql/risk/segments.sql`).
    pub segments_sql: Option<PathBuf>,
    /// The engine the segment rules run on.
    pub session: SessionSettings,
    /// The earliest admission in admitted care, for the card's note on short history.
    pub data_start: Option<String>,
    /// Look-backs the features use, as (what, months), for the same note.
    pub lookbacks: Vec<(String, u32)>,
    /// Cross-validation settings.
    pub cv: model::CvOptions,
}

/// Why the risk stage failed.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// A file could not be read or written.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A table could not be read.
    #[error("cannot read `{path}`: {message}")]
    Table {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A table lacks a column.
    #[error(
        "`{path}` has no column `{column}`\nhint: link and score the run with this version of phm"
    )]
    MissingColumn {
        /// The path.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// Features and scores are not of the same patients.
    #[error(
        "`{features}` and `{scores}` are not of the same patients in the same order\nhint: score the spine the features were linked on"
    )]
    Mismatch {
        /// The features.
        features: PathBuf,
        /// The scores.
        scores: PathBuf,
    },
    /// No outcome year to fit on.
    #[error(
        "cannot fit the risk model: the features as of {as_of} have no outcome year (no data recorded after {as_of}); a model needs a year of history before the reference date\nhint: give the run a longer history, or name an approved model with `[risk] model = \"...\"` in the pipeline definition"
    )]
    NoOutcomeYear {
        /// The training date.
        as_of: String,
    },
    /// The model could not be fitted or applied.
    #[error("risk model: {0}")]
    Model(#[from] model::ModelError),
    /// Predictions could not be measured.
    #[error("risk model metrics: {0}")]
    Metrics(#[from] metrics::MetricsError),
    /// The segment rules failed.
    #[error(
        "segment rules: {0}\nhint: the rules are SQL over the table `patients`; see sql/risk/segments.sql"
    )]
    Segments(String),
    /// An approved model cannot be used.
    #[error("approved model `{path}`: {problem}")]
    Approved {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The pyramid is not usable.
    #[error("risk tiers: {0}\nhint: set `[risk] tiers` so that each tier's `top` rises to 1.0")]
    Tiers(String),
    /// An output could not be written.
    #[error(transparent)]
    Sql(#[from] phm_sql::SqlError),
}

/// What the stage did, for the run's summary line.
#[derive(Debug, Clone, Default)]
pub struct RiskSummary {
    /// Patients given a risk.
    pub patients: usize,
    /// Patients per tier, in pyramid order.
    pub tiers: Vec<(String, usize)>,
    /// Patients per segment, in name order.
    pub segments: Vec<(String, usize)>,
    /// The model's hash.
    pub model_id: String,
    /// Whether an approved model was applied (not fitted in this run).
    pub approved: bool,
    /// The back-test's AUROC (or the approved model's on the latest outcome year).
    pub auroc: Option<f64>,
    /// Seconds taken to fit (or load), test and apply the model.
    pub seconds: f64,
}

/// Fit (or load), back-test and apply the model; write `risk.parquet`, `calibration.parquet`,
/// `model.json`, `model_card.json` and `model_card.md` into `out`.
pub fn risk(cfg: &RiskConfig, out: &Path) -> Result<RiskSummary, RiskError> {
    tiers::check(&cfg.tiers).map_err(RiskError::Tiers)?;
    let started = std::time::Instant::now();
    let catalogue = features::catalogue();
    // The back-test's model (fitted two years before the reference date) first, so that its
    // year is dropped before the next is read: the stage holds one year's rows at a time.
    let backtest = match (&cfg.approved, &cfg.backtest) {
        (None, Some(b)) => {
            let old = features::load(&b.as_of, &b.features, &b.scores)?;
            match &old.outcome {
                Some(y_old) => Some((b.as_of.as_str(), fit_model(&old.x, y_old, &cfg.cv)?)),
                None => None,
            }
        }
        _ => None,
    };
    let train = features::load(&cfg.train.as_of, &cfg.train.features, &cfg.train.scores)?;
    let Some(y_train) = train.outcome.clone() else {
        return Err(RiskError::NoOutcomeYear {
            as_of: train.as_of.clone(),
        });
    };
    let (model, approved) = if let Some(path) = &cfg.approved {
        (ModelFile::read_approved(path, &catalogue)?, true)
    } else {
        let fit = fit_model(&train.x, &y_train, &cfg.cv)?;
        (ModelFile::new(&catalogue, &train, fit), false)
    };
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        approved,
        "risk model ready"
    );
    // The back-test is tested a year before the reference date; an approved model is tested
    // as it is on the latest outcome year.
    let tested = if approved {
        Some((
            evaluate::Kind::ApprovedModel,
            model.fitted_as_of.as_str(),
            &model.fit,
        ))
    } else {
        backtest
            .as_ref()
            .map(|(as_of, fit)| (evaluate::Kind::BackTest, *as_of, fit))
    };
    let test = match tested {
        Some((kind, fitted_as_of, fit)) => {
            let p = fit.predict(&train.x)?;
            Some(evaluate::evaluate(
                kind,
                fitted_as_of,
                &train,
                &y_train,
                &p,
            )?)
        }
        None => None,
    };
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "risk model tested"
    );
    let training = card::Sample::of(&train, &y_train);
    drop(train);

    let now = features::load(&cfg.apply.as_of, &cfg.apply.features, &cfg.apply.scores)?;
    let risk = model.fit.predict(&now.x)?;
    let placed = tiers::assign(&risk, &now.patients.pseudonym, &cfg.tiers);
    let tier_names: Vec<&str> = placed
        .iter()
        .map(|p| cfg.tiers[p.tier].name.as_str())
        .collect();
    let mut why = ReasonColumns::default();
    for (row, quoted) in now.rows() {
        why.push(&reasons::reasons(
            &catalogue,
            &model.fit.coefficients,
            row.cols
                .iter()
                .zip(row.vals)
                .zip(quoted)
                .map(|((&j, &x), &q)| (j, x, q)),
        ));
    }
    let rules = segments::rules(cfg.segments_sql.as_deref())?;
    let table = segments::patients_table(&now, &catalogue, &risk, &tier_names, &rules)?;
    let segment = segments::segments(&table, &rules, &cfg.session)?;

    let batch = risk_batch(&now, &risk, &placed, &tier_names, &segment, why)?;
    phm_sql::write_batches(
        batch.schema(),
        [batch],
        &out.join("risk.parquet"),
        "risk",
        phm_sql::published_compression(),
    )?;
    let calibration = evaluate::calibration_batch(test.as_ref())?;
    phm_sql::write_batches(
        calibration.schema(),
        [calibration],
        &out.join("calibration.parquet"),
        "risk calibration",
        phm_sql::published_compression(),
    )?;
    let summary = RiskSummary {
        patients: now.patients.len(),
        tiers: cfg
            .tiers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    t.name.clone(),
                    placed.iter().filter(|p| p.tier == i).count(),
                )
            })
            .collect(),
        segments: count_segments(&segment),
        model_id: model.model_id.clone(),
        approved,
        auroc: test.as_ref().map(|t| t.evaluation.auroc.auc),
        seconds: 0.0,
    };
    let card = card::Card::new(
        cfg, &model, approved, &training, test, &now, &summary, &catalogue,
    );
    write(out, "model.json", &model.to_json())?;
    write(out, "model_card.json", &card.to_json())?;
    write(out, "model_card.md", &card.to_markdown())?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(patients = summary.patients, seconds, "risk written");
    Ok(RiskSummary { seconds, ..summary })
}

/// The penalty grid per fitting row: `lambda / rows` from 1 down to 1e-6 in half decades. The
/// objective sums the log loss over rows, so the same penalty per row means the same amount of
/// shrinkage whatever the number of rows.
pub fn penalty_grid_per_row() -> Vec<f64> {
    (0..13).map(|i| 10f64.powf(-0.5 * f64::from(i))).collect()
}

/// Rows a cross-validation fold's fit sees, taken as the same for every fold: `used` rows
/// less one fold's share.
pub fn fold_fitting_rows(used: usize, folds: usize) -> usize {
    (used - used / folds.max(1)).max(1)
}

/// Fit with the penalty chosen by cross-validation. The grid is per row of a cross-validation
/// fold's fitting rows; the final fit on every row uses the chosen penalty per row times its
/// rows (cross-validation may use every m-th row only, see [`model::CvOptions`]).
pub fn fit_model(
    x: &model::SparseMatrix,
    y: &[bool],
    opts: &model::CvOptions,
) -> Result<model::LogisticFit, RiskError> {
    let n = x.rows();
    let used = n.div_ceil(model::cv_stride(n, opts.max_rows));
    let fold_rows = fold_fitting_rows(used, opts.folds) as f64;
    let grid: Vec<f64> = penalty_grid_per_row()
        .into_iter()
        .map(|l| l * fold_rows)
        .collect();
    let cv = model::cross_validate(x, y, &grid, opts)?;
    let lambda = cv.best_lambda / fold_rows * n as f64;
    let mut fit = model::fit_with(x, y, lambda, &opts.fit)?;
    fit.cv = Some(cv);
    Ok(fit)
}

fn write(out: &Path, name: &str, text: &str) -> Result<(), RiskError> {
    let path = out.join(name);
    phm_run::atomic::write_file(&path, text.as_bytes(), phm_run::Privacy::Shared)
        .map_err(|e| RiskError::Io { path, source: e })
}

fn count_segments(segment: &[String]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for s in segment {
        *counts.entry(s).or_default() += 1;
    }
    counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The reason columns of `risk.parquet`, a patient appended at a time.
#[derive(Default)]
struct ReasonColumns {
    text: [StringBuilder; reasons::MAX_REASONS],
    features: ListBuilder<StringBuilder>,
    values: ListBuilder<Float64Builder>,
}

impl ReasonColumns {
    fn push(&mut self, why: &[reasons::Reason]) {
        for (i, text) in self.text.iter_mut().enumerate() {
            text.append_option(why.get(i).map(|r| &r.text));
        }
        for r in why {
            self.features.values().append_value(&r.feature);
            self.values.values().append_value(r.value);
        }
        self.features.append(true);
        self.values.append(true);
    }
}

fn risk_batch(
    now: &Year,
    risk: &[f64],
    placed: &[tiers::Placed],
    tier_names: &[&str],
    segment: &[String],
    why: ReasonColumns,
) -> Result<RecordBatch, RiskError> {
    let who = &now.patients;
    let ReasonColumns {
        text: [mut reason_1, mut reason_2, mut reason_3],
        mut features,
        mut values,
    } = why;
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "pseudonym",
            Arc::new(StringArray::from_iter_values(&who.pseudonym)),
        ),
        (
            "practice_code",
            Arc::new(StringArray::from_iter_values(&who.practice)),
        ),
        ("risk", Arc::new(Float64Array::from(risk.to_vec()))),
        (
            "percentile",
            Arc::new(Float64Array::from_iter_values(
                placed.iter().map(|p| p.percentile),
            )),
        ),
        (
            "rank",
            Arc::new(Int64Array::from_iter_values(
                placed.iter().map(|p| p.rank as i64 + 1),
            )),
        ),
        (
            "tier",
            Arc::new(StringArray::from_iter_values(tier_names.iter().copied())),
        ),
        ("segment", Arc::new(StringArray::from_iter_values(segment))),
        ("reason_1", Arc::new(reason_1.finish())),
        ("reason_2", Arc::new(reason_2.finish())),
        ("reason_3", Arc::new(reason_3.finish())),
        ("reason_features", Arc::new(features.finish())),
        ("reason_values", Arc::new(values.finish())),
    ];
    RecordBatch::try_from_iter(columns).map_err(|e| RiskError::Table {
        path: PathBuf::from("risk.parquet"),
        message: e.to_string(),
    })
}

/// The earliest admission in a run's admitted care (`YYYY-MM-DD`), for the model card's note
/// on history shorter than a look-back. (GP records reach back decades through old diagnoses,
/// so they do not say when the feeds start.)
pub fn data_start(
    run: &phm_run::RunLayout,
    session: &SessionSettings,
) -> Result<Option<String>, RiskError> {
    let engine = |e: datafusion::error::DataFusionError| RiskError::Table {
        path: run.pseudonymised(),
        message: e.to_string(),
    };
    phm_sql::block_on(async {
        let ctx = phm_sql::connect(session).await?;
        let tables = phm_sql::register_extracts(&ctx, run).await?;
        let mut first: Option<String> = None;
        for (table, column) in [("apc", "admission_date")] {
            if !tables.iter().any(|t| t == table) {
                continue;
            }
            let batches = ctx
                .sql(&format!(
                    "SELECT CAST(min({column}) AS VARCHAR) FROM {table}"
                ))
                .await
                .map_err(engine)?
                .collect()
                .await
                .map_err(engine)?;
            let found = batches
                .first()
                .and_then(|b| {
                    features::strings(b, b.schema().field(0).name(), &run.pseudonymised()).ok()
                })
                .and_then(|v| v.into_iter().next())
                .filter(|s| !s.is_empty());
            if let Some(day) = found
                && first.as_ref().is_none_or(|f| day < *f)
            {
                first = Some(day);
            }
        }
        Ok(first)
    })
}
