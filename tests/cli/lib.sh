# Shared by the tests/cli/test_*.sh scripts (sourced; not a test itself).
# Arguments of every test: <downstream binary> <source dir> [<compare_checkpoints binary>].
set -u
bin=$1
src=$2
cmp_ckpt=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL: $1"; fail=1; fi; }

# The tiny BERT fixture on the synthetic sentiment set, 10 steps with dropout on (the model's
# default), evaluation at 5 and 10, every step logged: the run test_train.sh and
# test_train_loader.sh compare byte for byte under resume and loader settings.
write_tiny_train_config() {
  cat >"$1" <<JSON
{
  "run": {"seed": 3, "threads": 2},
  "model": {"path": "$src/tests/fixtures/trainer/tiny_bert", "max_length": 24},
  "data": {"train": "$src/tests/fixtures/trainer/sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 8, "max_steps": 10, "eval_every": 5, "lr": 3e-3, "warmup_steps": 2, "keep_last": 3,
            "log_every": 1}
}
JSON
}
