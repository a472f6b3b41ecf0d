#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages ipvm needs to build, test and run, and nothing else. Idempotent:
# when every package is present it only checks and exits (no apt-get update, no network).
# Usage: tools/deps.sh [build|test|all]   (default: all)
set -euo pipefail

want=${1:-all}

# Needed to build and run ipvm.
build_pkgs=(
  build-essential cmake pkg-config
  libsqlite3-dev libuv1-dev libsodium-dev libssl-dev
  libtcc-dev tcc wabt
  libwebsockets-dev libwebsockets-evlib-uv libinih-dev libcurl4-openssl-dev
  libprotobuf-c-dev protobuf-c-compiler
)
# Needed by the test suite, fuzzing and benchmarks: guest toolchain, sanitizer and fuzzer
# runtimes, clang-tidy for `make lint`, Node.js for the JS reference libraries, Chromium for the
# dashboard test.
test_pkgs=(
  clang clang-tidy lld wasi-libc libclang-rt-14-dev libclang-rt-14-dev-wasm32
  libpng-dev
  iproute2 procps
  chromium
)

pkgs=("${build_pkgs[@]}")
if [ "$want" != build ]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js may come from Debian (nodejs + npm) or from a vendor package that bundles npm:
# ask for the commands, not the package names.
if [ "$want" != build ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "ipvm: installing missing Debian packages: ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "ipvm: need root (or sudo) to install: ${missing[*]}" >&2
    echo "ipvm: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
