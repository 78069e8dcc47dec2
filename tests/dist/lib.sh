# Shared by the tests/dist/test_*.sh scripts (sourced; not a test itself).
# Arguments of every test: <downstream binary> <source dir> <compare_checkpoints binary>.
set -u
bin=$1
src=$2
compare=$3
tmp=$(mktemp -d)
pids=()
cleanup() {  # the processes this test started (and mpirun's ranks), by pid
  for p in "${pids[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null); do kill -9 "$c" 2>/dev/null; done
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL: $1"; fail=1; fi; }

have_mpirun() { command -v mpirun >/dev/null 2>&1; }
# Two ranks on however many cores there are; one OpenMP thread each (run.threads in the config).
# (An array, not a function, so that `"${mpirun2[@]}" ... &` makes $! mpirun's own pid.)
mpirun2=(mpirun --allow-run-as-root --oversubscribe -np 2)

# The tiny BERT fixture on the synthetic sentiment set: 72 training examples, 12 dev, 12 test.
# Dropout off, so that 2 ranks x batch B and 1 rank x batch 2B compute the same function (with
# dropout on, each draws its masks for the examples at its own positions). A tiny bucket size so
# that the ~40k-parameter model's gradients go in several buckets during backward. Warm-up off,
# so that every step moves the parameters.
write_config() {
  cat >"$1" <<JSON
{
  "run": {"seed": 3, "threads": 1},
  "model": {"path": "$src/tests/fixtures/trainer/tiny_bert", "max_length": 24, "dropout": 0},
  "data": {"train": "$src/tests/fixtures/trainer/sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 4, "max_steps": 3, "eval_every": 3, "lr": 3e-3, "warmup_ratio": 0, "log_every": 1,
            "keep_last": 5},
  "dist": {"timeout_s": 30, "bucket_mb": 0.02}
}
JSON
}

# Values of `key` in the training lines of a metrics log, one per line.
train_values() { grep '"loss"' "$1" | grep -o "\"$2\": [^,}]*" | sed 's/.*: //'; }

# Whether two metrics logs have the same number of training lines and `key` agrees on each within
# relative tolerance rtol; prints the largest relative difference.
same_values() {
  local a b
  a=$(train_values "$1" "$3")
  b=$(train_values "$2" "$3")
  [ -n "$a" ] && [ "$(echo "$a" | wc -l)" = "$(echo "$b" | wc -l)" ] || { echo "  $3: line counts differ"; return 1; }
  paste <(echo "$a") <(echo "$b") | awk -v k="$3" -v tol="$4" '
    { d = $1 - $2; if (d < 0) d = -d; s = ($1 < 0 ? -$1 : $1); r = (s > 0 ? d / s : d); if (r > m) m = r }
    END { printf "  %s: max relative difference %.3e (tolerance %g)\n", k, m, tol; exit !(m <= tol) }'
}

# A TCP port that nothing answers on right now (the launch retries with another one on a clash).
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo 29517
}

# Starts rank $1 of $2 torchrun-style in the background (stdout/stderr to $tmp/<tag>.<rank>.{out,err});
# the pid goes into the variable named $4. Remaining arguments go to `downstream train`.
start_rank() {
  local rank=$1 size=$2 tag=$3 var=$4
  shift 4
  RANK=$rank WORLD_SIZE=$size LOCAL_RANK=$rank MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$bin" train "$@" >"$tmp/$tag.$rank.out" 2>"$tmp/$tag.$rank.err" &
  eval "$var=$!"
  pids+=("$!")
}

# Waits for pid $1 (a child of this shell) at most $2 seconds (an integer) and sets the variable
# named $3 to its exit status, or to "timeout" (after killing it). Not in a $(...) subshell: only
# this shell can wait for its children.
wait_at_most() {
  local pid=$1 tenths=$(($2 * 10))
  while kill -0 "$pid" 2>/dev/null && ((tenths > 0)); do
    sleep 0.1
    tenths=$((tenths - 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    eval "$3=timeout"
  else
    wait "$pid"
    eval "$3=$?"
  fi
}

# Seconds since the epoch with milliseconds, and the difference of two such stamps.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
