#!/usr/bin/env bash
# Builds the Python environment phm's tests and benchmarks check against: comorbidipy (the
# independent Charlson / Elixhauser / HFRS implementation), nhs-number, duckdb, polars,
# pyarrow, blake3, scikit-learn and pyrage (an independent age implementation, to read vaults).
# A copy of the team's shared/tools/oracle-venv.sh, with a stamp so that a second call returns
# at once.
# Usage: scripts/oracle-venv.sh [DIR]   (default: $PHM_ORACLE_DIR or $HOME/.cache/phm-oracle)
# Prints the path of the environment's python on its last line.
set -euo pipefail
dir=${1:-${PHM_ORACLE_DIR:-$HOME/.cache/phm-oracle}}
# Every package pinned: a new release (DuckDB 2.0 dropped `fetchone` on relations) must not
# turn CI red on its own.
packages=("comorbidipy==0.5.0" "pandas==1.5.3" "numpy==1.26.4" "pyarrow==19.0.1" "nhs-number==2.2.0"
  "duckdb==2.0.0" "polars==2.1.0" "blake3==1.0.11" "scikit-learn==1.9.1"
  "pyrage==1.4.0")
stamp="$dir/.phm-oracle-stamp"
want="${packages[*]}"
if [[ -x $dir/bin/python && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  echo "$dir/bin/python"
  exit 0
fi
if [[ ! -x $dir/bin/python ]]; then
  python3 -m venv "$dir"
fi
# comorbidipy 0.5.0 needs pandas 1.5 and so numpy < 2; pyarrow 21+ needs numpy >= 2, so pin 19.
"$dir/bin/pip" install -q --disable-pip-version-check "${packages[@]}" >&2
# comorbidipy 0.5.0 imports a warning class from the module where pandas < 1.5 kept it;
# pandas 1.5 keeps it in pandas.errors.
calc=$("$dir/bin/python" -c "import importlib.util as u; print(u.find_spec('comorbidipy').submodule_search_locations[0])")/calculator.py
sed -i 's/from pandas.core.common import SettingWithCopyWarning/from pandas.errors import SettingWithCopyWarning/' "$calc"
"$dir/bin/python" -c "from comorbidipy import comorbidity, hfrs; import pyarrow, duckdb, polars, blake3, sklearn, nhs_number, pyrage" >&2
echo "$want" > "$stamp"
echo "$dir/bin/python"
