#!/usr/bin/env bash
# `downstream tokenize` from the command line: its JSON lines must be exactly what transformers'
# BertTokenizerFast gives for the same lines (tests/fixtures/tokenizer/cli_*.jsonl, written by
# scripts/fixtures/tokenizer.py in json.dumps' layout), plus usage and error exits.
# usage: test_tokenize.sh path/to/downstream source-dir
set -u
bin=$1
fix=$2/tests/fixtures/tokenizer
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE PATTERN CMD...: runs CMD (stdin from $tmp/in), checks the exit code and that
# stdout+stderr match PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 2
  "$@" <"$tmp/in" >"$tmp/out" 2>&1
  local rc=$?
  [ $rc = "$code" ] || fail "'$*' exited $rc, want $code: $(head -3 "$tmp/out")"
  grep -qE -- "$pattern" "$tmp/out" || fail "'$*' output lacks /$pattern/: $(head -3 "$tmp/out")"
}

# same_as WANT ARGS...: tokenizes the fixture's input lines and compares with WANT line by line.
model=$fix/uncased
same_as() {
  local want=$1
  shift
  if ! "$bin" tokenize --model "$model" "$@" <"$fix/cli_input.txt" >"$tmp/got" 2>"$tmp/err"; then
    fail "tokenize $* failed: $(cat "$tmp/err")"
    return
  fi
  if ! cmp -s "$tmp/got" "$want"; then
    fail "tokenize $* differs from $(basename "$want"):"
    diff "$tmp/got" "$want" | head -6
  fi
}

# Defaults: truncation to the config's model_max_length (512), no padding.
same_as "$fix/cli_uncased.jsonl"
# Truncated ("longest_first" for the pairs) and padded to 24.
same_as "$fix/cli_uncased_pad24.jsonl" --max-length 24 --pad
# The same tokenizer as transformers 5 saves it (tokenizer.json + tokenizer_config.json, no
# vocab.txt), and tokenizer.json alone (no model_max_length then: --max-length 512 as above).
model=$fix/uncased_tf5
same_as "$fix/cli_uncased.jsonl"
same_as "$fix/cli_uncased_pad24.jsonl" --max-length 24 --pad
model=$fix/uncased_json_only
same_as "$fix/cli_uncased.jsonl" --max-length 512
same_as "$fix/cli_uncased_pad24.jsonl" --max-length 24 --pad
[ "$(wc -l <"$fix/cli_input.txt")" -ge 40 ] || fail "cli_input.txt has fewer than 40 lines"

# A pair, an empty line, and a last line without its newline.
printf 'a b\tc\n\nlast' >"$tmp/in"
expect 0 '^\{"input_ids": \[2, [0-9]+, [0-9]+, 3, [0-9]+, 3\], "token_type_ids": \[0, 0, 0, 0, 1, 1\], "attention_mask": \[1, 1, 1, 1, 1, 1\]\}$' \
  "$bin" tokenize --model "$fix/uncased"
[ "$(wc -l <"$tmp/out")" = 3 ] || fail "3 input lines gave $(wc -l <"$tmp/out") output lines"
grep -qx '{"input_ids": \[2, 3\], "token_type_ids": \[0, 0\], "attention_mask": \[1, 1\]}' "$tmp/out" ||
  fail "an empty line is not [CLS] [SEP]"
# --no-truncation keeps a long line whole even with --max-length.
printf 'a a a a a a a a a a\n' >"$tmp/in"
expect 0 '"attention_mask": \[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1\]\}' "$bin" tokenize --model "$fix/uncased" --max-length 4 --no-truncation
expect 0 '"input_ids": \[2, [0-9]+, [0-9]+, 3\]' "$bin" tokenize --model "$fix/uncased" --max-length 4

# Usage and errors.
: >"$tmp/in"
expect 0 '^usage: downstream tokenize --model DIR' "$bin" tokenize --help
expect 2 '--model DIR is required' "$bin" tokenize
expect 2 "unknown or incomplete option '--bogus'" "$bin" tokenize --model "$fix/uncased" --bogus
expect 2 '--max-length needs a positive integer' "$bin" tokenize --model "$fix/uncased" --max-length 0
expect 1 'nope: no tokenizer: neither .*nope/vocab\.txt nor tokenizer\.json exists' "$bin" tokenize --model "$tmp/nope"
printf 'fine\nbad \xff byte\n' >"$tmp/in"
expect 1 'stdin line 2: tokenizer: invalid UTF-8 at byte 4' "$bin" tokenize --model "$fix/uncased"

if [ $failures -ne 0 ]; then
  echo "test_tokenize: $failures failed"
  exit 1
fi
echo "test_tokenize: ok"
