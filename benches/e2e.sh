#!/usr/bin/env bash
# The whole pipeline against a DuckDB peer doing the same work on the same files (issue: e2e).
#
# Usage: benches/e2e.sh [--patients N] [--seed S] [--gzip] [--memory-mb M]
#   (default 1,000,000 patients, seed 1; plain CSV when the disk has room, else gzip)
#   PHM_BIN=path uses that phm binary (else the release build, as the other benches).
#
# 1. A synthetic ICB from `phm synth` (default defect rate, so with defects), cached by patients
#    and seed in $HOME/.cache/phm-bench/synth-<patients>-<seed> and reused; before generating,
#    free disk is checked against the set and the outputs (benches/common.sh: 4.6 GB of CSV per
#    million patients, 0.82 GB gzip-compressed, and about 1 GB of outputs). With --gzip, or when
#    plain CSV would not fit (10M patients: 46 GB), the extracts are gzip-compressed
#    (`phm synth --gzip`, cached in ...-gz): phm reads `.csv.gz` as it is, and so does DuckDB.
#    The cache is not tied to the generator's version: remove the folder after changing it.
# 2. phm: `phm run` end to end on a pipeline written here (for its figure and its manifest), then
#    the stages as separate processes on the same pipeline (`phm ingest`, `phm link`,
#    `phm score`), each timed: wall, CPU (user + system) and peak RSS.
# 3. The DuckDB peer (benches/peer/, Python with duckdb from scripts/oracle-venv.sh), the same
#    stages as separate processes, 2 threads, the same memory limit as phm's query engine:
#    ingest.py (DuckDB reads every CSV as text and applies the contracts' rules, quarantine
#    reasons, duplicates, opt-outs; pseudonyms are sha256(key_hex || NHS number) as DuckDB has
#    no keyed BLAKE3 nor HMAC: a plain hash of key||value, not a keyed MAC, so weaker in
#    principle (length extension; not fit for real pseudonymisation), and SHA-256 is slower
#    than BLAKE3, paid once per distinct patient and extract; see peer/ingest.py), link.py
#    (the same sql/*.sql), score.py (Charlson and eFI by code-list joins); Parquet out.
# 4. Checks before any ratio: rows per file (in, out, quarantined and opted out by reason), the
#    multiset of feature rows without pseudonyms, and of feature rows with Charlson and eFI,
#    against both `phm run`'s outputs and the separate stages'. Any difference is printed and the
#    script exits 1 without printing ratios over different work.
# 5. The table (per stage and in total, phm / DuckDB) and a dated row appended to
#    benches/results/e2e.csv (machine, patients, seed, figures). If a peer stage fails, phm's
#    figures alone, with the peer's error (column peer_failed), and exit status 3.
# The CSVs are read once (by `phm run`) before the timed stages, so both sides read them from
# the page cache (as far as it holds them). Everything but the cached set is in a temporary
# folder, removed at the end; each side's outputs are cut down to what the checks read as soon as
# it has finished (untimed), so only one side's full outputs are on disk at a time.
# --memory-mb: the query engines' memory limit, both sides (default 1536 MiB, phm's default
# [link] memory_limit_mb; 8192 above 2M patients, as DataFusion 55's hash joins cannot spill
# their build side, apache/datafusion#24768).
set -euo pipefail
patients=1000000
seed=1
format=
memory_mb=
while [[ $# -gt 0 ]]; do
  case $1 in
    --patients) patients=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --gzip) format=gz; shift ;;
    --memory-mb) memory_mb=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument \`$1\`; usage: benches/e2e.sh [--patients N] [--seed S] [--gzip] [--memory-mb M]" >&2; exit 2 ;;
  esac
done
[[ $patients =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ ]] || { echo "--patients and --seed take whole numbers" >&2; exit 2; }
source "$(dirname "$0")/common.sh" "$patients"
python=$(bash scripts/oracle-venv.sh | tail -n 1)
# Both sides get the same limit: phm's [link] memory_limit_mb, DuckDB's memory_limit.
memory_mb=${memory_mb:-$( ((patients > 2000000)) && echo 8192 || echo 1536)}
[[ $memory_mb =~ ^[0-9]+$ ]] || { echo "--memory-mb takes a whole number of MiB" >&2; exit 2; }
peer=benches/peer
# Plain CSV unless asked for gzip, or a plain set is neither cached nor fits on the disk.
if [[ -z $format && ! -f $(set_cache "$seed")/.complete ]]; then
  avail_kb=$(df -Pk "$HOME" | awk 'NR == 2 { print $4 }')
  if [[ -f $(set_cache "$seed" gz)/.complete ]] ||
    ((avail_kb < ($(set_kb_per_million) + work_kb_per_million) * patients / 1000000)); then
    format=gz
    echo "using gzip-compressed extracts (plain CSV would need more disk than the $((avail_kb / 1000)) MB free)"
  fi
fi
cache=$(set_cache "$seed" $format)

# pipeline FILE: the pipeline both sides run (the demo's settings for a synthetic set).
pipeline() {
  cat >"$1" <<TOML
[dates]
reference_date = "2025-04-01"
extract_date = "2026-04-01"
[inputs]
extracts = "$cache/extracts"
postcode_lookup = "$cache/lookups/postcode_lsoa.csv"
[opt_out]
programme_codes = ["999001000000101"]
national_data_opt_out = false
[link]
memory_limit_mb = $memory_mb
TOML
}

# stage LABEL COMMAND...: `timed`, and a line `LABEL wall cpu rss` in $tmp/timings.tsv.
stage() {
  local label=$1
  shift
  echo "  $label"
  timed "$label" "$@"
  echo "$label $wall $cpu $rss" >>"$tmp/timings.tsv"
}

# prune DIR: cut a finished side's outputs down to what compare.py and report.py read.
prune() {
  find "$1" -type f ! -name '*.json' \( -path '*/history/*' -o ! \( -path '*/linked/features.parquet' -o -path '*/scores/scores.parquet' \) \) -delete
}

cached_set "$seed" $format
"$bin" key new --out "$tmp/bench.key" >/dev/null
pipeline "$tmp/e2e.toml"
mkdir -m 700 "$tmp/identifiable"
echo "phm ($bin)"
stage phm_run "$bin" run "$tmp/e2e.toml" --runs "$tmp/runs" --identifiable "$tmp/identifiable" --key "$tmp/bench.key"
prune "$tmp/runs"
rm -rf "$tmp/identifiable"
stage phm_ingest "$bin" ingest --pipeline "$tmp/e2e.toml" --key "$tmp/bench.key" --out "$tmp/stages"
stage phm_link "$bin" link --pipeline "$tmp/e2e.toml" --run "$tmp/stages"
stage phm_score "$bin" score --pipeline "$tmp/e2e.toml" --run "$tmp/stages"
prune "$tmp/stages"
rm -rf "$tmp/stages-identifiable"
echo "DuckDB peer ($("$python" -c 'import duckdb; print(duckdb.__version__)'))"
# A peer stage that fails (at 10M DuckDB spills more than the disk holds) does not throw away
# phm's figures: they are reported alone, with the peer's error, and the script exits 3.
peer_failed=
peer_stage() {
  [[ -z $peer_failed ]] || return 0
  if ! (stage "$@"); then
    peer_failed="$1: $(grep -v $'^\t' "$tmp/$1.time" | grep -v '^Command exited' | grep -v '^ *$' | tail -n 1 | cut -c1-300)"
  fi
}
peer_stage peer_ingest "$python" $peer/ingest.py --pipeline "$tmp/e2e.toml" --key "$tmp/bench.key" --out "$tmp/peer"
peer_stage peer_link "$python" $peer/link.py --pipeline "$tmp/e2e.toml" --run "$tmp/peer"
peer_stage peer_score "$python" $peer/score.py --pipeline "$tmp/e2e.toml" --run "$tmp/peer"
if [[ -n $peer_failed ]]; then
  "$python" $peer/report.py --timings "$tmp/timings.tsv" --phm-run "$tmp/runs/latest" --patients "$patients" \
    --seed "$seed" --extracts "$cache/extracts" --memory-mb "$memory_mb" --phm-bin "$bin" --peer-failed "$peer_failed"
  exit 3
fi
prune "$tmp/peer"

checked=0
"$python" $peer/compare.py --phm "$tmp/runs/latest" --peer "$tmp/peer" --label "phm run" || checked=1
"$python" $peer/compare.py --phm "$tmp/stages" --peer "$tmp/peer" --label "phm ingest/link/score" || checked=1
if ((checked != 0)); then
  echo "phm and the DuckDB peer did not do the same work (above); no ratios printed" >&2
  exit 1
fi
"$python" $peer/report.py --timings "$tmp/timings.tsv" --phm-run "$tmp/runs/latest" --patients "$patients" \
  --seed "$seed" --extracts "$cache/extracts" --memory-mb "$memory_mb" --phm-bin "$bin"
