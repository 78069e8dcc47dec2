#!/usr/bin/env bash
# Builds the speech-recognition demo data (used by `bash scripts/run.sh speech`) at run time, from
# Debian packages (never committed: their licences differ from ours), into
# $DS_DATA_DIR/speech (default data_cache/speech):
#   train.csv, dev.csv, test.csv   manifests (audio,text) of WAV 16 kHz 16-bit mono files in wav/
#   README.txt                     what is there and how it was made
# Real speech: one human speaker's digit recordings (asterisk-core-sounds-en-wav, 8 kHz) with their
# transcripts (asterisk-core-sounds-en's core-sounds-en.txt.gz); extra voices from espeak-ng; sox
# converts. test.csv is HELD OUT: digit sequences spoken by the human voice that appear in neither
# train nor dev (see scripts/speech_demo.py for the composition).
# Sizes (environment): DS_SPEECH_TRAIN (1500 utterances), DS_SPEECH_DEV (100), DS_SPEECH_TEST (200),
# DS_SPEECH_SYNTHETIC (0.3 of train from espeak-ng), DS_SPEECH_SEED (1234).
# Idempotent: a finished set with the same settings is not built again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${DS_DATA_DIR:-$root/data_cache}/speech
train=${DS_SPEECH_TRAIN:-1500}
dev=${DS_SPEECH_DEV:-100}
test=${DS_SPEECH_TEST:-200}
synthetic=${DS_SPEECH_SYNTHETIC:-0.3}
seed=${DS_SPEECH_SEED:-1234}
stamp="seed=$seed train=$train dev=$dev test=$test synthetic=$synthetic"
if [ -s "$dest/test.csv" ] && [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "make_speech_demo: data in $dest ($stamp)"
  exit 0
fi

# Tools from Debian: sox, espeak-ng, and Debian's own python3 (standard library only).
need=()
command -v sox >/dev/null 2>&1 || need+=(sox)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -x /usr/bin/python3 ] || need+=(python3)
if ((${#need[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "make_speech_demo: missing ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "make_speech_demo: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "make_speech_demo: Debian packages asterisk-core-sounds-en-wav, asterisk-core-sounds-en (~18 MB)"
(cd "$tmp" && { apt-get download asterisk-core-sounds-en-wav asterisk-core-sounds-en >/dev/null 2>&1 ||
                { apt-get update -qq && apt-get download asterisk-core-sounds-en-wav asterisk-core-sounds-en >/dev/null 2>&1; }; }) ||
  { echo "make_speech_demo: cannot download the asterisk sound packages from Debian's archive" >&2; exit 1; }
for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/x"; done
sounds=$tmp/x/usr/share/asterisk/sounds/en_US_f_Allison
transcripts=$tmp/x/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz
[ -f "$sounds/digits/0.wav" ] && [ -f "$transcripts" ] ||
  { echo "make_speech_demo: the packages lack $sounds/digits or $transcripts" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
start=$(date +%s)
/usr/bin/python3 "$root/scripts/speech_demo.py" --sounds "$sounds" --transcripts "$transcripts" --out "$dest" \
  --seed "$seed" --train "$train" --dev "$dev" --test "$test" --synthetic "$synthetic"
{
  echo
  echo "Sources (Debian): $(cd "$tmp" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')"
  echo "espeak-ng: $(espeak-ng --version | head -n 1)"
  echo "sox: $(sox --version | head -n 1)"
} >>"$dest/README.txt"
echo "$stamp" >"$dest/.stamp"
echo "make_speech_demo: data in $dest ($(du -sh "$dest" | cut -f1), $(($(date +%s) - start)) s)"
