"""The DuckDB peer's ingest: what `phm ingest` does, in DuckDB SQL.

Usage: python benches/peer/ingest.py --pipeline P.toml --key KEY --out DIR [--threads 2]
  (the pipeline gives the extracts, postcode lookup, dates, opt-out settings and the memory
  limit, as for `phm run`; KEY is a `phm key new` file). Writes DIR/pseudonymised/<extract>/
  data.parquet (one file per extract) and DIR/ingest-manifest.json (per file: rows_in, rows_out,
  quarantined and opted_out by reason, as phm's ingest manifest).

How:
- Every extract's CSV files are read by DuckDB's CSV reader, all columns as text, with the
  contract's columns (headers are checked here first, as phm rejects a file whose header is
  not the contract's). Rows the reader refuses are stored by DuckDB (`store_rejects`) and
  mapped to phm's reasons: invalid UTF-8 -> `encoding`, too few / too many fields ->
  `field_count`, a quote DuckDB cannot parse -> `unterminated_quote`.
- Rows are grouped by file and fields with a count (identical rows are one group; a valid
  group's rows after its first are `duplicate_row`); each group is validated with the rules of
  rules.py. For extracts with a unique key the files are first loaded into a table, whose row
  ids keep file order, so the first row of a key is kept and later ones are `duplicate_key`.
- Opt-outs as phm (crates/phm-ingest/src/optout.rs): type 1 by the latest dissent / withdrawal
  code in valid GP events (a same-day tie is dissent), programme codes from the pipeline, the
  national list when the pipeline applies it; type 1 > programme > national.
- Pseudonyms: DuckDB has no keyed BLAKE3 (nor HMAC). The peer uses sha256(key_hex || nhs10):
  SHA-256 of the key's 64 hex characters followed by the ten digits, as 64 hex characters.
  This is a plain hash of key||value, NOT a keyed MAC. What that costs: (1) a secret-prefix
  hash is not a MAC/PRF by construction (SHA-256 allows length extension), so it is weaker in
  principle than phm's keyed BLAKE3 or HMAC-SHA-256 and not fit for real pseudonymisation (with
  so few possible NHS numbers, everything rests on the key); (2) SHA-256 is slower than BLAKE3:
  hashed on every row it would dominate ingest, so the peer hashes each distinct NHS number
  once per extract and joins (phm too hashes a patient once per file); (3) pseudonyms differ
  from phm's, so the benchmark compares rows without them.
- Direct identifiers are dropped; date of birth becomes age and 5-year band at the reference
  date, postcode LSOA and IMD decile (or the district when not in the lookup); Parquet
  (zstd level 1, as phm writes).

Known differences from phm, on input the generator never writes: phm's duplicate test compares
a row's bytes, the peer its fields (`"a",b` and `a,b` are duplicates here, not in phm); rows
with quotes follow DuckDB's CSV dialect, which refuses text after a closing quote and lets a
never-closed quote swallow later lines, where phm reads `"ab"c` as `abc` and quarantines only
the first line. The benchmark's check finds either, should a set contain it.
"""

import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

from common import REPO, code_list, connect, load_contracts, load_pipeline, sql_text, write_json
from rules import ContractSql, macros

READER_REASONS = {  # DuckDB reject error type -> phm reason, in phm's order of precedence
    "UNQUOTED VALUE": "unterminated_quote",
    "LINE SIZE OVER MAXIMUM": "unterminated_quote",
    "INVALID ENCODING": "encoding",
    "INVALID UNICODE": "encoding",
    "MISSING COLUMNS": "field_count",
    "TOO MANY COLUMNS": "field_count",
}
PRECEDENCE = ["unterminated_quote", "encoding", "field_count"]
EVENTS, NATIONAL = "gp_events", "national_opt_out"


class Rejected(Exception):
    """A file phm would reject whole (its default, `on_rejected_file = "stop"`)."""


def submitter(f: Path) -> str:
    """The submitter a file's name gives: `<ODS>.csv` or gzip-compressed `<ODS>.csv.gz`."""
    return f.name.removesuffix(".gz").removesuffix(".csv")


# The same in DuckDB's SQL, on a `filename` column.
SUBMITTER_SQL = "regexp_replace(parse_filename({}), '\\.csv(\\.gz)?$', '')"


def discover(extracts: Path, contracts: dict) -> dict[str, list[Path]]:
    """`<extract>/<ODS>.csv` (or `.csv.gz`) files by extract; anything else is refused as phm
    refuses it. DuckDB's CSV reader decompresses `.gz` itself."""
    found = {}
    for folder in sorted(p for p in extracts.iterdir() if p.is_dir()):
        if folder.name not in contracts:
            raise Rejected(f"{folder.name}/: no contract in schemas/ for this extract")
        files = sorted(p for p in folder.iterdir() if p.is_file())
        for f in files:
            if not f.name.endswith((".csv", ".csv.gz")) or submitter(f) == "":
                raise Rejected(f"{folder.name}/{f.name}: not a `.csv` (or `.csv.gz`) file named after its submitter")
        if len({submitter(f) for f in files}) != len(files):
            raise Rejected(f"{folder.name}/: a submitter sent this extract twice (`.csv` and `.csv.gz`)")
        found[folder.name] = files
    return found


def check_header(path: Path, names: list[str]) -> None:
    """phm's whole-file checks before rows: a header line, as text, with the contract's columns."""
    with (gzip.open if path.name.endswith(".gz") else open)(path, "rb") as f:
        line = f.readline()
    line = line.rstrip(b"\n").removeprefix(b"\xef\xbb\xbf").removesuffix(b"\r")
    if not line:
        raise Rejected(f"{path.parent.name}/{path.name}: empty (no header line)")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(f"{path.parent.name}/{path.name}: the header is not text") from None
    header = [h.strip() for h in next(csv.reader([text]))]
    if header != names:
        raise Rejected(f"{path.parent.name}/{path.name}: header is not the contract's ({','.join(names)})")


def read_csv(files: list[Path], rules: ContractSql) -> str:
    """DuckDB's CSV reader on an extract's files: the contract's columns as text, refused rows
    stored in rej_<extract> / rejscan_<extract>."""
    columns = "{" + ", ".join(f"{sql_text(n)}: 'VARCHAR'" for n in rules.names()) + "}"
    paths = "[" + ", ".join(sql_text(str(f)) for f in files) + "]"
    return (f"read_csv({paths}, auto_detect = false, header = true, delim = ',', quote = '\"', "
            f"escape = '\"', columns = {columns}, filename = true, max_line_size = 4194304, "
            f"store_rejects = true, rejects_table = 'rej_{rules.name}', rejects_scan = 'rejscan_{rules.name}')")


def validate(con, files: list[Path], rules: ContractSql) -> None:
    """v_<extract>: one row per distinct (file, fields) with its count `n`, the first row id
    when the extract has a key, the NHS digits `nd`, the reason (NULL when valid) and the
    fields and parsed dates the output needs."""
    x, source, first = rules.name, read_csv(files, rules), ""
    if rules.key:
        # A table keeps file order in its row ids: the first row of a key is the one kept.
        con.execute(f"CREATE TEMP TABLE raw_{x} AS SELECT * FROM {source}")
        source, first = f"raw_{x}", ", min(rowid) AS first"
    keep = ", ".join(rules.kept_columns())
    nhs = f"f{rules.nhs}"
    con.execute(f"""
        CREATE TEMP TABLE v_{x} AS
        WITH g AS (
            SELECT {SUBMITTER_SQL.format('filename')} AS submitter, {', '.join(rules.fields())},
                   count(*) AS n{first}
            FROM {source} GROUP BY ALL),
        ids AS ({rules.nhs_numbers('g')}),
        q AS (SELECT {', '.join(['g.*', 'ids.nd', 'ids.nhs_reason'] + rules.parsed())}
              FROM g JOIN ids ON g.{nhs} IS NOT DISTINCT FROM ids.{nhs})
        SELECT submitter, n{', first' if first else ''}, nd, {rules.reason()} AS reason, {keep}
        FROM q""")
    if rules.key:
        con.execute(f"DROP TABLE raw_{x}")


def reader_rejects(con, x: str) -> dict[str, dict[str, int]]:
    """Rows DuckDB's reader refused, by submitter and phm reason (one reason a line)."""
    rows = con.execute(f"""
        SELECT {SUBMITTER_SQL.format('s.file_path')}, e.file_id, e.line, list(DISTINCT e.error_type)
        FROM rej_{x} e JOIN rejscan_{x} s USING (scan_id, file_id) GROUP BY ALL""").fetchall()
    out: dict[str, dict[str, int]] = {}
    for submitter, _, _, errors in rows:
        unknown = [e for e in errors if e not in READER_REASONS]
        if unknown:
            raise SystemExit(f"peer: DuckDB refused a row of {x}/{submitter}.csv for {unknown}, which has no phm reason")
        reason = min((READER_REASONS[e] for e in errors), key=PRECEDENCE.index)
        counts = out.setdefault(submitter, {})
        counts[reason] = counts.get(reason, 0) + 1
    return out


def opt_outs(con, pipeline, contracts: dict, have_national: bool) -> None:
    """optouts(nd, reason): type 1 (latest dissent/withdrawal on or before the extract date;
    only valid rows count, and valid rows are never after it), programme, national."""
    ev = ContractSql(contracts[EVENTS], pipeline.extract_date, pipeline.reference_date)
    names = ev.names()
    code, day = f"f{names.index('snomed_concept_id')}", f"p{names.index('event_date')}"
    rows = code_list(REPO / "codelists/opt-out-codes.csv")
    dissent = [r["code"] for r in rows if r["kind"] == "type1_dissent"]
    withdrawal = [r["code"] for r in rows if r["kind"] == "type1_withdrawal"]
    lst = lambda codes: ", ".join(sql_text(c) for c in codes) or "NULL"  # noqa: E731
    parts = [f"""
        SELECT nd, 1 AS rank, 'type1_opt_out' AS reason FROM v_{EVENTS}
        WHERE reason IS NULL AND {code} IN ({lst(dissent + withdrawal)})
        GROUP BY nd HAVING max({day}) FILTER (WHERE {code} IN ({lst(dissent)})) = max({day})""",
             f"""SELECT DISTINCT nd, 2, 'programme_opt_out' FROM v_{EVENTS}
        WHERE reason IS NULL AND {code} IN ({lst(pipeline.programme_codes)})"""]
    if pipeline.national_data_opt_out:
        if not have_national:
            raise Rejected("the national data opt-out applies, but there is no national_opt_out/<ODS>.csv")
        parts.append(f"SELECT DISTINCT nd, 3, 'national_data_opt_out' FROM v_{NATIONAL} WHERE reason IS NULL")
    con.execute(f"""CREATE TEMP TABLE optouts AS
        SELECT nd, arg_min(reason, rank) AS reason FROM ({' UNION ALL '.join(parts)}) GROUP BY nd""")


def kept(con, rules: ContractSql) -> None:
    """k_<extract>: valid rows, one per duplicate group, the first of each key, with the
    opt-out reason that removes them (NULL: written out)."""
    x = rules.name
    keeper = "true"
    if rules.key:
        keeper = f"row_number() OVER (PARTITION BY submitter, {', '.join(rules.key_columns())} ORDER BY first) = 1"
    con.execute(f"""CREATE TEMP VIEW k_{x} AS
        SELECT v.*, {keeper} AS keeper, o.reason AS opted
        FROM v_{x} v LEFT JOIN optouts o USING (nd) WHERE v.reason IS NULL""")


def counts(con, rules: ContractSql) -> list[tuple]:
    """(submitter, kind, reason, rows) for where every row of the extract went."""
    x = rules.name
    control = rules.org is None  # a list (the national opt-out): every kept row is an entry
    return con.execute(f"""
        SELECT submitter, 'rows_in', NULL, sum(n) FROM v_{x} GROUP BY 1
        UNION ALL SELECT submitter, 'quarantined', reason, sum(n) FROM v_{x} WHERE reason IS NOT NULL GROUP BY 1, 3
        UNION ALL SELECT submitter, 'quarantined', 'duplicate_row', sum(n - 1) FROM v_{x} WHERE reason IS NULL GROUP BY 1
        UNION ALL SELECT submitter, 'quarantined', 'duplicate_key', count(*) FROM k_{x} WHERE NOT keeper GROUP BY 1
        UNION ALL SELECT submitter, 'opted_out', {"'opt_out_list_entry'" if control else 'opted'}, count(*)
            FROM k_{x} WHERE keeper AND {'true' if control else 'opted IS NOT NULL'} GROUP BY 1, 3
        UNION ALL SELECT submitter, 'rows_out', NULL, count(*)
            FROM k_{x} WHERE keeper AND {'false' if control else 'opted IS NULL'} GROUP BY 1
    """).fetchall()


def write(con, rules: ContractSql, key_hex: str, out: Path) -> None:
    """The extract's pseudonymised Parquet: kept rows not opted out, phm's columns."""
    x = rules.name
    dest = out / "pseudonymised" / x
    dest.mkdir(parents=True, exist_ok=True)
    pc = rules.postcode()
    lookup = f"LEFT JOIN lookup l ON l.pc = phm_postcode(k.f{pc})" if pc is not None else ""
    con.execute(f"""COPY (
        WITH k AS (SELECT * FROM k_{x} WHERE keeper AND opted IS NULL),
        ps AS (SELECT nd, sha256({sql_text(key_hex)} || nd) AS pseudonym FROM (SELECT DISTINCT nd FROM k))
        SELECT {', '.join(rules.output())} FROM k JOIN ps USING (nd) {lookup}
    ) TO {sql_text(str(dest / 'data.parquet'))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)""")


def load_lookup(con, path: Path | None) -> None:
    """lookup(pc, lsoa_code, imd_decile): the postcode lookup keyed as phm keys it."""
    if path is None:
        con.execute("CREATE TEMP TABLE lookup (pc VARCHAR, lsoa_code VARCHAR, imd_decile INT)")
        return
    con.execute(f"""CREATE TEMP TABLE lookup AS
        SELECT phm_postcode(postcode) AS pc, any_value(trim(lsoa_code)) AS lsoa_code,
               any_value(CAST(trim(imd_decile) AS INT)) AS imd_decile
        FROM read_csv({sql_text(str(path))}, header = true, all_varchar = true) GROUP BY 1""")


def report(extract: str, files: list[Path], rows: list[tuple], rejects: dict) -> list[dict]:
    """Per-file reports in the shape of phm's ingest manifest (zero counts left out)."""
    by = {submitter(f): {"file": f"{extract}/{f.name}", "extract": extract, "submitter": submitter(f),
                         "rows_in": 0, "rows_out": 0, "quarantined": {}, "opted_out": {}} for f in files}
    for org, kind, reason, n in rows:
        r, n = by[org], int(n or 0)
        if kind in ("rows_in", "rows_out"):
            r[kind] += n
        elif n:
            r[kind][reason] = r[kind].get(reason, 0) + n
    for org, reasons in rejects.items():
        r = by[org]
        for reason, n in reasons.items():
            r["rows_in"] += n
            r["quarantined"][reason] = r["quarantined"].get(reason, 0) + n
    for r in by.values():
        wrong = r["quarantined"].get("wrong_submitter", 0)
        if wrong * 2 > r["rows_in"]:
            raise Rejected(f"{r['file']}: {wrong} of {r['rows_in']} rows name another organisation")
        assert r["rows_in"] == r["rows_out"] + sum(r["quarantined"].values()) + sum(r["opted_out"].values()), r["file"]
    return list(by.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    started = time.perf_counter()
    p = load_pipeline(a.pipeline)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    key_hex = Path(a.key).read_text().strip().lower()
    con = connect(p.memory_limit_mb, a.threads, out / "spill")
    contracts = load_contracts()
    try:
        files = discover(p.extracts, contracts)
        all_rules = {x: ContractSql(contracts[x], p.extract_date, p.reference_date) for x in files}
        for x, fs in files.items():
            for f in fs:
                check_header(f, all_rules[x].names())
        macros(con)
        con.execute(all_rules.get(EVENTS, next(iter(all_rules.values()))).generalise_macros())
        load_lookup(con, p.postcode_lookup)
        # Opt-outs are read from GP events (and the national list) before anything is written.
        first = [x for x in (EVENTS, NATIONAL) if x in files]
        if EVENTS not in files:
            raise Rejected("no gp_events extract: opt-outs are read from it")
        for x in first:
            validate(con, files[x], all_rules[x])
        opt_outs(con, p, contracts, NATIONAL in files)
        reports = []
        for x in first + [x for x in files if x not in first]:
            rules = all_rules[x]
            if x not in first:
                validate(con, files[x], rules)
            kept(con, rules)
            reports += report(x, files[x], counts(con, rules), reader_rejects(con, x))
            if rules.org is not None:
                write(con, rules, key_hex, out)
            con.execute(f"DROP VIEW k_{x}")
            con.execute(f"DROP TABLE v_{x}")
    except Rejected as e:
        sys.exit(f"peer ingest: file rejected, nothing was ingested: {e}")
    reports.sort(key=lambda r: r["file"])
    write_json(out / "ingest-manifest.json", {"stage": "ingest", "engine": "duckdb", "files": reports,
                                              "seconds": time.perf_counter() - started})
    total = sum(r["rows_in"] for r in reports)
    print(f"peer ingest: {len(reports)} files, {total} rows in, {sum(r['rows_out'] for r in reports)} out")


if __name__ == "__main__":
    main()
