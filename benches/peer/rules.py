"""The extract contracts (schemas/*.toml) as DuckDB SQL: the DuckDB peer's copy of phm's row
validation (crates/phm-ingest/src/validate.rs, crates/phm-contract) and of its output columns
(crates/phm-ingest/src/frame.rs, generalise.rs).

Each row gets at most one quarantine reason, the first fault in phm's documented order: the NHS
number (`missing_required` when empty, `nhs_number_not_numeric`, `nhs_number_wrong_length`,
`nhs_number_invalid_check_digit`: spaces, hyphens and tabs removed, Modulus 11 over the first
nine digits), `missing_required`, `date_unparseable` (strict: the contract's format and a real
calendar date), `value_invalid` (allowed codes, integers with min/max, finite decimals, SNOMED
ids of 6-18 digits, ODS codes of 3-6 letters or digits; text, ICD-10 and postcodes are not
checked, as in phm), `date_in_future` (after the extract date), `wrong_submitter`. Reasons that
come from reading (`encoding`, `field_count`, quotes) are DuckDB's CSV reader's, mapped in
ingest.py; duplicates are found there too.

The SQL works on a row of fields named f0, f1, ... (the contract's columns in order, NULL when
empty) and `submitter` (the file's name); `macros()` must be run once on the connection.
Not run on its own.
"""

from common import date_lit, ident, sql_text

# Strict dates as phm parses them (crates/phm-contract/src/date.rs), a NHS number's digits and
# its Modulus 11 check digit, SNOMED CT identifiers' Verhoeff check digit.
MACROS = r"""
-- Strict dates: exactly the format's digits and separators (GLOB), then a real calendar date
-- (DuckDB's cast and strptime refuse 2023-02-29 and month 13 as phm does).
CREATE OR REPLACE MACRO phm_date_iso(s) AS
    CASE WHEN s GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' THEN TRY_CAST(s AS DATE) END;
CREATE OR REPLACE MACRO phm_date_dmy(s) AS
    CASE WHEN s GLOB '[0-9][0-9]/[0-9][0-9]/[0-9][0-9][0-9][0-9]'
         THEN CAST(TRY_STRPTIME(s, '%d/%m/%Y') AS DATE) END;
CREATE OR REPLACE MACRO phm_date_compact(s) AS
    CASE WHEN s GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
         THEN CAST(TRY_STRPTIME(s, '%Y%m%d') AS DATE) END;
-- The digits of a NHS number once spaces, hyphens and tabs are removed; NULL when anything
-- else is in it (not numeric). Ten bare digits, nearly every row, skip the replace.
CREATE OR REPLACE MACRO phm_nhs_digits(s) AS CASE
    WHEN s IS NULL THEN ''
    WHEN strlen(s) = 10 AND regexp_full_match(s, '[0-9]{10}') THEN s
    WHEN regexp_matches(s, '[^0-9 \t-]') THEN NULL
    ELSE regexp_replace(s, '[ \t-]', '', 'g') END;
-- Modulus 11 on ten digits: weights 10 down to 2 on the first nine; 11 - remainder is the
-- check digit (11 is 0, 10 is never valid).
CREATE OR REPLACE MACRO phm_mod11(v) AS
    (11 - (v // 1000000000 * 10 + v // 100000000 % 10 * 9 + v // 10000000 % 10 * 8
           + v // 1000000 % 10 * 7 + v // 100000 % 10 * 6 + v // 10000 % 10 * 5
           + v // 1000 % 10 * 4 + v // 100 % 10 * 3 + v // 10 % 10 * 2) % 11) % 11 = v % 10;
CREATE OR REPLACE MACRO phm_nhs_check_ok(d) AS phm_mod11(CAST(d AS BIGINT));
-- A SNOMED CT identifier (crates/phm-contract/src/snomed.rs): 6 to 18 digits, no leading
-- zero, a Verhoeff check digit (the position permutations, then the D5 products, from the
-- right).
CREATE OR REPLACE MACRO phm_verhoeff_ok(s) AS list_reduce(
    list_transform(range(length(s)),
        lambda i: [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1], [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]][(i % 8) + 1][CAST(substr(reverse(s), i + 1, 1) AS INTEGER) + 1]),
    lambda a, x: [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1], [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]][a + 1][x + 1]) = 0;
CREATE OR REPLACE MACRO phm_sctid_ok(s) AS
    regexp_full_match(s, '[1-9][0-9]{5,17}') AND phm_verhoeff_ok(s);
"""

DATE_PARSERS = {"%Y-%m-%d": "phm_date_iso", "%d/%m/%Y": "phm_date_dmy", "%Y%m%d": "phm_date_compact"}


def macros(con) -> None:
    con.execute(MACROS)


class ContractSql:
    """SQL for one contract: fields, checks, the reason, and the pseudonymised output."""

    def __init__(self, contract: dict, extract_date, reference_date):
        self.c = contract
        self.cols = contract["columns"]
        self.extract_date = extract_date
        self.reference_date = reference_date
        self.nhs = next(i for i, c in enumerate(self.cols) if c["type"] == "nhs_number")
        sub = contract.get("submitter_column")
        self.org = next((i for i, c in enumerate(self.cols) if c["name"] == sub), None)
        self.key = [next(i for i, c in enumerate(self.cols) if c["name"] == k) for k in contract.get("unique_key", [])]
        self.dates = [i for i, c in enumerate(self.cols) if c["type"] == "date"]

    @property
    def name(self) -> str:
        return self.c["name"]

    def names(self) -> list[str]:
        return [c["name"] for c in self.cols]

    def fields(self) -> list[str]:
        """`nullif(column, '') AS f<i>` for every column: empty fields are NULL."""
        return [f"nullif({ident(c['name'])}, '') AS f{i}" for i, c in enumerate(self.cols)]

    def nhs_numbers(self, rows: str) -> str:
        """SELECT over the distinct NHS number fields of `rows`: the field, its digits `nd`
        and `nhs_reason`, the NHS number's fault if any. Checked once per distinct value (a
        patient's many rows share one), then joined back."""
        f = f"f{self.nhs}"
        return f"""SELECT {f}, nd, CASE
            WHEN nd IS NULL THEN 'nhs_number_not_numeric'
            WHEN nd = '' THEN 'missing_required'
            WHEN strlen(nd) <> 10 THEN 'nhs_number_wrong_length'
            WHEN NOT phm_nhs_check_ok(nd) THEN 'nhs_number_invalid_check_digit' END AS nhs_reason
        FROM (SELECT {f}, phm_nhs_digits({f}) AS nd FROM (SELECT DISTINCT {f} FROM {rows}))"""

    def parsed(self) -> list[str]:
        """Each date column parsed (`p<i>`, NULL when empty or not a date) from f<i>."""
        return [f"{DATE_PARSERS[self.cols[i]['format']]}(f{i}) AS p{i}" for i in self.dates]

    def _value_ok(self, i: int) -> str | None:
        """Whether non-empty f<i> fits its column's type (None: nothing to check)."""
        c, f = self.cols[i], f"f{i}"
        t = c["type"]
        if t == "code" and "allowed" in c:
            return f"{f} IN ({', '.join(sql_text(a) for a in c['allowed'])})"
        if t == "integer":
            bounds = [f"TRY_CAST({f} AS BIGINT) IS NOT NULL"]
            if "min" in c:
                bounds.append(f"TRY_CAST({f} AS BIGINT) >= {int(c['min'])}")
            if "max" in c:
                bounds.append(f"TRY_CAST({f} AS BIGINT) <= {int(c['max'])}")
            return f"(regexp_full_match({f}, '[+-]?[0-9]+') AND {' AND '.join(bounds)})"
        if t == "decimal":
            # Rust's f64 grammar (inf and NaN parse but are not finite: refused either way).
            return (f"(regexp_full_match({f}, '[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?') "
                    f"AND coalesce(isfinite(TRY_CAST({f} AS DOUBLE)), false))")
        if t == "snomed":
            return f"phm_sctid_ok({f})"
        if t == "icd10":
            # phm_contract::icd10: a letter and two digits once dots and spaces are gone.
            return f"regexp_matches(regexp_replace({f}, '[.\\s]', '', 'g'), '^[A-Za-z][0-9]{{2}}')"
        if t == "ods_code":
            return f"regexp_full_match({f}, '[A-Za-z0-9]{{3,6}}')"
        return None

    def reason(self) -> str:
        """The first fault of a row as its quarantine reason code, NULL for a valid row (from
        `nhs_reason`, the fields f<i> and parsed dates p<i>)."""
        required = [f"f{i} IS NULL" for i, c in enumerate(self.cols) if c.get("required")]
        unparseable = [f"(f{i} IS NOT NULL AND p{i} IS NULL)" for i in self.dates]
        values = [f"(f{i} IS NOT NULL AND NOT ({ok}))" for i in range(len(self.cols))
                  if (ok := self._value_ok(i)) is not None]
        future = [f"p{i} > {date_lit(self.extract_date)}" for i in self.dates]
        whens = [
            ("nhs_reason IS NOT NULL", "nhs_reason"),
            (" OR ".join(required), "'missing_required'"),
            (" OR ".join(unparseable), "'date_unparseable'"),
            (" OR ".join(values), "'value_invalid'"),
            (" OR ".join(future), "'date_in_future'"),
        ]
        if self.org is not None:
            whens.append((f"f{self.org} <> submitter", "'wrong_submitter'"))
        body = "\n".join(f"    WHEN {cond} THEN {code}" for cond, code in whens if cond)
        return f"CASE\n{body}\nEND"

    def kept_columns(self) -> list[str]:
        """What a valid row keeps for its output and key: f<i> and p<i> as needed."""
        # The NHS number is `nd`, dates are p<i> and the submitter's column is `submitter`
        # once valid; their text is kept only when it is part of the key.
        raw = [i for i, c in enumerate(self.cols)
               if i != self.nhs and (i in self.key or (i != self.org and c["type"] != "date"))]
        return [f"f{i}" for i in raw] + [f"p{i}" for i in self.dates]

    def key_columns(self) -> list[str]:
        """The unique key as expressions (the NHS number in its normalised form)."""
        return ["nd" if i == self.nhs else f"f{i}" for i in self.key]

    def output(self) -> list[str]:
        """The pseudonymised columns in phm's order (frame.rs): `pseudonym` (from the join),
        direct identifiers dropped, date of birth as `age` and `age_band` at the reference
        date, postcode as `lsoa_code`, `imd_decile` (lookup `l`) or `postcode_district`, the
        submitter's column as the submitter, and typed dates, integers and decimals."""
        out = ["ps.pseudonym"]
        for i, c in enumerate(self.cols):
            role, gen, t, name = c["role"], c.get("generalise"), c["type"], ident(c["name"])
            if role == "direct_identifier":
                continue
            if role == "quasi_identifier" and gen == "age":
                out += [f"phm_age(p{i}) AS age", f"phm_age_band(phm_age(p{i})) AS age_band"]
            elif role == "quasi_identifier" and gen == "lsoa":
                out += ["l.lsoa_code", "l.imd_decile",
                        f"CASE WHEN l.pc IS NULL AND f{i} IS NOT NULL THEN phm_district(f{i}) END AS postcode_district"]
            elif i == self.org:
                out.append(f"submitter AS {name}")
            elif t == "date":
                out.append(f"p{i} AS {name}")
            elif t == "integer":
                out.append(f"TRY_CAST(f{i} AS BIGINT) AS {name}")
            elif t == "decimal":
                out.append(f"TRY_CAST(f{i} AS DOUBLE) AS {name}")
            else:
                out.append(f"f{i} AS {name}")
        return out

    def postcode(self) -> int | None:
        """The column generalised through the postcode lookup, if any."""
        return next((i for i, c in enumerate(self.cols) if c.get("generalise") == "lsoa"), None)

    def generalise_macros(self) -> str:
        """Ages at the reference date (whole years; NULL before birth), 5-year bands, and the
        postcode as the lookup keys it and its district (generalise.rs)."""
        ref = date_lit(self.reference_date)
        return f"""
CREATE OR REPLACE MACRO phm_years(dob) AS CAST(year({ref}) - year(dob)
    - CASE WHEN month({ref}) * 100 + day({ref}) < month(dob) * 100 + day(dob) THEN 1 ELSE 0 END AS INT);
CREATE OR REPLACE MACRO phm_age(dob) AS CASE WHEN phm_years(dob) >= 0 THEN phm_years(dob) END;
CREATE OR REPLACE MACRO phm_age_band(a) AS CASE
    WHEN a IS NULL THEN NULL WHEN a >= 90 THEN '90+'
    ELSE CAST(a // 5 * 5 AS VARCHAR) || '-' || CAST(a // 5 * 5 + 4 AS VARCHAR) END;
CREATE OR REPLACE MACRO phm_postcode(p) AS upper(regexp_replace(p, '\\s', '', 'g'));
CREATE OR REPLACE MACRO phm_district(p) AS CASE
    WHEN strlen(phm_postcode(p)) BETWEEN 5 AND 7
    THEN phm_postcode(p)[1:length(phm_postcode(p)) - 3] END;
"""
