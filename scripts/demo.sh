#!/usr/bin/env bash
# phm's demo on a fresh machine (needs only the Rust toolchain).
# Until the pipeline stages exist, the demo is the synthetic population they will run on:
# it generates the committed sample into a temporary folder, prints the realism summary, and
# checks that the result is byte-identical to data-samples/synth (same settings, same bytes).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo run --quiet -p phm -- synth --patients 2000 --practices 10 --seed 7 --years-before 3 --out "$tmp/synth"
echo
echo "Files written:"
(cd "$tmp/synth" && find . -type f | sort | sed 's/^\.\//  /' | head -20 && echo "  ... $(find . -type f | wc -l) files in all")
if diff -r data-samples/synth "$tmp/synth" >/dev/null; then
  echo "Byte-identical to the committed sample in data-samples/synth."
else
  echo "error: the generated set differs from data-samples/synth" >&2
  echo "hint: if the generator changed on purpose, regenerate the sample (see data-samples/README.md)" >&2
  exit 1
fi
