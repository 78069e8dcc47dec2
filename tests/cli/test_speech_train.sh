#!/usr/bin/env bash
# The speech_ctc family end to end on the tiny fixture utterances (tests/fixtures/speech,
# scripts/fixtures/speech_task.py) with a tiny Wav2Vec2 from scratch (model.scratch_config), and the
# trainer's invariants for this family:
# - resume is bit-exact with SpecAugment (time and feature masks), LayerDrop and every dropout on:
#   3 steps, stop, resume, 3 more give checkpoint-6 byte-identical to 6 straight steps; a resumed
#   run given another run.seed ignores it (the masks come from the checkpoint's seed);
# - freeze_feature_encoder: fine-tuning an HF directory leaves the conv stack bit-identical and the
#   checkpoint holds no AdamW moments for it, while the encoder moves;
# - evaluation prints WER/CER and transcripts beside references, the same with batch 1 and 3 (an
#   attention mask over padding, each utterance decoded over its own frames); samples.jsonl;
# - predict on the export: a file, a folder, a manifest; --output, --save-logits; the family is
#   recognised from config.json; bench prints its JSON; CUDA is refused clearly.
source "$(dirname "$0")/lib.sh"
fix=$src/tests/fixtures/speech
cat >"$tmp/cfg.json" <<JSON
{
  "task": {"type": "speech_ctc"},
  "run": {"seed": 3, "threads": 2, "device": "cpu"},
  "model": {"scratch_config": "$fix/tiny_scratch.json", "freeze_feature_encoder": false,
            "mask_time_prob": 0.3, "mask_time_length": 4, "mask_feature_prob": 0.2, "mask_feature_length": 2,
            "layerdrop": 0.3, "hidden_dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.1,
            "feat_proj_dropout": 0.1, "final_dropout": 0.1, "ctc_zero_infinity": true},
  "data": {"train": "$fix/train.csv", "dev": "$fix/dev.csv", "num_workers": 1},
  "train": {"lr": 3e-3, "warmup_steps": 2, "batch_size": 3, "max_steps": 6, "eval_every": 3, "log_every": 1,
            "keep_last": 3}
}
JSON
train() { "$bin" train --config "$tmp/cfg.json" "$@"; }

# ---- straight, resumed, resumed with another seed ---------------------------------------------
train --set train.output_dir="$tmp/straight" >"$tmp/straight.out" 2>"$tmp/straight.err"
check "6 straight steps (3 a epoch, SpecAugment, LayerDrop, dropout) exit 0" "[ $? -eq 0 ]"
check "dev evaluations log eval_wer and eval_cer" \
  "[ \$(grep -c '\"eval_wer\"' '$tmp/straight/metrics.jsonl') -eq 2 ] && grep -q eval_cer '$tmp/straight/metrics.jsonl'"
check "the export is an HF directory: config.json (Wav2Vec2ForCTC), weights, tokenizer, processor" \
  "grep -q Wav2Vec2ForCTC '$tmp/straight/model/config.json' && [ -s '$tmp/straight/model/model.safetensors' ] && [ -s '$tmp/straight/model/vocab.json' ] && grep -q return_attention_mask '$tmp/straight/model/preprocessor_config.json'"
check "the export spells the weight norm as transformers 5 (parametrizations.weight.original0/1)" \
  "grep -aq 'pos_conv_embed.conv.parametrizations.weight.original0' '$tmp/straight/model/model.safetensors'"
train --set train.output_dir="$tmp/resumed" --set train.stop_after=3 >/dev/null 2>&1
train --set train.output_dir="$tmp/resumed" --set train.resume=true >/dev/null 2>"$tmp/resumed.err"
check "3 + resume + 3 exits 0" "[ $? -eq 0 ]"
check "checkpoint-6 after a resume byte-identical to the straight run's" \
  "cmp -s '$tmp/straight/checkpoint-6.safetensors' '$tmp/resumed/checkpoint-6.safetensors'"
train --set train.output_dir="$tmp/reseed" --set train.stop_after=3 >/dev/null 2>&1
train --set train.output_dir="$tmp/reseed" --set train.resume=true --set run.seed=99 >/dev/null 2>"$tmp/reseed.err"
check "resume with run.seed=99 says the seed is ignored" "[ $? -eq 0 ] && grep -q 'run.seed is ignored' '$tmp/reseed.err'"
check "... and its checkpoint-6 is byte-identical to the straight run's" \
  "cmp -s '$tmp/straight/checkpoint-6.safetensors' '$tmp/reseed/checkpoint-6.safetensors'"
train --set train.output_dir="$tmp/other_seed" --set run.seed=99 >/dev/null 2>&1
check "a fresh run with run.seed=99 differs (the check can fail)" \
  "! cmp -s '$tmp/straight/checkpoint-6.safetensors' '$tmp/other_seed/checkpoint-6.safetensors'"

# ---- a frozen feature encoder ------------------------------------------------------------------
train --set model.path="$fix/hf_ctc" --set model.scratch_config= --set model.freeze_feature_encoder=true \
  --set train.max_steps=3 --set train.output_dir="$tmp/frozen" >/dev/null 2>"$tmp/frozen.err"
check "fine-tuning the HF directory with a frozen feature encoder exits 0" "[ $? -eq 0 ] && grep -q 'feature encoder frozen' '$tmp/frozen.err'"
check "... the conv stack is bit-identical to the checkpoint's" \
  "'$cmp_ckpt' '$fix/hf_ctc/model.safetensors' '$tmp/frozen/model/model.safetensors' --prefix wav2vec2.feature_extractor. --rtol 0 >/dev/null"
check "... the encoder moved (the check can fail)" \
  "! '$cmp_ckpt' '$fix/hf_ctc/model.safetensors' '$tmp/frozen/model/model.safetensors' --prefix wav2vec2.encoder.layers.0. --rtol 0 >/dev/null"
check "... the checkpoint holds AdamW moments for the encoder but none for the conv stack" \
  "grep -aq 'adam_m/wav2vec2.encoder.layers.0' '$tmp/frozen/checkpoint-3.safetensors' && ! grep -aq 'adam_m/wav2vec2.feature_extractor' '$tmp/frozen/checkpoint-3.safetensors'"

# ---- evaluation and the run report's samples ---------------------------------------------------
"$bin" eval --config "$tmp/cfg.json" --set model.path="$tmp/straight/model" >"$tmp/eval.out" 2>&1
check "eval exits 0 with WER and CER and transcripts beside references" \
  "[ $? -eq 0 ] && grep -q 'eval_wer' '$tmp/eval.out' && grep -q 'eval_cer' '$tmp/eval.out' && grep -q 'ref: cede ab' '$tmp/eval.out' && grep -q 'hyp:' '$tmp/eval.out'"
"$bin" eval --config "$tmp/cfg.json" --set model.path="$tmp/straight/model" --set train.batch_size=1 >"$tmp/eval1.out" 2>&1
check "evaluation does not depend on the batch size (each utterance decoded over its own frames)" \
  "grep -q '^dev (3 examples)' '$tmp/eval1.out' && diff <(sed -n '/^dev (/,\$p' '$tmp/eval.out' | sed 's/eval_loss [0-9.]* //') <(sed -n '/^dev (/,\$p' '$tmp/eval1.out' | sed 's/eval_loss [0-9.]* //')"
check "samples.jsonl: audio samples with reference, hypothesis, correct" \
  "grep -q '\"kind\":\"audio\"' '$tmp/straight/samples.jsonl' && grep -q '\"reference\":\"ebb\"' '$tmp/straight/samples.jsonl' && grep -q '\"correct\":' '$tmp/straight/samples.jsonl'"

# ---- predict ----------------------------------------------------------------------------------
"$bin" predict --model "$tmp/straight/model" --input "$fix/wav/u1.wav" >"$tmp/p1.jsonl" 2>"$tmp/p1.err"
check "predict one file (family from config.json) prints one {audio, text, seconds} line" \
  "[ $? -eq 0 ] && [ \$(wc -l <'$tmp/p1.jsonl') -eq 1 ] && grep -q '\"audio\":\".*u1.wav\",\"text\":\".*\",\"seconds\":0\\.' '$tmp/p1.jsonl'"
"$bin" predict --model "$tmp/straight/model" --input "$fix/wav" --output "$tmp/pdir.jsonl" --save-logits "$tmp/logits" \
  >/dev/null 2>"$tmp/pdir.err"
check "predict a folder: 12 lines in --output, logits <stem>.safetensors" \
  "[ $? -eq 0 ] && [ \$(wc -l <'$tmp/pdir.jsonl') -eq 12 ] && [ -s '$tmp/logits/u11.safetensors' ]"
"$bin" predict --model "$tmp/straight/model" --input "$fix/dev.csv" --output "$tmp/pman.jsonl" >/dev/null 2>&1
check "predict a manifest: one line per row" "[ $? -eq 0 ] && [ \$(wc -l <'$tmp/pman.jsonl') -eq 3 ]"
check "... the same transcript for u1 from a file and from a folder" \
  "[ \"\$(cut -d, -f2 '$tmp/p1.jsonl')\" = \"\$(grep u1.wav '$tmp/pdir.jsonl' | cut -d, -f2)\" ]"

# ---- bench, CUDA, help -------------------------------------------------------------------------
"$bin" bench --set task.type=speech_ctc --set model.scratch_config="$fix/tiny_scratch.json" --set bench.seconds=0.5 \
  --set bench.repeats=2 --set bench.warmup=0 --set bench.gemm_check=false --set run.threads=2 >"$tmp/bench.out" 2>/dev/null
check "bench prints one JSON object with the step time and memory" \
  "[ $? -eq 0 ] && [ \$(wc -l <'$tmp/bench.out') -eq 1 ] && grep -q '\"samples_per_s\": [0-9]' '$tmp/bench.out' && grep -q '\"peak_mem_bytes\": [1-9]' '$tmp/bench.out'"
train --set run.device=cuda --set run.precision=fp32 --set train.output_dir="$tmp/cuda" >/dev/null 2>"$tmp/cuda.err"
rc=$?
# With a GPU the family trains on CUDA in fp32 (ds_w2v_to_device); without one (or in a build
# without CUDA) the run must stop with a message that says so, never crash.
if "$bin" version 2>/dev/null | grep -q 'devices visible: [1-9]'; then
  check "run.device=cuda trains the speech model on the GPU" "[ $rc -eq 0 ]"
else
  check "run.device=cuda without a GPU fails cleanly with a message" \
    "[ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qi 'cuda\|gpu' '$tmp/cuda.err'"
fi
check "help config lists the speech keys" "'$bin' help config | grep -q '^model.ctc_zero_infinity'"
[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -3 "$f"; done
exit $fail
