#!/opt/torchenv/bin/python
"""Checks that downstream and huggingface_hub share one cache, both ways, against the fake Hub of
tests/cli/fake_hub.py on 127.0.0.1 (no network needed; not part of CI: it needs huggingface_hub
and transformers, e.g. /opt/torchenv):
  1. `downstream pull acme/tiny-bert` fills an empty HF_HUB_CACHE; then, with HF_HUB_OFFLINE=1,
     huggingface_hub's hf_hub_download(local_files_only=True) and snapshot_download find every
     file, try_to_load_from_cache agrees, scan_cache_dir lists the repository without warnings,
     and transformers' AutoTokenizer / BertForSequenceClassification load it by id;
  2. huggingface_hub's hf_hub_download fills another empty cache from the fake Hub; then
     `HF_HUB_OFFLINE=1 downstream pull` serves the same files from it without a request.

usage: /opt/torchenv/bin/python scripts/check_hub_cache.py [--bin build/downstream]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/downstream"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="check_hub_")
    hub, state = os.path.join(tmp, "hub"), os.path.join(tmp, "state")
    os.makedirs(os.path.join(hub, "acme", "tiny-bert"))
    os.makedirs(state)
    for f in os.listdir(os.path.join(ROOT, "tests/fixtures/trainer/tiny_bert")):
        shutil.copy(os.path.join(ROOT, "tests/fixtures/trainer/tiny_bert", f), os.path.join(hub, "acme", "tiny-bert"))
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/cli/fake_hub.py"), hub, state])
    ok = True
    try:
        for _ in range(100):
            if os.path.exists(os.path.join(state, "port")):
                break
            time.sleep(0.1)
        port = open(os.path.join(state, "port")).read().strip()
        base = dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_TOKEN_PATH=os.path.join(tmp, "none"))
        base.pop("HF_TOKEN", None)

        # 1. downstream fills, huggingface_hub reads offline.
        ours = os.path.join(tmp, "cache_ours")
        env = dict(base, HF_HUB_CACHE=ours)
        snap = subprocess.run([args.bin, "pull", "acme/tiny-bert", "--quiet"], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
        code = f"""
import os, sys
from huggingface_hub import hf_hub_download, snapshot_download, try_to_load_from_cache, scan_cache_dir
files = {FILES!r}
for f in files:
    p = hf_hub_download("acme/tiny-bert", f, local_files_only=True)
    assert os.path.realpath(p) == os.path.realpath(os.path.join({snap!r}, f)), (p, f)
    assert try_to_load_from_cache("acme/tiny-bert", f) == p, f
s = snapshot_download("acme/tiny-bert", local_files_only=True)
assert os.path.realpath(s) == os.path.realpath({snap!r}), s
info = scan_cache_dir()
assert not info.warnings, info.warnings
(repo,) = [r for r in info.repos if r.repo_id == "acme/tiny-bert"]
print("huggingface_hub reads downstream's cache:", len(files), "files by hf_hub_download(local_files_only=True),",
      "snapshot", os.path.basename(s)[:12], "... , scan_cache_dir:", repo.nb_files, "files,", repo.size_on_disk, "bytes,",
      "refs", sorted(repo.refs))
from transformers import AutoTokenizer, BertForSequenceClassification
tok = AutoTokenizer.from_pretrained("acme/tiny-bert", local_files_only=True)
model = BertForSequenceClassification.from_pretrained("acme/tiny-bert", local_files_only=True)
print("transformers loads it by id offline:", type(tok).__name__, tok("a test")["input_ids"], type(model).__name__)
"""
        r = subprocess.run([sys.executable, "-c", code], env=dict(env, HF_HUB_OFFLINE="1"), capture_output=True,
                           text=True)
        print(r.stdout.strip())
        if r.returncode != 0:
            print("FAIL (huggingface_hub on downstream's cache):", r.stderr.strip()[-2000:])
            ok = False

        # 2. huggingface_hub fills, downstream reads offline.
        theirs = os.path.join(tmp, "cache_theirs")
        env = dict(base, HF_HUB_CACHE=theirs)
        code = f"""
from huggingface_hub import hf_hub_download
for f in {FILES!r}:
    hf_hub_download("acme/tiny-bert", f)
for f in ("tokenizer.json", "special_tokens_map.json"):
    try:
        hf_hub_download("acme/tiny-bert", f)
    except Exception as e:
        print("huggingface_hub:", f, "absent:", type(e).__name__)
"""
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        print(r.stdout.strip())
        if r.returncode != 0:
            print("FAIL (huggingface_hub download from the fake Hub):", r.stderr.strip()[-2000:])
            ok = False
        log = os.path.join(state, "requests.log")
        before = sum(1 for _ in open(log))
        r = subprocess.run([args.bin, "pull", "acme/tiny-bert", "--quiet"], env=dict(env, HF_HUB_OFFLINE="1"),
                           capture_output=True, text=True)
        after = sum(1 for _ in open(log))
        same = r.returncode == 0 and all(
            open(os.path.join(r.stdout.strip(), f), "rb").read() ==
            open(os.path.join(hub, "acme", "tiny-bert", f), "rb").read() for f in FILES)
        print(f"downstream reads huggingface_hub's cache offline: exit {r.returncode}, {r.stdout.strip()}, "
              f"files equal: {same}, requests made: {after - before}")
        ok &= same and after == before
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
