"""Prints the end-to-end benchmark's table and appends a dated row to benches/results/e2e.csv.

Usage: python benches/peer/report.py --timings T.tsv --phm-run RUN --patients N --seed S
           --extracts DIR --memory-mb M [--phm-bin PATH] [--peer-failed REASON] [--csv benches/results/e2e.csv]
  T.tsv has one line per timed process: `label wall_seconds cpu_seconds peak_rss_kib`, labels
  phm_ingest, phm_link, phm_score, peer_ingest, peer_link, peer_score and phm_run. RUN is the
  `phm run` folder (its manifest's timings are shown beside the run's own figures).
Run by benches/e2e.sh after its checks passed; it never decides whether the work matched. With
--peer-failed (a peer stage did not complete, so nothing was checked), phm's figures are shown
and recorded alone, with the reason, and no ratio.
"""

import argparse
import csv
import datetime as dt
import json
import math
import os
import platform
from pathlib import Path

import duckdb

STAGES = ["ingest", "link", "score"]
MISSING = (math.nan, math.nan, math.nan)


def machine() -> dict:
    """nproc, memory and CPU model of this machine."""
    mem_kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
                 platform.processor() or "unknown")
    return {"nproc": os.cpu_count(), "mem_gib": round(mem_kib / 1024 / 1024, 1), "cpu_model": model}


def read_timings(path: Path) -> dict[str, tuple[float, float, float]]:
    """label -> (wall s, cpu s, peak RSS MiB)."""
    out = {}
    for line in path.read_text().split("\n"):
        if line.strip():
            label, wall, cpu, rss = line.split()
            out[label] = (float(wall), float(cpu), float(rss) / 1024)
    return out


def totals(t: dict, side: str) -> tuple[float, float, float]:
    """Sum of the stages' wall and CPU time; the largest stage's peak RSS (NaN when a stage did
    not complete)."""
    rows = [t.get(f"{side}_{s}", MISSING) for s in STAGES]
    if any(math.isnan(r[0]) for r in rows):
        return MISSING
    return sum(r[0] for r in rows), sum(r[1] for r in rows), max(r[2] for r in rows)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def print_table(t: dict, run_manifest: dict, memory_mb: int) -> None:
    head = (f"{'stage':<8} | {'phm wall s':>10} {'cpu s':>8} {'RSS MiB':>8} | {'DuckDB wall s':>13} {'cpu s':>8} "
            f"{'RSS MiB':>8} | {'phm/DuckDB wall':>15} {'cpu':>6} {'RSS':>6}")
    print(head)
    print("-" * len(head))
    rows = [(s, t[f"phm_{s}"], t.get(f"peer_{s}", MISSING)) for s in STAGES]
    rows.append(("total", totals(t, "phm"), totals(t, "peer")))
    for name, a, b in rows:
        print(f"{name:<8} | {a[0]:>10.1f} {a[1]:>8.1f} {a[2]:>8.0f} | {b[0]:>13.1f} {b[1]:>8.1f} {b[2]:>8.0f} | "
              f"{ratio(a[0], b[0]):>15.2f} {ratio(a[1], b[1]):>6.2f} {ratio(a[2], b[2]):>6.2f}")
    w, c, r = t["phm_run"]
    tm = run_manifest.get("timings", {})
    inner = sum(tm.get(f"{s}_seconds", 0) for s in STAGES)
    print(f"\nphm run, end to end (ingest, link, score, risk, bundles, publish, commit): {w:.1f} s wall, "
          f"{c:.1f} s CPU, peak RSS {r:.0f} MiB")
    print("  its manifest's timings: " + ", ".join(f"{k.removesuffix('_seconds')} {v:.1f} s" for k, v in sorted(tm.items()))
          + f"; ingest+link+score {inner:.1f} s = {ratio(inner, totals(t, 'peer')[0]):.2f}x the DuckDB peer's total")
    print(f"\nStages are separate processes (phm ingest / link / score; the peer's ingest.py, link.py, score.py),"
          f" 2 threads each side,\nquery-engine memory {memory_mb} MiB for both (phm [link] memory_limit_mb;"
          f" DuckDB SET memory_limit). total: wall and CPU summed, RSS the largest stage's.")


def append_csv(path: Path, t: dict, args, m: dict, run_manifest: dict, rows_in: int, csv_bytes: int,
               extract_files: str) -> None:
    fields = ["date", "nproc", "mem_gib", "cpu_model", "patients", "seed", "rows_in", "csv_bytes", "memory_mb",
              "phm_bin", "duckdb"]
    values = [dt.datetime.now().isoformat(timespec="seconds"), m["nproc"], m["mem_gib"], m["cpu_model"],
              args.patients, args.seed, rows_in, csv_bytes, args.memory_mb, args.phm_bin, duckdb.__version__]
    # A stage that did not complete is an empty cell, as is every ratio over it.
    cell = lambda x, d: "" if math.isnan(x) else round(x, d)  # noqa: E731
    for side in ["phm", "peer"]:
        for s in STAGES + ["total"]:
            w, c, r = totals(t, side) if s == "total" else t.get(f"{side}_{s}", MISSING)
            fields += [f"{side}_{s}_wall_s", f"{side}_{s}_cpu_s", f"{side}_{s}_rss_mib"]
            values += [cell(w, 2), cell(c, 2), cell(r, 0)]
    for s in STAGES + ["total"]:
        a = totals(t, "phm") if s == "total" else t[f"phm_{s}"]
        b = totals(t, "peer") if s == "total" else t.get(f"peer_{s}", MISSING)
        fields += [f"ratio_{s}_wall", f"ratio_{s}_cpu", f"ratio_{s}_rss"]
        values += [cell(ratio(a[0], b[0]), 3), cell(ratio(a[1], b[1]), 3), cell(ratio(a[2], b[2]), 3)]
    w, c, r = t["phm_run"]
    fields += ["phm_run_wall_s", "phm_run_cpu_s", "phm_run_rss_mib", "phm_run_timings"]
    values += [round(w, 2), round(c, 2), round(r), json.dumps(run_manifest.get("timings", {}), sort_keys=True)]
    fields += ["extract_files", "peer_failed"]
    values += [extract_files, args.peer_failed]
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        out = csv.writer(f)
        if new:
            out.writerow(fields)
        out.writerow(values)
    print(f"\nappended to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timings", required=True)
    ap.add_argument("--phm-run", required=True)
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--extracts", required=True)
    ap.add_argument("--memory-mb", type=int, required=True)
    ap.add_argument("--phm-bin", default="", help="the phm binary measured (debug or release), for the record")
    ap.add_argument("--peer-failed", default="", help="why the DuckDB peer did not complete (then no ratios)")
    ap.add_argument("--csv", default=str(Path(__file__).resolve().parents[1] / "results/e2e.csv"))
    a = ap.parse_args()
    t = read_timings(Path(a.timings))
    run = Path(a.phm_run)
    run_manifest = json.loads((run / "manifest.json").read_text())
    rows_in = json.loads((run / "ingest-manifest.json").read_text())["totals"]["rows_in"]
    # Bytes on disk: of the CSV files, or of the gzip-compressed ones (`extract_files` says which).
    gz = sorted(Path(a.extracts).glob("*/*.csv.gz"))
    extract_files = "csv.gz" if gz else "csv"
    csv_bytes = sum(f.stat().st_size for f in gz or Path(a.extracts).glob("*/*.csv"))
    m = machine()
    kind = "gzip-compressed CSV" if gz else "CSV"
    print(f"\n== {a.patients} patients (seed {a.seed}): {rows_in} rows, {csv_bytes / 1e6:.1f} MB of {kind}; "
          f"{m['nproc']} cores, {m['mem_gib']} GiB, {m['cpu_model']}")
    if a.peer_failed:
        print(f"the DuckDB peer did not complete: {a.peer_failed}\nphm's figures alone (nothing checked against the peer):")
    print_table(t, run_manifest, a.memory_mb)
    append_csv(Path(a.csv), t, a, m, run_manifest, rows_in, csv_bytes, extract_files)


if __name__ == "__main__":
    main()
