#!/usr/bin/env bash
# Times `phm synth` on a large population and prints rows per second and peak RSS.
# Targets (issue: foundation): 1M patients in under 3 minutes on a 2-core machine, peak RSS
# under 2 GiB. There is no peer generator to compare with; the ratios printed are to the
# targets.
# Usage: benches/synth.sh [PATIENTS]   (default 1000000; output in a temporary folder, removed)
set -euo pipefail
cd "$(dirname "$0")/.."
patients=${1:-1000000}
practices=$(( (patients + 7499) / 7500 ))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phm-target}"
cargo build --quiet --release -p phm
bin="$CARGO_TARGET_DIR/release/phm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/time -v "$bin" synth --patients "$patients" --practices "$practices" --seed 1 --out "$tmp/synth" >"$tmp/summary.txt" 2>"$tmp/time.txt"
rows=$(awk '/^Wrote/ {print $2}' "$tmp/summary.txt")
bytes=$(du -sb "$tmp/synth/extracts" | cut -f1)
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
grep -E "oracle AUROC" "$tmp/summary.txt" || true
awk -v p="$patients" -v r="$rows" -v b="$bytes" -v s="$secs" -v k="$rss_kb" 'BEGIN {
  printf "patients            %d\n", p
  printf "rows written        %d (%.1f MB of extracts)\n", r, b / 1e6
  printf "wall time           %.1f s   (target < 180 s for 1M: %.2fx of budget)\n", s, s / (180 * p / 1e6)
  printf "throughput          %.0f rows/s, %.1f MB/s\n", r / s, b / 1e6 / s
  printf "peak RSS            %.0f MiB (target < 2048 MiB: %.2fx of budget)\n", k / 1024, k / 1024 / 2048
}'
