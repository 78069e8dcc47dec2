#!/usr/bin/env bash
# A torchrun-style launch without mpirun: two processes with RANK, WORLD_SIZE, LOCAL_RANK,
# MASTER_ADDR=127.0.0.1 and a free MASTER_PORT meet over TCP (the tcp communicator: a star
# through rank 0). Their training equals one process on the global batch (the equivalence test's
# case A: 2 x batch 10 with accumulation 2 against 1 x batch 20), and, with two ranks, equals the
# MPI run bit for bit (both add rank 0's and rank 1's values, one addition per element). Ranks
# that disagree on the world size fail with a message instead of training.
source "$(dirname "$0")/lib.sh"
write_config "$tmp/cfg.json"
sets=(--config "$tmp/cfg.json" --set train.batch_size=10 --set train.grad_accum=2 --set train.max_steps=3)

# Retries with another port when rank 0 could not listen (another process took the port).
for attempt in 1 2 3; do
  port=$(free_port)
  rm -rf "$tmp/tcp"
  start_rank 0 2 tcp pid0 "${sets[@]}" --set train.output_dir="$tmp/tcp"
  start_rank 1 2 tcp pid1 "${sets[@]}" --set train.output_dir="$tmp/tcp"
  wait_at_most "$pid0" 60 rc0
  wait_at_most "$pid1" 10 rc1
  grep -q "cannot listen" "$tmp/tcp.0.out" "$tmp/tcp.0.err" || break
done
check "rank 0 exits 0" "[ '$rc0' = 0 ]"
check "rank 1 exits 0" "[ '$rc1' = 0 ]"
check "the ranks met over TCP" "grep -q 'tcp communicator: 2 ranks joined through this host:$port' '$tmp/tcp.0.err' && grep -q 'data parallel: 2 ranks (tcp), global batch 20' '$tmp/tcp.0.err'"
check "rank 0 reports, rank 1 prints nothing" "grep -q '^test (12 examples)' '$tmp/tcp.0.out' && [ ! -s '$tmp/tcp.1.out' ]"
check "the log says how much all-reduce time was exposed" "grep -q 'all-reduce: 3 steps.*exposed .* ms per step' '$tmp/tcp.0.err'"

"$bin" train "${sets[@]}" --set train.batch_size=20 --set train.output_dir="$tmp/one" >"$tmp/one.out" 2>"$tmp/one.err"
check "1 rank x batch 20 exits 0" "[ $? -eq 0 ]"
# Tolerances as in test_mpi_equivalence.sh (fp32 summation order; floor = initializer_range).
echo "  $("$compare" "$tmp/one/checkpoint-3.safetensors" "$tmp/tcp/checkpoint-3.safetensors" --floor 0.02 --rtol 1e-5)"
check "2 TCP ranks equal 1 rank on the global batch within 1e-5" \
  "'$compare' '$tmp/one/checkpoint-3.safetensors' '$tmp/tcp/checkpoint-3.safetensors' --floor 0.02 --rtol 1e-5 >/dev/null"
check "... and so do the gradient norms (1e-3)" "same_values '$tmp/one/metrics.jsonl' '$tmp/tcp/metrics.jsonl' grad_norm 1e-3"

if have_mpirun; then
  "${mpirun2[@]}" "$bin" train "${sets[@]}" --set train.output_dir="$tmp/mpi" >/dev/null 2>"$tmp/mpi.err"
  check "the same run under mpirun exits 0" "[ $? -eq 0 ]"
  check "TCP and MPI give the very same parameters (two ranks: one addition per element either way)" \
    "'$compare' '$tmp/mpi/checkpoint-3.safetensors' '$tmp/tcp/checkpoint-3.safetensors' --rtol 0 >/dev/null"
fi

# Ranks that disagree on the world: rank 0 names the impostor; neither trains.
port=$(free_port)
start_rank 0 2 bad pid0 "${sets[@]}" --set train.output_dir="$tmp/bad" --set dist.timeout_s=5
RANK=1 WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$bin" train "${sets[@]}" --set train.output_dir="$tmp/bad" \
  --set dist.timeout_s=5 >"$tmp/bad.1.out" 2>"$tmp/bad.1.err" &
pid1=$!
pids+=("$pid1")
wait_at_most "$pid0" 20 rc0
wait_at_most "$pid1" 20 rc1
check "WORLD_SIZE 2 vs 3: both exit non-zero" "[ '$rc0' != 0 ] && [ '$rc0' != timeout ] && [ '$rc1' != 0 ] && [ '$rc1' != timeout ]"
check "... rank 0 says which rank claimed which world" "grep -q 'rank 1 of 3, but rank 0 has a world of 2' '$tmp/bad.0.err'"

[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -5 "$f"; done
exit $fail
