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
  cargo build --quiet --release -p phm
  bin="$CARGO_TARGET_DIR/release/phm"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# timed LABEL COMMAND...: runs the command under /usr/bin/time -v (a failure stops the
# script), its stdout kept in $tmp/LABEL.out; sets `wall` (seconds) and `rss` (peak, KiB).
timed() {
  local label=$1
  shift
  /usr/bin/time -v "$@" >"$tmp/$label.out" 2>"$tmp/$label.time"
  read -r wall rss < <(awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
    /Maximum resident set size/ { k = $2 }
    END { print s, k }' "$tmp/$label.time")
}

# synth_set [FLAGS...]: a synthetic set of $patients in $tmp/synth (seed 1, extra `phm synth`
# flags as given) and a key in $tmp/bench.key.
synth_set() {
  "$bin" synth --patients "$patients" --practices "$practices" --seed 1 "$@" --out "$tmp/synth" >/dev/null
  "$bin" key new --out "$tmp/bench.key" >/dev/null
}

# ingest_args: the `phm ingest` arguments for $tmp/synth into $tmp/run.
ingest_args=(--extracts "$tmp/synth/extracts" --postcode-lookup "$tmp/synth/lookups/postcode_lsoa.csv"
  --key "$tmp/bench.key" --reference-date 2025-04-01 --extract-date 2026-04-01 --out "$tmp/run")
