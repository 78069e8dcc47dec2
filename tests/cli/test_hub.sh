#!/usr/bin/env bash
# `downstream pull` and model.path resolution (runtime/hub/) against a fake Hub on 127.0.0.1
# (tests/cli/fake_hub.py, Python's standard library): huggingface_hub's cache layout, a second pull
# that downloads nothing, an interrupted download resumed with Range, a corrupted one refused,
# offline mode, a gated repository, torchvision names and URLs with the hash-prefix check, and a
# training run whose model.path is a Hub id. Skipped (77) without python3.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "skipped: python3 is missing (scripts/setup_deps.sh installs it)"; exit 77; }
bin=$(realpath "$bin"); src=$(realpath "$src")

# The repositories: the tiny BERT of the trainer fixtures (vocab.txt), the same model with the
# tokenizer as transformers 5 saves it (tokenizer.json, no vocab.txt), a gated copy, torchvision files.
root=$tmp/hub
mkdir -p "$root/acme/tiny-bert" "$root/acme/tiny-bert-tf5" "$root/gated/tiny-bert" "$root/_torchvision" "$tmp/state"
cp "$src"/tests/fixtures/trainer/tiny_bert/* "$root/acme/tiny-bert/"
cp "$src"/tests/fixtures/trainer/tiny_bert/{config.json,model.safetensors} "$root/acme/tiny-bert-tf5/"
cp "$src"/tests/fixtures/tokenizer/uncased_tf5/* "$root/acme/tiny-bert-tf5/"
cp "$src"/tests/fixtures/trainer/tiny_bert/* "$root/gated/tiny-bert/"
head -c 300000 /dev/urandom >"$root/_torchvision/weights.bin"
sum=$(sha256sum "$root/_torchvision/weights.bin" | cut -c1-10)
mv "$root/_torchvision/weights.bin" "$root/_torchvision/tiny_net-$sum.pth"
cp "$root/_torchvision/tiny_net-$sum.pth" "$root/_torchvision/resnet18-f37072fd.pth"  # a wrong hash for that name

python3 "$src/tests/cli/fake_hub.py" "$root" "$tmp/state" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/state/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/state/port")
export HF_ENDPOINT=http://127.0.0.1:$port HF_HUB_CACHE=$tmp/cache TORCH_HOME=$tmp/torch
unset HF_TOKEN HF_HUB_OFFLINE HF_HOME
export HF_TOKEN_PATH=$tmp/no-token
log=$tmp/state/requests.log
gets() { grep -c '^GET ' "$log" 2>/dev/null || true; }
commit=$(printf '%s' acme/tiny-bert | sha1sum | cut -c1-40)
repo=$tmp/cache/models--acme--tiny-bert

# 1. A full pull into an empty cache: huggingface_hub's layout.
out=$("$bin" pull acme/tiny-bert 2>"$tmp/pull1.err")
check "pull exits 0 and prints the snapshot" "[ \$? -eq 0 ] && [ '$out' = '$repo/snapshots/$commit' ]"
check "refs/main holds the commit" "[ \"\$(cat '$repo/refs/main')\" = '$commit' ]"
layout_ok=1
for f in config.json model.safetensors vocab.txt tokenizer_config.json; do
  data=$root/acme/tiny-bert/$f
  if [ "$f" = model.safetensors ]; then etag=$(sha256sum "$data" | cut -d' ' -f1)
  else etag=$(python3 -c "import hashlib,sys; d=open(sys.argv[1],'rb').read(); print(hashlib.sha1(b'blob %d\0' % len(d) + d).hexdigest())" "$data"); fi
  link=$(readlink "$repo/snapshots/$commit/$f")
  [ "$link" = "../../blobs/$etag" ] && cmp -s "$repo/blobs/$etag" "$data" || { layout_ok=0; echo "  $f -> $link (want ../../blobs/$etag)"; }
done
check "snapshots/<commit>/<file> are relative links to blobs/<etag> (LFS: sha256, else git blob sha1), contents equal" "[ $layout_ok = 1 ]"
check "absent optional files recorded in .no_exist/<commit>/" \
  "[ -f '$repo/.no_exist/$commit/special_tokens_map.json' ] && [ -f '$repo/.no_exist/$commit/tokenizer.json' ]"
check "nothing else in blobs/ (no .incomplete left)" "[ \$(ls '$repo/blobs' | wc -l) = 4 ]"
check "the CDN download carried no token and the Hub's no cross-host redirect was followed by HEAD" \
  "! grep -q '^GET /cdn/.* auth' '$log'"

# 2. A second pull downloads nothing; a pull by commit makes no request at all.
before=$(gets)
out=$("$bin" pull acme/tiny-bert 2>/dev/null)
check "second pull: same path, no GET" "[ '$out' = '$repo/snapshots/$commit' ] && [ \$(gets) = $before ]"
lines=$(wc -l <"$log")
out=$("$bin" pull "acme/tiny-bert@$commit" 2>/dev/null)
check "pull by commit hash from a complete snapshot: no request" "[ '$out' = '$repo/snapshots/$commit' ] && [ \$(wc -l <'$log') = $lines ]"

# 3. An interrupted download resumes with Range.
echo 100000 >"$tmp/state/cut_after"
export HF_HUB_CACHE=$tmp/cache2
"$bin" pull acme/tiny-bert >/dev/null 2>"$tmp/cut.err"
check "an interrupted download fails, keeping the part" \
  "[ \$? -ne 0 ] && grep -q 'the next try resumes' '$tmp/cut.err' && [ \$(stat -c %s $tmp/cache2/models--acme--tiny-bert/blobs/*.incomplete) = 100000 ]"
rm "$tmp/state/cut_after"
out=$("$bin" pull acme/tiny-bert 2>"$tmp/resume.err")
check "the next pull resumes from byte 100000 and completes" \
  "[ \$? -eq 0 ] && grep -q 'GET /cdn/.* bytes=100000-' '$log' && cmp -s '$out/model.safetensors' '$root/acme/tiny-bert/model.safetensors' && ! ls $tmp/cache2/models--acme--tiny-bert/blobs/*.incomplete 2>/dev/null"

# 4. A corrupted download (SHA-256 differs from the ETag) is refused and not kept.
touch "$tmp/state/corrupt"
export HF_HUB_CACHE=$tmp/cache3
"$bin" pull acme/tiny-bert >/dev/null 2>"$tmp/corrupt.err"
check "a wrong hash is refused" "[ \$? -ne 0 ] && grep -q \"SHA-256 is .*the Hub's ETag .*not kept\" '$tmp/corrupt.err'"
check "and the file is not kept" "[ -z \"\$(ls $tmp/cache3/models--acme--tiny-bert/blobs/ | grep -v -x -e '[0-9a-f]\{40\}')\" ]"
rm "$tmp/state/corrupt"

# 5. Offline: served from the cache without a request; a clear error when the cache lacks it.
export HF_HUB_CACHE=$tmp/cache
lines=$(wc -l <"$log")
out=$(HF_HUB_OFFLINE=1 "$bin" pull acme/tiny-bert 2>/dev/null)
check "HF_HUB_OFFLINE=1: the cached snapshot, no request" "[ '$out' = '$repo/snapshots/$commit' ] && [ \$(wc -l <'$log') = $lines ]"
HF_HUB_OFFLINE=1 "$bin" pull acme/other-model --task text_classification >/dev/null 2>"$tmp/offline.err"
check "HF_HUB_OFFLINE=1 and nothing cached: an error naming the cache path and the files" \
  "[ \$? -ne 0 ] && grep -q 'fill $tmp/cache/models--acme--other-model' '$tmp/offline.err' && grep -q 'files needed: config.json, model.safetensors, tokenizer.json or vocab.txt' '$tmp/offline.err'"
HF_HUB_OFFLINE=1 "$bin" pull acme/other-model >/dev/null 2>"$tmp/offline2.err"
check "the same without --task: config.json first (it names the family)" \
  "[ \$? -ne 0 ] && grep -q 'files needed: config.json$' '$tmp/offline2.err'"
HF_ENDPOINT=http://127.0.0.1:1 "$bin" pull acme/tiny-bert >"$tmp/down.out" 2>"$tmp/down.err"
check "no network: the cached snapshot is used, with a warning" \
  "[ \$? -eq 0 ] && grep -q 'cannot reach' '$tmp/down.err' && grep -q '$commit' '$tmp/down.out'"
HF_ENDPOINT=http://127.0.0.1:1 HF_HUB_CACHE=$tmp/empty "$bin" pull acme/tiny-bert >/dev/null 2>"$tmp/down2.err"
check "no network, no cache: the error says what to put where" \
  "[ \$? -ne 0 ] && grep -q 'cannot reach' '$tmp/down2.err' && grep -q 'fill $tmp/empty/models--acme--tiny-bert' '$tmp/down2.err'"

# 6. Gated and missing repositories; a token.
"$bin" pull gated/tiny-bert >/dev/null 2>"$tmp/gated.err"
check "a gated repository: exit 1, a message about access and HF_TOKEN" \
  "[ \$? -ne 0 ] && grep -q 'gated or private' '$tmp/gated.err' && grep -q 'HF_TOKEN' '$tmp/gated.err'"
HF_TOKEN=good-token "$bin" pull gated/tiny-bert >/dev/null 2>"$tmp/gated_ok.err"
check "with the token it downloads (and the CDN never sees the token)" \
  "[ \$? -eq 0 ] && grep -q '^HEAD /gated/tiny-bert/resolve/main/config.json - auth' '$log' && ! grep -q '^GET /cdn/.* auth' '$log'"
"$bin" pull acme/no-such-model >/dev/null 2>"$tmp/missing.err"
check "a missing repository: exit 1, named" "[ \$? -ne 0 ] && grep -q 'acme/no-such-model' '$tmp/missing.err'"
"$bin" pull "acme/tiny-bert@v9" >/dev/null 2>"$tmp/rev.err"
check "a missing revision: named" "[ \$? -ne 0 ] && grep -q \"no revision 'v9'\" '$tmp/rev.err'"

# 7. A transformers-5 repository (tokenizer.json, no vocab.txt) pulls, and --task picks the list.
out=$("$bin" pull acme/tiny-bert-tf5 --task text_classification 2>/dev/null)
check "tokenizer.json instead of vocab.txt" "[ -f '$out/tokenizer.json' ] && [ ! -e '$out/vocab.txt' ]"

# 8. torchvision: a URL and a weight name into \$TORCH_HOME/hub/checkpoints, the hash prefix checked.
out=$("$bin" pull "http://127.0.0.1:$port/models/tiny_net-$sum.pth" 2>/dev/null)
check "a torchvision URL lands in \$TORCH_HOME/hub/checkpoints/<file>" \
  "[ '$out' = '$tmp/torch/hub/checkpoints/tiny_net-$sum.pth' ] && cmp -s '$out' '$root/_torchvision/tiny_net-$sum.pth'"
before=$(gets)
"$bin" pull "http://127.0.0.1:$port/models/tiny_net-$sum.pth" >/dev/null 2>&1
check "a second torchvision pull downloads nothing" "[ \$(gets) = $before ]"
DS_TORCHVISION_BASE_URL=http://127.0.0.1:$port/models "$bin" pull resnet18.IMAGENET1K_V1 >/dev/null 2>"$tmp/tv.err"
check "resnet18.IMAGENET1K_V1 maps to resnet18-f37072fd.pth, whose wrong hash is refused and not kept" \
  "[ \$? -ne 0 ] && grep -q 'GET /models/resnet18-f37072fd.pth' '$log' && grep -q 'invalid hash value (expected \"f37072fd\"' '$tmp/tv.err' && [ ! -e '$tmp/torch/hub/checkpoints/resnet18-f37072fd.pth' ] && [ ! -e '$tmp/torch/hub/checkpoints/resnet18-f37072fd.pth.partial' ]"
HF_HUB_OFFLINE=1 "$bin" pull deeplabv3_resnet50.COCO_WITH_VOC_LABELS_V1 >/dev/null 2>"$tmp/tv_off.err"
check "offline torchvision: names the file and where to put it" \
  "[ \$? -ne 0 ] && grep -q 'put the file deeplabv3_resnet50_coco-cd0a2569.pth (from .*) into $tmp/torch/hub/checkpoints' '$tmp/tv_off.err'"
"$bin" pull runs/x/model >/dev/null 2>"$tmp/local.err"
check "a path-like ID is refused as not remote" "[ \$? -eq 2 ] && grep -q 'a local path' '$tmp/local.err'"

# 9. model.path as a Hub id in a training run (the text family resolves it), offline from the cache.
HF_HUB_OFFLINE=1 "$bin" train --set model.path=acme/tiny-bert --set model.max_length=24 \
  --set data.train="$src/tests/fixtures/trainer/sentiment.csv" --set data.split=0.75,0.125,0.125 \
  --set train.batch_size=8 --set train.max_steps=2 --set train.eval_every=2 --set train.output_dir="$tmp/run" \
  --set run.threads=2 >"$tmp/train.out" 2>"$tmp/train.err"
check "train with model.path=acme/tiny-bert (offline, from the cache) exits 0 and exports" \
  "[ \$? -eq 0 ] && [ -f '$tmp/run/model/tokenizer.json' ] && [ -f '$tmp/run/model/vocab.txt' ]"
"$bin" predict --model acme/tiny-bert --input "$src/tests/fixtures/trainer/sentiment.csv" --output "$tmp/pred.jsonl" \
  >/dev/null 2>"$tmp/pred.err"
check "predict --model acme/tiny-bert resolves the id" "[ \$? -eq 0 ] && [ -s '$tmp/pred.jsonl' ]"
exit $fail
