#!/usr/bin/env bash
# Regenerate docs/data-dictionary.md: `phm query --tables` of the demo's run on the committed
# sample, under a short preamble. A test fails when the committed file is out of date.
# Usage: scripts/data-dictionary.sh   (PHM_BIN: a phm binary already built)
set -euo pipefail
cd "$(dirname "$0")/.."
phm=${PHM_BIN:-}
if [[ -z $phm ]]; then
  cargo build --all-features --quiet
  phm=${CARGO_TARGET_DIR:-target}/debug/phm
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$phm" demo --out "$tmp/demo" >/dev/null
{
  cat docs/data-dictionary.head.md
  "$phm" query --run "$tmp/demo/runs/latest" --tables
} >docs/data-dictionary.md
echo "wrote docs/data-dictionary.md"
