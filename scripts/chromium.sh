#!/usr/bin/env bash
# Prints the path of a Chromium for the report's browser test, installing Debian's `chromium`
# package first when there is none (needs root or sudo and Debian's package registry).
set -euo pipefail
for candidate in "${PHM_CHROMIUM:-}" chromium chromium-browser; do
  if [[ -n $candidate ]] && command -v "$candidate" >/dev/null 2>&1; then
    command -v "$candidate"
    exit 0
  fi
done
if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
echo "installing Debian's chromium for the report test" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 ||
  { "${sudo[@]}" apt-get update -qq >&2 && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; }
command -v chromium
