//! `model.json` (the fitted model, named by its hash) and the model card: the items of
//! TRIPOD+AI (Collins et al., BMJ 2024) a reader of a prediction model needs — intended use and
//! users, data sources and dates, eligibility, outcome, sample sizes and events, features,
//! coefficients with intervals, metrics with intervals, subgroup results, limitations.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::evaluate::{Kind, Test};
use crate::features::{Feature, OUTCOME, Year};
use crate::model::LogisticFit;
use crate::{RiskConfig, RiskError, RiskSummary};

/// How the model is written down.
pub const METHOD: &str = "L2-regularised logistic regression (Newton/IRLS, Cholesky solve), columns divided by their standard deviation, penalty chosen by k-fold cross-validation on the fitting year";

/// A fitted model as a file: `risk/model.json`, and as approved, `<model id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    /// BLAKE3 of this file's JSON with `model_id` empty: what approves and names it.
    pub model_id: String,
    /// How it was fitted.
    pub method: String,
    /// The date of the features it was fitted on.
    pub fitted_as_of: String,
    /// What it predicts.
    pub outcome: String,
    /// Its inputs, in coefficient order.
    pub features: Vec<String>,
    /// The fit.
    pub fit: LogisticFit,
    /// The intercept, then the coefficients, as IEEE 754 bit patterns (16 hex digits): what
    /// predictions use when the file is read back, so an approved model predicts bit for bit
    /// as in its own run (a decimal number in JSON may be read back a unit in the last place off).
    pub exact: Vec<String>,
}

impl ModelFile {
    /// A model fitted on `train`.
    pub fn new(catalogue: &[Feature], train: &Year, fit: LogisticFit) -> Self {
        let mut m = ModelFile {
            model_id: String::new(),
            method: METHOD.to_owned(),
            fitted_as_of: train.as_of.clone(),
            outcome: format!(
                "{OUTCOME}: one or more emergency admissions in the 12 months after the date"
            ),
            features: catalogue.iter().map(|f| f.name.clone()).collect(),
            exact: std::iter::once(fit.intercept)
                .chain(fit.coefficients.iter().copied())
                .map(|v| format!("{:016x}", v.to_bits()))
                .collect(),
            fit,
        };
        m.model_id = hash_text(&m.to_json(), "");
        m
    }

    /// The file's text.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a model serialises");
        s.push('\n');
        s
    }

    /// Read an approved model: its hash must match its content, and its features this phm's.
    pub fn read_approved(path: &Path, catalogue: &[Feature]) -> Result<Self, RiskError> {
        let bad = |problem: String| RiskError::Approved {
            path: path.to_path_buf(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| RiskError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut m: ModelFile =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a phm model file: {e}")))?;
        if hash_text(&text, &m.model_id) != m.model_id {
            return Err(bad(
                "its content does not match its model id: it was changed after approval\nhint: approve the model again with `phm risk approve RUN`".to_owned(),
            ));
        }
        let names: Vec<&str> = catalogue.iter().map(|f| f.name.as_str()).collect();
        if m.features != names
            || m.fit.coefficients.len() != names.len()
            || m.exact.len() != names.len() + 1
        {
            return Err(bad(
                "its features are not this version of phm's\nhint: fit a model with this version (remove `[risk] model` for one run) and approve it".to_owned(),
            ));
        }
        let exact = m
            .exact
            .iter()
            .map(|h| u64::from_str_radix(h, 16).map(f64::from_bits))
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|e| {
                bad(format!(
                    "`exact` holds a value that is not 16 hex digits: {e}"
                ))
            })?;
        m.fit.intercept = exact[0];
        m.fit.coefficients = exact[1..].to_vec();
        Ok(m)
    }

    /// Copy a run's `model.json` to `<dir>/<model id>.json`; returns that path.
    pub fn approve(model_json: &Path, dir: &Path) -> Result<std::path::PathBuf, RiskError> {
        let m = Self::read_approved(model_json, &crate::features::catalogue())?;
        let dest = dir.join(format!("{}.json", m.model_id));
        phm_run::atomic::create_dir_all(dir, phm_run::Privacy::Shared).map_err(|e| {
            RiskError::Io {
                path: dir.to_path_buf(),
                source: e,
            }
        })?;
        // The file as it is, byte for byte: its id is the hash of these bytes.
        let bytes = std::fs::read(model_json).map_err(|e| RiskError::Io {
            path: model_json.to_path_buf(),
            source: e,
        })?;
        phm_run::atomic::write_file(&dest, &bytes, phm_run::Privacy::Shared).map_err(|e| {
            RiskError::Io {
                path: dest.clone(),
                source: e,
            }
        })?;
        Ok(dest)
    }
}

/// BLAKE3 of a model file's text with its model id (`id`) emptied: the id the file should hold.
fn hash_text(text: &str, id: &str) -> String {
    let unnamed = text.replacen(&format!("\"model_id\": \"{id}\""), "\"model_id\": \"\"", 1);
    blake3::hash(unnamed.as_bytes()).to_hex().to_string()
}

/// Rows and events of a year.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// The features' date.
    pub as_of: String,
    /// Patients.
    pub patients: usize,
    /// With an emergency admission in the following 12 months.
    pub events: usize,
}

impl Sample {
    /// Of a year with its outcome.
    pub fn of(year: &Year, y: &[bool]) -> Self {
        Sample {
            as_of: year.as_of.clone(),
            patients: year.patients.len(),
            events: y.iter().filter(|&&v| v).count(),
        }
    }
}

/// One coefficient with its interval.
#[derive(Debug, Clone, Serialize)]
pub struct Coefficient {
    /// The feature.
    pub feature: String,
    /// In words.
    pub label: String,
    /// Where it comes from.
    pub source: crate::features::Source,
    /// Log-odds per unit of the feature.
    pub estimate: f64,
    /// Standard error.
    pub std_error: f64,
    /// Wald 95% interval.
    pub ci95: [f64; 2],
}

/// The model card.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// The model.
    pub model_id: String,
    /// Fitted in this run, or approved and applied.
    pub provenance: String,
    /// Intended use.
    pub intended_use: String,
    /// Intended users.
    pub intended_users: String,
    /// The data.
    pub data_sources: String,
    /// Dates.
    pub dates: Dates,
    /// Who is in it.
    pub eligibility: String,
    /// The outcome.
    pub outcome: String,
    /// Method.
    pub method: String,
    /// The fitting year.
    pub training: Sample,
    /// The penalty and how it was chosen.
    pub penalty: Penalty,
    /// The model's inputs and coefficients.
    pub coefficients: Vec<Coefficient>,
    /// The intercept.
    pub intercept: f64,
    /// How well it predicted.
    pub test: Option<Test>,
    /// Applied as of the reference date.
    pub applied: Applied,
    /// Limitations.
    pub limitations: Vec<String>,
}

/// Dates of the card.
#[derive(Debug, Clone, Serialize)]
pub struct Dates {
    /// The model's fitting date.
    pub fitted_as_of: String,
    /// The reference date it is applied on.
    pub applied_as_of: String,
    /// The earliest admission in the admitted-care data.
    pub data_start: Option<String>,
}

/// The penalty.
#[derive(Debug, Clone, Serialize)]
pub struct Penalty {
    /// Chosen `lambda` (scikit-learn `C = 1 / lambda`).
    pub lambda: f64,
    /// The cross-validation.
    pub cv: Option<crate::model::CvResult>,
}

/// The application.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Patients given a risk.
    pub patients: usize,
    /// Per tier.
    pub tiers: Vec<(String, usize)>,
    /// The pyramid's cumulative shares.
    pub tier_shares: Vec<(String, f64)>,
    /// Per segment.
    pub segments: Vec<(String, usize)>,
}

impl Card {
    /// The card of a run's model.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &RiskConfig,
        model: &ModelFile,
        approved: bool,
        training: &Sample,
        test: Option<Test>,
        now: &Year,
        summary: &RiskSummary,
        catalogue: &[Feature],
    ) -> Self {
        let fit = &model.fit;
        let coefficients = catalogue
            .iter()
            .enumerate()
            .map(|(j, f)| Coefficient {
                feature: f.name.clone(),
                label: f.label.clone(),
                source: f.source.clone(),
                estimate: fit.coefficients[j],
                std_error: fit.std_errors[j],
                ci95: fit.ci95[j],
            })
            .collect();
        let mut limitations = vec![
            "Fitted and tested on synthetic or local data only: performance elsewhere is unknown until back-tested there.".to_owned(),
            "Patients who die or leave the area during the outcome year count as having no emergency admission unless admitted before; the model predicts admissions recorded by the ICB's providers.".to_owned(),
            "Coefficients are associations, not effects: a reason says what raised the predicted risk, not what would lower it.".to_owned(),
            "Admissions to hospitals outside the ICB's feeds are not seen.".to_owned(),
        ];
        if let Some(start) = &cfg.data_start {
            for (what, months) in &cfg.lookbacks {
                for as_of in [
                    Some(&training.as_of),
                    test.as_ref().map(|t| &t.fitted_as_of),
                ]
                .into_iter()
                .flatten()
                {
                    if let Some(from) = months_before(as_of, *months)
                        && from.as_str() < start.as_str()
                    {
                        limitations.push(format!(
                            "History is shorter than the {what} look-back ({months} months) as of {as_of}: admitted care is recorded from {start}, so those features use what exists."
                        ));
                    }
                }
            }
        }
        if test.is_none() {
            limitations.push(
                "No back-test: the data hold no outcome year before the fitting year.".to_owned(),
            );
        }
        Card {
            model_id: model.model_id.clone(),
            provenance: if approved {
                format!(
                    "approved model {} (fitted as of {}), applied without refitting",
                    model.model_id, model.fitted_as_of
                )
            } else {
                "fitted in this run".to_owned()
            },
            intended_use: "Case-finding for proactive care: to help a GP practice identify its registered patients most at risk of an emergency admission in the next 12 months, and to help the ICB plan services for population segments. Not for decisions about an individual without clinical review.".to_owned(),
            intended_users: "GP practices (their own patients, re-identified through the practice's key), ICB population health analysts (pseudonymised and aggregated).".to_owned(),
            data_sources: "Pseudonymised GP registrations, coded events and medications; hospital admitted care, outpatients and A&E; ambulance, community and mental-health contacts; linked on a keyed pseudonym (sql/), scored with Charlson, Elixhauser, HFRS and eFI (codelists/).".to_owned(),
            dates: Dates {
                fitted_as_of: model.fitted_as_of.clone(),
                applied_as_of: now.as_of.clone(),
                data_start: cfg.data_start.clone(),
            },
            eligibility: "Every patient registered with one of the ICB's practices and alive on the date (the spine), of any age.".to_owned(),
            outcome: model.outcome.clone(),
            method: model.method.clone(),
            training: training.clone(),
            penalty: Penalty {
                lambda: fit.lambda,
                cv: fit.cv.clone(),
            },
            coefficients,
            intercept: fit.intercept,
            test,
            applied: Applied {
                patients: summary.patients,
                tiers: summary.tiers.clone(),
                tier_shares: cfg.tiers.iter().map(|t| (t.name.clone(), t.top)).collect(),
                segments: summary.segments.clone(),
            },
            limitations,
        }
    }

    /// `model_card.json`.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a card serialises");
        s.push('\n');
        s
    }

    /// `model_card.md`.
    pub fn to_markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(
            m,
            "# Model card: emergency admission in the next 12 months\n"
        );
        let _ = writeln!(m, "Model `{}`, {}.\n", self.model_id, self.provenance);
        let _ = writeln!(
            m,
            "## Intended use\n\n{}\n\n**Users:** {}\n",
            self.intended_use, self.intended_users
        );
        let _ = writeln!(m, "## Data\n\n{}\n", self.data_sources);
        let _ = writeln!(
            m,
            "- fitted on features as of **{}**, outcomes in the 12 months after\n- applied as of **{}**\n- admitted care recorded from: {}\n",
            self.dates.fitted_as_of,
            self.dates.applied_as_of,
            self.dates.data_start.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            m,
            "**Eligibility:** {}\n\n**Outcome:** {}\n",
            self.eligibility, self.outcome
        );
        let _ = writeln!(
            m,
            "## Method\n\n{}. Penalty lambda = {} (scikit-learn C = {}).\n",
            self.method,
            self.penalty.lambda,
            1.0 / self.penalty.lambda
        );
        if let Some(cv) = &self.penalty.cv {
            let fold_rows = crate::fold_fitting_rows(cv.rows_used, cv.folds) as f64;
            let rows = if cv.stride == 1 {
                format!("all {} rows", cv.rows_used)
            } else {
                format!("{} rows (every {}th)", cv.rows_used, cv.stride)
            };
            let _ = writeln!(
                m,
                "Cross-validation: {} folds on {rows}.\n\n| lambda per fitting row | mean held-out log loss |\n|---|---|",
                cv.folds
            );
            for r in &cv.table {
                let _ = writeln!(
                    m,
                    "| {:.2e} | {:.6} |",
                    r.lambda / fold_rows,
                    r.mean_log_loss
                );
            }
            let grid = crate::penalty_grid_per_row().len();
            if cv.table.len() < grid {
                let _ = writeln!(
                    m,
                    "\nThe search went down the grid of {grid} penalties and stopped after {} that did not improve on the best (held-out loss rises on both sides of its minimum).",
                    cv.table.len()
                        - 1
                        - cv.table
                            .iter()
                            .position(|r| r.lambda.to_bits() == cv.best_lambda.to_bits())
                            .unwrap_or(0)
                );
            }
            m.push('\n');
        }
        let _ = writeln!(
            m,
            "## Sample\n\nFitting year as of {}: {} patients, {} with an emergency admission ({:.1}%).\n",
            self.training.as_of,
            self.training.patients,
            self.training.events,
            100.0 * self.training.events as f64 / self.training.patients.max(1) as f64
        );
        if let Some(t) = &self.test {
            write_test(&mut m, t);
        }
        let _ = writeln!(
            m,
            "## Coefficients (log-odds per unit, 95% Wald interval)\n\nIntercept {:.4}.\n\n| feature | meaning | estimate | 95% interval |\n|---|---|---|---|",
            self.intercept
        );
        for c in &self.coefficients {
            let _ = writeln!(
                m,
                "| `{}` | {} | {:.4} | {:.4} to {:.4} |",
                c.feature, c.label, c.estimate, c.ci95[0], c.ci95[1]
            );
        }
        let _ = writeln!(
            m,
            "\n## Applied as of {}\n\n{} patients.\n\n| tier | top share | patients |\n|---|---|---|",
            self.dates.applied_as_of, self.applied.patients
        );
        for ((name, n), (_, share)) in self.applied.tiers.iter().zip(&self.applied.tier_shares) {
            let _ = writeln!(m, "| {name} | {:.1}% | {n} |", share * 100.0);
        }
        let _ = writeln!(m, "\n| segment | patients |\n|---|---|");
        for (name, n) in &self.applied.segments {
            let _ = writeln!(m, "| {name} | {n} |");
        }
        let _ = writeln!(m, "\n## Limitations\n");
        for l in &self.limitations {
            let _ = writeln!(m, "- {l}");
        }
        m
    }
}

fn write_test(m: &mut String, t: &Test) {
    let e = &t.evaluation;
    let title = match t.kind {
        Kind::BackTest => format!(
            "## Back-test\n\nFitted as of {}, tested on features as of {} against emergency admissions in the 12 months after ({} patients, {} events).\n",
            t.fitted_as_of, t.tested_as_of, e.n, e.events
        ),
        Kind::ApprovedModel => format!(
            "## Test of the approved model\n\nFitted as of {}, tested as it is on features as of {} ({} patients, {} events).\n",
            t.fitted_as_of, t.tested_as_of, e.n, e.events
        ),
    };
    m.push_str(&title);
    let c = &e.calibration;
    let _ = writeln!(
        m,
        "\n| metric | value |\n|---|---|\n| AUROC (DeLong 95% CI) | {:.4} ({:.4} to {:.4}) |\n| AUPRC | {:.4} |\n| Brier score | {:.5} |\n| observed / expected | {:.3} |\n| calibration intercept | {:.3} |\n| calibration slope | {:.3} |",
        e.auroc.auc,
        e.auroc.lo95,
        e.auroc.hi95,
        e.auprc,
        e.brier,
        c.observed_expected,
        c.intercept,
        c.slope
    );
    let _ = writeln!(
        m,
        "\n| flagged | patients | sensitivity | PPV |\n|---|---|---|---|"
    );
    for top in &e.top {
        let _ = writeln!(
            m,
            "| top {}% | {} | {:.3} | {:.3} |",
            top.fraction * 100.0,
            top.flagged,
            top.sensitivity,
            top.ppv
        );
    }
    let _ = writeln!(
        m,
        "\n| baseline | AUROC (95% CI) | model minus baseline |\n|---|---|---|"
    );
    for b in &t.baselines {
        let _ = writeln!(
            m,
            "| {} | {:.4} ({:.4} to {:.4}) | {:+.4} |",
            b.name, b.auroc.auc, b.auroc.lo95, b.auroc.hi95, b.model_minus_baseline
        );
    }
    let _ = writeln!(
        m,
        "\n| risk decile | patients | observed | mean predicted |\n|---|---|---|---|"
    );
    for d in &e.deciles {
        let _ = writeln!(
            m,
            "| {} | {} | {:.4} | {:.4} |",
            d.group, d.n, d.observed_rate, d.mean_predicted
        );
    }
    let _ = writeln!(
        m,
        "\n| subgroup | group | patients | events | AUROC | observed / expected | calibration slope |\n|---|---|---|---|---|---|---|"
    );
    for s in &t.subgroups {
        let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.by,
            s.group,
            s.patients,
            s.events,
            opt(s.auroc.map(|a| a.auc)),
            opt(s.observed_expected),
            opt(s.calibration_slope)
        );
    }
    m.push('\n');
}

/// `YYYY-MM-DD` minus `months`, as text (day clamped to the month).
fn months_before(as_of: &str, months: u32) -> Option<String> {
    let day = phm_contract::date::parse_iso(as_of)?;
    Some(phm_contract::date::iso(phm_sql::add_months(
        day,
        -i32::try_from(months).ok()?,
    )))
}
