#!/usr/bin/env python3
"""Checks `downstream convert` against PyTorch: the safetensors file it writes from a checkpoint
must hold exactly the tensors torch.load gives for the checkpoint's state dict.

usage: /opt/torchenv/bin/python scripts/check_convert.py DOWNSTREAM [--trust] [CHECKPOINT ...]
  DOWNSTREAM   the downstream binary (e.g. build/downstream)
  CHECKPOINT   .pth/.pt files; default: every checkpoint in tests/fixtures/pth/expected.json, and
               the fixtures convert must refuse (it must exit 1 and write nothing for them)
  --trust      load with torch.load(weights_only=False) when weights_only=True refuses a file
               (e.g. a training checkpoint holding argparse args). That EXECUTES the file's pickle:
               use it only on files you trust. The fixtures are trusted (this repository wrote them).
For each checkpoint: the state dict is the top-level dict, or the dict under "model",
"state_dict" or "model_state_dict" (as downstream picks it), nested dicts flattened with '.';
every tensor must match by name, dtype, shape and bytes (bit-exact: conversion copies bytes).
The safetensors file is read with both safetensors.safe_open and safetensors.torch.load_file.
Exit status 0 when every check passes, 1 otherwise. Needs torch and safetensors; CI does not run it
(tests/cpu/test_pth_convert.c checks the same fixtures without Python).
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "pth"
REFUSED = ["forbidden_system_zip.pth", "forbidden_eval_legacy.pth", "module_zip.pth", "values_deflate_zip.pth"]


def state_dict(obj):
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                return obj[key]
    return obj


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        name = f"{prefix}.{k}" if prefix else k
        out.update(flatten(v, name) if isinstance(v, dict) else {name: v})
    return out


def raw_bytes(t):
    t = t.detach().contiguous().reshape(-1)
    return t.view(torch.uint8) if t.numel() else t


def torch_tensors(path, trust):
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses globals such as argparse.Namespace
        if not trust:
            raise RuntimeError(f"torch.load(weights_only=True) refuses it ({e}); rerun with --trust if you trust it")
        obj = torch.load(path, map_location="cpu", weights_only=False)
    return flatten(state_dict(obj))


def check(binary, path, trust):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.safetensors")
        run = subprocess.run([binary, "convert", str(path), out], capture_output=True, text=True)
        if run.returncode != 0:
            return [f"convert exited {run.returncode}: {run.stderr.strip()}"]
        with safe_open(out, framework="pt") as f:
            meta = f.metadata()
            keys = set(f.keys())
        got = load_file(out)
    want = torch_tensors(path, trust)
    problems = []
    if set(got) != set(want) or keys != set(want):
        problems.append(f"names differ: only in convert {sorted(set(got) - set(want))}, "
                        f"only in torch {sorted(set(want) - set(got))}")
    if meta != {"format": "pt"}:
        problems.append(f"metadata {meta}")
    for name, w in want.items():
        g = got.get(name)
        if g is None:
            continue
        if g.dtype != w.dtype or g.shape != w.shape:
            problems.append(f"{name}: {g.dtype} {tuple(g.shape)}, torch has {w.dtype} {tuple(w.shape)}")
        elif not torch.equal(raw_bytes(g), raw_bytes(w)):
            problems.append(f"{name}: bytes differ")
    return problems


def check_refused(binary, path):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.safetensors")
        run = subprocess.run([binary, "convert", str(path), out], capture_output=True, text=True)
        if run.returncode != 1 or os.path.exists(out):
            return [f"expected exit 1 and no output, got exit {run.returncode}"]
    return []


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    binary, rest = argv[0], argv[1:]
    trust = "--trust" in rest
    paths = [pathlib.Path(p) for p in rest if p != "--trust"]
    refused = []
    if not paths:
        expected = json.loads((FIXTURES / "expected.json").read_text())
        paths = [FIXTURES / name for name in expected]
        refused = [FIXTURES / name for name in REFUSED]
        trust = True  # our own fixtures
    failed = 0
    for p in paths:
        problems = check(binary, p, trust)
        failed += bool(problems)
        print(f"{'FAIL' if problems else 'ok  '} {p}" + "".join(f"\n       {x}" for x in problems[:10]))
    for p in refused:
        problems = check_refused(binary, p)
        failed += bool(problems)
        print(f"{'FAIL' if problems else 'ok  '} {p} (refused)" + "".join(f"\n       {x}" for x in problems))
    print(f"{len(paths) + len(refused) - failed} of {len(paths) + len(refused)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
