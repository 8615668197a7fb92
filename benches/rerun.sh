#!/usr/bin/env bash
# Monthly re-runs (issue: scale, item 4). A full `phm run` on a synthetic ICB, then one
# provider's admitted-care file changes (its last row is dropped, as a resubmission would) and
# `phm run` runs again: it must reuse every other file's ingest output and give what a full run
# gives. Prints both runs' wall time, peak RSS and stage timings, the files reused, the ratio of
# the re-run to the full run (target: under 0.2 of a full run) and whether the re-run's tables
# equal those of a third, full (`--no-reuse`) run on the same changed files byte for byte.
#
# Usage: benches/rerun.sh [PATIENTS]   (default 1000000; everything in a temporary folder)
source "$(dirname "$0")/common.sh" "$@"
# The cached set of benches/e2e.sh (seed 1), hard-linked: the changed file is replaced, never
# written in place, so the cache stays as generated.
cached_set 1
cp -al "$(set_cache 1)" "$tmp/synth"
"$bin" key new --out "$tmp/bench.key" >/dev/null
cat >"$tmp/rerun.toml" <<TOML
[dates]
reference_date = "2025-04-01"
extract_date = "2026-04-01"
[inputs]
extracts = "$tmp/synth/extracts"
postcode_lookup = "$tmp/synth/lookups/postcode_lsoa.csv"
[opt_out]
programme_codes = ["999001000000101"]
national_data_opt_out = false
TOML
mkdir -m 700 "$tmp/id-a" "$tmp/id-b"
run=("$bin" run "$tmp/rerun.toml" --key "$tmp/bench.key")

timed full "${run[@]}" --runs "$tmp/runs-a" --identifiable "$tmp/id-a"
full_wall=$wall full_rss=$rss
apc=$(find "$tmp/synth/extracts/apc" -name '*.csv' | sort | head -n 1)
# Drop the last row (the file ends with a line end).
head -n -1 "$apc" >"$apc.new" && mv -f "$apc.new" "$apc"
timed rerun "${run[@]}" --runs "$tmp/runs-a" --identifiable "$tmp/id-a"
rerun_wall=$wall rerun_rss=$rss
timed again "${run[@]}" --runs "$tmp/runs-b" --identifiable "$tmp/id-b" --no-reuse

python3 - "$tmp" "$full_wall" "$full_rss" "$rerun_wall" "$rerun_rss" <<'PY'
import hashlib, json, os, sys
tmp, full_wall, full_rss, rerun_wall, rerun_rss = sys.argv[1], *map(float, sys.argv[2:])
rerun = os.path.realpath(f"{tmp}/runs-a/latest")
full = os.path.realpath(f"{tmp}/runs-b/latest")
m = json.load(open(f"{rerun}/manifest.json"))
reused = sum(1 for i in m["inputs"] if i.get("reused_from"))

def tables(run):
    out = {}
    for root, _, files in os.walk(run):
        for f in files:
            if f.endswith(".parquet"):
                p = os.path.join(root, f)
                out[os.path.relpath(p, run)] = hashlib.blake2b(open(p, "rb").read()).hexdigest()
    return out

same = tables(rerun) == tables(full)
ratio = rerun_wall / full_wall
print(f"full run            {full_wall:.1f} s, peak RSS {full_rss / 1024:.0f} MiB")
print(f"re-run              {rerun_wall:.1f} s, peak RSS {rerun_rss / 1024:.0f} MiB; reused {reused} of {len(m['inputs'])} files")
print(f"re-run stages       {json.dumps(m['timings'])}")
print(f"re-run / full run   {ratio:.2f} (target < 0.2) {'ok' if ratio < 0.2 else 'NOT MET'}")
print(f"same tables as a full run of the changed files: {'yes' if same else 'NO'}")
sys.exit(0 if same else 1)
PY
