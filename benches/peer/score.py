"""The DuckDB peer's score: Charlson and the electronic Frailty Index by joins with the code
lists in codelists/, as `phm score` computes them (crates/phm-score).

Usage: python benches/peer/score.py --pipeline P.toml --run DIR [--threads 2]
  (DIR holds the peer's pseudonymised/ and linked/spine.parquet). Writes DIR/scores/scores.parquet,
  one row per spine patient sorted by pseudonym: charlson_1987, charlson_quan_2011,
  charlson_shmi, charlson_shmi_modified, charlson_conditions (sorted, hierarchy not applied),
  efi, efi_category, efi_deficits (sorted).

- Charlson: every diagnosis (primary and `;`-separated secondary) of admitted-care episodes
  admitted after the reference date minus [score] comorbidity_lookback_months (60) up to the
  date; ICD-10 normalised as phm does (dots and whitespace dropped, a letter and 2-4 digits
  kept, upper case); a code counts for every condition with a prefix of it
  (charlson/icd10-quan2005.csv); hierarchy diabwc > diab, msld > mld, metacanc > canc; weights
  from charlson/weights.csv; a negative total is 0.
- eFI: deficits = efi/*.csv lists (SNOMED CT, compared as integers) with a code in GP events on
  or before the reference date, plus polypharmacy (5+ distinct dm+d codes issued in the 12
  months up to the date); efi = deficits / 36; fit <= 0.12 < mild <= 0.24 < moderate <= 0.36 <
  severe, compared exactly as deficits * 100 against 36 * boundary.
"""

import argparse
import time
from pathlib import Path

from common import add_months, code_list, connect, date_lit, load_pipeline, sql_text, REPO

HIERARCHY = [("diabwc", "diab"), ("msld", "mld"), ("metacanc", "canc")]
# Whitespace as Rust's char::is_whitespace, and dots: what ICD-10 normalisation drops.
DROPPED = r"[.\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"


def values(rows: list[tuple]) -> str:
    return ", ".join("(" + ", ".join(sql_text(str(v)) for v in r) + ")" for r in rows)


def load_lists(con) -> list[str]:
    """Tables charlson_codes(condition, prefix), charlson_weights(condition, <weightings>),
    hierarchy(severe, mild), efi_codes(code, deficit); returns the weightings' names."""
    codes = code_list(REPO / "codelists/charlson/icd10-quan2005.csv")
    con.execute(f"CREATE TEMP TABLE charlson_codes AS SELECT * FROM (VALUES "
                f"{values([(r['condition'], r['icd10_prefix']) for r in codes])}) t(condition, prefix)")
    weights = code_list(REPO / "codelists/charlson/weights.csv")
    names = [k for k in weights[0] if k not in ("condition", "name")]
    cols = ", ".join(f"CAST(w{i} AS INT) AS {n}" for i, n in enumerate(names))
    con.execute(f"CREATE TEMP TABLE charlson_weights AS SELECT condition, {cols} FROM (VALUES "
                f"{values([[r['condition']] + [r[n].strip() for n in names] for r in weights])}) "
                f"t(condition, {', '.join(f'w{i}' for i in range(len(names)))})")
    con.execute(f"CREATE TEMP TABLE hierarchy AS SELECT * FROM (VALUES {values(HIERARCHY)}) t(severe, mild)")
    efi = [(int(r["code"].strip()), f.stem)
           for f in sorted((REPO / "codelists/efi").glob("*.csv")) for r in code_list(f)]
    con.execute(f"CREATE TEMP TABLE efi_codes AS SELECT CAST(code AS UBIGINT) AS code, deficit "
                f"FROM (VALUES {values(efi)}) t(code, deficit)")
    return names


def charlson(con, p, names: list[str]) -> None:
    """charlson(pseudonym, <weighting columns>, charlson_conditions) for spine patients."""
    ref = p.reference_date
    start = add_months(ref, -p.comorbidity_lookback_months)
    column = lambda n: n if n.startswith("charlson") else f"charlson_{n}"  # noqa: E731
    sums = ", ".join(f"CAST(greatest(coalesce(sum(w.{n}) FILTER (WHERE NOT h.dropped), 0), 0) AS INT) AS {column(n)}"
                     for n in names)
    con.execute(f"""CREATE TEMP TABLE charlson AS
    WITH diagnoses AS (
        SELECT a.pseudonym, unnest(list_prepend(a.primary_diagnosis,
                                                coalesce(string_split(a.secondary_diagnoses, ';'), []))) AS raw
        FROM apc a SEMI JOIN spine s ON s.pseudonym = a.pseudonym
        WHERE a.admission_date > {date_lit(start)} AND a.admission_date <= {date_lit(ref)}),
    codes AS (
        SELECT DISTINCT pseudonym,
               upper(regexp_extract(regexp_replace(raw, '{DROPPED}', '', 'g'), '^[A-Za-z][0-9]{{2,4}}')) AS code
        FROM diagnoses),
    conditions AS (
        SELECT DISTINCT c.pseudonym, l.condition
        FROM (SELECT pseudonym, unnest([code[1:3], code[1:4], code[1:5]]) AS prefix FROM codes WHERE code <> '') c
        JOIN charlson_codes l USING (prefix)),
    scored AS (
        SELECT c.pseudonym, c.condition, EXISTS (
            SELECT 1 FROM hierarchy h JOIN conditions s ON s.condition = h.severe
            WHERE h.mild = c.condition AND s.pseudonym = c.pseudonym) AS dropped
        FROM conditions c)
    SELECT h.pseudonym, {sums}, list_sort(list(h.condition)) AS charlson_conditions
    FROM scored h JOIN charlson_weights w USING (condition) GROUP BY h.pseudonym""")


def efi(con, p) -> None:
    """efi(pseudonym, efi_deficits) for spine patients with a deficit."""
    ref = p.reference_date
    start = add_months(ref, -p.medicines_lookback_months)
    con.execute(f"""CREATE TEMP TABLE efi AS
    WITH deficits AS (
        SELECT DISTINCT e.pseudonym, l.deficit
        FROM gp_events e JOIN efi_codes l ON l.code = TRY_CAST(e.snomed_concept_id AS UBIGINT)
        WHERE e.event_date <= {date_lit(ref)}
        UNION
        SELECT pseudonym, 'polypharmacy' FROM gp_medications
        WHERE issue_date > {date_lit(start)} AND issue_date <= {date_lit(ref)}
        GROUP BY pseudonym HAVING count(DISTINCT dmd_code) >= 5)
    SELECT d.pseudonym, list_sort(list(d.deficit)) AS efi_deficits
    FROM deficits d SEMI JOIN spine s ON s.pseudonym = d.pseudonym GROUP BY d.pseudonym""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    started = time.perf_counter()
    p = load_pipeline(a.pipeline)
    run = Path(a.run)
    con = connect(p.memory_limit_mb, a.threads, run / "spill")
    for t in ["apc", "gp_events", "gp_medications"]:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{run}/pseudonymised/{t}/*.parquet')")
    con.execute(f"CREATE VIEW spine AS SELECT * FROM read_parquet('{run}/linked/spine.parquet')")
    names = load_lists(con)
    charlson(con, p, names)
    efi(con, p)
    weightings = ", ".join(f"coalesce(c.{n if n.startswith('charlson') else 'charlson_' + n}, 0) AS "
                           f"{n if n.startswith('charlson') else 'charlson_' + n}" for n in names)
    (run / "scores").mkdir(exist_ok=True)
    con.execute(f"""COPY (
        SELECT s.pseudonym, {weightings}, coalesce(c.charlson_conditions, []) AS charlson_conditions,
               len(coalesce(e.efi_deficits, [])) / 36 AS efi,
               CASE WHEN len(coalesce(e.efi_deficits, [])) * 100 <= 12 * 36 THEN 'fit'
                    WHEN len(coalesce(e.efi_deficits, [])) * 100 <= 24 * 36 THEN 'mild'
                    WHEN len(coalesce(e.efi_deficits, [])) * 100 <= 36 * 36 THEN 'moderate'
                    ELSE 'severe' END AS efi_category,
               coalesce(e.efi_deficits, []) AS efi_deficits
        FROM spine s LEFT JOIN charlson c USING (pseudonym) LEFT JOIN efi e USING (pseudonym)
        ORDER BY s.pseudonym
    ) TO '{run}/scores/scores.parquet' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)""")
    n = con.execute(f"SELECT count(*) FROM '{run}/scores/scores.parquet'").fetchone()[0]
    print(f"peer score: {n} patients scored ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
