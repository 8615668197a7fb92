#!/usr/bin/env bash
# Scoring against linking on the same run: scoring 1M patients must take less time than
# linking them (issue: clinical scores). Prints both times, the ratio and peak RSS.
# Usage: benches/score.sh [PATIENTS]   (default 1000000; everything in a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
patients=${1:-1000000}
practices=$(( (patients + 7499) / 7500 ))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phm-target}"
cargo build --quiet --release -p phm
bin="$CARGO_TARGET_DIR/release/phm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" synth --patients "$patients" --practices "$practices" --seed 1 --out "$tmp/synth" >/dev/null
"$bin" key new --out "$tmp/bench.key" >/dev/null
"$bin" ingest --extracts "$tmp/synth/extracts" --postcode-lookup "$tmp/synth/lookups/postcode_lsoa.csv" \
  --key "$tmp/bench.key" --reference-date 2025-04-01 --extract-date 2026-04-01 --out "$tmp/run" >/dev/null

timed() { # label, command...: prints "seconds rss_kib"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$tmp/$label.out" 2>"$tmp/$label.time"
  local wall
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/$label.time")
  echo "$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }') $(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$label.time")"
}
read -r link_s link_k < <(timed link "$bin" link --run "$tmp/run" --reference-date 2025-04-01)
read -r score_s score_k < <(timed score "$bin" score --run "$tmp/run" --reference-date 2025-04-01)
patients_scored=$(awk '/^Scored/ {print $2}' "$tmp/score.out")
awk -v p="$patients_scored" -v ls="$link_s" -v lk="$link_k" -v ss="$score_s" -v sk="$score_k" 'BEGIN {
  printf "patients scored  %d\n", p
  printf "phm link         %.1f s, peak RSS %.0f MiB\n", ls, lk / 1024
  printf "phm score        %.1f s, peak RSS %.0f MiB\n", ss, sk / 1024
  printf "score / link     %.2f (target < 1)\n", ss / ls
}'
