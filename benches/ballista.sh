#!/usr/bin/env bash
# The link stage on an Apache Ballista cluster on loopback against the same link on one machine
# (issue: scale, item 6). Starts a scheduler and two executors (`phm cluster`; each executor
# with its own Flight and gRPC ports and work folder, one task at a time, as two cores allow),
# links PATIENTS (default 1000000) through them with `[link] engine = "ballista"`, checks that
# `spine.parquet` and `features.parquet` are byte-identical to `phm link` on DataFusion in one
# process, prints the wall time and peak RSS of every process and the ratio to one machine, and
# stops every process it started, on success or failure.
# Usage: benches/ballista.sh [PATIENTS]   (builds phm with `--features ballista`)
PHM_FEATURES=ballista source "$(dirname "$0")/common.sh" "${1:-1000000}"
synth_set --defect-rate 0
"$bin" ingest "${ingest_args[@]}" >/dev/null

timed single "$bin" link --run "$tmp/run" --reference-date 2025-04-01
single_wall=$wall single_rss=$rss
mkdir "$tmp/single"
mv "$tmp/run/linked" "$tmp/single/linked"

pids=()
names=()
stop() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap stop EXIT
# peak RSS (KiB) of a running process
peak() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

port=$((20000 + RANDOM % 20000))
PHM_LOG=info "$bin" cluster scheduler --bind "127.0.0.1:$port" >"$tmp/scheduler.log" 2>&1 &
pids+=($!)
names+=(scheduler)
for e in 1 2; do
  PHM_LOG=info "$bin" cluster executor --scheduler "127.0.0.1:$port" \
    --flight-port $((port + 10 * e)) --grpc-port $((port + 10 * e + 1)) \
    --work-dir "$tmp/executor$e" --memory-limit-mb 1536 --concurrent-tasks 1 \
    >"$tmp/executor$e.log" 2>&1 &
  pids+=($!)
  names+=("executor $e")
done
cat >"$tmp/cluster.toml" <<TOML
[link]
engine = "ballista"
scheduler = "df://127.0.0.1:$port"
memory_limit_mb = 1536
TOML
# Wait until both executors have asked to register (the scheduler logs each), at most 60 s.
for _ in $(seq 120); do
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "a cluster process stopped:" >&2; tail -n 20 "$tmp"/*.log >&2; exit 1; }
  done
  (($(grep -c "register executor request" "$tmp/scheduler.log" || true) >= 2)) && break
  sleep 0.5
done

timed cluster "$bin" link --pipeline "$tmp/cluster.toml" --run "$tmp/run" --reference-date 2025-04-01
cluster_wall=$wall cluster_rss=$rss
for t in spine features; do
  if ! cmp -s "$tmp/single/linked/$t.parquet" "$tmp/run/linked/$t.parquet"; then
    echo "error: $t.parquet differs between the cluster and one machine" >&2
    exit 1
  fi
done

echo "patients             $patients"
printf '%-20s %8.1f s  peak RSS %6.0f MiB\n' "one machine" "$single_wall" "$((single_rss / 1024))"
printf '%-20s %8.1f s  peak RSS %6.0f MiB (client: plans, collects, writes)\n' "cluster: phm link" "$cluster_wall" "$((cluster_rss / 1024))"
for i in "${!pids[@]}"; do
  printf '%-20s %10s  peak RSS %6.0f MiB\n' "cluster: ${names[$i]}" "" "$(($(peak "${pids[$i]}") / 1024))"
done
awk -v c="$cluster_wall" -v s="$single_wall" 'BEGIN { printf "cluster / one machine  %.2fx wall time; spine and features byte-identical\n", c / s }'
