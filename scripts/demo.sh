#!/usr/bin/env bash
# phm's demo on a fresh machine (needs only the Rust toolchain).
# 1. Builds phm the way the tests do (`cargo test --no-run`: one build serves both), generates
#    the synthetic sample into a temporary folder, prints its realism summary, and checks it is
#    byte-identical to the committed data-samples/synth.
# 2. `phm demo`: demo keys, `phm run pipeline/demo.toml` (ingest, link, score, risk, practice
#    bundles, publish: aggregates under disclosure control, report.html), and one practice
#    re-identifying its very high and high risk patients; prints where everything is. The
#    folder is kept (PHM_DEMO_OUT, default a new temporary folder) so you can open the report.
# 3. Around it: the run again (nothing to do), verify, queries, the model card's back-test,
#    approving the model, another practice's key refused, the audit log verified, read-only
#    queries, a council's and a trust's extracts (`phm share`), and what `phm purge` would
#    remove.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# PHM_BIN: a phm binary already built (CI passes the one its test run built).
if [[ -n ${PHM_BIN:-} && -x ${PHM_BIN} ]]; then
  phm=$PHM_BIN
else
  echo "== building phm as the tests do (the first build takes a while)"
  cargo test --workspace --all-features --locked --no-run --quiet
  phm=${CARGO_TARGET_DIR:-target}/debug/phm
fi

echo "== phm synth: the synthetic ICB the pipeline runs on"
"$phm" synth --patients 2000 --practices 10 --seed 7 --years-before 3 --out "$tmp/synth"
if diff -r data-samples/synth "$tmp/synth" >/dev/null; then
  echo "Byte-identical to the committed sample in data-samples/synth."
else
  echo "error: the generated set differs from data-samples/synth" >&2
  echo "hint: if the generator changed on purpose, regenerate the sample (see data-samples/README.md)" >&2
  exit 1
fi

echo
out=${PHM_DEMO_OUT:-$(mktemp -d)/phm-demo}
echo
echo "== phm demo: the whole pipeline on the committed sample, and one practice's GP list"
"$phm" demo --out "$out"
run="$out/runs/latest"
pipeline="$out/demo.toml"
roots=(--runs "$out/runs" --identifiable "$out/identifiable" --key "$out/keys/icb.key")
echo
echo "Pseudonymised zone (what analysts get), $run -> $(readlink "$run"):"
(cd "$run" && find . -type f | sort | sed 's/^\.\//  /' | grep -v '^  pseudonymised/' && echo "  pseudonymised/: $(find pseudonymised -type f | wc -l) datasets")
echo "Identifiable zone (quarantine and vaults, stays with the DSCRO; folders 0700, files 0600):"
(cd "$out/identifiable" && find . -type f | sort | sed 's/^\.\//  /' | head -4 && echo "  ... $(find . -type f | wc -l) files")
echo
echo "== phm run again: same inputs, settings and code, so nothing to do (exit code 7)"
code=0
"$phm" run "$pipeline" "${roots[@]}" || code=$?
if [[ $code -ne 7 ]]; then
  echo "error: expected exit code 7 (nothing to do), got $code" >&2
  exit 1
fi
echo
echo "== phm verify: every output re-hashed against the run's manifest"
"$phm" verify "$run"
echo
echo "== the aggregates analysts take away (redacted, rounded to 5, totals from published cells)"
head -n 6 "$run/publish/aggregates/practice_tier.csv" | cut -c1-200
echo
echo "== phm query: patients by age band, and the ten with most emergency admissions"
"$phm" query --run "$run" "SELECT age_band, COUNT(*) AS patients, SUM(emergency_admissions_12m) AS emergency_admissions_12m FROM features GROUP BY age_band ORDER BY MIN(age)"
"$phm" query --run "$run" "SELECT substr(pseudonym, 1, 12) AS pseudonym, age, practice_code, emergency_admissions_12m, emergency_bed_days_12m, ae_attendances_12m, distinct_medicines_12m FROM features ORDER BY emergency_admissions_12m DESC, emergency_bed_days_12m DESC, pseudonym LIMIT 10"
echo
echo "== phm query: scores (Charlson, Elixhauser, HFRS, eFI)"
"$phm" query --run "$run" "SELECT efi_category, COUNT(*) AS patients, ROUND(AVG(charlson_1987), 2) AS mean_charlson, ROUND(AVG(hfrs), 2) AS mean_hfrs FROM scores GROUP BY efi_category ORDER BY MIN(efi)"
echo
echo "== risk: the model's back-test (model card), the pyramid, segments, and why the top patients were flagged"
sed -n '/^## Back-test/,/^| calibration slope/p' "$run/risk/model_card.md"
"$phm" query --run "$run" "SELECT tier, COUNT(*) AS patients, ROUND(MIN(risk), 3) AS min_risk, ROUND(MAX(risk), 3) AS max_risk FROM risk GROUP BY tier ORDER BY MIN(rank)"
"$phm" query --run "$run" "SELECT segment, COUNT(*) AS patients, ROUND(AVG(risk), 3) AS mean_risk FROM risk GROUP BY segment ORDER BY segment"
"$phm" query --run "$run" "SELECT substr(pseudonym, 1, 12) AS pseudonym, practice_code, ROUND(risk, 3) AS risk, tier, segment, reason_1, reason_2, reason_3 FROM risk ORDER BY rank LIMIT 5"
"$phm" risk approve "$run" --models "$out/models"

echo
echo "== re-identification: the practice's GP list, another practice's key, the audit log"
practice=$(basename "$(ls data-samples/synth/extracts/gp_registrations/*.csv | head -n 1)" .csv)
other=$(basename "$(ls data-samples/synth/extracts/gp_registrations/*.csv | sed -n 2p)" .csv)
"$phm" key practice --practice "$other" --out "$tmp/other-keys" >/dev/null
echo "The GP list of $practice (synthetic test-range NHS numbers), first rows:"
head -n 4 "$out"/practice/lists/gp-list-*/gp-list.csv | cut -c1-160 | sed 's/^/  /'
echo "Another practice's identity opens nothing (exit code 5, refused, and audited):"
code=0
"$phm" reid --bundle "$run/outbox/$practice" --identity "$tmp/other-keys/$other.identity.txt" \
  --user someone --reason "demo: wrong key" --audit "$out/practice/audit.jsonl" --out "$tmp/other" || code=$?
if [[ $code -ne 5 ]]; then
  echo "error: another practice's identity was not refused (exit code $code)" >&2
  exit 1
fi
"$phm" audit show "$out/practice/audit.jsonl"
"$phm" audit verify "$out/practice/audit.jsonl"

echo
echo "== phm share: a council's and a trust's extracts, each with its own pseudonyms ([share] of the pipeline)"
"$phm" share "$pipeline" "${roots[@]}" --recipient council-ph --user demo --out "$out/transfer/council-ph"
"$phm" share "$pipeline" "${roots[@]}" --recipient trust-rxf --user demo --out "$out/transfer/trust-rxf"
"$phm" share --check "$out/transfer/council-ph" "$out/transfer/trust-rxf"
"$phm" share --check "$out/transfer/council-ph" "$run"
"$phm" audit verify "$out/identifiable/audit/share.jsonl"
echo
echo "== phm purge --dry-run: what retention ([publish] retention_months) would remove"
"$phm" purge "$pipeline" --runs "$out/runs" --identifiable "$out/identifiable" --user demo --dry-run

echo "== phm query is read-only: it refuses to write"
if "$phm" query --run "$run" "COPY (SELECT * FROM features) TO '$tmp/out.csv'"; then
  echo "error: phm query wrote a file" >&2
  exit 1
fi
echo
echo "The demo's folder is kept: $out (open $run/report.html)"
