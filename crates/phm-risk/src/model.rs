//! L2-regularised logistic regression on a sparse design matrix.
//!
//! Most of the model's features are 0/1 flags of low prevalence, so the design matrix is kept
//! as compressed sparse rows ([`SparseMatrix`]) and every pass over the data touches only a
//! row's non-zeros: the Hessian `X'WX` costs `n·nnz²` for `nnz` non-zeros per row, not `n·p²`.
//!
//! The model is fitted on **scaled** columns: each column is divided by its population
//! standard deviation (`ddof = 0`, zeros included) and not centred, which keeps the matrix
//! sparse; with an unpenalised intercept, centring would change only the intercept. A column
//! whose standard deviation is zero (all zeros, or constant) keeps a scale of 1. The
//! objective is
//!
//! ```text
//! sum_i logloss_i(b0 + x̃_i·b) + (lambda / 2)·||b||²      (x̃ = x / scale, b0 unpenalised)
//! ```
//!
//! which is scikit-learn's `LogisticRegression(C = 1 / lambda)` on the scaled matrix. It is
//! minimised by Newton's method (IRLS) with a Cholesky solve of the `(p + 1) × (p + 1)`
//! system and step halving whenever the objective does not decrease. Coefficients are
//! reported on both scales (`b_j / scale_j` on the original one), with standard errors from
//! the inverse of the penalised Hessian at the solution and Wald 95% intervals.
//!
//! **Determinism.** Every pass over the rows is cut into fixed chunks of [`CHUNK_ROWS`] rows;
//! chunks are computed in parallel (rayon) and their partial sums are added in chunk order, so
//! a fit is bit-identical whatever the number of threads.
//!
//! The penalty is chosen by [`cross_validate`] (k-fold, fold = row position mod k) and
//! [`fit_cross_validated`] refits on every row at the chosen penalty.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows per chunk of every pass over the data: partial sums are computed per chunk (in
/// parallel) and added in chunk order, which makes results independent of the thread count.
pub const CHUNK_ROWS: usize = 16_384;

/// Chunks computed in parallel before their partial sums are added (bounds the memory held
/// by partial Hessians).
const CHUNKS_PER_BATCH: usize = 64;

/// The two-sided 97.5% standard normal quantile.
pub(crate) const Z_975: f64 = 1.959_963_984_540_054;

/// Errors of building a design matrix, fitting, cross-validating and predicting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The design matrix has no rows.
    #[error("the design matrix has no rows\nhint: check that the cohort query returned patients")]
    NoRows,
    /// The number of outcomes differs from the number of rows.
    #[error(
        "`y` has {labels} outcomes but the design matrix has {rows} rows\nhint: build `y` from the same rows as the matrix"
    )]
    LengthMismatch {
        /// Rows of the design matrix.
        rows: usize,
        /// Outcomes given.
        labels: usize,
    },
    /// Every outcome is the same.
    #[error(
        "every outcome in `y` is `{class}`; a logistic model needs both events and non-events\nhint: check the outcome window"
    )]
    OneClass {
        /// The only class present.
        class: bool,
    },
    /// The penalised Hessian is not positive definite.
    #[error(
        "the Hessian is not positive definite at `lambda` = {lambda}: {what} is constant or collinear with earlier columns\nhint: use a penalty `lambda` > 0 or drop the column"
    )]
    NotPositiveDefinite {
        /// The penalty of the fit.
        lambda: f64,
        /// Where the factorisation failed: `None` at the intercept, else the column.
        column: Option<u32>,
        /// The same in words (`the intercept`, `column 3`).
        what: String,
    },
    /// A column index is not below the matrix width.
    #[error(
        "column {column} is out of range for a design matrix of width {width}\nhint: columns are numbered from 0"
    )]
    ColumnOutOfRange {
        /// The column given.
        column: u32,
        /// The matrix width.
        width: usize,
    },
    /// A row names the same column twice.
    #[error(
        "column {column} appears twice in one row\nhint: sum the values before pushing the row"
    )]
    DuplicateColumn {
        /// The repeated column.
        column: u32,
    },
    /// A value is NaN or infinite.
    #[error(
        "column {column} has the non-finite value {value}\nhint: impute or drop missing values before fitting"
    )]
    NonFinite {
        /// The column.
        column: u32,
        /// The value.
        value: f64,
    },
    /// A penalty is negative or not finite.
    #[error("`lambda` = {0} is not a finite, non-negative penalty")]
    InvalidLambda(f64),
    /// No penalties to cross-validate.
    #[error("no penalties to cross-validate\nhint: pass a grid such as `default_lambdas()`")]
    NoLambdas,
    /// The number of folds is not between 2 and the number of rows.
    #[error(
        "{folds} folds cannot split {rows} rows\nhint: use between 2 and the number of rows, default 5"
    )]
    InvalidFolds {
        /// Folds asked for.
        folds: usize,
        /// Rows available.
        rows: usize,
    },
    /// A matrix does not have the width the model was fitted on.
    #[error(
        "the design matrix has width {got} but the model was fitted on {expected} columns\nhint: build features with the same column list"
    )]
    WidthMismatch {
        /// The model's width.
        expected: usize,
        /// The matrix's width.
        got: usize,
    },
    /// A warm start has the wrong length.
    #[error(
        "the warm start has {got} values but the model needs {expected} (intercept then one per column)"
    )]
    WarmStartLength {
        /// `p + 1`.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// The objective became non-finite.
    #[error(
        "the objective is not finite at iteration {iteration}\nhint: look for extreme feature values"
    )]
    NonFiniteObjective {
        /// The Newton iteration.
        iteration: usize,
    },
}

/// A borrowed row of a [`SparseMatrix`]: its non-zero columns (ascending) and values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row<'a> {
    /// Column indices, strictly ascending.
    pub cols: &'a [u32],
    /// The values, one per column, never zero.
    pub vals: &'a [f64],
}

/// A design matrix in compressed sparse row form, built row by row.
///
/// Row `i`'s non-zeros are `cols[starts[i]..starts[i + 1]]` (strictly ascending) and the
/// matching `vals`; zeros are not stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseMatrix {
    width: usize,
    starts: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f64>,
}

impl SparseMatrix {
    /// An empty matrix with `width` columns.
    pub fn new(width: usize) -> Self {
        Self {
            width,
            starts: vec![0],
            cols: Vec::new(),
            vals: Vec::new(),
        }
    }

    /// Append a row given as `(column, value)` pairs in any order; zeros are dropped. On error
    /// (column out of range, repeated column, non-finite value) the matrix is unchanged.
    pub fn push_row(&mut self, entries: &[(u32, f64)]) -> Result<(), ModelError> {
        for &(column, value) in entries {
            if column as usize >= self.width {
                return Err(ModelError::ColumnOutOfRange {
                    column,
                    width: self.width,
                });
            }
            if !value.is_finite() {
                return Err(ModelError::NonFinite { column, value });
            }
        }
        let mut sorted;
        let row = if entries.windows(2).all(|w| w[0].0 < w[1].0) {
            // Already in column order without repeats, as a row built column by column is.
            entries
        } else {
            sorted = entries.to_vec();
            sorted.sort_unstable_by_key(|&(c, _)| c);
            if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(ModelError::DuplicateColumn { column: w[0].0 });
            }
            &sorted
        };
        for &(c, v) in row {
            if v != 0.0 {
                self.cols.push(c);
                self.vals.push(v);
            }
        }
        self.starts.push(self.cols.len());
        Ok(())
    }

    /// Append a dense row (`values.len()` must equal the width); zeros are dropped.
    pub fn push_dense_row(&mut self, values: &[f64]) -> Result<(), ModelError> {
        if values.len() != self.width {
            return Err(ModelError::WidthMismatch {
                expected: self.width,
                got: values.len(),
            });
        }
        let entries: Vec<(u32, f64)> = values
            .iter()
            .enumerate()
            .map(|(j, &v)| (j as u32, v))
            .collect();
        self.push_row(&entries)
    }

    /// Append another matrix's rows (of the same width).
    pub fn append(&mut self, more: &SparseMatrix) {
        debug_assert_eq!(self.width, more.width);
        let base = self.cols.len();
        self.cols.extend_from_slice(&more.cols);
        self.vals.extend_from_slice(&more.vals);
        self.starts
            .extend(more.starts[1..].iter().map(|s| s + base));
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// Number of stored non-zeros.
    pub fn nnz(&self) -> usize {
        self.cols.len()
    }

    /// Row `i` (panics if `i >= rows()`, like slice indexing).
    pub fn row(&self, i: usize) -> Row<'_> {
        let (a, b) = (self.starts[i], self.starts[i + 1]);
        Row {
            cols: &self.cols[a..b],
            vals: &self.vals[a..b],
        }
    }

    /// A new matrix of the given rows, in the order given (panics on an index out of range).
    #[must_use]
    pub fn select_rows(&self, rows: &[usize]) -> SparseMatrix {
        let mut out = SparseMatrix::new(self.width);
        out.starts.reserve(rows.len());
        for &i in rows {
            let r = self.row(i);
            out.cols.extend_from_slice(r.cols);
            out.vals.extend_from_slice(r.vals);
            out.starts.push(out.cols.len());
        }
        out
    }

    /// Each column's population standard deviation (`ddof = 0`, zeros included), or 1 where
    /// that is zero or not finite: the scales a fit divides the columns by.
    pub fn column_scales(&self) -> Vec<f64> {
        let n = self.rows() as f64;
        let mut sum = vec![0.0; self.width];
        let mut count = vec![0usize; self.width];
        for (&c, &v) in self.cols.iter().zip(&self.vals) {
            sum[c as usize] += v;
            count[c as usize] += 1;
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut ss = vec![0.0; self.width];
        for (&c, &v) in self.cols.iter().zip(&self.vals) {
            let d = v - mean[c as usize];
            ss[c as usize] += d * d;
        }
        (0..self.width)
            .map(|j| {
                let zeros = (self.rows() - count[j]) as f64;
                let var = (ss[j] + zeros * mean[j] * mean[j]) / n;
                let sd = var.sqrt();
                if sd > 0.0 && sd.is_finite() { sd } else { 1.0 }
            })
            .collect()
    }
}

/// Options of one Newton fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Most Newton steps (default 100).
    pub max_iter: usize,
    /// Convergence (default 1e-10): stop when the Newton step, the predicted remaining change,
    /// moves no coefficient (intercept or scaled) by more than `tol · (1 + max |b|)`, or when
    /// `max |gradient|` is at rounding level (`n · f64::EPSILON`).
    pub tol: f64,
    /// Start from these values (intercept, then the scaled coefficients), e.g.
    /// [`LogisticFit::warm_start`] of a fit at a neighbouring penalty; default: every
    /// coefficient 0 and the intercept at the logit of the event rate.
    pub warm_start: Option<Vec<f64>>,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_iter: 100,
            tol: 1e-10,
            warm_start: None,
        }
    }
}

/// A fitted logistic model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticFit {
    /// The penalty `lambda` (scikit-learn's `C = 1 / lambda`).
    pub lambda: f64,
    /// The intercept (the same on both scales, as columns are not centred).
    pub intercept: f64,
    /// Coefficients on the original scale of each column (`coefficients_scaled[j] / scales[j]`).
    pub coefficients: Vec<f64>,
    /// Coefficients on the scaled columns (the penalised ones).
    pub coefficients_scaled: Vec<f64>,
    /// Each column's scale (population standard deviation of the fitting rows, 1 if zero).
    pub scales: Vec<f64>,
    /// Standard error of the intercept (inverse penalised Hessian).
    pub intercept_std_error: f64,
    /// Standard errors of the original-scale coefficients (inverse penalised Hessian).
    pub std_errors: Vec<f64>,
    /// Wald 95% intervals of the original-scale coefficients (`estimate ± 1.96 · se`).
    pub ci95: Vec<[f64; 2]>,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the convergence test was met within `max_iter` steps.
    pub converged: bool,
    /// The penalised objective at the solution (sum of log losses + penalty).
    pub objective: f64,
    /// `max |gradient|` of the objective at the solution.
    pub max_abs_gradient: f64,
    /// Rows fitted on.
    pub rows: usize,
    /// Events (`y = true`) among them.
    pub events: usize,
    /// The cross-validation that chose `lambda`, when there was one.
    pub cv: Option<CvResult>,
}

impl LogisticFit {
    /// Number of columns the model was fitted on.
    pub fn width(&self) -> usize {
        self.coefficients.len()
    }

    /// The values to warm-start a neighbouring fit from (intercept, scaled coefficients).
    pub fn warm_start(&self) -> Vec<f64> {
        let mut b = Vec::with_capacity(self.width() + 1);
        b.push(self.intercept);
        b.extend_from_slice(&self.coefficients_scaled);
        b
    }

    /// The linear predictor (log odds) of one row; columns beyond the model's width are
    /// ignored.
    pub fn linear_predictor(&self, row: Row<'_>) -> f64 {
        let mut eta = self.intercept;
        for (&c, &v) in row.cols.iter().zip(row.vals) {
            if let Some(b) = self.coefficients.get(c as usize) {
                eta += b * v;
            }
        }
        eta
    }

    /// Predicted probabilities of every row of `x`.
    pub fn predict(&self, x: &SparseMatrix) -> Result<Vec<f64>, ModelError> {
        if x.width() != self.width() {
            return Err(ModelError::WidthMismatch {
                expected: self.width(),
                got: x.width(),
            });
        }
        Ok((0..x.rows())
            .into_par_iter()
            .with_min_len(CHUNK_ROWS)
            .map(|i| sigmoid(self.linear_predictor(x.row(i))))
            .collect())
    }

    /// Each non-zero's contribution to the row's log odds, `coefficient (original scale) ×
    /// value`, in column order (the model's reasons); columns beyond the model's width are
    /// ignored. The contributions plus the intercept sum to the linear predictor.
    pub fn contributions(&self, row: Row<'_>) -> Vec<(u32, f64)> {
        row.cols
            .iter()
            .zip(row.vals)
            .filter_map(|(&c, &v)| self.coefficients.get(c as usize).map(|b| (c, b * v)))
            .collect()
    }
}

/// One penalty's line of a cross-validation table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvRow {
    /// The penalty.
    pub lambda: f64,
    /// Mean held-out log loss over every cross-validation row (pooled over folds).
    pub mean_log_loss: f64,
    /// Mean held-out log loss of each fold.
    pub fold_log_loss: Vec<f64>,
    /// Whether every fold's fit converged.
    pub converged: bool,
}

/// Options of [`cross_validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvOptions {
    /// Number of folds `k` (default 5): row at position `i` of the cross-validation rows is in
    /// fold `i mod k`.
    pub folds: usize,
    /// Cap on the rows used (default 50,000): when there are more rows `n`, only every
    /// `m`-th row is used, `m = ceil(n / max_rows)` (rows 0, m, 2m, ...). `None` uses all.
    /// The penalty is chosen per fitting row (see `phm_risk::penalty_grid_per_row`), and at
    /// 40,000 fitting rows a fold's fit already barely depends on it for phm's ~100 features;
    /// cross-validation (folds x penalties fits) was most of the model's time at 1M patients.
    pub max_rows: Option<usize>,
    /// Stop going down the grid once this many penalties in a row have not improved on the
    /// best mean held-out log loss (default 2; `None` fits the whole grid). Held-out loss
    /// against the penalty is U-shaped, so the penalties left would not have been chosen;
    /// the table then ends where the search stopped.
    pub patience: Option<usize>,
    /// Options of each fold's fit (warm starts are set along the grid).
    pub fit: FitOptions,
}

impl Default for CvOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            max_rows: Some(50_000),
            patience: Some(2),
            fit: FitOptions::default(),
        }
    }
}

/// The result of [`cross_validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvResult {
    /// Number of folds.
    pub folds: usize,
    /// Rows used (after the cap).
    pub rows_used: usize,
    /// Every `stride`-th row was used (1 = all).
    pub stride: usize,
    /// One line per penalty, largest penalty first.
    pub table: Vec<CvRow>,
    /// The penalty with the lowest mean held-out log loss (ties: the larger penalty).
    pub best_lambda: f64,
}

/// Every how-many-th of `n` rows cross-validation uses under the cap `max_rows` (1 = all).
pub fn cv_stride(n: usize, max_rows: Option<usize>) -> usize {
    match max_rows {
        Some(cap) if cap > 0 && n > cap => n.div_ceil(cap),
        _ => 1,
    }
}

/// A default penalty grid: 10^3 down to 10^-3 in 13 steps (half decades).
pub fn default_lambdas() -> Vec<f64> {
    (0..13)
        .map(|i| 10f64.powf(3.0 - 0.5 * f64::from(i)))
        .collect()
}

/// Fit at penalty `lambda` with default options.
pub fn fit(x: &SparseMatrix, y: &[bool], lambda: f64) -> Result<LogisticFit, ModelError> {
    fit_with(x, y, lambda, &FitOptions::default())
}

/// Fit at penalty `lambda`.
pub fn fit_with(
    x: &SparseMatrix,
    y: &[bool],
    lambda: f64,
    opts: &FitOptions,
) -> Result<LogisticFit, ModelError> {
    check_inputs(x, y)?;
    let scales = x.column_scales();
    let problem = Problem {
        x,
        y,
        offset: None,
        scales: &scales,
        lambda,
    };
    let sol = newton(&problem, opts)?;
    Ok(finish(x, y, lambda, scales, &sol))
}

/// k-fold cross-validation of the penalty: for each `lambda`, fit on the other folds and
/// measure the mean log loss of the held-out fold's predictions (probabilities clipped into
/// `[1e-15, 1 - 1e-15]`).
///
/// Folds are by position: the row at position `i` (of the rows used, see
/// [`CvOptions::max_rows`]) is in fold `i mod k`. phm's rows arrive sorted by a keyed random
/// pseudonym, so this is a random split, and a reproducible one. Each training fold is scaled
/// by its own column standard deviations. Penalties are fitted from the largest down, each
/// warm-started from the previous, the folds of one penalty in parallel, until
/// [`CvOptions::patience`] penalties in a row have not improved on the best. The best penalty
/// has the lowest mean held-out log loss; a tie (within 1e-12 relative) goes to the larger
/// penalty.
#[allow(clippy::many_single_char_names)] // x, y, n, k as in the literature
pub fn cross_validate(
    x: &SparseMatrix,
    y: &[bool],
    lambdas: &[f64],
    opts: &CvOptions,
) -> Result<CvResult, ModelError> {
    check_inputs(x, y)?;
    if lambdas.is_empty() {
        return Err(ModelError::NoLambdas);
    }
    if let Some(&bad) = lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
        return Err(ModelError::InvalidLambda(bad));
    }
    let n = x.rows();
    let stride = cv_stride(n, opts.max_rows);
    let used: Vec<usize> = (0..n).step_by(stride).collect();
    let k = opts.folds;
    if k < 2 || k > used.len() {
        return Err(ModelError::InvalidFolds {
            folds: k,
            rows: used.len(),
        });
    }
    let mut grid: Vec<f64> = lambdas.to_vec();
    grid.sort_by(|a, b| b.total_cmp(a));
    grid.dedup();

    let mut folds: Vec<Fold> = (0..k).map(|f| Fold::new(x, y, &used, k, f, opts)).collect();
    for fold in &folds {
        check_classes(&fold.yt)?;
    }
    let total = used.len() as f64;
    let mut table: Vec<CvRow> = Vec::with_capacity(grid.len());
    // Largest penalty first, so a strict improvement is needed to move to a smaller one.
    let mut best = 0;
    for &lambda in &grid {
        // The folds fitted at this penalty in parallel, each warm-started from its last fit.
        let held_out: Vec<(f64, bool)> = folds
            .par_iter_mut()
            .map(|fold| fold.fit_and_test(lambda))
            .collect::<Result<_, _>>()?;
        table.push(CvRow {
            lambda,
            mean_log_loss: held_out.iter().map(|(s, _)| s).sum::<f64>() / total,
            fold_log_loss: held_out
                .iter()
                .zip(&folds)
                .map(|((s, _), fold)| s / fold.yv.len() as f64)
                .collect(),
            converged: held_out.iter().all(|(_, c)| *c),
        });
        let last = table.len() - 1;
        let b = table[best].mean_log_loss;
        if table[last].mean_log_loss < b - 1e-12 * b.abs() {
            best = last;
        }
        if opts.patience.is_some_and(|p| last - best >= p.max(1)) {
            break;
        }
    }
    Ok(CvResult {
        folds: k,
        rows_used: used.len(),
        stride,
        best_lambda: table[best].lambda,
        table,
    })
}

/// One cross-validation fold: its fitting and held-out rows, and its last fit (the next
/// penalty's warm start).
struct Fold {
    xt: SparseMatrix,
    yt: Vec<bool>,
    xv: SparseMatrix,
    yv: Vec<bool>,
    fit: FitOptions,
}

impl Fold {
    /// Fold `f` of `k` of the `used` rows: the row at position `i` is held out in fold `i mod k`.
    fn new(
        x: &SparseMatrix,
        y: &[bool],
        used: &[usize],
        k: usize,
        f: usize,
        opts: &CvOptions,
    ) -> Self {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (pos, &i) in used.iter().enumerate() {
            if pos % k == f {
                test.push(i);
            } else {
                train.push(i);
            }
        }
        Fold {
            xt: x.select_rows(&train),
            yt: train.iter().map(|&i| y[i]).collect(),
            xv: x.select_rows(&test),
            yv: test.iter().map(|&i| y[i]).collect(),
            fit: opts.fit.clone(),
        }
    }

    /// Fit at `lambda`; the held-out log-loss sum and whether the fit converged.
    fn fit_and_test(&mut self, lambda: f64) -> Result<(f64, bool), ModelError> {
        let m = fit_with(&self.xt, &self.yt, lambda, &self.fit)?;
        let p = m.predict(&self.xv)?;
        let s: f64 = p.iter().zip(&self.yv).map(|(&p, &y)| log_loss(y, p)).sum();
        self.fit.warm_start = Some(m.warm_start());
        Ok((s, m.converged))
    }
}

/// Cross-validate the penalty, then fit on every row at the best one (the result carries the
/// cross-validation table).
pub fn fit_cross_validated(
    x: &SparseMatrix,
    y: &[bool],
    lambdas: &[f64],
    opts: &CvOptions,
) -> Result<LogisticFit, ModelError> {
    let cv = cross_validate(x, y, lambdas, opts)?;
    let mut fit_opts = opts.fit.clone();
    fit_opts.warm_start = None;
    let mut m = fit_with(x, y, cv.best_lambda, &fit_opts)?;
    m.cv = Some(cv);
    Ok(m)
}

/// Mean log loss of probabilities `p` (clipped into `[1e-15, 1 - 1e-15]`).
pub fn mean_log_loss(y: &[bool], p: &[f64]) -> f64 {
    y.iter().zip(p).map(|(&y, &p)| log_loss(y, p)).sum::<f64>() / y.len() as f64
}

/// The logistic function.
pub fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

/// Log odds of `p` clipped into `[1e-15, 1 - 1e-15]`.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    (p / (1.0 - p)).ln()
}

fn log_loss(y: bool, p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    if y { -p.ln() } else { -(1.0 - p).ln() }
}

/// `ln(1 + e^eta)` without overflow.
fn softplus(eta: f64) -> f64 {
    eta.max(0.0) + (-eta.abs()).exp().ln_1p()
}

fn check_inputs(x: &SparseMatrix, y: &[bool]) -> Result<(), ModelError> {
    if x.rows() == 0 {
        return Err(ModelError::NoRows);
    }
    if y.len() != x.rows() {
        return Err(ModelError::LengthMismatch {
            rows: x.rows(),
            labels: y.len(),
        });
    }
    check_classes(y)
}

fn check_classes(y: &[bool]) -> Result<(), ModelError> {
    let events = y.iter().filter(|&&v| v).count();
    if events == 0 {
        return Err(ModelError::OneClass { class: false });
    }
    if events == y.len() {
        return Err(ModelError::OneClass { class: true });
    }
    Ok(())
}

/// A logistic problem: rows, outcomes, an optional offset added to the linear predictor,
/// column scales and the penalty on the scaled coefficients.
pub(crate) struct Problem<'a> {
    pub x: &'a SparseMatrix,
    pub y: &'a [bool],
    pub offset: Option<&'a [f64]>,
    pub scales: &'a [f64],
    pub lambda: f64,
}

/// The solution of [`newton`].
pub(crate) struct Solution {
    /// Intercept, then scaled coefficients.
    pub beta: Vec<f64>,
    /// Inverse penalised Hessian at `beta` (row-major, `(p + 1)²`).
    pub covariance: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    pub objective: f64,
    pub max_abs_gradient: f64,
}

/// Sums over the rows at one `beta`: log loss, and optionally gradient and Hessian (upper
/// triangle, row-major `(p + 1)²`).
struct Eval {
    loss: f64,
    grad: Vec<f64>,
    hess: Vec<f64>,
}

impl Problem<'_> {
    fn dim(&self) -> usize {
        self.x.width() + 1
    }

    fn penalty(&self, beta: &[f64]) -> f64 {
        0.5 * self.lambda * beta[1..].iter().map(|b| b * b).sum::<f64>()
    }

    /// One chunk's partial sums.
    #[allow(clippy::many_single_char_names)] // the textbook's names
    fn chunk(&self, beta: &[f64], chunk: usize, full: bool) -> Eval {
        let d = self.dim();
        let mut e = Eval {
            loss: 0.0,
            grad: if full { vec![0.0; d] } else { Vec::new() },
            hess: if full { vec![0.0; d * d] } else { Vec::new() },
        };
        let lo = chunk * CHUNK_ROWS;
        let hi = (lo + CHUNK_ROWS).min(self.x.rows());
        let mut idx: Vec<usize> = Vec::new();
        let mut xs: Vec<f64> = Vec::new();
        for i in lo..hi {
            let r = self.x.row(i);
            idx.clear();
            xs.clear();
            let mut eta = beta[0] + self.offset.map_or(0.0, |o| o[i]);
            for (&c, &v) in r.cols.iter().zip(r.vals) {
                let c = c as usize;
                let s = v / self.scales[c];
                idx.push(c + 1);
                xs.push(s);
                eta += beta[c + 1] * s;
            }
            let yi = self.y[i];
            e.loss += softplus(eta) - if yi { eta } else { 0.0 };
            if !full {
                continue;
            }
            let p = sigmoid(eta);
            let resid = p - if yi { 1.0 } else { 0.0 };
            let w = p * (1.0 - p);
            e.grad[0] += resid;
            e.hess[0] += w;
            for (a, (&ia, &xa)) in idx.iter().zip(&xs).enumerate() {
                e.grad[ia] += resid * xa;
                let wa = w * xa;
                e.hess[ia] += wa; // row 0 (intercept), column ia
                let row = &mut e.hess[ia * d..(ia + 1) * d];
                for (&ib, &xb) in idx[a..].iter().zip(&xs[a..]) {
                    row[ib] += wa * xb;
                }
            }
        }
        e
    }

    /// Sums over every row, chunk partials added in chunk order; the penalty is included.
    fn eval(&self, beta: &[f64], full: bool) -> Eval {
        let d = self.dim();
        let chunks = self.x.rows().div_ceil(CHUNK_ROWS);
        let mut total = Eval {
            loss: 0.0,
            grad: if full { vec![0.0; d] } else { Vec::new() },
            hess: if full { vec![0.0; d * d] } else { Vec::new() },
        };
        let mut start = 0;
        while start < chunks {
            let end = (start + CHUNKS_PER_BATCH).min(chunks);
            let parts: Vec<Eval> = (start..end)
                .into_par_iter()
                .map(|c| self.chunk(beta, c, full))
                .collect();
            for p in parts {
                total.loss += p.loss;
                for (t, v) in total.grad.iter_mut().zip(&p.grad) {
                    *t += v;
                }
                for (t, v) in total.hess.iter_mut().zip(&p.hess) {
                    *t += v;
                }
            }
            start = end;
        }
        total.loss += self.penalty(beta);
        if full {
            for (j, b) in beta.iter().enumerate().skip(1) {
                total.grad[j] += self.lambda * b;
                total.hess[j * d + j] += self.lambda;
            }
            // Mirror the upper triangle.
            for a in 0..d {
                for b in 0..a {
                    total.hess[a * d + b] = total.hess[b * d + a];
                }
            }
        }
        total
    }
}

/// Minimise the problem's penalised objective by Newton's method with step halving.
pub(crate) fn newton(problem: &Problem<'_>, opts: &FitOptions) -> Result<Solution, ModelError> {
    let lambda = problem.lambda;
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(ModelError::InvalidLambda(lambda));
    }
    let d = problem.dim();
    let n = problem.x.rows() as f64;
    let mut beta = match &opts.warm_start {
        Some(w) if w.len() != d => {
            return Err(ModelError::WarmStartLength {
                expected: d,
                got: w.len(),
            });
        }
        Some(w) => w.clone(),
        None => {
            let mut b = vec![0.0; d];
            if problem.offset.is_none() {
                let events = problem.y.iter().filter(|&&v| v).count() as f64;
                b[0] = logit(events / n);
            }
            b
        }
    };
    let mut ev = problem.eval(&beta, true);
    if !ev.loss.is_finite() {
        return Err(ModelError::NonFiniteObjective { iteration: 0 });
    }
    let mut iterations = 0;
    let mut converged = false;
    loop {
        // A gradient at the level of rounding noise: nothing more to gain.
        if max_abs(&ev.grad) <= n * f64::EPSILON {
            converged = true;
            break;
        }
        let chol = cholesky(&ev.hess, d).map_err(|pivot| not_positive_definite(lambda, pivot))?;
        let neg_g: Vec<f64> = ev.grad.iter().map(|g| -g).collect();
        let step = chol_solve(&chol, d, &neg_g);
        // The Newton step is the predicted remaining change of the coefficients.
        if max_abs(&step) <= opts.tol * (1.0 + max_abs(&beta)) {
            converged = true;
            break;
        }
        if iterations >= opts.max_iter {
            break;
        }
        iterations += 1;
        let mut t = 1.0;
        let mut accepted = None;
        for halving in 0..60 {
            let cand: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + t * s).collect();
            let trial = problem.eval(&cand, halving == 0);
            if trial.loss.is_finite() && trial.loss <= ev.loss + 1e-13 * ev.loss.abs() {
                accepted = Some((cand, if halving == 0 { Some(trial) } else { None }));
                break;
            }
            t *= 0.5;
        }
        let Some((cand, trial)) = accepted else {
            // No decrease along the Newton direction: the objective is flat to rounding.
            converged = max_abs(&step) <= opts.tol.sqrt() * (1.0 + max_abs(&beta));
            break;
        };
        beta = cand;
        ev = trial.unwrap_or_else(|| problem.eval(&beta, true));
        if !ev.loss.is_finite() {
            return Err(ModelError::NonFiniteObjective {
                iteration: iterations,
            });
        }
    }
    let chol = cholesky(&ev.hess, d).map_err(|pivot| not_positive_definite(lambda, pivot))?;
    let covariance = chol_inverse(&chol, d);
    Ok(Solution {
        beta,
        covariance,
        iterations,
        converged,
        objective: ev.loss,
        max_abs_gradient: max_abs(&ev.grad),
    })
}

fn finish(
    x: &SparseMatrix,
    y: &[bool],
    lambda: f64,
    scales: Vec<f64>,
    sol: &Solution,
) -> LogisticFit {
    let d = x.width() + 1;
    let coefficients_scaled = sol.beta[1..].to_vec();
    let coefficients: Vec<f64> = coefficients_scaled
        .iter()
        .zip(&scales)
        .map(|(b, s)| b / s)
        .collect();
    let std_errors: Vec<f64> = (1..d)
        .map(|j| sol.covariance[j * d + j].max(0.0).sqrt() / scales[j - 1])
        .collect();
    let ci95 = coefficients
        .iter()
        .zip(&std_errors)
        .map(|(b, se)| [b - Z_975 * se, b + Z_975 * se])
        .collect();
    LogisticFit {
        lambda,
        intercept: sol.beta[0],
        coefficients,
        coefficients_scaled,
        intercept_std_error: sol.covariance[0].max(0.0).sqrt(),
        std_errors,
        ci95,
        scales,
        iterations: sol.iterations,
        converged: sol.converged,
        objective: sol.objective,
        max_abs_gradient: sol.max_abs_gradient,
        rows: x.rows(),
        events: y.iter().filter(|&&v| v).count(),
        cv: None,
    }
}

/// The error for a failed Cholesky pivot (0 = intercept, `j + 1` = column `j`).
fn not_positive_definite(lambda: f64, pivot: usize) -> ModelError {
    let column = pivot.checked_sub(1).map(|j| j as u32);
    ModelError::NotPositiveDefinite {
        lambda,
        column,
        what: column.map_or_else(|| "the intercept".to_owned(), |j| format!("column {j}")),
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Lower Cholesky factor `L` (row-major, `d²`) of a symmetric matrix, or the pivot where it is
/// not (numerically) positive definite.
fn cholesky(a: &[f64], d: usize) -> Result<Vec<f64>, usize> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                let diag = a[i * d + i];
                if !(s.is_finite() && s > 0.0 && s > 1e-13 * diag.abs()) {
                    return Err(i);
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Ok(l)
}

/// Solve `L L' x = b`.
#[allow(clippy::many_single_char_names)] // the textbook's names
fn chol_solve(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut z = b.to_vec();
    for i in 0..d {
        let mut s = z[i];
        for k in 0..i {
            s -= l[i * d + k] * z[k];
        }
        z[i] = s / l[i * d + i];
    }
    for i in (0..d).rev() {
        let mut s = z[i];
        for k in i + 1..d {
            s -= l[k * d + i] * z[k];
        }
        z[i] = s / l[i * d + i];
    }
    z
}

/// `(L L')⁻¹`, row-major.
fn chol_inverse(l: &[f64], d: usize) -> Vec<f64> {
    let mut inv = vec![0.0; d * d];
    let mut e = vec![0.0; d];
    for j in 0..d {
        e.fill(0.0);
        e[j] = 1.0;
        let col = chol_solve(l, d, &e);
        for i in 0..d {
            inv[i * d + j] = col[i];
        }
    }
    inv
}
