#!/usr/bin/env bash
# Installs the Debian packages that building and testing downstream needs, when missing.
# (libcurl4-openssl-dev: downloads of pretrained weights, runtime/hub/; python3: its standard library
# runs the fake Hub of tests/cli/test_hub*.sh. Chromium, for tests/cli/test_report.sh, is installed
# by that test itself when missing: it is large and nothing else needs it. time: /usr/bin/time, peak
# memory in scripts/bench/cpu_speed.sh. clang, libclang-rt-14-dev (libFuzzer, the sanitizer
# runtimes) and libomp-dev (OpenMP under clang): scripts/fuzz.sh.)
# Run as root on Debian 12 (it is a no-op when everything is present). CUDA is optional: the
# build enables it whenever nvcc is on the PATH.
set -euo pipefail

packages=(build-essential cmake pkg-config libopenblas-dev libopenblas-openmp-dev libcjson-dev libutf8proc-dev libpng-dev libjpeg62-turbo-dev
          libsndfile1-dev libsoxr-dev libcurl4-openssl-dev ca-certificates python3 python3-numpy
          openmpi-bin libopenmpi-dev libpmix-dev
          time clang libclang-rt-14-dev libomp-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup_deps: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup_deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if command -v nvcc >/dev/null 2>&1; then
  echo "setup_deps: nvcc found ($(nvcc --version | tail -n 2 | head -n 1)): the CUDA backend will be built"
else
  echo "setup_deps: nvcc not found: building the CPU backend only"
fi
