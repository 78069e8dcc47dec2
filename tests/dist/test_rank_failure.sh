#!/usr/bin/env bash
# A rank that dies or hangs mid-run makes the other exit non-zero within the timeout
# (dist.timeout_s = 3 here) with a message naming it; never a silent hang. Four cases: rank 1
# killed (SIGKILL) or frozen (SIGSTOP), under the torchrun-style TCP launch and under mpirun.
# A killed TCP peer is noticed at once (its sockets close); a frozen one when the operation's
# deadline passes. Under mpirun, a killed rank makes mpirun itself end the job (its message names
# the rank); a frozen one is named by rank 0 from the heartbeats and pings (comm_mpi.c).
source "$(dirname "$0")/lib.sh"
write_config "$tmp/cfg.json"
timeout_s=3
limit=20  # the test's own bound on how long the survivor may take to exit, in seconds
long=(--config "$tmp/cfg.json" --set train.max_steps=1000000 --set train.eval_every=1000000
  --set dist.timeout_s=$timeout_s)

# Waits until the metrics log of run $1 has 20 training lines: the run is well under way.
wait_mid_run() {
  for _ in $(seq 200); do
    [ -f "$1/metrics.jsonl" ] && [ "$(grep -c '"loss"' "$1/metrics.jsonl")" -ge 20 ] && return 0
    sleep 0.1
  done
  return 1
}

tcp_case() {  # signal, expected message of rank 0
  local sig=$1 msg=$2 rc0 pid0 pid1 t0
  port=$(free_port)
  start_rank 0 2 "tcp$sig" pid0 "${long[@]}" --set train.output_dir="$tmp/tcp$sig"
  start_rank 1 2 "tcp$sig" pid1 "${long[@]}" --set train.output_dir="$tmp/tcp$sig"
  check "TCP $sig: training under way" "wait_mid_run '$tmp/tcp$sig'"
  kill -"$sig" "$pid1"
  t0=$(now)
  wait_at_most "$pid0" $limit rc0
  local took
  took=$(elapsed "$t0" "$(now)")
  echo "  TCP $sig of rank 1: rank 0 exited with $rc0 after $took s"
  check "TCP $sig of rank 1: rank 0 exits non-zero within ${limit} s" "[ '$rc0' != timeout ] && [ '$rc0' != 0 ]"
  check "TCP $sig of rank 1: rank 0's message names rank 1" "grep -q 'rank 0 of 2: .*$msg' '$tmp/tcp$sig.0.err'"
  kill -9 "$pid1" 2>/dev/null
  wait "$pid1" 2>/dev/null
}
tcp_case KILL "rank 1 closed the connection"
tcp_case STOP "rank 1 did not answer in time"

if have_mpirun; then
  mpi_case() {  # signal
    local sig=$1 rc mp r1="" t0
    "${mpirun2[@]}" "$bin" train "${long[@]}" --set train.output_dir="$tmp/mpi$sig" >"$tmp/mpi$sig.out" 2>"$tmp/mpi$sig.err" &
    mp=$!
    pids+=("$mp")
    check "mpirun $sig: training under way" "wait_mid_run '$tmp/mpi$sig'"
    for c in $(pgrep -P "$mp"); do  # mpirun starts the local ranks as its children
      tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && r1=$c
    done
    check "mpirun $sig: found rank 1's process" "[ -n '$r1' ]"
    [ -n "$r1" ] && kill -"$sig" "$r1"
    t0=$(now)
    wait_at_most "$mp" $limit rc
    echo "  mpirun, $sig of rank 1: mpirun exited with $rc after $(elapsed "$t0" "$(now)") s"
    check "mpirun, $sig of rank 1: the job exits non-zero within ${limit} s" "[ '$rc' != timeout ] && [ '$rc' != 0 ]"
    [ -n "$r1" ] && kill -9 "$r1" 2>/dev/null
  }
  mpi_case KILL
  check "mpirun, KILL: the message names rank 1" "grep -q 'process rank 1 .*exited on signal 9' '$tmp/mpiKILL.err' '$tmp/mpiKILL.out'"
  mpi_case STOP
  # Frozen before the operation: "never reached it"; frozen inside it: "stopped answering inside it".
  check "mpirun, STOP: rank 0 names rank 1" \
    "grep -Eq 'rank 0 of 2: .*rank 1 (\(last seen at operation #[0-9]+\) never reached it|stopped answering inside it)' '$tmp/mpiSTOP.err'"
fi

[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -5 "$f"; done
exit $fail
