#!/usr/bin/env python3
"""Writes every golden-data fixture under tests/fixtures/ from real PyTorch (and transformers).

Each module in scripts/fixtures/ defines generate(out_dir: pathlib.Path) and writes its files
with safetensors.torch.save_file (plus small JSON settings where needed). Runs single-threaded
with fixed seeds so that a rerun on the same torch build reproduces the files bit for bit.

usage: python scripts/make_fixtures.py [module ...]     (default: every module)
Needs torch, transformers, safetensors (install into a venv outside the repo, e.g.
  python3 -m venv /opt/torchenv && /opt/torchenv/bin/pip install torch transformers safetensors numpy).
"""
import importlib
import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def main(argv):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    sys.path.insert(0, str(ROOT / "scripts"))
    names = argv or sorted(p.stem for p in (ROOT / "scripts" / "fixtures").glob("*.py") if p.stem != "__init__")
    for name in names:
        module = importlib.import_module(f"fixtures.{name}")
        torch.manual_seed(0)
        print(f"[make_fixtures] {name}", flush=True)
        module.generate(FIXTURES)
    print(f"[make_fixtures] torch {torch.__version__}: wrote fixtures under {FIXTURES}")


if __name__ == "__main__":
    main(sys.argv[1:])
