#!/usr/bin/env bash
# Ingest throughput and memory against polars' bare CSV read of the same files, in one run.
# Targets (issue: ingest): peak RSS under 2 GiB; ingest at least half as fast as the bare read
# (ratio >= 0.5).
# Usage: benches/ingest.sh [PATIENTS]   (default 1000000; everything in a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
patients=${1:-1000000}
practices=$(( (patients + 7499) / 7500 ))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phm-target}"
cargo build --quiet --release -p phm
bin="$CARGO_TARGET_DIR/release/phm"
python=$(bash scripts/oracle-venv.sh | tail -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" synth --patients "$patients" --practices "$practices" --seed 1 --out "$tmp/synth" >/dev/null
"$bin" key new --out "$tmp/bench.key" >/dev/null
bytes=$(du -sb "$tmp/synth/extracts" | cut -f1)

# The peer: polars reads every extract file, all columns as text (what ingest must do too).
cat >"$tmp/bare.py" <<'PY'
import sys, glob, time, polars as pl
files = sorted(glob.glob(sys.argv[1] + "/*/*.csv"))
t = time.perf_counter()
rows = sum(pl.read_csv(f, infer_schema=False, encoding="utf8-lossy").height for f in files)
print(rows, time.perf_counter() - t)
PY
/usr/bin/time -v "$python" "$tmp/bare.py" "$tmp/synth/extracts" >"$tmp/bare.out" 2>"$tmp/bare.time"
read -r bare_rows bare_secs <"$tmp/bare.out"
bare_rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/bare.time")

/usr/bin/time -v "$bin" ingest --extracts "$tmp/synth/extracts" --postcode-lookup "$tmp/synth/lookups/postcode_lsoa.csv" \
  --key "$tmp/bench.key" --reference-date 2025-04-01 --extract-date 2026-04-01 \
  --programme-opt-out-code 999001000000100 --out "$tmp/run" >"$tmp/ingest.out" 2>"$tmp/ingest.time"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/ingest.time")
secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/ingest.time")
rows=$(awk '$1 == "total" {print $3}' "$tmp/ingest.out")

awk -v p="$patients" -v r="$rows" -v b="$bytes" -v s="$secs" -v k="$rss" -v br="$bare_rows" -v bs="$bare_secs" -v bk="$bare_rss" 'BEGIN {
  printf "patients              %d (%d rows, %.1f MB of CSV)\n", p, r, b / 1e6
  printf "phm ingest            %.1f s, %.0f rows/s, %.1f MB/s, peak RSS %.0f MiB\n", s, r / s, b / 1e6 / s, k / 1024
  printf "polars bare read      %.1f s, %.0f rows/s, %.1f MB/s, peak RSS %.0f MiB\n", bs, br / bs, b / 1e6 / bs, bk / 1024
  printf "speed ratio           %.2f of the bare read (target >= 0.5)\n", bs / s
  printf "peak RSS              %.2f of 2 GiB (target < 1)\n", k / 1024 / 2048
}'
