#!/usr/bin/env bash
# `downstream help config` and `downstream config` (which goes through the shared option
# parser runtime/cli/cli_args.c and the config loader), seen from the command line.
# usage: test_config_cli.sh path/to/downstream source-dir
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE PATTERN CMD...: runs CMD, checks the exit code and that stdout+stderr match PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  [ $rc = "$code" ] || fail "'$*' exited $rc, want $code: $(head -3 "$tmp/out")"
  grep -qE -- "$pattern" "$tmp/out" || fail "'$*' output lacks /$pattern/: $(head -3 "$tmp/out")"
}

expect 0 '^bench\.batch +int +8 ' "$bin" help config
expect 0 '^run\.log_level +enum +info +error, warn, info, debug ' "$bin" help config
expect 0 '^\| `bench\.gemm_check` \| bool \| `true` \|' "$bin" help config --markdown
expect 0 'topics:' "$bin" help
expect 2 "unknown topic 'nope'" "$bin" help nope
expect 2 "unknown option '--json'" "$bin" help config --json

# Defaults, file, --set precedence (later --set wins), --quiet as a --set at its position.
printf '{\n  "bench": {"batch": 32, "seq_len": 64},\n  "run.seed": 7\n}\n' >"$tmp/cfg.json"
expect 0 '"batch": 8,' "$bin" config
expect 0 '"from_file": \[\]' "$bin" config
expect 0 '"batch": 32,' "$bin" config --config "$tmp/cfg.json"
expect 0 '"seed": 7,' "$bin" config --config="$tmp/cfg.json"
expect 0 '"batch": 5,' "$bin" config --config "$tmp/cfg.json" --set bench.batch=4 --set=bench.batch=5
expect 0 '"from_file": \["run.seed", "bench.seq_len"\]' "$bin" config --config "$tmp/cfg.json" --set bench.batch=4
expect 0 '"log_level": "warn"' "$bin" config --quiet
expect 0 '"log_level": "debug"' "$bin" config --set run.log_level=error --verbose
expect 0 '"log_level": "error"' "$bin" config --verbose --set run.log_level=error
expect 0 'usage: downstream config' "$bin" config --help

# Errors name the key and suggest the nearest one.
expect 1 "unknown key 'bench.bacth' in --set bench.bacth=3; did you mean 'bench.batch'\?" \
  "$bin" config --set bench.bacth=3
printf '{"bench": {"batch": "32"}}' >"$tmp/bad_type.json"
expect 1 'bench\.batch: expected an integer, got string "32"' "$bin" config --config "$tmp/bad_type.json"
printf '{"run": {"log_levle": "info"}}' >"$tmp/bad_key.json"
expect 1 "unknown key 'run.log_levle' in .*bad_key.json; did you mean 'run.log_level'\?" \
  "$bin" config --config "$tmp/bad_key.json"
printf '{\n  "bench": {\n    "batch": 1,,\n  }\n}\n' >"$tmp/bad_syntax.json"
expect 1 'bad_syntax.json:3:[0-9]+: invalid JSON' "$bin" config --config "$tmp/bad_syntax.json"
expect 1 'bench\.warmup: -1 is below the minimum 0' "$bin" config --set bench.warmup=-1
expect 1 'cannot open config' "$bin" config --config "$tmp/missing.json"
expect 2 '--config needs a FILE' "$bin" config --config
expect 2 'contradict' "$bin" config --quiet --verbose
expect 2 "unexpected argument 'extra'" "$bin" config extra
expect 2 "given twice" "$bin" config --config a.json --config b.json

[ $failures = 0 ] && echo "ok: config CLI behaves" || echo "$failures failures"
[ $failures = 0 ]
