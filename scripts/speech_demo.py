#!/usr/bin/env python3
"""Composes the speech-recognition demo data from real recordings (called by make_speech_demo.sh).

Source: one human speaker's single-word recordings of the digits (Debian asterisk-core-sounds-en-wav,
en_US_f_Allison/digits/0.wav .. 9.wav, 8 kHz 16-bit) with their transcripts (core-sounds-en.txt.gz
of asterisk-core-sounds-en), plus synthetic voices from espeak-ng. Output, WAV 16 kHz 16-bit mono:
  train.csv  human single words, human word sequences (speed-perturbed, random gaps, gain and
             light noise) and espeak-ng voices saying digit sequences
  dev.csv    human digit sequences not in train (no speed change)
  test.csv   the HELD-OUT set: human digit sequences (2 to 4 digits) that appear in neither train
             nor dev, composed with their own random gaps, gain and noise
Manifests are CSV with the columns audio (a path relative to the manifest) and text (the exact
transcript: lower-case digit words separated by single spaces).

Only the Python standard library (Debian's python3), sox and espeak-ng are used. Deterministic: the
same seed and tools give the same files (sox runs with -R -D: repeatable, no dither).
"""
import argparse
import array
import csv
import gzip
import math
import os
import random
import subprocess
import tempfile
import wave

RATE = 16000
DIGITS = [str(d) for d in range(10)]
TRAIN_SPEEDS = [0.9, 0.95, 1.0, 1.05, 1.1]
# espeak-ng voices (gmw family, no mbrola needed) and variants.
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029"]
VARIANTS = ["", "+f1", "+f2", "+f3", "+f4", "+f5", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+klatt"]


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return w.getframerate(), array.array("h", w.readframes(w.getnframes()))


def write_wav(path, samples):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def sox(args):
    subprocess.run(["sox", "-R", "-D", "-q"] + args, check=True)


def trim(x, rel=0.03, margin=0.03):
    """The word without the silence around it: from 30 ms before the first sample above 3% of the
    peak to 30 ms after the last."""
    thr = max(abs(v) for v in x) * rel
    idx = [i for i, v in enumerate(x) if abs(v) > thr]
    m = int(margin * RATE)
    return x[max(0, idx[0] - m):min(len(x), idx[-1] + m)]


def transcripts(path):
    """digits/<n> -> its transcript, from core-sounds-en.txt ("name: text" lines)."""
    out = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            name, sep, text = line.partition(":")
            if sep and name.startswith("digits/") and name[7:] in DIGITS:
                out[name[7:]] = text.strip().lower()
    missing = [d for d in DIGITS if d not in out]
    assert not missing, f"no transcript for digits {missing} in {path}"
    return out


def word_variants(sounds, tmp, speeds):
    """Every digit recording at 16 kHz, per speed factor (sox speed + rate -h), trimmed."""
    out = {}
    for d in DIGITS:
        for s in speeds:
            dst = os.path.join(tmp, f"w{d}_{s}.wav")
            sox([os.path.join(sounds, "digits", d + ".wav"), "-b", "16", "-c", "1", dst]
                + (["speed", str(s)] if s != 1.0 else []) + ["rate", "-h", str(RATE)])
            out[(d, s)] = trim(read_wav(dst)[1])
    return out


class Composer:
    """Words placed one after another with random silences, per-word and overall gain, and white
    noise at 20-40 dB below the speech (a shared noise table read at random offsets)."""

    def __init__(self, rng):
        self.rng = rng
        self.noise = array.array("f", (rng.gauss(0.0, 1.0) for _ in range(1 << 18)))

    def silence(self, lo, hi):
        return int(self.rng.uniform(lo, hi) * RATE)

    def finish(self, x):
        """Overall gain and light noise on float samples, then int16."""
        rng = self.rng
        rms = math.sqrt(sum(v * v for v in x) / max(1, len(x))) or 1.0
        gain = 10 ** (rng.uniform(-6.0, 2.0) / 20)
        sigma = rms * 10 ** (-rng.uniform(20.0, 40.0) / 20)
        off = rng.randrange(len(self.noise))
        n, nz = len(self.noise), self.noise
        out = array.array("h", bytes(2 * len(x)))
        for i, v in enumerate(x):
            y = (v + sigma * nz[(off + i) % n]) * gain
            out[i] = 32767 if y > 32767 else -32768 if y < -32768 else int(round(y))
        return out

    def compose(self, words):
        """words: the int16 arrays of the words, in order."""
        rng = self.rng
        x = [0.0] * self.silence(0.05, 0.3)
        for k, w in enumerate(words):
            if k:
                x.extend([0.0] * self.silence(0.03, 0.25))
            g = 10 ** (rng.uniform(-4.0, 4.0) / 20)
            x.extend(v * g for v in w)
        x.extend([0.0] * self.silence(0.05, 0.3))
        return self.finish(x)


def random_sequence(rng, lo, hi):
    return tuple(rng.choice(DIGITS) for _ in range(rng.randint(lo, hi)))


def write_set(out, name, rows):
    with open(os.path.join(out, name + ".csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["audio", "text"])
        w.writerows(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sounds", required=True, help="the en_US_f_Allison folder of asterisk-core-sounds-en-wav")
    ap.add_argument("--transcripts", required=True, help="core-sounds-en.txt.gz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--train", type=int, default=1500, help="training utterances")
    ap.add_argument("--synthetic", type=float, default=0.3, help="share of training utterances from espeak-ng")
    ap.add_argument("--dev", type=int, default=100)
    ap.add_argument("--test", type=int, default=200)
    a = ap.parse_args()
    words = transcripts(a.transcripts)
    rng = random.Random(a.seed)
    for split in ("train", "dev", "test"):
        os.makedirs(os.path.join(a.out, "wav", split), exist_ok=True)

    # Held-out sequences first: test, then dev, never used for training.
    test_seqs, dev_seqs = [], []
    taken = set()
    for target, n in ((test_seqs, a.test), (dev_seqs, a.dev)):
        while len(target) < n:
            s = random_sequence(rng, 2, 4)
            if s not in taken:
                taken.add(s)
                target.append(s)

    with tempfile.TemporaryDirectory() as tmp:
        variants = word_variants(a.sounds, tmp, TRAIN_SPEEDS)
        comp = Composer(random.Random(a.seed + 1))
        rows = {"train": [], "dev": [], "test": []}

        def add(split, seq, samples):
            rel = f"wav/{split}/{len(rows[split]):05d}.wav"
            write_wav(os.path.join(a.out, rel), samples)
            rows[split].append([rel, " ".join(words[d] for d in seq)])

        for split, seqs in (("test", test_seqs), ("dev", dev_seqs)):
            for s in seqs:  # the real recordings as they are (speed 1.0)
                add(split, s, comp.compose([variants[(d, 1.0)] for d in s]))

        n_synth = int(round(a.train * a.synthetic))
        n_single = max(len(DIGITS), a.train // 10)
        n_human = a.train - n_synth - n_single
        for k in range(n_single):  # every digit alone, speed-perturbed
            d = DIGITS[k % len(DIGITS)]
            add("train", (d,), comp.compose([variants[(d, rng.choice(TRAIN_SPEEDS))]]))
        for _ in range(n_human):
            while True:
                s = random_sequence(rng, 1, 5)
                if s not in taken:
                    break
            speed = rng.choice(TRAIN_SPEEDS)  # one speaking rate per utterance
            add("train", s, comp.compose([variants[(d, speed)] for d in s]))
        for k in range(n_synth):
            while True:
                s = random_sequence(rng, 1, 5)
                if s not in taken:
                    break
            voice = rng.choice(VOICES) + rng.choice(VARIANTS)
            raw, conv = os.path.join(tmp, "tts.wav"), os.path.join(tmp, "tts16.wav")
            text = " ".join(words[d] for d in s)
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(rng.randint(130, 190)), "-p", str(rng.randint(25, 75)),
                            "-w", raw, text], check=True)
            sox([raw, "-b", "16", "-c", "1", conv, "vol", "0.5", "rate", "-h", str(RATE)])  # espeak-ng is loud
            add("train", s, comp.finish([float(v) for v in trim(read_wav(conv)[1], 0.02, 0.15)]))

    # Training rows shuffled (the loader shuffles again per epoch; this keeps files browsable).
    order = list(range(len(rows["train"])))
    rng.shuffle(order)
    rows["train"] = [rows["train"][i] for i in order]
    for split in rows:
        write_set(a.out, split, rows[split])
    seconds = {}
    for split in rows:
        frames = sum(os.path.getsize(os.path.join(a.out, r[0])) - 44 for r in rows[split]) // 2
        seconds[split] = frames / RATE
    with open(os.path.join(a.out, "README.txt"), "w") as f:
        f.write(__doc__ + "\n")
        for split in rows:
            f.write(f"{split}: {len(rows[split])} utterances, {seconds[split] / 60:.1f} min\n")
        f.write(f"seed {a.seed}; alphabet: {''.join(sorted(set(''.join(words.values()))))} and space\n")
    for split in rows:
        print(f"speech_demo: {split}: {len(rows[split])} utterances, {seconds[split] / 60:.1f} min")


if __name__ == "__main__":
    main()
