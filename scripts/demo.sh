#!/usr/bin/env bash
# phm's demo on a fresh machine (needs only the Rust toolchain).
# 1. Generates the synthetic sample into a temporary folder, prints its realism summary, and
#    checks it is byte-identical to the committed data-samples/synth (same settings, same bytes).
# 2. Makes a fresh pseudonymisation key and ingests the committed sample with the pipeline
#    definition pipeline/demo.toml: validation, quarantine, opt-outs, pseudonymisation.
# 3. Links the pseudonymised zone (sql/ on DataFusion), scores every patient (Charlson,
#    Elixhauser, HFRS, eFI) and queries the results.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# PHM_BIN: a phm binary already built (CI passes the one its test run built, so the demo
# does not compile DataFusion and polars a second time with other features).
if [[ -n ${PHM_BIN:-} && -x ${PHM_BIN} ]]; then
  phm=$PHM_BIN
else
  cargo build --quiet -p phm
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
echo "== phm key new + phm ingest --pipeline pipeline/demo.toml"
"$phm" key new --out "$tmp/demo.key"
"$phm" ingest --pipeline pipeline/demo.toml --key "$tmp/demo.key" --out "$tmp/run" --identifiable "$tmp/identifiable"
echo
echo "Pseudonymised zone (what analysts get):"
(cd "$tmp/run" && find . -type f | sort | sed 's/^\.\//  /' | head -8 && echo "  ... $(find . -type f | wc -l) files")
echo "Identifiable zone (quarantine, stays with the DSCRO):"
(cd "$tmp/identifiable" && find . -type f | sort | sed 's/^\.\//  /' | head -5 && echo "  ... $(find . -type f | wc -l) files")

echo
echo "== phm link --pipeline pipeline/demo.toml (DataFusion over sql/)"
"$phm" link --pipeline pipeline/demo.toml --run "$tmp/run"
echo
echo "== phm query: patients by age band, and the ten with most emergency admissions"
"$phm" query --run "$tmp/run" "SELECT age_band, COUNT(*) AS patients, SUM(emergency_admissions_12m) AS emergency_admissions_12m FROM features GROUP BY age_band ORDER BY MIN(age)"
"$phm" query --run "$tmp/run" "SELECT substr(pseudonym, 1, 12) AS pseudonym, age, practice_code, emergency_admissions_12m, emergency_bed_days_12m, ae_attendances_12m, distinct_medicines_12m FROM features ORDER BY emergency_admissions_12m DESC, emergency_bed_days_12m DESC, pseudonym LIMIT 10"

echo
echo "== phm score --pipeline pipeline/demo.toml (Charlson, Elixhauser, HFRS, eFI)"
"$phm" score --pipeline pipeline/demo.toml --run "$tmp/run"
"$phm" query --run "$tmp/run" "SELECT efi_category, COUNT(*) AS patients, ROUND(AVG(charlson_1987), 2) AS mean_charlson, ROUND(AVG(hfrs), 2) AS mean_hfrs FROM scores GROUP BY efi_category ORDER BY MIN(efi)"
