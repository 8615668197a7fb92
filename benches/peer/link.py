"""The DuckDB peer's link: the same sql/*.sql files `phm link` runs, on the peer's Parquet.

Usage: python benches/peer/link.py --pipeline P.toml --run DIR [--sql-dir sql] [--threads 2]
  (DIR is the peer's ingest --out). Every folder of DIR/pseudonymised/ is a view named after
  its extract; each SQL file in name order becomes a table (`01_spine.sql` -> spine, ...), its
  `$parameters` replaced by DATE literals as benches/link.sh does; spine and features are
  written to DIR/linked/<table>.parquet, sorted by pseudonym (as phm writes them).
Windows and the memory limit come from the pipeline's [link] (phm's defaults otherwise).
"""

import argparse
import glob
import os
import re
import time
from pathlib import Path

from common import add_months, connect, load_pipeline, REPO


def parameters(p) -> dict[str, str]:
    """The dates the SQL files use (crates/phm-sql/src/params.rs)."""
    ref = p.reference_date
    return {
        "reference_date": ref.isoformat(),
        "start_12m": add_months(ref, -p.lookback_short_months).isoformat(),
        "start_24m": add_months(ref, -p.lookback_long_months).isoformat(),
        "outcome_end": add_months(ref, p.outcome_months).isoformat(),
        "ages_as_of": ref.isoformat(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--sql-dir", default=str(REPO / "sql"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    started = time.perf_counter()
    p = load_pipeline(a.pipeline)
    run = Path(a.run)
    params = parameters(p)
    con = connect(p.memory_limit_mb, a.threads, run / "spill")
    for d in sorted(glob.glob(os.path.join(run, "pseudonymised", "*"))):
        con.execute(f"CREATE VIEW {os.path.basename(d)} AS SELECT * FROM read_parquet('{d}/*.parquet')")
    # As benches/link.sh: each step a table, `$name` -> DATE 'YYYY-MM-DD'.
    for f in sorted(glob.glob(os.path.join(a.sql_dir, "*.sql"))):
        name = re.sub(r"^\d+_", "", os.path.basename(f)[:-4])
        text = re.sub(r"\$(\w+)", lambda m: "DATE '%s'" % params[m.group(1)], open(f).read())
        con.execute(f"CREATE TABLE {name} AS {text}")
    (run / "linked").mkdir(exist_ok=True)
    for name in ["spine", "features"]:
        con.execute(f"COPY (SELECT * FROM {name} ORDER BY pseudonym) TO '{run}/linked/{name}.parquet' "
                    "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)")
    n = con.execute("SELECT count(*) FROM features").fetchone()[0]
    print(f"peer link: {n} patients in features ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
