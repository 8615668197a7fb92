//! Measures of predicted risks against observed outcomes, as readers of OHDSI
//! `PatientLevelPrediction` and TRIPOD+AI reports expect them: discrimination (AUROC with a
//! `DeLong` interval, AUPRC), overall accuracy (Brier), calibration (observed / expected,
//! calibration-in-the-large and slope, observed against predicted by risk decile) and the
//! yield of flagging the highest-risk fraction of the population.
//!
//! Every function takes outcomes `y` and predictions `p` of equal length, returns an error
//! (never panics) on empty, mismatched, non-finite or one-class input, and returns plain
//! structs that serialise into a model card. Sorting is by `p` with ties broken by row order,
//! so every result is deterministic.

use serde::{Deserialize, Serialize};

use crate::model::{self, ModelError, Problem, SparseMatrix};

/// Where predictions are clipped before taking logits: `[CLIP, 1 - CLIP]`.
pub const CLIP: f64 = 1e-15;

/// The fractions of the population [`evaluate`] flags: the top 0.5%, 5% and 20% by risk.
pub const TOP_FRACTIONS: [f64; 3] = [0.005, 0.05, 0.2];

/// Errors of the metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// `y` and `p` have different lengths.
    #[error(
        "`y` has {outcomes} outcomes but `p` has {predictions} predictions\nhint: predict on the same rows as the outcomes"
    )]
    LengthMismatch {
        /// Outcomes given.
        outcomes: usize,
        /// Predictions given.
        predictions: usize,
    },
    /// No rows.
    #[error("no rows to evaluate\nhint: check the validation cohort")]
    Empty,
    /// Every outcome is the same.
    #[error("every outcome in `y` is `{class}`; this measure needs both events and non-events")]
    OneClass {
        /// The only class present.
        class: bool,
    },
    /// A prediction is NaN or infinite.
    #[error("prediction {index} is not finite ({value})")]
    NotFinite {
        /// Row of the prediction.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A prediction is not a probability.
    #[error("prediction {index} = {value} is not a probability in [0, 1]")]
    NotProbability {
        /// Row of the prediction.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Too few of a class for the `DeLong` variance.
    #[error(
        "DeLong's variance needs at least 2 events and 2 non-events, got {events} and {non_events}"
    )]
    TooFewForDeLong {
        /// Events.
        events: usize,
        /// Non-events.
        non_events: usize,
    },
    /// A flagged fraction outside `(0, 1]`.
    #[error("the fraction to flag must be in (0, 1], got {0}")]
    InvalidFraction(f64),
    /// Zero risk groups.
    #[error("the number of risk groups must be at least 1, got {0}")]
    InvalidGroups(usize),
    /// The recalibration model could not be fitted.
    #[error("the calibration model could not be fitted: {0}")]
    Calibration(#[from] ModelError),
}

/// AUROC with its `DeLong` standard error and 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeLong {
    /// Area under the ROC curve (ties count half).
    pub auc: f64,
    /// `DeLong` standard error.
    pub se: f64,
    /// Lower 95% limit, `auc - 1.96 se`, floored at 0.
    pub lo95: f64,
    /// Upper 95% limit, `auc + 1.96 se`, capped at 1.
    pub hi95: f64,
}

/// Calibration of predictions (logistic recalibration).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Observed events, `sum y`.
    pub observed: f64,
    /// Expected events, `sum p`.
    pub expected: f64,
    /// `observed / expected`.
    pub observed_expected: f64,
    /// Calibration-in-the-large: the intercept `a` of `logit P(y) = a + logit(p)` (slope fixed
    /// at 1, `logit(p)` an offset); 0 when calibrated on average.
    pub intercept: f64,
    /// Calibration slope: `b` of `logit P(y) = c + b·logit(p)`; 1 when calibrated, below 1
    /// when predictions are too extreme.
    pub slope: f64,
    /// The intercept `c` of the slope model.
    pub slope_intercept: f64,
}

/// One risk group (decile) of observed against predicted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskGroup {
    /// 1 = lowest predicted risk.
    pub group: usize,
    /// Rows in the group.
    pub n: usize,
    /// Events observed.
    pub observed: usize,
    /// Events expected, `sum p`.
    pub expected: f64,
    /// Observed event rate.
    pub observed_rate: f64,
    /// Mean predicted risk.
    pub mean_predicted: f64,
    /// Lowest predicted risk in the group.
    pub min_predicted: f64,
    /// Highest predicted risk in the group.
    pub max_predicted: f64,
}

/// The yield of flagging the top `fraction` of rows by predicted risk.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TopFraction {
    /// The fraction asked for.
    pub fraction: f64,
    /// Rows flagged: the smallest `k >= fraction · n` (at least 1).
    pub flagged: usize,
    /// Events among the flagged rows.
    pub true_positives: usize,
    /// Events among all rows.
    pub events: usize,
    /// Sensitivity, `true_positives / events`.
    pub sensitivity: f64,
    /// Positive predictive value, `true_positives / flagged`.
    pub ppv: f64,
    /// The lowest predicted risk flagged.
    pub threshold: f64,
}

/// Every measure of [`evaluate`], for a model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows.
    pub n: usize,
    /// Events.
    pub events: usize,
    /// `events / n`.
    pub prevalence: f64,
    /// AUROC with `DeLong` interval.
    pub auroc: DeLong,
    /// Average precision (scikit-learn's `average_precision_score`).
    pub auprc: f64,
    /// Brier score.
    pub brier: f64,
    /// Scaled Brier, `1 - brier / (prevalence · (1 - prevalence))`.
    pub brier_scaled: f64,
    /// Calibration.
    pub calibration: Calibration,
    /// Observed against predicted by decile of predicted risk.
    pub deciles: Vec<RiskGroup>,
    /// Yield of flagging the top 0.5%, 5% and 20%.
    pub top: Vec<TopFraction>,
    /// The ROC curve at [`ROC_POINTS`] + 1 evenly spaced shares flagged, from none to all:
    /// `[false positive rate, true positive rate]` (for the run report's chart).
    pub roc: Vec<[f64; 2]>,
}

/// Steps of the ROC curve kept in an evaluation.
pub const ROC_POINTS: usize = 50;

/// The ROC curve: for `k` in `0..=steps`, flag the top `k / steps` of patients by `p` (ties by
/// row order) and give `[FPR, TPR]`. Empty when there are no events or no non-events.
pub fn roc_curve(y: &[bool], p: &[f64], steps: usize) -> Result<Vec<[f64; 2]>, MetricsError> {
    let events = check_probabilities(y, p)?;
    let n = y.len();
    let non_events = n - events;
    if events == 0 || non_events == 0 || steps == 0 {
        return Ok(Vec::new());
    }
    let order = order_desc(p);
    let mut curve = Vec::with_capacity(steps + 1);
    let (mut tp, mut taken) = (0usize, 0usize);
    for k in 0..=steps {
        let upto = (k * n).div_ceil(steps).min(n);
        while taken < upto {
            tp += usize::from(y[order[taken]]);
            taken += 1;
        }
        curve.push([
            (taken - tp) as f64 / non_events as f64,
            tp as f64 / events as f64,
        ]);
    }
    Ok(curve)
}

/// Every measure: AUROC with `DeLong` interval, AUPRC, Brier, calibration, deciles and the yield
/// of flagging [`TOP_FRACTIONS`].
pub fn evaluate(y: &[bool], p: &[f64]) -> Result<Evaluation, MetricsError> {
    let events = check_probabilities(y, p)?;
    let n = y.len();
    let prevalence = events as f64 / n as f64;
    let brier = brier(y, p)?;
    // Independent measures, computed side by side (each is exact whatever the order).
    let ((auroc, auprc), ((calibration, deciles), (top, roc))) = rayon::join(
        || (delong(y, p), auprc(y, p)),
        || {
            rayon::join(
                || (calibration(y, p), risk_groups(y, p, 10)),
                || {
                    (
                        TOP_FRACTIONS
                            .iter()
                            .map(|&q| top_fraction(y, p, q))
                            .collect::<Result<_, _>>(),
                        roc_curve(y, p, ROC_POINTS),
                    )
                },
            )
        },
    );
    Ok(Evaluation {
        n,
        events,
        prevalence,
        auroc: auroc?,
        auprc: auprc?,
        brier,
        brier_scaled: 1.0 - brier / (prevalence * (1.0 - prevalence)),
        calibration: calibration?,
        deciles: deciles?,
        top: top?,
        roc: roc?,
    })
}

/// Area under the ROC curve: the probability that a random event is ranked above a random
/// non-event, ties counting half (Mann-Whitney with midranks; `O(n log n)`). `p` may be any
/// finite scores.
pub fn auroc(y: &[bool], p: &[f64]) -> Result<f64, MetricsError> {
    let (events, non_events) = check_scores(y, p)?;
    let ranks = midranks(p);
    let rank_sum: f64 = ranks
        .iter()
        .zip(y)
        .filter(|(_, y)| **y)
        .map(|(r, _)| r)
        .sum();
    let (m, n) = (events as f64, non_events as f64);
    Ok((rank_sum - m * (m + 1.0) / 2.0) / (m * n))
}

/// The values of the rows whose outcome is `class`, in row order.
fn of_class(values: &[f64], y: &[bool], class: bool) -> Vec<f64> {
    values
        .iter()
        .zip(y)
        .filter(|(_, y)| **y == class)
        .map(|(v, _)| *v)
        .collect()
}

/// AUROC with its standard error by the method of `DeLong` et al. (1988), computed by the fast algorithm of Sun &
/// Xu (2014, IEEE Signal Processing Letters 21:1389) from midranks in `O(n log n)`, and the
/// 95% interval `auc ± 1.96 se` clipped to `[0, 1]` (as R's `pROC::ci.auc`).
pub fn delong(y: &[bool], p: &[f64]) -> Result<DeLong, MetricsError> {
    let (m, n) = check_scores(y, p)?;
    if m < 2 || n < 2 {
        return Err(MetricsError::TooFewForDeLong {
            events: m,
            non_events: n,
        });
    }
    let tx = midranks(&of_class(p, y, true));
    let ty = midranks(&of_class(p, y, false));
    let tz = midranks(p);
    let tz_pos = of_class(&tz, y, true);
    let tz_neg = of_class(&tz, y, false);
    let (mf, nf) = (m as f64, n as f64);
    let auc = (tz_pos.iter().sum::<f64>() - mf * (mf + 1.0) / 2.0) / (mf * nf);
    // Structural components: V10_i = P(X_i > Y), V01_j = P(X > Y_j), ties half.
    let v10: Vec<f64> = tz_pos.iter().zip(&tx).map(|(z, x)| (z - x) / nf).collect();
    let v01: Vec<f64> = tz_neg
        .iter()
        .zip(&ty)
        .map(|(z, t)| 1.0 - (z - t) / mf)
        .collect();
    let var = sample_variance(&v10) / mf + sample_variance(&v01) / nf;
    let se = var.max(0.0).sqrt();
    Ok(DeLong {
        auc,
        se,
        lo95: (auc - model::Z_975 * se).max(0.0),
        hi95: (auc + model::Z_975 * se).min(1.0),
    })
}

/// Area under the precision-recall curve as average precision, equal to scikit-learn's
/// `average_precision_score`: `sum_k (R_k - R_{k-1}) P_k` over the distinct scores from the
/// highest down (tied scores form one threshold).
pub fn auprc(y: &[bool], p: &[f64]) -> Result<f64, MetricsError> {
    let (events, _) = check_scores(y, p)?;
    let order = order_desc(p);
    let total = events as f64;
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut ap, mut last_recall) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let v = p[order[i]];
        // Exact equality: tied scores form one threshold.
        #[allow(clippy::float_cmp)]
        while i < order.len() && p[order[i]] == v {
            if y[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let recall = tp as f64 / total;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    Ok(ap)
}

/// Brier score, the mean of `(p - y)²`.
pub fn brier(y: &[bool], p: &[f64]) -> Result<f64, MetricsError> {
    check_probabilities(y, p)?;
    let s: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let d = p - f64::from(u8::from(y));
            d * d
        })
        .sum();
    Ok(s / y.len() as f64)
}

/// Observed over expected events, `sum y / sum p`.
pub fn observed_expected(y: &[bool], p: &[f64]) -> Result<f64, MetricsError> {
    check_probabilities(y, p)?;
    let observed = y.iter().filter(|&&v| v).count() as f64;
    Ok(observed / p.iter().sum::<f64>())
}

/// Calibration by logistic recalibration on `logit(p)` (`p` clipped into
/// `[1e-15, 1 - 1e-15]`): the slope is the coefficient of `logit(p)` in an unpenalised logistic
/// regression of `y` on it; calibration-in-the-large is the intercept of the same regression
/// with `logit(p)` as an offset (slope fixed at 1). Both are fitted by the model's Newton
/// solver. Fails if every `p` is equal (the slope is then not identified).
pub fn calibration(y: &[bool], p: &[f64]) -> Result<Calibration, MetricsError> {
    let events = check_probabilities(y, p)?;
    if events == 0 || events == y.len() {
        return Err(MetricsError::OneClass { class: events > 0 });
    }
    let lp: Vec<f64> = p
        .iter()
        .map(|&p| model::logit(p.clamp(CLIP, 1.0 - CLIP)))
        .collect();
    let opts = model::FitOptions::default();

    let mut slope_x = SparseMatrix::new(1);
    let mut none = SparseMatrix::new(0);
    for &v in &lp {
        slope_x.push_row(&[(0, v)])?;
        none.push_row(&[])?;
    }
    let slope = model::newton(
        &Problem {
            x: &slope_x,
            y,
            offset: None,
            scales: &[1.0],
            lambda: 0.0,
        },
        &opts,
    )?;
    let citl = model::newton(
        &Problem {
            x: &none,
            y,
            offset: Some(&lp),
            scales: &[],
            lambda: 0.0,
        },
        &opts,
    )?;
    let observed = events as f64;
    let expected: f64 = p.iter().sum();
    Ok(Calibration {
        observed,
        expected,
        observed_expected: observed / expected,
        intercept: citl.beta[0],
        slope: slope.beta[1],
        slope_intercept: slope.beta[0],
    })
}

/// Observed against predicted in `groups` groups of predicted risk (10 for deciles): rows are
/// sorted by `p` ascending, ties by row order, and group `g` (from 0) takes sorted positions
/// `[g·n / groups, (g + 1)·n / groups)` (integer division), so group sizes differ by at most
/// one and tied predictions may straddle two groups.
pub fn risk_groups(y: &[bool], p: &[f64], groups: usize) -> Result<Vec<RiskGroup>, MetricsError> {
    check_probabilities(y, p)?;
    if groups == 0 {
        return Err(MetricsError::InvalidGroups(groups));
    }
    let n = y.len();
    let order = order_by(p, false);
    Ok((0..groups)
        .map(|g| {
            let rows = &order[g * n / groups..(g + 1) * n / groups];
            let observed = rows.iter().filter(|&&i| y[i]).count();
            let expected: f64 = rows.iter().map(|&i| p[i]).sum();
            let k = rows.len() as f64;
            RiskGroup {
                group: g + 1,
                n: rows.len(),
                observed,
                expected,
                observed_rate: observed as f64 / k,
                mean_predicted: expected / k,
                min_predicted: rows.first().map_or(f64::NAN, |&i| p[i]),
                max_predicted: rows.last().map_or(f64::NAN, |&i| p[i]),
            }
        })
        .collect())
}

/// Sensitivity and positive predictive value of flagging the top `fraction` of rows by
/// predicted risk: the `k` highest predictions, `k` the smallest integer `>= fraction · n`
/// (at least 1), ties broken by row order (the earlier row is flagged first).
pub fn top_fraction(y: &[bool], p: &[f64], fraction: f64) -> Result<TopFraction, MetricsError> {
    let events = check_probabilities(y, p)?;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(MetricsError::InvalidFraction(fraction));
    }
    let n = y.len();
    // Allow for rounding in `fraction · n` (0.05 · 1000 must flag 50, not 51).
    let k = ((fraction * n as f64 - 1e-9).ceil() as usize).clamp(1, n);
    let order = order_desc(p);
    let flagged = &order[..k];
    let tp = flagged.iter().filter(|&&i| y[i]).count();
    Ok(TopFraction {
        fraction,
        flagged: k,
        true_positives: tp,
        events,
        sensitivity: if events > 0 {
            tp as f64 / events as f64
        } else {
            f64::NAN
        },
        ppv: tp as f64 / k as f64,
        threshold: p[flagged[k - 1]],
    })
}

/// Row indices by `p` descending, ties by row order.
fn order_desc(p: &[f64]) -> Vec<usize> {
    order_by(p, true)
}

/// Row indices by `v` ascending (or descending), ties by row order, in [`f64::total_cmp`]'s
/// order. The keys are sorted beside their rows (not looked up through an index), which is
/// several times faster on a population.
fn order_by(v: &[f64], descending: bool) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = v
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let k = total_key(x);
            (if descending { !k } else { k }, i)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// A key whose unsigned order is [`f64::total_cmp`]'s.
fn total_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// 1-based ranks with ties given their mean rank.
fn midranks(v: &[f64]) -> Vec<f64> {
    let order = order_by(v, false);
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        // Exact equality: tied values share a rank.
        #[allow(clippy::float_cmp)]
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) hold ranks i+1..=j; their mean.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

fn sample_variance(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
}

/// Lengths, non-empty, finite scores and both classes; returns (events, non-events).
fn check_scores(y: &[bool], p: &[f64]) -> Result<(usize, usize), MetricsError> {
    if y.len() != p.len() {
        return Err(MetricsError::LengthMismatch {
            outcomes: y.len(),
            predictions: p.len(),
        });
    }
    if y.is_empty() {
        return Err(MetricsError::Empty);
    }
    if let Some((index, &value)) = p.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(MetricsError::NotFinite { index, value });
    }
    let events = y.iter().filter(|&&v| v).count();
    if events == 0 || events == y.len() {
        return Err(MetricsError::OneClass { class: events > 0 });
    }
    Ok((events, y.len() - events))
}

/// Lengths, non-empty and probabilities in `[0, 1]`; returns the number of events.
fn check_probabilities(y: &[bool], p: &[f64]) -> Result<usize, MetricsError> {
    if y.len() != p.len() {
        return Err(MetricsError::LengthMismatch {
            outcomes: y.len(),
            predictions: p.len(),
        });
    }
    if y.is_empty() {
        return Err(MetricsError::Empty);
    }
    if let Some((index, &value)) = p
        .iter()
        .enumerate()
        .find(|(_, v)| !(**v >= 0.0 && **v <= 1.0))
    {
        return Err(if value.is_finite() {
            MetricsError::NotProbability { index, value }
        } else {
            MetricsError::NotFinite { index, value }
        });
    }
    Ok(y.iter().filter(|&&v| v).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_ordered_as_total_cmp_orders_them_ties_by_row() {
        let v = [
            0.5,
            -0.0,
            f64::NAN,
            0.0,
            -1e-300,
            0.5,
            f64::NEG_INFINITY,
            1e300,
            -2.5,
            f64::INFINITY,
            0.5,
            -f64::NAN,
        ];
        let mut expected: Vec<usize> = (0..v.len()).collect();
        expected.sort_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
        assert_eq!(order_by(&v, false), expected);
        expected.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
        assert_eq!(order_by(&v, true), expected);
        assert_eq!(order_desc(&[0.2, 0.9, 0.2]), [1, 0, 2]);
    }
}
