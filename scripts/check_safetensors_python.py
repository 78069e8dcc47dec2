#!/usr/bin/env python3
"""Loads a safetensors file written by downstream with the Python library and reports it.

usage: check_safetensors_python.py FILE [REFERENCE]
  FILE       loaded with safetensors.safe_open and safetensors.torch.load_file (both must succeed)
  REFERENCE  optional: every tensor and the metadata must equal the reference file's
Exit status 0 when FILE loads (and matches REFERENCE), 1 otherwise.
The ctest suite already checks byte identity with Python-written files
(tests/cpu/test_safetensors_write.c); this is for files the fixtures do not cover.
"""
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file


def describe(path):
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        keys = list(f.keys())
    tensors = load_file(path)
    return tensors, meta, keys


def main(argv):
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    tensors, meta, _ = describe(argv[0])
    for name, t in sorted(tensors.items()):
        print(f"{name}\t{t.dtype}\t{tuple(t.shape)}")
    print(f"metadata: {meta}")
    if len(argv) == 2:
        ref, ref_meta, _ = describe(argv[1])
        bad = sorted(set(ref) ^ set(tensors))
        bad += [n for n in ref if n in tensors and not (ref[n].dtype == tensors[n].dtype and
                                                        ref[n].shape == tensors[n].shape and
                                                        torch.equal(ref[n], tensors[n]))]
        if (meta or {}) != (ref_meta or {}):
            bad.append("__metadata__")
        if bad:
            print(f"differs from {argv[1]}: {', '.join(bad)}", file=sys.stderr)
            return 1
        print(f"equal to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
