#!/opt/torchenv/bin/python
"""Checks downstream's TensorBoard event files with the real `tensorboard` package's reader.

Runs `downstream train` on the tiny BERT fixture with train.tensorboard=true, stopped after
--stop steps, its newest checkpoint deleted (as if the run had crashed after step 4's checkpoint)
and resumed to the end (so the run directory holds two event files, the first with steps 5..stop
that the second logs again, the second starting with SessionLog START), then loads the directory with tensorboard's EventAccumulator
(the reader TensorBoard's backend uses, purging orphaned data as TensorBoard does) and with
tensorboard's raw record reader (tf_record iterator over every file; it checks the CRCs), and
compares every scalar with metrics.jsonl, the first sink of the same values:
  - each metrics.jsonl value appears under its tag (train/loss, train/learning_rate,
    train/grad_norm, train/samples_per_s, train/epoch, train/data_wait_ms, eval/<metric>) at its
    step, within one fp32 ulp (the event stores simple_value as float32, metrics.jsonl 10 digits);
  - each tag has each step once after the resume (the interrupted run's later steps purged);
  - every record's CRCs are valid and the first event of each file is brain.Event:2.
This needs the tensorboard package (pip install tensorboard), so it is not part of CI;
tests/cpu/test_tb_events.c checks the same file format with its own reader there.

usage: /opt/torchenv/bin/python scripts/check_tensorboard.py [--bin build/downstream] [--keep DIR]
Exit status 0 when every check passes.
"""
import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(args, out, extra):
    cfg = {
        "run": {"seed": 3, "threads": 2},
        "model": {"path": os.path.join(ROOT, "tests/fixtures/trainer/tiny_bert"), "max_length": 24},
        "data": {"train": os.path.join(ROOT, "tests/fixtures/trainer/sentiment.csv"), "split": "0.75,0.125,0.125"},
        "train": {"batch_size": 8, "max_steps": args.steps, "eval_every": 4, "lr": 3e-3, "warmup_steps": 2,
                  "log_every": 1, "tensorboard": True, "output_dir": out, "keep_last": 3},
    }
    path = os.path.join(out + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    cmd = [args.bin, "train", "--config", path] + sum((["--set", s] for s in extra), [])
    subprocess.run(cmd, check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/downstream"))
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--stop", type=int, default=6,
                    help="stop (train.stop_after) after this step (> 4), delete its checkpoint, resume from step 4")
    ap.add_argument("--keep", help="copy the run directory here")
    args = ap.parse_args()

    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

    tmp = tempfile.mkdtemp(prefix="check_tb_")
    out = os.path.join(tmp, "run")
    ok = True
    try:
        train(args, out, [f"train.stop_after={args.stop}"])
        # A distinct second in the second file's name (one file per run).
        import time
        time.sleep(1.1)
        # As after a crash: the newest checkpoint (step --stop) is gone, so the run resumes from the
        # evaluation checkpoint at step 4 and logs steps 5..stop again; the first file still holds
        # them. TensorBoard must show each step once (the SessionLog START purge).
        os.remove(os.path.join(out, f"checkpoint-{args.stop}.safetensors"))
        train(args, out, ["train.resume=true"])
        files = sorted(glob.glob(os.path.join(out, "events.out.tfevents.*")))
        print(f"event files      {len(files)}: {', '.join(os.path.basename(f) for f in files)}")
        ok &= len(files) == 2

        # Raw records: CRCs (the reader raises on a bad one) and the first event of each file.
        records = 0
        for f in files:
            reader = PyRecordReader_New(f.encode())
            first = None
            while True:
                try:
                    reader.GetNext()
                except errors.OutOfRangeError:  # the end of the file
                    break
                except Exception as e:  # a bad length or data CRC, a truncated record
                    print(f"FAIL: {f}: {e}")
                    ok = False
                    break
                ev = event_pb2.Event.FromString(reader.record())
                records += 1
                if first is None:
                    first = ev
            ok &= first is not None and first.file_version == "brain.Event:2"
        print(f"records          {records}, CRCs valid, each file starts with brain.Event:2: {ok}")

        acc = event_accumulator.EventAccumulator(out, size_guidance={event_accumulator.SCALARS: 0})
        acc.Reload()
        tags = acc.Tags()["scalars"]
        lines = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
        want = {}  # tag -> {step: value}
        names = {"loss": "train/loss", "lr": "train/learning_rate", "grad_norm": "train/grad_norm",
                 "samples_per_s": "train/samples_per_s"}
        for rec in lines:
            train_line = "loss" in rec
            for k, v in rec.items():
                if k == "step" or v is None or (k == "epoch" and not train_line):
                    continue
                if k.startswith("eval_"):
                    tag = "eval/" + k[5:]
                elif k == "epoch":
                    tag = "train/epoch"
                else:
                    tag = names.get(k, "train/" + k)
                want.setdefault(tag, {})[rec["step"]] = v
        bad = 0
        compared = 0
        for tag, steps in sorted(want.items()):
            if tag not in tags:
                print(f"FAIL: tag {tag} missing from TensorBoard's view")
                bad += 1
                continue
            got = acc.Scalars(tag)
            got_steps = [s.step for s in got]
            if len(got_steps) != len(set(got_steps)):
                print(f"FAIL: {tag}: a step appears twice: {got_steps}")
                bad += 1
            have = {s.step: s.value for s in got}
            for step, v in steps.items():
                compared += 1
                # metrics.jsonl prints 10 significant digits of the double, the event holds its fp32:
                # the two may round to neighbouring floats, so one fp32 ulp (2^-23 relative) apart.
                if step not in have or abs(have[step] - v) > 2.0 ** -23 * abs(v):
                    print(f"FAIL: {tag} step {step}: TensorBoard {have.get(step)}, metrics.jsonl {v}")
                    bad += 1
            extra = sorted(set(have) - set(steps))
            if extra:
                print(f"FAIL: {tag}: steps {extra} in TensorBoard but not in metrics.jsonl")
                bad += 1
        print(f"scalars          {compared} values under {len(want)} tags compared with metrics.jsonl: "
              f"{compared - bad} equal (as fp32), {bad} problems")
        print(f"tags             {', '.join(sorted(tags))}")
        ok &= bad == 0 and compared > 0
        if args.keep:
            shutil.copytree(out, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
