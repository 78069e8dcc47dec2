#!/usr/bin/env bash
# Configures and builds downstream into build/ (or $DS_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DS_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >"$build.cmake.log" 2>&1 ||
  { cat "$build.cmake.log"; exit 1; }
grep -E "CUDA backend" "$build.cmake.log" || true
cmake --build "$build" -j "$(nproc)"
