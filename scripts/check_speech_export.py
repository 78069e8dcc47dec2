#!/usr/bin/env python3
"""Checks a speech_ctc export against Hugging Face transformers.

    /opt/torchenv/bin/python scripts/check_speech_export.py MODEL_DIR PREDICTIONS.jsonl LOGITS_DIR

MODEL_DIR is what `downstream train` exported (train.output_dir/model); PREDICTIONS.jsonl and
LOGITS_DIR come from `downstream predict --model MODEL_DIR --input ... --output PREDICTIONS.jsonl
--save-logits LOGITS_DIR`. For every utterance the script loads the directory with
Wav2Vec2ForCTC.from_pretrained and Wav2Vec2Processor.from_pretrained, reads the audio with
soundfile (resampled to the extractor's rate with soxr "HQ" when needed, as datasets/librosa do),
runs processor(audio) -> model(...).logits in float32, and compares:
  - the logits with downstream's (LOGITS_DIR/<stem>.safetensors, (1, T, V)): max |a - b| over
    max |b| must be <= --tol (default 1e-4: fp32 end to end, different summation orders through
    the conv stack and the transformer);
  - processor.batch_decode(argmax) with downstream's "text" (exactly).
Exit status 0 when every utterance agrees, 1 otherwise.
"""
import argparse
import json
import os
import sys

import numpy as np
import soundfile as sf
import torch
from safetensors.numpy import load_file
from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor


def load_audio(path, rate):
    audio, sr = sf.read(path, dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sr != rate:
        import soxr
        audio = soxr.resample(audio, sr, rate, quality="HQ")
    return audio


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("predictions")
    ap.add_argument("logits")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(2)
    model = Wav2Vec2ForCTC.from_pretrained(a.model).eval()
    proc = Wav2Vec2Processor.from_pretrained(a.model)
    rate = proc.feature_extractor.sampling_rate
    worst, bad, n = 0.0, 0, 0
    with open(a.predictions) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    for row in lines:
        audio = load_audio(row["audio"], rate)
        inputs = proc(audio, sampling_rate=rate, return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits.numpy()
        stem = os.path.splitext(os.path.basename(row["audio"]))[0]
        ours = load_file(os.path.join(a.logits, stem + ".safetensors"))["logits"]
        if ours.shape != logits.shape:
            print(f"{row['audio']}: logits shape {ours.shape} vs transformers {logits.shape}")
            bad += 1
            continue
        rel = float(np.abs(ours - logits).max() / max(np.abs(logits).max(), 1e-30))
        text = proc.batch_decode(np.argmax(logits, axis=-1))[0]
        ok = rel <= a.tol and text == row["text"]
        worst = max(worst, rel)
        n += 1
        if not ok:
            bad += 1
            print(f"{row['audio']}: rel {rel:.2e}, downstream {row['text']!r}, transformers {text!r}")
    print(f"{n} utterances: logits max relative difference {worst:.2e} (tolerance {a.tol:g}); "
          f"{n - bad} of {len(lines)} agree with transformers")
    return 0 if bad == 0 and n == len(lines) else 1


if __name__ == "__main__":
    sys.exit(main())
