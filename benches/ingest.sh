#!/usr/bin/env bash
# Ingest throughput and memory against polars' bare CSV read of the same files, in one run.
# Targets (issue: ingest): peak RSS under 2 GiB; ingest at least half as fast as the bare read
# (ratio >= 0.5).
# Usage: benches/ingest.sh [PATIENTS]   (default 1000000; everything in a temporary folder)
source "$(dirname "$0")/common.sh" "$@"
python=$(bash scripts/oracle-venv.sh | tail -1)
synth_set
bytes=$(du -sb "$tmp/synth/extracts" | cut -f1)

# The peer: polars reads every extract file, all columns as text (what ingest must do too).
cat >"$tmp/bare.py" <<'PY'
import sys, glob, time, polars as pl
files = sorted(glob.glob(sys.argv[1] + "/*/*.csv"))
t = time.perf_counter()
rows = sum(pl.read_csv(f, infer_schema=False, encoding="utf8-lossy").height for f in files)
print(rows, time.perf_counter() - t)
PY
timed bare "$python" "$tmp/bare.py" "$tmp/synth/extracts"
bare_rss=$rss
read -r bare_rows bare_secs <"$tmp/bare.out"

timed ingest "$bin" ingest "${ingest_args[@]}" --programme-opt-out-code 999001000000101
secs=$wall
rows=$(awk '$1 == "total" {print $3}' "$tmp/ingest.out")

awk -v p="$patients" -v r="$rows" -v b="$bytes" -v s="$secs" -v k="$rss" -v br="$bare_rows" -v bs="$bare_secs" -v bk="$bare_rss" 'BEGIN {
  printf "patients              %d (%d rows, %.1f MB of CSV)\n", p, r, b / 1e6
  printf "phm ingest            %.1f s, %.0f rows/s, %.1f MB/s, peak RSS %.0f MiB\n", s, r / s, b / 1e6 / s, k / 1024
  printf "polars bare read      %.1f s, %.0f rows/s, %.1f MB/s, peak RSS %.0f MiB\n", bs, br / bs, b / 1e6 / bs, bk / 1024
  printf "speed ratio           %.2f of the bare read (target >= 0.5)\n", bs / s
  printf "peak RSS              %.2f of 2 GiB (target < 1)\n", k / 1024 / 2048
}'
