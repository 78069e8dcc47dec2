#!/usr/bin/env bash
# speech_ctc against Hugging Face transformers' own files and numbers (tests/fixtures/speech, from
# scripts/fixtures/speech_task.py with transformers 5.24):
# - predict with a Wav2Vec2ForCTC + Wav2Vec2Processor directory saved by transformers 5
#   (processor_config.json layout): the logits of each utterance equal transformers' within 1e-5
#   relative (u11 is 8 kHz stereo: mixed down and resampled first), and the transcripts are
#   processor.batch_decode's, character for character (<s>, </s>, [UNK] included);
# - fine-tuning that directory: its tokenizer and lm_head are kept; with another vocabulary
#   (data.vocab=build without the letter e) lm_head is re-initialised and the run says so;
# - a pre-training checkpoint (Wav2Vec2ForPreTraining, legacy weight_g/weight_v names, no tokenizer)
#   fine-tunes from safetensors and from pytorch_model.bin alike: the vocabulary is built from the
#   transcripts, lm_head starts afresh, the quantizer and projections are ignored.
source "$(dirname "$0")/lib.sh"
fix=$src/tests/fixtures/speech

"$bin" predict --model "$fix/hf_ctc" --input "$fix/wav" --output "$tmp/pred.jsonl" --save-logits "$tmp/logits" \
  >/dev/null 2>"$tmp/pred.err"
check "predict with the transformers directory exits 0" "[ $? -eq 0 ]"
# Tolerance: both sides fp32 from the same weights, differing in summation order only (5e-7 to
# 1.3e-6 of the largest logit measured); 1e-5 leaves a margin while a wrong layer is >= 1e-2.
for u in u0 u3 u11; do
  echo "  $u: $("$cmp_ckpt" "$fix/hf_ctc_logits/$u.safetensors" "$tmp/logits/$u.safetensors" --prefix '' --rtol 1e-5)"
  check "$u: logits equal transformers' within 1e-5 relative" \
    "'$cmp_ckpt' '$fix/hf_ctc_logits/$u.safetensors' '$tmp/logits/$u.safetensors' --prefix '' --rtol 1e-5 >/dev/null"
  want=$(grep "\"$u\":" "$fix/hf_ctc_text.json" | sed 's/^ *"[^"]*": //; s/,$//')
  got=$(grep "/$u.wav\"" "$tmp/pred.jsonl" | sed 's/.*"text":\(".*"\),"seconds".*/\1/')
  check "$u: the transcript is processor.batch_decode's" "[ -n '$want' ] && [ '$want' = '$got' ]"
done

cfg=(--set task.type=speech_ctc --set run.threads=2 --set run.device=cpu --set data.train="$fix/train.csv"
     --set data.dev="$fix/dev.csv" --set train.max_steps=2 --set train.batch_size=3 --set train.eval_every=0
     --set data.num_workers=1)
"$bin" train "${cfg[@]}" --set model.path="$fix/hf_ctc" --set train.output_dir="$tmp/keep" >/dev/null 2>"$tmp/keep.err"
check "fine-tuning the directory with its own tokenizer keeps lm_head" \
  "[ $? -eq 0 ] && grep -q 'vocabulary of 10 ids ($fix/hf_ctc)' '$tmp/keep.err' && ! grep -q 'lm_head starts afresh' '$tmp/keep.err'"
"$bin" train "${cfg[@]}" --set model.path="$fix/hf_ctc" --set data.vocab=build --set data.chars_to_ignore=e \
  --set train.output_dir="$tmp/new_vocab" >/dev/null 2>"$tmp/new_vocab.err"
check "another vocabulary (9 ids): lm_head re-initialised, said so" \
  "[ $? -eq 0 ] && grep -q 'vocabulary of 9 ids (built from' '$tmp/new_vocab.err' && grep -q 'lm_head starts afresh' '$tmp/new_vocab.err'"
check "... the export's tokenizer is the built one" "! grep -q '\"e\"' '$tmp/new_vocab/model/vocab.json' && grep -q '\"\\[PAD\\]\"' '$tmp/new_vocab/model/vocab.json'"
for kind in st bin; do
  "$bin" train "${cfg[@]}" --set model.path="$fix/hf_pretrain_$kind" --set train.output_dir="$tmp/pre_$kind" \
    >/dev/null 2>"$tmp/pre_$kind.err"
  check "the pre-training checkpoint ($kind) fine-tunes: vocabulary built, lm_head afresh, quantizer ignored" \
    "[ $? -eq 0 ] && grep -q 'built from 12 transcripts' '$tmp/pre_$kind.err' && grep -q 'lm_head starts afresh' '$tmp/pre_$kind.err' && grep -q 'quantizer' '$tmp/pre_$kind.err'"
done
check "safetensors and pytorch_model.bin give the same fine-tuned model" \
  "cmp -s '$tmp/pre_st/model/model.safetensors' '$tmp/pre_bin/model/model.safetensors'"
"$bin" predict --model "$tmp/pre_st/model" --input "$fix/wav/u0.wav" >/dev/null 2>&1
check "the fine-tuned pre-training checkpoint predicts" "[ $? -eq 0 ]"
[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -3 "$f"; done
exit $fail
