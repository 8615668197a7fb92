#!/usr/bin/env bash
# Times `phm synth` on a large population and prints rows per second and peak RSS.
# Targets (issue: foundation): 1M patients in under 3 minutes on a 2-core machine, peak RSS
# under 2 GiB. There is no peer generator to compare with; the ratios printed are to the
# targets.
# Usage: benches/synth.sh [PATIENTS]   (default 1000000; output in a temporary folder, removed)
source "$(dirname "$0")/common.sh" "$@"
timed summary "$bin" synth --patients "$patients" --practices "$practices" --seed 1 --out "$tmp/synth"
secs=$wall rss_kb=$rss
rows=$(awk '/^Wrote/ {print $2}' "$tmp/summary.out")
bytes=$(du -sb "$tmp/synth/extracts" | cut -f1)
grep -E "oracle AUROC" "$tmp/summary.out" || true
awk -v p="$patients" -v r="$rows" -v b="$bytes" -v s="$secs" -v k="$rss_kb" 'BEGIN {
  printf "patients            %d\n", p
  printf "rows written        %d (%.1f MB of extracts)\n", r, b / 1e6
  printf "wall time           %.1f s   (target < 180 s for 1M: %.2fx of budget)\n", s, s / (180 * p / 1e6)
  printf "throughput          %.0f rows/s, %.1f MB/s\n", r / s, b / 1e6 / s
  printf "peak RSS            %.0f MiB (target < 2048 MiB: %.2fx of budget)\n", k / 1024, k / 1024 / 2048
}'
