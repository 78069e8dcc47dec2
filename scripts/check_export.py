#!/opt/torchenv/bin/python
"""Checks a model that `downstream train` exported against transformers itself.

Given the exported directory and an input file, runs `downstream predict` and `downstream
tokenize` on it, and transformers' BertTokenizerFast + BertForSequenceClassification
(from_pretrained on the same directory, eval mode, fp32) on the very texts predict read, then
compares:
  - the tokenizer's input ids, example by example (must be identical);
  - the class names (predict's labels come from config.json's id2label);
  - the logits: max absolute difference and max relative difference, the latter as
    max|ours - theirs| / max|theirs| over the whole logits tensor (element-wise ratios blow up at
    logits near 0, which carry no information about the model's accuracy);
  - the predicted classes (argmax), which must agree wherever the top two logits are further
    apart than the tolerance;
  - the tokenizer files of the export, each as transformers may load it: the directory with
    AutoTokenizer, tokenizer.json alone with AutoTokenizer (the pipeline from the file itself),
    and vocab.txt + tokenizer_config.json with BertTokenizerFast (transformers 4's files): every
    one must give downstream's ids.

Pass: ids identical and relative logit difference <= --tolerance (default 1e-4). Why 1e-4: both
sides compute in fp32 from the same fp32 weights; they differ only in summation order (GEMM
blocking, softmax and LayerNorm reductions), each op contributing a few ulps (~1e-7 relative),
growing through 6-12 layers and the tanh pooler to ~1e-6..1e-5. 1e-4 leaves a margin of ten over
that while any real mistake (a wrong weight, a missing LayerNorm, a wrong mask) is >= 1e-2.

Usage:
  /opt/torchenv/bin/python scripts/check_export.py --model runs/x/model --input data.csv \
      [--bin build/downstream] [--max-length 128] [--batch-size 32] [--set data.text_field=sentence ...]
Exit status 0 when the check passes, 1 otherwise.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoTokenizer, BertForSequenceClassification, BertTokenizerFast


def run_predict(args):
    cmd = [args.bin, "predict", "--model", args.model, "--input", args.input, "--quiet",
           "--max-length", str(args.max_length), "--batch-size", str(args.batch_size)]
    for s in args.set or []:
        cmd += ["--set", s]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def one_line(text):
    """text with TAB, LF and CR as spaces: `downstream tokenize` reads one example a line (a TAB
    starting the pair). BertTokenizerFast's normalizer turns these three into spaces before
    anything else (clean_text), so the ids do not change; main() checks that on its side."""
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def run_tokenize(args, rows):
    """downstream's ids for every row, from `downstream tokenize`."""
    lines = []
    for r in rows:
        texts = [r["text"]] + ([r["text_pair"]] if "text_pair" in r else [])
        lines.append("\t".join(one_line(t) for t in texts))
    out = subprocess.run([args.bin, "tokenize", "--model", args.model, "--max-length", str(args.max_length)],
                         input="".join(line + "\n" for line in lines), check=True, capture_output=True,
                         text=True).stdout.splitlines()
    return [json.loads(line)["input_ids"] for line in out]


def check_tokenizer_files(args, rows, ours_ids):
    """Loads the export's tokenizer from each of its files as transformers would and counts the
    examples whose ids differ from downstream's. Returns (lines of report, all identical)."""
    model = args.model
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        if not os.path.exists(os.path.join(model, name)):
            return [f"tokenizer files   {name} missing from {model}"], False
    tmp = tempfile.mkdtemp(prefix="check_export_")
    try:
        json_only = os.path.join(tmp, "json_only")
        os.makedirs(json_only)
        shutil.copy(os.path.join(model, "tokenizer.json"), json_only)
        vocab_only = os.path.join(tmp, "vocab_only")
        os.makedirs(vocab_only)
        for name in ("vocab.txt", "tokenizer_config.json"):
            shutil.copy(os.path.join(model, name), vocab_only)
        ways = [("AutoTokenizer, the export", AutoTokenizer.from_pretrained(model)),
                ("AutoTokenizer, tokenizer.json alone", AutoTokenizer.from_pretrained(json_only)),
                ("BertTokenizerFast, vocab.txt + tokenizer_config.json", BertTokenizerFast.from_pretrained(vocab_only))]
        report, ok = [], True
        for label, tok in ways:
            bad = 0
            for r, mine in zip(rows, ours_ids):
                texts = [one_line(r["text"])] + ([one_line(r["text_pair"])] if "text_pair" in r else [])
                hf = tok(*texts, truncation=True, max_length=args.max_length)["input_ids"]
                bad += int(hf != mine)
            report.append(f"tokenizer files  {label} ({type(tok).__name__}): {len(rows) - bad}/{len(rows)} identical")
            ok &= bad == 0
        return report, ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="exported Hugging Face directory")
    ap.add_argument("--input", required=True, help="examples, as downstream predict reads them")
    ap.add_argument("--bin", default="build/downstream")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--set", action="append", help="KEY=VALUE passed to downstream predict (data.* keys)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max relative logit difference")
    args = ap.parse_args()
    torch.set_num_threads(2)

    rows = run_predict(args)
    if not rows:
        print("no examples predicted", file=sys.stderr)
        return 1
    tok = BertTokenizerFast.from_pretrained(args.model)
    model = BertForSequenceClassification.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    id2label = model.config.id2label
    problem = model.config.problem_type

    ours_ids = run_tokenize(args, rows)
    compared_ids = bad_ids = respaced = bad_respace = 0
    theirs, ours = [], []
    at = 0
    while at < len(rows):
        chunk = rows[at:at + args.batch_size]
        with_pair = ["text_pair" in r for r in chunk]
        if len(set(with_pair)) > 1:  # plain lines may mix single texts and pairs: one at a time
            chunk = rows[at:at + 1]
            with_pair = with_pair[:1]
        texts = [r["text"] for r in chunk]
        pairs = [r["text_pair"] for r in chunk] if with_pair[0] else None
        enc = tok(texts, pairs, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
        with torch.no_grad():
            theirs.append(model(**enc).logits.double().numpy())
        ours.append(np.array([r["logits"] for r in chunk], dtype=np.float64))
        for i, r in enumerate(chunk):
            mine = ours_ids[at + i]
            hf = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
            texts = [r["text"]] + ([r["text_pair"]] if "text_pair" in r else [])
            if any(c in t for t in texts for c in "\t\n\r"):  # as run_tokenize passed them
                flat = tok(*[one_line(t) for t in texts], truncation=True, max_length=args.max_length)["input_ids"]
                respaced += 1
                bad_respace += int(flat != hf)
            compared_ids += 1
            if mine != hf:
                bad_ids += 1
                if bad_ids <= 3:
                    print(f"ids differ for {r['text']!r}:\n  downstream   {mine}\n  transformers {hf}")
        at += len(chunk)
    theirs, ours = np.concatenate(theirs), np.concatenate(ours)
    diff = np.abs(ours - theirs)
    max_abs = float(diff.max())
    rel = max_abs / max(float(np.abs(theirs).max()), 1e-30)
    # Element-wise relative difference too, for the record (not the pass criterion; see above).
    elem_rel = float((diff / np.maximum(np.abs(theirs), 1e-6)).max())

    names_ok, argmax_bad = True, 0
    if problem != "regression" and problem != "multi_label_classification":
        order = np.sort(theirs, axis=1)
        decisive = (order[:, -1] - order[:, -2]) > args.tolerance * max(float(np.abs(theirs).max()), 1e-30)
        hf_pred = theirs.argmax(axis=1)
        for i, r in enumerate(rows):
            names_ok &= r["label"] == id2label[int(np.argmax(r["logits"]))]
            argmax_bad += int(decisive[i] and r["label"] != id2label[int(hf_pred[i])])
    elif problem == "multi_label_classification":
        for i, r in enumerate(rows):
            want = [id2label[k] for k in range(theirs.shape[1]) if theirs[i, k] >= 0]
            argmax_bad += int(r["labels"] != want)

    print(f"model            {args.model} ({problem}, {theirs.shape[1]} outputs)")
    print(f"examples         {len(rows)} (max length {args.max_length})")
    print(f"input ids        {compared_ids - bad_ids}/{compared_ids} identical"
          + (f" ({respaced} texts hold TAB/LF/CR, given to `downstream tokenize` as spaces; transformers' ids "
             f"unchanged by that for {respaced - bad_respace})" if respaced else ""))
    print(f"logits           max |diff| {max_abs:.3e}, relative {rel:.3e} (tolerance {args.tolerance:g}), "
          f"max element-wise relative {elem_rel:.3e}, max |logit| {float(np.abs(theirs).max()):.3f}")
    print(f"predictions      {len(rows) - argmax_bad}/{len(rows)} agree with transformers; "
          f"label names from id2label: {'yes' if names_ok else 'NO'}")
    files_report, files_ok = check_tokenizer_files(args, rows, ours_ids)
    for line in files_report:
        print(line)
    ok = bad_ids == 0 and bad_respace == 0 and rel <= args.tolerance and argmax_bad == 0 and names_ok and files_ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
