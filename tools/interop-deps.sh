#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the pinned JS reference libraries of every tests/interop/<suite>/ that has a
# package.json, with `npm ci` (exactly the lockfile). Skips a suite already installed from the
# same lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
for pkg in $(find tests/interop -name package.json -not -path '*/node_modules/*' | sort); do
  dir=$(dirname "$pkg")
  lock="$dir/package-lock.json"
  stamp="$dir/node_modules/.ipvm-lock.sha256"
  if [ ! -f "$lock" ]; then
    echo "ipvm: $dir has package.json but no package-lock.json; run 'npm install' there and commit the lockfile" >&2
    exit 1
  fi
  sum=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then continue; fi
  echo "ipvm: installing JS reference libraries for $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$sum" > "$stamp"
done
