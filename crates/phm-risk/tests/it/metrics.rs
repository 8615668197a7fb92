//! The metrics: hand-checked values, errors, an `O(n²)` `DeLong`, and scikit-learn / numpy as
//! oracle.

use phm_risk::metrics::{
    self, MetricsError, auprc, auroc, brier, calibration, delong, evaluate, observed_expected,
    risk_groups, roc_curve, top_fraction,
};
use phm_risk::model::{fit, logit, sigmoid};

use crate::{Rng, run_oracle, synthetic, write_csv};

fn b(v: &[u8]) -> Vec<bool> {
    v.iter().map(|&x| x == 1).collect()
}

#[test]
fn auroc_hand_cases() {
    let y = b(&[1, 1, 0, 0]);
    assert_eq!(auroc(&y, &[0.9, 0.8, 0.2, 0.1]).unwrap(), 1.0);
    assert_eq!(auroc(&y, &[0.1, 0.2, 0.8, 0.9]).unwrap(), 0.0);
    assert_eq!(auroc(&y, &[0.5; 4]).unwrap(), 0.5);
    // Pairs: 0.8 beats 0.6 and 0.2; 0.4 beats 0.2 -> 3 of 4.
    assert_eq!(
        auroc(&b(&[1, 0, 1, 0]), &[0.8, 0.6, 0.4, 0.2]).unwrap(),
        0.75
    );
    // A tie between an event and a non-event counts half: (1 + 0.5) / 2.
    assert_eq!(auroc(&b(&[1, 0, 0]), &[0.5, 0.5, 0.1]).unwrap(), 0.75);
    // Scores need not be probabilities.
    assert_eq!(auroc(&b(&[1, 0]), &[7.0, -3.0]).unwrap(), 1.0);
}

/// `DeLong` from every event-non-event pair.
fn delong_pairs(y: &[bool], p: &[f64]) -> (f64, f64) {
    let pos: Vec<f64> = p
        .iter()
        .zip(y)
        .filter(|(_, y)| **y)
        .map(|(p, _)| *p)
        .collect();
    let neg: Vec<f64> = p
        .iter()
        .zip(y)
        .filter(|(_, y)| !**y)
        .map(|(p, _)| *p)
        .collect();
    let psi = |a: f64, b: f64| {
        if a > b {
            1.0
        } else if a == b {
            0.5
        } else {
            0.0
        }
    };
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    let v10: Vec<f64> = pos
        .iter()
        .map(|&a| neg.iter().map(|&b| psi(a, b)).sum::<f64>() / n)
        .collect();
    let v01: Vec<f64> = neg
        .iter()
        .map(|&b| pos.iter().map(|&a| psi(a, b)).sum::<f64>() / m)
        .collect();
    let auc = v10.iter().sum::<f64>() / m;
    let var = |v: &[f64]| {
        let mu = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)
    };
    (auc, (var(&v10) / m + var(&v01) / n).sqrt())
}

#[test]
fn delong_equals_the_pairwise_definition() {
    let mut rng = Rng::new(4);
    let y: Vec<bool> = (0..600).map(|_| rng.bernoulli(0.2)).collect();
    // Scores rounded to 2 decimals: many ties.
    let p: Vec<f64> = y
        .iter()
        .map(|&e| ((rng.uniform() + if e { 0.3 } else { 0.0 }) / 1.3 * 100.0).round() / 100.0)
        .collect();
    let d = delong(&y, &p).unwrap();
    let (auc, se) = delong_pairs(&y, &p);
    assert!((d.auc - auc).abs() < 1e-12);
    assert!((d.se - se).abs() < 1e-12);
    assert!((d.auc - auroc(&y, &p).unwrap()).abs() < 1e-15);
    assert!((d.lo95 - (auc - 1.959_963_984_540_054 * se)).abs() < 1e-12);
    // Perfect separation: no variance, interval clipped at 1.
    let d = delong(&b(&[1, 1, 0, 0]), &[0.9, 0.8, 0.2, 0.1]).unwrap();
    assert_eq!((d.auc, d.se, d.hi95), (1.0, 0.0, 1.0));
    assert_eq!(
        delong(&b(&[1, 0, 0]), &[0.9, 0.2, 0.1]).unwrap_err(),
        MetricsError::TooFewForDeLong {
            events: 1,
            non_events: 2
        }
    );
}

#[test]
fn auprc_brier_and_observed_expected_hand_cases() {
    // Thresholds 0.8 (R 0.5, P 1), 0.6 (R 0.5), 0.4 (R 1, P 2/3), 0.2: 0.5 + 0.5 · 2/3.
    let ap = auprc(&b(&[1, 0, 1, 0]), &[0.8, 0.6, 0.4, 0.2]).unwrap();
    assert!((ap - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-15);
    // All tied: one threshold, precision = prevalence.
    assert_eq!(auprc(&b(&[1, 0, 0, 0]), &[0.3; 4]).unwrap(), 0.25);
    assert_eq!(auprc(&b(&[1, 1, 0]), &[0.9, 0.8, 0.1]).unwrap(), 1.0);
    // (0.2² + 0.4²) / 2.
    assert!((brier(&b(&[1, 0]), &[0.8, 0.4]).unwrap() - 0.1).abs() < 1e-15);
    assert_eq!(brier(&b(&[1, 0]), &[1.0, 0.0]).unwrap(), 0.0);
    assert_eq!(
        observed_expected(&b(&[1, 0, 0, 0]), &[0.25; 4]).unwrap(),
        1.0
    );
    assert_eq!(
        observed_expected(&b(&[1, 1, 0, 0]), &[0.25; 4]).unwrap(),
        2.0
    );
}

#[test]
fn metrics_reject_bad_input() {
    let y = b(&[1, 0]);
    assert_eq!(
        auroc(&y, &[0.5]).unwrap_err(),
        MetricsError::LengthMismatch {
            outcomes: 2,
            predictions: 1
        }
    );
    assert_eq!(auroc(&[], &[]).unwrap_err(), MetricsError::Empty);
    assert_eq!(
        auroc(&b(&[1, 1]), &[0.5, 0.2]).unwrap_err(),
        MetricsError::OneClass { class: true }
    );
    assert!(matches!(
        auprc(&y, &[f64::NAN, 0.1]),
        Err(MetricsError::NotFinite { index: 0, .. })
    ));
    assert_eq!(
        brier(&y, &[0.5, 1.5]).unwrap_err(),
        MetricsError::NotProbability {
            index: 1,
            value: 1.5
        }
    );
    assert_eq!(
        top_fraction(&y, &[0.5, 0.2], 0.0).unwrap_err(),
        MetricsError::InvalidFraction(0.0)
    );
    assert_eq!(
        risk_groups(&y, &[0.5, 0.2], 0).unwrap_err(),
        MetricsError::InvalidGroups(0)
    );
    // Every prediction equal: the calibration slope is not identified.
    let err = calibration(&b(&[1, 0, 0, 1]), &[0.5; 4]).unwrap_err();
    assert!(matches!(err, MetricsError::Calibration(_)), "{err}");
}

#[test]
fn calibration_recovers_known_miscalibration() {
    let mut rng = Rng::new(11);
    let n = 200_000;
    let lp: Vec<f64> = (0..n)
        .map(|_| -2.0 + 2.0 * (rng.uniform() - 0.5) * 2.0)
        .collect();
    let y: Vec<bool> = lp.iter().map(|&l| rng.bernoulli(sigmoid(l))).collect();
    let p: Vec<f64> = lp.iter().map(|&l| sigmoid(l)).collect();
    let c = calibration(&y, &p).unwrap();
    assert!((c.slope - 1.0).abs() < 0.03, "{c:?}");
    assert!(
        c.intercept.abs() < 0.03 && c.slope_intercept.abs() < 0.06,
        "{c:?}"
    );
    assert!((c.observed_expected - 1.0).abs() < 0.03);
    // Predictions twice as extreme on the logit scale: slope 1/2.
    let extreme: Vec<f64> = lp.iter().map(|&l| sigmoid(2.0 * l)).collect();
    let c = calibration(&y, &extreme).unwrap();
    assert!((c.slope - 0.5).abs() < 0.02, "{c:?}");
    // Predictions all too high by 1 on the logit scale: calibration-in-the-large -1.
    let high: Vec<f64> = lp.iter().map(|&l| sigmoid(l + 1.0)).collect();
    let c = calibration(&y, &high).unwrap();
    assert!((c.intercept + 1.0).abs() < 0.03, "{c:?}");
    assert!((c.slope - 1.0).abs() < 0.03, "{c:?}");
    // Predictions summing to the events: calibrated in the large exactly.
    let y = b(&[1, 0, 0, 1, 0, 0, 0, 0]);
    let c = calibration(&y, &[0.2, 0.3, 0.2, 0.3, 0.2, 0.3, 0.2, 0.3]).unwrap();
    assert!(c.intercept.abs() < 1e-12, "{c:?}");
    assert!((c.observed_expected - 1.0).abs() < 1e-15);
    assert!((logit(0.25) - (1.0f64 / 3.0).ln()).abs() < 1e-15);
}

#[test]
fn deciles_and_top_fractions_break_ties_by_row_order() {
    // 25 rows: group sizes 2,3,2,3,... (positions g·25/10).
    let p: Vec<f64> = (0..25).map(|i| f64::from(24 - i) / 100.0).collect();
    let y: Vec<bool> = (0..25).map(|i| i % 5 == 0).collect();
    let g = risk_groups(&y, &p, 10).unwrap();
    let sizes: Vec<usize> = g.iter().map(|r| r.n).collect();
    assert_eq!(sizes, [2, 3, 2, 3, 2, 3, 2, 3, 2, 3]);
    assert_eq!(g[0].min_predicted, 0.0);
    assert_eq!(g[9].max_predicted, 0.24);
    assert_eq!(g.iter().map(|r| r.observed).sum::<usize>(), 5);
    assert!((g.iter().map(|r| r.expected).sum::<f64>() - p.iter().sum::<f64>()).abs() < 1e-12);
    // Ties: all equal; the first two rows (by row order) form the lowest group.
    let y = b(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let g = risk_groups(&y, &[0.1; 10], 5).unwrap();
    assert_eq!(g[0].observed, 2);
    assert_eq!(g[4].observed, 0);

    // Top fractions: 1000 rows, events at every 10th row; highest risk first.
    let n = 1000;
    let p: Vec<f64> = (0..n).map(|i| 1.0 - f64::from(i) / 1000.0).collect();
    let y: Vec<bool> = (0..n).map(|i| i % 10 == 0 || i < 30).collect();
    let t = top_fraction(&y, &p, 0.05).unwrap();
    assert_eq!(t.flagged, 50);
    // Rows 0..50: 30 (rows 0..30) + 40, the remaining multiples of 10 under 50 = 32.
    assert_eq!(t.true_positives, 32);
    assert!((t.ppv - 32.0 / 50.0).abs() < 1e-15);
    assert!((t.sensitivity - 32.0 / f64::from(30 + 97)).abs() < 1e-15);
    assert_eq!(t.threshold, p[49]);
    assert_eq!(top_fraction(&y, &p, 0.005).unwrap().flagged, 5);
    assert_eq!(top_fraction(&y, &p, 0.2).unwrap().flagged, 200);
    assert_eq!(
        top_fraction(&y[..100], &p[..100], 0.005).unwrap().flagged,
        1
    );
    // Tied predictions: the earlier row is flagged first.
    let y = b(&[0, 1, 1, 0]);
    let t = top_fraction(&y, &[0.3, 0.3, 0.3, 0.1], 0.25).unwrap();
    assert_eq!((t.flagged, t.true_positives), (1, 0));
    let t = top_fraction(&y, &[0.3, 0.3, 0.3, 0.1], 0.5).unwrap();
    assert_eq!((t.flagged, t.true_positives), (2, 1));
}

#[test]
fn evaluate_serialises_for_the_model_card() {
    let (x, y, _) = synthetic(3000, 12);
    let p = fit(&x, &y, 1.0).unwrap().predict(&x).unwrap();
    let e = evaluate(&y, &p).unwrap();
    assert_eq!(e.n, 3000);
    assert_eq!(e.deciles.len(), 10);
    assert_eq!(e.top.len(), 3);
    assert!(e.auroc.lo95 < e.auroc.auc && e.auroc.auc < e.auroc.hi95);
    // On its own training data a logistic model is calibrated in the large (score equation).
    assert!((e.calibration.observed_expected - 1.0).abs() < 0.01);
    let json = serde_json::to_value(&e).unwrap();
    assert!(json["auroc"]["se"].as_f64().unwrap() > 0.0);
    assert!(json["calibration"]["slope"].is_number());
}

#[test]
fn metrics_equal_scikit_learn_and_numpy_delong() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, y, dense) = synthetic(4000, 99);
    let p_fit = fit(&x, &y, 1.0).unwrap().predict(&x).unwrap();
    // Predictions with many ties, and a miscalibrated version.
    let p_round: Vec<f64> = p_fit.iter().map(|p| (p * 100.0).round() / 100.0).collect();
    let p_coarse: Vec<f64> = p_fit.iter().map(|p| (p * 10.0).round() / 10.0).collect();
    let p_extreme: Vec<f64> = p_fit
        .iter()
        .map(|&p| sigmoid(1.7 * logit(p) + 0.4))
        .collect();
    let preds: [(&str, &[f64]); 4] = [
        ("p_fit", &p_fit),
        ("p_round", &p_round),
        ("p_coarse", &p_coarse),
        ("p_extreme", &p_extreme),
    ];
    let csv = tmp.path().join("data.csv");
    write_csv(&csv, &dense, &y, &preds);
    let oracle = run_oracle(tmp.path(), &csv, &[]);
    let close = |a: f64, b: f64, tol: f64, what: &str| {
        assert!((a - b).abs() <= tol, "{what}: phm {a} vs oracle {b}");
    };
    for (name, p) in preds {
        let o = &oracle["metrics"][name];
        let f = |k: &str| o[k].as_f64().unwrap();
        close(auroc(&y, p).unwrap(), f("roc_auc_score"), 1e-9, name);
        close(
            auprc(&y, p).unwrap(),
            f("average_precision_score"),
            1e-9,
            name,
        );
        close(brier(&y, p).unwrap(), f("brier_score_loss"), 1e-9, name);
        close(
            observed_expected(&y, p).unwrap(),
            f("observed_expected"),
            1e-12,
            name,
        );
        let d = delong(&y, p).unwrap();
        let od: Vec<f64> = serde_json::from_value(o["delong"].clone()).unwrap();
        for (a, b) in [d.auc, d.se, d.lo95, d.hi95].iter().zip(&od) {
            close(*a, *b, 1e-9, &format!("{name} DeLong"));
        }
        let c = calibration(&y, p).unwrap();
        close(c.slope, f("slope"), 1e-6, &format!("{name} slope"));
        close(
            c.slope_intercept,
            f("slope_intercept"),
            1e-6,
            &format!("{name} slope intercept"),
        );
        close(
            c.intercept,
            f("citl"),
            1e-9,
            &format!("{name} calibration-in-the-large"),
        );
        for (q, ot) in metrics::TOP_FRACTIONS
            .iter()
            .zip(o["top"].as_array().unwrap())
        {
            let t = top_fraction(&y, p, *q).unwrap();
            assert_eq!(
                t.flagged as u64,
                ot["flagged"].as_u64().unwrap(),
                "{name} {q}"
            );
            assert_eq!(
                t.true_positives as u64,
                ot["true_positives"].as_u64().unwrap(),
                "{name} {q}"
            );
            close(
                t.sensitivity,
                ot["sensitivity"].as_f64().unwrap(),
                1e-12,
                name,
            );
        }
        for (g, og) in risk_groups(&y, p, 10)
            .unwrap()
            .iter()
            .zip(o["deciles"].as_array().unwrap())
        {
            assert_eq!(g.n as u64, og["n"].as_u64().unwrap(), "{name}");
            assert_eq!(
                g.observed as u64,
                og["observed"].as_u64().unwrap(),
                "{name}"
            );
            close(g.expected, og["expected"].as_f64().unwrap(), 1e-9, name);
        }
    }
}

#[test]
fn roc_curve_by_hand_and_its_area_is_the_auroc() {
    // Four patients, two events, ranked e, n, e, n: flagging 1, 2, 3, 4 of them.
    let y = b(&[1, 0, 1, 0]);
    let p = [0.9, 0.8, 0.7, 0.6];
    let curve = roc_curve(&y, &p, 4).unwrap();
    assert_eq!(
        curve,
        vec![[0.0, 0.0], [0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [1.0, 1.0]]
    );
    assert!(roc_curve(&b(&[1, 1]), &[0.2, 0.3], 4).unwrap().is_empty());
    // With one step per patient and no ties, the trapezoid area equals the AUROC.
    let mut rng = Rng::new(11);
    let n = 400;
    let p: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
    let y: Vec<bool> = p.iter().map(|&q| rng.uniform() < q).collect();
    let curve = roc_curve(&y, &p, n).unwrap();
    let area: f64 = curve
        .windows(2)
        .map(|w| (w[1][0] - w[0][0]) * (w[1][1] + w[0][1]) / 2.0)
        .sum();
    let auc = delong(&y, &p).unwrap().auc;
    assert!((area - auc).abs() < 1e-12, "{area} vs {auc}");
}
