# Oracle for phm-risk: scikit-learn's LogisticRegression and metrics, and an independent
# O(n^2) DeLong written with numpy, on a CSV written by the Rust tests.
# Usage: python sklearn_oracle.py DATA.csv CONFIG.json
#   DATA.csv: x0..x{p-1}, y, then prediction columns named p_*
#   CONFIG.json: {"lambdas": [...]}
# Prints one JSON line.
import json
import sys
import warnings

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

data_path, cfg_path = sys.argv[1], sys.argv[2]
cfg = json.load(open(cfg_path))
with open(data_path) as f:
    header = f.readline().strip().split(",")
# loadtxt parses with Python's float(): the exact doubles Rust printed.
data = np.loadtxt(data_path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
xcols = [i for i, h in enumerate(header) if h.startswith("x")]
pcols = [h for h in header if h.startswith("p_")]
X = data[:, xcols]
y = data[:, header.index("y")].astype(int)

# Scaling: each column divided by its population standard deviation (ddof=0), no centring;
# a zero standard deviation becomes 1 (as phm does).
scales = X.std(axis=0, ddof=0)
scales[scales == 0] = 1.0
Xs = X / scales

out = {"scales": scales.tolist(), "fits": [], "metrics": {}}
for lam in cfg["lambdas"]:
    m = LogisticRegression(solver="newton-cholesky", tol=1e-12, C=1.0 / lam, max_iter=1000)
    m.fit(Xs, y)
    out["fits"].append({
        "lambda": lam,
        "intercept": float(m.intercept_[0]),
        "coef_scaled": m.coef_[0].tolist(),
        "n_iter": int(m.n_iter_[0]),
    })


def delong_quadratic(y, p):
    """DeLong (1988) from the structural components, every event-non-event pair (O(m n))."""
    pos, neg = p[y == 1], p[y == 0]
    m, n = len(pos), len(neg)
    psi = (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])
    auc = psi.mean()
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    se = np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    z = 1.959963984540054
    return auc, se, max(0.0, auc - z * se), min(1.0, auc + z * se)


def calibration(y, p):
    lp = np.log(np.clip(p, 1e-15, 1 - 1e-15) / (1 - np.clip(p, 1e-15, 1 - 1e-15)))
    # Slope: unpenalised logistic regression of y on logit(p) (C = inf: no penalty).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = LogisticRegression(solver="newton-cholesky", tol=1e-12, C=np.inf, max_iter=1000)
        m.fit(lp[:, None], y)
    # Calibration-in-the-large: root of the score equation with logit(p) as offset.
    citl = brentq(lambda a: float(np.sum(y - expit(a + lp))), -30, 30, xtol=1e-14, rtol=1e-15)
    return float(m.coef_[0][0]), float(m.intercept_[0]), float(citl)


def top(y, p, q):
    n = len(y)
    k = min(max(int(np.ceil(q * n - 1e-9)), 1), n)
    order = np.lexsort((np.arange(n), -p))  # highest p first, ties by row order
    tp = int(y[order[:k]].sum())
    return {"flagged": k, "true_positives": tp, "sensitivity": tp / y.sum(), "ppv": tp / k}


def deciles(y, p, g=10):
    n = len(y)
    order = np.argsort(p, kind="stable")  # ascending, ties by row order
    res = []
    for i in range(g):
        rows = order[i * n // g:(i + 1) * n // g]
        res.append({"n": len(rows), "observed": int(y[rows].sum()), "expected": float(p[rows].sum())})
    return res


for col in pcols:
    p = data[:, header.index(col)]
    auc, se, lo, hi = delong_quadratic(y, p)
    slope, slope_intercept, citl = calibration(y, p)
    out["metrics"][col] = {
        "roc_auc_score": float(roc_auc_score(y, p)),
        "average_precision_score": float(average_precision_score(y, p)),
        "brier_score_loss": float(brier_score_loss(y, p)),
        "delong": [float(auc), float(se), float(lo), float(hi)],
        "observed_expected": float(y.sum() / p.sum()),
        "slope": slope,
        "slope_intercept": slope_intercept,
        "citl": citl,
        "top": [top(y, p, q) for q in (0.005, 0.05, 0.2)],
        "deciles": deciles(y, p),
    }
print(json.dumps(out))
