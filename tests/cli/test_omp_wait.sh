#!/usr/bin/env bash
# How idle OpenMP threads wait (runtime/cli/blas_fastpath.c): downstream sets GOMP_SPINCOUNT
# through its start-up re-exec unless the user chose GOMP_SPINCOUNT or OMP_WAIT_POLICY, and the
# log line says which, with the vector instruction set the CPU kernels use (DS_CPU_ISA lowers it).
source "$(dirname "$0")/lib.sh"

tiny=(--set bench.batch=1 --set bench.seq_len=8 --set bench.hidden=32 --set bench.heads=2
      --set bench.intermediate=64 --set bench.warmup=0 --set bench.repeats=1 --set bench.gemm_check=false
      --set run.device=cpu)
run() { env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u DS_CPU_ISA "$@" "$bin" bench "${tiny[@]}" 2>&1 >/dev/null; }

run >"$tmp/default.err"
check "by default downstream sets GOMP_SPINCOUNT=20000 and says so" \
  "grep -q 'OpenMP wait GOMP_SPINCOUNT=20000 (downstream)' '$tmp/default.err'"
check "the log names the vector instruction set" "grep -Eq 'vector ISA (baseline|avx2|avx512)' '$tmp/default.err'"

run GOMP_SPINCOUNT=123 >"$tmp/spin.err"
check "a user's GOMP_SPINCOUNT is kept" "grep -q 'OpenMP wait GOMP_SPINCOUNT=123 (user)' '$tmp/spin.err'"

run OMP_WAIT_POLICY=passive >"$tmp/policy.err"
check "a user's OMP_WAIT_POLICY is kept and GOMP_SPINCOUNT not set" \
  "grep -q 'OpenMP wait OMP_WAIT_POLICY=passive (user)' '$tmp/policy.err'"

run DS_CPU_ISA=baseline >"$tmp/isa.err"
check "DS_CPU_ISA=baseline lowers the vector instruction set" "grep -q 'vector ISA baseline' '$tmp/isa.err'"
exit $fail
