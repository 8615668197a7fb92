#!/usr/bin/env bash
# The link stage against DuckDB running the same sql/ on the same Parquet, in one run.
# Targets (issue: link): phm no slower than 1.5x DuckDB; peak RSS under 2 GiB.
# Usage: benches/link.sh [PATIENTS]   (default 1000000; everything in a temporary folder)
source "$(dirname "$0")/common.sh" "$@"
python=$(bash scripts/oracle-venv.sh | tail -1)
synth_set --defect-rate 0
"$bin" ingest "${ingest_args[@]}" >/dev/null

cat >"$tmp/duck.py" <<'PY'
import sys, glob, os, re, time, duckdb
run, sql_dir = sys.argv[1], sys.argv[2]
params = {"reference_date": "2025-04-01", "start_12m": "2024-04-01", "start_24m": "2023-04-01", "outcome_end": "2026-04-01", "ages_as_of": "2025-04-01"}
t = time.perf_counter()
con = duckdb.connect()
con.execute("SET threads = 2")
for d in sorted(glob.glob(os.path.join(run, "pseudonymised", "*"))):
    con.execute(f"CREATE VIEW {os.path.basename(d)} AS SELECT * FROM read_parquet('{d}/*.parquet')")
for f in sorted(glob.glob(os.path.join(sql_dir, "*.sql"))):
    name = re.sub(r"^\d+_", "", os.path.basename(f)[:-4])
    text = re.sub(r"\$(\w+)", lambda m: "DATE '%s'" % params[m.group(1)], open(f).read())
    con.execute(f"CREATE TABLE {name} AS {text}")
for name in ["spine", "features"]:
    con.execute(f"COPY (SELECT * FROM {name} ORDER BY pseudonym) TO '{run}/duck_{name}.parquet' (FORMAT parquet)")
print(time.perf_counter() - t)
PY
timed duck "$python" "$tmp/duck.py" "$tmp/run" sql
duck_rss=$rss
duck_secs=$(cat "$tmp/duck.out")

timed link "$bin" link --run "$tmp/run" --reference-date 2025-04-01 --sql-dir sql
secs=$wall
awk -v p="$patients" -v s="$secs" -v k="$rss" -v ds="$duck_secs" -v dk="$duck_rss" 'BEGIN {
  printf "patients        %d\n", p
  printf "phm link        %.1f s, peak RSS %.0f MiB\n", s, k / 1024
  printf "DuckDB          %.1f s, peak RSS %.0f MiB (same sql/, same Parquet, 2 threads)\n", ds, dk / 1024
  printf "time ratio      %.2fx DuckDB (target <= 1.5)\n", s / ds
  printf "peak RSS        %.2f of 2 GiB (target < 1)\n", k / 1024 / 2048
}'
