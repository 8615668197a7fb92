#!/usr/bin/env bash
# The risk model on a synthetic ICB (issue: risk stratification). Runs `phm run` end to end on
# PATIENTS (default 200000), then prints the back-tested AUROC beside the generator's AUROCs
# for the same year (truth/risk.csv) and their ratios: the oracle's (the true probability, which
# knows each patient's propensity u; no record holds u, but it shows in GP contacts, A&E
# attendances and admissions), the target's yardstick, and the knowable one's (u integrated over
# what the patient's earlier years show of it: a bound on any model of the data; printed for
# information), observed/expected, calibration slope and the margin over every baseline, each
# against its target; and the risk model's own time (fit, back-test, scoring:
# `risk_model_seconds` in the manifest) against linking's, with the run's peak RSS.
# Usage: benches/risk.sh [PATIENTS]   (everything in a temporary folder; needs python3 for the
# oracle environment, scripts/oracle-venv.sh)
source "$(dirname "$0")/common.sh" "${1:-200000}"
python=$(bash scripts/oracle-venv.sh | tail -n 1)
# Six years of history: the back-test fits on features two years before the reference date,
# whose look-backs (24 months of activity, 60 of diagnoses) then hold data, as a real ICB's do.
synth_set --years-before 6
mkdir -m 700 "$tmp/identifiable"
cat >"$tmp/icb.toml" <<TOML
[dates]
reference_date = "2025-04-01"
extract_date = "2026-04-01"
[inputs]
extracts = "synth/extracts"
postcode_lookup = "synth/lookups/postcode_lsoa.csv"
[opt_out]
programme_codes = ["999001000000101"]
TOML
timed run "$bin" run "$tmp/icb.toml" --runs "$tmp/runs" --identifiable "$tmp/identifiable" --key "$tmp/bench.key"
"$python" - "$tmp/runs/latest" "$tmp/synth/truth/risk.csv" "$wall" "$rss" <<'PY'
import csv, json, sys
from sklearn.metrics import roc_auc_score
run, truth, wall, rss = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
card = json.load(open(f"{run}/risk/model_card.json"))
manifest = json.load(open(f"{run}/manifest.json"))
test = card["test"]
year = test["tested_as_of"]
y, p, k = [], [], []
for r in csv.DictReader(open(truth)):
    if r["year_start"] == year and r["at_risk"] == "1":
        y.append(int(r["emergency_admissions"]) > 0)
        p.append(float(r["p_emergency_admission"]))
        k.append(float(r["p_knowable"]))
oracle = roc_auc_score(y, p)
knowable = roc_auc_score(y, k)
e = test["evaluation"]
auc = e["auroc"]["auc"]
checks = [
    ("back-tested AUROC / oracle AUROC", auc / oracle, lambda v: v >= 0.95, ">= 0.95"),
    ("observed / expected", e["calibration"]["observed_expected"], lambda v: 0.9 <= v <= 1.1, "0.9-1.1"),
    ("calibration slope", e["calibration"]["slope"], lambda v: 0.9 <= v <= 1.1, "0.9-1.1"),
]
for b in test["baselines"]:
    checks.append((f"AUROC over {b['name']}", b["model_minus_baseline"], lambda v: v >= 0.02, ">= 0.02"))
t = manifest["timings"]
checks.append(("risk model time / link time", t["risk_model_seconds"] / t["link_seconds"], lambda v: v < 1, "< 1"))
checks.append(("phm run peak RSS (GiB)", rss / 1024 / 1024, lambda v: v < 2, "< 2"))
print(f"patients            {card['applied']['patients']}")
print(f"fitted as of        {test['fitted_as_of']}, tested as of {year}")
print(f"back-tested AUROC   {auc:.4f} ({e['auroc']['lo95']:.4f}-{e['auroc']['hi95']:.4f})")
print(f"oracle AUROC        {oracle:.4f} (knows each patient's propensity u)")
print(f"knowable AUROC      {knowable:.4f} (u inferred from earlier years; model / knowable {auc / knowable:.4f}, for information)")
print(f"phm run             {wall:.1f} s; link {t['link_seconds']:.1f} s, risk model {t['risk_model_seconds']:.1f} s, history link+score {t['risk_history_seconds']:.1f} s")
failed = 0
for name, value, ok, target in checks:
    failed += not ok(value)
    print(f"{name:<58} {value:8.4f}  target {target:<8} {'ok' if ok(value) else 'MISSED'}")
sys.exit(1 if failed else 0)
PY
