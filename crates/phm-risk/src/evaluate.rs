//! How well the model predicted: the back-test's metrics, observed against predicted by risk
//! decile and by age band × sex, discrimination and calibration by IMD quintile, sex and age
//! band, and the baselines (emergency admissions in the last 12 months; Charlson, HFRS and eFI
//! alone) on the same patients.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use rayon::prelude::*;
use serde::Serialize;

use crate::RiskError;
use crate::features::Year;
use crate::metrics::{self, DeLong, Evaluation};

/// What was tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A model fitted two years before the reference date, tested on the next year.
    BackTest,
    /// The approved model as it is, on the latest outcome year.
    ApprovedModel,
}

/// Observed against predicted in one group.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `decile` or `age_band_sex`.
    pub grouping: String,
    /// The group (`1` = lowest risk decile; `85-89 F`).
    pub group: String,
    /// Patients.
    pub patients: usize,
    /// Of whom with an emergency admission in the outcome year.
    pub events: usize,
    /// Events / patients.
    pub observed_rate: f64,
    /// Mean predicted risk.
    pub mean_predicted: f64,
}

/// Discrimination and calibration in a subgroup.
#[derive(Debug, Clone, Serialize)]
pub struct Subgroup {
    /// `imd_quintile`, `sex` or `age_band`.
    pub by: String,
    /// The group.
    pub group: String,
    /// Patients.
    pub patients: usize,
    /// Events.
    pub events: usize,
    /// AUROC with its `DeLong` interval (`None` when the group has one class only).
    pub auroc: Option<DeLong>,
    /// Observed / expected events.
    pub observed_expected: Option<f64>,
    /// Calibration slope (`None` when it cannot be estimated).
    pub calibration_slope: Option<f64>,
}

/// A baseline score's discrimination on the same patients.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// Its name.
    pub name: String,
    /// AUROC with its `DeLong` interval.
    pub auroc: DeLong,
    /// The model's AUROC minus this one's.
    pub model_minus_baseline: f64,
}

/// One test of the model.
#[derive(Debug, Clone, Serialize)]
pub struct Test {
    /// What was tested.
    pub kind: Kind,
    /// When the tested model was fitted (its features' date).
    pub fitted_as_of: String,
    /// The tested features' date (outcomes in the 12 months after it).
    pub tested_as_of: String,
    /// The metrics.
    pub evaluation: Evaluation,
    /// Observed against predicted by age band × sex.
    pub age_sex: Vec<Group>,
    /// By IMD quintile, sex and age band.
    pub subgroups: Vec<Subgroup>,
    /// The baselines.
    pub baselines: Vec<Baseline>,
}

/// Measure predictions `p` of `year`'s outcome `y`.
pub fn evaluate(
    kind: Kind,
    fitted_as_of: &str,
    year: &Year,
    y: &[bool],
    p: &[f64],
) -> Result<Test, RiskError> {
    let evaluation = metrics::evaluate(y, p)?;
    let who = &year.patients;
    let mut age_sex: BTreeMap<(usize, String), (usize, usize, f64)> = BTreeMap::new();
    for r in 0..y.len() {
        let band = crate::features::AGE_BANDS
            .iter()
            .position(|b| *b == who.age_band[r])
            .unwrap_or(usize::MAX);
        let e = age_sex
            .entry((band, format!("{} {}", who.age_band[r], who.sex[r])))
            .or_default();
        e.0 += 1;
        e.1 += usize::from(y[r]);
        e.2 += p[r];
    }
    let age_sex = age_sex
        .into_iter()
        .map(|((_, group), (n, events, sum))| Group {
            grouping: "age_band_sex".to_owned(),
            group,
            patients: n,
            events,
            observed_rate: events as f64 / n as f64,
            mean_predicted: sum / n as f64,
        })
        .collect();
    let mut subgroups = Vec::new();
    let quintile = |r: usize| {
        who.imd_quintile(r)
            .map_or("unknown".to_owned(), |q| q.to_string())
    };
    subgroups.extend(by("imd_quintile", y, p, quintile));
    subgroups.extend(by("sex", y, p, |r| who.sex[r].clone()));
    subgroups.extend(by("age_band", y, p, |r| who.age_band[r].clone()));
    let b = &year.baselines;
    let baselines = [
        (
            "emergency admissions in the last 12 months",
            &b.emergency_admissions_12m,
        ),
        ("Charlson index (Quan 2011)", &b.charlson),
        ("Hospital Frailty Risk Score", &b.hfrs),
        ("electronic Frailty Index", &b.efi),
    ]
    .into_par_iter()
    .map(|(name, score)| {
        let auroc = metrics::delong(y, score)?;
        Ok(Baseline {
            name: name.to_owned(),
            model_minus_baseline: evaluation.auroc.auc - auroc.auc,
            auroc,
        })
    })
    .collect::<Result<Vec<_>, RiskError>>()?;
    Ok(Test {
        kind,
        fitted_as_of: fitted_as_of.to_owned(),
        tested_as_of: year.as_of.clone(),
        evaluation,
        age_sex,
        subgroups,
        baselines,
    })
}

/// Subgroups by a key, in the key's text order (age bands in age order).
fn by(name: &str, y: &[bool], p: &[f64], key: impl Fn(usize) -> String) -> Vec<Subgroup> {
    let mut rows: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    for r in 0..y.len() {
        let k = key(r);
        let order = crate::features::AGE_BANDS
            .iter()
            .position(|b| *b == k)
            .unwrap_or(0);
        rows.entry((order, k)).or_default().push(r);
    }
    rows.into_par_iter()
        .map(|((_, group), idx)| {
            let ys: Vec<bool> = idx.iter().map(|&r| y[r]).collect();
            let ps: Vec<f64> = idx.iter().map(|&r| p[r]).collect();
            let events = ys.iter().filter(|&&v| v).count();
            Subgroup {
                by: name.to_owned(),
                group,
                patients: ys.len(),
                events,
                auroc: metrics::delong(&ys, &ps).ok(),
                observed_expected: metrics::observed_expected(&ys, &ps).ok(),
                calibration_slope: (events >= 10 && events < ys.len())
                    .then(|| metrics::calibration(&ys, &ps).ok().map(|c| c.slope))
                    .flatten(),
            }
        })
        .collect()
}

/// `calibration.parquet`: observed against predicted by risk decile and by age band × sex
/// (no rows when nothing could be tested).
pub fn calibration_batch(test: Option<&Test>) -> Result<RecordBatch, RiskError> {
    let mut groups: Vec<Group> = Vec::new();
    if let Some(t) = test {
        groups.extend(t.evaluation.deciles.iter().map(|d| Group {
            grouping: "decile".to_owned(),
            group: d.group.to_string(),
            patients: d.n,
            events: d.observed,
            observed_rate: d.observed_rate,
            mean_predicted: d.mean_predicted,
        }));
        groups.extend(t.age_sex.iter().cloned());
    }
    let tested = test.map(|t| t.tested_as_of.clone()).unwrap_or_default();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "tested_as_of",
            Arc::new(StringArray::from_iter_values(
                groups.iter().map(|_| tested.as_str()),
            )),
        ),
        (
            "grouping",
            Arc::new(StringArray::from_iter_values(
                groups.iter().map(|g| g.grouping.as_str()),
            )),
        ),
        (
            "group",
            Arc::new(StringArray::from_iter_values(
                groups.iter().map(|g| g.group.as_str()),
            )),
        ),
        (
            "patients",
            Arc::new(Int64Array::from_iter_values(
                groups.iter().map(|g| g.patients as i64),
            )),
        ),
        (
            "events",
            Arc::new(Int64Array::from_iter_values(
                groups.iter().map(|g| g.events as i64),
            )),
        ),
        (
            "observed_rate",
            Arc::new(Float64Array::from_iter_values(
                groups.iter().map(|g| g.observed_rate),
            )),
        ),
        (
            "mean_predicted",
            Arc::new(Float64Array::from_iter_values(
                groups.iter().map(|g| g.mean_predicted),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns).map_err(|e| RiskError::Table {
        path: PathBuf::from("calibration.parquet"),
        message: e.to_string(),
    })
}
