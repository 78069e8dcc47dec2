#!/usr/bin/env python3
"""The PyTorch side of the main job's training (configs/polarity_minilm.json) for
scripts/bench/cpu_speed.sh: the Hugging Face Trainer's training loop fine-tuning
all-MiniLM-L6-v2 for sequence classification on the polarity CSV, with the config's settings
(batch 32, max length 64 with dynamic padding, lr 1e-4, linear schedule with 10 % warm-up,
weight decay 0.01 except biases and LayerNorm weights, max grad norm 1.0, torch AdamW, seed 42),
fp32 on the CPU, for --steps optimizer steps; no evaluation, no checkpoints, no logging.
The loop is Trainer's, written out (shuffled DataLoader with DataCollatorWithPadding, forward,
loss.backward, clip_grad_norm_, optimizer and scheduler step, zero_grad), because Trainer itself
needs `accelerate`, which the project's torch environment does not have.
The training examples: the CSV shuffled with the seed, the first 80 %.

Prints one JSON object: train_s (the training loop alone), steps,
samples_per_s, first_step_s (seconds from process start, python's imports included, to the start
of the first step), threads.

usage: torch_main_job.py --model-dir DIR --csv FILE [--steps 100] [--threads N]
"""
import argparse
import csv
import json
import math
import os
import time


def process_age_seconds():
    """Seconds since this process started (Linux /proc), so first_step_s counts the imports."""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        start_ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22: starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


PROCESS_START = time.perf_counter() - process_age_seconds()

import torch  # noqa: E402  (after the clock: the import is part of the time to the first step)
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,  # noqa: E402
                          get_linear_schedule_with_warmup)


class Rows(torch.utils.data.Dataset):
    def __init__(self, enc, labels):
        self.enc, self.labels = enc, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {k: v[i] for k, v in self.enc.items()}
        item["labels"] = self.labels[i]
        return item


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    with open(a.csv, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if len(r) >= 2]
    g = torch.Generator().manual_seed(42)
    order = torch.randperm(len(rows), generator=g).tolist()
    train = [rows[i] for i in order[: int(0.8 * len(rows))]]
    names = sorted({r[0] for r in rows})
    texts = [r[1] for r in train]
    labels = [names.index(r[0]) for r in train]

    tok = AutoTokenizer.from_pretrained(a.model_dir)
    enc = tok(texts, truncation=True, max_length=64)  # padded per batch by the collator
    model = AutoModelForSequenceClassification.from_pretrained(a.model_dir, num_labels=len(names))
    model.train()
    # Trainer's parameter groups: no weight decay on biases and LayerNorm weights.
    no_decay = [n for n, _ in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    groups = [{"params": [q for n, q in model.named_parameters() if n not in no_decay], "weight_decay": 0.01},
              {"params": [q for n, q in model.named_parameters() if n in no_decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-4)
    sched = get_linear_schedule_with_warmup(opt, math.ceil(0.1 * a.steps), a.steps)
    loader = torch.utils.data.DataLoader(Rows(enc, labels), batch_size=32, shuffle=True,
                                         collate_fn=DataCollatorWithPadding(tok),
                                         generator=torch.Generator().manual_seed(42))
    first = None
    t0 = time.perf_counter()
    step = 0
    while step < a.steps:
        for batch in loader:
            if first is None:
                first = time.perf_counter() - PROCESS_START
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step == a.steps:
                break
    train_s = time.perf_counter() - t0
    print(json.dumps({"framework": f"torch {torch.__version__} + transformers, the HF Trainer loop, fp32",
                      "steps": a.steps, "threads": a.threads, "train_s": train_s,
                      "samples_per_s": 32 * a.steps / train_s, "first_step_s": first, "loss": loss.item()}))


if __name__ == "__main__":
    main()
