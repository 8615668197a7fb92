//! Integration tests of phm-risk: the logistic model (hand-checkable cases, recovery of known
//! coefficients, bit-identical results at any thread count, scikit-learn as oracle) and the
//! metrics (hand-checked values, an `O(n²)` `DeLong`, scikit-learn and numpy as oracle).

// Hand-checked values are exact (0.75 is 0.75), and x, y, p, n are the statistics' names.
#![allow(clippy::float_cmp, clippy::many_single_char_names)]

mod metrics;
mod model;

use std::fmt::Write as _;
use std::path::Path;

use phm_risk::model::SparseMatrix;

/// The oracle script: fits scikit-learn's `LogisticRegression` and computes scikit-learn's
/// metrics and an independent `DeLong` on a CSV written by [`write_csv`].
pub const ORACLE: &str = include_str!("../oracle/sklearn_oracle.py");

/// `SplitMix64`: a small deterministic generator for test data.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A Bernoulli draw.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// An integer in `[lo, hi)`.
    pub fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}

/// Width of [`synthetic`]'s design.
pub const WIDTH: usize = 10;

/// The true coefficients of [`synthetic`] (intercept first).
pub const TRUE_BETA: [f64; WIDTH + 1] = [-4.0, 0.25, 0.6, 0.5, 0.45, 1.2, 0.3, 0.2, 0.3, 0.1, 0.4];

/// A synthetic cohort of `n` rows: an age band (count 2..9), diabetes (flag, rises with age),
/// kidney disease (flag, correlated with diabetes), emergency admissions last year (count,
/// correlated with kidney disease), a rare flag (1.5%), A&E visits (geometric count), a
/// frailty count (correlated with the first flags), smoking (flag), deprivation quintile
/// (1..5) and diabetes × smoking; outcomes drawn from [`TRUE_BETA`]. Returns the dense rows
/// too.
pub fn synthetic(n: usize, seed: u64) -> (SparseMatrix, Vec<bool>, Vec<[f64; WIDTH]>) {
    let mut rng = Rng::new(seed);
    let mut x = SparseMatrix::new(WIDTH);
    let mut y = Vec::with_capacity(n);
    let mut dense = Vec::with_capacity(n);
    let f = |b: bool| f64::from(u8::from(b));
    for _ in 0..n {
        let age = rng.int(2, 10) as f64;
        let diabetes = rng.bernoulli(0.02 + 0.02 * age);
        let ckd = rng.bernoulli(if diabetes { 0.35 } else { 0.05 });
        let admissions = (0..6)
            .filter(|_| rng.bernoulli(if ckd { 0.2 } else { 0.04 }))
            .count() as f64;
        let rare = rng.bernoulli(0.015);
        let mut ae = 0.0;
        while ae < 20.0 && rng.bernoulli(0.25) {
            ae += 1.0;
        }
        let frailty = f(diabetes) + f(ckd) + f(rng.bernoulli(0.2)) + f(rng.bernoulli(0.1));
        let smoker = rng.bernoulli(0.2);
        let quintile = rng.int(1, 6) as f64;
        let row = [
            age,
            f(diabetes),
            f(ckd),
            admissions,
            f(rare),
            ae,
            frailty,
            f(smoker),
            quintile,
            f(diabetes && smoker),
        ];
        let eta = TRUE_BETA[0]
            + row
                .iter()
                .zip(&TRUE_BETA[1..])
                .map(|(v, b)| v * b)
                .sum::<f64>();
        y.push(rng.bernoulli(phm_risk::model::sigmoid(eta)));
        x.push_dense_row(&row).unwrap();
        dense.push(row);
    }
    (x, y, dense)
}

/// Write `x0..x9,y` and the named prediction columns to a CSV (floats in shortest
/// round-trip form, so Python reads the same doubles).
pub fn write_csv(path: &Path, dense: &[[f64; WIDTH]], y: &[bool], preds: &[(&str, &[f64])]) {
    let mut s = String::new();
    let mut header: Vec<String> = (0..WIDTH).map(|j| format!("x{j}")).collect();
    header.push("y".into());
    header.extend(preds.iter().map(|(n, _)| (*n).to_string()));
    s.push_str(&header.join(","));
    s.push('\n');
    for (i, row) in dense.iter().enumerate() {
        for v in row {
            write!(s, "{v},").unwrap();
        }
        write!(s, "{}", u8::from(y[i])).unwrap();
        for (_, p) in preds {
            write!(s, ",{}", p[i]).unwrap();
        }
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// Run the oracle on a CSV with the given penalties; returns its JSON answer.
pub fn run_oracle(dir: &Path, csv: &Path, lambdas: &[f64]) -> serde_json::Value {
    let cfg = dir.join("oracle.json");
    std::fs::write(&cfg, serde_json::json!({ "lambdas": lambdas }).to_string()).unwrap();
    let out = phm_testkit::run_oracle(ORACLE, &[csv, &cfg]);
    serde_json::from_str(out.lines().last().expect("oracle prints JSON")).unwrap()
}
