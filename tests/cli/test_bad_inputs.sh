#!/usr/bin/env bash
# Every kind of input file x the faults a user's file can have (truncated, corrupt, wrong type,
# oversize, hostile): each must end in a clean error -- an exit status from 1 to 127 (not a signal),
# one message that names the file, no sanitizer or crash text. The messages are printed as the
# rows of the table in docs/reliability.md ("| kind | fault | message |", the temporary folder
# written as TMP, the source folder as SRC). Inputs go through the command a user would run; the readers no command reaches
# yet (audio, speech manifests, checkpoints read alone) through their fuzz target's replay binary
# (fuzz_replay_<name>, DS_FUZZ_VERBOSE=1 prints the reader's message), next to compare_checkpoints.
source "$(dirname "$0")/lib.sh"
fx=$src/tests/fixtures
replay=$(dirname "$cmp_ckpt")

# row KIND FAULT PATTERN COMMAND...: runs COMMAND; the message is its "downstream CMD: ..." line
# (or a replay binary's "error: ..." line) and must contain PATTERN (a fixed string).
row() {
  local kind=$1 fault=$2 pattern=$3
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local msg
  msg=$(cat "$tmp/out" "$tmp/err" | grep -E '^(downstream [a-z-]+: |error: )' | head -n 1)
  if [ $rc -eq 0 ] && grep -q '^error: ' "$tmp/out"; then rc=1; fi  # the replay binaries exit 0
  if [ $rc -ge 1 ] && [ $rc -lt 128 ] && [ -n "$msg" ] && grep -qF -- "$pattern" <<<"$msg" &&
     ! grep -qiE 'sanitizer|runtime error|segmentation fault|core dumped|assert' "$tmp/out" "$tmp/err"; then
    msg=${msg//$tmp/TMP}
    msg=${msg//$src/SRC}
    echo "| $kind | $fault | \`$(sed -E 's#/[^ ]*/ds_fuzz_[a-z_]+_[0-9]+/#TMP/#g' <<<"$msg")\` |"
  else
    echo "FAIL: $kind, $fault: exit $rc, wanted '$pattern' in:"
    tail -n 5 "$tmp/err" "$tmp/out"
    fail=1
  fi
}
verbose() { DS_FUZZ_VERBOSE=1 "$@"; }
prefix() {  # prefix BYTE FILE OUT: the mode byte of a fuzz target, then FILE
  { printf "$1"; cat "$2"; } >"$3"
}

# ---- safetensors (downstream inspect) ------------------------------------------------------------
st=$fx/safetensors/values.safetensors
head -c 100 "$st" >"$tmp/truncated.safetensors"
cp "$st" "$tmp/corrupt.safetensors"
printf '{"x":{"dtype":"F32",' | dd of="$tmp/corrupt.safetensors" bs=1 seek=8 conv=notrunc 2>/dev/null
cp "$fx/images/decode/rgb8.png" "$tmp/image.safetensors"
printf '\x00\x00\x00\x00\x00\x00\x00\x40{}' >"$tmp/oversize.safetensors"
h='{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}'
{ printf "\\x$(printf %02x ${#h})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$h"; head -c 16 /dev/zero; } >"$tmp/hostile.safetensors"
h='{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
{ printf "\\x$(printf %02x ${#h})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$h"; head -c 12 /dev/zero; } >"$tmp/overlap.safetensors"
row safetensors truncated truncated.safetensors "$bin" inspect "$tmp/truncated.safetensors"
row safetensors corrupt corrupt.safetensors "$bin" inspect "$tmp/corrupt.safetensors"
row safetensors "wrong type (a PNG)" image.safetensors "$bin" inspect "$tmp/image.safetensors"
row safetensors "oversize (header length 2^62)" oversize.safetensors "$bin" inspect "$tmp/oversize.safetensors"
row safetensors "hostile (shape of 2^64 elements)" hostile.safetensors "$bin" inspect "$tmp/hostile.safetensors"
row safetensors "hostile (overlapping data_offsets)" overlap.safetensors "$bin" inspect "$tmp/overlap.safetensors"

# ---- PyTorch .pth (downstream convert) -----------------------------------------------------------
pth=$fx/pth/values_zip.pth
head -c 700 "$pth" >"$tmp/truncated.pth"
cp "$pth" "$tmp/corrupt.pth"
printf 'XXXX' | dd of="$tmp/corrupt.pth" bs=1 seek=120 conv=notrunc 2>/dev/null  # inside data.pkl
cp "$fx/images/decode/baseline420.jpg" "$tmp/image.pth"
head -c 3000 "$fx/pth/values_legacy.pth" >"$tmp/truncated_legacy.pth"
row ".pth (zip)" truncated truncated.pth "$bin" convert "$tmp/truncated.pth" "$tmp/out.safetensors"
row ".pth (zip)" "corrupt (4 bytes of the pickle)" corrupt.pth "$bin" convert "$tmp/corrupt.pth" "$tmp/out.safetensors"
row ".pth (legacy)" truncated truncated_legacy.pth "$bin" convert "$tmp/truncated_legacy.pth" "$tmp/out.safetensors"
row ".pth" "wrong type (a JPEG)" image.pth "$bin" convert "$tmp/image.pth" "$tmp/out.safetensors"
row ".pth (zip)" "hostile (pickle calls os.system)" forbidden_system_zip.pth \
  "$bin" convert "$fx/pth/forbidden_system_zip.pth" "$tmp/out.safetensors"
row ".pth (legacy)" "hostile (pickle calls builtins.eval)" forbidden_eval_legacy.pth \
  "$bin" convert "$fx/pth/forbidden_eval_legacy.pth" "$tmp/out.safetensors"

# ---- the JSON config and --set (downstream config) ------------------------------------------------
printf '{"train": {"lr": 3e-5' >"$tmp/truncated.json"
printf '{"train": {"lr": 3e-5,, "epochs": 2}}' >"$tmp/corrupt.json"
printf '{"train": {"lr": "fast"}}' >"$tmp/type.json"
printf '{"train": {"batch_size": 1e30}}' >"$tmp/oversize.json"
printf '{"train": {"lr": 1e-5}, "train": {"lr": 1e-3}}' >"$tmp/dup.json"
python3 -c 'print("[" * 200000 + "]" * 200000)' >"$tmp/deep.json"
row "config (JSON)" truncated truncated.json "$bin" config --config "$tmp/truncated.json"
row "config (JSON)" corrupt corrupt.json "$bin" config --config "$tmp/corrupt.json"
row "config (JSON)" "wrong type" train.lr "$bin" config --config "$tmp/type.json"
row "config (JSON)" "oversize (value out of range)" train.batch_size "$bin" config --config "$tmp/oversize.json"
row "config (JSON)" "hostile (a key given twice)" train "$bin" config --config "$tmp/dup.json"
row "config (JSON)" "hostile (200000 nested arrays)" deep.json "$bin" config --config "$tmp/deep.json"
row "--set" "wrong type" train.lr "$bin" config --set train.lr=fast
row "--set" "oversize (out of range)" train.batch_size "$bin" config --set train.batch_size=99999999999999999999
row "--set" "unknown key" train.lrr "$bin" config --set train.lrr=3e-5
row "--set" "no '='" train.lr "$bin" config --set train.lr
printf '{"grid": {"train.lr": [1e-4,' >"$tmp/sweep_truncated.json"
printf '{"grid": {"train.lr": 1e-4}}' >"$tmp/sweep_type.json"
printf '{"runs": [{"train.lr": {"x": 1}}]}' >"$tmp/sweep_object.json"
row "sweep file" truncated sweep_truncated.json "$bin" config --sweep "$tmp/sweep_truncated.json" --sweep-index 0
row "sweep file" "wrong type (grid values not a list)" sweep_type.json "$bin" config --sweep "$tmp/sweep_type.json" --sweep-index 0
row "sweep file" "hostile (index past the end)" sweep_object.json "$bin" config --sweep "$tmp/sweep_object.json" --sweep-index 5
row "sweep file" "wrong type (a value that is an object)" sweep_object.json \
  "$bin" config --sweep "$tmp/sweep_object.json" --sweep-index 0

# ---- text data: CSV, TSV, JSON Lines (downstream train, tiny BERT) -------------------------------
tiny=(--set model.path="$fx/trainer/tiny_bert" --set train.output_dir="$tmp/run" --set train.max_steps=1)
printf 'text,label\ngood,1\n"never closed,0\n' >"$tmp/truncated.csv"
printf 'text,label\ngood,1\nbad \xff\xfe byte,0\n' >"$tmp/corrupt.csv"
cp "$fx/images/decode/rgb8.png" "$tmp/image.csv"
printf 'text\tlabel\tmore\ngood\t1\textra\nshort\t0\n' >"$tmp/fields.tsv"
printf '{"text": "good", "label": 1}\n{"text": ["not", "a", "string"], "label": 0}\n' >"$tmp/type.jsonl"
printf '{"text": "good", "label": 1}\n{"text": "half' >"$tmp/truncated.jsonl"
printf 'text,label\nab"c,1\n' >"$tmp/quote.csv"
printf 'text,label\nnul \x00 byte,1\n' >"$tmp/nul.csv"
row "CSV" "truncated (quote never closed)" truncated.csv "$bin" train "${tiny[@]}" --set data.train="$tmp/truncated.csv"
row "CSV" "corrupt (invalid UTF-8)" corrupt.csv "$bin" train "${tiny[@]}" --set data.train="$tmp/corrupt.csv"
row "CSV" "wrong type (a PNG)" image.csv "$bin" train "${tiny[@]}" --set data.train="$tmp/image.csv"
row "CSV" "hostile (a NUL byte)" nul.csv "$bin" train "${tiny[@]}" --set data.train="$tmp/nul.csv"
row "CSV" "hostile (a quote inside a field)" quote.csv "$bin" train "${tiny[@]}" --set data.train="$tmp/quote.csv"
row "TSV" "corrupt (a row with fewer fields)" fields.tsv "$bin" train "${tiny[@]}" --set data.train="$tmp/fields.tsv"
row "JSON Lines" truncated truncated.jsonl "$bin" train "${tiny[@]}" --set data.train="$tmp/truncated.jsonl"
row "JSON Lines" "wrong type (text not a string)" type.jsonl "$bin" train "${tiny[@]}" --set data.train="$tmp/type.jsonl"

# ---- BERT tokenizer files and config.json (downstream tokenize, downstream train) ----------------
model() {  # model NAME: a copy of the tiny BERT in TMP/NAME
  rm -rf "${tmp:?}/$1"
  cp -r "$fx/trainer/tiny_bert" "$tmp/$1"
}
model vocab_trunc && head -c 20 "$fx/trainer/tiny_bert/vocab.txt" >"$tmp/vocab_trunc/vocab.txt"
model vocab_bad && printf '[PAD]\n[UNK]\n\xff\xfe\n' >"$tmp/vocab_bad/vocab.txt"
model tc_type && printf '{"do_lower_case": "yes"}' >"$tmp/tc_type/tokenizer_config.json"
model tc_trunc && printf '{"do_lower_case": tr' >"$tmp/tc_trunc/tokenizer_config.json"
model tj_bpe && printf '{"model": {"type": "BPE", "vocab": {}, "merges": []}}' >"$tmp/tj_bpe/tokenizer.json"
model tj_trunc && printf '{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, ' >"$tmp/tj_trunc/tokenizer.json"
tok() { echo "hello" | "$bin" tokenize --model "$@"; }
row "vocab.txt" "truncated (no [UNK] left)" vocab_trunc tok "$tmp/vocab_trunc"
row "vocab.txt" "corrupt (invalid UTF-8)" vocab_bad tok "$tmp/vocab_bad"
row "tokenizer_config.json" truncated tc_trunc tok "$tmp/tc_trunc"
row "tokenizer_config.json" "wrong type" do_lower_case tok "$tmp/tc_type"
row "tokenizer.json" truncated tj_trunc tok "$tmp/tj_trunc"
row "tokenizer.json" "wrong type (a BPE tokenizer)" tj_bpe tok "$tmp/tj_bpe"
cfgrow() {  # cfgrow FAULT PATTERN JSON
  local d=$tmp/cfg
  rm -rf "$d" && cp -r "$fx/trainer/tiny_bert" "$d" && printf '%s' "$3" >"$d/config.json"
  row "config.json (BERT)" "$1" "$2" "$bin" train --set model.path="$d" --set train.output_dir="$tmp/run" \
    --set train.max_steps=1 --set data.train="$fx/trainer/sentiment.csv"
}
cfgrow truncated config.json '{"hidden_size": 32, "num_hidden'
cfgrow "wrong type" hidden_size '{"model_type": "bert", "hidden_size": "big"}'
cfgrow "oversize" num_hidden_layers '{"model_type": "bert", "num_hidden_layers": 1e12}'
cfgrow "hostile (another model type)" model_type '{"model_type": "gpt2"}'

# ---- images and segmentation lists (downstream train, task segmentation) --------------------------
voc=$fx/images/voc
bad=$fx/images/bad
cat >"$tmp/seg.json" <<JSON
{"task": {"type": "segmentation"}, "run": {"seed": 1, "threads": 2, "device": "cpu"}, "model": {"width": 4},
 "data": {"base_size": 40, "crop_size": 32, "num_workers": 1, "class_names": "$voc/class_names.txt"},
 "train": {"optimizer": "sgd", "lr": 0.01, "batch_size": 2, "max_steps": 1, "eval_every": 0, "warmup_ratio": 0,
           "output_dir": "$tmp/segrun"}}
JSON
seg() {  # seg LIST [ARGS...]: trains on LIST (also the dev set)
  local list=$1
  shift
  "$bin" train --config "$tmp/seg.json" --set data.train="$list" --set data.dev="$list" "$@"
}
pairs() {  # pairs FILE IMAGE MASK: a list of that pair and a good one
  printf 'image,mask\n%s,%s\n%s,%s\n' "$2" "$3" "$voc/JPEGImages/b.jpg" "$voc/SegmentationClass/b.png" >"$1"
}
for b in truncated.jpg garbage.jpg bad_dht.jpg zero_height.jpg truncated.png bad_zlib.png bad_crc.png not_an_image.png \
         zero_width.png huge.png; do
  case $b in
    truncated.*) f=truncated ;; garbage.jpg | bad_*) f=corrupt ;; not_an_image.png) f="wrong type (text)" ;;
    huge.png) f="oversize (header claims 100000 x 100000)" ;; *) f="hostile (zero size)" ;;
  esac
  pairs "$tmp/$b.csv" "$bad/$b" "$voc/SegmentationClass/a.png"
  row "${b##*.} ($b)" "$f" "$b" seg "$tmp/$b.csv"
done
pairs "$tmp/jpeg_mask.csv" "$voc/JPEGImages/a.jpg" "$bad/jpeg_mask.jpg"
row "mask" "wrong type (a JPEG)" jpeg_mask.jpg seg "$tmp/jpeg_mask.csv"
pairs "$tmp/rgb_mask.csv" "$voc/JPEGImages/a.jpg" "$bad/rgb_mask.png"
row "mask" "wrong type (an RGB PNG)" rgb_mask.png seg "$tmp/rgb_mask.csv"
row "segmentation list" "corrupt (no mask column)" no_mask_column.csv seg "$fx/images/lists/no_mask_column.csv"
row "segmentation list" "hostile (a missing file)" zz.jpg seg "$fx/images/lists/missing_file.csv"
printf 'image,mask\n"a.jpg,b.png\n' >"$tmp/seg_trunc.csv"
row "segmentation list" truncated seg_trunc.csv seg "$tmp/seg_trunc.csv"
printf 'background\ncat\ncat\n' >"$tmp/classes.txt"
row "class names" "hostile (a name twice)" classes.txt seg "$fx/images/lists/pairs.csv" --set data.class_names="$tmp/classes.txt"

# ---- audio and speech manifests (reader messages: fuzz_replay_audio, fuzz_replay_manifest) --------
au=$fx/audio
for b in truncated.wav corrupt.wav notaudio.wav empty.wav zero_frames.wav truncated.flac truncated.ogg unsupported.m4a; do
  case $b in
    truncated.*) f=truncated ;; corrupt.wav) f=corrupt ;; notaudio.wav | unsupported.m4a) f="wrong type" ;;
    *) f="hostile (no audio)" ;;
  esac
  prefix '\1' "$au/$b" "$tmp/$b"
  row "audio ($b)" "$f" audio.bin verbose "$replay/fuzz_replay_audio" "$tmp/$b"
done
# A WAV header that claims 2^31 frames (about 37 hours at 16 kHz).
{ printf '\1RIFF\xff\xff\xff\x7fWAVEfmt \x10\0\0\0\1\0\1\0\x80\x3e\0\0\0\x7d\0\0\2\0\x10\0data\xfe\xff\xff\x7f'; head -c 64 /dev/zero; } \
  >"$tmp/long.wav"
row "audio (WAV)" "oversize (header claims 37 h)" audio.bin verbose "$replay/fuzz_replay_audio" "$tmp/long.wav"
printf '\0audio,sentence\na.wav,hello\n' >"$tmp/m_col"
printf '\0audio,text\nmissing.wav,hello\n' >"$tmp/m_missing"
printf '\2{"audio": "a.wav", "text": 42}\n' >"$tmp/m_type"
printf '\0audio,text\n"a.wav,hello\n' >"$tmp/m_trunc"
printf '\0audio,text\n,hello\n' >"$tmp/m_empty"
row "speech manifest" truncated m.csv verbose "$replay/fuzz_replay_manifest" "$tmp/m_trunc"
row "speech manifest" "corrupt (no text column)" m.csv verbose "$replay/fuzz_replay_manifest" "$tmp/m_col"
row "speech manifest" "wrong type (transcript a number)" m.jsonl verbose "$replay/fuzz_replay_manifest" "$tmp/m_type"
row "speech manifest" "hostile (a missing audio file)" missing.wav verbose "$replay/fuzz_replay_manifest" "$tmp/m_missing"
row "speech manifest" "hostile (an empty path)" m.csv verbose "$replay/fuzz_replay_manifest" "$tmp/m_empty"

# ---- checkpoints: the train state and the full load (fuzz_replay_train_state) ---------------------
ck=$src/tests/fuzz/corpus/train_state/seed-load
size=$(stat -c %s "$ck")
head -c $((size - 100)) "$ck" >"$tmp/ck_trunc"
cp "$ck" "$tmp/ck_flip"
printf '\x55' | dd of="$tmp/ck_flip" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null
prefix '\1' "$st" "$tmp/ck_foreign"
prefix '\1' "$fx/images/decode/rgb8.png" "$tmp/ck_png"
row "checkpoint" truncated checkpoint.safetensors verbose "$replay/fuzz_replay_train_state" "$tmp/ck_trunc"
row "checkpoint" "corrupt (one byte of a tensor)" checkpoint.safetensors verbose "$replay/fuzz_replay_train_state" "$tmp/ck_flip"
row "checkpoint" "wrong type (a safetensors that is no checkpoint)" checkpoint.safetensors \
  verbose "$replay/fuzz_replay_train_state" "$tmp/ck_foreign"
row "checkpoint" "wrong type (a PNG)" checkpoint.safetensors verbose "$replay/fuzz_replay_train_state" "$tmp/ck_png"

exit $fail
