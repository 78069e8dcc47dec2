#!/usr/bin/env bash
# What a user can get wrong with the speech_ctc family, each a clear error naming the file, a
# non-zero exit (an error status, not a signal) and no crash: truncated or corrupt WAV/FLAC/OGG,
# a file that is not audio, an unsupported container (m4a), an empty file, zero-length audio and a
# missing file (tests/fixtures/audio, scripts/fixtures/audio_data.py), in training manifests and in
# predict; a transcript with characters outside the vocabulary (data.oov=error names the line and
# the character; unk trains and warns); audio too short for its transcript (the CTC loss is
# infinite: the error names the file and hints model.ctc_zero_infinity, which then trains).
source "$(dirname "$0")/lib.sh"
aud=$src/tests/fixtures/audio
fix=$src/tests/fixtures/speech

cat >"$tmp/cfg.json" <<JSON
{
  "task": {"type": "speech_ctc"},
  "run": {"seed": 1, "threads": 2, "device": "cpu"},
  "model": {"scratch_config": "$fix/tiny_scratch.json"},
  "data": {"train": "$fix/train.csv", "dev": "$fix/dev.csv", "num_workers": 1},
  "train": {"batch_size": 3, "max_steps": 2, "eval_every": 0, "output_dir": "$tmp/run"}
}
JSON

# expect_fail NAME PATTERN COMMAND...: non-zero exit below 128, the error line ("downstream CMD: ...")
# contains PATTERN, no crash text.
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  grep -E '^downstream [a-z]+: ' "$tmp/err" >"$tmp/errline"
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qF -- "$pattern" "$tmp/errline" &&
     ! grep -qiE 'segmentation fault|core dumped|assert|sanitizer' "$tmp/err"; then
    echo "ok   $name (exit $rc): $(head -1 "$tmp/errline" | cut -c1-240)"
  else
    echo "FAIL: $name: exit $rc, wanted '$pattern' in:"
    tail -3 "$tmp/err"
    fail=1
  fi
}
train() { "$bin" train --config "$tmp/cfg.json" "$@"; }
manifest() {  # file, then path|text rows
  local f=$1
  shift
  echo "audio,text" >"$f"
  for r in "$@"; do echo "${r%%|*},${r#*|}" >>"$f"; done
}

# ---- audio files in a training manifest ----------------------------------------------------------
for b in truncated.wav corrupt.wav truncated.flac truncated.ogg notaudio.wav unsupported.m4a empty.wav zero_frames.wav \
         missing.wav; do
  manifest "$tmp/$b.csv" "$fix/wav/u0.wav|abc" "$fix/wav/u1.wav|bad cab" "$aud/$b|ace" "$fix/wav/u3.wav|dab"
  expect_fail "training with $b" "$aud/$b" train --set data.train="$tmp/$b.csv"
done

# ---- predict -------------------------------------------------------------------------------------
for b in truncated.wav truncated.flac notaudio.wav unsupported.m4a zero_frames.wav missing.wav; do
  expect_fail "predict on $b" "$b" "$bin" predict --model "$fix/hf_ctc" --input "$aud/$b"
done
manifest "$tmp/pred.csv" "$fix/wav/u0.wav|" "$aud/truncated.ogg|"
expect_fail "predict on a manifest naming a truncated OGG" "truncated.ogg" "$bin" predict --model "$fix/hf_ctc" \
  --input "$tmp/pred.csv"

# ---- transcripts ---------------------------------------------------------------------------------
manifest "$tmp/oov.csv" "$fix/wav/u0.wav|abc" "$fix/wav/u1.wav|bad cab" "$fix/wav/u2.wav|ace" "$fix/wav/u3.wav|dax"
expect_fail "a transcript character outside the model's vocabulary (data.oov=error)" "oov.csv:5" \
  train --set model.path="$fix/hf_ctc" --set model.scratch_config= --set data.train="$tmp/oov.csv" --set data.oov=error
check "... the message names the character" "grep -q \"U+0078\\|'x'\" '$tmp/errline'"
train --set model.path="$fix/hf_ctc" --set model.scratch_config= --set data.train="$tmp/oov.csv" --set data.oov=unk \
  --set train.output_dir="$tmp/unk" >/dev/null 2>"$tmp/unk.err"
check "data.oov=unk trains and says how many characters became [UNK]" \
  "[ $? -eq 0 ] && grep -q '1 transcript characters are outside the vocabulary and became \[UNK\]' '$tmp/unk.err'"

long=$(printf 'ab%.0s' $(seq 1 200))  # 400 labels for u2's 0.38 s (303 frames)
manifest "$tmp/short.csv" "$fix/wav/u0.wav|abc" "$fix/wav/u1.wav|bad cab" "$fix/wav/u2.wav|$long"
expect_fail "audio too short for its transcript" "u2.wav" train --set data.train="$tmp/short.csv" \
  --set model.ctc_zero_infinity=false
check "... the message hints model.ctc_zero_infinity" "grep -q 'model.ctc_zero_infinity=true' '$tmp/errline'"
train --set data.train="$tmp/short.csv" --set model.ctc_zero_infinity=true --set train.output_dir="$tmp/zinf" \
  >/dev/null 2>"$tmp/zinf.err"
check "with model.ctc_zero_infinity=true it trains" "[ $? -eq 0 ]"

# ---- the model and the config --------------------------------------------------------------------
expect_fail "model.path that is not a model directory" "$fix/train.csv" train --set model.path="$fix/train.csv"
mkdir -p "$tmp/notw2v"
echo '{"model_type": "bert", "architectures": ["BertModel"]}' >"$tmp/notw2v/config.json"
: >"$tmp/notw2v/model.safetensors"
expect_fail "a config.json of another model type" "model_type \"bert\"" train --set model.path="$tmp/notw2v"
sed 's/"hidden_act": "gelu"/"hidden_act": "relu"/' "$fix/tiny_scratch.json" >"$tmp/relu.json"
expect_fail "an unsupported activation" "hidden_act" train --set model.scratch_config="$tmp/relu.json"
expect_fail "train.metric of another family" "wer, cer or loss" train --set train.metric=miou
[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -3 "$f"; done
exit $fail
