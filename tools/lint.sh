#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs clang-tidy with the repo's .clang-tidy (the function size check) over every src/*.c in
# BUILD/compile_commands.json, JOBS at a time. Exits non-zero if any function is over a limit.
# Usage: tools/lint.sh [BUILD] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=${2:-2}
db=$build/compile_commands.json

command -v clang-tidy >/dev/null || { echo "ipvm lint: clang-tidy not found (tools/deps.sh test installs it)" >&2; exit 1; }
[ -f "$db" ] || { echo "ipvm lint: no $db (configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON; make build does)" >&2; exit 1; }

# Functions over a limit that are allowed for now, one "path:function" a line with the reason.
# None at the moment: every function in src/ is within .clang-tidy's limits.
allow=(
)

root=$(pwd)
files=$(git ls-files 'src/*.c')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# -Wno-error: the build's -Werror would turn compiler warnings clang has and gcc lacks into
# errors that hide the check's findings; the compiler's own warnings are the build's business.
rc=0
printf '%s\n' $files | xargs -P "$jobs" -n 4 clang-tidy -p "$build" --quiet \
  --extra-arg=-Wno-error --extra-arg=-Wno-unknown-warning-option >"$out" 2>/dev/null || rc=$?

# One "path:function" per finding (clang-tidy names the function in its warning line).
found=$(sed -n "s|^$root/\([^:]*\):[0-9]*:[0-9]*: [a-z]*: function '\([^']*\)' exceeds .*|\1:\2|p" "$out" | sort -u)
bad=0
for f in $found; do
  ok=0
  for a in "${allow[@]}"; do [ "$f" = "$a" ] && ok=1; done
  if [ $ok = 0 ]; then
    grep -A3 "$root/${f%%:*}:[0-9]*:[0-9]*: [a-z]*: function '${f#*:}'" "$out" | grep -v '^--$' >&2
    bad=1
  fi
done
if [ $bad = 1 ]; then
  echo "ipvm lint: functions over the size limits of .clang-tidy (split them into helpers)" >&2
  exit 1
fi
# Anything else clang-tidy failed on (a file it could not parse) fails the check too.
if [ $rc != 0 ] && grep ': error: ' "$out" | grep -qv 'readability-function-size'; then
  grep -A3 ': error: ' "$out" | grep -v 'readability-function-size' >&2
  echo "ipvm lint: clang-tidy failed" >&2
  exit 1
fi
echo "ipvm lint: $(printf '%s\n' $files | wc -l) files, every function within .clang-tidy's limits"
