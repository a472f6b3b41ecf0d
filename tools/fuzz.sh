#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs each libFuzzer target in BUILD for SECONDS (all of them, or only the TARGETs named),
# starting from its committed corpus tests/fuzz/corpus/<target>/. New inputs go to a working
# corpus in BUILD/corpus/<target>/ so the committed one stays small (add an input to it by
# hand when it covers something new). Crashes land in tests/fuzz/crashes/; replay one with
#   BUILD/fuzz_<target> tests/fuzz/crashes/<file>
# A target with a dictionary tests/fuzz/dict/<target>.dict (its format's tokens) is run with it.
# Inputs may grow past libFuzzer's default cap of 4 KiB where real ones do: wasm modules and
# component types to 16 KiB, p2p_protobuf to 64 KiB (identify's limit; gossipsub and Kademlia
# allow 1 MiB), p2p_yamux to a 12-byte header plus 64 KiB of data (we and js-libp2p send frames
# of up to 64 KiB; a peer may send up to its 256 KiB window).
# Usage: tools/fuzz.sh [BUILD] [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}; secs=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p tests/fuzz/crashes
status=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); target=${name#fuzz_}
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$target"; then continue; fi
  seeds=tests/fuzz/corpus/$target
  work=$build/corpus/$target
  mkdir -p "$seeds" "$work"
  extra=()
  [ -f tests/fuzz/dict/$target.dict ] && extra+=(-dict=tests/fuzz/dict/$target.dict)
  case $target in
    wasm_module|component_type) extra+=(-max_len=16384) ;;
    p2p_protobuf) extra+=(-max_len=65536) ;;
    p2p_yamux) extra+=(-max_len=65548) ;;
  esac
  echo "== $target: fuzzing for ${secs}s (seeds: $(ls "$seeds" | wc -l) files, working corpus: $work)"
  if ! ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$bin" -max_total_time="$secs" \
        -print_final_stats=1 -artifact_prefix=tests/fuzz/crashes/"$target"- ${extra[@]+"${extra[@]}"} \
        "$work" "$seeds" 2>&1 | tail -n 12; then
    status=1
  fi
done
exit $status
