#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs each libFuzzer target in BUILD for SECONDS, starting from (and adding to) its committed
# corpus in tests/fuzz/corpus/<target>/. Crashes land in tests/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}; secs=${2:-60}
mkdir -p tests/fuzz/crashes
status=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); target=${name#fuzz_}
  corpus=tests/fuzz/corpus/$target
  mkdir -p "$corpus"
  echo "== $target: fuzzing for ${secs}s (corpus $(ls "$corpus" | wc -l) files)"
  if ! ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix=tests/fuzz/crashes/"$target"- "$corpus" 2>&1 | tail -n 12; then
    status=1
  fi
done
exit $status
