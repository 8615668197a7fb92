"""Write the ICD-10 code lists and weights of phm's scores from comorbidipy 0.5.0.

phm keeps its code lists as data in codelists/ (each file names its source). The Charlson and
Elixhauser ICD-10 coding (Quan et al. 2005) and the HFRS categories (Gilbert et al. 2018) were
copied from comorbidipy's mapping.py / weights.py with this script, so they are not retyped;
the tests then compare phm's scores with comorbidipy's on the same diagnoses.
Departures from comorbidipy, following the published papers, are written into the weights
files (Quan 2011: AIDS/HIV weight 4, not comorbidipy's 2).

Usage: python scripts/export-score-codelists.py   (with the environment from
scripts/oracle-venv.sh; run from the repository root)
"""
import csv
import os

from comorbidipy.colnames import get_colnames
from comorbidipy.mapping import hfrs_mapping, mapping
from comorbidipy.weights import weights

HEAD = "# Source: comorbidipy 0.5.0 (mapping.py, weights.py), exported by scripts/export-score-codelists.py\n"


def write(path, header_lines, columns, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write(HEAD)
        for line in header_lines:
            f.write(f"# {line}\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        w.writerows(rows)


for score, key, paper in [
    ("charlson", "charlson_icd10_quan", "Quan H et al. Coding algorithms for defining comorbidities in ICD-9-CM and ICD-10 administrative data. Med Care 2005;43(11):1130-9"),
    ("elixhauser", "elixhauser_icd10_quan", "Quan H et al. Coding algorithms for defining comorbidities in ICD-9-CM and ICD-10 administrative data. Med Care 2005;43(11):1130-9"),
]:
    rows = [(cond, prefix) for cond, prefixes in mapping[key].items() for prefix in prefixes]
    write(
        f"codelists/{score}/icd10-quan2005.csv",
        [f"Coding: {paper}", "A code belongs to a condition when it starts with one of the condition's prefixes (dots removed)."],
        ["condition", "icd10_prefix"],
        rows,
    )

names = get_colnames("charlson")
cw = weights["charlson_icd10_quan"]
rows = []
for cond in mapping["charlson_icd10_quan"]:
    quan = cw["quan"][cond]
    if cond == "aids":
        quan = 4  # Quan 2011 Table 2: AIDS/HIV 4 (comorbidipy 0.5.0 has 2)
    rows.append((cond, names[cond], cw["charlson"][cond], quan, cw["shmi"][cond], cw["shmi_modified"][cond]))
write(
    "codelists/charlson/weights.csv",
    [
        "charlson_1987: Charlson ME et al. J Chronic Dis 1987;40(5):373-83",
        "quan_2011: Quan H et al. Am J Epidemiol 2011;173(6):676-82, Table 2 (AIDS/HIV 4, maximum score 24; comorbidipy 0.5.0 has AIDS/HIV 2)",
        "shmi: NHS Digital, Summary Hospital-level Mortality Indicator specification v1.35 (2020-09-24)",
        "shmi_modified: SHMI v1.35 weights with diabetes with complications 4 instead of -1 (as comorbidipy 0.5.0 offers)",
        "Hierarchy: diabwc over diab, msld over mld, metacanc over canc (the milder one scores 0). A negative total is 0.",
    ],
    ["condition", "name", "charlson_1987", "quan_2011", "shmi", "shmi_modified"],
    rows,
)

names = get_colnames("elixhauser")
ew = weights["elixhauser_icd10_quan"]
write(
    "codelists/elixhauser/weights.csv",
    [
        "van_walraven: van Walraven C et al. A modification of the Elixhauser comorbidity measures into a point system for hospital death using administrative data. Med Care 2009;47(6):626-33",
        "swiss: Swiss weights as comorbidipy 0.5.0 gives them (Elixhauser, Swiss hospital discharge data)",
        "Hierarchy: hypc over hypunc, diabc over diabunc, metacanc over solidtum. Totals may be negative, as published.",
    ],
    ["condition", "name", "van_walraven", "swiss"],
    [(c, names[c].strip(), ew["vw"][c], ew["swiss"][c]) for c in mapping["elixhauser_icd10_quan"]],
)

write(
    "codelists/hfrs/gilbert2018.csv",
    [
        "Gilbert T et al. Development and validation of a Hospital Frailty Risk Score focusing on older people in acute care settings using electronic hospital records. Lancet 2018;391(10132):1775-82",
        "109 ICD-10 three-character categories; weights sum to 173.2. Bands: low < 5, intermediate 5 to 15, high > 15.",
    ],
    ["icd10_category", "weight"],
    [(k, v) for k, v in hfrs_mapping.items()],
)
