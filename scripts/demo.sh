#!/usr/bin/env bash
# phm's demo on a fresh machine (needs only the Rust toolchain).
# 1. Generates the synthetic sample into a temporary folder, prints its realism summary, and
#    checks it is byte-identical to the committed data-samples/synth (same settings, same bytes).
# 2. Makes a fresh pseudonymisation key and runs the pipeline pipeline/demo.toml on the
#    committed sample with `phm run`: ingest (validation, quarantine, opt-outs,
#    pseudonymisation), link (sql/ on DataFusion), score (Charlson, Elixhauser, HFRS, eFI),
#    risk (a locally fitted, back-tested emergency-admission model, tiers, segments,
#    reasons), committed whole with a manifest; runs it again (nothing to do) and verifies it.
# 3. Queries the results, shows the model card's back-test, approves the model.
# 4. Gives one practice a key, runs again to make its bundle, re-identifies its flagged
#    patients with `phm reid` (audited), shows another practice's key opens nothing, and
#    verifies the audit log. Shows that `phm query` refuses to write.
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
echo "== phm key new + phm run pipeline/demo.toml: ingest -> link -> score -> risk, committed whole"
"$phm" key new --out "$tmp/demo.key"
"$phm" run pipeline/demo.toml --runs "$tmp/runs" --identifiable "$tmp/identifiable" --key "$tmp/demo.key"
run="$tmp/runs/latest"
echo
echo "Pseudonymised zone (what analysts get), $run -> $(readlink "$run"):"
(cd "$run" && find . -type f | sort | sed 's/^\.\//  /' | grep -v '^  pseudonymised/' && echo "  pseudonymised/: $(find pseudonymised -type f | wc -l) datasets")
echo "Identifiable zone (quarantine, stays with the DSCRO; folders 0700, files 0600):"
(cd "$tmp/identifiable" && find . -type f | sort | sed 's/^\.\//  /' | head -4 && echo "  ... $(find . -type f | wc -l) files")
echo
echo "== phm run again: same inputs, settings and code, so nothing to do"
"$phm" run pipeline/demo.toml --runs "$tmp/runs" --identifiable "$tmp/identifiable" --key "$tmp/demo.key"
echo
echo "== phm verify: every output re-hashed against the run's manifest"
"$phm" verify "$run"
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
"$phm" risk approve "$run" --models "$tmp/models"

echo
echo "== re-identification: a practice's own key, its bundle, its GP list, the audit log"
practice=$(basename "$(ls data-samples/synth/extracts/gp_registrations/*.csv | head -n 1)" .csv)
other=$(basename "$(ls data-samples/synth/extracts/gp_registrations/*.csv | sed -n 2p)" .csv)
"$phm" key practice --practice "$practice" --out "$tmp/practice-keys"
"$phm" key practice --practice "$other" --out "$tmp/other-keys" >/dev/null
# The demo definition with the practice's recipient added (paths made absolute for the copy).
sed "s|\.\./data-samples|$PWD/data-samples|" pipeline/demo.toml > "$tmp/demo-reid.toml"
printf '\n[reid.recipients]\n%s = "%s"\n' "$practice" "$(cat "$tmp/practice-keys/$practice.recipient.txt")" >> "$tmp/demo-reid.toml"
"$phm" run "$tmp/demo-reid.toml" --runs "$tmp/runs" --identifiable "$tmp/identifiable" --key "$tmp/demo.key"
echo "Bundle of $practice (encrypted vault + pseudonymised flagged rows):"
ls -l "$run/outbox/$practice" | tail -n +2 | awk '{print "  " $1, $5, $9}'
mkdir -m 700 "$tmp/practice"
"$phm" reid --bundle "$run/outbox/$practice" --identity "$tmp/practice-keys/$practice.identity.txt" \
  --user dr.demo --reason "demo: case finding" --audit "$tmp/practice/audit.jsonl" --out "$tmp/practice/lists" | tee "$tmp/reid.out"
echo "The GP list (synthetic test-range NHS numbers), first rows:"
head -n 4 "$tmp"/practice/lists/gp-list-*/gp-list.csv | cut -c1-160 | sed 's/^/  /'
echo "Another practice's identity opens nothing (exit code non-zero, and audited):"
if "$phm" reid --bundle "$run/outbox/$practice" --identity "$tmp/other-keys/$other.identity.txt" \
  --user someone --reason "demo: wrong key" --audit "$tmp/practice/audit.jsonl" --out "$tmp/practice/other"; then
  echo "error: another practice's identity re-identified patients" >&2
  exit 1
fi
"$phm" audit show "$tmp/practice/audit.jsonl"
"$phm" audit verify "$tmp/practice/audit.jsonl"

echo "== phm query is read-only: it refuses to write"
if "$phm" query --run "$run" "COPY (SELECT * FROM features) TO '$tmp/out.csv'"; then
  echo "error: phm query wrote a file" >&2
  exit 1
fi
