#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark program (build/bench_*), each of which prints its own table with the
# peer measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
for bin in "$build"/bench_*; do
  [ -x "$bin" ] || continue
  echo "== $(basename "$bin")"
  "$bin"
  echo
done
