# Shared by the benchmark scripts, which source it with their arguments:
#   source "$(dirname "$0")/common.sh" "$@"
# Builds the release binary (or uses $PHM_BIN) and makes a temporary folder (removed on exit). Sets `patients`
# (first argument, default 1000000), `practices`, `bin` and `tmp`; defines the helpers below.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
patients=${1:-1000000}
practices=$(( (patients + 7499) / 7500 ))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phm-target}"
# PHM_BIN=path uses that binary instead of building the release one (a quick look with a
# debug build; numbers for the record come from the release build).
if [[ -n ${PHM_BIN:-} ]]; then
  bin=$PHM_BIN
else
  # PHM_FEATURES=ballista: with the cargo features a bench needs.
  cargo build --quiet --release -p phm ${PHM_FEATURES:+--features "$PHM_FEATURES"}
  bin="$CARGO_TARGET_DIR/release/phm"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# timed LABEL COMMAND...: runs the command under /usr/bin/time -v (a failure stops the
# script, showing the command's own error output), its stdout kept in $tmp/LABEL.out; sets
# `wall` (seconds), `rss` (peak, KiB) and `cpu` (user + system seconds).
timed() {
  local label=$1
  shift
  if ! /usr/bin/time -v "$@" >"$tmp/$label.out" 2>"$tmp/$label.time"; then
    echo "$label failed: $*" >&2
    grep -v $'^\t' "$tmp/$label.time" | tail -n 30 >&2
    exit 1
  fi
  read -r wall rss cpu < <(awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
    /Maximum resident set size/ { k = $2 }
    /User time \(seconds\)/ { u = $2 }
    /System time \(seconds\)/ { y = $2 }
    END { print s, k, u + y }' "$tmp/$label.time")
}

# synth_set [FLAGS...]: a synthetic set of $patients in $tmp/synth (seed 1, extra `phm synth`
# flags as given) and a key in $tmp/bench.key.
synth_set() {
  "$bin" synth --patients "$patients" --practices "$practices" --seed 1 "$@" --out "$tmp/synth" >/dev/null
  "$bin" key new --out "$tmp/bench.key" >/dev/null
}

# set_cache SEED [gz]: where the cached synthetic set of $patients patients and SEED lives (with
# `gz`, the one whose extracts are gzip-compressed). It is not tied to the generator's version:
# remove $HOME/.cache/phm-bench after changing the generator.
set_cache() {
  echo "$HOME/.cache/phm-bench/synth-$patients-$1${2:+-$2}"
}

# Disk a set needs per million patients, in KB: 4.7 GB with plain CSV extracts, 1.15 GB with
# gzip-compressed ones (0.75 GB of extracts and 0.35 GB of plain truth files; measured at 1M and
# 10M), and the outputs a bench keeps while it runs (one run's outputs at a time, about 1.2 GB; 10M: 9 GB).
set_kb_per_million() { [[ ${1:-} == gz ]] && echo 1150000 || echo 4700000; }
work_kb_per_million=1200000

# cached_set SEED [gz]: the synthetic set of $patients patients and SEED (default defect rate) in
# $(set_cache SEED [gz]), generated if absent (`phm synth`, with `--gzip` for gz), after checking
# the disk has room for it and for the outputs a bench writes.
cached_set() {
  local cache need_kb avail_kb
  cache=$(set_cache "$@")
  if [[ -f $cache/.complete ]]; then
    echo "reusing the synthetic set in $cache"
    return
  fi
  mkdir -p "$(dirname "$cache")"
  need_kb=$(awk -v p="$patients" -v s="$(set_kb_per_million "${2:-}")" -v w="$work_kb_per_million" \
    'BEGIN { printf "%d", (s + w) * p / 1e6 }')
  avail_kb=$(df -Pk "$(dirname "$cache")" | awk 'NR == 2 { print $4 }')
  if ((avail_kb < need_kb)); then
    echo "refusing to generate: $patients patients need about $((need_kb / 1000)) MB free for the set" \
      "and the outputs; $(dirname "$cache") has $((avail_kb / 1000)) MB free" >&2
    exit 1
  fi
  echo "generating $patients patients (seed $1, $practices practices${2:+, gzip-compressed}) into $cache"
  rm -rf "$cache.partial"
  "$bin" synth --patients "$patients" --practices "$practices" --seed "$1" ${2:+--gzip} --out "$cache.partial" >/dev/null
  touch "$cache.partial/.complete"
  rm -rf "$cache"
  mv "$cache.partial" "$cache"
}

# ingest_args: the `phm ingest` arguments for $tmp/synth into $tmp/run.
ingest_args=(--extracts "$tmp/synth/extracts" --postcode-lookup "$tmp/synth/lookups/postcode_lsoa.csv"
  --key "$tmp/bench.key" --reference-date 2025-04-01 --extract-date 2026-04-01 --out "$tmp/run")
