#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job on the embedded default: show what ipvm computes for Homestar's fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
ipvm="$build/ipvm"
for wf in tests/vectors/homestar/workflows/test-workflow-add-one.json \
          tests/vectors/homestar/workflows/test-workflow-image-pipeline.json; do
  echo "== $wf"
  "$ipvm" workflow inspect "$wf"
done
