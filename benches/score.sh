#!/usr/bin/env bash
# Scoring against linking on the same run: scoring 1M patients must take less time than
# linking them (issue: clinical scores). Prints both times, the ratio and peak RSS.
# Usage: benches/score.sh [PATIENTS]   (default 1000000; everything in a temporary folder)
source "$(dirname "$0")/common.sh" "$@"
synth_set
"$bin" ingest "${ingest_args[@]}" >/dev/null

timed link "$bin" link --run "$tmp/run" --reference-date 2025-04-01
link_s=$wall link_k=$rss
timed score "$bin" score --run "$tmp/run" --reference-date 2025-04-01
score_s=$wall score_k=$rss
patients_scored=$(awk '/^Scored/ {print $2}' "$tmp/score.out")
awk -v p="$patients_scored" -v ls="$link_s" -v lk="$link_k" -v ss="$score_s" -v sk="$score_k" 'BEGIN {
  printf "patients scored  %d\n", p
  printf "phm link         %.1f s, peak RSS %.0f MiB\n", ls, lk / 1024
  printf "phm score        %.1f s, peak RSS %.0f MiB\n", ss, sk / 1024
  printf "score / link     %.2f (target < 1)\n", ss / ls
}'
