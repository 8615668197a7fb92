"""Shared by the DuckDB peer's stages (ingest.py, link.py, score.py, compare.py).

The peer reads the same pipeline TOML as `phm run` (paths relative to the file, the same keys
and defaults as crates/phm-run/src/pipeline.rs), opens DuckDB with the benchmark's limits
(`SET threads`, `SET memory_limit`, a spill folder), and reads the repository's data files:
contracts (`schemas/*.toml`) and code lists (`codelists/`, `#` lines are sources).
Not run on its own.
"""

import csv
import datetime as dt
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Pipeline:
    """What the peer needs from a pipeline definition (phm's defaults where a key is absent)."""

    reference_date: dt.date
    extract_date: dt.date
    extracts: Path
    postcode_lookup: Path | None
    programme_codes: list[str] = field(default_factory=list)
    national_data_opt_out: bool = False
    memory_limit_mb: int = 1536
    lookback_short_months: int = 12
    lookback_long_months: int = 24
    outcome_months: int = 12
    comorbidity_lookback_months: int = 60
    medicines_lookback_months: int = 12


def load_pipeline(path: str) -> Pipeline:
    """Read a pipeline TOML as phm does (relative paths against the file's folder)."""
    p = Path(path).resolve()
    t = tomllib.loads(p.read_text())
    rel = lambda v: (p.parent / v).resolve() if v else None  # noqa: E731
    dates, inputs = t.get("dates", {}), t.get("inputs", {})
    opt, link, score = t.get("opt_out", {}), t.get("link", {}), t.get("score", {})
    return Pipeline(
        reference_date=dt.date.fromisoformat(dates["reference_date"]),
        extract_date=dt.date.fromisoformat(dates["extract_date"]),
        extracts=rel(inputs["extracts"]),
        postcode_lookup=rel(inputs.get("postcode_lookup")),
        programme_codes=[c for c in opt.get("programme_codes", []) if c],
        national_data_opt_out=opt.get("national_data_opt_out", False),
        memory_limit_mb=link.get("memory_limit_mb", 1536),
        lookback_short_months=link.get("lookback_short_months", 12),
        lookback_long_months=link.get("lookback_long_months", 24),
        outcome_months=link.get("outcome_months", 12),
        comorbidity_lookback_months=score.get("comorbidity_lookback_months", 60),
        medicines_lookback_months=score.get("medicines_lookback_months", 12),
    )


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's last day (phm-sql's add_months)."""
    total = day.year * 12 + day.month - 1 + months
    y, m = divmod(total, 12)
    d = day.day
    while True:
        try:
            return dt.date(y, m + 1, d)
        except ValueError:
            d -= 1


def connect(memory_mb: int, threads: int, spill: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the benchmark's limits; it spills to `spill` beyond them."""
    spill.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET preserve_insertion_order = true")
    return con


def load_contracts() -> dict:
    """Every contract in schemas/, by extract name."""
    out = {}
    for f in sorted((REPO / "schemas").glob("*.toml")):
        c = tomllib.loads(f.read_text())
        out[c["name"]] = c
    return out


def code_list(path: Path) -> list[dict]:
    """Rows of a code-list CSV (`#` lines and blank lines skipped; quoted fields whole)."""
    lines = [l for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]
    return list(csv.DictReader(lines))


def sql_text(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def ident(s: str) -> str:
    """A quoted SQL identifier."""
    return '"' + s.replace('"', '""') + '"'


def date_lit(d: dt.date) -> str:
    return f"DATE '{d.isoformat()}'"


def write_json(path: Path, value) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
