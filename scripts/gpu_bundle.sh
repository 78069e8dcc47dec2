#!/usr/bin/env bash
# Builds downstream for the H200 (sm_90) on THIS machine and packs the executables plus the
# shared libraries a CUDA image is unlikely to have (OpenBLAS, cJSON, utf8proc, Open MPI, ...)
# into gpu_bundle.tar.xz at the repository root (gitignored), for the device tool's `carry`.
#
# Why: the GPU machine has no package registry. When scripts/gpu_check.sh cannot configure the
# build there (missing -dev packages), it unpacks this bundle and runs the prebuilt binaries
# with LD_LIBRARY_PATH pointing at the bundle's lib/. The CUDA libraries themselves (cudart,
# cuBLAS(Lt), cuDNN, NCCL: hundreds of MB) are NOT packed: the GPU image has them (CUDA toolkit
# and the nvidia-* Python wheels), and gpu_check.sh finds them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-sm90
# CMAKE_CUDA_ARCHITECTURES=90 is -gencode arch=compute_90,code=[sm_90,compute_90]: Hopper
# machine code (no JIT at start) plus PTX.
DS_BUILD_DIR=$build bash "$root/scripts/build.sh" -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/gpu_bundle/lib"
# Executables, at the same relative paths as in the build tree (downstream, tests/test_*,
# bench/ds_kernel_bench, bench/ds_conv_bench_gpu, compare_checkpoints), so scripts/gpu_check.sh can treat the unpacked
# bundle as its build directory.
(cd "$build" && find . -maxdepth 3 -type f -perm -u+x \( -name downstream -o -name 'test_*' -o -name ds_kernel_bench -o -name ds_conv_bench_gpu \
    -o -name compare_checkpoints \) ! -name '*.sh' ! -path './CMakeFiles/*') | while IFS= read -r rel; do
  mkdir -p "$stage/gpu_bundle/$(dirname "$rel")"
  cp "$build/$rel" "$stage/gpu_bundle/$rel"
  strip "$stage/gpu_bundle/$rel" 2>/dev/null || true
done
# Shared libraries, minus the C runtime (always there) and the CUDA libraries (there, and huge).
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libpthread|libdl\.|librt\.|libgcc_s|libstdc\+\+|libcuda\.|libcudart|libcublas|libcudnn|libnccl|libnvrtc|libnvJitLink)'
find "$stage/gpu_bundle" -type f -perm -u+x ! -path '*/lib/*' | while IFS= read -r exe; do
  ldd "$exe" | awk '$3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ $name =~ $skip ]] && continue
  cp -L "$path" "$stage/gpu_bundle/lib/$name"
done
# Open MPI loads its components (MCA plugins) at run time; a world of one never initialises MPI
# (runtime/dist/world.c), so the plugins are not needed for the single-GPU checks.
# Fixtures travel with the working tree; the test programs find them through DS_SOURCE_DIR.
tar -C "$stage/gpu_bundle" -cJf "$root/gpu_bundle.tar.xz" .
ls -la "$root/gpu_bundle.tar.xz"
echo "carry it: run(carry=[\"gpu_bundle.tar.xz\"], command=\"bash scripts/gpu_check.sh\")"
