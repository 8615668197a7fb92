"""Checks that phm and the DuckDB peer did the same work, before any ratio is printed.

Usage: python benches/peer/compare.py --phm RUN --peer DIR [--label NAME]
  RUN is a phm run folder (ingest-manifest.json, linked/features.parquet, scores/scores.parquet),
  DIR the peer's folder with the same three. Exit 0 when everything matches, 1 otherwise,
  printing where they differ.

1. Rows per file: rows_in, rows_out, quarantined by reason and opted out by reason (then a
   summary per extract and reason).
2. Features: the multiset of feature rows without the pseudonym (the two sides' pseudonyms
   differ: keyed BLAKE3 against SHA-256), numbers compared as doubles rounded to 6 d.p.
3. Scores: the multiset of (feature row, Charlson under every weighting, Charlson conditions,
   eFI, eFI category, eFI deficits), each side joined on its own pseudonym and the pseudonym
   then dropped: a patient's scores must sit with the same feature row on both sides.
Rows shown where they differ hold features and scores only (no identifier of any kind).
"""

import argparse
import json
import sys
from pathlib import Path

import duckdb

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
           "UBIGINT", "FLOAT", "DOUBLE")
SCORE_COLUMNS = ["charlson_1987", "charlson_quan_2011", "charlson_shmi", "charlson_shmi_modified", "efi", "efi_category"]
SHOWN = 5


def files(path: Path) -> dict[str, dict]:
    return {f["file"]: f for f in json.loads(path.read_text())["files"]}


def compare_rows(phm: Path, peer: Path) -> list[str]:
    """Where the rows of each file went, phm against the peer."""
    a, b = files(phm), files(peer)
    problems = []
    for f in sorted(set(a) | set(b)):
        if f not in a or f not in b:
            problems.append(f"{f}: only in {'phm' if f in a else 'the peer'}")
            continue
        for k in ["rows_in", "rows_out"]:
            if a[f][k] != b[f][k]:
                problems.append(f"{f}: {k} phm {a[f][k]} peer {b[f][k]}")
        for k in ["quarantined", "opted_out"]:
            for reason in sorted(set(a[f][k]) | set(b[f][k])):
                x, y = a[f][k].get(reason, 0), b[f][k].get(reason, 0)
                if x != y:
                    problems.append(f"{f}: {k} {reason} phm {x} peer {y}")
    return problems


def per_extract(path: Path) -> dict[tuple, int]:
    out: dict[tuple, int] = {}
    for f in files(path).values():
        for kind in ["quarantined", "opted_out"]:
            for reason, n in f[kind].items():
                out[(f["extract"], kind, reason)] = out.get((f["extract"], kind, reason), 0) + n
    return out


def print_summary(phm: Path, peer: Path) -> None:
    """Quarantined and opted-out rows per extract and reason where the two differ."""
    a, b = per_extract(phm), per_extract(peer)
    print(f"  {'extract':<18} {'reason':<32} {'phm':>9} {'peer':>9}   (where they differ)")
    for k in sorted(set(a) | set(b)):
        if a.get(k, 0) != b.get(k, 0):
            print(f"  {k[0]:<18} {k[2]:<32} {a.get(k, 0):>9} {b.get(k, 0):>9}")


def normalised(con, table: str, columns: list[tuple[str, str]]) -> str:
    """SELECT list: numbers as doubles rounded to 6 d.p., lists sorted, the rest as text."""
    out = []
    for name, kind in columns:
        q = f'"{name}"'
        if kind in NUMERIC or kind.startswith("DECIMAL"):
            out.append(f"round(CAST({table}.{q} AS DOUBLE), 6) AS {q}")
        elif kind.endswith("[]"):
            out.append(f"CAST(list_sort({table}.{q}) AS VARCHAR) AS {q}")
        else:
            out.append(f"CAST({table}.{q} AS VARCHAR) AS {q}")
    return ", ".join(out)


def columns(con, path: Path, drop=("pseudonym",)) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
            if r[0] not in drop]


def multiset(con, what: str, phm_sql: str, peer_sql: str) -> list[str]:
    """Rows in one multiset and not the other (EXCEPT ALL both ways)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE a AS {phm_sql}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE b AS {peer_sql}")
    na, nb = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in "ab")
    only_a = con.execute("SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)").fetchone()[0]
    only_b = con.execute("SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)").fetchone()[0]
    if only_a == 0 and only_b == 0:
        print(f"ok    {what}: {na} rows, the same multiset")
        return []
    names = [d[0] for d in con.execute("SELECT * FROM a LIMIT 0").description]
    lines = [f"{what}: phm {na} rows, peer {nb}; {only_a} rows only in phm, {only_b} only in the peer",
             "    columns: " + ",".join(names)]
    for side, q in [("phm ", "SELECT * FROM a EXCEPT ALL SELECT * FROM b"), ("peer", "SELECT * FROM b EXCEPT ALL SELECT * FROM a")]:
        for row in con.execute(f"SELECT * FROM ({q}) ORDER BY ALL LIMIT {SHOWN}").fetchall():
            lines.append(f"    only in {side}: " + ",".join("" if v is None else str(v) for v in row))
    return lines


def compare_features(con, phm: Path, peer: Path) -> list[str]:
    fa, fb = phm / "linked/features.parquet", peer / "linked/features.parquet"
    ca, cb = columns(con, fa), columns(con, fb)
    if [c for c, _ in ca] != [c for c, _ in cb]:
        return [f"features: columns differ: phm {[c for c, _ in ca]} peer {[c for c, _ in cb]}"]
    sel = lambda path, cols: f"SELECT {normalised(con, 'f', cols)} FROM read_parquet('{path}') f"  # noqa: E731
    return multiset(con, "features (pseudonym dropped)", sel(fa, ca), sel(fb, cb))


def compare_scores(con, phm: Path, peer: Path) -> list[str]:
    def side(run: Path) -> str:
        f, s = run / "linked/features.parquet", run / "scores/scores.parquet"
        fc = columns(con, f)
        sc = [c for c in columns(con, s) if c[0] in SCORE_COLUMNS + ["charlson_conditions", "efi_deficits"]]
        return (f"SELECT {normalised(con, 'f', fc)}, {normalised(con, 's', sc)} FROM read_parquet('{f}') f "
                f"JOIN read_parquet('{s}') s USING (pseudonym)")
    return multiset(con, "features + Charlson + eFI per patient (pseudonym dropped)", side(phm), side(peer))


def distributions(con, phm: Path, peer: Path) -> None:
    """Charlson (Quan 2011) and eFI categories, both sides, for the record."""
    for col in ["charlson_quan_2011", "efi_category"]:
        rows = con.execute(f"""
            SELECT coalesce(a.v, b.v) AS v, coalesce(a.n, 0), coalesce(b.n, 0) FROM
            (SELECT CAST({col} AS VARCHAR) v, count(*) n FROM read_parquet('{phm}/scores/scores.parquet') GROUP BY 1) a
            FULL JOIN
            (SELECT CAST({col} AS VARCHAR) v, count(*) n FROM read_parquet('{peer}/scores/scores.parquet') GROUP BY 1) b
            USING (v) ORDER BY TRY_CAST(v AS DOUBLE) NULLS LAST, v""").fetchall()
        print(f"  {col}: " + "; ".join(f"{v} {x}/{y}" for v, x, y in rows) + "  (phm/peer)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phm", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--label", default="phm")
    a = ap.parse_args()
    phm, peer = Path(a.phm), Path(a.peer)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    print(f"== checks: {a.label} ({phm}) against the DuckDB peer")
    problems = compare_rows(phm / "ingest-manifest.json", peer / "ingest-manifest.json")
    if problems:
        print("DIFFERS rows per file (rows in/out, quarantined and opted out by reason):")
        print_summary(phm / "ingest-manifest.json", peer / "ingest-manifest.json")
    else:
        n = len(files(phm / "ingest-manifest.json"))
        print(f"ok    rows per file: {n} files, rows in/out, quarantined and opted out by reason all equal")
    problems += compare_features(con, phm, peer)
    problems += compare_scores(con, phm, peer)
    distributions(con, phm, peer)
    if problems:
        print("MISMATCH:")
        for p in problems:
            print("  " + p)
        sys.exit(1)


if __name__ == "__main__":
    main()
